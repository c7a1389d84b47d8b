// Where canonicalization looks a label up: for every parent node, the exact spellings of its
// children and their label (and alias) embeddings. A label is only ever compared with its
// would-be siblings, so "parsing" under "data processing" and "parsing" under "functionality"
// stay distinct nodes. Small sibling sets are searched exactly; once a parent has
// `hnswThreshold` vectors they move into an HNSW index that then grows in place. Why: an
// hnswlib index costs about 2.7 MB however small it is (its lock tables are sized up front),
// and most parents have a handful of children, so one index per parent would make memory grow
// with the number of parents rather than with the labels.
import { cosine, type Embedder } from '../embeddings/embedder.js';
import { GrowableHnsw, type HnswOptions } from './hnsw-index.js';
import type { TreeStore } from './tree-store.js';

/** Exact-match key: case, spacing and punctuation do not make a new label. */
export function spellingKey(label: string): string {
  return label.toLowerCase().replace(/[\s_\-./]+/g, ' ').trim();
}

interface Siblings {
  readonly exact: Map<string, string>;
  /** Vectors searched exactly while the set is small; emptied when the HNSW index takes over. */
  vectors: Float32Array[];
  hnsw: GrowableHnsw | null;
  /** Vector position (in `vectors`, then in the HNSW index) -> node id. */
  readonly nodeIds: string[];
}

export interface LabelIndexOptions {
  hnsw?: HnswOptions;
  /** Vectors under one parent at which search moves from exact to HNSW. */
  hnswThreshold?: number;
}

export interface LabelMatch {
  nodeId: string;
  similarity: number;
  exact: boolean;
}

export class LabelIndex {
  private readonly byParent = new Map<string, Siblings>();
  private vectors = 0;

  private readonly hnswOptions: HnswOptions;
  private readonly hnswThreshold: number;

  /** Vector length is taken from the first vector, so remote embedders need not know it up front. */
  constructor(options: LabelIndexOptions = {}) {
    this.hnswThreshold = options.hnswThreshold ?? 128;
    this.hnswOptions = options.hnsw ?? { initialCapacity: 256, m: 12, efConstruction: 40, ef: 24 };
  }

  /** Parents whose children are searched with HNSW. */
  get hnswParents(): number {
    let n = 0;
    for (const s of this.byParent.values()) if (s.hnsw) n += 1;
    return n;
  }

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
    const siblings = this.byParent.get(parentId);
    if (!siblings) return null;
    if (siblings.hnsw) {
      const [best] = siblings.hnsw.nearest(vector, 1);
      return best ? { nodeId: siblings.nodeIds[best.label]!, similarity: best.similarity, exact: false } : null;
    }
    let best = -1;
    let similarity = -Infinity;
    siblings.vectors.forEach((v, i) => {
      const s = cosine(v, vector);
      if (s > similarity) {
        similarity = s;
        best = i;
      }
    });
    return best < 0 ? null : { nodeId: siblings.nodeIds[best]!, similarity, exact: false };
  }

  /** Records a spelling of child `nodeId` under `parentId`; `vector` is its embedding. */
  add(parentId: string, nodeId: string, label: string, vector: Float32Array | null): void {
    let siblings = this.byParent.get(parentId);
    if (!siblings) {
      siblings = { exact: new Map(), vectors: [], hnsw: null, nodeIds: [] };
      this.byParent.set(parentId, siblings);
    }
    const key = spellingKey(label);
    if (siblings.exact.has(key)) return;
    siblings.exact.set(key, nodeId);
    if (!vector) return;
    siblings.nodeIds.push(nodeId);
    this.vectors += 1;
    if (siblings.hnsw) {
      siblings.hnsw.add(vector);
      return;
    }
    siblings.vectors.push(vector);
    if (siblings.vectors.length >= this.hnswThreshold) {
      // One build when the set outgrows exact search; from here on it grows in place.
      const hnsw = new GrowableHnsw(vector.length, this.hnswOptions);
      for (const v of siblings.vectors) hnsw.add(v);
      siblings.hnsw = hnsw;
      siblings.vectors = [];
    }
  }

  /** Rebuilds the index of a restored tree: every label and alias of every node. */
  static async rebuild(tree: TreeStore, embedder: Embedder, options?: LabelIndexOptions): Promise<LabelIndex> {
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
