// `treesynth export`: samples into training formats.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { brokersOf, registryOf } from '../kafka-options.js';
import { JsonlSink } from '../../connectors/jsonl-sink.js';
import { TRAINING_FORMATS, toTrainingRecord, type TrainingFormat } from '../../connectors/training-formats.js';
import { loadContracts, SchemaViolation, type GeneratedSample } from '../../schemas/contract.js';

export interface ExportCounts {
  read: number;
  written: number;
  skipped: number;
  invalid: number;
}

export interface ExportOptions {
  format: TrainingFormat;
  includeTests: boolean;
  system?: string;
  /** Only samples whose validation passed. */
  validatedOnly: boolean;
  /** Each record carries the sample's lineage (default true). */
  lineage?: boolean;
}

/** Exports samples from a samples.jsonl file; lines that are not samples are counted and reported, not fatal. */
export async function exportFile(input: string, out: string, options: ExportOptions, warn: (line: string) => void): Promise<ExportCounts> {
  const contract = loadContracts().GeneratedSample;
  const sink = new JsonlSink<Record<string, unknown>>(out, { mode: 'overwrite' });
  const counts: ExportCounts = { read: 0, written: 0, skipped: 0, invalid: 0 };
  const lines = createInterface({ input: createReadStream(input, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo += 1;
    if (line.trim() === '') continue;
    counts.read += 1;
    let sample: GeneratedSample;
    try {
      sample = contract.check(JSON.parse(line));
    } catch (error) {
      counts.invalid += 1;
      const why = error instanceof SchemaViolation ? error.message : 'not valid JSON';
      warn(`${input}:${lineNo}: skipped: ${why}`);
      continue;
    }
    if (options.validatedOnly && !sample.validation?.passed) {
      counts.skipped += 1;
      continue;
    }
    await sink.write(toTrainingRecord(sample, options.format, { includeTests: options.includeTests, lineage: options.lineage !== false, ...(options.system ? { system: options.system } : {}) }));
    counts.written += 1;
  }
  await sink.close();
  return counts;
}

/**
 * Exports the samples topic: from its beginning to the end offsets of now, or, with `follow`,
 * on as samples arrive until SIGINT/SIGTERM. Records that do not decode are reported, not fatal.
 */
export async function exportKafka(
  settings: { brokers: string; registry: string; prefix: string; follow: boolean },
  out: string,
  options: ExportOptions,
  warn: (line: string) => void,
  progress: (counts: ExportCounts) => void = () => {},
): Promise<ExportCounts> {
  const { openKafkaContext } = await import('../../connectors/kafka/context.js');
  const { readTopic } = await import('../../connectors/kafka/reader.js');
  const { TOPICS } = await import('../../schemas/topics.js');
  const { DEFAULT_PARTITIONS, DEFAULT_RETENTION_MS } = await import('../../connectors/kafka/topics.js');
  const context = await openKafkaContext({
    brokers: brokersOf(settings.brokers), registryUrl: settings.registry, prefix: settings.prefix,
    clientId: 'treesynth-export', topics: { partitions: DEFAULT_PARTITIONS, retentionMs: DEFAULT_RETENTION_MS },
  });
  const sink = new JsonlSink<Record<string, unknown>>(out, { mode: 'overwrite' });
  const counts: ExportCounts = { read: 0, written: 0, skipped: 0, invalid: 0 };
  const topic = context.topic(TOPICS.samples);
  try {
    const reader = await readTopic(context.kafka, context.admin, topic, {
      groupPrefix: `${settings.prefix}export`,
      follow: settings.follow,
      onRecord: async (raw) => {
        counts.read += 1;
        const decoded = await context.serde.decode(topic, 'GeneratedSample', raw.value);
        if (!decoded.ok) {
          counts.invalid += 1;
          warn(`${topic}[${raw.partition}]@${raw.offset}: skipped: ${decoded.reason}: ${decoded.detail}`);
          return;
        }
        if (options.validatedOnly && !decoded.value.validation?.passed) {
          counts.skipped += 1;
          return;
        }
        await sink.write(toTrainingRecord(decoded.value, options.format, { includeTests: options.includeTests, lineage: options.lineage !== false, ...(options.system ? { system: options.system } : {}) }));
        counts.written += 1;
        progress(counts);
      },
    });
    if (settings.follow) {
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await reader.stop();
    }
  } finally {
    await sink.close();
    await context.close();
  }
  return counts;
}

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('Write generated samples in a training format: chat messages or instruction/output, from a samples file or the samples topic.')
    .option('-i, --input <samples.jsonl>', 'samples written by `treesynth run` or `treesynth validate`')
    .requiredOption('-o, --out <file>', 'output JSONL file')
    .option('--kafka <brokers>', 'read the samples topic instead of a file')
    .option('--registry <url>', 'schema registry of the topic (default: SCHEMA_REGISTRY_URL)')
    .option('--topic-prefix <prefix>', 'prefix of the topics', 'treesynth.')
    .option('--follow', 'with --kafka: keep exporting samples as they arrive, until Ctrl-C', false)
    .addOption(new Option('--format <format>', 'chat: {"messages":[{role,content}]}; instruction: {"instruction","input","output"}').choices([...TRAINING_FORMATS]).default('chat'))
    .option('--include-tests', 'put the test files in the answer too', false)
    .option('--system <text>', 'system message for the chat format')
    .option('--validated-only', 'only samples whose validation passed', false)
    .option('--no-lineage', 'leave out each record\'s lineage (source files, tree node ids, model and prompt versions)')
    .action(async (options: { input?: string; out: string; format: TrainingFormat; includeTests: boolean; system?: string; validatedOnly: boolean; lineage: boolean; kafka?: string; registry?: string; topicPrefix: string; follow: boolean }) => {
      const warn = (l: string) => process.stderr.write(`treesynth: ${l}\n`);
      if (options.kafka) {
        const registry = registryOf(options.registry);
        const counts = await exportKafka({ brokers: options.kafka, registry, prefix: options.topicPrefix, follow: options.follow }, options.out, options, warn);
        process.stdout.write(`${counts.written} samples written to ${options.out} as ${options.format} (${counts.read} read, ${counts.skipped} not validated, ${counts.invalid} undecodable)\n`);
        return;
      }
      if (!options.input) throw new UsageError("export needs --input <samples.jsonl> or --kafka <brokers>");
      const info = await stat(options.input).catch(() => null);
      if (!info?.isFile()) throw new UsageError(`input not found: ${options.input}`);
      const counts = await exportFile(options.input, options.out, options, warn);
      process.stdout.write(`${counts.written} samples written to ${options.out} as ${options.format} (${counts.read} read, ${counts.skipped} not validated, ${counts.invalid} invalid)\n`);
    });
}
