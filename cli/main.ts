// The `treesynth` command.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LlmError } from '../llm/index.js';
import { DEFAULT_LEVEL_MIX, DEFAULT_LEVELS, type LevelShape, type Upweight } from '../processors/sample.js';
import type { TaskLevel } from '../schemas/contract.js';
import { LANGUAGES } from '../schemas/languages.js';
import type { NestedNode } from '../stores/tree-store.js';
import { runLocal, type LlmStage, type LocalLlmConfig, type RunSummary, type TreeKeyMode } from '../topology/run-local.js';
import { countInput } from './count-input.js';
import { UsageError } from './errors.js';
import { registerExportCommand } from './export.js';
import { registerKafkaCommands } from './kafka-run.js';
import { registerLagCommand } from './lag.js';
import { openDecontamination, openEmbedders, openLlmClients, openValidation } from './llm-setup.js';
import { breadth, bytes, choice, decimal, featurePath, integer, levelMix, upweight } from './options.js';
import { createProgress } from './progress.js';
import { renderTree } from './render-tree.js';
import { registerReportCommand } from './report.js';
import { registerValidateCommand } from './validate.js';

export { UsageError };

export interface RunOptions {
  input: string;
  out: string;
  /** Kafka mode: bootstrap brokers; the stages run as consumer groups instead of over files. */
  kafka?: string;
  registry?: string;
  stages?: string[];
  topicPrefix: string;
  gitRef?: string;
  seed: number;
  tasks: number;
  maxFiles?: number;
  maxBytes: number;
  similarity: number;
  nearDuplicateRadius: number;
  temperature: number;
  topN: number;
  coverageBoost: number;
  breadthFunction: number[];
  breadthFile: number[];
  breadthMultiFile: number[];
  levels: Record<TaskLevel, number>;
  targetLanguage: string;
  treeKey: TreeKeyMode;
  upweight?: Upweight[];
  require?: string[][];
  embeddings: 'lexical' | 'openai';
  embeddingModel?: string;
  embeddingsUrl?: string;
  window: number;
  quiet: boolean;
  llmBaseUrl?: string;
  model?: string;
  extractModel?: string;
  evolveModel?: string;
  generateModel?: string;
  llmStages: LlmStage[];
  maxRequests?: number;
  maxTokens?: number;
  concurrency: number;
  llmTimeout: number;
  llmRetries: number;
  cache: string | false;
  evolveEvery: number;
  evolveRounds: number;
  maxChars: number;
  validate: boolean;
  turns: number;
  sandboxTimeout: number;
  sandboxMemory: number;
  benchmark?: string[];
  ngram: number;
}

const LLM_STAGES: readonly LlmStage[] = ['extract', 'evolve', 'generate'];

function llmStages(value: string): LlmStage[] {
  const stages = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of stages) if (!(LLM_STAGES as readonly string[]).includes(s)) throw new InvalidArgumentError(`unknown stage "${s}" (expected some of ${LLM_STAGES.join(', ')})`);
  return stages as LlmStage[];
}

