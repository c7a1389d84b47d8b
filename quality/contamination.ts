// Decontamination: a generated sample whose instruction or solution shares long word n-grams
// with a benchmark problem (HumanEval, MBPP, ...) would leak the benchmark into training data,
// so it is rejected with reason `contaminated`, naming the benchmark item. This is the common
// practice (GPT-3, Llama, StarCoder): lower-cased word tokens with punctuation dropped, 13-gram
// overlap by default. n-grams that occur in many benchmark items are boilerplate, not evidence,
// and are ignored. Benchmark texts shorter than n tokens are matched whole (from a minimum
// length), so a one-line MBPP question still counts.
//
// Beside it, by meaning (optional, `semantic`): a sample whose instruction embeds within cosine
// `threshold` of a benchmark problem statement is contaminated too, as EpiCoder (0.9) and KodCode
// (0.95) check. A paraphrase shares no 13 words in a row, so the n-gram check cannot see it.
// Their thresholds are for their embedding models; with MiniLM a restated benchmark problem
// scores 0.61-0.90 and a different task on the same topic up to 0.70
// (tests/fixtures/sample-pairs.json), so 0.9 would catch none of those restatements:
// DEFAULT_SEMANTIC_SIMILARITY = 0.75 catches 5 of 6 there and flags none of the 6 clean ones.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { concatMap, of, pipe, type OperatorFunction } from 'rxjs';
import { cosine, type Embedder } from '../embeddings/embedder.js';
import type { GeneratedSample } from '../schemas/contract.js';
import { hash53, wordTokens } from './stats.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const DECONTAMINATE_STAGE = 'decontaminate';
export const CONTAMINATED_REASON = 'contaminated';
export const DEFAULT_NGRAM = 13;
/** Cosine at or above which an instruction means the same as a benchmark problem (MiniLM; see above). */
export const DEFAULT_SEMANTIC_SIMILARITY = 0.75;

/** Field names that hold a problem statement in common benchmark exports, in order of preference. */
export const PROBLEM_FIELDS = ['prompt', 'question', 'text', 'problem', 'description', 'instruction', 'problem_description', 'docstring', 'nl'] as const;
/** Field names that hold a reference solution. A JSON-encoded list of solutions (APPS) counts too. */
export const SOLUTION_FIELDS = ['canonical_solution', 'solution', 'solutions', 'code', 'answer', 'completion', 'reference_solution', 'response', 'output'] as const;
/** Field names that identify an item. */
export const ID_FIELDS = ['task_id', 'id', 'problem_id', 'question_id', 'name', 'slug'] as const;

export interface BenchmarkItem {
  id: string;
  /** Where it came from: file name and line. */
  file: string;
  line: number;
}

export interface BenchmarkIndexOptions {
  /** n-gram length in word tokens. Default 13. */
  n?: number;
  /** Shortest benchmark text (in tokens) matched whole when it is shorter than n. Default 8. */
  minTokens?: number;
  /** n-grams found in more benchmark items than this are ignored as boilerplate. Default 10. */
  maxItemsPerNgram?: number;
}

/**
 * n-gram hash sets of benchmark items, built once and queried for every sample. Hashes are
 * 53-bit numbers (see hash53); each remembers the first item it came from, and how many items
 * share it when more than one does.
 */
export class BenchmarkIndex {
  readonly n: number;
  readonly minTokens: number;
  readonly maxItemsPerNgram: number;
  readonly items: BenchmarkItem[] = [];
  /** Each item's problem statement (its first), for matching by meaning; null when it has only solutions. */
  readonly problems: Array<string | null> = [];
  /** Items that had no text field at all (not indexed), and bad lines. */
  skipped = 0;
  private readonly owner = new Map<number, number>();
  private readonly sharedBy = new Map<number, number>();
  private readonly ngramsOf: number[] = [];
  /** Texts shorter than n, by their length in tokens: hash of the whole text → item. */
  private readonly whole = new Map<number, Map<number, number>>();

