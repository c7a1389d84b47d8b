// Figures about the run rather than its samples: throughput and lag (from summary.json and the
// records' timestamps), tokens and cost per stage, and the rejected reasons. Each reads
// summary.json defensively: Kafka mode and older versions write more, less, or other fields.
import type { Rejection } from '../schemas/contract.js';
import { ratio } from './stats.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** Dollars (or any currency) per 1,000 prompt (input) and completion (output) tokens. */
export interface PricePer1k {
  input: number;
  output: number;
}

export interface StageTokens {
  stage: string;
  calls: number;
  requests: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  /** What the cache hits would have cost had they been sent. */
  cachedTokens: number;
  /** null without a price. */
  cost: number | null;
}

export interface TokenFigures {
  byStage: StageTokens[];
  total: Omit<StageTokens, 'stage'>;
  price: PricePer1k | null;
  /** No stage recorded any usage (no endpoint was configured). */
  recorded: boolean;
}

const costOf = (prompt: number, completion: number, price: PricePer1k | null): number | null =>
  price ? (prompt / 1000) * price.input + (completion / 1000) * price.output : null;

/**
 * Tokens per stage from summary.llm.usage.byStage (the client's usage meter), plus extra stages
 * measured here (the judge), priced when a price is given.
 */
export function tokenFigures(summary: unknown, price: PricePer1k | null, extra: Record<string, { promptTokens: number; completionTokens: number; requests: number; cacheHits?: number }> = {}): TokenFigures {
  const llm = isRecord(summary) && isRecord(summary['llm']) ? summary['llm'] : {};
  const usage = isRecord(llm['usage']) ? llm['usage'] : {};
  const byStageRaw = isRecord(usage['byStage']) ? usage['byStage'] : {};
  const rows: StageTokens[] = [];
  for (const [stage, raw] of Object.entries(byStageRaw)) {
    if (!isRecord(raw)) continue;
    const promptTokens = num(raw['promptTokens']) ?? 0;
    const completionTokens = num(raw['completionTokens']) ?? 0;
    rows.push({
      stage,
      calls: num(raw['calls']) ?? 0,
      requests: num(raw['requests']) ?? 0,
      cacheHits: num(raw['cacheHits']) ?? 0,
      promptTokens,
      completionTokens,
      cachedTokens: (num(raw['cachedPromptTokens']) ?? 0) + (num(raw['cachedCompletionTokens']) ?? 0),
      cost: costOf(promptTokens, completionTokens, price),
    });
  }
  for (const [stage, u] of Object.entries(extra)) {
    rows.push({
      stage, calls: u.requests, requests: u.requests, cacheHits: u.cacheHits ?? 0, promptTokens: u.promptTokens, completionTokens: u.completionTokens,
      cachedTokens: 0, cost: costOf(u.promptTokens, u.completionTokens, price),
    });
  }
  const total = { calls: 0, requests: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, cost: price ? 0 : null } as Omit<StageTokens, 'stage'>;
  for (const r of rows) {
    total.calls += r.calls;
    total.requests += r.requests;
    total.cacheHits += r.cacheHits;
    total.promptTokens += r.promptTokens;
    total.completionTokens += r.completionTokens;
    total.cachedTokens += r.cachedTokens;
    if (total.cost !== null && r.cost !== null) total.cost += r.cost;
  }
  return { byStage: rows, total, price, recorded: rows.some((r) => r.requests > 0 || r.cacheHits > 0) };
}

export interface Throughput {
  startedAt: string | null;
  elapsedMs: number | null;
  filesRead: number | null;
  filesPerSecond: number | null;
  samplesWritten: number | null;
  samplesPerMinute: number | null;
  /** Consumer lag by stage, when the run recorded it (Kafka mode); null when not recorded. */
  lag: Record<string, number> | null;
}

export function throughput(summary: unknown): Throughput {
  const s = isRecord(summary) ? summary : {};
  const files = isRecord(s['files']) ? s['files'] : {};
  const samples = isRecord(s['samples']) ? s['samples'] : {};
  const elapsedMs = num(s['elapsedMs']);
  const written = num(samples['written']);
  let lag: Record<string, number> | null = null;
  if (isRecord(s['lag'])) {
    lag = {};
    for (const [stage, v] of Object.entries(s['lag'])) if (num(v) !== null) lag[stage] = v as number;
  }
  return {
    startedAt: typeof s['startedAt'] === 'string' ? s['startedAt'] : null,
    elapsedMs,
    filesRead: num(files['read']),
    filesPerSecond: num(s['filesPerSecond']),
    samplesWritten: written,
    samplesPerMinute: written !== null && elapsedMs ? (written * 60_000) / elapsedMs : null,
    lag,
  };
}

/** Records per time bucket, from the timestamps the records carry. */
export interface Timeline {
  /** Epoch ms of the first bucket. */
  start: number;
  bucketMs: number;
  buckets: number;
  /** Counts per bucket, by series (samples, tasks, rejected, ...). */
  series: Record<string, number[]>;
  /** Series given on summary.json's `timeline`, e.g. consumer lag sampled over time (Kafka mode). */
  recorded: Record<string, Array<[number, number]>>;
}

