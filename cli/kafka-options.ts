// What the Kafka commands share: where the brokers and the registry are, the topics' settings,
// the stages a process runs, and the options that say so.
import { InvalidArgumentError, type Command } from 'commander';
// Light imports only: main.ts loads this module for every command.
import { parseBrokers } from '../connectors/kafka/brokers.js';
import type { TopicSettings } from '../connectors/kafka/topics.js';
import { TaskLevelValues, type TaskLevel } from '../schemas/contract.js';
import { DEPLOYED_STAGES, type DeployedStage } from '../topology/treesynth.js';
import { UsageError } from './errors.js';
import { integer } from './options.js';

/** Defaults of the topics treesynth creates (as in connectors/kafka/topics.ts). */
export const DEFAULT_PARTITIONS = 3;
export const DEFAULT_RETENTION_HOURS = 7 * 24;

/** The topic options of the Kafka commands. */
export interface KafkaTopicOptions {
  partitions: number;
  retentionHours: number;
  /** run only: records per transaction, consumer-group session timeout. */
  batchRecords?: number;
  sessionTimeout?: number;
  /** run only: Prometheus metrics port. */
  metricsPort?: number;
}

export function brokersOf(value: string | undefined): string[] {
  const text = value ?? process.env['KAFKA_BROKERS'];
  if (!text) throw new UsageError('--kafka <brokers> is required (or set KAFKA_BROKERS), e.g. 127.0.0.1:9092');
  try {
    return parseBrokers(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function registryOf(value: string | undefined): string {
  const url = value ?? process.env['SCHEMA_REGISTRY_URL'];
  if (!url) throw new UsageError('--registry <url> is required (or set SCHEMA_REGISTRY_URL), e.g. http://127.0.0.1:8081/apis/ccompat/v7');
  return url;
}

export function topicSettings(options: Partial<KafkaTopicOptions>): TopicSettings {
  return {
    partitions: options.partitions ?? DEFAULT_PARTITIONS,
    retentionMs: (options.retentionHours ?? DEFAULT_RETENTION_HOURS) < 0 ? -1 : (options.retentionHours ?? DEFAULT_RETENTION_HOURS) * 3600_000,
  };
}

export function stagesOf(list: string[] | undefined): DeployedStage[] {
  if (!list || list.length === 0) return [...DEPLOYED_STAGES];
  for (const s of list) if (!(DEPLOYED_STAGES as readonly string[]).includes(s)) throw new UsageError(`unknown stage "${s}" in --stages (expected some of ${DEPLOYED_STAGES.join(', ')})`);
  return [...new Set(list)] as DeployedStage[];
}

export function taskLevel(value: string): TaskLevel {
  const level = value.replace('-', '_') as TaskLevel;
  if (!TaskLevelValues.includes(level)) throw new InvalidArgumentError(`expected one of ${TaskLevelValues.join(', ')}`);
  return level;
}

/** The options every Kafka command shares (ingest, request-tasks, request-evolution). */
export function addKafkaOptions(cmd: Command): Command {
  return cmd
    .option('--kafka <brokers>', 'Kafka brokers, e.g. 127.0.0.1:9092 (default: KAFKA_BROKERS)')
    .option('--registry <url>', 'Confluent-compatible schema registry URL (default: SCHEMA_REGISTRY_URL)')
    .option('--topic-prefix <prefix>', 'prefix of every topic name', 'treesynth.')
    .option('--partitions <n>', 'partitions of the topics treesynth creates', integer(1, 10_000), DEFAULT_PARTITIONS)
    .option('--retention-hours <n>', 'retention of the topics treesynth creates (-1: forever)', integer(-1), DEFAULT_RETENTION_HOURS)
    .option('-q, --quiet', 'print nothing but errors', false);
}

/** What `addKafkaOptions` parses. */
export interface KafkaCommandOptions {
  kafka?: string;
  registry?: string;
  topicPrefix: string;
  partitions: number;
  retentionHours: number;
  quiet: boolean;
}

/** A comma-separated list of tree keys, at least one. */
export function treeKeys(value: string): string {
  if (value.split(',').map((k) => k.trim()).filter(Boolean).length === 0) throw new InvalidArgumentError('needs at least one tree key, e.g. all');
  return value;
}
