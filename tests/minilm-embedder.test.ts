// The real MiniLM model, as ./setup.sh installs it (.ci/run runs setup first, so this never
// skips: without the model it fails with the instruction to run ./setup.sh).
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../embeddings/embedder.js';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { bestThreshold, mergeQuality, parseLabelPairs, scorePairs, type ScoredPair } from '../embeddings/merge-quality.js';
import { MiniLmEmbedder, MiniLmModelMissingError, defaultMiniLmDir } from '../embeddings/minilm.js';
import { MERGE_SIMILARITY } from '../topology/settings.js';

const pairs = parseLabelPairs(JSON.parse(readFileSync(new URL('./fixtures/label-pairs.json', import.meta.url), 'utf8')));

let embedder: MiniLmEmbedder;
beforeAll(async () => {
  embedder = await MiniLmEmbedder.open();
});

async function similarity(a: string, b: string): Promise<number> {
  const [va, vb] = await embedder.embed([a, b]);
  return cosine(va!, vb!);
}

describe('MiniLmEmbedder', () => {
  it('names itself and returns one unit vector of 384 per text, in order, the same every time', async () => {
    expect(embedder.name).toBe('minilm-l6-v2-int8');
    expect(embedder.dimension).toBe(384);
    const labels = ['read file', 'json parsing', 'I/O', '', '   ', '文件读取', 'naïve bayes'];
    const first = await embedder.embed(labels);
    const again = await embedder.embed([...labels].reverse());
    expect(first).toHaveLength(labels.length);
    first.forEach((v, i) => {
      expect(v).toHaveLength(384);
      expect(Math.sqrt(cosine(v, v))).toBeCloseTo(1, 5);
      expect(cosine(v, again[labels.length - 1 - i]!)).toBeCloseTo(1, 5);
    });
    expect(await embedder.embed([])).toEqual([]);
  });

  it('gives a text the same vector alone as padded into a batch of longer ones', async () => {
    const [alone] = await embedder.embed(['sort']);
    const batch = await embedder.embed(['sort', 'recursive directory traversal with symbolic link handling', 'parse command line arguments']);
    expect(cosine(alone!, batch[0]!)).toBeGreaterThan(0.9999);
  });

  it('places labels by meaning: the similarities measured for this model', async () => {
    expect(await similarity('error handling', 'exception handling')).toBeCloseTo(0.77, 1);
    expect(await similarity('read csv file', 'parse csv')).toBeCloseTo(0.78, 1);
    expect(await similarity('error handling', 'string formatting')).toBeCloseTo(0.18, 1);
  });

  it('reads the first 256 word pieces of a long text, as sentence-transformers does', async () => {
    const head = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const [short, long] = await embedder.embed([head, `${head} ${'and much more text '.repeat(20_000)}`]);
    expect(cosine(short!, long!)).toBeGreaterThan(0.9999);
  });
});

describe('MiniLmEmbedder.open without the model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-minilm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says to run ./setup.sh when the files are not there', async () => {
    const error = await MiniLmEmbedder.open({ dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MiniLmModelMissingError);
    expect((error as Error).message).toMatch(/not found \(model\.onnx\) in .*run \.\/setup\.sh/);
  });

  it('refuses a model file that is not the one setup.sh checked', async () => {
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(defaultMiniLmDir(), file), join(dir, file));
    writeFileSync(join(dir, 'model.onnx'), readFileSync(join(defaultMiniLmDir(), 'model.onnx')).subarray(0, 1_000_000));
    await expect(MiniLmEmbedder.open({ dir })).rejects.toThrow(/altered or partial model\.onnx.*run \.\/setup\.sh/);
  });
});

describe('merging labels with MiniLM: the labelled pairs of tests/fixtures/label-pairs.json', () => {
  let neural: ScoredPair[];
  let lexical: ScoredPair[];
  beforeAll(async () => {
    neural = await scorePairs(embedder, pairs);
    lexical = await scorePairs(new LexicalLabelEmbedder(), pairs);
  });
  const find = (scored: ScoredPair[], a: string, b: string) => scored.find((p) => p.a === a && p.b === b)!;

  it('has the F1-best threshold on these pairs as its default', () => {
    expect(bestThreshold(neural).threshold).toBe(MERGE_SIMILARITY.minilm);
  });

  it('merges more of the same features than the lexical embedder, with about as few wrong merges', () => {
    const n = mergeQuality(neural, MERGE_SIMILARITY.minilm);
    const l = mergeQuality(lexical, MERGE_SIMILARITY.lexical);
    expect(n.recall).toBeGreaterThanOrEqual(0.85);
    expect(n.precision).toBeGreaterThanOrEqual(0.8);
    expect(n.recall).toBeGreaterThan(l.recall + 0.3);
    expect(n.f1).toBeGreaterThan(l.f1 + 0.2);
  });

  it('merges "error handling" with "exception handling", which the lexical embedder keeps apart', () => {
    expect(find(neural, 'error handling', 'exception handling').similarity).toBeGreaterThanOrEqual(MERGE_SIMILARITY.minilm);
    expect(find(lexical, 'error handling', 'exception handling').similarity).toBeLessThan(MERGE_SIMILARITY.lexical);
  });

  it.each([
    // Wrong merges the lexical embedder made on real code.
    ['types', 'typing'],
    ['_thread', 'threading'],
    ['read file', 'read unlocked'],
    // Hard negatives: the same words, or the same topic, for different features.
    ['read file', 'write file'],
    ['json parsing', 'json serialization'],
    ['sorting', 'merge sort'],
  ])('keeps %j and %j apart', (a, b) => {
    expect(find(neural, a, b).similarity).toBeLessThan(MERGE_SIMILARITY.minilm);
  });
});
