// Quality figures on small hand-made sets whose values are worked out by hand in the comments.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LexicalCodeEmbedder } from '../embeddings/lexical.js';
import { loadGrammars, type Grammars } from '../analysis/tree-sitter/grammars.js';
import { measure, openOutDir } from '../quality/collect.js';
import { aggregateComplexity, measureCode, sampleComplexity } from '../quality/complexity.js';
import { NodeHits, distinctNgrams, entropyFigures, meanPairwiseDistance, treeCoverage, FeatureUse } from '../quality/diversity.js';
import { PassRateCounter, passRates } from '../quality/pass-rates.js';
import { readFeatureTree, readValidation, type FeatureTreeNode } from '../quality/records.js';
import { timeline, tokenFigures } from '../quality/run-figures.js';
import type { GeneratedSample, Rejection } from '../schemas/contract.js';
import { writeFixtureRun } from './report-fixture.js';

let grammars: Grammars;
beforeAll(async () => {
  grammars = await loadGrammars();
});
afterAll(() => grammars.delete());

const PY = `import os, sys
from collections import deque

# a comment


def f(xs):
    """Doc."""
    total = 0
    for x in xs:
        if x > 0 and x < 10:
            total += x
        elif x == 0:
            pass
    return total


def g(x):
    try:
        return 1 if x else 2
    except ValueError:
        return 0
`;

const JS = `import fs from 'node:fs';
const path = require('node:path');
// comment
/* block
   comment */
function a(x) {
  if (x && y) { return 1; }
  for (const k of x) {}
  return x ? 1 : 2;
}
const b = (y) => y ?? 0;
[1, 2].map((z) => z || 1);
`;

const JAVA = `import java.util.List;
import java.util.Map;

class A {
  A() {}
  int f(int a) {
    switch (a) {
      case 1: return 1;
      case 2: return 2;
      default: return 0;
    }
  }
  // note
  int g(int a) {
    while (a > 0 || a < -5) { a--; }
    try { return a; } catch (Exception e) { return -1; }
  }
}
interface B { void h(); }
`;

const GO = `package main

import (
	"fmt"
	"os"
)

func f(a int) int {
	if a > 1 && a < 5 {
		return 1
	}
	for i := 0; i < a; i++ {
		fmt.Println(i)
	}
	switch a {
	case 1:
		return 2
	default:
		return 3
	}
}

func (s *S) m() {}
`;

