import { describe, expect, it } from 'vitest';
import { lastValueFrom, of, toArray } from 'rxjs';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import type { CompleteRequest, LlmResult } from '../llm/client.js';
import { evolveOnce, evolveStage, type EvolveConfig } from '../processors/evolve.js';
import type { StructuredModel } from '../llm/model.js';
import type { EvolveAnswer } from '../prompts/evolve-tree.js';
import { loadContracts } from '../schemas/contract.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { TreeStore } from '../stores/tree-store.js';
import { canonicalizeFeatureSet } from '../processors/canonicalize.js';
import { evolutionSeed } from '../topology/evolution.js';

const clock = () => 1_700_000_000_000;

/** A model that answers every evolution prompt with the given additions. */
function answering(...answers: EvolveAnswer[]): StructuredModel & { prompts: string[] } {
  const prompts: string[] = [];
  let i = 0;
  return {
    prompts,
    async complete<T>(request: CompleteRequest<T>): Promise<LlmResult<T>> {
      prompts.push(String(request.messages.at(-1)?.content));
      const value = answers[Math.min(i++, answers.length - 1)] as unknown as T;
      const usage = { promptTokens: 10, completionTokens: 10, requests: 1 };
      return { ok: true, value, cached: false, repaired: false, usage, model: 'm', elapsedMs: 1, stage: 'evolve', provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 } };
    },
  };
}

/** algorithm 10 > sorting 6 > (quick sort 4, merge sort 2); algorithm > searching 4, built as canonicalization builds it. */
async function setup(model: StructuredModel): Promise<EvolveConfig> {
  const trees = new FeatureTrees(clock);
  const embedder = new LexicalLabelEmbedder();
  const paths: string[][] = [
    ...Array(4).fill(['algorithm', 'sorting', 'quick sort']),
    ...Array(2).fill(['algorithm', 'sorting', 'merge sort']),
    ...Array(4).fill(['algorithm', 'searching']),
  ];
  for (const [i, [category, ...labels]] of paths.entries()) {
    await canonicalizeFeatureSet(
      { fileId: `f${i}`, path: `f${i}`, language: 'python', treeKey: 'all', extractor: 'static', features: [{ category: category!, labels }], summary: null, purpose: null, scenario: null, extractedAt: 0 },
      { trees, embedder, threshold: 0.85 },
    );
  }
  return {
    trees, embedder, access: { model }, threshold: 0.85, seedOf: (request) => evolutionSeed(1, request.round),
    breadth: [1, 2, 2], temperature: 1, topN: 50, minSiblings: 2, excludeCategories: ['programming language'],
  };
}

const node = (config: EvolveConfig, path: string[]) => config.trees.get('all').tree.findByPath(path);

describe('tree evolution', () => {
  it('adds breadth with the mean frequency of the existing siblings', async () => {
    const config = await setup(answering({ additions: [{ parent: ['algorithm', 'sorting'], labels: ['heap sort', 'radix sort'] }] }));
    const out = await evolveOnce({ treeKey: 'all', round: 1, reason: 'test', requestedAt: 0 }, config);
    expect(out.ok && out.value).toMatchObject({ added: 2, breadth: 2, depth: 0, skipped: 0 });
    for (const label of ['heap sort', 'radix sort']) {
      expect(node(config, ['algorithm', 'sorting', label])).toMatchObject({ origin: 'evolved', evolutionRound: 1, frequency: 3 });
    }
  });

  it('adds depth under a leaf with the parent frequency shared among the new children', async () => {
    const config = await setup(answering({ additions: [{ parent: ['algorithm', 'searching'], labels: ['binary search', 'interpolation search'] }] }));
    const out = await evolveOnce({ treeKey: 'all', round: 2, reason: 'test', requestedAt: 0 }, config);
    expect(out.ok && out.value).toMatchObject({ added: 2, depth: 2, breadth: 0 });
    expect(node(config, ['algorithm', 'searching', 'binary search'])).toMatchObject({ frequency: 2, evolutionRound: 2 });
  });

  it('canonicalizes proposals: a rephrased existing feature is not added again, an evolved one re-proposed averages its estimates', async () => {
    const config = await setup(
      answering(
        { additions: [{ parent: ['algorithm', 'sorting'], labels: ['heap sort'] }] },
        { additions: [{ parent: ['algorithm', 'sorting'], labels: ['Quick-Sort', 'heap sorting', 'bucket sort', 'shell sort', 'tim sort'] }] },
      ),
    );
    await evolveOnce({ treeKey: 'all', round: 1, reason: 'test', requestedAt: 0 }, config); // heap sort at mean(6... siblings 4,2) = 3
    const second = await evolveOnce({ treeKey: 'all', round: 2, reason: 'test', requestedAt: 0 }, config);
    // siblings now quick 4, merge 2, heap 3 → estimate 3 for every proposal of round 2
    if (!second.ok) throw new Error(second.rejection.detail);
    expect(second.value).toMatchObject({ added: 3, known: 2 });
    const tree = config.trees.get('all').tree;
    const sorting = node(config, ['algorithm', 'sorting'])!;
    expect(tree.children(sorting.id).map((c) => c.label).sort()).toEqual(['bucket sort', 'heap sort', 'merge sort', 'quick sort', 'shell sort', 'tim sort']);
    expect(node(config, ['algorithm', 'sorting', 'quick sort'])).toMatchObject({ origin: 'extracted', frequency: 4 });
    const heap = node(config, ['algorithm', 'sorting', 'heap sort'])!;
    expect(heap.aliases).toContain('heap sorting');
    expect(heap.estimates).toBe(2);
    expect(heap.frequency).toBeCloseTo((3 + 3) / 2);
  });

  it('skips additions under a parent the tree does not have, and emits valid changelog records that rebuild the tree', async () => {
    const config = await setup(answering({ additions: [{ parent: ['made up'], labels: ['x'] }, { parent: ['algorithm'], labels: ['hashing'] }] }));
    const out = await lastValueFrom(of({ treeKey: 'all', round: 1, reason: 'test', requestedAt: 0 }).pipe(evolveStage(config), toArray()));
    const result = out[0]!;
    if (!result.ok) throw new Error(result.rejection.detail);
    expect(result.value).toMatchObject({ skipped: 1, added: 1 });
    const contracts = loadContracts();
    for (const c of result.value.changes) contracts.TreeNodeChange.check(c);
    const tree = config.trees.get('all').tree;
    const rebuilt = TreeStore.restore('all', [...tree.all()].map((n, i) => ({ treeKey: 'all', seq: i + 1, op: 'UPSERT' as const, nodeId: n.id, node: n, cause: 'x' })), clock);
    expect(rebuilt.toNested()).toEqual(tree.toNested());
  });

  it('shows the model a sampled subtree as nested JSON', async () => {
    const model = answering({ additions: [{ parent: ['algorithm'], labels: ['hashing'] }] });
    await evolveOnce({ treeKey: 'all', round: 1, reason: 'test', requestedAt: 0 }, await setup(model));
    const shown = JSON.parse(model.prompts[0]!.slice(model.prompts[0]!.indexOf('{')));
    expect(Object.keys(shown)).toEqual(['algorithm']);
  });
});
