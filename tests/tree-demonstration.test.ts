// Tree demonstration: before a round evolves, the model (here the fake OpenAI server) arranges a
// category's flat features into sub-categories; the features move there, the changelog records
// it, and labels later files give those features are placed by the arrangement.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { LlmClient } from '../llm/client.js';
import { canonicalizeFeatureSet } from '../processors/canonicalize.js';
import { demonstrationCandidate, evolveOnce, type EvolveConfig } from '../processors/evolve.js';
import { checkDemonstrateAnswer } from '../prompts/demonstrate-tree.js';
import type { FeatureSet } from '../schemas/contract.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { ROOT_ID, parseMergeCause } from '../stores/tree-store.js';
import { evolutionSeed } from '../topology/evolution.js';
import { startFakeOpenAI, type ChatCompletionRequest, type FakeOpenAI } from './fakes/fake-openai-server.js';

const clock = () => 1_700_000_000_000;
const KEY = 'sk-test-demonstration-0123456789';
const PARSERS = ['json parsing', 'csv parsing', 'xml parsing', 'yaml parsing'];
const WRITERS = ['json output', 'csv export', 'report writing', 'html rendering'];

let server: FakeOpenAI;
let answer: (features: string[]) => unknown;
beforeAll(async () => {
  server = await startFakeOpenAI({
    apiKey: KEY,
    chat: (request: ChatCompletionRequest) => {
      const name = (request.response_format as { json_schema?: { name?: string } } | undefined)?.json_schema?.name;
      if (name === 'feature_tree_expansion') return JSON.stringify({ additions: [{ parent: ['data processing'], labels: ['data cleaning'] }] });
      const user = String(request.messages.find((m) => m.role === 'user')?.content ?? '');
      return JSON.stringify(answer([...user.matchAll(/^- (.*)$/gm)].map((m) => m[1]!)));
    },
  });
});
afterAll(() => server.close());

function featureSet(fileId: string, features: Array<[string, ...string[]]>): FeatureSet {
  return {
    fileId, path: `${fileId}.py`, language: 'python', treeKey: 'all', extractor: 'llm',
    features: features.map(([category, ...labels]) => ({ category, labels })), summary: null, purpose: null, scenario: null, extractedAt: 0,
  };
}

/** data processing with eight flat features (parsers in two files each, writers in one), logging with two. */
async function setup(): Promise<EvolveConfig> {
  const trees = new FeatureTrees(clock);
  const embedder = new LexicalLabelEmbedder();
  const files: Array<Array<[string, ...string[]]>> = [
    PARSERS.map((p) => ['data processing', p] as [string, string]),
    [...PARSERS, ...WRITERS].map((p) => ['data processing', p] as [string, string]),
    [['logging', 'log levels'], ['logging', 'log rotation']],
  ];
  for (const [i, f] of files.entries()) await canonicalizeFeatureSet(featureSet(`f${i}`, f), { trees, embedder, threshold: 0.85 });
  const model = new LlmClient({ baseURL: server.url, apiKey: KEY, model: 'fake-model', stage: 'evolve', timeoutMs: 5_000, maxRetries: 1 }, { retry: { baseDelayMs: 1, maxDelayMs: 4 } });
  return {
    trees, embedder, access: { model }, threshold: 0.85, seedOf: (r) => evolutionSeed(1, r.round), breadth: [2, 2], temperature: 1, topN: 50,
    minSiblings: 1, excludeCategories: [], demonstrate: { minFeatures: 6, sample: 40 },
  };
}

const grouped = (features: string[]) => ({
  groups: [{ label: 'Data Parsing', features: features.filter((f) => f.endsWith('parsing')) }, { label: 'data output', features: features.filter((f) => !f.endsWith('parsing')) }],
});

