import { describe, expect, it } from 'vitest';
import { loadContracts, type TreeNodeChange } from '../schemas/contract.js';
import { ROOT_ID, TreeStore, nodeIdFor } from '../stores/tree-store.js';

const clock = () => 1_700_000_000_000;

function sampleTree(): { tree: TreeStore; log: TreeNodeChange[] } {
  const tree = new TreeStore('all', clock);
  const log: TreeNodeChange[] = [];
  const eh = tree.addNode({ parentId: ROOT_ID, label: 'error handling', origin: 'extracted' });
  const ex = tree.addNode({ parentId: eh.id, label: 'exception handling', origin: 'extracted' });
  tree.addNode({ parentId: ex.id, label: 'finally block', origin: 'extracted' });
  for (const id of [ROOT_ID, eh.id, ex.id]) tree.addFrequency(id, 1);
  log.push(...tree.flush('file-1'));
  const dr = tree.addNode({ parentId: ROOT_ID, label: 'dependency relations', origin: 'extracted' });
  const np = tree.addNode({ parentId: dr.id, label: 'numpy', origin: 'extracted' });
  tree.addAlias(np.id, 'numpy library');
  for (const id of [ROOT_ID, dr.id, np.id, eh.id]) tree.addFrequency(id, 1);
  log.push(...tree.flush('file-2'));
  tree.addNode({ parentId: eh.id, label: 'retry', origin: 'evolved', frequency: 0.5, evolutionRound: 1 });
  log.push(...tree.flush('evolution-1'));
  return { tree, log };
}

describe('TreeStore', () => {
  it('counts descendants of every ancestor as nodes are added', () => {
    const { tree } = sampleTree();
    expect(tree.root.descendants).toBe(6);
    const eh = tree.get(nodeIdFor(ROOT_ID, 'error handling'))!;
    expect(eh.descendants).toBe(3);
    expect(eh.frequency).toBe(2);
    expect(tree.pathOf(nodeIdFor(eh.id, 'retry'))).toEqual(['error handling', 'retry']);
  });

  it('emits one changelog record per changed node per flush, each valid against the Avro contract', () => {
    const { log } = sampleTree();
    const contracts = loadContracts();
    for (const change of log) contracts.TreeNodeChange.check(change);
    const seqs = log.map((c) => c.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const firstFlush = log.filter((c) => c.cause === 'file-1');
    expect(new Set(firstFlush.map((c) => c.nodeId)).size).toBe(firstFlush.length);
  });

  it('restores from its changelog to an equal tree', () => {
    const { tree, log } = sampleTree();
    const restored = TreeStore.restore('all', log, clock);
    expect(restored.toNested()).toEqual(tree.toNested());
    expect(restored.seq).toBe(tree.seq);
    expect([...restored.all()].sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([...tree.all()].sort((a, b) => (a.id < b.id ? -1 : 1)));
  });

  it('restores from a compacted changelog (latest record per node, any order)', () => {
    const { tree, log } = sampleTree();
    const latest = new Map<string, TreeNodeChange>();
    for (const c of log) latest.set(c.nodeId, c);
    const shuffled = [...latest.values()].reverse();
    expect(TreeStore.restore('all', shuffled, clock).toNested()).toEqual(tree.toNested());
  });

  it('gives a top-N view by frequency, ties broken by label', () => {
    const tree = new TreeStore('t', clock);
    for (const [label, f] of [['b', 3], ['a', 3], ['c', 9], ['d', 1]] as const) {
      tree.addFrequency(tree.addNode({ parentId: ROOT_ID, label, origin: 'extracted' }).id, f);
    }
    expect(tree.topChildren(ROOT_ID, 3).map((n) => n.label)).toEqual(['c', 'a', 'b']);
    expect(tree.toNested(2).children.map((n) => n.label)).toEqual(['c', 'a']);
  });

  it('writes the nested form with label, frequency, origin, aliases and children', () => {
    const { tree } = sampleTree();
    const nested = tree.toNested();
    const dr = nested.children.find((c) => c.label === 'dependency relations')!;
    expect(dr).toMatchObject({ frequency: 1, origin: 'extracted', aliases: [] });
    expect(dr.children[0]).toEqual({ label: 'numpy', frequency: 1, origin: 'extracted', aliases: ['numpy library'], children: [] });
    const retry = nested.children.find((c) => c.label === 'error handling')!.children.find((c) => c.label === 'retry')!;
    expect(retry).toMatchObject({ origin: 'evolved', evolutionRound: 1, frequency: 0.5 });
  });
});
