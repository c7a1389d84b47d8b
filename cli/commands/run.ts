// `treesynth run`: the pipeline over a directory, git tree or JSONL corpus (local mode), or as
// consumer groups on Kafka with --kafka until SIGINT/SIGTERM, which stops them gracefully.
// Both modes take the same settings (cli/run-options.ts → topology/settings.ts).
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { JsonlSink } from '../../connectors/jsonl-sink.js';
import { INPUT_CUT_SHORT_REASONS } from '../../connectors/jsonl-source.js';
import { OutDirError, openOutDir } from '../../connectors/out-dir.js';
import type { BatchCommitted } from '../../connectors/kafka/transactional.js';
import { DEFAULT_TIMEOUT_MS } from '../../llm/config.js';
import type { PendingPrompt } from '../../llm/model.js';
import { LANGUAGES } from '../../schemas/languages.js';
import type { NestedNode } from '../../stores/tree-store.js';
import type { StageResources } from '../../topology/build.js';
import { DEFAULT_MIN_MUTATION_SCORE } from '../../quality/mutation.js';
import { runLocal, type RunSummary } from '../../topology/run-local.js';
import { DEFAULT_LEVEL_MIX, DEFAULT_LEVELS, DEFAULT_SETTINGS, DEFAULT_STUDENT, LLM_STAGES, MERGE_SIMILARITY } from '../../topology/settings.js';
import type { DeployedStage } from '../../topology/treesynth.js';
import { countInput } from '../count-input.js';
import { UsageError } from '../errors.js';
import { DEFAULT_PARTITIONS, DEFAULT_RETENTION_HOURS, brokersOf, registryOf, stagesOf, topicSettings } from '../kafka-options.js';
import { DEFAULT_SEMANTIC_SIMILARITY } from '../../quality/contamination.js';
import { localModelForRun } from '../local-model.js';
import { endpointConfigured, openDecontamination, openEmbedders, openLlmClients, openStudent, openValidation, type OpenedEmbedders } from '../llm-setup.js';
import { breadth, bytes, choice, decimal, featurePath, integer, levelMix, upweight } from '../options.js';
import { createProgress } from '../progress.js';
import { renderTree } from '../render-tree.js';
import { defaultWindow, llmStages, samplingPreset, settingsFrom, temperatures, type RunOptions } from '../run-options.js';

/** Exit status of a run stopped by a signal, as a shell reports one killed by it. */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Local mode: runLocal writes into a staging folder beside --out, moved into place only when
 * the run completes. A first SIGINT/SIGTERM lets the files in flight settle and keeps what was
 * done as the partial folder; a second stops at once. `partial` is that folder, when left.
 */
