// `treesynth report`: the quality report of a run (report.html and quality.json).
import { DEFAULT_TIMEOUT_MS } from '../../llm/config.js';
import { stat } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { PricePer1k } from '../../quality/run-figures.js';
import { writeReport, type BuildOptions } from '../../report/build.js';
import { UsageError } from '../errors.js';
import { brokersOf, registryOf } from '../kafka-options.js';
import { openLlm } from '../llm-setup.js';
import { integer } from '../options.js';

/** "0.15/0.60": per 1,000 prompt / completion tokens; one number prices both. */
export function pricePer1k(value: string): PricePer1k {
  const parts = value.split('/').map((p) => p.trim().replace(/^\$/, ''));
  const nums = parts.map(Number);
  if (parts.length < 1 || parts.length > 2 || parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new InvalidArgumentError('expected INPUT/OUTPUT prices per 1,000 tokens, e.g. 0.15/0.6 (or one price for both)');
  }
  return { input: nums[0]!, output: nums[1] ?? nums[0]! };
}


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
  const { openKafkaRun } = await import('../../quality/kafka-source.js');
  const { writeReportOf } = await import('../../report/build.js');
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
    .option('--llm-timeout <ms>', 'deadline of one LLM request, headers and body; retried like any timeout (at most twice)', integer(1000), DEFAULT_TIMEOUT_MS)
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

}
