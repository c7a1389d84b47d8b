// The mutation-score figure: how adequate the tests of a run's samples are, overall and per
// level, as a distribution (a mean alone hides a cluster of samples whose tests catch nothing).
// Scores are bounded in [0, 1] and kept per sample, one number each: memory grows by 8 bytes a
// scored sample.
import type { GeneratedSample } from '../schemas/contract.js';
import { distribution, type Distribution } from './stats.js';

/** Upper bounds of the histogram's buckets: [0, 0.2), [0.2, 0.4), ..., [0.8, 1]. */
export const SCORE_BUCKETS = [0.2, 0.4, 0.6, 0.8, 1] as const;

export interface ScoreDistribution extends Distribution {
  /** Samples per bucket of SCORE_BUCKETS. */
  histogram: number[];
}

export interface MutationScoreFigures {
  /** Samples with a score (those that passed their tests and had code to mutate). */
  scored: number;
  /** Samples that passed their tests but had no mutant to run. */
  unscored: number;
  /** Samples rejected because their tests caught too few mutants. */
  belowMinimum: number;
  overall: ScoreDistribution;
  byLevel: Record<string, ScoreDistribution>;
}

function scoreDistribution(scores: readonly number[]): ScoreDistribution {
  const histogram = SCORE_BUCKETS.map(() => 0);
  for (const s of scores) {
    const i = SCORE_BUCKETS.findIndex((b, k) => s < b || k === SCORE_BUCKETS.length - 1);
    histogram[i]! += 1;
  }
  return { ...distribution(scores), histogram };
}

/** Counts samples' mutation scores as they stream past; `result()` any time. */
export class MutationScoreCounter {
  private readonly scores = new Map<string, number[]>();
  private unscored = 0;
  private belowMinimum = 0;

  /**
   * A sample as the validate stage left it, passed or rejected. Records read back from files
   * are not checked beyond their shape, so a score outside [0, 1] or of another type is skipped.
   */
  add(sample: Pick<GeneratedSample, 'level' | 'validation'>): void {
    const v = sample.validation as Partial<NonNullable<GeneratedSample['validation']>> | null | undefined;
    const mutation = v?.mutation;
    if (!mutation || typeof mutation !== 'object') return;
    if (v?.reason === 'low-mutation-score') this.belowMinimum += 1;
    const score: unknown = mutation.score;
    if (score === null) {
      this.unscored += 1;
      return;
    }
    if (typeof score !== 'number' || !(score >= 0 && score <= 1)) return;
    const level = typeof sample.level === 'string' ? sample.level : 'unknown';
    const list = this.scores.get(level) ?? [];
    list.push(score);
    this.scores.set(level, list);
  }

  /** A validate dead letter: its record is the sample with its validation, unless it was cut. */
  addRejection(rejection: { stage: string; reason: string; record: string | null }): void {
    if (rejection.stage !== 'validate' || !rejection.record || rejection.record.endsWith('…[truncated]')) return;
    try {
      const parsed: unknown = JSON.parse(rejection.record);
      if (parsed && typeof parsed === 'object' && 'validation' in parsed) this.add(parsed as Pick<GeneratedSample, 'level' | 'validation'>);
    } catch {
      // Not the sample as JSON: nothing to count.
    }
  }

  result(): MutationScoreFigures {
    const all = [...this.scores.values()].flat();
    return {
      scored: all.length,
      unscored: this.unscored,
      belowMinimum: this.belowMinimum,
      overall: scoreDistribution(all),
      byLevel: Object.fromEntries([...this.scores.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([level, s]) => [level, scoreDistribution(s)])),
    };
  }
}
