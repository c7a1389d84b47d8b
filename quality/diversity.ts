// Diversity of the output: how much of the feature tree the samples reach, how evenly they use
// features, how varied their instructions are in wording (distinct n-grams) and in meaning
// (mean pairwise cosine distance of instruction embeddings).
import { cosine } from '../embeddings/embedder.js';
import type { TaskFeature } from '../schemas/contract.js';
import { pathKey, type FeatureTreeNode } from './records.js';
import { entropyBits, hash53, ratio, wordTokens } from './stats.js';

/** Which tree a path belongs to: a tree key, or ANY_TREE in a run with a single tree. */
export const ANY_TREE = '*';

const nodeKey = (tree: string, path: readonly string[]): string => `${tree}\u001e${pathKey(path)}`;

/**
 * Counts, per tree node, how many records (samples, or tasks) use it. A feature's path names the
 * node the sampler's walk ended on; the walk went through every ancestor, so they count too, and
 * a record counts once per node however many of its features pass through it.
 */
export class NodeHits {
  private readonly counts = new Map<string, number>();
  private added = 0;

  /** Records added. */
  get records(): number {
    return this.added;
  }

  add(treeKey: string | null, features: readonly Pick<TaskFeature, 'path'>[]): void {
    this.added += 1;
    const seen = new Set<string>();
    for (const f of features) {
      for (let depth = 1; depth <= f.path.length; depth++) {
        const prefix = f.path.slice(0, depth);
        // Under the record's own tree, and under ANY_TREE for runs with one tree.
        for (const tree of treeKey === null ? [ANY_TREE] : [treeKey, ANY_TREE]) seen.add(nodeKey(tree, prefix));
      }
    }
    for (const key of seen) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Records that use the node at `path` of tree `tree` (ANY_TREE: of any tree). */
  get(tree: string, path: readonly string[]): number {
    return this.counts.get(nodeKey(tree, path)) ?? 0;
  }
}

/**
 * The trees inside tree.json: one tree (scope ANY_TREE), or, for a run with one tree per
 * language, the wrapper's children, each named by its tree key.
 */
export function treeScopes(root: FeatureTreeNode): Array<{ tree: string; root: FeatureTreeNode }> {
  const wrapper = root.children.length > 0 && root.children.every((c) => c.origin === 'root');
  return wrapper ? root.children.map((c) => ({ tree: c.label, root: c })) : [{ tree: ANY_TREE, root }];
}

/** Visits every node below the scope roots with its path (labels from the category down). */
export function visitTree(root: FeatureTreeNode, visit: (node: FeatureTreeNode, path: string[], tree: string) => void): void {
  for (const scope of treeScopes(root)) {
    const walk = (node: FeatureTreeNode, path: string[]): void => {
      for (const child of node.children) {
        const childPath = [...path, child.label];
        visit(child, childPath, scope.tree);
        walk(child, childPath);
      }
    };
    walk(scope.root, []);
  }
}

export interface DepthCoverage {
  /** 1 for the categories. */
  depth: number;
  nodes: number;
  covered: number;
  share: number | null;
}

export interface TreeCoverage {
  nodes: number;
  covered: number;
  share: number | null;
  leaves: number;
  coveredLeaves: number;
  leafShare: number | null;
  byDepth: DepthCoverage[];
  /** Covered nodes by origin, to see whether evolved features get used. */
  byOrigin: Record<string, { nodes: number; covered: number; share: number | null }>;
}

/** Share of the tree's nodes (all, leaves, per depth, per origin) that at least one record uses. */
export function treeCoverage(root: FeatureTreeNode, hits: NodeHits): TreeCoverage {
  const depths: Array<{ nodes: number; covered: number }> = [];
  const byOrigin: TreeCoverage['byOrigin'] = {};
  let nodes = 0;
  let covered = 0;
  let leaves = 0;
  let coveredLeaves = 0;
  visitTree(root, (node, path, tree) => {
    const isCovered = hits.get(tree, path) > 0;
    const d = (depths[path.length] ??= { nodes: 0, covered: 0 });
    const o = (byOrigin[node.origin] ??= { nodes: 0, covered: 0, share: null });
    nodes += 1;
    d.nodes += 1;
    o.nodes += 1;
    if (isCovered) {
      covered += 1;
      d.covered += 1;
      o.covered += 1;
    }
    if (node.children.length === 0) {
      leaves += 1;
      if (isCovered) coveredLeaves += 1;
    }
  });
  for (const o of Object.values(byOrigin)) o.share = ratio(o.covered, o.nodes);
  const byDepth: DepthCoverage[] = [];
  depths.forEach((d, depth) => {
    if (d) byDepth.push({ depth, nodes: d.nodes, covered: d.covered, share: ratio(d.covered, d.nodes) });
  });
  return { nodes, covered, share: ratio(covered, nodes), leaves, coveredLeaves, leafShare: ratio(coveredLeaves, leaves), byDepth, byOrigin };
}

export interface EntropyFigures {
  /** Feature uses counted (one per feature per sample). */
  occurrences: number;
  distinct: number;
  entropyBits: number;
  /** log2(distinct): the entropy if every feature were used equally often. */
  maxEntropyBits: number;
  /** entropy / max entropy, 0..1; null with fewer than two distinct features. */
  evenness: number | null;
  /** 2^entropy: the number of equally used features with the same entropy. */
  perplexity: number;
}

export function entropyFigures(counts: ReadonlyMap<string, number>): EntropyFigures {
  let occurrences = 0;
  for (const c of counts.values()) occurrences += c;
  const h = entropyBits(counts.values());
  const distinct = counts.size;
  const max = distinct > 0 ? Math.log2(distinct) : 0;
  return { occurrences, distinct, entropyBits: h, maxEntropyBits: max, evenness: distinct > 1 ? h / max : null, perplexity: 2 ** h };
}

/** Counts feature uses by full path and by category, for the entropy of sampled features. */
export class FeatureUse {
  readonly byPath = new Map<string, number>();
  readonly byCategory = new Map<string, number>();

