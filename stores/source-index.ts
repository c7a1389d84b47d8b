// Lineage: which source files mentioned each tree node, so a task can name the files behind its
// features. Bounded: per node only the `cap` files with the lowest content hashes are kept (the
// node's frequency counts them all). That choice depends only on which files mention the node
// now, never on arrival order, so a restart or a replay gives the same lineage; when a kept file
// is retracted, the next-lowest takes its place from the tree writer's contributions.
//
// Entries are keyed by the node id a file mentioned. A node merged into another since (stores/
// tree-store.ts mergeInto) keeps its entry; `filesOf` looks up a live node together with every
// node merged into it, so a merged node's files are its survivor's files.
//
// In Kafka mode the tree writer's index is the changelog's source (topic tree.sources, written
// in the same transaction as the tree changes) and is rebuilt from tree.contributions on start;
// a sample stage in another process follows that topic.
import type { NodeSources, SourceRef } from '../schemas/contract.js';
import { ROOT_ID, type TreeStore } from './tree-store.js';

/** Files kept per node: enough for "up to 3 per feature" after a merge, small beside the tree. */
export const DEFAULT_FILES_PER_NODE = 5;

/** A file with the nodes it mentioned, as the contribution store holds it. */
export interface SourceContribution {
  readonly file: SourceRef;
  readonly nodeIds: readonly string[];
}

const keyOf = (treeKey: string, nodeId: string) => `${treeKey}/${nodeId}`;

export class SourceIndex {
  readonly #byNode = new Map<string, SourceRef[]>();
  /** Entries changed since the last flush; only kept when the index has a changelog. */
  readonly #dirty = new Set<string>();

  constructor(
    readonly cap: number = DEFAULT_FILES_PER_NODE,
    private readonly changelog: boolean = false,
  ) {
    if (!Number.isInteger(cap) || cap < 1) throw new Error(`files per node must be a positive integer, not ${cap}`);
  }

  /** Nodes with at least one file. */
  get size(): number {
    return this.#byNode.size;
  }

  /** A file mentioned these nodes (the root is left out: every file mentions it). */
  add(treeKey: string, file: SourceRef, nodeIds: readonly string[]): void {
    for (const nodeId of nodeIds) if (nodeId !== ROOT_ID) this.#offer(keyOf(treeKey, nodeId), file);
  }

  /**
   * A file no longer counts (changed or deleted): it leaves every node it mentioned. A node
   * that kept a full list may have had more files: it is refilled from `remaining`, every live
   * file's contribution (scanned once, and only when a full list lost a file).
   */
  remove(treeKey: string, fileId: string, nodeIds: readonly string[], remaining: () => Iterable<SourceContribution>): void {
    const refill = new Set<string>();
    for (const nodeId of nodeIds) {
      const key = keyOf(treeKey, nodeId);
      const files = this.#byNode.get(key);
      const at = files?.findIndex((f) => f.fileId === fileId) ?? -1;
      if (!files || at < 0) continue;
      const wasFull = files.length >= this.cap;
      files.splice(at, 1);
      if (files.length === 0) this.#byNode.delete(key);
      this.#touch(key);
      if (wasFull) refill.add(nodeId);
    }
    if (refill.size === 0) return;
    for (const { file, nodeIds: mentioned } of remaining()) {
      if (file.fileId === fileId) continue;
      for (const nodeId of mentioned) if (refill.has(nodeId)) this.#offer(keyOf(treeKey, nodeId), file);
    }
  }

  /** The files kept under exactly this node id, lowest content hash first. */
  get(treeKey: string, nodeId: string): readonly SourceRef[] {
    return this.#byNode.get(keyOf(treeKey, nodeId)) ?? [];
  }

  /**
   * The files behind a live node of `tree`: its own and those of every node merged into it,
   * lowest content hash first, each file once, at most `limit`.
   */
  filesOf(tree: TreeStore, nodeId: string, limit: number = this.cap): SourceRef[] {
    const ids = [nodeId];
    for (const [merged] of tree.merges()) if (merged !== nodeId && !tree.has(merged) && tree.resolveId(merged) === nodeId) ids.push(merged);
    const byId = new Map<string, SourceRef>();
    for (const id of ids) for (const file of this.get(tree.treeKey, id)) byId.set(file.fileId, file);
    return [...byId.values()].sort(byFileId).slice(0, limit);
  }

  /** Changelog records of the entries changed since the last flush (an empty list: no files left). */
  flush(): NodeSources[] {
    const out: NodeSources[] = [];
    for (const key of [...this.#dirty].sort()) {
      const slash = key.lastIndexOf('/');
      out.push({ treeKey: key.slice(0, slash), nodeId: key.slice(slash + 1), files: this.#byNode.get(key)?.map((f) => ({ ...f })) ?? [] });
    }
    this.#dirty.clear();
    return out;
  }

  /** Applies a changelog record (restoring, or following the writer from another process). */
  apply(record: NodeSources): void {
    const key = keyOf(record.treeKey, record.nodeId);
    if (record.files.length === 0) this.#byNode.delete(key);
    else this.#byNode.set(key, [...record.files].sort(byFileId).slice(0, this.cap));
  }

  #offer(key: string, file: SourceRef): void {
    let files = this.#byNode.get(key);
    if (!files) this.#byNode.set(key, (files = []));
    if (files.some((f) => f.fileId === file.fileId)) return;
    if (files.length >= this.cap && byFileId(file, files[files.length - 1]!) > 0) return;
    files.push({ fileId: file.fileId, path: file.path, repository: file.repository, license: file.license });
    files.sort(byFileId);
    if (files.length > this.cap) files.pop();
    this.#touch(key);
  }

  #touch(key: string): void {
    if (this.changelog) this.#dirty.add(key);
  }
}

const byFileId = (a: SourceRef, b: SourceRef): number => (a.fileId < b.fileId ? -1 : a.fileId > b.fileId ? 1 : 0);
