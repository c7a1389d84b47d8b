// Topics under a deployment prefix, created by treesynth when missing with explicit settings
// (the broker has auto-creation off): partitions, retention, and compaction for the tree
// changelog. Plus the partitioner that keeps one tree's changes in one partition.
import kafkajs, { type Admin } from 'kafkajs';
import type { RecordName } from '../../schemas/contract.js';
import { TOPICS, type TopicSpec } from '../../schemas/topics.js';
import { whileRetriable } from './retriable.js';

export const DEFAULT_PARTITIONS = 3;
/** Seven days, Kafka's own default, written explicitly so every topic says what it keeps. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** Source files up to the sources' 4 MiB read limit fit in one record. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export interface TopicSettings {
  partitions: number;
  /** retention.ms of the delete-policy topics; -1 keeps records forever. */
  retentionMs: number;
}

export const topicName = <N extends RecordName>(prefix: string, spec: TopicSpec<N>): string => `${prefix}${spec.name}`;

/** Every topic of the flow, full names. */
export function allTopics(prefix: string): Array<{ topic: string; spec: TopicSpec<RecordName> }> {
  return Object.values(TOPICS).map((spec) => ({ topic: topicName(prefix, spec as TopicSpec<RecordName>), spec: spec as TopicSpec<RecordName> }));
}

function configEntries(spec: TopicSpec<RecordName>, settings: TopicSettings): Array<{ name: string; value: string }> {
  const entries = [{ name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) }];
  if (spec.cleanupPolicy === 'compact') {
    // The changelog keeps the latest state of every node for as long as the tree lives.
    entries.push({ name: 'cleanup.policy', value: 'compact' }, { name: 'retention.ms', value: '-1' });
  } else {
    entries.push({ name: 'cleanup.policy', value: 'delete' }, { name: 'retention.ms', value: String(settings.retentionMs) });
  }
  return entries;
}

/**
 * Creates the missing topics of the flow under `prefix`; existing ones are left as they are
 * (their partition count included: changing it would move keys between partitions).
 * Returns the names created.
 */
export async function ensureTopics(admin: Admin, prefix: string, settings: TopicSettings): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = allTopics(prefix).filter(({ topic }) => !existing.has(topic));
  if (missing.length === 0) return [];
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map(({ topic, spec }) => ({
        topic, numPartitions: settings.partitions, replicationFactor: 1, configEntries: configEntries(spec, settings),
      })),
    });
  } catch (error) {
    // Another process created some of them meanwhile, or (a busy broker) the wait for leaders saw
    // UNKNOWN_TOPIC_OR_PARTITION before the topics reached its metadata: fine, as long as they
    // exist within a few seconds (partitionCounts then waits for their leaders).
    const retriable = (error as { retriable?: boolean }).retriable === true;
    for (let attempt = 0; ; attempt++) {
      const now = new Set(await admin.listTopics());
      if (missing.every(({ topic }) => now.has(topic))) break;
      if (!retriable || attempt >= 60) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return missing.map(({ topic }) => topic);
}

/** Kafka's DescribeConfigs source for a config set on the topic itself (not a broker default). */
const DYNAMIC_TOPIC_CONFIG = 1;
// Node's ESM loader does not find this one among kafkajs's CommonJS named exports.
const { ConfigResourceTypes } = kafkajs;

/**
 * Existing topics of the flow that should be compacted but are not (made by an earlier version:
 * code.files expired by time before changed and deleted files were retracted, which needs one
 * live record per path) get the flow's compaction settings. Only towards compaction: a compacted
 * topic is never switched to expiry, which would drop state. AlterConfigs replaces a topic's
 * whole configuration, so the settings the topic already had are sent along. Returns the names changed.
 */
export async function compactWhereNeeded(admin: Admin, prefix: string, settings: TopicSettings): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const wanted = allTopics(prefix).filter(({ topic, spec }) => spec.cleanupPolicy === 'compact' && existing.has(topic));
  if (wanted.length === 0) return [];
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: wanted.map(({ topic }) => ({ type: ConfigResourceTypes.TOPIC, name: topic })),
  });
  const changed: string[] = [];
  for (const resource of described.resources) {
    const policy = resource.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? 'delete';
    if (policy.split(',').map((p) => p.trim()).includes('compact')) continue;
    const spec = wanted.find(({ topic }) => topic === resource.resourceName)!.spec;
    const configs = new Map(
      resource.configEntries
        .filter((e) => e.configSource === DYNAMIC_TOPIC_CONFIG && !e.isSensitive && e.configValue !== null)
        .map((e) => [e.configName, e.configValue]),
    );
    for (const { name, value } of configEntries(spec, settings)) if (name !== 'max.message.bytes' || !configs.has(name)) configs.set(name, value);
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: resource.resourceName, configEntries: [...configs].map(([name, value]) => ({ name, value })) }],
    });
    changed.push(resource.resourceName);
  }
  return changed;
}

/**
 * Partition count of each topic, from the broker's metadata. Topics created a moment ago may
 * not be in it yet: retried (whileRetriable).
 */
export async function partitionCounts(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const meta = await whileRetriable(() => admin.fetchTopicMetadata({ topics: [...topics] }));
  return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
}

/** Kafka's murmur2 (as in the Java client's Utils.murmur2), so partitions match stock producers. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = seed ^ length;
  const length4 = Math.floor(length / 4);
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) + ((data[i4 + 1]! & 0xff) << 8) + ((data[i4 + 2]! & 0xff) << 16) + ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length % 4;
  const tail = length & ~3;
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition the Java default partitioner picks for `key`. */
export function partitionFor(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

/**
 * The partition of a record on its topic: the tree changelog by tree key, so one tree's
 * changes stay in one partition and in order; every other topic by its record key.
 */
export function partitionOf<N extends RecordName>(spec: TopicSpec<N>, record: Parameters<TopicSpec<N>['key']>[0], partitions: number): number {
  const tree = spec.name === TOPICS.treeChanges.name ? (record as { treeKey: string }).treeKey : spec.key(record);
  return partitionFor(tree, partitions);
}
