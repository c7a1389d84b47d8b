// The feature tree of one tree key: nodes with frequencies, aliases and origin. Every mutation
// marks the node dirty; `flush` turns the dirty set into changelog records (one per node, the
// latest state), so a compacted topic or file of those records rebuilds the same tree.
//
// Merging across parents: when the same feature was placed under two parents, `mergeInto` folds
// one node (and its subtree, child by child) into the other. The merged node leaves the tree as
// a DELETE record whose cause names the node it went into and where it was (mergeCause), and the
// store keeps that redirect, in its snapshots too, so a label that names the old place later
// (or after a restore) lands on the node it was merged into.
import { createHash } from 'node:crypto';
import type { NodeOrigin, TreeNode, TreeNodeChange } from '../schemas/contract.js';

export const ROOT_ID = 'root';

/** The nested form written to tree.json. */
export interface NestedNode {
  label: string;
  frequency: number;
  origin: NodeOrigin;
  aliases: string[];
  evolutionRound?: number;
  /** Present (true) on a retired node: see isRetired. */
  retired?: true;
  children: NestedNode[];
}

export interface NewNode {
  parentId: string;
  label: string;
  origin: Exclude<NodeOrigin, 'root'>;
  frequency?: number;
  evolutionRound?: number | null;
}

/**
 * A counted node no file mentions any more (every file that did changed or was deleted): kept,
 * at frequency 0, so its id and spellings stay, but never sampled and shown as retired.
 */
export const isRetired = (node: TreeNode): boolean => node.origin === 'extracted' && node.frequency <= 0;

/** Ids are derived from the path, so the same feature gets the same id on every run and machine. */
export function nodeIdFor(parentId: string, label: string): string {
  return createHash('sha1').update(parentId).update('\u0000').update(label).digest('hex').slice(0, 16);
}

const MERGE_CAUSE_PREFIX = 'merged-into:';

export interface MergeRecord {
  /** The node the merged one went into. */
  survivorId: string;
  /** Where the merged node was: its parent and label. */
  parentId: string;
  label: string;
}

/** The cause of a merged node's DELETE record: `merged-into:<survivor>:<old parent>:<label>` (ids hold no colon). */
export function mergeCause(record: MergeRecord): string {
  return `${MERGE_CAUSE_PREFIX}${record.survivorId}:${record.parentId}:${record.label}`;
}

export function parseMergeCause(cause: string): MergeRecord | null {
  if (!cause.startsWith(MERGE_CAUSE_PREFIX)) return null;
  const [survivorId, parentId, ...label] = cause.slice(MERGE_CAUSE_PREFIX.length).split(':');
  if (!survivorId || !parentId || label.length === 0) return null;
  return { survivorId, parentId, label: label.join(':') };
}

/** Children by frequency, highest first; ties by label so order never depends on arrival. */
export const byFrequency = (a: TreeNode, b: TreeNode): number =>
  b.frequency - a.frequency || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);

export class TreeStore {
  private readonly nodes = new Map<string, TreeNode>();
  private readonly childIds = new Map<string, string[]>();
  private readonly dirty = new Set<string>();
  /** Nodes merged into others: id → where it went and where it was. Kept for good (snapshots carry them). */
  private readonly merged = new Map<string, MergeRecord>();
  /** Merges not yet flushed as DELETE records. */
  private readonly mergedSinceFlush: string[] = [];
  /** Node ids by label, to find the same feature under another parent. */
  private readonly byLabel = new Map<string, Set<string>>();
  private seqNo = 0;

  constructor(
    readonly treeKey: string,
    private readonly clock: () => number = Date.now,
  ) {
    const now = this.clock();
    this.insert({
      id: ROOT_ID, label: treeKey, aliases: [], parentId: null, depth: 0, frequency: 0,
      origin: 'root', evolutionRound: null, estimates: 0, descendants: 0, createdAt: now, updatedAt: now,
    });
    this.dirty.add(ROOT_ID);
  }

