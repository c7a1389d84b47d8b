// Which label embedder a run uses: by meaning (MiniLM) when ./setup.sh installed the model,
// else the lexical one, said in one line; each with its own merge threshold.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { endpointConfigured, openEmbedders } from '../cli/llm-setup.js';
import type { RunOptions } from '../cli/run-options.js';
import { MERGE_SIMILARITY } from '../topology/settings.js';
import { writeCorpus } from './fixtures/corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'treesynth-embeddings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const noModel = join(dir, 'no-model');

type Choice = Pick<RunOptions, 'embeddings' | 'embeddingModel' | 'embeddingsUrl' | 'similarity' | 'quiet'>;
const choice = (embeddings: RunOptions['embeddings'], more: Partial<Choice> = {}): Choice => ({ embeddings, quiet: false, ...more });

async function open(options: Choice, modelDir?: string) {
  const lines: string[] = [];
  const opened = await openEmbedders(options, { ...(modelDir ? { modelDir } : {}), log: (line) => lines.push(line) });
  return { ...opened, lines };
}

describe('openEmbedders', () => {
  it('by default merges labels by meaning with the installed model, at its threshold, silently', async () => {
    const { labels, files, similarity, lines } = await open(choice('auto'));
    expect(labels.name).toBe('minilm-l6-v2-int8');
    expect(files.name).toBe('lexical-code-v1');
    expect(similarity).toBe(MERGE_SIMILARITY.minilm);
    expect(lines).toEqual([]);
  });

  it('merges static labels (identifiers, no model naming features) by spelling, and says so', async () => {
    const lines: string[] = [];
    const opened = await openEmbedders(choice('auto'), { staticLabelsOnly: true, log: (line) => lines.push(line) });
    expect([opened.labels.name, opened.similarity]).toEqual(['lexical-label-v1', MERGE_SIMILARITY.lexical]);
    expect(lines).toEqual([expect.stringContaining('static extraction only')]);
    // Asked for by name, the model is used for static labels too.
    expect((await openEmbedders(choice('minilm'), { staticLabelsOnly: true })).labels.name).toBe('minilm-l6-v2-int8');
  });

  it('knows a model names the features when an endpoint is configured for extraction, without calling it', () => {
    const flags = { llmTimeout: 1000, llmRetries: 0, cache: false as const, concurrency: 1 };
    const saved = process.env['OPENAI_BASE_URL'];
    delete process.env['OPENAI_BASE_URL'];
    try {
      expect(endpointConfigured(flags, 'extract')).toBe(false);
      expect(endpointConfigured({ ...flags, llmBaseUrl: 'http://127.0.0.1:9/v1' }, 'extract')).toBe(true);
    } finally {
      if (saved !== undefined) process.env['OPENAI_BASE_URL'] = saved;
    }
  });

  it('caches label vectors: a repeated label is embedded once', async () => {
    const { labels } = await open(choice('auto'));
    const [a] = await labels.embed(['error handling']);
    const [b] = await labels.embed(['error handling']);
    expect(b).toBe(a);
  });

  it('falls back to the lexical embedder without the model, and says so and why in one line', async () => {
    const { labels, similarity, lines } = await open(choice('auto'), noModel);
    expect(labels.name).toBe('lexical-label-v1');
    expect(similarity).toBe(MERGE_SIMILARITY.lexical);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^treesynth: labels merge by spelling, not meaning \(lexical embeddings, similarity 0\.85\): MiniLM .* not found .*run \.\/setup\.sh/);
    expect(lines[0]).not.toContain('\n');
    expect((await open(choice('auto', { quiet: true }), noModel)).lines).toEqual([]);
  });

  it('fails when the model is asked for by name and is not there', async () => {
    await expect(open(choice('minilm'), noModel)).rejects.toThrow(/--embeddings minilm: .*run \.\/setup\.sh/);
  });

  it('uses the lexical embedder when asked, and --similarity over any embedder\'s own', async () => {
    const lexical = await open(choice('lexical'));
    expect([lexical.labels.name, lexical.similarity]).toEqual(['lexical-label-v1', MERGE_SIMILARITY.lexical]);
    expect((await open(choice('auto', { similarity: 0.9 }))).similarity).toBe(0.9);
    expect((await open(choice('lexical', { similarity: 0.6 }))).similarity).toBe(0.6);
  });

  it('needs a model name for an OpenAI-compatible endpoint', async () => {
    await expect(open(choice('openai'))).rejects.toThrow(/--embedding-model/);
  });
});

describe('treesynth run records the embedder and the threshold it merged with', () => {
  const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
  const corpus = join(dir, 'corpus');
  writeCorpus(corpus);
  const run = async (out: string, extra: string[]) => {
    const { stderr } = await promisify(execFile)('node', [bin, 'run', '--input', corpus, '--out', join(dir, out), '--tasks', '3', '--no-cache', ...extra], { env: { ...process.env, CI: 'true' } });
    const summary = JSON.parse(readFileSync(join(dir, out, 'summary.json'), 'utf8')) as { embedders: { labels: string }; settings: { similarity: number } };
    return { stderr, labels: summary.embedders.labels, similarity: summary.settings.similarity };
  };

  it('without a model naming features, lexical by default; MiniLM when asked; lexical when asked', async () => {
    const byDefault = await run('default', []);
    expect([byDefault.labels, byDefault.similarity]).toEqual(['lexical-label-v1', MERGE_SIMILARITY.lexical]);
    expect(byDefault.stderr).toContain('static extraction only');
    const neural = await run('minilm', ['--embeddings', 'minilm']);
    expect([neural.labels, neural.similarity]).toEqual(['minilm-l6-v2-int8', MERGE_SIMILARITY.minilm]);
    expect(neural.stderr).not.toContain('labels merge by spelling');
    const lexical = await run('lexical', ['--embeddings', 'lexical']);
    expect([lexical.labels, lexical.similarity]).toEqual(['lexical-label-v1', MERGE_SIMILARITY.lexical]);
  });

});
