// Where canonicalization looks a label up: for every parent node, the exact spellings of its
// children and an HNSW index over their label (and alias) embeddings. A label is only ever
// compared with its would-be siblings, so "parsing" under "data processing" and "parsing"
// under "functionality" stay distinct nodes.
import type { Embedder } from '../embeddings/embedder.js';
import { GrowableHnsw, type HnswOptions } from './hnsw-index.js';
import type { TreeStore } from './tree-store.js';

/** Exact-match key: case, spacing and punctuation do not make a new label. */
export function spellingKey(label: string): string {
  return label.toLowerCase().replace(/[\s_\-./]+/g, ' ').trim();
}

interface Siblings {
  readonly exact: Map<string, string>;
  hnsw: GrowableHnsw | null;
  /** HNSW label -> node id. */
  readonly nodeIds: string[];
}

export interface LabelMatch {
  nodeId: string;
  similarity: number;
  exact: boolean;
}

export class LabelIndex {
  private readonly byParent = new Map<string, Siblings>();
  private vectors = 0;

  /** Vector length is taken from the first vector, so remote embedders need not know it up front. */
  constructor(private readonly hnswOptions: HnswOptions = { initialCapacity: 8, m: 12, efConstruction: 40, ef: 24 }) {}

  /** Number of vectors indexed across all parents. */
  get size(): number {
    return this.vectors;
  }

  get parents(): number {
    return this.byParent.size;
  }

  exact(parentId: string, label: string): string | undefined {
    return this.byParent.get(parentId)?.exact.get(spellingKey(label));
  }

  /** The most similar existing child of `parentId`, or null when it has none. */
  nearest(parentId: string, vector: Float32Array): LabelMatch | null {
    const hnsw = this.byParent.get(parentId)?.hnsw;
    if (!hnsw) return null;
    const [best] = hnsw.nearest(vector, 1);
    if (!best) return null;
    return { nodeId: this.byParent.get(parentId)!.nodeIds[best.label]!, similarity: best.similarity, exact: false };
  }

  /** Records a spelling of child `nodeId` under `parentId`; `vector` is its embedding. */
  add(parentId: string, nodeId: string, label: string, vector: Float32Array | null): void {
    let siblings = this.byParent.get(parentId);
    if (!siblings) {
      siblings = { exact: new Map(), hnsw: null, nodeIds: [] };
      this.byParent.set(parentId, siblings);
    }
    const key = spellingKey(label);
    if (siblings.exact.has(key)) return;
    siblings.exact.set(key, nodeId);
    if (vector) {
      siblings.hnsw ??= new GrowableHnsw(vector.length, this.hnswOptions);
      siblings.hnsw.add(vector);
      siblings.nodeIds.push(nodeId);
      this.vectors += 1;
    }
  }

  /** Rebuilds the index of a restored tree: every label and alias of every node. */
  static async rebuild(tree: TreeStore, embedder: Embedder, options?: HnswOptions): Promise<LabelIndex> {
    const index = new LabelIndex(options);
    const entries: Array<{ parentId: string; nodeId: string; label: string }> = [];
    for (const node of tree.all()) {
      if (node.parentId === null) continue;
      for (const label of [node.label, ...node.aliases]) entries.push({ parentId: node.parentId, nodeId: node.id, label });
    }
    const batch = 1024;
    for (let i = 0; i < entries.length; i += batch) {
      const slice = entries.slice(i, i + batch);
      const vectors = await embedder.embed(slice.map((e) => e.label));
      slice.forEach((e, j) => index.add(e.parentId, e.nodeId, e.label, vectors[j]!));
    }
    return index;
  }
}
