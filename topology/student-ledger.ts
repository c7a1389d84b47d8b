// What a run with a student model tells its user: the student's pass rate per top-level
// category, the up-weight each category earned, and how the share of tasks that use each
// category moved from the first round of tasks (sampled before the student had answered
// anything) to the last. Local mode feeds it tasks by round and the student's attempts.
import type { StudentAttempt, SynthesisTask } from '../schemas/contract.js';
import type { StudentStore } from '../stores/student-store.js';

export interface StudentCategoryRow {
  category: string;
  attempts: number;
  passed: number;
  /** null before any attempt. */
  passRate: number | null;
  /** The category's sampling up-weight at the end (1: the formula's weight). */
  factor: number;
  /** Share of the first round's tasks that use this category. */
  firstRoundShare: number;
  /** Share of the last round's tasks that use it. */
  lastRoundShare: number;
}

export interface StudentSummary {
  model: string | null;
  rounds: number;
  attempts: number;
  passed: number;
  passRate: number | null;
  /** Validated samples the student could not be judged on (endpoint or sandbox failures): dead letters. */
  unjudged: number;
  byCategory: StudentCategoryRow[];
  /** Tasks per round: how many, and the share using each category. */
  roundShares: Array<{ round: number; tasks: number; shares: Record<string, number> }>;
}

export class StudentLedger {
  private readonly roundTasks: Array<Map<string, number>> = [];
  private readonly counts: number[] = [];
  private model: string | null = null;
  private attempts = 0;
  private passed = 0;
  private unjudgedCount = 0;

  /** A task sampled in `round` (0-based). */
  task(round: number, task: Pick<SynthesisTask, 'features'>): void {
    while (this.roundTasks.length <= round) {
      this.roundTasks.push(new Map());
      this.counts.push(0);
    }
    this.counts[round] = (this.counts[round] ?? 0) + 1;
    const shares = this.roundTasks[round]!;
    for (const category of new Set(task.features.map((f) => f.path[0]!))) shares.set(category, (shares.get(category) ?? 0) + 1);
  }

  attempt(a: Pick<StudentAttempt, 'passed' | 'model'>): void {
    this.attempts += 1;
    if (a.passed) this.passed += 1;
    this.model ??= a.model;
  }

  unjudged(): void {
    this.unjudgedCount += 1;
  }

  summary(store: StudentStore, treeKeys: readonly string[]): StudentSummary {
    const rows = new Map<string, { attempts: number; failures: number; factor: number }>();
    for (const key of treeKeys) {
      for (const c of store.categories(key)) {
        const row = rows.get(c.category) ?? { attempts: 0, failures: 0, factor: 1 };
        row.attempts += c.attempts;
        row.failures += c.failures;
        row.factor = Math.max(row.factor, c.factor);
        rows.set(c.category, row);
      }
    }
    const share = (round: number, category: string) => {
      const n = this.counts[round] ?? 0;
      return n === 0 ? 0 : (this.roundTasks[round]?.get(category) ?? 0) / n;
    };
    const last = this.counts.length - 1;
    const categories = new Set([...rows.keys(), ...this.roundTasks.flatMap((m) => [...m.keys()])]);
    const byCategory: StudentCategoryRow[] = [...categories].map((category) => {
      const r = rows.get(category) ?? { attempts: 0, failures: 0, factor: 1 };
      return {
        category, attempts: r.attempts, passed: r.attempts - r.failures, passRate: r.attempts === 0 ? null : (r.attempts - r.failures) / r.attempts,
        factor: Number(r.factor.toFixed(3)), firstRoundShare: round3(share(0, category)), lastRoundShare: round3(share(last, category)),
      };
    });
    byCategory.sort((a, b) => b.attempts - a.attempts || a.category.localeCompare(b.category));
    return {
      model: this.model, rounds: this.counts.length, attempts: this.attempts, passed: this.passed,
      passRate: this.attempts === 0 ? null : this.passed / this.attempts, unjudged: this.unjudgedCount, byCategory,
      roundShares: this.counts.map((tasks, round) => ({ round, tasks, shares: Object.fromEntries([...this.roundTasks[round]!].map(([c, n]) => [c, round3(n / tasks)])) })),
    };
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
