// The filter stage's view of the live corpus in Kafka mode: which content each live path holds
// (accepted, or a duplicate of content another live path holds). A content leaves the tree
// only when the last path holding it changes or goes; while another path still holds it,
// nothing is retracted. Restored from the compacted filter.paths changelog.
import type { PathEntry } from '../schemas/contract.js';
import { GroupedByPath } from './grouped-by-path.js';

export class PathStore {
  readonly #entries = new GroupedByPath<PathEntry>((entry) => entry.fileId);

  get size(): number {
    return this.#entries.size;
  }

  get(path: string): PathEntry | undefined {
    return this.#entries.get(path);
  }

  set(entry: PathEntry): void {
    this.#entries.set({ ...entry });
  }

  /** Forgets `path`; returns what it held. */
  delete(path: string): PathEntry | undefined {
    return this.#entries.delete(path);
  }

  /** Live paths holding `fileId`, in the order they came. */
  holders(fileId: string): string[] {
    return this.#entries.pathsWith(fileId);
  }
}