describe('tree demonstration', () => {
  it('arranges the category with the most flat features into the model\'s sub-categories, most frequent features first, and records the moves', async () => {
    const config = await setup();
    answer = grouped;
    const before = server.requests.length;
    const out = await evolveOnce({ treeKey: 'all', round: 1, reason: 'test', requestedAt: 0 }, config);
    if (!out.ok) throw new Error(out.rejection.detail);
    expect(out.value.demonstration).toEqual({ category: 'data processing', groups: 2, created: 2, moved: 8, failed: null });
    // Its two sub-categories and the round's one evolved label.
    expect(out.value).toMatchObject({ added: 3, breadth: 3 });
    const asked = server.requests.slice(before).map((r) => JSON.stringify(r.body));
    expect(asked[0]).toContain('Category: data processing');
    // The parsers (two files each) are listed before the writers (one file each).
    expect(asked[0]).toMatch(/csv parsing.*json parsing.*xml parsing.*yaml parsing.*csv export/);
    const { tree } = config.trees.get('all');
    const category = tree.findByPath(['data processing'])!;
    expect(tree.children(category.id).map((c) => c.label).sort()).toEqual(['data cleaning', 'data output', 'data parsing']);
    for (const p of PARSERS) expect(tree.findByPath(['data processing', 'data parsing', p])?.frequency).toBe(2);
    for (const w of WRITERS) expect(tree.findByPath(['data processing', 'data output', w])?.frequency).toBe(1);
    // A sub-category counts at most its category's files.
    expect(tree.findByPath(['data processing', 'data parsing'])!.frequency).toBe(2);
    expect(tree.findByPath(['data processing', 'data output'])!.frequency).toBe(2);
    const moves = out.value.changes.filter((c) => c.op === 'DELETE').map((c) => parseMergeCause(c.cause));
    expect(moves.map((m) => m!.label).sort()).toEqual([...PARSERS, ...WRITERS].sort());
    for (const m of moves) expect(m!.parentId).toBe(category.id);
    // The small category was left alone.
    expect(tree.children(tree.findByPath(['logging'])!.id).map((c) => c.label).sort()).toEqual(['log levels', 'log rotation']);
    expect(tree.children(ROOT_ID)).toHaveLength(2);
  });

  it('places a later file\'s flat label by the demonstrated hierarchy', async () => {
    const config = await setup();
    answer = grouped;
    await evolveOnce({ treeKey: 'all', round: 1, reason: 'test', requestedAt: 0 }, config);
    await canonicalizeFeatureSet(featureSet('later', [['data processing', 'json parsing']]), { trees: config.trees, embedder: config.embedder, threshold: 0.85 });
    const { tree } = config.trees.get('all');
    expect(tree.findByPath(['data processing', 'data parsing', 'json parsing'])!.frequency).toBe(3);
    expect(tree.findByPath(['data processing', 'json parsing'])).toBeUndefined();
    // Arranged once: the category has no flat features left to demonstrate (the evolved one is below the threshold).
    expect(demonstrationCandidate(tree, 6, 40, [])).toBeNull();
  });

  it('an answer that invents or repeats features is sent back, and when it stays wrong the tree is left as it was and the round goes on', async () => {
    const config = await setup();
    answer = (features) => ({ groups: [{ label: 'everything', features: [...features, 'made up feature'] }, { label: 'again', features: [features[0]] }] });
    const out = await evolveOnce({ treeKey: 'all', round: 1, reason: 'test', requestedAt: 0 }, config);
    if (!out.ok) throw new Error(out.rejection.detail);
    expect(out.value.demonstration).toMatchObject({ category: 'data processing', groups: 0, moved: 0 });
    expect(out.value.demonstration!.failed).toMatch(/^llm-/);
    expect(out.value.added).toBe(1);
    const { tree } = config.trees.get('all');
    for (const f of [...PARSERS, ...WRITERS]) expect(tree.findByPath(['data processing', f])).toBeDefined();
    expect(checkDemonstrateAnswer({ groups: [{ label: 'a', features: ['x', 'y'] }, { label: 'b', features: ['x'] }] }, ['x'])).toEqual([
      '/groups/0/features/1: "y" is not one of the listed features',
      '/groups/1/features/0: "x" is placed in two groups; place each feature once',
    ]);
  });
});
