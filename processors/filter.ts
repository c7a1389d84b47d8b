// The filter stage: raw SourceFiles in, CodeFiles out, one file at a time through three checks
// (so two duplicates can never pass together): the pure checks of analysis/file-checks.ts, exact
// dedup against the content-hash store (the first live file with some content wins), and online
// seed diversity: a file whose embedding lies within `radius` (cosine distance) of a file already
// accepted is a near-duplicate, so later stages, and the LLM calls they make, do not pay for
// the same code twice. Over a changing corpus (Kafka mode) the stage keeps the near-duplicates
// it suppressed; when the content they duplicated leaves, they are filtered again, in path order.
import { map, type OperatorFunction } from 'rxjs';
import { concatMapInTurns } from '../lib/concat-map-in-turns.js';
import { checkFile, FILTER_STAGE, type FilterOptions, type FilterReason } from '../analysis/file-checks.js';
import type { Embedder } from '../embeddings/embedder.js';
import type { CodeFile, SourceFile } from '../schemas/contract.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';
import type { ContentHashStore } from '../stores/content-hash-store.js';
import type { FileIndex, NearestFile } from '../stores/file-index.js';
import type { PathStore } from '../stores/path-store.js';
import type { SuppressedStore } from '../stores/suppressed-store.js';

export interface FilterConfig extends FilterOptions {
  /** Exact-dedup state: content hash -> first path. Mutated by filterFile. */
  seen: ContentHashStore;
}

/** checkFile plus exact dedup: the first file with some content wins, later ones are 'duplicate'. */
export function filterFile(file: SourceFile, config: FilterConfig): Outcome<CodeFile> {
  const outcome = checkExact(file, config);
  if (outcome.ok) config.seen.add(outcome.value.id, file.path);
  return outcome;
}

/** checkFile plus exact dedup against the store, which it leaves alone. */
function checkExact(file: SourceFile, config: FilterConfig): Outcome<CodeFile> {
  const outcome = checkFile(file, config);
  if (!outcome.ok) return outcome;
  const { id } = outcome.value;
  const first = config.seen.has(id);
  if (first !== undefined) {
    return reject({
      stage: FILTER_STAGE,
      reason: 'duplicate' satisfies FilterReason,
      detail: `same content as ${first}`,
      recordId: id,
      path: file.path,
      source: file.source,
      position: file.position,
      record: { path: file.path, languageHint: file.languageHint, sizeBytes: file.content.length, firstPath: first },
    });
  }
  return outcome;
}

/** The filter stage as an operator: one Outcome per SourceFile, in order. */
export function filterFiles(config: FilterConfig): OperatorFunction<SourceFile, Outcome<CodeFile>> {
  return map((file: SourceFile) => filterFile(file, config));
}

export const NEAR_DUPLICATE_STAGE = 'near-duplicate';

export interface NearDuplicateConfig {
  index: FileIndex;
  embedder: Embedder;
  /** Cosine distance (1 - similarity) within which a file counts as a near-duplicate; 0 disables. */
  radius: number;
  /**
   * Where the stage keeps the files it suppresses, to filter them again when what they
   * duplicated leaves (Kafka mode). Absent (local mode: a fixed corpus), none are kept.
   */
  suppressed?: SuppressedStore;
}

/** Accepts `file` into the index, or rejects it as a near-duplicate, calling `suppressed` with the live file it lies near. */
export async function checkNearDuplicate(file: CodeFile, config: NearDuplicateConfig, suppressed: (near: NearestFile) => void = () => {}): Promise<Outcome<CodeFile>> {
  if (config.radius <= 0) return accept(file);
  const [vector] = await config.embedder.embed([file.content]);
  const nearest = config.index.nearest(vector!);
  if (nearest && 1 - nearest.similarity <= config.radius) {
    suppressed(nearest);
    return reject({
      stage: NEAR_DUPLICATE_STAGE,
      reason: 'near-duplicate',
      detail: `within ${(1 - nearest.similarity).toFixed(4)} of ${nearest.path} (radius ${config.radius})`,
      recordId: file.id,
      path: file.path,
      source: file.source,
    });
  }
  config.index.add({ fileId: file.id, path: file.path }, vector!);
  return accept(file);
}

/** checkNearDuplicate, with an embedder's failure as the file's rejection. */
async function nearDuplicateOutcome(file: CodeFile, config: NearDuplicateConfig, suppressed?: (near: NearestFile) => void): Promise<Outcome<CodeFile>> {
  try {
    return await checkNearDuplicate(file, config, suppressed);
  } catch (error) {
    return reject<CodeFile>({
      stage: NEAR_DUPLICATE_STAGE,
      reason: 'embedding-failed',
      detail: error instanceof Error ? error.message : String(error),
      recordId: file.id,
      path: file.path,
      source: file.source,
    });
  }
}

export function filterNearDuplicates(config: NearDuplicateConfig): OperatorFunction<CodeFile, Outcome<CodeFile>> {
  return concatMapInTurns((file: CodeFile) => nearDuplicateOutcome(file, config));
}

/**
 * The deployed filter stage: checks and exact dedup, then near-duplicates, each file to its end
 * before the next. A content enters dedup only once accepted (a suppressed near-duplicate's
 * copy is a near-duplicate too, not a duplicate of content the tree never counted); a file
 * suppressed as a near-duplicate goes to the suppressed store, when there is one.
 */
export function filterStage(config: { files: FilterConfig; nearDuplicates: NearDuplicateConfig }): OperatorFunction<SourceFile, Outcome<CodeFile>> {
  const { suppressed } = config.nearDuplicates;
  return concatMapInTurns(async (file: SourceFile) => {
    const checked = checkExact(file, config.files);
    if (!checked.ok) return checked;
    const outcome = await nearDuplicateOutcome(checked.value, config.nearDuplicates, suppressed && ((near) => void suppressed.suppress(file, near.fileId, near.path)));
    if (outcome.ok) config.files.seen.add(outcome.value.id, file.path);
    return outcome;
  });
}

/** The filter's state over a changing corpus (Kafka mode): live paths, dedup, the near-duplicate index, the suppressed near-duplicates. */
export interface LiveCorpus {
  paths: PathStore;
  seen: ContentHashStore;
  index: FileIndex;
  suppressed: SuppressedStore;
}

/**
 * `path` stops holding its content (it changed, was deleted, or its new version does not
 * pass). The content leaves dedup and the near-duplicate index when no other live path holds
 * it, and the result says so: the caller retracts it downstream. While another path holds the
 * same content, nothing is retracted (the tree counts contents, once each).
 */
export function releasePath(path: string, corpus: LiveCorpus): Released | null {
  const entry = corpus.paths.delete(path);
  if (!entry) return null;
  const [other] = corpus.paths.holders(entry.fileId);
  if (other !== undefined) {
    corpus.seen.repoint(entry.fileId, other);
    return { fileId: entry.fileId, retract: false, refilter: [] };
  }
  corpus.seen.delete(entry.fileId);
  corpus.index.remove(entry.fileId);
  return { fileId: entry.fileId, retract: true, refilter: corpus.suppressed.takeSuppressedBy(entry.fileId) };
}

export interface Released {
  fileId: string;
  /** No live path holds the content any more: retract it downstream. */
  retract: boolean;
  /**
   * The files it had suppressed as near-duplicates, taken out of the suppressed store in path
   * order: the caller puts each through the filter stage again, in this order, after the
   * record that released the content (so a changed file's new version goes first). The first
   * that is near no live file is admitted; the rest may then be suppressed by it.
   */
  refilter: SourceFile[];
}
