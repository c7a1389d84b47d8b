// The files the filter suppressed as near-duplicates, by path, each with the content it was a
// near-duplicate of. When that content leaves the corpus, the files it suppressed are filtered
// again (the first no longer near any live file is admitted), so the tree ends where a run over
// the final corpus would. Holds each file's bytes (bounded by the filter's max-bytes). Restored
// in Kafka mode from the compacted filter.suppressed changelog.
import type { SourceFile, SuppressedFile } from '../schemas/contract.js';
import { GroupedByPath } from './grouped-by-path.js';

export class SuppressedStore {
  readonly #entries = new GroupedByPath<SuppressedFile>((entry) => entry.of);

  get size(): number {
    return this.#entries.size;
  }

  get(path: string): SuppressedFile | undefined {
    return this.#entries.get(path);
  }

  /** Records that `file` lies within the radius of the live content `of` (at `ofPath`). */
  suppress(file: SourceFile, of: string, ofPath: string): SuppressedFile {
    const entry: SuppressedFile = {
      path: file.path, content: file.content, languageHint: file.languageHint, source: file.source, position: file.position, readAt: file.readAt, of, ofPath,
    };
    this.set(entry);
    return entry;
  }

  /** Adds or replaces a path's entry (a changelog record). */
  set(entry: SuppressedFile): void {
    this.#entries.set(entry);
  }

  /** Forgets `path` (it went, changed, or was admitted); returns what it held. */
  delete(path: string): SuppressedFile | undefined {
    return this.#entries.delete(path);
  }

  /** Takes out the files `of` suppressed, in path order (the order they are filtered again in, in every mode and after any restart). */
  takeSuppressedBy(of: string): SourceFile[] {
    return this.#entries.pathsWith(of).sort().map((path) => sourceFileOf(this.#entries.delete(path)!));
  }
}

/** The file as it arrived: what the filter stage reads. */
export function sourceFileOf(entry: SuppressedFile): SourceFile {
  return { path: entry.path, content: entry.content, languageHint: entry.languageHint, source: entry.source, position: entry.position, readAt: entry.readAt };
}
