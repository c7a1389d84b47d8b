// Evolution control (topology/evolution.ts): when a round is due, how rounds are numbered and
// seeded; and the local runner asking for exactly those rounds.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCodeEmbedder, createLabelEmbedder } from '../embeddings/index.js';
import type { CompleteRequest, LlmResult } from '../llm/client.js';
import type { StructuredModel } from '../llm/model.js';
import type { SubtreeJson } from '../prompts/evolve-tree.js';
import { evolutionSeed, highestRounds, nextRounds, roundDue, roundsDuringCorpus } from '../topology/evolution.js';
import { runLocal } from '../topology/run-local.js';
import { MERGE_SIMILARITY, pipelineSettings } from '../topology/settings.js';
import { writeCorpus } from './fixtures/corpus.js';

describe('evolution control', () => {
  it('is due when a tree has just taken in k·N files, as round k', () => {
    expect(roundDue('all', 4, 4, 7)).toEqual({ treeKey: 'all', round: 1, reason: 'every-n-files', requestedAt: 7 });
    expect(roundDue('py', 12, 4, 7)?.round).toBe(3);
    for (const files of [1, 2, 3, 5, 6, 7, 9]) expect(roundDue('all', files, 4, 7), `${files} files`).toBeNull();
  });

  it('is never due with N = 0, or before the first file', () => {
    for (const files of [0, 1, 4, 100]) expect(roundDue('all', files, 0, 7)).toBeNull();
    expect(roundDue('all', 0, 4, 7)).toBeNull();
  });

  it('numbers later rounds after the highest one requested for the same tree', () => {
    const highest = highestRounds([{ treeKey: 'all', round: 2 }, { treeKey: 'py', round: 5 }, { treeKey: 'all', round: 3 }]);
    expect(Object.fromEntries(highest)).toEqual({ all: 3, py: 5 });
    expect(nextRounds('all', highest.get('all') ?? 0, 2, 'end-of-corpus', 9).map((r) => r.round)).toEqual([4, 5]);
    expect(nextRounds('go', highest.get('go') ?? 0, 1, 'on-demand', 9)).toEqual([{ treeKey: 'go', round: 1, reason: 'on-demand', requestedAt: 9 }]);
    expect(nextRounds('all', 0, 0, 'x', 9)).toEqual([]);
    expect(roundsDuringCorpus(10, 4)).toBe(2);
    expect(roundsDuringCorpus(10, 0)).toBe(0);
  });

  it('seeds a round by the run seed and the round number only', () => {
    expect(evolutionSeed(42, 3)).toBe(evolutionSeed(42, 3));
    const seeds = new Set([1, 2, 3, 4, 5].map((r) => evolutionSeed(42, r)));
    expect(seeds.size).toBe(5);
    expect(evolutionSeed(43, 3)).not.toBe(evolutionSeed(42, 3));
  });
});

/** A model that answers evolution prompts with two new children under the first leaf it is shown. */
function evolvingModel(): StructuredModel & { rounds: number } {
  const model = {
    rounds: 0,
    async complete<T>(request: CompleteRequest<T>): Promise<LlmResult<T>> {
      model.rounds += 1;
      const text = String(request.messages.at(-1)?.content);
      const subtree = JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)) as SubtreeJson;
      const path: string[] = [];
      for (let level: SubtreeJson | string[] = subtree; !Array.isArray(level) && Object.keys(level).length > 0; ) {
        const [label, next]: [string, SubtreeJson | string[]] = Object.entries(level)[0]!;
        path.push(label);
        level = next;
      }
      const value = { additions: [{ parent: path, labels: [`variant ${model.rounds} a`, `variant ${model.rounds} b`] }] } as unknown as T;
      const usage = { promptTokens: 1, completionTokens: 1, requests: 1 };
      return { ok: true, value, cached: false, repaired: false, usage, model: 'm', elapsedMs: 1, stage: 'evolve', provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 } };
    },
  };
  return model;
}

describe('the local runner evolves when evolution control says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-evolution-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const corpus = join(dir, 'corpus');
  writeCorpus(corpus);

  async function run(every: number, rounds: number, out: string) {
    const model = evolvingModel();
    const summary = await runLocal({
      input: corpus, out: join(dir, out), tasks: 3,
      settings: pipelineSettings({ llmStages: ['evolve'], similarity: MERGE_SIMILARITY.lexical, evolution: { every, rounds, demonstrate: { minFeatures: 0, sample: 0 } } }), // this model answers evolution prompts only (demonstration: tests/tree-demonstration.test.ts)
      labelEmbedder: createLabelEmbedder({ kind: 'lexical' }), codeEmbedder: createCodeEmbedder({ kind: 'lexical' }),
      llm: { models: { evolve: model } }, clock: () => 1_700_000_000_000,
    });
    return { summary, model };
  }

  it('asks for a round after every N files, then the end-of-corpus rounds numbered after them', async () => {
    const { summary, model } = await run(2, 1, 'every-2');
    const files = summary.files.accepted;
    expect(files).toBeGreaterThanOrEqual(4);
    const during = Math.floor(files / 2);
    expect(summary.evolution.rounds).toBe(during + 1);
    expect(model.rounds).toBe(during + 1);
    // The last round is numbered after the ones during the corpus.
    const tree = readFileSync(join(dir, 'every-2', 'tree.json'), 'utf8');
    expect(tree).toContain(`"evolutionRound": ${during + 1}`);
    expect(tree).not.toContain(`"evolutionRound": ${during + 2}`);
  });

  it('asks for no round while files arrive when N = 0', async () => {
    const { summary } = await run(0, 2, 'every-0');
    expect(summary.evolution.rounds).toBe(2);
    expect(summary.evolution.added).toBe(4);
  });
});
