// Sampling a subtree of a feature tree, as the method describes it: walk down from the root; at
// depth d draw k_d children of every node reached, without replacement, with
// p_i ∝ exp(log(f_i)/T) = f_i^(1/T). T = 1 follows the data; a large T approaches uniform, so
// rare features get their turn. Coverage-aware: a node drawn fewer times than its share so far
// gains weight boost * (expected - drawn) * (mean sibling weight), so realised counts track the
// shares instead of starving rare nodes by bad luck. The nodes the walk ends on are the result.
// Used by the sample stage (tasks) and the evolve stage (the subtree the model expands).
import { weightedIndex } from '../lib/random.js';
import type { TreeNode } from '../schemas/contract.js';
import type { CoverageStore } from './coverage-store.js';
import { ROOT_ID, type TreeStore } from './tree-store.js';

export interface LevelShape {
  /** k_d: children drawn under every node reached at depth d (d = 0 is the root). */
  breadth: number[];
  /** How many of the sampled features the task must use. */
  mandatory: number;
}

export interface Upweight {
  /** Labels from the category down, e.g. ["error handling", "exception handling"]. */
  path: string[];
  factor: number;
}

/** How a walk draws: the sampler's settings that shape one subtree. */
export interface SubtreeSampling {
  coverage: CoverageStore;
  /** Sampling temperature T > 0. */
  temperature: number;
  /** Only the N most frequent children of a node are candidates (the reference's top-N). */
  topN: number;
  /** Coverage up-weighting strength; 0 samples by the formula alone. */
  coverageBoost: number;
  upweights?: Upweight[];
  /** Paths every task must contain, marked mandatory. */
  required?: string[][];
  /** Categories that are settings, not features (the target language is chosen separately). */
  excludeCategories?: string[];
}

/** Sampling weight of a node before coverage and up-weights: exp(log(f)/T). */
export function formulaWeight(frequency: number, temperature: number): number {
  return frequency > 0 ? Math.exp(Math.log(frequency) / temperature) : 0;
}

export interface Picked {
  node: TreeNode;
  mandatory: boolean;
}

/** Draws the subtree of one task. Records every draw in the coverage store. */
export function sampleSubtree(tree: TreeStore, shape: LevelShape, random: () => number, config: SubtreeSampling): Picked[] {
  const factors = new Map<string, number>();
  for (const u of config.upweights ?? []) {
    const node = tree.findByPath(u.path);
    if (node) factors.set(node.id, (factors.get(node.id) ?? 1) * u.factor);
  }
  const excluded = new Set(config.excludeCategories ?? []);
  let frontier: TreeNode[] = [tree.root];
  for (const k of shape.breadth) {
    const next: TreeNode[] = [];
    for (const parent of frontier) {
      let candidates = tree.topChildren(parent.id, config.topN);
      if (parent.id === ROOT_ID) candidates = candidates.filter((c) => !excluded.has(c.label));
      if (candidates.length === 0) {
        next.push(parent); // a leaf ends its branch early
        continue;
      }
      const weights = candidates.map((c) => formulaWeight(c.frequency, config.temperature) * (factors.get(c.id) ?? 1));
      if (config.coverageBoost > 0) {
        const total = weights.reduce((a, b) => a + b, 0);
        const draws = config.coverage.drawsAmongChildren(parent.id);
        const mean = total / weights.length;
        for (let i = 0; i < weights.length; i++) {
          const expected = total > 0 ? (draws * weights[i]!) / total : 0;
          const deficit = Math.max(0, expected - config.coverage.timesDrawn(candidates[i]!.id));
          weights[i] = weights[i]! + config.coverageBoost * deficit * mean;
        }
      }
      for (let drawn = 0; drawn < k; drawn++) {
        const i = weightedIndex(weights, random);
        if (i < 0) break;
        weights[i] = 0; // without replacement
        config.coverage.record(parent.id, candidates[i]!.id);
        next.push(candidates[i]!);
      }
    }
    frontier = next;
  }
  const leaves = frontier.filter((n) => n.id !== ROOT_ID);
  // Mandatory: a random subset of the drawn features, plus every required path.
  const order = leaves.map((_, i) => ({ i, r: random() })).sort((a, b) => a.r - b.r);
  const mandatory = new Set(order.slice(0, shape.mandatory).map((o) => o.i));
  const picked: Picked[] = leaves.map((node, i) => ({ node, mandatory: mandatory.has(i) }));
  for (const path of config.required ?? []) {
    const node = tree.findByPath(path);
    if (!node) continue;
    const already = picked.find((p) => p.node.id === node.id);
    if (already) already.mandatory = true;
    else picked.push({ node, mandatory: true });
  }
  return picked;
}

