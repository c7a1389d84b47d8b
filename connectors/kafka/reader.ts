// Reads a topic from its beginning with read_committed, either up to the end offsets captured
// when reading starts (restoring a store from its changelog) or on and on (following a
// changelog another process writes). kafkajs has no manual partition assignment, so this uses
// a throwaway consumer group that never commits and is deleted afterwards.
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { whileRetriable } from './retriable.js';

export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
}

export interface TopicReader {
  /** Resolves once every partition has been read up to the end offsets captured at start. */
  readonly caughtUp: Promise<void>;
  /** Leaves the group and deletes it. */
  stop(): Promise<void>;
}

export interface ReadOptions {
  /** Name stem of the throwaway group (a random suffix is added). */
  groupPrefix: string;
  /** Called for every committed record, in offset order per partition; awaited. */
  onRecord: (record: RawRecord) => void | Promise<void>;
  /** Keep reading after catching up (default false: stop there). */
  follow?: boolean;
  /** Fail if not caught up in this time (default: wait indefinitely). */
  timeoutMs?: number;
}

/**
 * High watermarks of every partition with records, as bigint. Right after a topic is created a
 * broker may answer NOT_LEADER_FOR_PARTITION (seen when a process restores from topics it has
 * just created): retried (whileRetriable).
 */
async function endOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const offsets = await whileRetriable(() => admin.fetchTopicOffsets(topic));
  return new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
}

export async function readTopic(kafka: Kafka, admin: Admin, topic: string, options: ReadOptions): Promise<TopicReader> {
  const ends = await endOffsets(admin, topic);
  const groupId = `${options.groupPrefix}.${randomUUID().slice(0, 8)}`;
  const pending = new Set(ends.keys());
  let consumer: Consumer | null = null;
  let stopped = false;

  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const caughtUp = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  caughtUp.catch(() => {});
  const advance = (partition: number, lastOffset: string) => {
    const end = ends.get(partition);
    if (end !== undefined && BigInt(lastOffset) + 1n >= end) pending.delete(partition);
    if (pending.size === 0) settle.resolve();
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await consumer?.disconnect().catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
  };

  if (pending.size === 0 && !options.follow) {
    settle.resolve();
    return { caughtUp, stop: async () => {} };
  }
  if (pending.size === 0) settle.resolve();

  consumer = kafka.consumer({
    groupId, readUncommitted: false, maxWaitTimeInMs: 200, sessionTimeout: 15_000, heartbeatInterval: 1_000,
    retry: { retries: 5, restartOnFailure: async () => false },
  });
  // Batches of only control records (transaction markers) or aborted records never reach
  // eachBatch, but they do move the position: the end offset may be a commit marker.
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => advance(event.payload.partition, event.payload.lastOffset));
  consumer.on(consumer.events.CRASH, (event) => settle.reject(event.payload.error));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const end = ends.get(batch.partition) ?? 0n;
      for (const message of batch.messages) {
        // Records after the captured end belong to the live stream, not to the restore.
        if (!options.follow && BigInt(message.offset) >= end) break;
        await options.onRecord({
          topic, partition: batch.partition, offset: message.offset, key: message.key, value: message.value, timestamp: message.timestamp,
        });
      }
    },
  });

  const guarded = options.timeoutMs
    ? Promise.race([
        caughtUp,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out reading ${topic} to its end after ${options.timeoutMs} ms`)), options.timeoutMs).unref()),
      ])
    : caughtUp;
  if (!options.follow) {
    try {
      await guarded;
    } finally {
      await stop();
    }
  }
  return { caughtUp: guarded, stop };
}
