// Embeddings of the generated samples accepted so far, keyed by sample id, for output diversity:
// a new sample is compared with its nearest accepted neighbour only (HNSW, O(log n)). Keyed, so
// a sample seen again (a batch retried after a restart, a replay) is never its own duplicate and
// is stored once. The graph is created on the first vector: remote embedders learn their
// dimension from their first answer.
import { GrowableHnsw } from './hnsw-index.js';

export interface NearestSample {
  sampleId: string;
  similarity: number;
}

/** Serialisable form: [sampleId, vector] pairs in insertion order. */
export type SampleIndexSnapshot = Array<[sampleId: string, vector: number[]]>;

export class SampleIndex {
  private hnsw: GrowableHnsw | null = null;
  private readonly ids: string[] = [];
  private readonly known = new Set<string>();

  get size(): number {
    return this.ids.length;
  }

  has(sampleId: string): boolean {
    return this.known.has(sampleId);
  }

  /** The most similar accepted sample other than `sampleId` itself; null when there is none. */
  nearest(vector: Float32Array, sampleId: string): NearestSample | null {
    if (!this.hnsw) return null;
    for (const n of this.hnsw.nearest(vector, 2)) {
      const id = this.ids[n.label]!;
      if (id !== sampleId) return { sampleId: id, similarity: n.similarity };
    }
    return null;
  }

  /** Stores an accepted sample's vector; a sample id already stored keeps its first vector. */
  add(sampleId: string, vector: Float32Array): void {
    if (this.known.has(sampleId)) return;
    this.hnsw ??= new GrowableHnsw(vector.length, { initialCapacity: 1024, m: 12, efConstruction: 100, ef: 32 });
    this.hnsw.add(vector);
    this.ids.push(sampleId);
    this.known.add(sampleId);
  }

  snapshot(): SampleIndexSnapshot {
    return this.ids.map((id, i) => [id, this.hnsw!.vector(i)]);
  }

  /** Adds the pairs of a snapshot (first vector per id wins); throws on a malformed one. */
  restore(snapshot: Iterable<readonly [string, readonly number[]]>): void {
    for (const pair of snapshot) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || !Array.isArray(pair[1]) || !pair[1].every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new Error('sample index snapshot: expected [sampleId, vector] pairs');
      }
      if (this.hnsw && pair[1].length !== this.hnsw.dimension) throw new Error(`sample index snapshot: vector of ${pair[1].length} dimensions, the index has ${this.hnsw.dimension}`);
      this.add(pair[0], Float32Array.from(pair[1]));
    }
  }
}
