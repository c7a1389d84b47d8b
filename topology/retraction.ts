// Retraction in Kafka mode: the corpus changes, and the tree follows it exactly once.
//
//   ingest     a changed file is a new record under its path on code.files (compacted); a
//              deleted file is a tombstone (null value) under its path.
//   filter     keeps which content each live path holds (PathStore, changelog filter.paths).
//              A path that changes or goes releases its old content; when no other live path
//              holds that content, it leaves dedup and the near-duplicate index and becomes a
//              tombstone on code.accepted under its content hash. The files that content had
//              suppressed as near-duplicates (SuppressedStore, changelog filter.suppressed) are
//              then filtered again, in path order, after the record that released it: the first
//              near no live file is admitted, and may suppress the rest.
//   extract    passes a tombstone on as a tombstone on features, in order with the records of
//              the same key (same hash, same partition on both topics).
//   canonicalize  keeps what each content added to the tree (ContributionStore, changelog
//              tree.contributions) and on a tombstone takes exactly that back: frequencies go
//              down, a counted node that reaches zero is retired (stores/tree-store.ts). The
//              content leaves the lineage index too (SourceIndex, changelog tree.sources), so
//              no later task names it.
//
// Every store change is written in the same transaction as the stage's outputs and offsets, and
// every store is rebuilt from its changelog on start, so a kill anywhere retracts nothing twice
// and loses nothing. Adding and retracting commute, so after any sequence of changes the tree
// counts each content the final corpus holds once: what a local run over that corpus counts.
import { contentIdOf } from '../analysis/file-checks.js';
import type { KafkaContext } from '../connectors/kafka/context.js';
import type { OutMessage } from '../connectors/kafka/transactional.js';
import { retractContribution, type CanonicalizedFile } from '../processors/canonicalize.js';
import { releasePath, type LiveCorpus } from '../processors/filter.js';
import type { CodeFile, FeatureSet, SourceFile, TreeNodeChange } from '../schemas/contract.js';
import type { Outcome } from '../schemas/outcome.js';
import { TOPICS } from '../schemas/topics.js';
import type { ContributionStore } from '../stores/contribution-store.js';
import type { FeatureTrees } from '../stores/feature-trees.js';
import type { SourceIndex } from '../stores/source-index.js';

/** How a stage handles tombstones on its input, and (for a stage whose store follows each record) what it writes around a record. */
export interface RetractionHooks {
  tombstone(key: string): OutMessage[];
  around?: {
    before(record: unknown): OutMessage[];
    after(record: unknown, outcome: Outcome<unknown> | undefined): OutMessage[];
  };
  /**
   * Records the last tombstone or record put back into play (files suppressed by a content
   * that just left), taken out: the caller runs each through the stage, with before/after,
   * before the next input record, and asks again until there are none.
   */
  again?(): unknown[];
}

/** Filter: a path's new version releases its old content first (so an edit is never a near-duplicate of itself). */
export function filterRetraction(ctx: KafkaContext, corpus: LiveCorpus): RetractionHooks {
  let again: SourceFile[] = [];
  const release = (path: string): OutMessage[] => {
    const released = releasePath(path, corpus);
    if (!released) return [];
    const out = [ctx.tombstone(TOPICS.paths, path)];
    if (released.retract) out.push(ctx.tombstone(TOPICS.accepted, released.fileId));
    // Out of the store now; a file suppressed again is written again by `after`.
    for (const file of released.refilter) out.push(ctx.tombstone(TOPICS.suppressed, file.path));
    again.push(...released.refilter);
    return out;
  };
  /** A suppressed path that goes or changes is suppressed no more (its new version is filtered afresh). */
  const unsuppress = (path: string): OutMessage[] => (corpus.suppressed.delete(path) ? [ctx.tombstone(TOPICS.suppressed, path)] : []);
  return {
    tombstone: (path) => [...release(path), ...unsuppress(path)],
    again: () => {
      const files = again;
      again = [];
      return files;
    },
    around: {
      before: (record) => {
        const file = record as SourceFile;
        const held = corpus.paths.get(file.path);
        return [...unsuppress(file.path), ...(held && held.fileId !== contentIdOf(file.content) ? release(file.path) : [])];
      },
      after: (record, outcome) => {
        const file = record as SourceFile;
        const id = contentIdOf(file.content);
        if (outcome?.ok) {
          const accepted = outcome.value as CodeFile;
          corpus.paths.set({ path: file.path, fileId: accepted.id, treeKey: accepted.treeKey });
          return [ctx.message(TOPICS.paths, corpus.paths.get(file.path)!)];
        }
        const suppressed = corpus.suppressed.get(file.path);
        if (suppressed) {
          // A near-duplicate of a live file: the path holds nothing the tree counts, and waits.
          return [...release(file.path), ctx.message(TOPICS.suppressed, suppressed)];
        }
        if (outcome && outcome.rejection.reason === 'duplicate' && outcome.rejection.recordId === id) {
          // Same content as a live path (or this path's own, sent again): this path holds it too.
          if (corpus.paths.get(file.path)?.fileId === id) return [];
          const holder = corpus.paths.get(corpus.paths.holders(id)[0] ?? '');
          if (!holder) return [];
          corpus.paths.set({ path: file.path, fileId: id, treeKey: holder.treeKey });
          return [ctx.message(TOPICS.paths, corpus.paths.get(file.path)!)];
        }
        // The new version does not pass: the path holds nothing the tree counts.
        return release(file.path);
      },
    },
  };
}

/** Extract: a retracted content's tombstone goes on to features under the same key. */
export function extractRetraction(ctx: KafkaContext): RetractionHooks {
  return { tombstone: (fileId) => [ctx.tombstone(TOPICS.features, fileId)] };
}

/**
 * Canonicalize: records what each file added (and the tree's intake) beside the tree changes,
 * and on a tombstone takes it back. A content that arrives while it still has a contribution
 * (it cannot, unless records were duplicated upstream) replaces it rather than counting twice.
 * The lineage index follows both; its changed entries go to tree.sources in the same transaction.
 */
export function canonicalizeRetraction(
  ctx: KafkaContext, trees: FeatureTrees, contributions: ContributionStore, sources: SourceIndex, encode: (change: TreeNodeChange) => OutMessage,
): RetractionHooks {
  const lineage = (): OutMessage[] => sources.flush().map((entry) => ctx.message(TOPICS.sources, entry));
  const retract = (fileId: string): OutMessage[] => {
    const contribution = contributions.remove(fileId);
    if (!contribution) return [];
    const retracted = retractContribution(trees, contribution, { sources, remaining: () => contributions.sources(contribution.treeKey) });
    return [...retracted.changes.map(encode), ctx.tombstone(TOPICS.contributions, `${contribution.treeKey}/${fileId}`), ...lineage()];
  };
  return {
    tombstone: retract,
    around: {
      before: (record) => retract((record as FeatureSet).fileId),
      after: (record, outcome) => {
        if (!outcome?.ok) return [];
        const set = record as FeatureSet;
        const file = outcome.value as CanonicalizedFile;
        const added = contributions.add(file.treeKey, file.fileId, file.nodeIds, { path: set.path, repository: set.repository ?? null, license: set.license ?? null });
        // Side outputs (evolution rounds, per-file task requests) number by the intake.
        file.intake = added.intake;
        return [ctx.message(TOPICS.contributions, added), ctx.message(TOPICS.contributions, contributions.intakeRecord(file.treeKey)), ...lineage()];
      },
    },
  };
}
