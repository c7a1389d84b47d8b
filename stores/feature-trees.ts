// All feature trees of a run, one per tree key (e.g. "all", or one per language), each with
// the label index canonicalization searches. Created on first use; restorable from the
// changelog alone, since the label index is derived from the tree.
import type { Embedder } from '../embeddings/embedder.js';
import type { TreeNodeChange } from '../schemas/contract.js';
import { LabelIndex } from './label-index.js';
import { TreeStore, type NewNode } from './tree-store.js';

export interface FeatureTree {
  readonly tree: TreeStore;
  readonly labels: LabelIndex;
}

export class FeatureTrees {
  private readonly trees = new Map<string, FeatureTree>();

  constructor(private readonly clock: () => number = Date.now) {}

  get(treeKey: string): FeatureTree {
    let entry = this.trees.get(treeKey);
    if (!entry) {
      entry = { tree: new TreeStore(treeKey, this.clock), labels: new LabelIndex() };
      this.trees.set(treeKey, entry);
    }
    return entry;
  }

  keys(): string[] {
    return [...this.trees.keys()].sort();
  }

  /** Total nodes over all trees, roots included. */
  get nodeCount(): number {
    let n = 0;
    for (const { tree } of this.trees.values()) n += tree.size;
    return n;
  }

  static async restore(changes: Iterable<TreeNodeChange>, embedder: Embedder, clock?: () => number): Promise<FeatureTrees> {
    const byKey = new Map<string, TreeNodeChange[]>();
    for (const change of changes) {
      const list = byKey.get(change.treeKey);
      if (list) list.push(change);
      else byKey.set(change.treeKey, [change]);
    }
    const trees = new FeatureTrees(clock);
    for (const [key, list] of byKey) {
      const tree = TreeStore.restore(key, list, clock);
      const labels = await LabelIndex.rebuild(tree, embedder);
      // A merged node's old place still names it: a label found there lands on the node it went into.
      const moved = [...tree.merges()].filter(([, r]) => tree.has(r.parentId));
      const vectors = moved.length > 0 ? await embedder.embed(moved.map(([, r]) => r.label)) : [];
      moved.forEach(([id, r], i) => labels.add(r.parentId, id, r.label, vectors[i]!));
      trees.trees.set(key, { tree, labels });
    }
    return trees;
  }
}

/** A label as the tree keeps it: one line, trimmed, lower case, at most `maxChars`. */
export function cleanLabel(label: string, maxChars = 80): string {
  return label.replace(/\s+/g, ' ').trim().toLowerCase().slice(0, maxChars);
}

export interface Resolution {
  nodeId: string;
  kind: 'exact' | 'merged' | 'created';
  similarity: number;
}

/**
 * Finds or creates the child of `parentId` that `label` names. Shared with tree evolution, so
 * proposed labels never re-add what exists under another spelling.
 */
export function resolveLabel(
  target: FeatureTree,
  parentId: string,
  label: string,
  vector: Float32Array,
  threshold: number,
  spec: Omit<NewNode, 'parentId' | 'label'>,
): Resolution {
  // The index keeps the ids it was given; a node merged across parents since stands for the node it went into.
  const exact = target.labels.exact(parentId, label);
  if (exact) return { nodeId: target.tree.resolveId(exact), kind: 'exact', similarity: 1 };
  const near = target.labels.nearest(parentId, vector);
  if (near && near.similarity >= threshold) {
    const nodeId = target.tree.resolveId(near.nodeId);
    target.tree.addAlias(nodeId, label);
    target.labels.add(parentId, near.nodeId, label, vector);
    return { nodeId, kind: 'merged', similarity: near.similarity };
  }
  const node = target.tree.addNode({ ...spec, parentId, label });
  target.labels.add(parentId, node.id, label, vector);
  return { nodeId: node.id, kind: 'created', similarity: near?.similarity ?? 0 };
}
