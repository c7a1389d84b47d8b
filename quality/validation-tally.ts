// Figures of the validate stage for summary.json and the report: pass rates by level and by
// debugging turn, and rejections by reason, tallied from the stage's outcomes as they pass.
import type { GeneratedSample } from '../schemas/contract.js';
import type { Outcome } from '../schemas/outcome.js';
import { MutationScoreCounter, type MutationScoreFigures } from './mutation-scores.js';

export interface RateRow {
  validated: number;
  passed: number;
  rate: number | null;
}

export interface ValidationSummary {
  /** Inputs seen, including lines that were not samples. */
  total: number;
  /** Samples that went through the sandbox (or were refused by it: invalid, unsupported). */
  validated: number;
  /** Inputs that were not samples at all. */
  invalid: number;
  passed: number;
  /** Everything not passed: failed samples and invalid inputs. */
  rejected: number;
  /** passed / validated. */
  passRate: number | null;
  /** Final reason of every input: passed, test-failure, ..., and invalid-json / invalid-sample for bad lines. */
  byReason: Record<string, number>;
  byLevel: Record<string, RateRow>;
  /** turn n: samples that passed after exactly n debugging turns, and the pass rate had debugging stopped there. */
  byTurn: Array<{ turn: number; passed: number; cumulativePassed: number; cumulativeRate: number | null }>;
  /** Reasons of every run (first runs and debugging turns), to see what the turns fixed. */
  runsByReason: Record<string, number>;
  debugTokens: { promptTokens: number; completionTokens: number };
  sandboxMs: number;
  /** Test adequacy: the distribution of mutation scores, overall and per level. */
  mutation: MutationScoreFigures;
}

const rate = (passed: number, of: number): number | null => (of > 0 ? Math.round((passed / of) * 10_000) / 10_000 : null);

/** Counts outcomes as they stream past; `summary()` any time. */
export class ValidationTally {
  private total = 0;
  private passed = 0;
  private readonly byReason = new Map<string, number>();
  private readonly levels = new Map<string, { validated: number; passed: number }>();
  private readonly passedAtTurn = new Map<number, number>();
  private readonly runs = new Map<string, number>();
  private readonly tokens = { promptTokens: 0, completionTokens: 0 };
  private sandboxMs = 0;
  private validatedSamples = 0;
  private readonly mutation = new MutationScoreCounter();

  private bump<K>(map: Map<K, number>, key: K, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }

  /** An input that never became a sample (bad JSON, wrong shape). */
  addInvalid(reason: string): void {
    this.total++;
    this.bump(this.byReason, reason);
  }

  addSample(sample: GeneratedSample, finalReason: string): void {
    this.total++;
    this.validatedSamples++;
    const v = sample.validation;
    const ok = v?.passed === true;
    if (ok) this.passed++;
    this.bump(this.byReason, ok ? 'passed' : finalReason);
    const level = this.levels.get(sample.level) ?? { validated: 0, passed: 0 };
    level.validated++;
    if (ok) level.passed++;
    this.levels.set(sample.level, level);
    if (ok) this.bump(this.passedAtTurn, v.turns);
    this.mutation.add(sample);
    for (const a of v?.attempts ?? []) {
      this.bump(this.runs, a.reason);
      this.tokens.promptTokens += a.promptTokens;
      this.tokens.completionTokens += a.completionTokens;
      this.sandboxMs += a.durationMs;
    }
  }

  /** Takes the stage's outcome; a dead letter without a readable sample counts by its reason. */
  add(outcome: Outcome<GeneratedSample>): void {
    if (outcome.ok) return this.addSample(outcome.value, 'passed');
    const record = outcome.rejection.record;
    let sample: GeneratedSample | null = null;
    try {
      const parsed: unknown = record && !record.endsWith('…[truncated]') ? JSON.parse(record) : null;
      if (parsed && typeof parsed === 'object' && 'level' in parsed && 'validation' in parsed) sample = parsed as GeneratedSample;
    } catch {
      sample = null;
    }
    if (sample) this.addSample(sample, outcome.rejection.reason);
    else this.addInvalid(outcome.rejection.reason);
  }

  summary(): ValidationSummary {
    const turns = [...this.passedAtTurn.keys()];
    const maxTurn = turns.length ? Math.max(...turns) : 0;
    const byTurn: ValidationSummary['byTurn'] = [];
    let cumulative = 0;
    for (let turn = 0; turn <= maxTurn; turn++) {
      const passed = this.passedAtTurn.get(turn) ?? 0;
      cumulative += passed;
      byTurn.push({ turn, passed, cumulativePassed: cumulative, cumulativeRate: rate(cumulative, this.validatedSamples) });
    }
    const sorted = (map: Map<string, number>): Record<string, number> => Object.fromEntries([...map.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
    return {
      total: this.total,
      validated: this.validatedSamples,
      invalid: this.total - this.validatedSamples,
      passed: this.passed,
      rejected: this.total - this.passed,
      passRate: rate(this.passed, this.validatedSamples),
      byReason: sorted(this.byReason),
      byLevel: Object.fromEntries([...this.levels.entries()].sort().map(([k, v]) => [k, { ...v, rate: rate(v.passed, v.validated) }])),
      byTurn,
      runsByReason: sorted(this.runs),
      debugTokens: { ...this.tokens },
      sandboxMs: this.sandboxMs,
      mutation: this.mutation.result(),
    };
  }
}