describe('static complexity', () => {
  it('Python: lines without blanks and comments, decision points per function, imported modules', () => {
    // f: for, if, and, elif → 1 + 4 = 5; g: conditional expression, except → 1 + 2 = 3.
    // 16 lines: the docstring counts (it is a string), "# a comment" and blank lines do not.
    // Imports: os and sys (one statement, two modules) and collections.
    expect(measureCode(PY, 'python', grammars)).toEqual({ lines: 16, decisions: 6, cyclomatic: 8, maxCyclomatic: 5, functions: 2, imports: 3, method: 'tree-sitter' });
  });

  it('JavaScript and TypeScript: a named arrow function is a function, an inline callback is not', () => {
    // a: if, &&, for-of, ternary → 5; b: ?? → 2; outside functions: the callback's || → 1 + 1 = 2.
    // Imports: the import statement and require().
    const expected = { lines: 9, decisions: 6, cyclomatic: 9, maxCyclomatic: 5, functions: 2, imports: 2, method: 'tree-sitter' };
    expect(measureCode(JS, 'javascript', grammars)).toEqual(expected);
    expect(measureCode(JS, 'typescript', grammars)).toEqual(expected);
  });

  it('Java: case labels but not default; an interface method without a body is no function', () => {
    // A(): 1; f: two case labels → 3; g: while, ||, catch → 4.
    expect(measureCode(JAVA, 'java', grammars)).toEqual({ lines: 17, decisions: 5, cyclomatic: 8, maxCyclomatic: 4, functions: 3, imports: 2, method: 'tree-sitter' });
  });

  it('Go: import specs, expression cases, && and for', () => {
    // f: if, &&, for, case 1 → 5; m: 1.
    expect(measureCode(GO, 'go', grammars)).toEqual({ lines: 20, decisions: 4, cyclomatic: 6, maxCyclomatic: 5, functions: 2, imports: 2, method: 'tree-sitter' });
  });

  it('code outside any function is one block; comprehension for/if clauses are decision points', () => {
    expect(measureCode('squares = [x * x for x in range(10) if x]\nprint("no functions")\n', 'python', grammars)).toMatchObject({ lines: 2, cyclomatic: 3, functions: 0 });
  });

  it('strings and comments never count as decisions', () => {
    const text = 'def f():\n    # if and or while\n    return "if x and y or z for w in v"\n';
    expect(measureCode(text, 'python', grammars)).toMatchObject({ lines: 2, decisions: 0, cyclomatic: 1, functions: 1 });
  });

  it('falls back to counting tokens for a language without a grammar, and says so', () => {
    // if and && outside the comment and the string; one fn.
    const rust = 'fn main() {\n    // if x\n    let s = "while";\n    if a && b { }\n}\n';
    expect(measureCode(rust, 'rust', grammars)).toEqual({ lines: 4, decisions: 2, cyclomatic: 3, maxCyclomatic: 3, functions: 1, imports: 0, method: 'tokens' });
    expect(measureCode(PY, 'python', null).method).toBe('tokens');
  });

  it('a sample is measured over its solution files; tests only count as test lines', () => {
    const s = sample('s', { files: [
      { path: 'a.py', role: 'solution', content: PY },
      { path: 'b.js', role: 'solution', content: JS },
      { path: 'test_a.py', role: 'test', content: 'def test_f():\n    assert True\n' },
    ] });
    const c = sampleComplexity(s, grammars);
    expect(c).toMatchObject({ files: 2, lines: 25, cyclomatic: 17, maxCyclomatic: 5, functions: 4, imports: 5, testLines: 2, method: 'tree-sitter' });
    const agg = aggregateComplexity([c, { ...c, sampleId: 't', lines: 35, language: 'go', level: 'function' }]);
    expect(agg.all.lines).toMatchObject({ count: 2, mean: 30, min: 25, max: 35, median: 30 });
    expect(Object.keys(agg.byLanguage)).toEqual(['go', 'python']);
    expect(agg.byLevel['file']!.samples).toBe(1);
  });
});

function sample(id: string, over: Partial<GeneratedSample> = {}): GeneratedSample {
  return {
    sampleId: id, taskId: `t-${id}`, treeKey: 'all', level: 'file', language: 'python', instruction: 'Do it.', analysis: '',
    files: [{ path: 'a.py', role: 'solution', content: 'x = 1\n' }], features: [],
    provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 }, usage: { promptTokens: 0, completionTokens: 0, requests: 0 },
    elapsedMs: 0, validation: null, createdAt: 0, ...over,
  };
}

const validationRejection = (id: string, record: unknown, reason = 'test-failure'): Rejection => ({
  stage: 'validate', reason, detail: 'failed', recordId: id, path: null, source: null, position: null, record: typeof record === 'string' ? record : JSON.stringify(record), at: 1,
});

