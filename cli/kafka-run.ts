// Kafka mode of `treesynth run`, and the Kafka-only commands `ingest` and `request-tasks`
// (registered by registerKafkaCommands). Settings are the local mode's; the stages run as
// consumer groups until SIGINT/SIGTERM, which stops them gracefully (exit 0).
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
// Type-only or light imports here: main.ts loads this module for every command, so the
// Kafka client, the stores and the LLM client load only when a Kafka command runs.
import type { OperatorFunction } from 'rxjs';
import type { BatchCommitted } from '../connectors/kafka/transactional.js';
import type { PendingPrompt } from '../llm/model.js';
import type { Outcome } from '../schemas/outcome.js';
import type { GeneratedSample } from '../schemas/contract.js';
import type { LevelShape } from '../processors/sample.js';
import { TaskLevelValues, type TaskLevel } from '../schemas/contract.js';
import type { TopicSettings } from '../connectors/kafka/topics.js';
import type { KafkaLlmConfig } from '../topology/run-kafka.js';
import { DEPLOYED_STAGES, type DeployedStage } from '../topology/treesynth.js';
import { parseBrokers } from '../connectors/kafka/client.js';
import { UsageError } from './errors.js';
import { integer } from './options.js';
import type { RunOptions } from './main.js';

/** Defaults of the topics treesynth creates (as in connectors/kafka/topics.ts). */
const DEFAULT_PARTITIONS = 3;
const DEFAULT_RETENTION_HOURS = 7 * 24;

/** Options `registerKafkaCommands` adds to `run` for Kafka mode. */
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

/**
 * The LLM stages' clients, as local mode builds them (cli/llm-setup.ts); without an endpoint,
 * prompts go to `pendingPath`. Also the validate stage's checks, when this process runs it.
 */
async function setupLlm(options: RunOptions, stages: readonly DeployedStage[], pendingPath: string): Promise<{ config: KafkaLlmConfig; validate?: OperatorFunction<GeneratedSample, Outcome<GeneratedSample>>; usage: () => Record<string, unknown>; close(): Promise<void> }> {
  const { JsonlSink } = await import('../connectors/jsonl-sink.js');
  const { openDecontamination, openLlmClients, openValidation } = await import('./llm-setup.js');
  const { checkSamples } = await import('../processors/check-samples.js');
  const pending = new JsonlSink<PendingPrompt>(pendingPath, { mode: 'append' });
  // Only the LLM stages this process runs need an endpoint; validate needs generate's model for its turns.
  const runs = (s: string) => (stages as readonly string[]).includes(s);
  const wanted = options.llmStages.filter((s) => runs(s) || (s === 'generate' && runs('validate')));
  const clients = await openLlmClients(options, wanted);
  if (!clients.configured && !options.quiet && wanted.length > 0) {
    process.stderr.write(`treesynth: no LLM endpoint configured: ${wanted.join(', ')} run without a model; the prompts they would send go to ${pendingPath}\n`);
  }
  const validation = runs('validate') ? await openValidation(options, clients) : undefined;
  const decontamination = runs('validate') ? await openDecontamination(options) : undefined;
  const validate = checkSamples(decontamination, validation);
  return {
    config: {
      models: clients.models, stages: options.llmStages, maxChars: options.maxChars, concurrency: options.concurrency,
      evolveBreadth: [4, 2, 2], evolveTemperature: 2, minSiblings: 2,
      pending: async (prompt: PendingPrompt) => {
        await mkdir(dirname(pendingPath), { recursive: true });
        await pending.write(prompt);
      },
    },
    ...(validate ? { validate } : {}),
    usage: clients.usage,
    close: async () => {
      await pending.close();
      await clients.close();
    },
  };
}

/**
 * Prometheus metrics on 127.0.0.1:`port`: stage counters from every committed transaction,
 * and consumer lag and LLM usage refreshed every few seconds.
 */