async function runOnFiles(options: RunOptions): Promise<{ summary: RunSummary; partial: string | null; exitCode: number }> {
  const input = resolve(options.input);
  const info = await stat(input).catch(() => null);
  if (!info) throw new UsageError(`input not found: ${options.input}`);
  if (options.gitRef && !info.isDirectory()) throw new UsageError(`--git-ref needs a git work tree as --input, not a file: ${options.input}`);
  const staged = await openOutDir(options.out, { log: (line) => process.stderr.write(`${line}\n`) }).catch((error: unknown) => {
    throw error instanceof OutDirError ? new UsageError(error.message) : error;
  });
  const untouched = `the outputs in ${options.out} are untouched`;
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      process.stderr.write(`treesynth: ${signal}: stopping; what is in flight finishes, then what was done is kept apart from ${options.out} (${signal} again stops at once)\n`);
      stop.abort(signal);
      return;
    }
    const partial = staged.abandon(`stopped at once by a second ${signal}`);
    process.stderr.write(`treesynth: stopped at once; ${untouched}${partial ? `; this run's partial outputs are in ${partial}` : ''}\n`);
    process.exit(SIGNAL_EXIT[signal] ?? 1);
  };
  // A crash outside the run's promise (a throw in a callback) is said the same way, in one line.
  const onCrash = (error: unknown) => {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    const partial = staged.abandon(`crashed: ${message}`);
    process.stderr.write(`treesynth: ${message}; ${untouched}${partial ? `; this run's partial outputs are in ${partial}` : ''}\n`);
    if (process.env['TREESYNTH_DEBUG']) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
    process.exit(1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  try {
    const summary = await runStaged(options, input, info.isDirectory(), staged.staging, stop.signal);
    if (summary.interrupted !== null) {
      const exitCode = SIGNAL_EXIT[stop.signal.reason as NodeJS.Signals] ?? 1;
      return { summary, partial: staged.abandon(`interrupted (${summary.interrupted})`), exitCode };
    }
    staged.commit();
    return { summary, partial: null, exitCode: 0 };
  } catch (error) {
    const partial = staged.abandon(error instanceof Error ? error.message : String(error));
    if (partial === null) throw error;
    const message = `${error instanceof Error ? error.message : String(error)}; ${untouched}; this run's partial outputs are in ${partial}`;
    throw error instanceof UsageError ? new UsageError(message) : new Error(message);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  }
}

/** Whether a model names the features (extract among the LLM stages, with an endpoint): the same answer in both modes. */
function labelsFromModel(options: RunOptions): boolean {
  return options.llmStages.includes('extract') && endpointConfigured({ ...options, temperature: undefined, stageModels: { extract: options.extractModel } }, 'extract');
}

/** With no endpoint configured, the run starts the tiny local model and runs on it (cli/local-model.ts). */
async function runStaged(options: RunOptions, input: string, isDirectory: boolean, out: string, signal: AbortSignal): Promise<RunSummary> {
  const local = await localModelForRun(options, (line) => process.stderr.write(`${line}\n`));
  if ('reason' in local) return runStagedOn(options, input, isDirectory, out, signal, local.reason);
  try {
    return await runStagedOn(local.options, input, isDirectory, out, signal, null);
  } finally {
    await local.close();
  }
}

async function runStagedOn(options: RunOptions, input: string, isDirectory: boolean, out: string, signal: AbortSignal, noLocalModel: string | null): Promise<RunSummary> {
  const { labels, files, samples, similarity } = await openEmbedders(options, { staticLabelsOnly: !labelsFromModel(options) });
  const clients = await openLlmClients(options, options.llmStages);
  if (!clients.configured && !options.quiet && options.llmStages.length > 0) {
    process.stderr.write(
      `treesynth: no LLM endpoint configured (set OPENAI_BASE_URL or --llm-base-url; --model too when it serves several): running the stages that need no model; the prompts it would send go to ${join(options.out, 'pending.jsonl')}${noLocalModel ? ` (no local model: ${noLocalModel})` : ''}\n`,
    );
  }
  const validation = await openValidation(options, clients);
  const decontamination = await openDecontamination(options, samples);
  const student = await openStudent(options, validation);
  const tty = Boolean(process.stderr.isTTY) && !process.env['CI'];
  const total = tty ? await countInput(input, isDirectory && !options.gitRef, options.maxFiles) : null;
  const progress = createProgress({ total: total?.total ?? null, unit: total?.unit ?? 'files', tty, quiet: options.quiet });
  let summary: RunSummary;
  try {
    summary = await runLocal({
      input, out, outputDirs: [options.out], signal, maxDecompressedBytes: options.maxDecompressed, gitRef: options.gitRef, settings: { ...settingsFrom(options), similarity }, tasks: options.tasks, maxFiles: options.maxFiles,
      window: options.window ?? defaultWindow(options.concurrency), ...(options.staticWorkers !== undefined ? { staticWorkers: options.staticWorkers } : {}), labelEmbedder: labels, codeEmbedder: files, sampleEmbedder: samples.embedder, onProgress: (p) => progress.update(p),
      llm: { models: clients.models, usage: clients.usage, ...(clients.endpoint ? { endpoint: clients.endpoint } : {}) },
      ...(validation ? { validation } : {}), ...(decontamination ? { decontamination } : {}), ...(student ? { student } : {}),
    });
  } finally {
    progress.stop();
    await clients.close();
    await student?.close();
  }
  await writeFile(join(out, 'tree.txt'), renderTree(JSON.parse(await readFile(join(out, 'tree.json'), 'utf8')) as NestedNode, { width: 8, depth: 2 }));
  return summary;
}

/**
 * The LLM stages' clients, as local mode builds them (cli/llm-setup.ts); without an endpoint,
 * prompts go to `pendingPath`. Also the validate stage's checks, when this process runs it.
 */
async function setupLlm(options: RunOptions, stages: readonly DeployedStage[], pendingPath: string, samples: OpenedEmbedders['samples']): Promise<{ resources: Pick<StageResources, 'models' | 'pending' | 'validation' | 'decontamination' | 'student'>; usage: () => Record<string, unknown>; close(): Promise<void> }> {
  const pending = new JsonlSink<PendingPrompt>(pendingPath, { mode: 'append' });
  let folder: Promise<unknown> | null = null;
  // Only the LLM stages this process runs need an endpoint; validate needs generate's model for its turns.
  const runs = (s: string) => (stages as readonly string[]).includes(s);
  const wanted = options.llmStages.filter((s) => runs(s) || (s === 'generate' && (runs('validate') || (runs('student') && options.student !== undefined))));
  const clients = await openLlmClients(options, wanted);
  if (!clients.configured && !options.quiet && wanted.length > 0) {
    process.stderr.write(`treesynth: no LLM endpoint configured: ${wanted.join(', ')} run without a model; the prompts they would send go to ${pendingPath}\n`);
  }
  const validation = runs('validate') || (runs('student') && options.student) ? await openValidation(options, clients) : undefined;
  const decontamination = runs('validate') ? await openDecontamination(options, samples) : undefined;
  const student = runs('student') ? await openStudent(options, validation) : undefined;
  return {
    resources: {
      models: clients.models,
      pending: async (prompt: PendingPrompt) => {
        await (folder ??= mkdir(dirname(pendingPath), { recursive: true }));
        await pending.write(prompt);
      },
      ...(validation ? { validation } : {}),
      ...(decontamination ? { decontamination } : {}),
      ...(student ? { student } : {}),
    },
    usage: clients.usage,
    close: async () => {
      await pending.close();
      await clients.close();
      await student?.close();
    },
  };
}

/**
 * Prometheus metrics on 127.0.0.1:`port`: stage counters from every committed transaction,
 * and consumer lag and LLM usage refreshed every few seconds.
 */
async function startMetrics(port: number, brokers: string[], prefix: string, usage: () => Record<string, unknown>, log: (line: string) => void, signal: AbortSignal) {
  const { StageMetrics } = await import('../../connectors/metrics.js');
  const { connectKafka } = await import('../../connectors/kafka/client.js');
  const { listGroups, readLag, summarise } = await import('../../connectors/kafka/lag.js');
  const metrics = new StageMetrics();
  const server = await metrics.serve(port);
  const { admin } = await connectKafka({ brokers, clientId: 'treesynth-metrics', signal });
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
    waiting: (stage: string, requests: number) => metrics.waiting.set({ stage }, requests),
    close: async () => {
      clearInterval(timer);
      await server.close();
      await admin.disconnect().catch(() => {});
    },
  };
}

/** `treesynth run --kafka ...`: runs the stages until SIGINT/SIGTERM. */
export async function runKafka(options: RunOptions): Promise<void> {
  // Signals are handled from the start: SIGTERM ends the process within a few seconds in every
  // state (connecting, running, restarting), and a second ^C at once.
  const stopping = new AbortController();
  let stop: (() => Promise<void>) | null = null;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) process.exit(130); // a second ^C: leave now; the open transaction is aborted by the broker
    if (!options.quiet) process.stderr.write(`treesynth: ${signal}: stopping (a batch still in flight after a short grace is abandoned: its transaction aborts)\n`);
    stopping.abort();
    void stop?.();
    // Whatever the broker does, the process ends: the broker aborts a transaction left open.
    setTimeout(() => {
      process.stderr.write('treesynth: did not stop within 5 s; leaving anyway (the broker aborts any open transaction)\n');
      process.exit(1);
    }, 5_000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runKafkaUntilStopped(options, stopping.signal, (s) => (stop = s));
  } catch (error) {
    if (!stopping.signal.aborted) throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!options.quiet) process.stderr.write('treesynth: stopped\n');
  // Clients given up while the broker did not answer may hold the event loop: leave anyway.
  setTimeout(() => process.exit(), 1_000).unref();
}

