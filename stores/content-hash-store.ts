// Exact-dedup state of the filter stage: content hash -> path of the first file with that content.
// Kept explicit (not a closure inside the operator) so a run can persist and resume it.

/** Serialisable form of a ContentHashStore: [hash, first path] pairs in insertion order. */
export type ContentHashSnapshot = Array<[hash: string, path: string]>;

export class ContentHashStore {
  readonly #firstPath = new Map<string, string>();

  /** The path first seen with this hash, or undefined if the hash is new. */
  has(hash: string): string | undefined {
    return this.#firstPath.get(hash);
  }

  /** Records `path` for `hash` unless the hash is already known (the first path wins). */
  add(hash: string, path: string): void {
    if (!this.#firstPath.has(hash)) this.#firstPath.set(hash, path);
  }

  /** Forgets a hash (no live path holds its content any more), or points it at another path. */
  delete(hash: string): void {
    this.#firstPath.delete(hash);
  }

  repoint(hash: string, path: string): void {
    if (this.#firstPath.has(hash)) this.#firstPath.set(hash, path);
  }

  get size(): number {
    return this.#firstPath.size;
  }

  entries(): IterableIterator<[string, string]> {
    return this.#firstPath.entries();
  }

  snapshot(): ContentHashSnapshot {
    return [...this.#firstPath.entries()];
  }

  /** Adds the pairs of a snapshot (first path still wins); throws on a malformed snapshot. */
  restore(snapshot: Iterable<readonly [string, string]>): void {
    for (const pair of snapshot) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        throw new Error('content hash snapshot: expected [hash, path] string pairs');
      }
      this.add(pair[0], pair[1]);
    }
  }

  static fromSnapshot(snapshot: Iterable<readonly [string, string]>): ContentHashStore {
    const store = new ContentHashStore();
    store.restore(snapshot);
    return store;
  }
}
