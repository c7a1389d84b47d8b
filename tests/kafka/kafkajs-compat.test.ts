// Does kafkajs 2.2.4 (last release 2023, old protocol versions) still do everything treesynth
// needs against the broker started by `npm run stack:up`? Kafka 4.0 removed the oldest
// protocol versions (KIP-896), so each capability the Kafka mode relies on is exercised here
// once, against the real broker.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeKafka, kafkaStack } from './stack-env.js';

const { brokers } = kafkaStack;
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

const run = randomUUID().slice(0, 8);
const input = `compat-${run}-input`;
const output = `compat-${run}-output`;

interface Seen {
  partition: number;
  offset: string;
  key: string;
  value: string;
}

describeKafka('kafkajs 2.2.4 against the stack broker (needs KAFKA_BROKERS)', () => {
  let kafka: Kafka;
  let admin: Admin;
  const cleanup: Array<Producer | Consumer> = [];

  const consumer = (groupId: string, readUncommitted = false): Consumer => {
    // Short fetch waits: the default 5 s long poll would dominate these small tests.
    const c = kafka.consumer({ groupId, readUncommitted, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 250 });
    cleanup.push(c);
    return c;
  };

  // Reads `topic` from the start until `done(seen)` holds, then leaves the group.
  const readUntil = async (c: Consumer, topic: string, done: (seen: Seen[]) => boolean): Promise<Seen[]> => {
    const seen: Seen[] = [];
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}; saw ${seen.length}`)), 45_000);
      c.run({
        eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
          seen.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? '',
            value: message.value?.toString() ?? '',
          });
          if (done(seen)) {
            clearTimeout(timer);
            resolve();
          }
        },
      }).catch(reject);
    });
    await c.disconnect();
    return seen;
  };

  const transactionalProducer = (transactionalId: string): Producer => {
    const p = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    cleanup.push(p);
    return p;
  };

  beforeAll(async () => {
    // NOTHING: the retriable CONCURRENT_TRANSACTIONS answers and the deliberate fence below
    // would otherwise be logged as errors; the assertions say what went wrong.
    kafka = new Kafka({ clientId: `compat-${run}`, brokers: brokers!.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const c of cleanup) await c.disconnect().catch(() => {});
    if (admin) {
      await admin.deleteTopics({ topics: [input, output] }).catch(() => {});
      await admin.disconnect();
    }
  });

  it('creates topics (CreateTopics) and reads their metadata and configs', async () => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: input, numPartitions: 2, replicationFactor: 1 },
        { topic: output, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ],
    });
    expect(created).toBe(true);
    const meta = await admin.fetchTopicMetadata({ topics: [input] });
    expect(meta.topics[0]?.partitions).toHaveLength(2);
    expect(await admin.listTopics()).toEqual(expect.arrayContaining([input, output]));
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* TOPIC */, name: output, configNames: ['cleanup.policy'] }],
    });
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('compact');
  });

  it('produces and consumes through a consumer group, and admin.fetchOffsets sees its commits', async () => {
    const producer = kafka.producer();
    cleanup.push(producer);
    await producer.connect();
    const messages = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    await producer.send({ topic: input, messages });

    const group = `compat-${run}-plain`;
    const seen = await readUntil(consumer(group), input, (s) => s.length >= 10);
    expect(seen.map((m) => m.value).sort()).toEqual(messages.map((m) => m.value).sort());

    const ends = await admin.fetchTopicOffsets(input);
    const committed = await admin.fetchOffsets({ groupId: group, topics: [input] });
    const byPartition = Object.fromEntries(committed[0]!.partitions.map((p) => [p.partition, p.offset]));
    for (const end of ends) expect(byPartition[end.partition]).toBe(end.high);
    const groups = await admin.listGroups();
    expect(groups.groups.map((g) => g.groupId)).toContain(group);
  });

  it('commits records and consumer-group offsets in one transaction (sendOffsets)', async () => {
    const producer = transactionalProducer(`compat-${run}-tx`);
    await producer.connect();
    const group = `compat-${run}-txgroup`;
    const tx = await producer.transaction();
    await tx.send({ topic: output, messages: [{ key: 'a', value: 'committed-1' }, { key: 'b', value: 'committed-2' }] });
    await tx.sendOffsets({
      consumerGroupId: group,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: '3' }, { partition: 1, offset: '2' }] }],
    });
    await tx.commit();

    // The offsets become visible only once the broker has written the commit markers, a few
    // ms after commit() returns. kafkajs speaks OffsetFetch v4, which has no require_stable
    // flag (v7, KIP-447), so it reads the old offset meanwhile instead of waiting: hence poll.
    const fetchCommitted = async () => {
      const committed = await admin.fetchOffsets({ groupId: group, topics: [input] });
      return Object.fromEntries(committed[0]!.partitions.map((p) => [p.partition, p.offset]));
    };
    await expect.poll(fetchCommitted, { timeout: 10_000, interval: 100 }).toEqual({ 0: '3', 1: '2' });
  });

  it('hides an aborted transaction from read_committed consumers but not from read_uncommitted', async () => {
    const producer = transactionalProducer(`compat-${run}-tx`);
    await producer.connect();
    const aborted = await producer.transaction();
    await aborted.send({ topic: output, messages: [{ key: 'x', value: 'aborted-1' }, { key: 'y', value: 'aborted-2' }] });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic: output, messages: [{ key: 'c', value: 'committed-3' }] });
    await last.commit();

    const committedView = await readUntil(consumer(`compat-${run}-rc`), output, (s) =>
      s.some((m) => m.value === 'committed-3'),
    );
    expect(committedView.map((m) => m.value)).toEqual(['committed-1', 'committed-2', 'committed-3']);

    const rawView = await readUntil(consumer(`compat-${run}-ru`, true), output, (s) =>
      s.some((m) => m.value === 'committed-3'),
    );
    expect(rawView.map((m) => m.value)).toEqual(['committed-1', 'committed-2', 'aborted-1', 'aborted-2', 'committed-3']);
  });

  it('does not show an open transaction to read_committed consumers until it commits', async () => {
    const producer = transactionalProducer(`compat-${run}-open`);
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic: output, messages: [{ key: 'd', value: 'late-commit' }] });

    const c = consumer(`compat-${run}-open-rc`);
    const seen: string[] = [];
    await c.connect();
    await c.subscribe({ topic: output, fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => void seen.push(message.value?.toString() ?? '') });
    // The last stable offset stops before the open transaction: the three committed records
    // arrive, the open one does not.
    await expect.poll(() => seen.length, { timeout: 30_000, interval: 200 }).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(seen).not.toContain('late-commit');
    await tx.commit();
    await expect.poll(() => seen, { timeout: 30_000, interval: 200 }).toContain('late-commit');
    await c.disconnect();
  });

  it('fences the older producer when a second one starts with the same transactional id', async () => {
    const id = `compat-${run}-zombie`;
    const zombie = transactionalProducer(id);
    await zombie.connect();
    const zombieTx = await zombie.transaction();
    await zombieTx.send({ topic: output, messages: [{ key: 'z', value: 'zombie' }] });

    // kafkajs sends InitProducerId for the transactional id at the first transaction(), not
    // at connect(): only then is the epoch bumped and the zombie's open transaction aborted.
    const successor = transactionalProducer(id);
    await successor.connect();
    const tx = await successor.transaction();

    const failure = await zombieTx.commit().then(
      () => undefined,
      (error: unknown) => error as { type?: string; name?: string; message?: string },
    );
    expect(failure, 'the zombie commit must be refused').toBeDefined();
    // EndTxn v1 reports the fence as INVALID_PRODUCER_EPOCH (PRODUCER_FENCED needs v2+).
    expect(failure?.type).toBe('INVALID_PRODUCER_EPOCH');

    await tx.send({ topic: output, messages: [{ key: 's', value: 'successor' }] });
    await tx.commit();
    const view = await readUntil(consumer(`compat-${run}-zombie-rc`), output, (s) =>
      s.some((m) => m.value === 'successor'),
    );
    expect(view.map((m) => m.value)).not.toContain('zombie');
  });
});