async function run(options: RunOptions): Promise<RunSummary> {
  const input = resolve(options.input);
  const info = await stat(input).catch(() => null);
  if (!info) throw new UsageError(`input not found: ${options.input}`);
  if (options.gitRef && !info.isDirectory()) throw new UsageError(`--git-ref needs a git work tree as --input, not a file: ${options.input}`);
  const outInfo = await stat(options.out).catch(() => null);
  if (outInfo && !outInfo.isDirectory()) throw new UsageError(`--out is a file, not a directory: ${options.out}`);

  const levels: Record<TaskLevel, LevelShape> = {
    function: { ...DEFAULT_LEVELS.function, breadth: options.breadthFunction },
    file: { ...DEFAULT_LEVELS.file, breadth: options.breadthFile },
    multi_file: { ...DEFAULT_LEVELS.multi_file, breadth: options.breadthMultiFile },
  };
  const { labels, files } = openEmbedders(options);
  const clients = await openLlmClients(options, options.llmStages);
  if (!clients.configured && !options.quiet && options.llmStages.length > 0) {
    process.stderr.write(
      `treesynth: no LLM endpoint configured (set OPENAI_BASE_URL and TREESYNTH_MODEL, or --llm-base-url and --model): running the stages that need no model; the prompts it would send go to ${join(options.out, 'pending.jsonl')}\n`,
    );
  }
  const llm: { config: LocalLlmConfig; close(): Promise<void> } = {
    config: {
      models: clients.models, stages: options.llmStages, maxChars: options.maxChars, concurrency: options.concurrency,
      evolveEvery: options.evolveEvery, evolveRounds: options.evolveRounds, evolveBreadth: [4, 2, 2], evolveTemperature: 2, minSiblings: 2,
      usage: clients.usage, ...(clients.endpoint ? { endpoint: clients.endpoint } : {}),
    },
    close: () => clients.close(),
  };
  const validation = await openValidation(options, clients);
  const decontamination = await openDecontamination(options);
  const tty = Boolean(process.stderr.isTTY) && !process.env['CI'];
  const total = tty ? await countInput(input, info.isDirectory() && !options.gitRef, options.maxFiles) : null;
  const progress = createProgress({ total: total?.total ?? null, unit: total?.unit ?? 'files', tty, quiet: options.quiet });
  try {
    return await runLocal({
      input, out: options.out, gitRef: options.gitRef, seed: options.seed, tasks: options.tasks, maxFiles: options.maxFiles,
      maxBytes: options.maxBytes, similarity: options.similarity, nearDuplicateRadius: options.nearDuplicateRadius,
      temperature: options.temperature, topN: options.topN, coverageBoost: options.coverageBoost, levels,
      levelMix: options.levels, targetLanguage: options.targetLanguage, treeKey: options.treeKey,
      upweights: options.upweight, required: options.require, window: options.window,
      labelEmbedder: labels, codeEmbedder: files, onProgress: (p) => progress.update(p), llm: llm.config,
      ...(validation ? { validation } : {}), ...(decontamination ? { decontamination } : {}),
    });
  } finally {
    progress.stop();
    await llm.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('treesynth')
    .description('Turns real source code into a feature tree and synthesis tasks for instruction-tuning data (EpiCoder method).')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('run')
    .description('Run the pipeline locally: a directory, git tree or JSONL corpus in, tree.json, tasks.jsonl, rejected.jsonl and summary.json out.')
    .option('-i, --input <path>', 'a directory of source code, a git work tree (with --git-ref), or a JSONL corpus (one {"path","content","language"} per line, .jsonl or .jsonl.gz)')
    .option('-o, --out <dir>', 'output directory (created if missing)')
    .option('--kafka <brokers>', 'Kafka mode: run the stages as consumer groups on these brokers (e.g. 127.0.0.1:9092) instead of over --input')
    .option('--registry <url>', 'Kafka mode: Confluent-compatible schema registry URL (default: SCHEMA_REGISTRY_URL)')
    .option('--stages <list>', 'Kafka mode: the stages this process runs (default all): filter, extract, canonicalize, evolve, sample, generate', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--topic-prefix <prefix>', 'Kafka mode: prefix of every topic and consumer group name', 'treesynth.')
    .option('--git-ref <ref>', 'read the files of this commit or branch of the git repository at --input instead of its work tree')
    .option('--seed <n>', 'random seed: the same seed and corpus give the same tasks', integer(0, 2 ** 32 - 1), 42)
    .option('--tasks <n>', 'synthesis tasks to sample from the tree', integer(0), 100)
    .option('--max-files <n>', 'stop after reading this many files', integer(1))
    .option('--max-bytes <size>', 'reject files larger than this', bytes, 1024 * 1024)
    .option('--similarity <x>', 'cosine similarity at which a label merges into an existing sibling', decimal(0, 1, true), 0.85)
    .option('--near-duplicate-radius <x>', 'cosine distance within which a file is a near-duplicate of an accepted one (0 turns the check off)', decimal(0, 1), 0.05)
    .option('--temperature <x>', 'sampling temperature T: p ∝ exp(log(f)/T); 1 follows the data, larger is more uniform', decimal(0, Infinity, true), 1)
    .option('--top-n <n>', 'children of a node that sampling considers (the most frequent)', integer(1), 50)
    .option('--coverage-boost <x>', 'up-weighting of nodes sampled less than their share (0 turns it off)', decimal(0, 1000), 1)
    .option('--breadth-function <k,...>', 'children drawn per depth for function-level tasks', breadth, DEFAULT_LEVELS.function.breadth)
    .option('--breadth-file <k,...>', 'children drawn per depth for file-level tasks', breadth, DEFAULT_LEVELS.file.breadth)
    .option('--breadth-multi-file <k,...>', 'children drawn per depth for multi-file tasks', breadth, DEFAULT_LEVELS.multi_file.breadth)
    .option('--levels <mix>', 'task level mix, e.g. function=0.6,file=0.3,multi_file=0.1', levelMix, { ...DEFAULT_LEVEL_MIX })
    .addOption(new Option('--target-language <lang>', 'language the tasks ask for').choices([...LANGUAGES]).default('python'))
    .addOption(new Option('--tree-key <mode>', 'one tree for the corpus, or one per language').argParser(choice(['all', 'language'] as const)).default('all'))
    .option('--upweight <path=factor>', 'sample a feature more often, e.g. "error handling=3" (repeatable)', upweight)
    .option('--require <path>', 'a feature every task must use, e.g. "logging" (repeatable)', featurePath)
    .addOption(new Option('--embeddings <kind>', 'label embeddings: offline lexical, or an OpenAI-compatible endpoint').argParser(choice(['lexical', 'openai'] as const)).default('lexical'))
    .option('--embedding-model <name>', 'embedding model for --embeddings openai')
    .option('--embeddings-url <url>', 'base URL of the embeddings endpoint (default: OPENAI_BASE_URL)')
    .option('--window <n>', 'files in flight at once; bounds memory', integer(1, 100_000), 64)
    .option('--llm-base-url <url>', 'OpenAI-compatible endpoint for the LLM stages (default: OPENAI_BASE_URL; the key is read from OPENAI_API_KEY)')
    .option('--model <name>', 'model for every LLM stage (default: TREESYNTH_MODEL)')
    .option('--extract-model <name>', 'model for feature extraction (default: TREESYNTH_EXTRACT_MODEL, else --model)')
    .option('--evolve-model <name>', 'model for tree evolution (default: TREESYNTH_EVOLVE_MODEL, else --model)')
    .option('--generate-model <name>', 'model for sample generation (default: TREESYNTH_GENERATE_MODEL, else --model)')
    .option('--llm-stages <list>', 'stages that use the model: extract, evolve, generate', llmStages, [...LLM_STAGES])
    .option('--max-requests <n>', 'stop sending LLM requests after this many (the run still finishes and says so)', integer(1))
    .option('--max-tokens <n>', 'stop sending LLM requests after this many tokens in all', integer(1))
    .option('--concurrency <n>', 'most LLM requests in flight; the client adapts below it to latency and errors', integer(1, 1024), 16)
    .option('--llm-timeout <ms>', 'timeout of one LLM request', integer(1000), 180_000)
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
    .option('--benchmark <file>', 'benchmark problems (JSONL, e.g. HumanEval or MBPP): samples overlapping them are rejected as contaminated (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--ngram <n>', 'n-gram length of the contamination check', integer(5, 50), 13)
    .option('-q, --quiet', 'no progress output', false)
    .action(async (options: RunOptions) => {
      if (options.kafka) {
        const { runKafka } = await import('./kafka-run.js');
        await runKafka(options);
        return;
      }
      if (!options.input) throw new UsageError("required option '--input <path>' not specified (or --kafka <brokers> for Kafka mode)");
      if (!options.out) throw new UsageError("required option '--out <dir>' not specified");
      const summary = await run(options);
      const treeText = renderTree(JSON.parse(await readFile(join(options.out, 'tree.json'), 'utf8')) as NestedNode, { width: 8, depth: 2 });
      await writeFile(join(options.out, 'tree.txt'), treeText);
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

  registerExportCommand(program);
  registerValidateCommand(program);
  registerKafkaCommands(program);
  registerReportCommand(program);
  registerLagCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its one-line message already.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError || error instanceof LlmError) {
      process.stderr.write(`treesynth: ${error.message}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`treesynth: ${message.split('\n')[0]}\n`);
    if (process.env['TREESYNTH_DEBUG']) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
    return 1;
  }
}
