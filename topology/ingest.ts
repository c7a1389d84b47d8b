// `treesynth ingest`, `request-tasks` and `request-evolution`: the ways records enter Kafka
// mode from outside. Ingest sends SourceFiles into code.files keyed by path, and remembers the content
// hash it sent for each path under --state, per cluster (its id) and topic, so unchanged files
// are not sent again (on a rerun or a --watch rescan) while a new, recreated or different
// cluster, or a recreated topic, gets every file again. A path sent before that the source no
// longer has is a tombstone (null value) under its path: the stages retract its content
// (topology/retraction.ts). Source rejections (unreadable, too large, bad JSONL lines) go to the
// dead letters, once per path and reason.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../connectors/atomic-file.js';
import { readDirectory } from '../connectors/directory-source.js';
import { readGitTree } from '../connectors/git-tree-source.js';
import { readJsonl } from '../connectors/jsonl-source.js';
import { openKafkaContext, openProducer, type KafkaContext, type WrittenUpTo } from '../connectors/kafka/context.js';
import { settlesWithin, type OutMessage } from '../connectors/kafka/transactional.js';
import { sha256Hex } from '../analysis/file-checks.js';
import type { Outcome } from '../schemas/outcome.js';
import type { SourceFile, TaskLevel, TaskRequest } from '../schemas/contract.js';
import { TOPICS } from '../schemas/topics.js';
import type { TopicSettings } from '../connectors/kafka/topics.js';
import { readTopic } from '../connectors/kafka/reader.js';
import { highestRounds, nextRounds } from './evolution.js';

/** Where the records go: the cluster, its registry, and the deployment's topics. */
export interface KafkaTarget {
  brokers: string[];
  registryUrl: string;
  topicPrefix: string;
  topics: TopicSettings;
  quiet: boolean;
}

export interface IngestOptions extends KafkaTarget {
  gitRef?: string;
  watch: boolean;
  interval: number;
  maxReadBytes: number;
  state: string;
  resend: boolean;
  /** Stops --watch (tests); SIGINT/SIGTERM do the same from the command line. */
  signal?: AbortSignal;
}

export interface IngestCounts {
  read: number;
  sent: number;
  unchanged: number;
  rejected: number;
  /** Paths sent before and gone now: each a tombstone on code.files. */
  deleted: number;
  bytes: number;
}

/** Within `scope` (paths a file-system event named, each with what lies under it), or everything when null. */
const inScope = (scope: ReadonlySet<string> | null, path: string): boolean => {
  if (scope === null || scope.has(path)) return true;
  for (const p of scope) if (path.startsWith(`${p}/`)) return true;
  return false;
};

const isJsonl = (path: string) => /\.(jsonl|ndjson)(\.gz)?$/i.test(path);

/**
 * What ingest sent to one cluster's topic: path -> a content hash, or
 * `rejected:<reason>:<detail>`; and, per topic written, how far each partition's log reached
 * after the last acknowledged send. The state file is named after the cluster id (not the
 * bootstrap address) and the topic, so a recreated or different cluster starts from nothing;
 * the marks catch a topic deleted and recreated on the same cluster: its log ends before them.
 */
class IngestState {
  private constructor(
    readonly file: string,
    private readonly target: string,
    private readonly sent: Map<string, string>,
    private readonly marks: Map<string, Map<number, number>>,
  ) {}

  static async load(dir: string, target: string): Promise<IngestState> {
    const file = join(dir, `${createHash('sha1').update(target).digest('hex').slice(0, 16)}.json`);
    const text = await readFile(file, 'utf8').catch(() => null);
    const entries = new Map<string, string>();
    const marks = new Map<string, Map<number, number>>();
    if (text !== null) {
      // A state file we cannot read only costs a resend; say so rather than fail.
      try {
        const parsed = JSON.parse(text) as { target?: string; sent?: Record<string, unknown>; writtenUpTo?: Record<string, Record<string, unknown>> };
        for (const [k, v] of Object.entries(parsed.sent ?? {})) if (typeof v === 'string') entries.set(k, v);
        for (const [topic, partitions] of Object.entries(parsed.writtenUpTo ?? {})) {
          const byPartition = new Map<number, number>();
          for (const [p, offset] of Object.entries(partitions ?? {})) if (Number.isInteger(Number(p)) && typeof offset === 'number') byPartition.set(Number(p), offset);
          marks.set(topic, byPartition);
        }
      } catch {
        process.stderr.write(`treesynth: ingest state ${file} is unreadable; sending every file again\n`);
      }
    }
    return new IngestState(file, target, entries, marks);
  }

