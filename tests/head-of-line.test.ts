// A file whose model call is slow (a request sleeping out its backoff at 25 % faults) must not
// stop the files behind it. They leave the extract stage in input order, so they wait, finished,
// behind it; the local run reads on past its window while they do (up to eight windows of them),
// so the endpoint keeps getting requests instead of idling until the slow file is answered.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCodeEmbedder, createLabelEmbedder } from '../embeddings/index.js';
import type { CompleteRequest, LlmResult } from '../llm/client.js';
import type { StructuredModel } from '../llm/model.js';
import { FEATURE_CATEGORIES } from '../schemas/categories.js';
import { runLocal } from '../topology/run-local.js';
import { pipelineSettings } from '../topology/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'treesynth-head-of-line-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WINDOW = 4;
const FILES = 60;

/** `n` distinct small Python files as a JSONL corpus. */
function corpus(n: number): string {
  const file = join(dir, 'corpus.jsonl');
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ path: `pkg${i}/mod${i}.py`, content: `import os\n\n\ndef handler_${i}(path_${i}):\n    return os.path.join(path_${i}, "${'x'.repeat(i)}") * ${i + 3}\n` }),
  );
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Answers every file at once, except the first, which it holds until no other request has come for a second. */
function modelWithOneSlowAnswer(): StructuredModel & { calls: number; whileFirstWaited: number } {
  const model = {
    calls: 0,
    whileFirstWaited: -1,
    // The first request is whichever file was parsed first (two workers parse side by side).
    async complete<T>(_request: CompleteRequest<T>): Promise<LlmResult<T>> {
      model.calls += 1;
      if (model.calls === 1) {
        for (let seen = -1; seen !== model.calls; ) {
          seen = model.calls;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        model.whileFirstWaited = model.calls - 1;
      }
      const value = { features: [{ category: FEATURE_CATEGORIES[0], labels: ['path handling'] }], summary: 's', purpose: 'p', scenario: 'c' } as unknown as T;
      const usage = { promptTokens: 1, completionTokens: 1, requests: 1 };
      return { ok: true, value, cached: false, repaired: false, usage, model: 'm', elapsedMs: 1, stage: 'extract', provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 } };
    },
  };
  return model;
}

describe('a file held up at the model', () => {
  it('does not stop the files behind it from reaching the model, past the window and within eight windows more', async () => {
    const model = modelWithOneSlowAnswer();
    const summary = await runLocal({
      input: corpus(FILES), out: join(dir, 'out'), tasks: 0, window: WINDOW,
      settings: pipelineSettings({ llmStages: ['extract'], concurrency: 2, nearDuplicateRadius: 0 }),
      labelEmbedder: createLabelEmbedder({ kind: 'lexical' }), codeEmbedder: createCodeEmbedder({ kind: 'lexical' }),
      llm: { models: { extract: model } }, clock: () => 1_700_000_000_000,
    });
    // With the window alone, the files behind the first would stop at WINDOW while it waits.
    expect(model.whileFirstWaited).toBeGreaterThan(3 * WINDOW);
    expect(model.whileFirstWaited).toBeLessThanOrEqual(9 * WINDOW);
    expect(summary.files).toEqual({ read: FILES, accepted: FILES, rejected: 0 });
  });
});
