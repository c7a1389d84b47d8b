// Entries kept one per path and found again by a key many paths may share (the content a path
// holds, the content a path was a near-duplicate of). The shared mechanism of the filter's
// PathStore and SuppressedStore.

export class GroupedByPath<E extends { path: string }> {
  readonly #byPath = new Map<string, E>();
  readonly #pathsBy = new Map<string, Set<string>>();

  constructor(private readonly keyOf: (entry: E) => string) {}

  get size(): number {
    return this.#byPath.size;
  }

  get(path: string): E | undefined {
    return this.#byPath.get(path);
  }

  /** Adds or replaces the entry of its path. */
  set(entry: E): void {
    this.delete(entry.path);
    this.#byPath.set(entry.path, entry);
    const key = this.keyOf(entry);
    const paths = this.#pathsBy.get(key) ?? new Set<string>();
    paths.add(entry.path);
    this.#pathsBy.set(key, paths);
  }

  /** Forgets `path`; returns what it held. */
  delete(path: string): E | undefined {
    const entry = this.#byPath.get(path);
    if (!entry) return undefined;
    this.#byPath.delete(path);
    const key = this.keyOf(entry);
    const paths = this.#pathsBy.get(key)!;
    paths.delete(path);
    if (paths.size === 0) this.#pathsBy.delete(key);
    return entry;
  }

  /** The paths whose entries have `key`, in the order they came. */
  pathsWith(key: string): string[] {
    return [...(this.#pathsBy.get(key) ?? [])];
  }
}
