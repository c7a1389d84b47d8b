// Everything a Kafka-mode command needs before it reads or writes a record: a reachable broker
// and registry (or one clear line saying which is not), the flow's topics under the prefix,
// every value schema registered, and the partition counts to route records with.
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { SchemaRegistryClient } from '@confluentinc/schemaregistry';
import { loadContracts, type Contracts, type RecordName, type Records } from '../../schemas/contract.js';
import type { TopicSpec } from '../../schemas/topics.js';
import { connectKafka } from './client.js';
import { AvroSerde, connectRegistry } from './serde.js';
import { allTopics, compactWhereNeeded, ensureTopics, partitionCounts, partitionFor, partitionOf, topicName, type TopicSettings } from './topics.js';
import type { OutMessage } from './transactional.js';

export interface KafkaContextOptions {
  brokers: string[];
  registryUrl: string;
  /** Prefix of every topic and group name, e.g. "treesynth.". */
  prefix: string;
  clientId: string;
  topics: TopicSettings;
  connectScheduleMs?: readonly number[];
  log?: (line: string) => void;
  /** Stops waiting for an unreachable broker or registry (SIGTERM while connecting). */
  signal?: AbortSignal;
}

export interface KafkaContext {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly registry: SchemaRegistryClient;
  readonly serde: AvroSerde;
  readonly contracts: Contracts;
  readonly prefix: string;
  /** Topics this process created (missing before). */
  readonly created: readonly string[];
  /** Existing topics this process switched to compaction (made by a version that expired them by time). */
  readonly compacted: readonly string[];
  topic<N extends RecordName>(spec: TopicSpec<N>): string;
  /** A record as a message on its topic: key, partition and wire-format value. */
  message<N extends RecordName>(spec: TopicSpec<N>, record: Records[N]): OutMessage;
  /** A tombstone for `key` on a keyed topic (not the tree changelog, which is partitioned by tree). */
  tombstone<N extends RecordName>(spec: TopicSpec<N>, key: string): OutMessage;
  close(): Promise<void>;
}

export async function openKafkaContext(options: KafkaContextOptions): Promise<KafkaContext> {
  const { kafka, admin } = await connectKafka({
    brokers: options.brokers, clientId: options.clientId,
    ...(options.connectScheduleMs ? { connectScheduleMs: options.connectScheduleMs } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  try {
    const registry = await connectRegistry(options.registryUrl, options.connectScheduleMs, options.signal);
    const contracts = loadContracts();
    const created = await ensureTopics(admin, options.prefix, options.topics);
    const compacted = await compactWhereNeeded(admin, options.prefix, options.topics);
    const topics = allTopics(options.prefix);
    const serde = await AvroSerde.register(registry, contracts, topics.map(({ topic, spec }) => ({ topic, record: spec.record })));
    const counts = await partitionCounts(admin, topics.map((t) => t.topic));
    const topic = <N extends RecordName>(spec: TopicSpec<N>) => topicName(options.prefix, spec);
    return {
      kafka, admin, registry, serde, contracts, prefix: options.prefix, created, compacted, topic,
      message<N extends RecordName>(spec: TopicSpec<N>, record: Records[N]): OutMessage {
        const name = topic(spec);
        return {
          topic: name,
          partition: partitionOf(spec, record, counts.get(name) ?? 1),
          key: spec.key(record),
          value: serde.encode(name, spec.record, record),
          ...(spec.cleanupPolicy === 'compact' ? { compacted: true } : {}),
        };
      },
      tombstone<N extends RecordName>(spec: TopicSpec<N>, key: string): OutMessage {
        const name = topic(spec);
        return { topic: name, partition: partitionFor(key, counts.get(name) ?? 1), key, value: null, ...(spec.cleanupPolicy === 'compact' ? { compacted: true } : {}) };
      },
      close: async () => {
        registry.close();
        await admin.disconnect().catch(() => {});
      },
    };
  } catch (error) {
    await admin.disconnect().catch(() => {});
    throw error;
  }
}

/** Per topic and partition, an offset the topic's log now reaches at least (after an acknowledged send). */
export type WrittenUpTo = Map<string, Map<number, number>>;

/** An idempotent (not transactional) producer for commands that only write: ingest, request-tasks. */
export async function openProducer(context: KafkaContext): Promise<{ send(messages: readonly OutMessage[]): Promise<WrittenUpTo>; close(): Promise<void> }> {
  const producer: Producer = context.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return {
    send: async (messages) => {
      const written: WrittenUpTo = new Map();
      if (messages.length === 0) return written;
      const byTopic = new Map<string, Array<{ key: string; value: Buffer | null; partition: number }>>();
      for (const m of messages) {
        const list = byTopic.get(m.topic) ?? [];
        list.push({ key: m.key, value: m.value, partition: m.partition });
        byTopic.set(m.topic, list);
      }
      const acks = await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })) });
      // The first record of a partition's batch sits at baseOffset: the log now ends past it.
      for (const a of acks) {
        if (a.baseOffset === undefined || Number(a.baseOffset) < 0) continue;
        const byPartition = written.get(a.topicName) ?? new Map<number, number>();
        byPartition.set(a.partition, Math.max(byPartition.get(a.partition) ?? 0, Number(a.baseOffset) + 1));
        written.set(a.topicName, byPartition);
      }
      return written;
    },
    close: async () => {
      await producer.disconnect().catch(() => {});
    },
  };
}
