// The same feature placed under two parents of one category is one node: the later placement
// is merged into the earlier (more frequent) one, its subtree moves with it, the changelog says
// so, and a restored tree keeps placing that label where it was merged to.
import { describe, expect, it } from 'vitest';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { canonicalizeFeatureSet, type CanonicalizeConfig } from '../processors/canonicalize.js';
import { loadContracts, type FeatureSet, type TreeNodeChange } from '../schemas/contract.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { ROOT_ID, TreeStore, mergeCause, parseMergeCause } from '../stores/tree-store.js';

const clock = () => 1_700_000_000_000;

function featureSet(fileId: string, features: Array<[string, ...string[]]>): FeatureSet {
  return {
    fileId, path: `${fileId}.py`, language: 'python', treeKey: 'all', extractor: 'llm',
    features: features.map(([category, ...labels]) => ({ category, labels })),
    summary: null, purpose: null, scenario: null, extractedAt: 0,
  };
}

const setup = (trees = new FeatureTrees(clock)): CanonicalizeConfig => ({ trees, embedder: new LexicalLabelEmbedder(), threshold: 0.85 });

/** Every live node as "path (frequency)". */
function paths(tree: TreeStore): string[] {
  return [...tree.all()].filter((n) => n.id !== ROOT_ID).map((n) => `${tree.pathOf(n.id).join(' > ')} (${n.frequency})`).sort();
}

describe('merging across parents', () => {
  it('merges a feature placed under a second parent of its category into the first placement, subtree and all, and records it in the changelog', async () => {
    const config = setup();
    await canonicalizeFeatureSet(featureSet('f1', [['data processing', 'data parsing', 'json parsing', 'streaming']]), config);
    await canonicalizeFeatureSet(featureSet('f2', [['data processing', 'data parsing', 'json parsing']]), config);
    const second = await canonicalizeFeatureSet(featureSet('f3', [['data processing', 'serialization', 'json parsing', 'schema checks']]), config);
    const { tree } = config.trees.get('all');
    expect(paths(tree)).toEqual([
      'data processing (3)',
      'data processing > data parsing (2)',
      'data processing > data parsing > json parsing (3)',
      'data processing > data parsing > json parsing > schema checks (1)',
      'data processing > data parsing > json parsing > streaming (1)',
      'data processing > serialization (1)',
    ]);
    const deletes = second.changes.filter((c) => c.op === 'DELETE');
    const survivor = tree.findByPath(['data processing', 'data parsing', 'json parsing'])!;
    // Children first: each record names the node it went into and where it was.
    expect(deletes.map((c) => parseMergeCause(c.cause))).toEqual([
      { survivorId: tree.findByPath(['data processing', 'data parsing', 'json parsing', 'schema checks'])!.id, parentId: deletes[1]!.nodeId, label: 'schema checks' },
      { survivorId: survivor.id, parentId: tree.findByPath(['data processing', 'serialization'])!.id, label: 'json parsing' },
    ]);
    for (const c of deletes) expect(c.node).toBeNull();
    // The records are valid changelog records, and every change of the file comes after the upserts.
    const contracts = loadContracts();
    for (const c of second.changes) contracts.TreeNodeChange.check(c);
    expect(second.changes.findIndex((c) => c.op === 'DELETE')).toBe(second.changes.length - deletes.length);
  });

  it('a later file naming the old place lands on the merged node, also after a restore from the changelog', async () => {
    const config = setup();
    const log: TreeNodeChange[] = [];
    const run = async (id: string, f: Array<[string, ...string[]]>) => log.push(...(await canonicalizeFeatureSet(featureSet(id, f), config)).changes);
    await run('f1', [['error handling', 'exception handling', 'custom exceptions']]);
    await run('f2', [['error handling', 'error reporting', 'custom exceptions']]);
    await run('f3', [['error handling', 'error reporting', 'custom exceptions', 'exception chaining']]);
    const { tree } = config.trees.get('all');
    const expected = [
      'error handling (3)',
      'error handling > error reporting (2)',
      'error handling > exception handling (1)',
      'error handling > exception handling > custom exceptions (3)',
      'error handling > exception handling > custom exceptions > exception chaining (1)',
    ];
    expect(paths(tree)).toEqual(expected);

    const restored = setup(await FeatureTrees.restore([...tree.snapshot()], new LexicalLabelEmbedder(), clock));
    expect(paths(restored.trees.get('all').tree)).toEqual(expected);
    await canonicalizeFeatureSet(featureSet('f4', [['error handling', 'error reporting', 'custom exceptions']]), restored);
    expect(paths(restored.trees.get('all').tree)).toContain('error handling > exception handling > custom exceptions (4)');
    // The full changelog rebuilds the same tree as the snapshot does.
    const fromLog = await FeatureTrees.restore(log, new LexicalLabelEmbedder(), clock);
    expect(paths(fromLog.get('all').tree)).toEqual(expected);
  });

  it('leaves the same label alone under another category, at the first level, or under the same parent', async () => {
    const config = setup();
    await canonicalizeFeatureSet(featureSet('f1', [['advanced techniques', 'performance', 'caching'], ['resource usage', 'memory management', 'caching']]), config);
    await canonicalizeFeatureSet(featureSet('f2', [['algorithm', 'sorting'], ['data structures', 'sorting']]), config);
    const { tree } = config.trees.get('all');
    expect(tree.findByPath(['advanced techniques', 'performance', 'caching'])).toBeDefined();
    expect(tree.findByPath(['resource usage', 'memory management', 'caching'])).toBeDefined();
    expect(tree.findByPath(['algorithm', 'sorting'])).toBeDefined();
    expect(tree.findByPath(['data structures', 'sorting'])).toBeDefined();
    expect(tree.merges().size).toBe(0);
  });

  it('refuses merges that would lose the tree\'s shape, and the cause format round-trips labels with colons', () => {
    const tree = new TreeStore('all', clock);
    const cat = tree.addNode({ parentId: ROOT_ID, label: 'workflow', origin: 'extracted' });
    const a = tree.addNode({ parentId: cat.id, label: 'a', origin: 'extracted' });
    const b = tree.addNode({ parentId: a.id, label: 'b', origin: 'extracted' });
    expect(() => tree.mergeInto(a.id, b.id)).toThrow(/own descendant/);
    expect(() => tree.mergeInto(b.id, a.id)).toThrow(/ancestor/);
    expect(() => tree.mergeInto(ROOT_ID, a.id)).toThrow(/root/);
    expect(parseMergeCause(mergeCause({ survivorId: 'abc', parentId: 'def', label: 'http: retries' }))).toEqual({ survivorId: 'abc', parentId: 'def', label: 'http: retries' });
    expect(parseMergeCause('f12')).toBeNull();
  });
});
