// Exactly-once read-process-write over kafkajs: a consumer group reading read_committed with
// no autocommit, and for every batch ONE transaction that carries the batch's outputs and the
// group's offset for it (sendOffsets). A crash anywhere leaves either the whole transaction or
// none of it, and the restarted stage resumes from the committed offset.
//
// kafkajs has no consumer-group fencing (KIP-447), so fencing comes from transactional ids:
// - stateless stages (scale out over partitions): one id per input partition,
//   `<prefix><stage>-<topic>-<partition>`. The new owner of a partition initialises that id,
//   which aborts or waits out the previous owner's open transaction and fences it; only then
//   does it read the committed offset, and it skips records below it (kafkajs may have read a
//   stale offset: transactional offsets become visible a moment after the commit).
// - stateful stages (single writer of a store): one id per store, `<prefix><store>`, set up
//   before the store is rebuilt. A second process starting the same store fences the first,
//   so two writers can never both commit.
import type { Admin, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { RawRecord } from './reader.js';

export interface OutMessage {
  topic: string;
  partition: number;
  key: string;
  /** null: a tombstone (on a compacted topic, the key's record is gone). */
  value: Buffer | null;
  /** On a compacted topic: only the last message of a key in one transaction is written (see latestPerKey). */
  compacted?: boolean;
}

/**
 * `messages` without those a later message of the same key on the same compacted topic
 * supersedes, in their order. A transaction becomes visible whole, and compaction keeps only
 * the latest record of a key, so a reader (or a restore) ends in the same state either way;
 * the tree writer updates the same nodes (root, categories) for every file of a batch, and
 * writing each update once per batch instead of once per file is most of its output.
 */
export function latestPerKey(messages: readonly OutMessage[]): OutMessage[] {
  const last = new Map<string, number>();
  messages.forEach((m, i) => {
    if (m.compacted) last.set(`${m.topic}\u0000${m.key}`, i);
  });
  if (last.size === 0) return [...messages];
  return messages.filter((m, i) => !m.compacted || last.get(`${m.topic}\u0000${m.key}`) === i);
}

/** Broker answers that mean another producer with our transactional id took over. */
export function isFenced(error: unknown): boolean {
  for (let e = error as { type?: string; name?: string; message?: string; originalError?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED' || e.name === 'KafkaJSProducerFencedError') return true;
    if (typeof e.message === 'string' && /fenced|INVALID_PRODUCER_EPOCH|producer epoch/i.test(e.message)) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

/** A transactional producer whose id is initialised: any earlier holder is fenced, its open transaction ended. */
export async function initTransactionalProducer(kafka: Kafka, transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
  await producer.connect();
  // kafkajs sends InitProducerId at the first transaction(); an empty one ends without EndTxn.
  const tx = await producer.transaction();
  await tx.abort();
  return producer;
}

/** Where a stage's transactions come from, one transaction at a time per producer. */
export interface TransactionLane {
  readonly transactionalIdOf: (partition: number) => string;
  /** True for a store's single writer: being fenced means another process took over. */
  readonly singleWriter: boolean;
  /**
   * Runs `work` with the producer for input `partition`. `fresh` is true when the producer was
   * (re)initialised for this call: the caller must re-read the committed offset.
   */
  run<T>(partition: number, generation: number, work: (producer: Producer, fresh: boolean) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Serialises async work: the next starts when the previous has settled. */
class Queue {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(work, work);
    this.#tail = next.catch(() => {});
    return next;
  }
}

/** One transactional id for a store shared by one or more stages (their batches take turns). */
export class SingleWriterLane implements TransactionLane {
  readonly singleWriter = true;
  readonly #queue = new Queue();
  readonly #seen = new Set<string>();

  private constructor(
    readonly transactionalId: string,
    private readonly producer: Producer,
  ) {}

  static async open(kafka: Kafka, transactionalId: string): Promise<SingleWriterLane> {
    return new SingleWriterLane(transactionalId, await initTransactionalProducer(kafka, transactionalId));
  }

  readonly transactionalIdOf = (): string => this.transactionalId;

  run<T>(partition: number, generation: number, work: (producer: Producer, fresh: boolean) => Promise<T>): Promise<T> {
    return this.#queue.run(() => {
      // The producer was initialised before the store was rebuilt; still re-read the committed
      // offset once per partition and group generation.
      const key = `${generation}/${partition}`;
      const fresh = !this.#seen.has(key);
      this.#seen.add(key);
      return work(this.producer, fresh);
    });
  }

  async close(): Promise<void> {
    await this.#queue.run(async () => {});
    await this.producer.disconnect().catch(() => {});
  }
}

/** One transactional id per input partition, initialised when the partition is first processed in a group generation. */
export class PartitionLanes implements TransactionLane {
  readonly singleWriter = false;
  readonly #lanes = new Map<number, { queue: Queue; producer: Producer | null; generation: number }>();

  constructor(
    private readonly kafka: Kafka,
    readonly transactionalIdOf: (partition: number) => string,
  ) {}

  run<T>(partition: number, generation: number, work: (producer: Producer, fresh: boolean) => Promise<T>): Promise<T> {
    let lane = this.#lanes.get(partition);
    if (!lane) {
      lane = { queue: new Queue(), producer: null, generation: -1 };
      this.#lanes.set(partition, lane);
    }
    const entry = lane;
    return entry.queue.run(async () => {
      let fresh = false;
      // A new generation may have moved the partition away and back: another process may
      // have owned it meanwhile, so take the id over again before reading the offset.
      if (!entry.producer || entry.generation !== generation) {
        await entry.producer?.disconnect().catch(() => {});
        entry.producer = null;
        entry.producer = await initTransactionalProducer(this.kafka, this.transactionalIdOf(partition));
        entry.generation = generation;
        fresh = true;
      }
      try {
        return await work(entry.producer, fresh);
      } catch (error) {
        // Start over with a new producer next time: this one may be fenced or mid-transaction.
        await entry.producer?.disconnect().catch(() => {});
        entry.producer = null;
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#lanes.values()].map((lane) =>
        lane.queue.run(async () => {
          await lane.producer?.disconnect().catch(() => {});
          lane.producer = null;
        }),
      ),
    );
  }
}

export interface BatchCommitted {
  topic: string;
  partition: number;
  /** Input records processed (decoded or not). */
  records: number;
  /** Output messages written, dead letters included. */
  messages: number;
  /** The committed offset: the next record to read. */
  nextOffset: string;
  elapsedMs: number;
}

export interface StageConsumerOptions {
  kafka: Kafka;
  admin: Admin;
  groupId: string;
  topic: string;
  lane: TransactionLane;
  /** Records per transaction at most: long batches (LLM stages) commit as they go. */
  maxRecordsPerTransaction: number;
  /**
   * The outputs of some records, to be written in their transaction. `signal` aborts when the
   * consumer stops and the batch cannot wait any longer (work that waits must give up then).
   */
  process(records: RawRecord[], signal: AbortSignal): Promise<OutMessage[]>;
  onCommitted?(info: BatchCommitted): void;
  /** A batch failed (its transaction was aborted); the consumer has paused and must be restarted. */
  onFailure(error: unknown): void;
  maxWaitTimeInMs?: number;
  /** Partitions whose batches run at once, with a lane per partition (default PARTITIONS_CONCURRENTLY). */
  partitionsConcurrently?: number;
  /** A member silent this long is dropped from the group (and a SIGKILLed one's partitions move on). Default 10 s. */
  sessionTimeoutMs?: number;
}

export interface StageConsumer {
  /**
   * Stops fetching and leaves the group. The batch in flight has `graceMs` to finish its
   * transaction; after that it is abandoned (its transaction aborted or never begun: the
   * records are read again by the next owner). Resolves within about `graceMs` + 2 s even when
   * the broker does not answer.
   */
  stop(graceMs?: number): Promise<void>;
}

/** A batch given up because its consumer stopped: no transaction was committed for it. */
export class BatchAbandoned extends Error {
  override readonly name = 'BatchAbandoned';
}

/** Resolves true when `promise` settles within `ms`, false otherwise. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function groupByTopic(messages: readonly OutMessage[]) {
  const byTopic = new Map<string, Array<{ key: string; value: Buffer | null; partition: number }>>();
  for (const m of messages) {
    const list = byTopic.get(m.topic) ?? [];
    list.push({ key: m.key, value: m.value, partition: m.partition });
    byTopic.set(m.topic, list);
  }
  return [...byTopic].map(([topic, list]) => ({ topic, messages: list }));
}

const toRaw = (topic: string, partition: number, m: KafkaMessage): RawRecord => ({
  topic, partition, offset: m.offset, key: m.key, value: m.value, timestamp: m.timestamp,
});

/**
 * Partitions of one stage consumer with batches in flight at once. Measured on 600 files
 * (bench/kafka-throughput.ts, 3 partitions): 3 took 11.5-12.2 s from ingest to the last
 * canonicalized file, 1 took 14.0-15.8 s.
 */
export const PARTITIONS_CONCURRENTLY = 3;

/** Starts a stage's consumer group on `topic`: every batch goes through `process` and one transaction. */
export async function startStageConsumer(options: StageConsumerOptions): Promise<StageConsumer> {
  const { kafka, admin, groupId, topic, lane } = options;
  const consumer = kafka.consumer({
    groupId, readUncommitted: false, maxWaitTimeInMs: options.maxWaitTimeInMs ?? 500,
    sessionTimeout: options.sessionTimeoutMs ?? 10_000, heartbeatInterval: Math.min(3_000, Math.floor((options.sessionTimeoutMs ?? 10_000) / 4)),
    retry: { retries: 5, restartOnFailure: async () => false },
  });
  let generation = 0;
  let failed = false;
  const halt = new AbortController();
  const halted = new Promise<never>((_, reject) => halt.signal.addEventListener('abort', () => reject(new BatchAbandoned(`${groupId}: stopped`)), { once: true }));
  halted.catch(() => {});
  /** `work`, unless the consumer is halted first. */
  const unlessHalted = <T>(work: Promise<T>): Promise<T> => Promise.race([work, halted]);
  /** Committed offset per partition as this process last wrote or read it. */
  const committed = new Map<number, bigint>();

  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    options.onFailure(error);
  };

  const committedOffset = async (partition: number): Promise<bigint> => {
    const known = committed.get(partition);
    if (known !== undefined) return known;
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const offset = BigInt(entry?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
    const value = offset < 0n ? 0n : offset;
    committed.set(partition, value);
    return value;
  };

  /** One transaction: outputs of `records` (those not yet committed) and the offset `next`. */
  const commit = (partition: number, records: KafkaMessage[], next: bigint, heartbeat: () => Promise<void>) =>
    unlessHalted(lane.run(partition, generation, async (producer, fresh) => {
      if (halt.signal.aborted) throw new BatchAbandoned(`${groupId}: stopped`);
      const started = Date.now();
      if (fresh) committed.delete(partition);
      const floor = await committedOffset(partition);
      if (next <= floor) return;
      const todo = records.filter((m) => BigInt(m.offset) >= floor);
      let out: OutMessage[] = [];
      if (todo.length > 0) {
        // LLM stages can take a while per batch: keep the group membership alive meanwhile.
        const beat = setInterval(() => void heartbeat().catch(() => {}), 1_000);
        try {
          out = await unlessHalted(options.process(todo.map((m) => toRaw(topic, partition, m)), halt.signal));
        } finally {
          clearInterval(beat);
        }
      }
      if (halt.signal.aborted) throw new BatchAbandoned(`${groupId}: stopped`);
      out = latestPerKey(out);
      const tx = await producer.transaction();
      try {
        if (out.length > 0) await tx.sendBatch({ topicMessages: groupByTopic(out) });
        await tx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition, offset: next.toString() }] }] });
        await tx.commit();
      } catch (error) {
        await tx.abort().catch(() => {});
        throw error;
      }
      committed.set(partition, next);
      options.onCommitted?.({ topic, partition, records: todo.length, messages: out.length, nextOffset: next.toString(), elapsedMs: Date.now() - started });
    }));

  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    generation += 1;
    committed.clear();
    // Take over every assigned partition's transactional id now, not at its first batch: a
    // killed owner's open transaction would otherwise hold back read_committed readers of
    // our output topics (up to the transaction timeout) whenever the partition has no new
    // input. The lane queues this before any batch of the partition.
    const assigned = event.payload.memberAssignment[topic] ?? [];
    for (const partition of assigned) void lane.run(partition, generation, async () => {}).catch(fail);
  });
  consumer.on(consumer.events.CRASH, (event) => fail(event.payload.error));
  // A batch of only transaction markers never reaches eachBatch, yet the position moves past
  // them; commit that too, or the group's lag would show 1 per partition forever.
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    const { partition, batchSize, lastOffset } = event.payload;
    if (batchSize !== 0 || failed) return;
    void commit(partition, [], BigInt(lastOffset) + 1n, async () => {}).catch(fail);
  });

  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    // Partitions with their own transactional producers overlap: one partition's batch works while
    // another's transaction commits (a single writer's batches take turns, in order, anyway).
    partitionsConsumedConcurrently: lane.singleWriter ? 1 : (options.partitionsConcurrently ?? PARTITIONS_CONCURRENTLY),
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }) => {
      if (failed) {
        pause();
        return;
      }
      try {
        const parts = chunk(batch.messages, options.maxRecordsPerTransaction);
        for (let i = 0; i < parts.length; i++) {
          // Shutting down or the partition moved: leave the rest to the next owner / next run.
          if (!isRunning() || isStale()) return;
          const part = parts[i]!;
          const last = i === parts.length - 1 ? batch.lastOffset() : part[part.length - 1]!.offset;
          await commit(batch.partition, part, BigInt(last) + 1n, heartbeat);
          resolveOffset(last);
          await heartbeat().catch(() => {});
        }
      } catch (error) {
        pause();
        fail(error);
      }
    },
  });

  return {
    stop: async (graceMs = 2_000) => {
      const left = consumer.disconnect().catch(() => {});
      if (await settlesWithin(left, graceMs)) return;
      halt.abort();
      await settlesWithin(left, 2_000);
    },
  };
}