  constructor(options: BenchmarkIndexOptions = {}) {
    this.n = options.n ?? DEFAULT_NGRAM;
    this.minTokens = options.minTokens ?? 8;
    this.maxItemsPerNgram = options.maxItemsPerNgram ?? 10;
    if (!Number.isInteger(this.n) || this.n < 2) throw new Error(`n-gram length must be a whole number of at least 2, got ${this.n}`);
  }

  /** n-grams indexed (distinct hashes). */
  get size(): number {
    return this.owner.size;
  }

  /** Indexes one benchmark item's texts (problem, solution, both joined). */
  add(item: BenchmarkItem, texts: readonly string[], problem: string | null = null): void {
    const index = this.items.length;
    this.items.push(item);
    this.problems.push(problem);
    const mine = new Set<number>();
    const shortTexts = new Set<string>();
    for (const text of texts) {
      const tokens = wordTokens(text);
      if (tokens.length >= this.n) {
        for (let i = 0; i + this.n <= tokens.length; i++) mine.add(hash53(tokens.slice(i, i + this.n).join('\u0001')));
      } else if (tokens.length >= this.minTokens) {
        const key = tokens.join('\u0001');
        if (shortTexts.has(key)) continue;
        shortTexts.add(key);
        let byLength = this.whole.get(tokens.length);
        if (!byLength) this.whole.set(tokens.length, (byLength = new Map()));
        const h = hash53(key);
        if (!byLength.has(h)) byLength.set(h, index);
      }
    }
    for (const h of mine) {
      if (this.owner.has(h)) this.sharedBy.set(h, (this.sharedBy.get(h) ?? 1) + 1);
      else this.owner.set(h, index);
    }
    // A whole short text counts as one n-gram of its item.
    this.ngramsOf.push(mine.size + shortTexts.size);
  }

  /** Distinct n-grams (and whole short texts) of item `index`. */
  ngramsOfItem(index: number): number {
    return this.ngramsOf[index] ?? 0;
  }

  /**
   * The benchmark items `text` shares n-grams with: item index → shared count, and the first
   * shared span (token offsets into `tokens`).
   */
  match(tokens: readonly string[]): Map<number, { count: number; start: number; length: number }> {
    const hits = new Map<number, { count: number; start: number; length: number }>();
    const seen = new Set<number>();
    const credit = (item: number, h: number, start: number, length: number): void => {
      if (seen.has(h)) return;
      seen.add(h);
      const hit = hits.get(item);
      if (hit) hit.count += 1;
      else hits.set(item, { count: 1, start, length });
    };
    for (let i = 0; i + this.n <= tokens.length; i++) {
      const h = hash53(tokens.slice(i, i + this.n).join('\u0001'));
      const item = this.owner.get(h);
      if (item === undefined || (this.sharedBy.get(h) ?? 1) > this.maxItemsPerNgram) continue;
      credit(item, h, i, this.n);
    }
    for (const [length, byHash] of this.whole) {
      for (let i = 0; i + length <= tokens.length; i++) {
        const h = hash53(tokens.slice(i, i + length).join('\u0001'));
        const item = byHash.get(h);
        if (item !== undefined) credit(item, -1 - h, i, length);
      }
    }
    return hits;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Strings of a field: a string, a list of strings, or a JSON-encoded list of strings (APPS). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(trimmed);
        if (Array.isArray(parsed) && parsed.every((s) => typeof s === 'string')) return parsed as string[];
      } catch {
        // Not JSON after all: the text itself.
      }
    }
    return trimmed === '' ? [] : [value];
  }
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string' && s.trim() !== '');
  return [];
}

/** The texts of one benchmark record worth indexing, and its id; null when it has none. */
export function benchmarkTexts(record: Record<string, unknown>): { id: string | null; texts: string[] } | null {
  const problems = PROBLEM_FIELDS.flatMap((f) => strings(record[f]));
  const solutions = SOLUTION_FIELDS.flatMap((f) => strings(record[f]));
  if (problems.length === 0 && solutions.length === 0) return null;
  // A HumanEval solution continues its prompt: index them joined too, so n-grams across the seam count.
  const joined = problems.length > 0 && solutions.length > 0 ? [`${problems[0]}\n${solutions[0]}`] : [];
  const idField = ID_FIELDS.find((f) => typeof record[f] === 'string' || typeof record[f] === 'number');
  return { id: idField ? String(record[idField]) : null, texts: [...problems, ...solutions, ...joined] };
}