describe('pass rates', () => {
  it('per level and per debugging turn, failures from validate dead letters', () => {
    const counter = new PassRateCounter();
    // Passed: two functions as generated, one function after 1 turn, one file after 2 turns.
    counter.addSample(sample('a', { level: 'function', validation: { passed: true, turns: 0, reason: null, attempts: [], tests: null, mutation: null } }));
    counter.addSample(sample('b', { level: 'function', validation: { passed: true, turns: 0, reason: null, attempts: [], tests: null, mutation: null } }));
    counter.addSample(sample('c', { level: 'function', validation: { passed: true, turns: 1, reason: null, attempts: [], tests: null, mutation: null } }));
    counter.addSample(sample('d', { level: 'file', validation: { passed: true, turns: 2, reason: null, attempts: [], tests: null, mutation: null } }));
    counter.addSample(sample('e', { level: 'file' })); // not validated
    // Failed: a function after 2 turns; one whose record was cut off (level unknown).
    counter.addRejection(validationRejection('f', sample('f', { level: 'function', validation: { passed: false, turns: 2, reason: 'test-failure', attempts: [], tests: null, mutation: null } })));
    counter.addRejection(validationRejection('g', '{"sampleId":"g","files":[…[truncated]', 'timeout'));
    // Dead letters of other stages are no validation outcome.
    counter.addRejection({ ...validationRejection('h', null), stage: 'generate', reason: 'llm-invalid-json' });
    const p = counter.result();
    expect(p).toMatchObject({ validated: 6, passed: 4, failed: 2, notValidated: 1 });
    expect(p.rate).toBeCloseTo(4 / 6);
    expect(p.byLevel).toEqual({
      function: { validated: 4, passed: 3, rate: 0.75 },
      file: { validated: 1, passed: 1, rate: 1 },
      unknown: { validated: 1, passed: 0, rate: 0 },
    });
    expect(p.byTurn.map((t) => [t.turn, t.passed, t.cumulativePassed])).toEqual([[0, 2, 2], [1, 1, 3], [2, 1, 4]]);
    expect(p.byTurn[1]!.cumulativeRate).toBeCloseTo(3 / 6);
    expect(p.failuresByReason).toEqual({ 'test-failure': 1, timeout: 1 });
    // Cut off after its level: the level is still read.
    const cut = new PassRateCounter();
    cut.addRejection(validationRejection('h', '{"sampleId":"h","taskId":"t","treeKey":"all","level":"multi_file","language":"py…[truncated]'));
    expect(Object.keys(cut.result().byLevel)).toEqual(['multi_file']);
  });

  it('a sample re-checked later counts once, by its latest outcome; turns given as a list count by length', () => {
    const counter = new PassRateCounter();
    counter.addSample(sample('a', { validation: { passed: false, turns: 1, reason: 'timeout', attempts: [], tests: null, mutation: null } }));
    counter.addSample(sample('a', { validation: { passed: true, turns: 0, reason: null, attempts: [], tests: null, mutation: null } }));
    expect(counter.result()).toMatchObject({ validated: 1, passed: 1 });
    expect(readValidation({ passed: true, turns: [{ error: 'x' }, { error: 'y' }], reason: null })).toEqual({ passed: true, turns: 2, reason: null });
  });

  it('nothing validated: rate unknown, not zero', () => {
    expect(passRates([])).toMatchObject({ validated: 0, rate: null, byTurn: [] });
  });
});

// root ─ A ─ A1, A2
//      ─ B ─ B1 ─ B1a
//      ─ C
const TREE: FeatureTreeNode = readFeatureTree({
  label: 'all', frequency: 0, origin: 'root', aliases: [], children: [
    { label: 'A', frequency: 5, origin: 'extracted', aliases: [], children: [
      { label: 'A1', frequency: 3, origin: 'extracted', aliases: [], children: [] },
      { label: 'A2', frequency: 2, origin: 'evolved', aliases: [], evolutionRound: 1, children: [] },
    ] },
    { label: 'B', frequency: 4, origin: 'extracted', aliases: [], children: [
      { label: 'B1', frequency: 4, origin: 'extracted', aliases: [], children: [{ label: 'B1a', frequency: 1, origin: 'extracted', aliases: [], children: [] }] },
    ] },
    { label: 'C', frequency: 1, origin: 'extracted', aliases: [], children: [] },
  ],
})!;

