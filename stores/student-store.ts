// Where the student model is weak: per tree and feature path (a category, and every node below
// it that a task used), how many of the student's answers ran against the teacher's tests and
// how many failed. Rebuilt by replaying the student.attempts topic (its changelog: one record
// per update), so a restarted sampler up-weights the same nodes.
//
// The sampler multiplies a node's weight by its factor: the odds of a student failure there
// against the student's odds overall, shrunk toward the overall rate while a node has few
// attempts (PRIOR_ATTEMPTS), never below 1 (areas the student masters keep the formula's weight)
// and at most `maxFactor` (one hard node must not take over the tree).
import type { StudentAttempt } from '../schemas/contract.js';
import type { TreeNode } from '../schemas/contract.js';
import type { TreeStore } from './tree-store.js';

/** Attempts' worth of the overall failure rate every node starts from. */
const PRIOR_ATTEMPTS = 2;
/** Keeps odds finite when every answer failed (or none did). */
const ODDS_EPSILON = 0.02;

export interface Tally {
  attempts: number;
  failures: number;
}

interface TreeTallies {
  all: Tally;
  /** Path joined by U+0000 -> tally. */
  byPath: Map<string, Tally>;
  version: number;
}

export interface CategoryRecord {
  category: string;
  attempts: number;
  failures: number;
  passRate: number;
  factor: number;
}

const SEP = '\u0000';

export class StudentStore {
  private readonly trees = new Map<string, TreeTallies>();
  /** Per tree: factors by node id, valid for one (store version, tree seq). */
  private readonly resolved = new Map<string, { version: number; seq: number; factors: Map<string, number> }>();

  constructor(readonly maxFactor = 4) {
    if (!(maxFactor >= 1)) throw new Error(`the student's largest up-weight must be at least 1, not ${maxFactor}`);
  }

  private of(treeKey: string): TreeTallies {
    let t = this.trees.get(treeKey);
    if (!t) this.trees.set(treeKey, (t = { all: { attempts: 0, failures: 0 }, byPath: new Map(), version: 0 }));
    return t;
  }

  /** One attempt: counts once for every distinct node on its features' paths. */
  apply(attempt: Pick<StudentAttempt, 'treeKey' | 'paths' | 'passed'>): void {
    const t = this.of(attempt.treeKey);
    const failed = attempt.passed ? 0 : 1;
    t.all.attempts += 1;
    t.all.failures += failed;
    const prefixes = new Set<string>();
    for (const path of attempt.paths) for (let depth = 1; depth <= path.length; depth++) prefixes.add(path.slice(0, depth).join(SEP));
    for (const key of prefixes) {
      let tally = t.byPath.get(key);
      if (!tally) t.byPath.set(key, (tally = { attempts: 0, failures: 0 }));
      tally.attempts += 1;
      tally.failures += failed;
    }
    t.version += 1;
  }

  attempts(treeKey?: string): number {
    if (treeKey !== undefined) return this.trees.get(treeKey)?.all.attempts ?? 0;
    let n = 0;
    for (const t of this.trees.values()) n += t.all.attempts;
    return n;
  }

  tally(treeKey: string, path: readonly string[]): Tally {
    const t = this.trees.get(treeKey)?.byPath.get(path.join(SEP));
    return t ? { ...t } : { attempts: 0, failures: 0 };
  }

  /** The up-weight of a path: 1 where the student does as well as overall or better. */
  factor(treeKey: string, path: readonly string[]): number {
    const t = this.trees.get(treeKey);
    if (!t || t.all.attempts === 0) return 1;
    return factorOf(this.tally(treeKey, path), t.all, this.maxFactor);
  }

  /** Factors by node id for a walk over `tree` (only nodes above 1), memoised while neither changes. */
  factorsFor(treeKey: string, tree: TreeStore): ReadonlyMap<string, number> {
    const t = this.trees.get(treeKey);
    if (!t || t.all.attempts === 0) return EMPTY;
    const memo = this.resolved.get(treeKey);
    if (memo && memo.version === t.version && memo.seq === tree.seq) return memo.factors;
    const factors = new Map<string, number>();
    for (const [key, tally] of t.byPath) {
      const f = factorOf(tally, t.all, this.maxFactor);
      if (f <= 1) continue;
      const node: TreeNode | undefined = tree.findByPath(key.split(SEP));
      if (node) factors.set(node.id, f);
    }
    this.resolved.set(treeKey, { version: t.version, seq: tree.seq, factors });
    return factors;
  }

  /** Per top-level category of a tree: the student's record and the category's factor. */
  categories(treeKey: string): CategoryRecord[] {
    const t = this.trees.get(treeKey);
    if (!t) return [];
    const out: CategoryRecord[] = [];
    for (const [key, tally] of t.byPath) {
      if (key.includes(SEP)) continue;
      out.push({
        category: key, attempts: tally.attempts, failures: tally.failures,
        passRate: tally.attempts === 0 ? 0 : (tally.attempts - tally.failures) / tally.attempts,
        factor: factorOf(tally, t.all, this.maxFactor),
      });
    }
    return out.sort((a, b) => b.attempts - a.attempts || a.category.localeCompare(b.category));
  }

  keys(): string[] {
    return [...this.trees.keys()];
  }
}

const EMPTY: ReadonlyMap<string, number> = new Map();

const odds = (p: number): number => {
  const q = Math.min(1 - ODDS_EPSILON, Math.max(ODDS_EPSILON, p));
  return q / (1 - q);
};

/** Odds ratio of a node's (shrunk) failure rate to the overall one, within [1, max]. */
export function factorOf(node: Tally, all: Tally, max: number): number {
  if (all.attempts === 0) return 1;
  const overall = all.failures / all.attempts;
  const rate = (node.failures + PRIOR_ATTEMPTS * overall) / (node.attempts + PRIOR_ATTEMPTS);
  return Math.min(max, Math.max(1, odds(rate) / odds(overall)));
}
