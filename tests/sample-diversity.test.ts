// Output diversity and decontamination by meaning, with the real MiniLM model (./setup.sh
// installs it) on the hand-written pairs of tests/fixtures/sample-pairs.json, the set the
// defaults were chosen on.
import { readFileSync } from 'node:fs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Embedder } from '../embeddings/embedder.js';
import { LexicalCodeEmbedder } from '../embeddings/lexical.js';
import { MiniLmEmbedder } from '../embeddings/minilm.js';
import { openDecontamination } from '../cli/llm-setup.js';
import { validateStage } from '../processors/validate.js';
import {
  BenchmarkIndex, DEFAULT_SEMANTIC_SIMILARITY, checkContamination, embedBenchmark, findContamination, type DecontaminateConfig,
} from '../quality/contamination.js';
import { NEAR_DUPLICATE_SAMPLE_REASON } from '../quality/sample-dedup.js';
import type { GeneratedSample } from '../schemas/contract.js';
import type { Outcome } from '../schemas/outcome.js';
import { SampleIndex } from '../stores/sample-index.js';
import { DEFAULT_SETTINGS } from '../topology/settings.js';

interface Side { instruction: string; solution: string }
const fixture = JSON.parse(readFileSync(new URL('./fixtures/sample-pairs.json', import.meta.url), 'utf8')) as {
  duplicates: Array<{ a: Side; b: Side }>;
  distinct: Array<{ a: Side; b: Side }>;
  contaminations: Array<{ benchmark: string; sample: string }>;
  clean: Array<{ benchmark: string; sample: string }>;
};

function sample(id: string, side: Side): GeneratedSample {
  return {
    sampleId: id, taskId: `t-${id}`, treeKey: 'all', level: 'function', language: 'python', instruction: side.instruction, analysis: '',
    files: [{ path: 'solution.py', role: 'solution', content: side.solution }, { path: 'test_solution.py', role: 'test', content: 'def test_it():\n    assert True\n' }],
    features: [], provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 }, usage: { promptTokens: 0, completionTokens: 0, requests: 0 },
    elapsedMs: 0, validation: null, createdAt: 0,
  };
}

/** The deployed validate stage with output dedup only (no sandbox, no benchmark), over a fresh store. */
async function dedupRun(embedder: Embedder, samples: GeneratedSample[], store = new SampleIndex()): Promise<Array<Outcome<GeneratedSample>>> {
  const stage = validateStage(undefined, undefined, undefined, { store, embedder, radius: DEFAULT_SETTINGS.sampleDuplicateRadius });
  if (!stage) throw new Error('the validate stage should exist when output dedup is on');
  return lastValueFrom(from(samples).pipe(stage, toArray()));
}

let minilm: MiniLmEmbedder;
beforeAll(async () => {
  minilm = await MiniLmEmbedder.open();
});