describe('diversity', () => {
  it('tree coverage: a feature path covers its node and the ancestors the walk went through', () => {
    const hits = new NodeHits();
    hits.add('all', [{ path: ['A', 'A1'] }, { path: ['B', 'B1'] }]);
    hits.add('all', [{ path: ['A', 'A1'] }]);
    const c = treeCoverage(TREE, hits);
    // Covered: A, A1, B, B1 of 7 nodes; of the leaves A1, A2, B1a, C only A1.
    expect(c).toMatchObject({ nodes: 7, covered: 4, leaves: 4, coveredLeaves: 1, share: 4 / 7, leafShare: 0.25 });
    expect(c.byDepth).toEqual([
      { depth: 1, nodes: 3, covered: 2, share: 2 / 3 },
      { depth: 2, nodes: 3, covered: 2, share: 2 / 3 },
      { depth: 3, nodes: 1, covered: 0, share: 0 },
    ]);
    expect(c.byOrigin['evolved']).toEqual({ nodes: 1, covered: 0, share: 0 });
    expect(hits.get('*', ['A'])).toBe(2);
  });

  it('with one tree per language, a sample covers only its own tree', () => {
    const leaf = (label: string) => ({ label, frequency: 1, origin: 'extracted', aliases: [], children: [] });
    const tree = readFeatureTree({ label: 'trees', children: [
      { label: 'python', frequency: 2, origin: 'root', aliases: [], children: [leaf('A')] },
      { label: 'go', frequency: 1, origin: 'root', aliases: [], children: [leaf('A')] },
    ] })!;
    expect(tree.frequency).toBe(3);
    const hits = new NodeHits();
    hits.add('python', [{ path: ['A'] }]);
    expect(treeCoverage(tree, hits)).toMatchObject({ nodes: 2, covered: 1, share: 0.5 });
  });

  it('entropy of sampled features', () => {
    const use = new FeatureUse();
    use.add([{ path: ['A', 'A1'] }, { path: ['B', 'B1'] }]);
    use.add([{ path: ['A', 'A1'] }]);
    const { features, categories } = use.result();
    // p = 2/3, 1/3: H = -(2/3 log2 2/3 + 1/3 log2 1/3) = 0.9183 bits.
    expect(features.entropyBits).toBeCloseTo(0.9183, 4);
    expect(features).toMatchObject({ distinct: 2, occurrences: 3, maxEntropyBits: 1 });
    expect(features.evenness).toBeCloseTo(0.9183, 4);
    expect(categories.distinct).toBe(2);
    // Four features used equally: 2 bits, evenness 1, perplexity 4.
    expect(entropyFigures(new Map([['a', 5], ['b', 5], ['c', 5], ['d', 5]]))).toMatchObject({ entropyBits: 2, evenness: 1, perplexity: 4 });
    expect(entropyFigures(new Map([['a', 3]]))).toMatchObject({ entropyBits: 0, evenness: null });
  });

  it('distinct-n over instructions, case and punctuation ignored, never across two texts', () => {
    const texts = ['A b, c.', 'a B d'];
    // unigrams a b c a b d: 4 of 6; bigrams ab bc ab bd: 3 of 4; trigrams abc abd: 2 of 2.
    expect(distinctNgrams(texts, 1)).toEqual({ n: 1, distinct: 4, total: 6, ratio: 4 / 6 });
    expect(distinctNgrams(texts, 2)).toEqual({ n: 2, distinct: 3, total: 4, ratio: 0.75 });
    expect(distinctNgrams(texts, 3)).toEqual({ n: 3, distinct: 2, total: 2, ratio: 1 });
    expect(distinctNgrams(['a b'], 3).ratio).toBeNull();
  });

  it('mean pairwise cosine distance: all pairs when few, sampled pairs when many', () => {
    const e1 = new Float32Array([1, 0]);
    const e2 = new Float32Array([0, 1]);
    // Pairs (e1,e2)=1, (e1,e1)=0, (e2,e1)=1.
    const all = meanPairwiseDistance([e1, e2, e1]);
    expect(all).toMatchObject({ pairs: 3, exhaustive: true, vectors: 3 });
    expect(all.mean).toBeCloseTo(2 / 3);
    const axes = Array.from({ length: 50 }, (_, i) => Float32Array.from({ length: 50 }, (_, j) => (i === j ? 1 : 0)));
    const sampled = meanPairwiseDistance(axes, { maxPairs: 100, random: () => 0.37 });
    expect(sampled).toMatchObject({ pairs: 100, exhaustive: false, mean: 1 });
    expect(meanPairwiseDistance([e1]).mean).toBeNull();
  });

  it('instruction embeddings: identical instructions are at distance 0, unrelated ones far apart', async () => {
    const embedder = new LexicalCodeEmbedder();
    const same = await embedder.embed(['Sort the list of users by age.', 'Sort the list of users by age.']);
    expect(meanPairwiseDistance(same).mean).toBeCloseTo(0, 5);
    const different = await embedder.embed(['Sort the list of users by age.', 'Parse a CSV file and sum the second column.']);
    expect(meanPairwiseDistance(different).mean!).toBeGreaterThan(0.5);
  });
});

