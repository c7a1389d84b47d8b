// Measures the quality of one run or of several together (cumulative), streaming the records
// once: memory grows with the tree and with bounded samples (a reservoir of instructions for
// the embedding distance, a few samples for the judge), not with the number of samples.
//
// The records come from a RunSource: an out-dir here; Kafka mode provides the same interface
// over its topics (consumed to their end offsets) and everything downstream stays as it is.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { LexicalCodeEmbedder } from '../embeddings/lexical.js';
import type { Embedder } from '../embeddings/embedder.js';
import { CONTAMINATED_REASON } from './contamination.js';
import { mixSeed, seededRandom } from '../lib/random.js';
import type { Grammars } from '../analysis/tree-sitter/grammars.js';
import type { GeneratedSample, Rejection, SynthesisTask } from '../schemas/contract.js';
import { aggregateComplexity, sampleComplexity, type ComplexityFigures, type SampleComplexity } from './complexity.js';
import { DistinctNgramCounter, FeatureUse, NodeHits, Reservoir, meanPairwiseDistance, treeCoverage, type DistinctNgrams, type EntropyFigures, type PairwiseDistance, type TreeCoverage } from './diversity.js';
import { judgeSamples, type JudgeConfig, type JudgeFigures } from './judge.js';
import { MutationScoreCounter, type MutationScoreFigures } from './mutation-scores.js';
import { PassRateCounter, type PassRates } from './pass-rates.js';
import { readFeatureTree, readRejection, readSample, readTask, type FeatureTreeNode } from './records.js';
import { RejectionCounter, timeline, type RejectionFigures, type Timeline } from './run-figures.js';

/** The records of one run, from wherever they live. Each iterable may be read once. */
export interface RunSource {
  /** Names the run in the report: the out-dir, or the Kafka cluster and topic prefix. */
  readonly label: string;
  readonly tree: FeatureTreeNode | null;
  /** summary.json as written (Kafka mode: whatever it keeps instead), or null. */
  readonly summary: unknown;
  samples(): AsyncIterable<GeneratedSample>;
  rejections(): AsyncIterable<Rejection>;
  tasks(): AsyncIterable<SynthesisTask>;
  /** Lines that were not records of their kind, as `file:line: why`; filled while reading. */
  readonly problems: string[];
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

async function* jsonl<T>(path: string, parse: (value: unknown) => T | null, problems: string[]): AsyncGenerator<T> {
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) return;
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n += 1;
    if (line.trim() === '') continue;
    let value: T | null = null;
    try {
      value = parse(JSON.parse(line));
    } catch {
      // Not JSON: reported below like a record of the wrong shape.
    }
    if (value === null) {
      if (problems.length < 1000) problems.push(`${path}:${n}: not a valid record`);
      continue;
    }
    yield value;
  }
}

/** The records a `treesynth run` (or `validate`) left in `dir`. Missing files read as empty. */
export async function openOutDir(dir: string): Promise<RunSource> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => null);
  if (!info?.isDirectory()) throw new Error(`not a directory: ${dir}`);
  const problems: string[] = [];
  return {
    label: dir,
    tree: readFeatureTree(await readJson(join(root, 'tree.json'))),
    summary: await readJson(join(root, 'summary.json')),
    samples: () => jsonl(join(root, 'samples.jsonl'), readSample, problems),
    rejections: () => jsonl(join(root, 'rejected.jsonl'), readRejection, problems),
    tasks: () => jsonl(join(root, 'tasks.jsonl'), readTask, problems),
    problems,
  };
}

export interface MeasureOptions {
  /** Parsers for the complexity figures; null falls back to token counting. */
  grammars: Grammars | null;
  /** Seeds the subsets drawn (instructions for embeddings, samples for the judge). Default 42. */
  seed?: number;
  /** Instructions kept for distinct-n and embedding distance. Default 20,000. */
  maxInstructions?: number;
  /** Instruction pairs compared for the mean distance. Default 200,000. */
  maxPairs?: number;
  /** n of the distinct-n figures. Default [1, 2, 3]. */
  ngrams?: readonly number[];
  /** Instruction embedder. Default the offline LexicalCodeEmbedder. */
  embedder?: Embedder;
  /** The LLM judge over `samples` randomly chosen samples; absent: not run. */
  judge?: { config: JudgeConfig; samples: number } | null;
}

export interface QualityFigures {
  /** The runs measured together (one for a single run). */
  runs: string[];
  counts: { samples: number; tasks: number; rejections: number; duplicateSamples: number; unreadable: number };
  passRates: PassRates;
  /** Test adequacy: mutation scores of the validated samples, overall and per level. */
  mutation: MutationScoreFigures;
  complexity: ComplexityFigures;
  diversity: {
    /** Share of the tree that samples reach, and that tasks reach (tasks exist without an endpoint). */
    coverage: { bySamples: TreeCoverage | null; byTasks: TreeCoverage | null };
    featureEntropy: { features: EntropyFigures; categories: EntropyFigures };
    distinctNgrams: DistinctNgrams[];
    embeddingDistance: PairwiseDistance & { embedder: string; instructions: number; instructionsSeen: number };
  };
  rejections: RejectionFigures;
  timeline: Timeline | null;
  judge: JudgeFigures | null;
  lineage: LineageFigures;
}

/** Where the samples came from: the source files their lineage names, and those files' licences. */
export interface LineageFigures {
  /** Samples whose lineage names at least one source file. */
  samplesWithSources: number;
  /** Distinct source files (by content hash) named, and distinct repositories. */
  files: number;
  repositories: number;
  /** Distinct files per licence (null: not known), most first. */
  byLicense: Array<{ license: string | null; files: number }>;
}