  /**
   * Why the topics no longer hold what this state says was sent (a partition's log ends
   * before what ingest wrote: the topic was deleted and recreated), or null when they may.
   */
  async replaced(admin: KafkaContext['admin']): Promise<string | null> {
    for (const [topic, byPartition] of this.marks) {
      const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
      for (const [partition, mark] of byPartition) {
        const end = ends.get(partition);
        if (end === undefined || end < mark) {
          return `${topic} partition ${partition} ends at ${end ?? 'no offset (missing)'}, but ingest had written up to ${mark} there: the topic was recreated`;
        }
      }
    }
    return null;
  }

  forget(): void {
    this.sent.clear();
    this.marks.clear();
  }

  get(path: string): string | undefined {
    return this.sent.get(path);
  }

  set(path: string, value: string): void {
    this.sent.set(path, value);
  }

  delete(path: string): void {
    this.sent.delete(path);
  }

  paths(): string[] {
    return [...this.sent.keys()];
  }

  wrote(written: WrittenUpTo): void {
    for (const [topic, partitions] of written) {
      const byPartition = this.marks.get(topic) ?? new Map<number, number>();
      for (const [p, offset] of partitions) byPartition.set(p, Math.max(byPartition.get(p) ?? 0, offset));
      this.marks.set(topic, byPartition);
    }
  }

  async save(): Promise<void> {
    const writtenUpTo = Object.fromEntries([...this.marks].map(([topic, partitions]) => [topic, Object.fromEntries(partitions)]));
    await writeFileAtomic(this.file, JSON.stringify({ target: this.target, writtenUpTo, sent: Object.fromEntries(this.sent) }));
  }
}

function openSource(input: string, options: IngestOptions, scope: ReadonlySet<string> | null): AsyncIterable<Outcome<SourceFile>> {
  if (options.gitRef) return readGitTree(input, options.gitRef, { maxReadBytes: options.maxReadBytes });
  if (isJsonl(input)) return readJsonl(input);
  return readDirectory(input, { maxReadBytes: options.maxReadBytes, ...(scope ? { only: (rel: string) => inScope(scope, rel) } : {}) });
}

/**
 * Sends one pass over the source (or over the paths in `scope` only): changed and new files,
 * new rejections, and a tombstone for every path sent before that the source no longer has.
 */
async function pass(
  context: KafkaContext, send: (m: OutMessage[]) => Promise<WrittenUpTo>, state: IngestState, input: string, options: IngestOptions, scope: ReadonlySet<string> | null = null,
): Promise<IngestCounts> {
  const counts: IngestCounts = { read: 0, sent: 0, unchanged: 0, rejected: 0, deleted: 0, bytes: 0 };
  const present = new Set<string>();
  let batch: OutMessage[] = [];
  let batchBytes = 0;
  let updates: Array<[string, string | null]> = [];
  // The state is written only after the broker acknowledged the batch: a crash in between
  // resends a few files (the filter stage drops them as duplicates), it never skips one.
  const flush = async () => {
    if (batch.length === 0 && updates.length === 0) return;
    state.wrote(await send(batch));
    for (const [path, value] of updates) {
      if (value === null) state.delete(path);
      else state.set(path, value);
    }
    await state.save();
    batch = [];
    updates = [];
    batchBytes = 0;
  };
  for await (const outcome of openSource(input, options, scope)) {
    counts.read += 1;
    if (!outcome.ok) {
      const r = outcome.rejection;
      const key = r.path ?? `${r.source}:${r.position}`;
      present.add(key);
      const seen = `rejected:${r.reason}:${r.detail}`;
      if (!options.resend && state.get(key) === seen) {
        counts.unchanged += 1;
        continue;
      }
      counts.rejected += 1;
      // A path whose earlier version was sent and now cannot be: that version leaves the corpus.
      const earlier = state.get(key);
      if (r.path !== null && earlier !== undefined && !earlier.startsWith('rejected:')) {
        batch.push(context.tombstone(TOPICS.files, r.path));
        counts.deleted += 1;
      }
      batch.push(context.message(TOPICS.deadLetters, r));
      updates.push([key, seen]);
      continue;
    }
    const file = outcome.value;
    present.add(file.path);
    const hash = sha256Hex(file.content);
    if (!options.resend && state.get(file.path) === hash) {
      counts.unchanged += 1;
      continue;
    }
    const message = context.message(TOPICS.files, file);
    batch.push(message);
    batchBytes += message.value?.length ?? 0;
    updates.push([file.path, hash]);
    counts.sent += 1;
    counts.bytes += file.content.length;
    if (batch.length >= 500 || batchBytes >= 4 * 1024 * 1024) await flush();
  }
  // What was sent and is gone: a tombstone under its path (the stages retract its content). A
  // path only ever rejected had nothing sent to code.files: the state just forgets it.
  for (const path of state.paths()) {
    if (present.has(path) || !inScope(scope, path)) continue;
    if (!state.get(path)!.startsWith('rejected:')) {
      batch.push(context.tombstone(TOPICS.files, path));
      counts.deleted += 1;
    }
    updates.push([path, null]);
    if (batch.length >= 500) await flush();
  }
  await flush();
  return counts;
}

