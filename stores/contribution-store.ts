// What each file's content added to its feature tree (the nodes it raised by one), so a changed
// or deleted file takes back exactly that and nothing else; plus each tree's intake counter
// (files taken in, every version counted), which never goes down. Restored from the compacted
// tree.contributions changelog, written in the same transaction as the tree changes.
import type { Contribution } from '../schemas/contract.js';
import type { SourceContribution } from './source-index.js';

/** Where a file came from, as its contribution keeps it for lineage. */
export interface ContributionSource {
  path: string;
  repository: string | null;
  license: string | null;
}

/** The fileId of a tree's counter record on the changelog. */
export const INTAKE_ID = '#intake';

export class ContributionStore {
  readonly #byFile = new Map<string, Contribution>();
  readonly #intake = new Map<string, number>();

  get size(): number {
    return this.#byFile.size;
  }

  /** A content is in one tree only (the filter dedups across trees), so its id finds it. */
  get(fileId: string): Contribution | undefined {
    return this.#byFile.get(fileId);
  }

  /** Files the tree has taken in so far (0 before the first). */
  intake(treeKey: string): number {
    return this.#intake.get(treeKey) ?? 0;
  }

  /** Records a file's contribution and advances its tree's intake; returns the stored record. */
  add(treeKey: string, fileId: string, nodeIds: readonly string[], source?: ContributionSource): Contribution {
    const intake = this.intake(treeKey) + 1;
    this.#intake.set(treeKey, intake);
    const contribution: Contribution = {
      fileId, treeKey, nodeIds: [...nodeIds], intake,
      ...(source ? { path: source.path, repository: source.repository, license: source.license } : {}),
    };
    this.#byFile.set(fileId, contribution);
    return contribution;
  }

  /** Forgets a file's contribution; returns it (undefined when the file had none). */
  remove(fileId: string): Contribution | undefined {
    const contribution = this.#byFile.get(fileId);
    this.#byFile.delete(fileId);
    return contribution;
  }

  /** The live files of a tree with the nodes each mentioned, for lineage (records from before lineage, without a path, are left out). */
  *sources(treeKey: string): IterableIterator<SourceContribution> {
    for (const c of this.#byFile.values()) {
      if (c.treeKey !== treeKey || typeof c.path !== 'string') continue;
      yield { file: { fileId: c.fileId, path: c.path, repository: c.repository ?? null, license: c.license ?? null }, nodeIds: c.nodeIds };
    }
  }

  /** The counter record of a tree, as the changelog carries it. */
  intakeRecord(treeKey: string): Contribution {
    return { fileId: INTAKE_ID, treeKey, nodeIds: [], intake: this.intake(treeKey) };
  }

  /** Applies a changelog record while restoring; null is the tombstone of `key` (treeKey/fileId). */
  apply(key: string, record: Contribution | null): void {
    if (record === null) {
      this.#byFile.delete(key.slice(key.lastIndexOf('/') + 1));
      return;
    }
    this.#intake.set(record.treeKey, Math.max(this.intake(record.treeKey), record.intake));
    if (record.fileId !== INTAKE_ID) this.#byFile.set(record.fileId, { ...record, nodeIds: [...record.nodeIds] });
  }
}
