// `treesynth report` (the quality report of a run) and `treesynth decontaminate` (drop samples
// that overlap benchmark problems from a samples file).
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import { JsonlSink } from '../connectors/jsonl-sink.js';
import {
  BenchmarkIndex, DEFAULT_NGRAM, decontaminateSample, loadBenchmarkIndex, type BenchmarkIndexOptions, type DecontaminateConfig,
} from '../quality/contamination.js';
import { readSample } from '../quality/records.js';
import type { PricePer1k } from '../quality/run-figures.js';
import { writeReport, type BuildOptions } from '../report/build.js';
import type { GeneratedSample, Rejection } from '../schemas/contract.js';
import { UsageError } from './errors.js';
import { brokersOf, registryOf } from './kafka-run.js';
import { openLlm } from './llm-setup.js';
import { decimal, integer } from './options.js';

/** "0.15/0.60": per 1,000 prompt / completion tokens; one number prices both. */
export function pricePer1k(value: string): PricePer1k {
  const parts = value.split('/').map((p) => p.trim().replace(/^\$/, ''));
  const nums = parts.map(Number);
  if (parts.length < 1 || parts.length > 2 || parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new InvalidArgumentError('expected INPUT/OUTPUT prices per 1,000 tokens, e.g. 0.15/0.6 (or one price for both)');
  }
  return { input: nums[0]!, output: nums[1] ?? nums[0]! };
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export interface ReportCliOptions {
  out?: string;
  judge: boolean;
  judgeSamples: number;
  judgeModel?: string;
  cumulative?: string[];
  pricePer1k?: PricePer1k;
  llmBaseUrl?: string;
  model?: string;
  llmTimeout: number;
  llmRetries: number;
  concurrency: number;
  cache: string | false;
  seed: number;
  quiet: boolean;
}

async function requireDir(path: string, what: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new UsageError(`${what} not found: ${path}`);
  if (!info.isDirectory()) throw new UsageError(`${what} is not a directory: ${path}`);
}

/** The judge's client when asked for and configured; otherwise why not, for the page. */
async function judgeSetup(options: ReportCliOptions): Promise<{ judge: BuildOptions['judge']; skipped?: string; close(): Promise<void> }> {
  if (!options.judge) return { judge: null, skipped: 'LLM judge not run (pass --judge, with an endpoint configured, to score complexity and diversity).', close: async () => {} };
  // A judge should score the same sample the same way: temperature 0.
  const opened = await openLlm({ ...options, temperature: 0, stageModels: { judge: options.judgeModel } }, ['judge']);
  if (!opened) {
    if (!options.quiet) process.stderr.write('treesynth: --judge: no LLM endpoint configured (set OPENAI_BASE_URL and TREESYNTH_MODEL, or --llm-base-url and --model): the report leaves the judge out\n');
    return { judge: null, skipped: 'LLM judge not run: no endpoint was configured.', close: async () => {} };
  }
  const client = opened.clients['judge']!;
  return {
    judge: { config: { model: client, concurrency: options.concurrency }, samples: options.judgeSamples, model: client.config.model },
    close: opened.close,
  };
}

export async function runReport(outDir: string, options: ReportCliOptions): Promise<void> {
  await requireDir(outDir, 'run directory');
  for (const dir of options.cumulative ?? []) await requireDir(dir, '--cumulative directory');
  const judge = await judgeSetup(options);
  try {
    const written = await writeReport(outDir, {
      seed: options.seed,
      price: options.pricePer1k ?? null,
      judge: judge.judge,
      ...(judge.skipped ? { judgeSkipped: judge.skipped } : {}),
      ...(options.out ? { output: options.out } : {}),
      ...(options.cumulative ? { cumulative: options.cumulative } : {}),
    });
    if (!options.quiet) {
      const f = written.report.figures;
      const rate = f.passRates.rate === null ? 'no validated samples' : `pass rate ${(f.passRates.rate * 100).toFixed(1)} %`;
      process.stdout.write(
        `${f.counts.samples} samples, ${f.counts.tasks} tasks, ${f.rejections.total} rejected (${f.rejections.contaminated} contaminated); ${rate}` +
          (f.judge ? `; judge scored ${f.judge.judged} samples` : '') +
          `.\nWrote ${written.html} and ${written.quality}\n`,
      );
    }
  } finally {
    await judge.close();
  }
}

/** `treesynth report --kafka`: the same page, from the topics of a running deployment. */
async function runKafkaReport(options: ReportCliOptions & { kafka?: string; registry?: string; topicPrefix: string }): Promise<void> {
  const registry = registryOf(options.registry);
  const { openKafkaRun } = await import('../quality/kafka-source.js');
  const { writeReportOf } = await import('../report/build.js');
  const run = await openKafkaRun({ brokers: brokersOf(options.kafka), registryUrl: registry, prefix: options.topicPrefix });
  const judge = await judgeSetup(options);
  try {
    const written = await writeReportOf(run, [], options.out ?? 'report.html', {
      seed: options.seed, price: options.pricePer1k ?? null, judge: judge.judge, ...(judge.skipped ? { judgeSkipped: judge.skipped } : {}),
    }, async (s) => s);
    if (!options.quiet) process.stdout.write(`${written.report.figures.counts.samples} samples, ${written.report.figures.counts.tasks} tasks.\nWrote ${written.html} and ${written.quality}\n`);
  } finally {
    await judge.close();
  }
}

/** Decontamination flags, for any command that takes samples (report's sibling `decontaminate`, and `run`). */
export function addDecontaminationOptions(command: Command, required: boolean): Command {
  const benchmark = '--benchmark <file>';
  const text = 'benchmark problems as JSONL (.jsonl or .jsonl.gz) or a JSON array, e.g. a HumanEval or MBPP export (repeatable)';
  if (required) command.requiredOption(benchmark, text, collect);
  else command.option(benchmark, text, collect);
  return command
    .option('--ngram <n>', 'n-gram length, in lower-cased word tokens', integer(2, 200), DEFAULT_NGRAM)
    .option('--min-matches <n>', 'shared n-grams with one benchmark item that make a sample contaminated', integer(1), 1)
    .option('--min-share <x>', 'and the share of that item’s n-grams they must be (0 to 1)', decimal(0, 1), 0)
    .option('--max-items-per-ngram <n>', 'n-grams found in more benchmark items than this are boilerplate and ignored', integer(1), 10)
    .option('--min-benchmark-tokens <n>', 'benchmark texts shorter than --ngram are matched whole from this many tokens', integer(1), 8);
}

export interface DecontaminationCliOptions {
  benchmark?: string[];
  ngram: number;
  minMatches: number;
  minShare: number;
  maxItemsPerNgram: number;
  minBenchmarkTokens: number;
}

/** The stage config from those flags (null without --benchmark): the index is built here, once. */
export async function decontaminationConfig(options: DecontaminationCliOptions): Promise<DecontaminateConfig | null> {
  if (!options.benchmark || options.benchmark.length === 0) return null;
  for (const file of options.benchmark) {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new UsageError(`benchmark file not found: ${file}`);
  }
  const indexOptions: BenchmarkIndexOptions = { n: options.ngram, minTokens: options.minBenchmarkTokens, maxItemsPerNgram: options.maxItemsPerNgram };
  let index: BenchmarkIndex;
  try {
    index = await loadBenchmarkIndex(options.benchmark, indexOptions);
  } catch (error) {
    throw new UsageError(`cannot read the benchmark: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  if (index.items.length === 0) throw new UsageError(`no benchmark problems found in ${options.benchmark.join(', ')} (expected JSON objects with fields such as prompt/text/question and canonical_solution/code/solution)`);
  return { index, minMatches: options.minMatches, minShare: options.minShare };
}

export interface DecontaminateCounts {
  read: number;
  kept: number;
  contaminated: number;
  invalid: number;
}

/**
 * Filters a samples file: clean samples to `<out>/samples.jsonl` (replaced atomically, so `out`
 * may be the directory the input is in), contaminated ones appended to `<out>/rejected.jsonl`,
 * where `treesynth report` counts them.
 */
export async function decontaminateFile(input: string, out: string, config: DecontaminateConfig, warn: (line: string) => void): Promise<DecontaminateCounts> {
  await mkdir(out, { recursive: true });
  const target = join(out, 'samples.jsonl');
  const samples = new JsonlSink<GeneratedSample>(`${target}.tmp`, { mode: 'overwrite' });
  const rejected = new JsonlSink<Rejection>(join(out, 'rejected.jsonl'), { mode: 'append' });
  const counts: DecontaminateCounts = { read: 0, kept: 0, contaminated: 0, invalid: 0 };
  const lines = createInterface({ input: createReadStream(input, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo += 1;
      if (line.trim() === '') continue;
      counts.read += 1;
      let sample: GeneratedSample | null = null;
      try {
        sample = readSample(JSON.parse(line));
      } catch {
        // reported below
      }
      if (!sample) {
        counts.invalid += 1;
        warn(`${input}:${lineNo}: skipped: not a sample`);
        continue;
      }
      const outcome = decontaminateSample(sample, config);
      if (outcome.ok) {
        await samples.write(outcome.value);
        counts.kept += 1;
      } else {
        await rejected.write(outcome.rejection);
        counts.contaminated += 1;
      }
    }
  } finally {
    await samples.close();
    await rejected.close();
  }
  await rename(`${target}.tmp`, target);
  return counts;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('Write a self-contained HTML quality report of a run (report.html) and its figures (quality.json).')
    .argument('[out-dir]', 'the --out directory of a `treesynth run` (or `treesynth validate`); or --kafka')
    .option('-o, --out <file>', 'the HTML file to write (default <out-dir>/report.html); quality.json goes next to it')
    .option('--kafka <brokers>', 'report on a Kafka-mode deployment: its samples, dead letters, tasks and tree topics')
    .option('--registry <url>', 'with --kafka: the schema registry (default: SCHEMA_REGISTRY_URL)')
    .option('--topic-prefix <prefix>', 'with --kafka: prefix of the topics', 'treesynth.')
    .option('--cumulative <dir...>', 'more run directories: each run alone and all together, samples counted once')
    .option('--price-per-1k <input/output>', 'price per 1,000 prompt/completion tokens, e.g. 0.15/0.6, to show cost', pricePer1k)
    .option('--judge', 'score complexity and diversity of a random subset of samples with an LLM judge', false)
    .option('--judge-samples <n>', 'samples the judge scores', integer(1, 100_000), 20)
    .option('--judge-model <name>', 'model for the judge (default: TREESYNTH_JUDGE_MODEL, else --model)')
    .option('--llm-base-url <url>', 'OpenAI-compatible endpoint for the judge (default: OPENAI_BASE_URL; the key is read from OPENAI_API_KEY)')
    .option('--model <name>', 'model (default: TREESYNTH_MODEL)')
    .option('--llm-timeout <ms>', 'timeout of one LLM request', integer(1000), 180_000)
    .option('--llm-retries <n>', 'retries of one LLM request on 429, 5xx, timeouts and connection errors', integer(0, 20), 5)
    .option('--concurrency <n>', 'judge requests in flight at most', integer(1, 256), 4)
    .option('--cache <file>', 'LLM response cache: judging the same samples again costs nothing', '.treesynth/cache/llm-responses.jsonl')
    .option('--no-cache', 'do not read or write the LLM response cache')
    .option('--seed <n>', 'seed of the random subsets (instructions compared, samples judged)', integer(0, 2 ** 32 - 1), 42)
    .option('-q, --quiet', 'no summary line', false)
    .action(async (outDir: string | undefined, options: ReportCliOptions & { kafka?: string; registry?: string; topicPrefix: string }) => {
      if (options.kafka) return runKafkaReport(options);
      if (!outDir) throw new UsageError('report needs an <out-dir> or --kafka <brokers>');
      await runReport(outDir, options);
    });

  const decontaminate = program
    .command('decontaminate')
    .description('Drop samples whose instruction or solution overlaps a benchmark problem (n-gram overlap); they go to rejected.jsonl as `contaminated`.')
    .argument('<samples.jsonl>', 'samples from `treesynth run` or `treesynth validate`')
    .requiredOption('-o, --out <dir>', 'writes <dir>/samples.jsonl (clean) and appends to <dir>/rejected.jsonl; may be the input’s own directory');
  addDecontaminationOptions(decontaminate, true).action(async (input: string, options: DecontaminationCliOptions & { out: string }) => {
    const info = await stat(input).catch(() => null);
    if (!info?.isFile()) throw new UsageError(`samples file not found: ${input}`);
    const config = (await decontaminationConfig(options))!;
    const counts = await decontaminateFile(input, options.out, config, (l) => process.stderr.write(`treesynth: ${l}\n`));
    process.stdout.write(
      `${counts.read} samples read: ${counts.kept} kept, ${counts.contaminated} contaminated (${config.index.items.length} benchmark problems, ${config.index.n}-grams)` +
        (counts.invalid > 0 ? `, ${counts.invalid} not samples` : '') +
        `.\nWrote ${join(options.out, 'samples.jsonl')}; rejections appended to ${join(options.out, 'rejected.jsonl')}\n`,
    );
  });
}