/**
 * Follows file-system events under `input`: `next(ms)` resolves, after a short debounce, with
 * the paths (relative to `input`) the events named since the last call, or with null when `ms`
 * passed without an event (the periodic rescan, the safety net for missed events), an event
 * named no path, or recursive watching is not available here.
 */
function changeWatcher(input: string, isDirectory: boolean, signal: AbortSignal) {
  let fsWatcher: FSWatcher | null = null;
  let changed = new Set<string>();
  let unnamed = false;
  let wake: (() => void) | null = null;
  let debounce: NodeJS.Timeout | null = null;
  const poke = (_event: string, filename: string | Buffer | null) => {
    if (filename === null) unnamed = true;
    else changed.add(filename.toString().split(sep).join('/'));
    // Debounce: editors write files in several steps, scripts touch many files at once.
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = null;
      wake?.();
    }, 300);
  };
  try {
    fsWatcher = watch(input, { recursive: isDirectory, persistent: true }, poke);
    fsWatcher.on('error', () => {});
  } catch {
    fsWatcher = null; // no recursive watch here: the periodic rescan alone finds changes
  }
  const take = (): Set<string> | null => {
    const paths = unnamed || !isDirectory || changed.size === 0 ? null : changed;
    changed = new Set();
    unnamed = false;
    return paths;
  };
  signal.addEventListener('abort', () => wake?.(), { once: true });
  return {
    next: (ms: number) =>
      new Promise<Set<string> | null>((resolve) => {
        if (signal.aborted) return resolve(null);
        if ((changed.size > 0 || unnamed) && debounce === null) return resolve(take());
        const timer = setTimeout(() => done(), ms);
        const done = () => {
          clearTimeout(timer);
          if (debounce) clearTimeout(debounce);
          wake = null;
          debounce = null;
          resolve(take());
        };
        wake = done;
      }),
    close: () => {
      if (debounce) clearTimeout(debounce);
      fsWatcher?.close();
    },
  };
}

const summary = (c: IngestCounts, topic: string) =>
  `${c.read} files read: ${c.sent} sent to ${topic} (${(c.bytes / 1024 / 1024).toFixed(2)} MiB), ${c.unchanged} unchanged, ${c.rejected} rejected to dead letters, ${c.deleted} deleted (tombstones)`;