describe('run figures', () => {
  it('tokens and cost per stage from summary.json, plus the judge', () => {
    const summary = { llm: { usage: { byStage: {
      extract: { calls: 3, requests: 3, cacheHits: 1, promptTokens: 2000, completionTokens: 1000, cachedPromptTokens: 10, cachedCompletionTokens: 5 },
    } } } };
    const t = tokenFigures(summary, { input: 0.5, output: 2 }, { judge: { promptTokens: 1000, completionTokens: 0, requests: 1 } });
    // extract: 2 × 0.5 + 1 × 2 = 3; judge: 1 × 0.5 = 0.5.
    expect(t.byStage.map((s) => [s.stage, s.cost, s.cachedTokens])).toEqual([['extract', 3, 15], ['judge', 0.5, 0]]);
    expect(t.total).toMatchObject({ promptTokens: 3000, completionTokens: 1000, cost: 3.5, requests: 4 });
    expect(tokenFigures(null, null)).toMatchObject({ recorded: false, byStage: [], price: null, total: { cost: null } });
  });

  it('timeline buckets records by a round interval', () => {
    const t = timeline({ samples: [1_000, 1_500, 62_000], rejected: [0, 30_000] })!;
    // Span 61 s over at most 60 buckets: 2 s buckets from 0.
    expect(t).toMatchObject({ start: 0, bucketMs: 2_000, buckets: 32 });
    expect(t.series['samples']![0]).toBe(2);
    expect(t.series['samples']![31]).toBe(1);
    expect(t.series['rejected']![15]).toBe(1);
    expect(timeline({ samples: [] })).toBeNull();
  });
});

describe('measuring a run directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-quality-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts everything once and agrees with the hand-made run', async () => {
    const counts = writeFixtureRun(join(dir, 'run'), { samples: 21 });
    const { figures, tree } = await measure([await openOutDir(join(dir, 'run'))], { grammars });
    expect(tree).not.toBeNull();
    expect(figures.counts).toMatchObject({ samples: counts.samples, tasks: counts.tasks, rejections: counts.rejections, unreadable: 0 });
    expect(figures.passRates).toMatchObject({ validated: counts.samples + counts.validateFailures, passed: counts.passed, failed: counts.validateFailures });
    expect(figures.rejections.contaminated).toBe(2);
    expect(figures.rejections.byReason[0]).toMatchObject({ reason: 'unknown-language', count: 6, stages: ['filter'] });
    expect(figures.complexity.all.samples).toBe(counts.samples);
    expect(Object.keys(figures.complexity.byLanguage)).toEqual(['python', 'typescript']);
    expect(figures.diversity.coverage.bySamples!.share).toBeGreaterThan(0);
    expect(figures.diversity.distinctNgrams.map((g) => g.n)).toEqual([1, 2, 3]);
    expect(figures.diversity.embeddingDistance.mean!).toBeGreaterThan(0);
    expect(figures.timeline!.series['samples']!.reduce((a, b) => a + b, 0)).toBe(counts.samples);
    expect(figures.judge).toBeNull();
  });

  it('cumulative: a sample in two runs counts once', async () => {
    const a = writeFixtureRun(join(dir, 'a'), { samples: 10, prefix: 'a' });
    const b = writeFixtureRun(join(dir, 'b'), { samples: 10, prefix: 'b', shareWith: 'a' });
    const both = await measure([await openOutDir(join(dir, 'a')), await openOutDir(join(dir, 'b'))], { grammars });
    // b's first five samples are a's (same ids); the kept ones among them are duplicates.
    expect(both.figures.counts.samples + both.figures.counts.duplicateSamples).toBe(a.samples + b.samples);
    expect(both.figures.counts.duplicateSamples).toBeGreaterThan(0);
    expect(both.figures.runs).toEqual([join(dir, 'a'), join(dir, 'b')]);
  });

  it('reads what it can and counts the rest: bad lines, a missing tree', async () => {
    const { writeFileSync, appendFileSync, unlinkSync } = await import('node:fs');
    writeFixtureRun(join(dir, 'bad'), { samples: 6 });
    appendFileSync(join(dir, 'bad', 'samples.jsonl'), 'not json\n{"sampleId": 3}\n');
    unlinkSync(join(dir, 'bad', 'tree.json'));
    writeFileSync(join(dir, 'bad', 'summary.json'), '{ broken');
    const source = await openOutDir(join(dir, 'bad'));
    const { figures } = await measure([source], { grammars });
    expect(figures.counts.unreadable).toBe(2);
    expect(figures.diversity.coverage.bySamples).toBeNull();
    expect(source.summary).toBeNull();
  });
});
