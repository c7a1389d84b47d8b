// The one place treesynth makes kafkajs clients: brokers, client id, a quiet log, a retry
// schedule, and a reachability check that turns "no broker there" into one clear line instead
// of kafkajs's retry log and a stack trace. Everything Kafka-specific stays behind
// connectors/kafka so the client library can be swapped (DESIGN.md §7).
import { Kafka, logLevel, type Admin, type LogEntry, type logCreator } from 'kafkajs';

/** A service (broker, registry) that did not answer: printed as one line, exit code 1. */
export class ServiceUnavailableError extends Error {
  override readonly name = 'ServiceUnavailableError';
}

export interface KafkaSettings {
  /** Bootstrap brokers, e.g. ['127.0.0.1:9092']. */
  brokers: string[];
  clientId: string;
  /** Retry schedule of the first connection, in ms between attempts (default CONNECT_SCHEDULE_MS). */
  connectScheduleMs?: readonly number[];
  /** Where kafkajs's remaining error lines go (default stderr). */
  log?: (line: string) => void;
  /** Gives up waiting for the broker (SIGTERM): the retries stop and the abort reason is thrown. */
  signal?: AbortSignal;
}

/** Waits between connection attempts: five attempts over about 7.5 s. */
export const CONNECT_SCHEDULE_MS: readonly number[] = [500, 1000, 2000, 4000];

/** The schedule from TREESYNTH_CONNECT_SCHEDULE_MS ("100,200"), else CONNECT_SCHEDULE_MS. */
export function connectSchedule(env: NodeJS.ProcessEnv = process.env): readonly number[] {
  const text = env['TREESYNTH_CONNECT_SCHEDULE_MS'];
  const waits = text?.split(',').map((w) => Number(w.trim()));
  return waits && waits.length > 0 && waits.every((w) => Number.isInteger(w) && w >= 0) ? waits : CONNECT_SCHEDULE_MS;
}

export { parseBrokers } from './brokers.js';

// Lines kafkajs logs at ERROR that are normal operation for us: retried broker answers
// (CONCURRENT_TRANSACTIONS while a previous transaction completes, coordinator moves,
// rebalances), connection attempts we report ourselves, and fencing we handle.
const EXPECTED = [
  /concurrent transactions|another concurrent operation/i,
  /CONCURRENT_TRANSACTIONS/,
  /coordinator (is )?(not available|loading|not aware)/i,
  /rebalanc/i,
  /Connection (error|timeout)|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|Closed connection|disconnected/i,
  /KafkaJSNumberOfRetriesExceeded|KafkaJSConnectionError|KafkaJSNonRetriableError/,
  /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED|fenced|old epoch/i,
  /The group member needs to have a valid member id|UNKNOWN_MEMBER_ID|ILLEGAL_GENERATION|not the correct coordinator/i,
  /Restarting the consumer|Crash:/i,
];

/**
 * kafkajs logs every retried broker answer at ERROR. This keeps the log for what an operator
 * should see: unexpected errors, one line each; everything else only with TREESYNTH_DEBUG.
 */
export function quietLogCreator(sink: (line: string) => void = (line) => process.stderr.write(line)): logCreator {
  const debug = Boolean(process.env['TREESYNTH_DEBUG']);
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, error } = log as { message: string; error?: string };
      const text = `${message}${error ? `: ${error}` : ''}`;
      if (!debug && (level > logLevel.ERROR || EXPECTED.some((re) => re.test(text)))) return;
      sink(`kafkajs ${namespace}: ${text.split('\n')[0]}\n`);
    };
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))}`;

/** "5 attempts over 7.5 s (waits 0.5, 1, 2, 4 s)". */
export function describeSchedule(schedule: readonly number[]): string {
  const total = schedule.reduce((a, b) => a + b, 0);
  return `${schedule.length + 1} attempts over ${seconds(total)} s (waits ${schedule.map(seconds).join(', ')} s)`;
}

/** Waits `ms`, or less when `signal` aborts (then throws its reason). */
export async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
  signal?.throwIfAborted();
}

const reasonOf = (error: unknown): string => {
  const e = error as { message?: string; cause?: { message?: string; code?: string }; code?: string };
  return (e?.cause?.code ?? e?.code ?? e?.cause?.message ?? e?.message ?? String(error)).split('\n')[0]!;
};

/**
 * Runs `attempt` on the schedule until it succeeds; the last failure becomes one clear line.
 * An aborted `signal` ends the waiting at once (its reason is thrown).
 */
export async function withConnectRetries<T>(what: string, schedule: readonly number[], attempt: () => Promise<T>, hint: string, signal?: AbortSignal): Promise<T> {
  let last: unknown;
  // An attempt in flight is not waited for once stopping (a silent broker holds it for seconds).
  const aborted = signal && new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  aborted?.catch(() => {});
  for (let i = 0; i <= schedule.length; i++) {
    signal?.throwIfAborted();
    try {
      return await (aborted ? Promise.race([attempt(), aborted]) : attempt());
    } catch (error) {
      signal?.throwIfAborted();
      last = error;
      if (i < schedule.length) await abortableSleep(schedule[i]!, signal);
    }
  }
  throw new ServiceUnavailableError(`cannot reach ${what} (${reasonOf(last)}); ${describeSchedule(schedule)}. ${hint}`);
}

/**
 * A connected kafkajs client and admin. The first connection is tried on the schedule with
 * kafkajs's own retries off (so its log stays quiet); after that kafkajs retries as usual.
 */
export async function connectKafka(settings: KafkaSettings): Promise<{ kafka: Kafka; admin: Admin }> {
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] ??= '1';
  const schedule = settings.connectScheduleMs ?? connectSchedule();
  const log = settings.log ?? ((line: string) => process.stderr.write(line));
  const probe = new Kafka({
    clientId: `${settings.clientId}-probe`, brokers: settings.brokers, logLevel: logLevel.NOTHING,
    connectionTimeout: 2000, requestTimeout: 5000, retry: { retries: 0 },
  });
  await withConnectRetries(`Kafka at ${settings.brokers.join(',')}`, schedule, async () => {
    const admin = probe.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }, 'Is the broker running? (npm run -s stack:up prints its address)', settings.signal);

  const kafka = new Kafka({
    clientId: settings.clientId, brokers: settings.brokers, logCreator: quietLogCreator(log),
    connectionTimeout: 3000, requestTimeout: 30_000,
    // Once connected, transient failures are retried for about a minute before a stage restarts.
    retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: 8 },
  });
  const admin = kafka.admin();
  await admin.connect();
  return { kafka, admin };
}
