// Sampling a subtree of a feature tree, as the method describes it: walk down from the root; at
// depth d draw k_d children of every node reached, one after another without replacement, with
// p_i ∝ exp(log(f_i)/T_d) = f_i^(1/T_d). T = 1 follows the data; a large T approaches uniform,
// so rare features get their turn. The nodes the walk ends on are the result. Used by the sample
// stage (tasks) and the evolve stage (the subtree the model expands).
//
// Coverage-aware: each candidate's expected draws grow by its exact inclusion probability π_i of
// every draw among its siblings (k without replacement: lib/inclusion.ts), and the draw itself
// uses w_i · exp(−boost · s_i), s_i = drawn − expected so far. Why this only ever pulls realised
// counts toward the formula's: successive draws equal the top k of θ_i + Gumbel noise
// (θ = log w), so π(θ) = ∇Φ(θ) with Φ(θ) = E[max over k-sets S of Σ_{i∈S} θ_i + G_i]. Its
// Hessian J is symmetric, its rows sum to 0 (adding a constant to θ changes nothing), and
// J_ij ≤ 0 for i ≠ j (raising j never helps i into the top k). Hence for a tilt h = −boost·s,
// s·(π(θ+h) − π(θ)) = ∫₀¹ sᵀJ(θ+λh)h dλ = −½ Σ_{i≠j} |J_ij| (s_i − s_j)(h_i − h_j) ≤ 0: the
// expected change of the surplus never points along it. (The old target, draws·w/Σw, ignored
// sampling without replacement and pushed frequent nodes further above their share.)
import { weightedIndex } from '../lib/random.js';
import type { TreeNode } from '../schemas/contract.js';
import type { CoverageStore } from './coverage-store.js';
import { ROOT_ID, isRetired, type TreeStore } from './tree-store.js';

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

/**
 * What a node's frequency means to the sampler. 'files': the files that mention it (treesynth's
 * count). 'leaf-sum': a node with children weighs the sum of its children's weights, a leaf its
 * own count or 1 when it has none (the reference's convention, utils/tree.py).
 */
export type FrequencyConvention = 'files' | 'leaf-sum';

/** How a walk draws: the sampler's settings that shape one subtree. */
export interface SubtreeSampling {
  coverage: CoverageStore;
  /** Sampling temperature T > 0, or one per depth from the categories down (the last repeats). */
  temperature: number | readonly number[];
  /** Only the N most frequent children of a node are candidates (the reference's top-N). */
  topN: number;
  /** Pull toward each node's expected draws: one draw behind weighs e^boost more; 0: the formula alone. */
  coverageBoost: number;
  frequency?: FrequencyConvention;
  upweights?: Upweight[];
  /**
   * Paths every task must use: each node on the path is drawn at its depth (counting toward
   * k_d), the walk goes on beneath it, and a feature under it is marked mandatory.
   */
  required?: string[][];
  /** Paths every task contains, drawn like required ones but not marked mandatory (the reference's fixed features). */
  fixed?: string[][];
  /** Categories never sampled unless a required or fixed path names them. */
  excludeCategories?: string[];
  /** Multipliers by node id on top of the up-weights (the student's weak areas, stores/student-store.ts). */
  factors?: ReadonlyMap<string, number>;
}

/** Sampling weight of a node before coverage and up-weights: exp(log(f)/T). */
export function formulaWeight(frequency: number, temperature: number): number {
  return frequency > 0 ? Math.exp(Math.log(frequency) / temperature) : 0;
}

/** T at a depth (0: the categories). */
export function temperatureAt(temperature: number | readonly number[], depth: number): number {
  if (typeof temperature === 'number') return temperature;
  return temperature[Math.min(depth, temperature.length - 1)]!;
}

/** A tilt of e^±30 at most keeps every weight finite however far a node falls behind. */
const MAX_TILT = 30;

export interface Picked {
  node: TreeNode;
  mandatory: boolean;
}

/** What one walk over a tree needs resolved once: up-weights, exclusions, forced paths. */
interface Plan {
  factors: Map<string, number>;
  excluded: Set<string>;
  /** Children drawn under a parent whatever the dice say: the nodes of required and fixed paths. */
  forced: Map<string, TreeNode[]>;
  /** Ends of required paths: a feature under each is mandatory. */
  mustUse: TreeNode[];
  leafSums: Map<string, number>;
}

