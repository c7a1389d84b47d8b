// `treesynth decontaminate`: drop samples that overlap benchmark problems (n-grams) from a
// samples file; they go to rejected.jsonl as `contaminated`.
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { JsonlSink } from '../../connectors/jsonl-sink.js';
import {
  BenchmarkIndex, DEFAULT_NGRAM, DEFAULT_SEMANTIC_SIMILARITY, checkContamination, embedBenchmark, loadBenchmarkIndex, type BenchmarkIndexOptions, type DecontaminateConfig,
} from '../../quality/contamination.js';
import { MiniLmEmbedder } from '../../embeddings/minilm.js';
import { readSample } from '../../quality/records.js';
import type { GeneratedSample, Rejection } from '../../schemas/contract.js';
import { UsageError } from '../errors.js';
import { collect, decimal, integer } from '../options.js';

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
    .option('--min-benchmark-tokens <n>', 'benchmark texts shorter than --ngram are matched whole from this many tokens', integer(1), 8)
    .option('--semantic-threshold <x>', 'cosine (MiniLM) at which an instruction means the same as a benchmark problem and is contaminated, beside the n-grams (0: n-grams only)', decimal(0, 1), DEFAULT_SEMANTIC_SIMILARITY);
}

export interface DecontaminationCliOptions {
  benchmark?: string[];
  ngram: number;
  minMatches: number;
  minShare: number;
  maxItemsPerNgram: number;
  minBenchmarkTokens: number;
  semanticThreshold: number;
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
  const config: DecontaminateConfig = { index, minMatches: options.minMatches, minShare: options.minShare };
  if (options.semanticThreshold <= 0) return config;
  let embedder: MiniLmEmbedder;
  try {
    embedder = await MiniLmEmbedder.open();
  } catch (error) {
    throw new UsageError(`matching by meaning: ${(error as Error).message.split('\n')[0]} (or pass --semantic-threshold 0 for n-grams only)`);
  }
  return { ...config, semantic: await embedBenchmark(index, embedder, options.semanticThreshold) };
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
      const outcome = await checkContamination(sample, config);
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

export function registerDecontaminateCommand(program: Command): void {
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
      `${counts.read} samples read: ${counts.kept} kept, ${counts.contaminated} contaminated (${config.index.items.length} benchmark problems, ${config.index.n}-grams${config.semantic ? `, by meaning at cosine ${config.semantic.threshold}` : ''})` +
        (counts.invalid > 0 ? `, ${counts.invalid} not samples` : '') +
        `.\nWrote ${join(options.out, 'samples.jsonl')}; rejections appended to ${join(options.out, 'rejected.jsonl')}\n`,
    );
  });
}