/** Counts the source files samples name, each file once. */
class LineageCounter {
  #withSources = 0;
  readonly #licenceOf = new Map<string, string | null>();
  readonly #repositories = new Set<string>();

  add(sample: GeneratedSample): void {
    const sources = sample.lineage?.sources ?? [];
    if (sources.length > 0) this.#withSources += 1;
    for (const s of sources) {
      this.#licenceOf.set(s.fileId, s.license);
      if (s.repository !== null) this.#repositories.add(s.repository);
    }
  }

  result(): LineageFigures {
    const byLicense = new Map<string | null, number>();
    for (const licence of this.#licenceOf.values()) byLicense.set(licence, (byLicense.get(licence) ?? 0) + 1);
    return {
      samplesWithSources: this.#withSources, files: this.#licenceOf.size, repositories: this.#repositories.size,
      byLicense: [...byLicense].map(([license, files]) => ({ license, files })).sort((a, b) => b.files - a.files || String(a.license).localeCompare(String(b.license))),
    };
  }
}

export interface Measured {
  figures: QualityFigures;
  /** Per-node use, for the tree picture. */
  hits: { samples: NodeHits; tasks: NodeHits };
  tree: FeatureTreeNode | null;
}

/**
 * Measures the runs together. Samples and tasks count once by id; a rejection counts once per
 * (stage, record, reason) when it names its record, so a corpus run twice is not counted twice.
 * The tree is the first source's (the newest run's when measuring cumulatively).
 */
export async function measure(sources: readonly RunSource[], options: MeasureOptions): Promise<Measured> {
  const seed = options.seed ?? 42;
  const random = seededRandom(mixSeed(seed, 1));
  const embedder = options.embedder ?? new LexicalCodeEmbedder();
  const sampleHits = new NodeHits();
  const taskHits = new NodeHits();
  const features = new FeatureUse();
  const passes = new PassRateCounter();
  const mutation = new MutationScoreCounter();
  const rejections = new RejectionCounter();
  const lineage = new LineageCounter();
  const ngrams = (options.ngrams ?? [1, 2, 3]).map((n) => new DistinctNgramCounter(n));
  const instructions = new Reservoir<string>(options.maxInstructions ?? 20_000, random);
  const toJudge = new Reservoir<GeneratedSample>(options.judge?.samples ?? 0, seededRandom(mixSeed(seed, 2)));
  const complexity: SampleComplexity[] = [];
  const stamps: Record<string, number[]> = { samples: [], tasks: [], rejected: [] };
  const sampleIds = new Set<string>();
  const taskIds = new Set<string>();
  const rejectionKeys = new Set<string>();
  let duplicateSamples = 0;

  for (const source of sources) {
    for await (const sample of source.samples()) {
      if (sampleIds.has(sample.sampleId)) {
        duplicateSamples += 1;
        continue;
      }
      sampleIds.add(sample.sampleId);
      sampleHits.add(sample.treeKey ?? null, sample.features);
      features.add(sample.features);
      passes.addSample(sample);
      mutation.add(sample);
      lineage.add(sample);
      for (const counter of ngrams) counter.add(sample.instruction);
      instructions.add(sample.instruction);
      if (options.judge) toJudge.add(sample);
      complexity.push(sampleComplexity(sample, options.grammars));
      stamps['samples']!.push(sample.createdAt);
    }
    for await (const task of source.tasks()) {
      if (taskIds.has(task.taskId)) continue;
      taskIds.add(task.taskId);
      taskHits.add(task.treeKey ?? null, task.features);
      stamps['tasks']!.push(task.createdAt);
    }
    for await (const r of source.rejections()) {
      if (r.recordId !== null) {
        const key = `${r.stage}\u0000${r.recordId}\u0000${r.reason}`;
        if (rejectionKeys.has(key)) continue;
        rejectionKeys.add(key);
      }
      rejections.add(r);
      passes.addRejection(r);
      mutation.addRejection(r);
      stamps['rejected']!.push(r.at);
    }
  }

  const tree = sources[0]?.tree ?? null;
  const vectors = await embedder.embed(instructions.items);
  const distance = meanPairwiseDistance(vectors, { maxPairs: options.maxPairs ?? 200_000, random: seededRandom(mixSeed(seed, 3)) });
  const judge = options.judge && toJudge.items.length > 0 ? await judgeSamples(toJudge.items, options.judge.config) : null;
  const figures: QualityFigures = {
    runs: sources.map((s) => s.label),
    counts: {
      samples: sampleIds.size,
      tasks: taskIds.size,
      rejections: rejections.result(CONTAMINATED_REASON).total,
      duplicateSamples,
      unreadable: sources.reduce((n, s) => n + s.problems.length, 0),
    },
    passRates: passes.result(),
    mutation: mutation.result(),
    complexity: aggregateComplexity(complexity),
    diversity: {
      coverage: {
        bySamples: tree && sampleIds.size > 0 ? treeCoverage(tree, sampleHits) : null,
        byTasks: tree && taskIds.size > 0 ? treeCoverage(tree, taskHits) : null,
      },
      featureEntropy: features.result(),
      distinctNgrams: ngrams.map((c) => c.result()),
      embeddingDistance: { ...distance, embedder: embedder.name, instructions: instructions.items.length, instructionsSeen: instructions.seen },
    },
    rejections: rejections.result(CONTAMINATED_REASON),
    timeline: timeline(stamps, sources[0]?.summary ?? null),
    judge,
    lineage: lineage.result(),
  };
  return { figures, hits: { samples: sampleHits, tasks: taskHits }, tree };
}
