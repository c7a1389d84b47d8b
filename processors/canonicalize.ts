// Canonicalization: every label path of a file is walked down the feature tree. At each level
// the label joins an existing child when it is spelled the same or its embedding is at least
// `threshold` similar (the new spelling is kept as an alias), and becomes a new node
// otherwise. Every node a file mentions gets frequency +1 once, so frequency counts files.
// A node a file creates below a category's first level whose label already names a node under
// another parent of the same category is the same feature placed twice: it is merged into the
// most frequent of those (TreeStore.mergeInto), and the changelog records the merge.
// Retracting a file (Kafka mode: it changed or was deleted) takes that +1 back from the same
// nodes; a counted node whose frequency reaches zero is retired (stores/tree-store.ts): kept
// with frequency 0 so its id and spellings stay stable, never sampled.
// With a source index, the file is also recorded under every node it mentioned (and taken out
// on retraction), so tasks can name the files behind their features (stores/source-index.ts).
import type { OperatorFunction } from 'rxjs';
import { concatMapInTurns } from '../lib/concat-map-in-turns.js';
import type { Embedder } from '../embeddings/embedder.js';
import type { FeatureSet, TreeNodeChange } from '../schemas/contract.js';
import { cleanLabel, resolveLabel, type FeatureTrees } from '../stores/feature-trees.js';
import type { SourceContribution, SourceIndex } from '../stores/source-index.js';
import { ROOT_ID, type TreeStore } from '../stores/tree-store.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const CANONICALIZE_STAGE = 'canonicalize';

export interface CanonicalizeConfig {
  trees: FeatureTrees;
  embedder: Embedder;
  /** Cosine similarity at or above which a label merges into an existing sibling. */
  threshold: number;
  /** Labels longer than this are cut; they are phrases, not prose. */
  maxLabelChars?: number;
  /** Lineage: which files mentioned each node; absent, none is kept. */
  sources?: SourceIndex;
}

export interface LabelCounts {
  /** Label occurrences resolved (every level of every feature path). */
  seen: number;
  /** Resolved to an existing node spelled the same. */
  exact: number;
  /** Resolved to an existing node spelled differently, by similarity. */
  merged: number;
  /** Became new nodes. */
  created: number;
}

export interface CanonicalizedFile {
  fileId: string;
  treeKey: string;
  changes: TreeNodeChange[];
  labels: LabelCounts;
  /** Every node the file raised by one, root included: what a retraction takes back. */
  nodeIds: string[];
  /** True when this takes a file's contribution back instead of adding one. */
  retracted: boolean;
  /**
   * Files the tree has taken in with this one, every version counted: it never goes down, so
   * rounds and requests numbered by it never repeat. Kafka mode sets it from its contribution
   * store; absent, the root's frequency counts (local mode, where nothing is retracted).
   */
  intake?: number;
}

/** A blank label ends a path: nothing below it can be placed. */
function upToFirstBlank(path: string[]): string[] {
  const blank = path.indexOf('');
  return blank === -1 ? path : path.slice(0, blank);
}

export async function canonicalizeFeatureSet(set: FeatureSet, config: CanonicalizeConfig): Promise<CanonicalizedFile> {
  const max = config.maxLabelChars ?? 80;
  const paths = set.features.map((f) => upToFirstBlank([f.category, ...f.labels].map((l) => cleanLabel(l, max)))).filter((p) => p.length > 0);

  const distinct = [...new Set(paths.flat())];
  const vectors = new Map<string, Float32Array>();
  const embedded = await config.embedder.embed(distinct);
  distinct.forEach((label, i) => vectors.set(label, embedded[i]!));

  const target = config.trees.get(set.treeKey);
  const counts: LabelCounts = { seen: 0, exact: 0, merged: 0, created: 0 };
  const mentioned = new Set<string>([ROOT_ID]);
  const created: string[] = [];
  for (const path of paths) {
    let parentId = ROOT_ID;
    for (const label of path) {
      const resolution = resolveLabel(target, parentId, label, vectors.get(label)!, config.threshold, { origin: 'extracted' });
      counts.seen += 1;
      counts[resolution.kind] += 1;
      mentioned.add(resolution.nodeId);
      if (resolution.kind === 'created') created.push(resolution.nodeId);
      parentId = resolution.nodeId;
    }
  }
  for (const id of mentioned) target.tree.addFrequency(id, 1);
  mergeAcrossParents(target.tree, created);
  config.sources?.add(set.treeKey, { fileId: set.fileId, path: set.path, repository: set.repository ?? null, license: set.license ?? null }, [...mentioned]);
  return { fileId: set.fileId, treeKey: set.treeKey, changes: target.tree.flush(set.fileId), labels: counts, nodeIds: [...mentioned], retracted: false };
}

/** The source index and every live file's contribution, from which it refills a node that lost a kept file. */
export interface RetractionLineage {
  sources: SourceIndex;
  remaining: () => Iterable<SourceContribution>;
}

/**
 * Takes back what a file added (its `nodeIds`, each -1): the tree changes with cause
 * `retract:<fileId>`. With `lineage`, the file also leaves the source index.
 */
export function retractContribution(trees: FeatureTrees, contribution: { fileId: string; treeKey: string; nodeIds: readonly string[] }, lineage?: RetractionLineage): CanonicalizedFile {
  lineage?.sources.remove(contribution.treeKey, contribution.fileId, contribution.nodeIds, lineage.remaining);
  const { tree } = trees.get(contribution.treeKey);
  // A node merged into another since (same feature, other parent) took its counts along: follow it.
  for (const id of contribution.nodeIds.map((n) => tree.resolveId(n))) {
    const node = tree.get(id);
    // Never below zero: a count is of files, and a node can only lose what it was given.
    if (node && node.frequency > 0) tree.addFrequency(id, -1);
  }
  return {
    fileId: contribution.fileId, treeKey: contribution.treeKey, changes: tree.flush(`retract:${contribution.fileId}`),
    labels: { seen: 0, exact: 0, merged: 0, created: 0 }, nodeIds: [...contribution.nodeIds], retracted: true,
  };
}

/**
 * Nodes just created whose label already names a node under another parent of their category
 * (below the first level) merge into the most frequent of those; ties go to the older node.
 */
function mergeAcrossParents(tree: TreeStore, created: readonly string[]): void {
  for (const id of created) {
    const node = tree.get(id);
    if (!node || node.depth < 3) continue;
    const [into] = tree.samePlacedElsewhere(id).filter((n) => !created.includes(n.id)).sort((a, b) => b.frequency - a.frequency || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    if (into) tree.mergeInto(id, into.id);
  }
}

/** The stage: one file at a time, in order, since it mutates the tree. */
export function canonicalizeStage(config: CanonicalizeConfig): OperatorFunction<FeatureSet, Outcome<CanonicalizedFile>> {
  return concatMapInTurns(async (set: FeatureSet) => {
    try {
      return accept(await canonicalizeFeatureSet(set, config));
    } catch (error) {
      return reject<CanonicalizedFile>({
        stage: CANONICALIZE_STAGE,
        reason: 'embedding-failed',
        detail: error instanceof Error ? error.message : String(error),
        recordId: set.fileId,
        path: set.path,
        record: { fileId: set.fileId, path: set.path, features: set.features.length },
      });
    }
  });
}