const NICE_BUCKETS_MS = [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];

/**
 * Buckets timestamps into at most `maxBuckets` equal intervals of a round length. Timestamps of
 * 0 or below (not recorded) are left out; null when no series has any.
 */
export function timeline(timestamps: Record<string, readonly number[]>, summary: unknown = null, maxBuckets = 60): Timeline | null {
  let min = Infinity;
  let max = -Infinity;
  for (const list of Object.values(timestamps)) {
    for (const t of list) {
      if (!(t > 0)) continue;
      if (t < min) min = t;
      if (t > max) max = t;
    }
  }
  const recorded = recordedSeries(summary);
  if (min === Infinity && Object.keys(recorded).length === 0) return null;
  if (min === Infinity) return { start: 0, bucketMs: 0, buckets: 0, series: {}, recorded };
  const span = Math.max(1, max - min + 1);
  const bucketMs = NICE_BUCKETS_MS.find((b) => span / b <= maxBuckets) ?? Math.ceil(span / maxBuckets);
  const start = Math.floor(min / bucketMs) * bucketMs;
  const buckets = Math.floor((max - start) / bucketMs) + 1;
  const series: Record<string, number[]> = {};
  for (const [name, list] of Object.entries(timestamps)) {
    const counts = new Array<number>(buckets).fill(0);
    for (const t of list) if (t > 0) counts[Math.floor((t - start) / bucketMs)]! += 1;
    series[name] = counts;
  }
  return { start, bucketMs, buckets, series, recorded };
}

/** summary.timeline: [{at, <name>: number, ...}] as Kafka mode may record it (at: epoch ms or ISO). */
function recordedSeries(summary: unknown): Record<string, Array<[number, number]>> {
  const out: Record<string, Array<[number, number]>> = {};
  const list = isRecord(summary) && Array.isArray(summary['timeline']) ? summary['timeline'] : [];
  for (const point of list) {
    if (!isRecord(point)) continue;
    const at = typeof point['at'] === 'string' ? Date.parse(point['at']) : num(point['at']);
    if (at === null || !Number.isFinite(at)) continue;
    for (const [name, v] of Object.entries(point)) {
      if (name === 'at') continue;
      if (num(v) !== null) (out[name] ??= []).push([at, v as number]);
      else if (isRecord(v)) for (const [sub, w] of Object.entries(v)) if (num(w) !== null) (out[`${name}.${sub}`] ??= []).push([at, w as number]);
    }
  }
  return out;
}

export interface RejectionRow {
  reason: string;
  stages: string[];
  count: number;
  share: number | null;
  /** One detail line, as an example. */
  example: string;
}

export interface RejectionFigures {
  total: number;
  /** Samples rejected as contaminated by a benchmark. */
  contaminated: number;
  byReason: RejectionRow[];
}

/** Counts rejections by reason, most frequent first. */
export class RejectionCounter {
  private readonly rows = new Map<string, { stages: Set<string>; count: number; example: string }>();
  private total = 0;

  add(r: Rejection): void {
    this.total += 1;
    let row = this.rows.get(r.reason);
    if (!row) this.rows.set(r.reason, (row = { stages: new Set(), count: 0, example: r.detail }));
    row.count += 1;
    row.stages.add(r.stage);
  }

  result(contaminatedReason: string): RejectionFigures {
    const byReason = [...this.rows]
      .map(([reason, row]) => ({ reason, stages: [...row.stages].sort(), count: row.count, share: ratio(row.count, this.total), example: row.example }))
      .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
    return { total: this.total, contaminated: this.rows.get(contaminatedReason)?.count ?? 0, byReason };
  }
}

/** The student model's record (`--student`), as summary.json gives it. */
export interface StudentFigures {
  model: string | null;
  attempts: number;
  passed: number;
  rounds: number;
  byCategory: Array<{ category: string; attempts: number; passRate: number | null; factor: number; firstRoundShare: number; lastRoundShare: number }>;
}

/** summary.json's `student`, checked field by field; null when the run had no student. */
export function studentFigures(summary: unknown): StudentFigures | null {
  const s = isRecord(summary) && isRecord(summary['student']) ? summary['student'] : null;
  if (!s) return null;
  const rows = Array.isArray(s['byCategory']) ? s['byCategory'].filter(isRecord) : [];
  return {
    model: typeof s['model'] === 'string' ? s['model'] : null,
    attempts: num(s['attempts']) ?? 0,
    passed: num(s['passed']) ?? 0,
    rounds: num(s['rounds']) ?? 0,
    byCategory: rows.filter((r) => typeof r['category'] === 'string').map((r) => ({
      category: r['category'] as string, attempts: num(r['attempts']) ?? 0, passRate: num(r['passRate']), factor: num(r['factor']) ?? 1,
      firstRoundShare: num(r['firstRoundShare']) ?? 0, lastRoundShare: num(r['lastRoundShare']) ?? 0,
    })),
  };
}