async function* lines(file: string): AsyncGenerator<string> {
  const stream = createReadStream(file);
  const input = file.endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
  yield* createInterface({ input, crlfDelay: Infinity });
}

/**
 * Builds the index from benchmark files: JSONL (optionally .gz), one problem per line, or a JSON
 * file holding an array of problems. Lines that are not JSON objects, and objects with no known
 * text field, are counted in `skipped`. Throws when a file cannot be read.
 */
export async function loadBenchmarkIndex(files: readonly string[], options: BenchmarkIndexOptions = {}): Promise<BenchmarkIndex> {
  const index = new BenchmarkIndex(options);
  for (const file of files) {
    const name = basename(file);
    const addRecord = (value: unknown, line: number): void => {
      const found = isRecord(value) ? benchmarkTexts(value) : null;
      if (!found) {
        index.skipped += 1;
        return;
      }
      index.add({ id: found.id ?? `${name}:${line}`, file: name, line }, found.texts, PROBLEM_FIELDS.flatMap((f) => strings((value as Record<string, unknown>)[f]))[0] ?? null);
    };
    if (/\.json$/i.test(file)) {
      let text = '';
      for await (const l of lines(file)) text += `${l}\n`;
      const parsed: unknown = JSON.parse(text);
      const list = Array.isArray(parsed) ? parsed : [parsed];
      list.forEach((v, i) => addRecord(v, i + 1));
      continue;
    }
    let lineNo = 0;
    for await (const line of lines(file)) {
      lineNo += 1;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        index.skipped += 1;
        continue;
      }
      addRecord(value, lineNo);
    }
  }
  return index;
}

/** The benchmark's problem statements as vectors, for matching instructions by meaning. */
export interface SemanticBenchmark {
  embedder: Embedder;
  /** One per index item; null for items without a problem statement. */
  vectors: Array<Float32Array | null>;
  /** Cosine at or above which an instruction is contaminated. */
  threshold: number;
}

/** Embeds the index's problem statements once (in chunks, so a remote embedder gets few requests). */
export async function embedBenchmark(index: BenchmarkIndex, embedder: Embedder, threshold: number = DEFAULT_SEMANTIC_SIMILARITY): Promise<SemanticBenchmark> {
  const vectors: Array<Float32Array | null> = index.problems.map(() => null);
  const todo = index.problems.flatMap((p, i) => (p === null ? [] : [i]));
  for (let start = 0; start < todo.length; start += 64) {
    const chunk = todo.slice(start, start + 64);
    const embedded = await embedder.embed(chunk.map((i) => index.problems[i]!));
    chunk.forEach((i, k) => (vectors[i] = embedded[k]!));
  }
  return { embedder, vectors, threshold };
}

export interface DecontaminateConfig {
  index: BenchmarkIndex;
  /** Matching by meaning beside the n-grams; absent, n-grams only. */
  semantic?: SemanticBenchmark;
  /** Shared n-grams with one item needed to call a sample contaminated. Default 1. */
  minMatches?: number;
  /** And the share of that item's n-grams they must make up, 0..1. Default 0. */
  minShare?: number;
}

export interface ContaminationHit {
  item: BenchmarkItem;
  /** 'instruction', or the path of the solution file that overlaps. */
  where: string;
  shared: number;
  /** shared / the item's n-grams. */
  share: number;
  /** The first shared span, as normalised tokens. */
  excerpt: string;
}