async function runKafkaUntilStopped(options: RunOptions, signal: AbortSignal, onStart: (stop: () => Promise<void>) => void): Promise<void> {
  const extra = options;
  const brokers = brokersOf(options.kafka);
  const registryUrl = registryOf(options.registry);
  const stages = stagesOf(options.stages);
  const { startKafkaRun } = await import('../../topology/run-kafka.js');
  const { labels, files, samples, similarity } = await openEmbedders(options, { staticLabelsOnly: !labelsFromModel(options) });
  // Without an endpoint the LLM stages record their prompts, as in local mode: in --out if given.
  const llm = await setupLlm(options, stages, join(options.out ?? join('.treesynth', 'kafka'), `${options.topicPrefix}pending.jsonl`), samples);
  const log = (line: string) => {
    if (!options.quiet) process.stderr.write(`${line}\n`);
  };
  const metrics = extra.metricsPort === undefined ? undefined : await startMetrics(extra.metricsPort, brokers, options.topicPrefix, llm.usage, log, signal);
  try {
    const run = await startKafkaRun({
      brokers, registryUrl, prefix: options.topicPrefix, stages, topics: topicSettings(extra), ...(options.staticWorkers !== undefined ? { staticWorkers: options.staticWorkers } : {}),
      settings: { ...settingsFrom(options), similarity }, resources: { labelEmbedder: labels, codeEmbedder: files, sampleEmbedder: samples.embedder, ...llm.resources },
      ...(metrics ? { onCommitted: (stage: DeployedStage, info: BatchCommitted) => metrics.committed(stage, info) } : {}),
      ...(extra.batchRecords ? { maxRecordsPerTransaction: extra.batchRecords } : {}),
      ...(extra.sessionTimeout ? { sessionTimeoutMs: extra.sessionTimeout } : {}),
      ...(extra.tasksPerFiles ? { tasksPerFile: extra.tasksPerFiles } : {}),
      ...(extra.requestWait !== undefined ? { requestWaitMs: extra.requestWait * 1000 } : {}),
      ...(metrics ? { onWaiting: (stage: DeployedStage, requests: number) => metrics.waiting(stage, requests) } : {}),
      signal,
      // Errors always reach stderr, even with --quiet.
      log: (line) => (/restart|took over|skipped/.test(line) ? process.stderr.write(`${line}\n`) : log(line)),
    });
    onStart(() => run.stop());
    if (signal.aborted) await run.stop();
    await run.done;
  } finally {
    await metrics?.close();
    await llm.close();
  }
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('Run the pipeline locally: a directory, git tree or JSONL corpus in, tree.json, tasks.jsonl, rejected.jsonl and summary.json out.')
    .option('-i, --input <path>', 'a directory of source code, a git work tree (with --git-ref), or a JSONL corpus (one {"path","content","language"} per line, .jsonl or .jsonl.gz)')
    .option('-o, --out <dir>', 'output directory (created if missing)')
    .option('--kafka <brokers>', 'Kafka mode: run the stages as consumer groups on these brokers (e.g. 127.0.0.1:9092) instead of over --input')
    .option('--registry <url>', 'Kafka mode: Confluent-compatible schema registry URL (default: SCHEMA_REGISTRY_URL)')
    .option('--stages <list>', 'Kafka mode: the stages this process runs (default all): filter, extract, canonicalize, evolve, sample, generate, validate, student', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--topic-prefix <prefix>', 'Kafka mode: prefix of every topic and consumer group name', 'treesynth.')
    .option('--git-ref <ref>', 'read the files of this commit or branch of the git repository at --input instead of its work tree')
    .option('--seed <n>', 'random seed: the same seed and corpus give the same tasks', integer(0, 2 ** 32 - 1), DEFAULT_SETTINGS.seed)
    .option('--tasks <n>', 'synthesis tasks to sample from the tree', integer(0), 100)
    .option('--max-files <n>', 'stop after reading this many files', integer(1))
    .option('--max-decompressed <size>', 'most bytes a .jsonl.gz input may inflate to; past it the rest is rejected as a likely gzip bomb (default: 100 times its compressed size, at least 64 MiB)', bytes)
    .option('--max-bytes <size>', 'reject files larger than this', bytes, 1024 * 1024)
    .option('--similarity <x>', `cosine similarity at which a label merges into an existing sibling (default: ${MERGE_SIMILARITY.minilm} with minilm, ${MERGE_SIMILARITY.lexical} with lexical)`, decimal(0, 1, true))
    .option('--near-duplicate-radius <x>', 'cosine distance within which a file is a near-duplicate of an accepted one (0 turns the check off)', decimal(0, 1), 0.05)
    .option('--sample-duplicate-radius <x>', 'cosine distance (instruction + solution) within which a generated sample duplicates an accepted one and is dropped (0 turns the check off)', decimal(0, 1), DEFAULT_SETTINGS.sampleDuplicateRadius)
    .option('--temperature <x>', 'sampling temperature T: p ∝ exp(log(f)/T); 1 follows the data, larger is more uniform; or one per depth, e.g. 3,1,1', temperatures, 1)
    .option('--top-n <n>', 'children of a node that sampling considers (the most frequent)', integer(1), 50)
    .option('--coverage-boost <x>', 'pull toward each node\'s exact expected draws (without replacement): a node one draw behind weighs e^x times more (0 turns it off)', decimal(0, 30), 1)
    .option('--breadth-function <k,...>', 'children drawn per depth for function-level tasks', breadth, DEFAULT_LEVELS.function.breadth)
    .option('--breadth-file <k,...>', 'children drawn per depth for file-level tasks', breadth, DEFAULT_LEVELS.file.breadth)
    .option('--breadth-multi-file <k,...>', 'children drawn per depth for multi-file tasks', breadth, DEFAULT_LEVELS.multi_file.breadth)
    .option('--levels <mix>', 'task level mix, e.g. function=0.6,file=0.3,multi_file=0.1', levelMix, { ...DEFAULT_LEVEL_MIX })
    .addOption(new Option('--target-language <lang>', 'language the tasks ask for').choices([...LANGUAGES]).default('python'))
    .addOption(new Option('--tree-key <mode>', 'one tree for the corpus, or one per language').argParser(choice(['all', 'language'] as const)).default('all'))
    .option('--upweight <path=factor>', 'sample a feature more often, e.g. "error handling=3" (repeatable)', upweight)
    .option('--require <path>', 'a feature every task must use, e.g. "logging": drawn at its depth as one of the k there, sampled under (repeatable)', featurePath)
    .option('--include-defects', 'sample defect categories ("issues & bugs": bare except, swallowed exceptions) into tasks too', false)
    .option('--preset <name>', 'sampling defaults of another implementation, for comparison: epicoder (T=10, k=5,2,1,1, "computation operation" fixed, leaf-sum frequencies, no coverage boost); flags given still win', samplingPreset)
    .addOption(new Option('--embeddings <kind>', 'label embeddings: auto (minilm if ./setup.sh installed it, else lexical), minilm (offline, by meaning), lexical (offline, by spelling), or an OpenAI-compatible endpoint').argParser(choice(['auto', 'minilm', 'lexical', 'openai'] as const)).default('auto'))
    .option('--embedding-model <name>', 'embedding model for --embeddings openai')
    .option('--embeddings-url <url>', 'base URL of the embeddings endpoint (default: OPENAI_BASE_URL)')
    .option('--window <n>', 'files in flight at once; bounds memory (default: 16 × --concurrency, at least 64; files finished but held back in input order behind one still with the model do not count, up to 8 windows of them)', integer(1, 100_000))
    .option('--static-workers <n>', 'worker threads that parse files for static extraction, beside the thread that talks to the model and runs the other stages; 0 parses on that thread (default: one per core, at most 2)', integer(0, 64))
    .option('--llm-base-url <url>', 'OpenAI-compatible endpoint for the LLM stages (default: OPENAI_BASE_URL; the key is read from OPENAI_API_KEY)')
    .option('--model <name>', 'model for every LLM stage (default: TREESYNTH_MODEL, else the one model the endpoint serves)')
    .option('--no-local-model', 'with no endpoint configured, run without a model (static stages, prompts to pending.jsonl) instead of on the tiny local model ./setup.sh installs (also TREESYNTH_LOCAL_MODEL=off)')
    .option('--extract-model <name>', 'model for feature extraction (default: TREESYNTH_EXTRACT_MODEL, else --model)')
    .option('--evolve-model <name>', 'model for tree evolution (default: TREESYNTH_EVOLVE_MODEL, else --model)')
    .option('--generate-model <name>', 'model for sample generation (default: TREESYNTH_GENERATE_MODEL, else --model)')
    .option('--llm-stages <list>', 'stages that use the model: extract, evolve, generate', llmStages, [...LLM_STAGES])
    .option('--max-requests <n>', 'stop sending LLM requests after this many (the run still finishes and says so)', integer(1))
    .option('--max-tokens <n>', 'stop sending LLM requests after this many tokens in all', integer(1))
    .option('--concurrency <n>', 'most LLM requests in flight; the client adapts below it to latency and errors', integer(1, 1024), 16)
    .option('--llm-timeout <ms>', 'deadline of one LLM request, headers and body; retried like any timeout (at most twice)', integer(1000), DEFAULT_TIMEOUT_MS)
    .option('--llm-retries <n>', 'retries of one LLM request on 429, 5xx, timeouts and connection errors', integer(0, 20), 5)
    .option('--cache <file>', 'LLM response cache: a second run over the same corpus sends no requests', '.treesynth/cache/llm-responses.jsonl')
    .option('--no-cache', 'do not read or write the LLM response cache')
    .option('--evolve-every <n>', 'evolve the tree after every N accepted files (0: only after the corpus)', integer(0), 0)
    .option('--evolve-rounds <n>', 'evolution rounds after the corpus, before tasks are sampled', integer(0), 1)
    .option('--max-chars <n>', 'characters of a file sent to the model for feature extraction', integer(1000), 24_000)
    .option('--no-validate', 'keep generated samples without running their tests in the sandbox')
    .option('--turns <n>', 'debugging turns for a sample whose tests fail', integer(0, 10), 2)
    .option('--sandbox-timeout <ms>', 'wall time of one sample run in the sandbox', integer(500), 10_000)
    .option('--sandbox-memory <mb>', 'memory of one sample process in the sandbox', integer(32), 512)
    .option('--min-mutation-score <x>', 'reject samples whose tests catch a smaller share of the mutants of their solution (0: record the score only)', decimal(0, 1), DEFAULT_MIN_MUTATION_SCORE)
    .option('--benchmark <file>', 'benchmark problems (JSONL, e.g. HumanEval or MBPP): samples overlapping them are rejected as contaminated (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--ngram <n>', 'n-gram length of the contamination check', integer(5, 50), 13)
    .option('--student <url>', 'OpenAI-compatible endpoint of a student model: it solves the validated tasks, the teacher\'s tests judge its answers, and features it fails on are sampled more often')
    .option('--student-model <name>', 'the student model (default: the one model its endpoint serves)')
    .option('--student-rounds <n>', 'local mode: tasks are sampled in this many rounds, each after the student answered the previous one', integer(1, 1000), DEFAULT_STUDENT.rounds)
    .option('--student-max-factor <x>', 'largest sampling up-weight of a feature the student fails on', decimal(1, 100), DEFAULT_STUDENT.maxFactor)
    .option('--semantic-threshold <x>', 'cosine at which an instruction means the same as a benchmark problem and is contaminated, beside the n-grams (needs MiniLM or --embeddings openai; 0: n-grams only)', decimal(0, 1), DEFAULT_SEMANTIC_SIMILARITY)
    .option('-q, --quiet', 'no progress output', false)
    .option('--partitions <n>', 'Kafka mode: partitions of the topics treesynth creates (existing topics keep theirs)', integer(1, 10_000), DEFAULT_PARTITIONS)
    .option('--retention-hours <n>', 'Kafka mode: retention of the topics treesynth creates (-1: forever; tree.nodes is compacted and kept)', integer(-1), DEFAULT_RETENTION_HOURS)
    .option('--batch-records <n>', 'Kafka mode: input records per transaction at most (default 500; LLM stages with a model: 8 x --concurrency)', integer(1, 100_000))
    .option('--metrics-port <port>', 'Kafka mode: serve Prometheus metrics on 127.0.0.1:<port>/metrics (0 picks a free port)', integer(0, 65535))
    .option('--session-timeout <ms>', 'Kafka mode: consumer-group session timeout; a killed process\'s partitions move on after this long', integer(6000, 300_000), 10_000)
    .option('--tasks-per-files <x>', 'Kafka mode: request x tasks per file the tree takes in (0.1: one every ten files), so tasks flow as files arrive', decimal(0, 1000))
    .option('--request-wait <s>', 'Kafka mode: how long a task request waits for its tree to be able to serve it before it becomes a dead letter (default 600)', integer(0))
    .action(async (options: RunOptions, command: Command) => {
      options.explicit = new Set(Object.keys(options).filter((name) => ['cli', 'env'].includes(command.getOptionValueSource(name) ?? '')));
      if (options.kafka) {
        await runKafka(options);
        return;
      }
      if (!options.input) throw new UsageError("required option '--input <path>' not specified (or --kafka <brokers> for Kafka mode)");
      if (!options.out) throw new UsageError("required option '--out <dir>' not specified");
      const { summary, partial, exitCode } = await runOnFiles(options);
      if (summary.interrupted !== null) {
        process.stderr.write(
          `treesynth: interrupted (${summary.interrupted}) after ${summary.files.read} files: the outputs in ${options.out} are untouched` +
            `${partial ? `; this run's partial outputs are in ${partial}` : ''}\n`,
        );
        process.exit(exitCode);
      }
      const cutShort = INPUT_CUT_SHORT_REASONS.filter((reason) => (summary.rejectedByReason[reason] ?? 0) > 0);
      if (cutShort.length > 0) {
        const raise = cutShort.includes('decompression-limit') ? '; --max-decompressed raises the cap' : '';
        process.stderr.write(`treesynth: warning: ${options.input} was not read to its end (${cutShort.join(', ')}): the rest of it is one rejection in ${join(options.out, 'rejected.jsonl')}${raise}\n`);
      }
      if (!options.quiet) {
        process.stdout.write(
          `${summary.files.read} files read: ${summary.files.accepted} accepted, ${summary.files.rejected} rejected` +
            ` (${summary.exactDuplicates} duplicates, ${summary.nearDuplicates} near-duplicates); ${summary.nodes} tree nodes` +
            ` from ${summary.labels.seen} labels (${summary.labels.merged} merged by similarity); ${summary.tasks.written} tasks` +
            (summary.samples.written + summary.samples.rejected > 0 ? `, ${summary.samples.written} samples (${summary.samples.rejected} rejected)` : '') +
            (summary.evolution.added > 0 ? `; evolution added ${summary.evolution.added} nodes` : '') + '.\n' +
            `Wrote ${['tree.json', 'tree.txt', 'tasks.jsonl', 'samples.jsonl', 'rejected.jsonl', 'summary.json', 'tree.changelog.jsonl', ...(summary.llm.pendingPrompts > 0 ? ['pending.jsonl'] : [])].map((f) => join(options.out, f)).join(', ')}\n`,
        );
      }
    });

}