  add(features: readonly Pick<TaskFeature, 'path'>[]): void {
    for (const f of features) {
      if (f.path.length === 0) continue;
      const key = pathKey(f.path);
      this.byPath.set(key, (this.byPath.get(key) ?? 0) + 1);
      this.byCategory.set(f.path[0]!, (this.byCategory.get(f.path[0]!) ?? 0) + 1);
    }
  }

  result(): { features: EntropyFigures; categories: EntropyFigures } {
    return { features: entropyFigures(this.byPath), categories: entropyFigures(this.byCategory) };
  }
}

export interface DistinctNgrams {
  n: number;
  distinct: number;
  total: number;
  /** distinct / total (Li et al.'s distinct-n); null when there is no n-gram at all. */
  ratio: number | null;
}

/** distinct-n over texts, on lower-cased word tokens; n-grams never span two texts. */
export class DistinctNgramCounter {
  private readonly seen = new Set<number>();
  private total = 0;

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`n-gram length must be a positive integer, got ${n}`);
  }

  add(text: string): void {
    const tokens = wordTokens(text);
    for (let i = 0; i + this.n <= tokens.length; i++) {
      // Hashed, so a large run keeps numbers rather than strings in the set.
      this.seen.add(hash53(tokens.slice(i, i + this.n).join('\u0001')));
      this.total += 1;
    }
  }

  result(): DistinctNgrams {
    return { n: this.n, distinct: this.seen.size, total: this.total, ratio: ratio(this.seen.size, this.total) };
  }
}

export function distinctNgrams(texts: Iterable<string>, n: number): DistinctNgrams {
  const counter = new DistinctNgramCounter(n);
  for (const t of texts) counter.add(t);
  return counter.result();
}

export interface PairwiseDistance {
  /** Mean of 1 - cosine similarity over the pairs; null with fewer than two vectors. */
  mean: number | null;
  pairs: number;
  /** Every pair was measured (otherwise a seeded random sample of pairs). */
  exhaustive: boolean;
  vectors: number;
}

/**
 * Mean pairwise cosine distance of unit vectors. All pairs when there are at most `maxPairs`;
 * otherwise `maxPairs` pairs drawn uniformly (i ≠ j) with `random`, which estimates the same mean.
 */
export function meanPairwiseDistance(vectors: readonly Float32Array[], options: { maxPairs?: number; random?: () => number } = {}): PairwiseDistance {
  const n = vectors.length;
  const maxPairs = options.maxPairs ?? 200_000;
  if (n < 2) return { mean: null, pairs: 0, exhaustive: true, vectors: n };
  const all = (n * (n - 1)) / 2;
  let sum = 0;
  if (all <= maxPairs) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) sum += 1 - cosine(vectors[i]!, vectors[j]!);
    return { mean: sum / all, pairs: all, exhaustive: true, vectors: n };
  }
  const random = options.random ?? Math.random;
  for (let k = 0; k < maxPairs; k++) {
    const i = Math.floor(random() * n);
    let j = Math.floor(random() * (n - 1));
    if (j >= i) j += 1;
    sum += 1 - cosine(vectors[i]!, vectors[j]!);
  }
  return { mean: sum / maxPairs, pairs: maxPairs, exhaustive: false, vectors: n };
}

/** A uniform random sample of at most `capacity` items from a stream of any length (Algorithm R). */
export class Reservoir<T> {
  readonly items: T[] = [];
  seen = 0;

  constructor(
    readonly capacity: number,
    private readonly random: () => number,
  ) {}

  add(item: T): void {
    this.seen += 1;
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return;
    }
    const j = Math.floor(this.random() * this.seen);
    if (j < this.capacity) this.items[j] = item;
  }
}