export async function ingest(inputArg: string, options: IngestOptions): Promise<IngestCounts> {
  const input = resolve(inputArg);
  const info = await stat(input).catch(() => null);
  if (!info) throw new Error(`input not found: ${inputArg}`);
  if (options.gitRef && !info.isDirectory()) throw new Error(`--git-ref needs a git work tree, not a file: ${inputArg}`);
  const { brokers, registryUrl } = options;
  const context = await openKafkaContext({ brokers, registryUrl, prefix: options.topicPrefix, clientId: `${options.topicPrefix}ingest`, topics: options.topics });
  const producer = await openProducer(context);
  const topic = context.topic(TOPICS.files);
  const say = (line: string) => {
    if (!options.quiet) process.stdout.write(`${line}\n`);
  };
  const total: IngestCounts = { read: 0, sent: 0, unchanged: 0, rejected: 0, deleted: 0, bytes: 0 };
  const add = (c: IngestCounts) => {
    for (const k of Object.keys(total) as Array<keyof IngestCounts>) total[k] += c[k];
  };
  try {
    const { clusterId } = await context.admin.describeCluster();
    const state = await IngestState.load(resolve(options.state), `${clusterId}|${topic}|${input}|${options.gitRef ?? ''}`);
    const replaced = await state.replaced(context.admin);
    if (replaced) {
      say(`${replaced}; sending every file again`);
      state.forget();
    }
    const first = await pass(context, producer.send, state, input, options);
    add(first);
    say(summary(first, topic));
    if (!options.watch) return total;

    const stop = new AbortController();
    options.signal?.addEventListener('abort', () => stop.abort(), { once: true });
    const onSignal = () => stop.abort();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const watcher = changeWatcher(input, info.isDirectory() && !options.gitRef, stop.signal);
    say(`watching ${inputArg} for new, changed and deleted files (^C to stop)`);
    try {
      // Later passes send only what changed; what was already sent is in the state.
      const rescan = { ...options, resend: false };
      // A pass that a broker out of reach holds up is given up on a signal: the state has what
      // it sent, and the rest goes on the next run.
      const stopped = new Promise<null>((resolve) => stop.signal.addEventListener('abort', () => resolve(null), { once: true }));
      let rescanned = Date.now();
      while (!stop.signal.aborted) {
        // The paths events named, read alone; and at least every --interval, a rescan of
        // everything, even while events keep coming.
        const named = await watcher.next(Math.max(0, rescanned + options.interval - Date.now()));
        if (stop.signal.aborted) break;
        const scope = Date.now() - rescanned >= options.interval ? null : named;
        if (scope === null) rescanned = Date.now();
        const counts = await Promise.race([pass(context, producer.send, state, input, rescan, scope), stopped]);
        if (counts === null) break;
        if (scope === null) total.read = Math.max(total.read, counts.read);
        total.sent += counts.sent;
        total.rejected += counts.rejected;
        total.deleted += counts.deleted;
        total.bytes += counts.bytes;
        if (counts.sent + counts.rejected + counts.deleted > 0) say(`${counts.sent} new or changed files sent, ${counts.deleted} deleted (tombstones), ${counts.rejected} rejected`);
      }
    } finally {
      watcher.close();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    say(`stopped: ${total.sent} files sent in all, ${total.deleted} deleted, ${total.rejected} rejected`);
    return total;
  } finally {
    // Bounded: a broker that does not answer must not hold the exit.
    await settlesWithin(producer.close(), 1_000);
    await settlesWithin(context.close(), 1_000);
  }
}

export interface RequestTasksOptions extends KafkaTarget {
  count: number;
  treeKey: string;
  level?: TaskLevel;
  startIndex?: number;
}

/** Writes `count` TaskRequests; returns the first index. */
export async function requestTasks(options: RequestTasksOptions): Promise<number> {
  const keys = options.treeKey.split(',').map((k) => k.trim()).filter(Boolean);
  if (keys.length === 0) throw new Error('--tree-key needs at least one tree key, e.g. all');
  const { brokers, registryUrl } = options;
  const context = await openKafkaContext({ brokers, registryUrl, prefix: options.topicPrefix, clientId: `${options.topicPrefix}request-tasks`, topics: options.topics });
  const producer = await openProducer(context);
  const topic = context.topic(TOPICS.taskRequests);
  try {
    // By default continue after the requests already written, so new requests are new tasks.
    const start = options.startIndex ?? (await context.admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
    const now = Date.now();
    for (let i = 0; i < options.count; i += 1000) {
      const batch: OutMessage[] = [];
      for (let j = i; j < Math.min(options.count, i + 1000); j++) {
        const request: TaskRequest = { treeKey: keys[j % keys.length]!, index: start + j, level: options.level ?? null, requestedAt: now };
        batch.push(context.message(TOPICS.taskRequests, request));
      }
      await producer.send(batch);
    }
    if (!options.quiet) process.stdout.write(`requested ${options.count} tasks (indexes ${start}..${start + options.count - 1}) on ${topic}\n`);
    return start;
  } finally {
    await producer.close();
    await context.close();
  }
}

export interface RequestEvolutionOptions extends KafkaTarget {
  rounds: number;
  treeKey: string;
}

/**
 * Evolution on demand: writes `rounds` EvolutionRequests per tree key to tree.evolve, numbered
 * per tree after the highest round already requested. Returns the lowest round number sent.
 */
export async function requestEvolution(options: RequestEvolutionOptions): Promise<number> {
  const keys = options.treeKey.split(',').map((k) => k.trim()).filter(Boolean);
  if (keys.length === 0) throw new Error('--tree-key needs at least one tree key, e.g. all');
  const context = await openKafkaContext({
    brokers: options.brokers, registryUrl: options.registryUrl, prefix: options.topicPrefix,
    clientId: `${options.topicPrefix}request-evolution`, topics: options.topics,
  });
  const producer = await openProducer(context);
  const topic = context.topic(TOPICS.evolutionRequests);
  try {
    // Rounds are numbered per tree after the highest already requested (topology/evolution.ts),
    // as local mode numbers its end-of-corpus rounds, so both evolve the same tree.
    const requested: Array<{ treeKey: string; round: number }> = [];
    await readTopic(context.kafka, context.admin, topic, {
      groupPrefix: `${options.topicPrefix}request-evolution.read`,
      onRecord: async (raw) => {
        const decoded = await context.serde.decode(topic, 'EvolutionRequest', raw.value);
        if (decoded.ok) requested.push(decoded.value);
      },
    });
    const highest = highestRounds(requested);
    const now = Date.now();
    const requests = keys.flatMap((treeKey) => nextRounds(treeKey, highest.get(treeKey) ?? 0, options.rounds, 'on-demand', now));
    const first = Math.min(...requests.map((r) => r.round));
    await producer.send(requests.map((r) => context.message(TOPICS.evolutionRequests, r)));
    if (!options.quiet) process.stdout.write(`requested ${options.rounds} evolution round(s) for ${keys.join(', ')} on ${topic}\n`);
    return first;
  } finally {
    await producer.close();
    await context.close();
  }
}
