import { describe, expect, it } from 'vitest';
import { lastValueFrom, from, toArray } from 'rxjs';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import type { Embedder } from '../embeddings/embedder.js';
import { canonicalizeFeatureSet, canonicalizeStage, type CanonicalizeConfig } from '../processors/canonicalize.js';
import { loadContracts, type FeatureSet } from '../schemas/contract.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { ROOT_ID, TreeStore } from '../stores/tree-store.js';

const clock = () => 1_700_000_000_000;

function featureSet(fileId: string, features: Array<[string, ...string[]]>, treeKey = 'all'): FeatureSet {
  return {
    fileId, path: `${fileId}.py`, language: 'python', treeKey, extractor: 'static',
    features: features.map(([category, ...labels]) => ({ category, labels })),
    summary: null, purpose: null, scenario: null, extractedAt: 0,
  };
}

function setup(embedder: Embedder = new LexicalLabelEmbedder()): CanonicalizeConfig {
  return { trees: new FeatureTrees(clock), embedder, threshold: 0.85 };
}

const childLabels = (tree: TreeStore, path: string[]) => {
  let id = ROOT_ID;
  for (const label of path) id = tree.children(id).find((c) => c.label === label)!.id;
  return tree.children(id).map((c) => c.label).sort();
};

describe('canonicalize stage', () => {
  it('merges two spellings of one label into one node, keeping the new spelling as an alias', async () => {
    const config = setup();
    await canonicalizeFeatureSet(featureSet('f1', [['file operation', 'read file']]), config);
    const second = await canonicalizeFeatureSet(featureSet('f2', [['file operation', 'reading files']]), config);
    const { tree } = config.trees.get('all');
    expect(childLabels(tree, ['file operation'])).toEqual(['read file']);
    const node = tree.children(tree.children(ROOT_ID)[0]!.id)[0]!;
    expect(node.frequency).toBe(2);
    expect(node.aliases).toEqual(['reading files']);
    expect(second.labels).toMatchObject({ seen: 2, exact: 1, merged: 1, created: 0 });
  });

  it('keeps different labels apart', async () => {
    const config = setup();
    await canonicalizeFeatureSet(featureSet('f1', [['data processing', 'json parsing'], ['algorithm', 'binary search']]), config);
    await canonicalizeFeatureSet(featureSet('f2', [['data processing', 'xml parsing'], ['algorithm', 'linear search']]), config);
    const { tree } = config.trees.get('all');
    expect(childLabels(tree, ['data processing'])).toEqual(['json parsing', 'xml parsing']);
    expect(childLabels(tree, ['algorithm'])).toEqual(['binary search', 'linear search']);
  });

  it('compares a label only with its would-be siblings', async () => {
    const config = setup();
    await canonicalizeFeatureSet(featureSet('f1', [['data processing', 'parsing'], ['functionality', 'parse']]), config);
    const { tree } = config.trees.get('all');
    expect(childLabels(tree, ['data processing'])).toEqual(['parsing']);
    expect(childLabels(tree, ['functionality'])).toEqual(['parse']);
  });

  it('counts a node once per file however often the file mentions it; the root counts files', async () => {
    const config = setup();
    await canonicalizeFeatureSet(featureSet('f1', [['logging', 'console output'], ['logging', 'console output'], ['logging', 'logging framework']]), config);
    await canonicalizeFeatureSet(featureSet('f2', [['logging', 'console output']]), config);
    const { tree } = config.trees.get('all');
    const logging = tree.children(ROOT_ID)[0]!;
    expect(tree.root.frequency).toBe(2);
    expect(logging.frequency).toBe(2);
    expect(Object.fromEntries(tree.children(logging.id).map((c) => [c.label, c.frequency]))).toEqual({ 'console output': 2, 'logging framework': 1 });
  });

  it('moves a large sibling set into an HNSW index that grows past its capacity without rebuilding', async () => {
    const config = setup();
    const labels = Array.from({ length: 300 }, (_, i) => `feature number ${i} ${String.fromCharCode(97 + (i % 26))}${i * 7919}`);
    await canonicalizeFeatureSet(featureSet('f1', labels.map((l) => ['functionality', l] as [string, string])), config);
    const { tree, labels: index } = config.trees.get('all');
    expect(tree.childCount(tree.children(ROOT_ID)[0]!.id)).toBeGreaterThan(250);
    expect(index.size).toBeGreaterThan(250);
    // Small parents (the root's 1 category) stay exact; the 300-child parent moved to HNSW.
    expect(index.parents).toBe(2);
    expect(index.hnswParents).toBe(1);
    // Every stored label finds itself again.
    const again = await canonicalizeFeatureSet(featureSet('f2', labels.map((l) => ['functionality', l] as [string, string])), config);
    expect(again.labels.created).toBe(0);
  });

  it('emits tree changes that satisfy the contract and rebuild the same tree', async () => {
    const config = setup();
    const out = await lastValueFrom(
      from([
        featureSet('f1', [['error handling', 'exception handling', 'finally block'], ['dependency relations', 'numpy']]),
        featureSet('f2', [['error handling', 'exception handling'], ['dependency relations', 'numpy', 'linalg']]),
      ]).pipe(canonicalizeStage(config), toArray()),
    );
    const changes = out.flatMap((o) => (o.ok ? o.value.changes : []));
    const contracts = loadContracts();
    for (const change of changes) contracts.TreeNodeChange.check(change);
    const original = config.trees.get('all').tree;
    expect(TreeStore.restore('all', changes, clock).toNested()).toEqual(original.toNested());
    const restored = await FeatureTrees.restore(changes, config.embedder, clock);
    const next = await canonicalizeFeatureSet(featureSet('f3', [['error handling', 'exception handling']]), { ...config, trees: restored });
    expect(next.labels.created).toBe(0);
  });

  it('turns an embedding failure into a dead letter, not a crash', async () => {
    const broken: Embedder = { name: 'broken', dimension: 8, embed: () => Promise.reject(new Error('endpoint down')) };
    const out = await lastValueFrom(from([featureSet('f1', [['logging', 'x']])]).pipe(canonicalizeStage(setup(broken)), toArray()));
    expect(out[0]).toMatchObject({ ok: false, rejection: { stage: 'canonicalize', reason: 'embedding-failed', recordId: 'f1' } });
  });
});
