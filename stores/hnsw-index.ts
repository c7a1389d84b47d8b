// A cosine HNSW index that grows in place: capacity doubles through `resizeIndex`, so inserts
// stay amortised O(log n) and the graph is never rebuilt.
import hnsw from 'hnswlib-node';

const { HierarchicalNSW } = hnsw;

export interface HnswOptions {
  /** Slots allocated at creation; doubled whenever full. */
  initialCapacity?: number;
  /** Graph degree; higher gives better recall at more memory. */
  m?: number;
  efConstruction?: number;
  /** Search breadth; raised to k when k is larger. */
  ef?: number;
  seed?: number;
}

export interface Neighbour {
  /** Position of the vector in insertion order. */
  label: number;
  /** Cosine similarity, 1 for identical directions. */
  similarity: number;
}

export class GrowableHnsw {
  private readonly index: InstanceType<typeof HierarchicalNSW>;
  private count = 0;
  private removed = 0;
  private capacity: number;
  private readonly ef: number;

  constructor(
    readonly dimension: number,
    options: HnswOptions = {},
  ) {
    this.capacity = Math.max(1, options.initialCapacity ?? 16);
    this.ef = options.ef ?? 48;
    this.index = new HierarchicalNSW('cosine', dimension);
    this.index.initIndex(this.capacity, options.m ?? 16, options.efConstruction ?? 100, options.seed ?? 100);
    this.index.setEf(this.ef);
  }

  /** Vectors added and not removed. */
  get size(): number {
    return this.count - this.removed;
  }

  get maxElements(): number {
    return this.capacity;
  }

  /** Adds a vector and returns its label (its insertion position). */
  add(vector: Float32Array | readonly number[]): number {
    if (vector.length !== this.dimension) {
      throw new Error(`vector has ${vector.length} dimensions, index expects ${this.dimension}`);
    }
    if (this.count === this.capacity) {
      this.capacity *= 2;
      this.index.resizeIndex(this.capacity);
    }
    const label = this.count;
    this.index.addPoint(Array.from(vector), label);
    this.count += 1;
    return label;
  }

  /** The stored vector of `label` (as the index keeps it: normalised for cosine). */
  vector(label: number): number[] {
    return this.index.getPoint(label);
  }

  /** Leaves a vector out of every later search (its label is not reused). */
  remove(label: number): void {
    this.index.markDelete(label);
    this.removed += 1;
  }

  /** Up to k nearest vectors, most similar first. */
  nearest(vector: Float32Array | readonly number[], k = 1): Neighbour[] {
    if (this.size === 0) return [];
    const n = Math.min(k, this.size);
    if (n > this.ef) this.index.setEf(n);
    const result = this.index.searchKnn(Array.from(vector), n);
    if (n > this.ef) this.index.setEf(this.ef);
    return result.neighbors.map((label, i) => ({ label, similarity: 1 - result.distances[i]! }));
  }
}
