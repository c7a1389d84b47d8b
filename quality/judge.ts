// The LLM judge over a random subset of samples: complexity scores per dimension and the
// features each sample exhibits, through the run's structured-output client. Judging every
// sample of a large run would cost as much as generating it; a seeded subset estimates the
// means at a known cost and is the same subset on every report of the same run.
import { COMPLEXITY_DIMENSIONS, JUDGE_PROMPT_VERSION, JUDGE_SCHEMA, checkJudgeAnswer, judgeMessages, type ComplexityDimension, type JudgeAnswer } from '../prompts/judge.js';
import { stopReason, type StructuredModel } from '../llm/model.js';
import type { GeneratedSample } from '../schemas/contract.js';
import { distribution, mean, type Distribution } from './stats.js';

export interface JudgeConfig {
  model: StructuredModel;
  /** Requests in flight at once. */
  concurrency: number;
  /** Characters of solution code shown per sample. */
  maxChars?: number;
}

export interface JudgedSample {
  sampleId: string;
  level: string;
  language: string;
  scores: Record<ComplexityDimension, number>;
  reasons: Record<ComplexityDimension, string>;
  features: Array<{ category: string; labels: string[] }>;
}

export interface JudgeFigures {
  promptVersion: string;
  /** The model that answered (the first answer's), when any did. */
  model: string | null;
  dimensions: readonly ComplexityDimension[];
  /** Samples handed to the judge, and of those judged and failed. */
  requested: number;
  judged: number;
  failed: number;
  failures: Record<string, number>;
  /** Scores per dimension over the judged samples. */
  scores: Record<ComplexityDimension, Distribution>;
  /** Mean over dimensions, per sample. */
  overall: Distribution;
  /** Mean score per dimension, per level. */
  byLevel: Record<string, Record<ComplexityDimension, number | null> & { samples: number }>;
  /** Diversity as the paper counts it: distinct features the judge found across the samples. */
  diversity: {
    distinctFeatures: number;
    featuresPerSample: Distribution;
    distinctByCategory: Record<string, number>;
  };
  usage: { promptTokens: number; completionTokens: number; requests: number; cacheHits: number };
  samples: JudgedSample[];
}

/** Runs `task` over `items` with at most `limit` in flight, results in input order. */
async function pool<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

type Verdict = { ok: true; sample: JudgedSample; model: string } | { ok: false; reason: string };

/** Scores the given samples (the caller picks the subset). Stops early, without throwing, when the run budget is spent. */
export async function judgeSamples(samples: readonly GeneratedSample[], config: JudgeConfig): Promise<JudgeFigures> {
  const usage = { promptTokens: 0, completionTokens: 0, requests: 0, cacheHits: 0 };
  const verdicts = await pool(samples, config.concurrency, async (sample): Promise<Verdict> => {
    try {
      const result = await config.model.complete<JudgeAnswer>({
        messages: judgeMessages(sample, config.maxChars),
        schema: JUDGE_SCHEMA,
        validate: checkJudgeAnswer,
        promptVersion: JUDGE_PROMPT_VERSION,
      });
      usage.promptTokens += result.usage.promptTokens;
      usage.completionTokens += result.usage.completionTokens;
      usage.requests += result.usage.requests;
      if (!result.ok) return { ok: false, reason: `llm-${result.reason}` };
      if (result.cached) usage.cacheHits += 1;
      const scores = {} as Record<ComplexityDimension, number>;
      const reasons = {} as Record<ComplexityDimension, string>;
      for (const d of COMPLEXITY_DIMENSIONS) {
        scores[d] = result.value.complexity[d].score;
        reasons[d] = result.value.complexity[d].reason;
      }
      const features = result.value.features.map((f) => ({ category: f.category, labels: f.labels.map((l) => l.trim().toLowerCase()).filter(Boolean) }));
      return { ok: true, model: result.model, sample: { sampleId: sample.sampleId, level: sample.level, language: sample.language, scores, reasons, features } };
    } catch (error) {
      // Budget or breaker: the rest of the subset goes unjudged, and the report says why.
      const reason = stopReason(error);
      if (!reason) throw error;
      return { ok: false, reason };
    }
  });
  return summariseVerdicts(verdicts, samples.length, usage);
}

function summariseVerdicts(verdicts: readonly Verdict[], requested: number, usage: JudgeFigures['usage']): JudgeFigures {
  const judged = verdicts.flatMap((v) => (v.ok ? [v.sample] : []));
  const failures: Record<string, number> = {};
  for (const v of verdicts) if (!v.ok) failures[v.reason] = (failures[v.reason] ?? 0) + 1;
  const firstOk = verdicts.find((v): v is Extract<Verdict, { ok: true }> => v.ok);
  const scores = Object.fromEntries(COMPLEXITY_DIMENSIONS.map((d) => [d, distribution(judged.map((s) => s.scores[d]))])) as Record<ComplexityDimension, Distribution>;
  const overall = distribution(judged.map((s) => mean(COMPLEXITY_DIMENSIONS.map((d) => s.scores[d]))!));

  const levels = new Map<string, JudgedSample[]>();
  for (const s of judged) levels.set(s.level, [...(levels.get(s.level) ?? []), s]);
  const byLevel: JudgeFigures['byLevel'] = {};
  for (const [level, list] of levels) {
    const row = { samples: list.length } as Record<ComplexityDimension, number | null> & { samples: number };
    for (const d of COMPLEXITY_DIMENSIONS) row[d] = mean(list.map((s) => s.scores[d]));
    byLevel[level] = row;
  }

  const all = new Set<string>();
  const byCategory = new Map<string, Set<string>>();
  const perSample: number[] = [];
  for (const s of judged) {
    const mine = new Set<string>();
    for (const f of s.features) {
      for (const label of f.labels) {
        const key = `${f.category}/${label}`;
        mine.add(key);
        all.add(key);
        let c = byCategory.get(f.category);
        if (!c) byCategory.set(f.category, (c = new Set()));
        c.add(label);
      }
    }
    perSample.push(mine.size);
  }
  return {
    promptVersion: JUDGE_PROMPT_VERSION,
    model: firstOk?.model ?? null,
    dimensions: COMPLEXITY_DIMENSIONS,
    requested,
    judged: judged.length,
    failed: requested - judged.length,
    failures,
    scores,
    overall,
    byLevel,
    diversity: {
      distinctFeatures: all.size,
      featuresPerSample: distribution(perSample),
      distinctByCategory: Object.fromEntries([...byCategory].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, labels]) => [c, labels.size])),
    },
    usage,
    samples: judged,
  };
}
