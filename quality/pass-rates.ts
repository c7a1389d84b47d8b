// Pass rates of validation: per level, and per debugging turn. A sample counts once, by id:
// passing samples come from samples.jsonl, failing ones from the validate stage's dead letters
// (or from samples.jsonl when a hand-edited or re-checked file keeps them with passed=false).
import type { GeneratedSample, Rejection } from '../schemas/contract.js';
import { isValidationRejection, readValidation, rejectedRecord } from './records.js';
import { ratio } from './stats.js';

/** One validated sample, reduced to what pass rates need. */
export interface ValidationOutcome {
  sampleId: string | null;
  /** null when the dead letter's record was cut off and the level is unknown. */
  level: string | null;
  passed: boolean;
  turns: number;
  reason: string | null;
}

export interface LevelPassRate {
  validated: number;
  passed: number;
  rate: number | null;
}

export interface TurnPassRate {
  /** Debugging turns: 0 means as generated. */
  turn: number;
  /** Samples that passed after exactly this many turns. */
  passed: number;
  /** Samples that passed within this many turns. */
  cumulativePassed: number;
  /** cumulativePassed / validated: the pass rate had debugging stopped after this turn. */
  cumulativeRate: number | null;
}

export interface PassRates {
  validated: number;
  passed: number;
  failed: number;
  /** Samples in samples.jsonl with no validation result (validation off, or not run yet). */
  notValidated: number;
  rate: number | null;
  byLevel: Record<string, LevelPassRate>;
  byTurn: TurnPassRate[];
  /** Final reasons of the failures (test failure, timeout, ...). */
  failuresByReason: Record<string, number>;
}

/** The validation outcome of a sample from samples.jsonl, or null when it was not validated. */
export function sampleOutcome(sample: GeneratedSample): ValidationOutcome | null {
  const v = readValidation(sample.validation);
  return v ? { sampleId: sample.sampleId, level: sample.level, passed: v.passed, turns: v.turns, reason: v.reason } : null;
}

/** The outcome a validate-stage dead letter records; null for dead letters of other stages. */
export function rejectionOutcome(rejection: Rejection): ValidationOutcome | null {
  if (!isValidationRejection(rejection)) return null;
  const record = rejectedRecord(rejection);
  const v = readValidation(record?.['validation']);
  // A long sample is cut off in the dead letter, but its level comes early in the JSON.
  const level = typeof record?.['level'] === 'string' ? record['level'] : (/"level":"([a-z_]+)"/.exec(rejection.record ?? '')?.[1] ?? null);
  return { sampleId: rejection.recordId, level, passed: false, turns: v?.turns ?? 0, reason: v?.reason ?? rejection.reason };
}

/** Accumulates outcomes one at a time (streams of any length), keeping one per sample id. */
export class PassRateCounter {
  private readonly outcomes = new Map<string, ValidationOutcome>();
  private readonly anonymous: ValidationOutcome[] = [];
  private unvalidated = 0;

  addSample(sample: GeneratedSample): void {
    const outcome = sampleOutcome(sample);
    if (outcome) this.add(outcome);
    else this.unvalidated += 1;
  }

  addRejection(rejection: Rejection): void {
    const outcome = rejectionOutcome(rejection);
    if (outcome) this.add(outcome);
  }

  add(outcome: ValidationOutcome): void {
    if (outcome.sampleId === null) this.anonymous.push(outcome);
    // A later record of the same sample (a re-check) replaces the earlier one.
    else this.outcomes.set(outcome.sampleId, outcome);
  }

  result(): PassRates {
    return passRates([...this.outcomes.values(), ...this.anonymous], this.unvalidated);
  }
}

export function passRates(outcomes: readonly ValidationOutcome[], notValidated = 0): PassRates {
  const byLevel: Record<string, LevelPassRate> = {};
  const failuresByReason: Record<string, number> = {};
  const passedAt: number[] = [];
  let passed = 0;
  let maxTurn = 0;
  for (const o of outcomes) {
    const level = o.level ?? 'unknown';
    const l = (byLevel[level] ??= { validated: 0, passed: 0, rate: null });
    l.validated += 1;
    maxTurn = Math.max(maxTurn, o.turns);
    if (o.passed) {
      passed += 1;
      l.passed += 1;
      passedAt[o.turns] = (passedAt[o.turns] ?? 0) + 1;
    } else {
      const reason = o.reason ?? 'unknown';
      failuresByReason[reason] = (failuresByReason[reason] ?? 0) + 1;
    }
  }
  for (const l of Object.values(byLevel)) l.rate = ratio(l.passed, l.validated);
  const byTurn: TurnPassRate[] = [];
  let cumulative = 0;
  if (outcomes.length > 0) {
    for (let turn = 0; turn <= maxTurn; turn++) {
      const n = passedAt[turn] ?? 0;
      cumulative += n;
      byTurn.push({ turn, passed: n, cumulativePassed: cumulative, cumulativeRate: ratio(cumulative, outcomes.length) });
    }
  }
  return {
    validated: outcomes.length,
    passed,
    failed: outcomes.length - passed,
    notValidated,
    rate: ratio(passed, outcomes.length),
    byLevel,
    byTurn,
    failuresByReason,
  };
}