async function startMetrics(port: number, brokers: string[], prefix: string, usage: () => Record<string, unknown>, log: (line: string) => void) {
  const { StageMetrics } = await import('../connectors/metrics.js');
  const { connectKafka } = await import('../connectors/kafka/client.js');
  const { listGroups, readLag, summarise } = await import('../connectors/kafka/lag.js');
  const metrics = new StageMetrics();
  const server = await metrics.serve(port);
  const { admin } = await connectKafka({ brokers, clientId: 'treesynth-metrics' });
  const refresh = async () => {
    try {
      for (const t of summarise(await readLag(admin, await listGroups(admin, prefix)))) metrics.lag.set({ group: t.group, topic: t.topic }, t.lag);
      const byStage = (usage()['byStage'] ?? {}) as Record<string, { requests: number; promptTokens: number; completionTokens: number }>;
      metrics.llmUsage(byStage);
    } catch {
      // A missed reading is not worth stopping the stages for; the next one comes in 5 s.
    }
  };
  const timer = setInterval(() => void refresh(), 5000);
  timer.unref();
  log(`treesynth: metrics on http://127.0.0.1:${server.port}/metrics`);
  return {
    committed: (stage: string, info: BatchCommitted) => metrics.committed(stage, info),
    close: async () => {
      clearInterval(timer);
      await server.close();
      await admin.disconnect().catch(() => {});
    },
  };
}

/** `treesynth run --kafka ...`: runs the stages until SIGINT/SIGTERM. */
export async function runKafka(options: RunOptions): Promise<void> {
  const extra = options as RunOptions & Partial<KafkaTopicOptions>;
  const brokers = brokersOf(options.kafka);
  const registryUrl = registryOf(options.registry);
  const stages = stagesOf(options.stages);
  const { DEFAULT_LEVELS } = await import('../processors/sample.js');
  const { startKafkaRun } = await import('../topology/run-kafka.js');
  const levels: Record<TaskLevel, LevelShape> = {
    function: { ...DEFAULT_LEVELS.function, breadth: options.breadthFunction },
    file: { ...DEFAULT_LEVELS.file, breadth: options.breadthFile },
    multi_file: { ...DEFAULT_LEVELS.multi_file, breadth: options.breadthMultiFile },
  };
  const { openEmbedders } = await import('./llm-setup.js');
  const { labels, files } = openEmbedders(options);
  // Without an endpoint the LLM stages record their prompts, as in local mode: in --out if given.
  const llm = await setupLlm(options, stages, join(options.out ?? join('.treesynth', 'kafka'), `${options.topicPrefix}pending.jsonl`));
  const log = (line: string) => {
    if (!options.quiet) process.stderr.write(`${line}\n`);
  };
  const metrics = extra.metricsPort === undefined ? undefined : await startMetrics(extra.metricsPort, brokers, options.topicPrefix, llm.usage, log);
  try {
    const run = await startKafkaRun({
      brokers, registryUrl, prefix: options.topicPrefix, stages, topics: topicSettings(extra),
      seed: options.seed, maxBytes: options.maxBytes, similarity: options.similarity, nearDuplicateRadius: options.nearDuplicateRadius,
      temperature: options.temperature, topN: options.topN, coverageBoost: options.coverageBoost, levels, levelMix: options.levels,
      targetLanguage: options.targetLanguage, treeKey: options.treeKey, upweights: options.upweight, required: options.require,
      labelEmbedder: labels, codeEmbedder: files, llm: llm.config, evolveEvery: options.evolveEvery,
      ...(llm.validate ? { validate: llm.validate } : {}),
      ...(metrics ? { onCommitted: (stage: DeployedStage, info: BatchCommitted) => metrics.committed(stage, info) } : {}),
      ...(extra.batchRecords ? { maxRecordsPerTransaction: extra.batchRecords } : {}),
      ...(extra.sessionTimeout ? { sessionTimeoutMs: extra.sessionTimeout } : {}),
      // Errors always reach stderr, even with --quiet.
      log: (line) => (/restart|took over|skipped/.test(line) ? process.stderr.write(`${line}\n`) : log(line)),
    });
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) process.exit(130); // a second ^C: leave now; the open transaction is aborted by the broker
      log(`treesynth: ${signal}: stopping (the transaction in flight finishes or aborts)`);
      void run.stop();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await run.done;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    log('treesynth: stopped');
  } finally {
    await metrics?.close();
    await llm.close();
  }
}

export function taskLevel(value: string): TaskLevel {
  const level = value.replace('-', '_') as TaskLevel;
  if (!TaskLevelValues.includes(level)) throw new InvalidArgumentError(`expected one of ${TaskLevelValues.join(', ')}`);
  return level;
}

/**
 * Registers `ingest` and `request-tasks`, and adds the topic settings to `run` (Kafka mode).
 * The one line cli/main.ts needs for Kafka mode's extra commands.
 */