/** One draw among a node's children: the forced ones, and the free candidates with their weights. */
interface Visit {
  parent: TreeNode;
  forced: TreeNode[];
  free: TreeNode[];
  weights: number[];
  /** Free draws: k_d less the forced children. */
  draws: number;
}

/** The nodes a path names, from the category down, or undefined when the tree lacks one. */
function resolvePath(tree: TreeStore, path: readonly string[]): TreeNode[] | undefined {
  const nodes: TreeNode[] = [];
  for (let depth = 1; depth <= path.length; depth++) {
    const node = tree.findByPath(path.slice(0, depth));
    if (!node) return undefined;
    nodes.push(node);
  }
  return nodes;
}

/** Required paths the tree has no node for: a task that must use them cannot be made yet. */
export function missingPaths(tree: TreeStore, paths: readonly string[][]): string[][] {
  return paths.filter((p) => resolvePath(tree, p) === undefined);
}

function planFor(tree: TreeStore, config: SubtreeSampling): Plan {
  const factors = new Map<string, number>();
  for (const u of config.upweights ?? []) {
    const node = tree.findByPath(u.path);
    if (node) factors.set(node.id, (factors.get(node.id) ?? 1) * u.factor);
  }
  for (const [id, f] of config.factors ?? []) factors.set(id, (factors.get(id) ?? 1) * f);
  const forced = new Map<string, TreeNode[]>();
  const mustUse: TreeNode[] = [];
  const force = (paths: readonly string[][], mandatory: boolean) => {
    for (const path of paths) {
      const nodes = resolvePath(tree, path);
      if (!nodes) continue; // fixed paths the tree lacks are skipped, as the reference does; required ones are checked by the caller
      for (const node of nodes) {
        const siblings = forced.get(node.parentId!) ?? [];
        if (!siblings.some((s) => s.id === node.id)) siblings.push(node);
        forced.set(node.parentId!, siblings);
      }
      if (mandatory) mustUse.push(nodes[nodes.length - 1]!);
    }
  };
  force(config.required ?? [], true);
  force(config.fixed ?? [], false);
  return { factors, excluded: new Set(config.excludeCategories ?? []), forced, mustUse, leafSums: new Map() };
}

function leafSum(tree: TreeStore, node: TreeNode, topN: number, memo: Map<string, number>): number {
  const known = memo.get(node.id);
  if (known !== undefined) return known;
  const children = tree.topChildren(node.id, topN).filter((c) => !isRetired(c));
  const sum = children.length === 0 ? (node.frequency > 0 ? node.frequency : 1) : children.reduce((a, c) => a + leafSum(tree, c, topN, memo), 0);
  memo.set(node.id, sum);
  return sum;
}

/**
 * The draw under `parent` at `depth`, or undefined where the walk ends (a leaf, or below the
 * last k_d with nothing forced). `asOf` leaves out candidates created after that time.
 */
function visitAt(tree: TreeStore, parent: TreeNode, depth: number, breadth: readonly number[], plan: Plan, config: SubtreeSampling, asOf?: number): Visit | undefined {
  const forced = plan.forced.get(parent.id) ?? [];
  const k = breadth[depth] ?? 0;
  const draws = Math.max(0, k - forced.length);
  // Retired nodes (no live file mentions them) are never drawn.
  let free = draws === 0 ? [] : tree.topChildren(parent.id, config.topN).filter((c) => !isRetired(c));
  if (forced.length > 0) free = free.filter((c) => !forced.some((f) => f.id === c.id));
  if (parent.id === ROOT_ID && plan.excluded.size > 0) free = free.filter((c) => !plan.excluded.has(c.label));
  if (asOf !== undefined) free = free.filter((c) => c.createdAt <= asOf);
  if (forced.length === 0 && free.length === 0) return undefined;
  const temperature = temperatureAt(config.temperature, depth);
  const weights = free.map((c) => {
    const f = config.frequency === 'leaf-sum' ? leafSum(tree, c, config.topN, plan.leafSums) : c.frequency;
    return formulaWeight(f, temperature) * (plan.factors.get(c.id) ?? 1);
  });
  return { parent, forced, free, weights, draws };
}

/**
 * Adds this draw's inclusion probabilities to the candidates' expected draws; returns the free
 * candidates' surpluses from before it.
 */