/** The benchmark item the sample overlaps most, when the overlap passes the thresholds. */
export function findContamination(sample: GeneratedSample, config: DecontaminateConfig): ContaminationHit | null {
  const minMatches = config.minMatches ?? 1;
  const minShare = config.minShare ?? 0;
  const texts: Array<{ where: string; text: string }> = [
    { where: 'instruction', text: sample.instruction },
    ...sample.files.filter((f) => f.role === 'solution').map((f) => ({ where: f.path, text: f.content })),
  ];
  let best: ContaminationHit | null = null;
  for (const { where, text } of texts) {
    const tokens = wordTokens(text);
    for (const [item, hit] of config.index.match(tokens)) {
      const total = Math.max(1, config.index.ngramsOfItem(item));
      const share = hit.count / total;
      if (hit.count < minMatches || share < minShare) continue;
      if (!best || hit.count > best.shared) {
        best = { item: config.index.items[item]!, where, shared: hit.count, share, excerpt: tokens.slice(hit.start, hit.start + hit.length).join(' ') };
      }
    }
  }
  return best;
}

function describe(hit: ContaminationHit, n: number): string {
  const what = hit.where === 'instruction' ? 'instruction' : `solution ${hit.where}`;
  return `${what} shares ${hit.shared} ${n}-gram${hit.shared === 1 ? '' : 's'} (${(hit.share * 100).toFixed(0)} % of its n-grams) with benchmark item ${hit.item.id} (${hit.item.file} line ${hit.item.line}), e.g. "${hit.excerpt}"`;
}

/** One sample: passed on, or rejected as contaminated. */
export function decontaminateSample(sample: GeneratedSample, config: DecontaminateConfig): Outcome<GeneratedSample> {
  const hit = findContamination(sample, config);
  if (!hit) return accept(sample);
  return reject({
    stage: DECONTAMINATE_STAGE,
    reason: CONTAMINATED_REASON,
    detail: describe(hit, config.index.n),
    recordId: sample.sampleId,
    source: hit.item.file,
    position: hit.item.line,
    record: sample,
  });
}

export interface SemanticHit {
  item: BenchmarkItem;
  similarity: number;
}

/** The benchmark problem the instruction is closest to in meaning, when at or above the threshold. */
export async function findSemanticContamination(sample: Pick<GeneratedSample, 'instruction'>, semantic: SemanticBenchmark, items: readonly BenchmarkItem[]): Promise<SemanticHit | null> {
  const [vector] = await semantic.embedder.embed([sample.instruction]);
  let best: SemanticHit | null = null;
  semantic.vectors.forEach((v, i) => {
    if (!v) return;
    const similarity = cosine(vector!, v);
    if (similarity >= semantic.threshold && (!best || similarity > best.similarity)) best = { item: items[i]!, similarity };
  });
  return best;
}

/**
 * One sample against the n-grams, then (when configured) by meaning: passed on, or rejected as
 * contaminated with a detail that says which check caught it.
 */
export async function checkContamination(sample: GeneratedSample, config: DecontaminateConfig): Promise<Outcome<GeneratedSample>> {
  const byNgrams = decontaminateSample(sample, config);
  if (!byNgrams.ok || !config.semantic) return byNgrams;
  const hit = await findSemanticContamination(sample, config.semantic, config.index.items);
  if (!hit) return byNgrams;
  return reject({
    stage: DECONTAMINATE_STAGE,
    reason: CONTAMINATED_REASON,
    detail: `instruction means the same as benchmark item ${hit.item.id} (${hit.item.file} line ${hit.item.line}): cosine ${hit.similarity.toFixed(3)} ≥ ${config.semantic.threshold} (${config.semantic.embedder.name}), with no shared ${config.index.n}-gram`,
    recordId: sample.sampleId,
    source: hit.item.file,
    position: hit.item.line,
    record: sample,
  });
}

/** The stage operator: every sample in, one outcome out, in order. */
export function decontaminate(config: DecontaminateConfig): OperatorFunction<GeneratedSample, Outcome<GeneratedSample>> {
  return concatMap((sample) => checkContamination(sample, config));
}

/**
 * Runs decontamination right after a stage that yields samples (generate), so a contaminated
 * sample is dead-lettered before anything is spent validating it; the stage's own rejections
 * pass through untouched.
 */
export function thenDecontaminate<I>(stage: OperatorFunction<I, Outcome<GeneratedSample>>, config: DecontaminateConfig): OperatorFunction<I, Outcome<GeneratedSample>> {
  return pipe(stage, concatMap((o) => (o.ok ? checkContamination(o.value, config) : of(o))));
}