describe('near-duplicate generated samples', () => {
  it('drops the second of each pair that teaches the same task in other words and code, naming the sample it repeats', async () => {
    const samples = fixture.duplicates.flatMap((p, i) => [sample(`dup${i}a`, p.a), sample(`dup${i}b`, p.b)]);
    const outcomes = await dedupRun(minilm, samples);
    expect(outcomes).toHaveLength(samples.length);
    outcomes.forEach((o, i) => {
      if (i % 2 === 0) {
        expect(o.ok).toBe(true);
        return;
      }
      expect(o.ok).toBe(false);
      if (o.ok) return;
      expect(o.rejection).toMatchObject({ reason: NEAR_DUPLICATE_SAMPLE_REASON, recordId: samples[i]!.sampleId, source: samples[i - 1]!.sampleId });
      expect(o.rejection.detail).toMatch(/within cosine distance 0\.\d+ ≤ 0\.15 of accepted sample dup\d+a \(minilm/);
      expect(JSON.parse(o.rejection.record!).sampleId).toBe(samples[i]!.sampleId);
    });
  });

  it('keeps samples on the same topic that teach different tasks', async () => {
    const samples = fixture.distinct.flatMap((p, i) => [sample(`d${i}a`, p.a), sample(`d${i}b`, p.b)]);
    const outcomes = await dedupRun(minilm, samples);
    expect(outcomes.map((o) => o.ok)).toEqual(samples.map(() => true));
  });

  it('never calls a sample its own duplicate: a sample seen again (a retried batch) is kept and stored once', async () => {
    const store = new SampleIndex();
    const s = sample('again', fixture.duplicates[0]!.a);
    const outcomes = await dedupRun(minilm, [s, s], store);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    expect(store.size).toBe(1);
  });

  it('is restorable: a store rebuilt from a snapshot drops what the original would', async () => {
    const first = new SampleIndex();
    const [a, b] = [sample('a', fixture.duplicates[1]!.a), sample('b', fixture.duplicates[1]!.b)];
    await dedupRun(minilm, [a], first);
    const restored = new SampleIndex();
    restored.restore(JSON.parse(JSON.stringify(first.snapshot())) as Array<[string, number[]]>);
    expect(restored.size).toBe(1);
    const [outcome] = await dedupRun(minilm, [b], restored);
    expect(outcome!.ok).toBe(false);
    expect(() => restored.restore([['x', ['not a number']]] as never)).toThrow(/sample index snapshot/);
    expect(() => restored.restore([['x', [1, 2]]])).toThrow(/2 dimensions, the index has 384/);
  });

  it('weighs the solution too: the same instruction over unrelated code is not a duplicate', async () => {
    const [p] = fixture.distinct;
    const lru = fixture.distinct[1]!.a.solution;
    const outcomes = await dedupRun(minilm, [sample('orig', p!.a), sample('other-code', { instruction: p!.a.instruction, solution: lru })]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
  });

  it('radius 0 turns the check off: no stage when there is nothing else to do', () => {
    expect(validateStage(undefined, undefined, undefined, { store: new SampleIndex(), embedder: minilm, radius: 0 })).toBeUndefined();
  });
});

describe('decontamination by meaning', () => {
  const index = new BenchmarkIndex();
  const items = [...fixture.contaminations, ...fixture.clean].map((p) => p.benchmark);
  const distinctItems = [...new Set(items)];
  distinctItems.forEach((text, i) => index.add({ id: `B/${i}`, file: 'bench.jsonl', line: i + 1 }, [text], text));
  const idOf = (text: string) => `B/${distinctItems.indexOf(text)}`;
  let config: DecontaminateConfig;
  beforeAll(async () => {
    config = { index, minMatches: 1, semantic: await embedBenchmark(index, minilm) };
  });

  it('catches restated benchmark problems that share no 13-gram with them (5 of the 6 in the fixture at the default)', async () => {
    let caught = 0;
    for (const [i, p] of fixture.contaminations.entries()) {
      const s = sample(`c${i}`, { instruction: p.sample, solution: 'def f():\n    pass\n' });
      expect(findContamination(s, { index })).toBeNull();
      const outcome = await checkContamination(s, config);
      if (outcome.ok) continue;
      caught += 1;
      expect(outcome.rejection).toMatchObject({ stage: 'decontaminate', reason: 'contaminated', recordId: `c${i}`, source: 'bench.jsonl' });
      expect(outcome.rejection.detail).toContain(`means the same as benchmark item ${idOf(p.benchmark)}`);
      expect(outcome.rejection.detail).toMatch(new RegExp(`cosine 0\\.\\d{3} ≥ ${DEFAULT_SEMANTIC_SIMILARITY} \\(minilm-l6-v2-int8\\), with no shared 13-gram`));
    }
    expect(caught).toBeGreaterThanOrEqual(5);
  });

  it('passes a different task on the same topic as a benchmark problem', async () => {
    for (const [i, p] of fixture.clean.entries()) {
      const outcome = await checkContamination(sample(`k${i}`, { instruction: p.sample, solution: 'def f():\n    pass\n' }), config);
      expect(outcome.ok, p.sample).toBe(true);
    }
  });

  it('the reference\'s 0.9 with this model would catch none of them: the threshold belongs to the embedder', async () => {
    const strict = { index, minMatches: 1, semantic: { ...config.semantic!, threshold: 0.9 } };
    const outcomes = await Promise.all(fixture.contaminations.map((p, i) => checkContamination(sample(`s${i}`, { instruction: p.sample, solution: '' }), strict)));
    expect(outcomes.filter((o) => !o.ok)).toHaveLength(0);
  });

  it('a run whose samples are embedded lexically checks n-grams only, and says so', async () => {
    const lines: string[] = [];
    const bench = new URL('./fixtures/sample-pairs.json', import.meta.url).pathname;
    const opened = await openDecontamination(
      { benchmark: [bench], ngram: 13, semanticThreshold: DEFAULT_SEMANTIC_SIMILARITY, quiet: false }, { embedder: new LexicalCodeEmbedder(), byMeaning: false }, (l) => void lines.push(l),
    );
    expect(opened?.semantic).toBeUndefined();
    expect(lines).toEqual(['treesynth: decontamination by 13-grams only: matching by meaning needs MiniLM (./setup.sh) or --embeddings openai']);
    const withModel = await openDecontamination({ benchmark: [bench], ngram: 13, semanticThreshold: 0.8, quiet: true }, { embedder: minilm, byMeaning: true });
    expect(withModel?.semantic?.threshold).toBe(0.8);
  });
});