function expectVisit(visit: Visit, coverage: CoverageStore): Float64Array {
  if (visit.forced.length > 0) coverage.expect(visit.forced.map((n) => n.id), visit.forced.map(() => 1));
  if (visit.draws === 0 || visit.free.length === 0) return new Float64Array(0);
  const pi = coverage.inclusion(visit.parent.id, visit.weights, visit.draws);
  return coverage.expect(visit.free.map((n) => n.id), pi);
}

/** The coverage tilt: w_i · exp(−boost · s_i), within e^±30. */
export function tiltedWeights(weights: readonly number[], surplus: ArrayLike<number>, boost: number): number[] {
  return weights.map((w, i) => w * Math.exp(Math.max(-MAX_TILT, Math.min(MAX_TILT, -boost * surplus[i]!))));
}

function drawAt(visit: Visit, random: () => number, config: SubtreeSampling): TreeNode[] {
  const surplus = expectVisit(visit, config.coverage);
  const weights = config.coverageBoost > 0 ? tiltedWeights(visit.weights, surplus, config.coverageBoost) : [...visit.weights];
  const chosen = [...visit.forced];
  for (let drawn = 0; drawn < visit.draws; drawn++) {
    const i = weightedIndex(weights, random);
    if (i < 0) break;
    weights[i] = 0; // without replacement
    chosen.push(visit.free[i]!);
  }
  for (const node of chosen) config.coverage.record(node.id);
  return chosen;
}

function isUnder(tree: TreeStore, node: TreeNode, ancestor: TreeNode): boolean {
  for (let n: TreeNode | undefined = node; n; n = n.parentId === null ? undefined : tree.get(n.parentId)) if (n.id === ancestor.id) return true;
  return false;
}

/** Draws the subtree of one task. Records every draw, and what it was expected to be, in the coverage store. */
export function sampleSubtree(tree: TreeStore, shape: LevelShape, random: () => number, config: SubtreeSampling): Picked[] {
  const plan = planFor(tree, config);
  const leaves: TreeNode[] = [];
  let frontier: TreeNode[] = [tree.root];
  for (let depth = 0; frontier.length > 0; depth++) {
    const next: TreeNode[] = [];
    for (const parent of frontier) {
      const visit = visitAt(tree, parent, depth, shape.breadth, plan, config);
      const chosen = visit ? drawAt(visit, random, config) : [];
      if (chosen.length === 0) leaves.push(parent); // the walk ends here
      else next.push(...chosen);
    }
    frontier = next;
  }
  const features = leaves.filter((n) => n.id !== ROOT_ID);
  // Mandatory: a feature under each required path, then random ones up to the level's count.
  const mandatory = new Set<number>();
  for (const target of plan.mustUse) {
    const under = features.map((n, i) => (isUnder(tree, n, target) ? i : -1)).filter((i) => i >= 0 && !mandatory.has(i));
    if (under.length > 0) mandatory.add(under[Math.floor(random() * under.length)]!);
  }
  const count = Math.max(shape.mandatory, mandatory.size);
  const order = features.map((_, i) => ({ i, r: random() })).sort((a, b) => a.r - b.r);
  for (const { i } of order) {
    if (mandatory.size >= count) break;
    mandatory.add(i);
  }
  return features.map((node, i) => ({ node, mandatory: mandatory.has(i) }));
}

/**
 * Puts back the coverage of a task drawn earlier (e.g. read from the tasks topic on restart):
 * its draws, and the expectations of the draws that made it, from the tree as it is now without
 * the nodes created after the task. Expectations are therefore as close as the tree's present
 * frequencies are to those it had then.
 */
export function replayCoverage(
  tree: TreeStore, task: { features: readonly { nodeId: string }[]; createdAt: number }, shape: LevelShape, config: SubtreeSampling,
): void {
  const drawn = new Set<string>();
  for (const feature of task.features) {
    for (let node = tree.get(feature.nodeId); node && node.parentId !== null && !drawn.has(node.id); node = tree.get(node.parentId)) drawn.add(node.id);
  }
  const plan = planFor(tree, config);
  let frontier: TreeNode[] = [tree.root];
  for (let depth = 0; frontier.length > 0; depth++) {
    const next: TreeNode[] = [];
    for (const parent of frontier) {
      const chosen = tree.children(parent.id).filter((c) => drawn.has(c.id));
      if (chosen.length === 0) continue;
      const visit = visitAt(tree, parent, depth, shape.breadth, plan, config, task.createdAt);
      if (visit) expectVisit(visit, config.coverage);
      for (const node of chosen) config.coverage.record(node.id);
      next.push(...chosen);
    }
    frontier = next;
  }
}