  /** The tree version: the seq of the last change flushed or applied. */
  get seq(): number {
    return this.seqNo;
  }

  get size(): number {
    return this.nodes.size;
  }

  get root(): TreeNode {
    return this.nodes.get(ROOT_ID)!;
  }

  get(id: string): TreeNode | undefined {
    return this.nodes.get(id);
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  children(id: string): TreeNode[] {
    return (this.childIds.get(id) ?? []).map((c) => this.nodes.get(c)!);
  }

  childCount(id: string): number {
    return this.childIds.get(id)?.length ?? 0;
  }

  /** The N most frequent children: the view the sampler walks, as the reference prunes to top-N. */
  topChildren(id: string, n: number = Infinity): TreeNode[] {
    const all = this.children(id).sort(byFrequency);
    return Number.isFinite(n) ? all.slice(0, n) : all;
  }

  /** The node a label path names (labels or aliases, from the category down), or undefined. */
  findByPath(path: readonly string[]): TreeNode | undefined {
    let current = this.root;
    for (const label of path) {
      const wanted = label.toLowerCase();
      const next = this.children(current.id).find((c) => c.label === wanted || c.aliases.includes(wanted));
      if (!next) return undefined;
      current = next;
    }
    return current;
  }

  /** Labels from the category (depth 1) down to the node. */
  pathOf(id: string): string[] {
    const labels: string[] = [];
    for (let node = this.nodes.get(id); node && node.parentId !== null; node = this.nodes.get(node.parentId)) {
      labels.push(node.label);
    }
    return labels.reverse();
  }

  /** The live node an id stands for: itself, or the node it was merged into (followed to the end). */
  resolveId(id: string): string {
    let current = id;
    // A live node is itself, even when an earlier node with its id was merged away and it was re-created since.
    for (let record = this.merged.get(current); record && !this.nodes.has(current); record = this.merged.get(current)) current = record.survivorId;
    return current;
  }

  /** Merge records so far (id of the merged node → record), for rebuilding label indexes. */
  merges(): ReadonlyMap<string, MergeRecord> {
    return this.merged;
  }

  /** Other live nodes with this exact label in the same category (depth 1 ancestor), under a different parent. */
  samePlacedElsewhere(id: string): TreeNode[] {
    const node = this.require(id);
    const category = this.categoryOf(node);
    const found: TreeNode[] = [];
    for (const other of this.byLabel.get(node.label) ?? []) {
      if (other === id) continue;
      const candidate = this.nodes.get(other)!;
      if (candidate.parentId !== node.parentId && candidate.depth >= 2 && this.categoryOf(candidate) === category) found.push(candidate);
    }
    return found;
  }

  /**
   * Folds node `fromId` into `intoId`, the same feature placed under another parent: frequencies
   * add up (as the reference merges frequency counts; a file that placed it under both counts
   * twice), spellings become aliases, and each child moves under `intoId`, merging into a child
   * spelled the same. `fromId` and its subtree leave the tree as DELETE records at the next flush.
   */
  mergeInto(fromId: string, intoId: string): void {
    const from = this.require(fromId);
    const into = this.require(intoId);
    if (from.parentId === null || into.parentId === null) throw new Error(`tree ${this.treeKey}: the root cannot be merged`);
    for (let a: TreeNode | undefined = into; a; a = a.parentId === null ? undefined : this.nodes.get(a.parentId)) {
      if (a.id === fromId) throw new Error(`tree ${this.treeKey}: cannot merge ${fromId} into its own descendant ${intoId}`);
    }
    for (let a: TreeNode | undefined = from; a; a = a.parentId === null ? undefined : this.nodes.get(a.parentId)) {
      if (a.id === intoId) throw new Error(`tree ${this.treeKey}: cannot merge ${fromId} into its ancestor ${intoId}`);
    }
    into.frequency += from.frequency;
    for (const alias of [from.label, ...from.aliases]) if (alias !== into.label && !into.aliases.includes(alias)) into.aliases.push(alias);
    this.touch(into);
    for (const child of this.children(fromId)) {
      const same = this.children(intoId).find((c) => c.label === child.label || c.aliases.includes(child.label));
      const target = same ?? this.addNode({ parentId: intoId, label: child.label, origin: child.origin === 'evolved' ? 'evolved' : 'extracted', frequency: 0, evolutionRound: child.evolutionRound });
      this.mergeInto(child.id, target.id);
    }
    const now = this.clock();
    for (let a = this.nodes.get(from.parentId); a; a = a.parentId === null ? undefined : this.nodes.get(a.parentId)) {
      a.descendants -= 1;
      a.updatedAt = now;
      this.dirty.add(a.id);
    }
    this.merged.set(fromId, { survivorId: intoId, parentId: from.parentId, label: from.label });
    this.mergedSinceFlush.push(fromId);
    this.dirty.delete(fromId);
    this.remove(fromId);
  }

  *all(): IterableIterator<TreeNode> {
    yield* this.nodes.values();
  }

  addNode(spec: NewNode): TreeNode {
    const parent = this.nodes.get(spec.parentId);
    if (!parent) throw new Error(`tree ${this.treeKey}: no parent ${spec.parentId} for "${spec.label}"`);
    const id = nodeIdFor(spec.parentId, spec.label);
    const existing = this.nodes.get(id);
    if (existing) return existing;
    const now = this.clock();
    const node: TreeNode = {
      id, label: spec.label, aliases: [], parentId: spec.parentId, depth: parent.depth + 1,
      frequency: spec.frequency ?? 0, origin: spec.origin, evolutionRound: spec.evolutionRound ?? null,
      estimates: spec.origin === 'evolved' && spec.frequency !== undefined ? 1 : 0, descendants: 0, createdAt: now, updatedAt: now,
    };
    this.insert(node);
    this.dirty.add(id);
    for (let a: TreeNode | undefined = parent; a; a = a.parentId === null ? undefined : this.nodes.get(a.parentId)) {
      a.descendants += 1;
      a.updatedAt = now;
      this.dirty.add(a.id);
    }
    return node;
  }

  addAlias(id: string, alias: string): void {
    const node = this.require(id);
    if (alias === node.label || node.aliases.includes(alias)) return;
    node.aliases.push(alias);
    this.touch(node);
  }

  addFrequency(id: string, delta: number): void {
    const node = this.require(id);
    node.frequency += delta;
    this.touch(node);
  }

  /**
   * Folds another frequency estimate into an evolved node: its frequency becomes the mean of
   * all estimates so far. Counted (extracted) nodes keep their counts.
   */
  addEstimate(id: string, estimate: number): void {
    const node = this.require(id);
    if (node.origin !== 'evolved') return;
    node.frequency = (node.frequency * node.estimates + estimate) / (node.estimates + 1);
    node.estimates += 1;
    this.touch(node);
  }

  setFrequency(id: string, frequency: number): void {
    const node = this.require(id);
    if (node.frequency === frequency) return;
    node.frequency = frequency;
    this.touch(node);
  }

  /** Changelog records for everything changed since the last flush, in a stable order. */
  flush(cause: string): TreeNodeChange[] {
    if (this.dirty.size === 0 && this.mergedSinceFlush.length === 0) return [];
    const ids = [...this.dirty].sort((a, b) => this.require(a).depth - this.require(b).depth || (a < b ? -1 : 1));
    this.dirty.clear();
    const upserts = ids.map((id): TreeNodeChange => {
      this.seqNo += 1;
      const node = this.require(id);
      return { treeKey: this.treeKey, seq: this.seqNo, op: 'UPSERT', nodeId: id, node: { ...node, aliases: [...node.aliases] }, cause };
    });
    // After the upserts: a restore sees the node it is redirected to before the redirect.
    const deletes = this.mergedSinceFlush.splice(0).map((id): TreeNodeChange => {
      this.seqNo += 1;
      return { treeKey: this.treeKey, seq: this.seqNo, op: 'DELETE', nodeId: id, node: null, cause: mergeCause(this.merged.get(id)!) };
    });
    return [...upserts, ...deletes];
  }

  /**
   * The tree as a compacted changelog: one UPSERT per node, parents first, each at the current
   * version. Restoring from it gives this tree, as restoring from a compacted topic does.
   */
  *snapshot(): IterableIterator<TreeNodeChange> {
    const nodes = [...this.nodes.values()].sort((a, b) => a.depth - b.depth || (a.id < b.id ? -1 : 1));
    for (const node of nodes) {
      yield { treeKey: this.treeKey, seq: this.seqNo, op: 'UPSERT', nodeId: node.id, node: { ...node, aliases: [...node.aliases] }, cause: 'snapshot' };
    }
    for (const [id, record] of this.merged) yield { treeKey: this.treeKey, seq: this.seqNo, op: 'DELETE', nodeId: id, node: null, cause: mergeCause(record) };
  }

  /** Applies a changelog record, e.g. while restoring. Parents may arrive after children. */
  apply(change: TreeNodeChange): void {
    if (change.treeKey !== this.treeKey) throw new Error(`change for tree ${change.treeKey} applied to ${this.treeKey}`);
    this.seqNo = Math.max(this.seqNo, change.seq);
    if (change.op === 'DELETE' || change.node === null) {
      this.remove(change.nodeId);
      const record = parseMergeCause(change.cause);
      if (record) this.merged.set(change.nodeId, record);
      return;
    }
    const incoming = { ...change.node, aliases: [...change.node.aliases] };
    const existing = this.nodes.get(change.nodeId);
    if (existing) Object.assign(existing, incoming);
    else this.insert(incoming);
    this.dirty.delete(change.nodeId);
  }

  static restore(treeKey: string, changes: Iterable<TreeNodeChange>, clock?: () => number): TreeStore {
    const store = new TreeStore(treeKey, clock);
    store.dirty.clear();
    for (const change of changes) store.apply(change);
    return store;
  }

  /** The nested tree, children by frequency; `topN` prunes each node's children for display. */
  toNested(topN: number = Infinity, from: string = ROOT_ID): NestedNode {
    const node = this.require(from);
    const nested: NestedNode = {
      label: node.label,
      frequency: node.frequency,
      origin: node.origin,
      aliases: [...node.aliases],
      children: this.topChildren(from, topN).map((c) => this.toNested(topN, c.id)),
    };
    if (node.evolutionRound !== null) nested.evolutionRound = node.evolutionRound;
    if (isRetired(node)) nested.retired = true;
    return nested;
  }

  private categoryOf(node: TreeNode): string | null {
    let current: TreeNode | undefined = node;
    while (current && current.depth > 1) current = current.parentId === null ? undefined : this.nodes.get(current.parentId);
    return current?.id ?? null;
  }

  private insert(node: TreeNode): void {
    // Re-created at the place it was merged away from: the place is its again.
    this.merged.delete(node.id);
    this.nodes.set(node.id, node);
    let same = this.byLabel.get(node.label);
    if (!same) this.byLabel.set(node.label, (same = new Set()));
    same.add(node.id);
    if (node.parentId !== null) {
      const siblings = this.childIds.get(node.parentId);
      if (siblings) siblings.push(node.id);
      else this.childIds.set(node.parentId, [node.id]);
    }
  }

  private remove(id: string): void {
    const node = this.nodes.get(id);
    if (!node) return;
    this.nodes.delete(id);
    this.byLabel.get(node.label)?.delete(id);
    if (node.parentId !== null) {
      const siblings = this.childIds.get(node.parentId);
      if (siblings) this.childIds.set(node.parentId, siblings.filter((s) => s !== id));
    }
  }

  private touch(node: TreeNode): void {
    node.updatedAt = this.clock();
    this.dirty.add(node.id);
  }

  private require(id: string): TreeNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`tree ${this.treeKey}: no node ${id}`);
    return node;
  }
}
