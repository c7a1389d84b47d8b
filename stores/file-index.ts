// Whole-file embeddings of the files accepted so far, for online seed diversity: a new file
// is compared with its nearest accepted neighbour only, in O(log n), instead of with all.
import { GrowableHnsw, type HnswOptions } from './hnsw-index.js';

export interface AcceptedFile {
  fileId: string;
  path: string;
}

export interface NearestFile extends AcceptedFile {
  similarity: number;
}

export class FileIndex {
  private readonly hnsw: GrowableHnsw;
  private readonly files: Array<AcceptedFile | null> = [];
  /** Label of each indexed file id: a retracted file leaves the index. */
  private readonly labels = new Map<string, number>();

  /**
   * efConstruction 40, not 100: inserting is most of the filter's cost (about 0.4 ms a file at
   * 100, on the thread that also keeps a model busy), and a near-duplicate is far closer than
   * the neighbours a shallower build misses. Over 7,200 files of two corpora (bench), both
   * found every nearest file at similarity >= 0.95 (the default radius 0.05); the build took
   * about a third less time.
   */
  constructor(dimension: number, options: HnswOptions = { initialCapacity: 1024, m: 12, efConstruction: 40, ef: 32 }) {
    this.hnsw = new GrowableHnsw(dimension, options);
  }

  get size(): number {
    return this.labels.size;
  }

  nearest(vector: Float32Array): NearestFile | null {
    const [best] = this.hnsw.nearest(vector, 1);
    return best ? { ...this.files[best.label]!, similarity: best.similarity } : null;
  }

  add(file: AcceptedFile, vector: Float32Array): void {
    this.labels.set(file.fileId, this.hnsw.add(vector));
    this.files.push(file);
  }

  /** Takes a file out (its content left the corpus): no later file is its near-duplicate. */
  remove(fileId: string): void {
    const label = this.labels.get(fileId);
    if (label === undefined) return;
    this.hnsw.remove(label);
    this.files[label] = null;
    this.labels.delete(fileId);
  }
}
