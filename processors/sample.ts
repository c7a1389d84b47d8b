// Subtree sampling, as the method describes it: walk down from the root; at depth d draw k_d
// children of every node reached, without replacement, with p_i ∝ exp(log(f_i)/T) = f_i^(1/T).
// T = 1 follows the data; a large T approaches uniform, so rare features get their turn.
// Coverage-aware: a node drawn fewer times than its share so far gains weight
// boost * (expected - drawn) * (mean sibling weight), so realised counts track the shares
// instead of starving rare nodes by bad luck: a rare node gets its turn once it is owed one. The nodes the walk ends on become the task's features.
import { createHash } from 'node:crypto';
import { map, type OperatorFunction } from 'rxjs';
import type { SynthesisTask, TaskFeature, TaskLevel, TaskRequest, TreeNode } from '../schemas/contract.js';
import type { CoverageStore } from '../stores/coverage-store.js';
import type { FeatureTrees } from '../stores/feature-trees.js';
import { ROOT_ID, type TreeStore } from '../stores/tree-store.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';
import { mixSeed, seededRandom, weightedIndex } from '../lib/random.js';

export const SAMPLE_STAGE = 'sample';

export interface LevelShape {
  /** k_d: children drawn under every node reached at depth d (d = 0 is the root). */
  breadth: number[];
  /** How many of the sampled features the task must use. */
  mandatory: number;
}

/** Larger breadth and depth make more complex tasks: function → file → multi-file. */
export const DEFAULT_LEVELS: Readonly<Record<TaskLevel, LevelShape>> = {
  function: { breadth: [3, 1, 1], mandatory: 1 },
  file: { breadth: [5, 2, 1, 1], mandatory: 2 },
  multi_file: { breadth: [7, 2, 2, 1], mandatory: 3 },
};

export const DEFAULT_LEVEL_MIX: Readonly<Record<TaskLevel, number>> = { function: 0.6, file: 0.3, multi_file: 0.1 };

export interface Upweight {
  /** Labels from the category down, e.g. ["error handling", "exception handling"]. */
  path: string[];
  factor: number;
}

export interface SamplerConfig {
  trees: FeatureTrees;
  coverage: CoverageStore;
  seed: number;
  /** Sampling temperature T > 0. */
  temperature: number;
  levels: Record<TaskLevel, LevelShape>;
  /** Weights of the levels when a request leaves the level open. */
  levelMix: Record<TaskLevel, number>;
  targetLanguage: string;
  /** Only the N most frequent children of a node are candidates (the reference's top-N). */
  topN: number;
  /** Coverage up-weighting strength; 0 samples by the formula alone. */
  coverageBoost: number;
  upweights?: Upweight[];
  /** Paths every task must contain, marked mandatory. */
  required?: string[][];
  /** Categories that are settings, not features (the target language is chosen separately). */
  excludeCategories?: string[];
  clock?: () => number;
}

/** Sampling weight of a node before coverage and up-weights: exp(log(f)/T). */
export function formulaWeight(frequency: number, temperature: number): number {
  return frequency > 0 ? Math.exp(Math.log(frequency) / temperature) : 0;
}

interface Picked {
  node: TreeNode;
  mandatory: boolean;
}

/** Finds a node by its label path (labels or aliases), or undefined. */
export function findByPath(tree: TreeStore, path: readonly string[]): TreeNode | undefined {
  let current = tree.root;
  for (const label of path) {
    const wanted = label.toLowerCase();
    const next = tree.children(current.id).find((c) => c.label === wanted || c.aliases.includes(wanted));
    if (!next) return undefined;
    current = next;
  }
  return current;
}

/** Draws the subtree of one task. Records every draw in the coverage store. */
export function sampleSubtree(tree: TreeStore, shape: LevelShape, random: () => number, config: SamplerConfig): Picked[] {
  const factors = new Map<string, number>();
  for (const u of config.upweights ?? []) {
    const node = findByPath(tree, u.path);
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
    const node = findByPath(tree, path);
    if (!node) continue;
    const already = picked.find((p) => p.node.id === node.id);
    if (already) already.mandatory = true;
    else picked.push({ node, mandatory: true });
  }
  return picked;
}

function pickLevel(mix: Record<TaskLevel, number>, random: () => number): TaskLevel {
  const levels = Object.keys(mix) as TaskLevel[];
  const i = weightedIndex(levels.map((l) => mix[l]), random);
  return levels[Math.max(0, i)]!;
}

export function sampleTask(request: TaskRequest, config: SamplerConfig): Outcome<SynthesisTask> {
  const tree = config.trees.get(request.treeKey).tree;
  const random = seededRandom(mixSeed(config.seed, request.index));
  const level = request.level ?? pickLevel(config.levelMix, random);
  const picked = sampleSubtree(tree, config.levels[level], random, config);
  if (picked.length === 0) {
    return reject({
      stage: SAMPLE_STAGE,
      reason: 'empty-tree',
      detail: `tree ${request.treeKey} has no features to sample yet`,
      recordId: `${request.treeKey}#${request.index}`,
      record: request,
    });
  }
  const features: TaskFeature[] = picked.map(({ node, mandatory }) => ({
    nodeId: node.id,
    path: tree.pathOf(node.id),
    frequency: node.frequency,
    mandatory,
  }));
  const taskId = createHash('sha1')
    .update(`${request.treeKey}\u0000${config.seed}\u0000${request.index}\u0000${tree.seq}`)
    .digest('hex')
    .slice(0, 16);
  return accept({
    taskId,
    treeKey: request.treeKey,
    level,
    targetLanguage: config.targetLanguage,
    seed: config.seed,
    index: request.index,
    features,
    treeSeq: tree.seq,
    createdAt: (config.clock ?? Date.now)(),
  });
}

/** The stage: one task per request, in order (draws update the coverage store). */
export function sampleSubtrees(config: SamplerConfig): OperatorFunction<TaskRequest, Outcome<SynthesisTask>> {
  return map((request) => sampleTask(request, config));
}
