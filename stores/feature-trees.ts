// All feature trees of a run, one per tree key (e.g. "all", or one per language), each with
// the label index canonicalization searches. Created on first use; restorable from the
// changelog alone, since the label index is derived from the tree.
import type { Embedder } from '../embeddings/embedder.js';
import type { TreeNodeChange } from '../schemas/contract.js';
import { LabelIndex } from './label-index.js';
import { TreeStore } from './tree-store.js';

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
      trees.trees.set(key, { tree, labels: await LabelIndex.rebuild(tree, embedder) });
    }
    return trees;
  }
}
