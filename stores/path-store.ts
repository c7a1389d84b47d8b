// The filter stage's view of the live corpus in Kafka mode: which content each live path holds
// (accepted, or a duplicate of content another live path holds). A content leaves the tree
// only when the last path holding it changes or goes; while another path still holds it,
// nothing is retracted. Restored from the compacted filter.paths changelog.
import type { PathEntry } from '../schemas/contract.js';

export class PathStore {
  readonly #byPath = new Map<string, PathEntry>();
  readonly #pathsOf = new Map<string, Set<string>>();

  get size(): number {
    return this.#byPath.size;
  }

  get(path: string): PathEntry | undefined {
    return this.#byPath.get(path);
  }

  set(entry: PathEntry): void {
    this.delete(entry.path);
    this.#byPath.set(entry.path, { ...entry });
    const paths = this.#pathsOf.get(entry.fileId) ?? new Set<string>();
    paths.add(entry.path);
    this.#pathsOf.set(entry.fileId, paths);
  }

  /** Forgets `path`; returns what it held. */
  delete(path: string): PathEntry | undefined {
    const entry = this.#byPath.get(path);
    if (!entry) return undefined;
    this.#byPath.delete(path);
    const paths = this.#pathsOf.get(entry.fileId)!;
    paths.delete(path);
    if (paths.size === 0) this.#pathsOf.delete(entry.fileId);
    return entry;
  }

  /** Live paths holding `fileId`, in the order they came. */
  holders(fileId: string): string[] {
    return [...(this.#pathsOf.get(fileId) ?? [])];
  }
}