export function registerKafkaCommands(program: Command): void {
  const run = program.commands.find((c) => c.name() === 'run');
  run
    ?.option('--partitions <n>', 'Kafka mode: partitions of the topics treesynth creates (existing topics keep theirs)', integer(1, 10_000), DEFAULT_PARTITIONS)
    .option('--retention-hours <n>', 'Kafka mode: retention of the topics treesynth creates (-1: forever; tree.nodes is compacted and kept)', integer(-1), DEFAULT_RETENTION_HOURS)
    .option('--batch-records <n>', 'Kafka mode: input records per transaction at most (default 500; LLM stages with a model: 4 x --concurrency)', integer(1, 100_000))
    .option('--metrics-port <port>', 'Kafka mode: serve Prometheus metrics on 127.0.0.1:<port>/metrics (0 picks a free port)', integer(0, 65535))
    .option('--session-timeout <ms>', 'Kafka mode: consumer-group session timeout; a killed process\'s partitions move on after this long', integer(6000, 300_000), 10_000);
  const kafkaOptions = (cmd: Command) =>
    cmd
      .option('--kafka <brokers>', 'Kafka brokers, e.g. 127.0.0.1:9092 (default: KAFKA_BROKERS)')
      .option('--registry <url>', 'Confluent-compatible schema registry URL (default: SCHEMA_REGISTRY_URL)')
      .option('--topic-prefix <prefix>', 'prefix of every topic name', 'treesynth.')
      .option('--partitions <n>', 'partitions of the topics treesynth creates', integer(1, 10_000), DEFAULT_PARTITIONS)
      .option('--retention-hours <n>', 'retention of the topics treesynth creates (-1: forever)', integer(-1), DEFAULT_RETENTION_HOURS)
      .option('-q, --quiet', 'print nothing but errors', false);

  kafkaOptions(
    program
      .command('ingest')
      .description('Feed a directory, git tree or JSONL corpus into the code.files topic; unchanged files are not sent again. With --watch, keep sending new and changed files until ^C.')
      .argument('<input>', 'a directory of source code, a git work tree (with --git-ref), or a JSONL corpus (.jsonl, .jsonl.gz)'),
  )
    .option('--git-ref <ref>', 'send the files of this commit or branch instead of the work tree')
    .option('--watch', 'keep watching the input and send new and changed files as they appear', false)
    .option('--interval <ms>', 'with --watch: rescan at least this often', integer(100), 2000)
    .option('--max-read-bytes <n>', 'files larger than this are not read (a too-large dead letter instead)', integer(1), 4 * 1024 * 1024)
    .option('--state <dir>', 'where ingest remembers the content hash sent for each path', '.treesynth/ingest')
    .option('--resend', 'send every file again, even unchanged ones', false)
    .action(async (input: string, opts: Record<string, unknown>) => {
      const { ingest } = await import('../topology/ingest.js');
      await ingest(input, opts as unknown as Parameters<typeof ingest>[1]);
    });

  kafkaOptions(
    program
      .command('request-tasks')
      .description('Ask the sample stage for synthesis tasks: writes TaskRequest records to the tasks.requests topic.'),
  )
    .requiredOption('--count <n>', 'tasks to request', integer(1, 10_000_000))
    .option('--tree-key <keys>', 'tree(s) to sample from, comma-separated (requests go round-robin)', 'all')
    .addOption(new Option('--level <level>', 'task level (default: the sampler draws it from its mix)').argParser(taskLevel))
    .option('--start-index <n>', 'index of the first request (default: after the requests already in the topic); with the seed it fixes a task', integer(0))
    .action(async (opts: Record<string, unknown>) => {
      const { requestTasks } = await import('../topology/ingest.js');
      await requestTasks(opts as unknown as Parameters<typeof requestTasks>[0]);
    });

  kafkaOptions(
    program
      .command('request-evolution')
      .description('Evolve the feature tree on demand: writes EvolutionRequest records to the tree.evolve topic for the evolve stage.'),
  )
    .option('--rounds <n>', 'evolution rounds per tree', integer(1, 1000), 1)
    .option('--tree-key <keys>', 'tree(s) to evolve, comma-separated', 'all')
    .action(async (opts: Record<string, unknown>) => {
      const { requestEvolution } = await import('../topology/ingest.js');
      await requestEvolution(opts as unknown as Parameters<typeof requestEvolution>[0]);
    });
}
