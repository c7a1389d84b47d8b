// Decontamination against a small hand-made benchmark in the shapes of HumanEval and MBPP exports.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { from, lastValueFrom, of, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BenchmarkIndex, benchmarkTexts, decontaminate, findContamination, loadBenchmarkIndex, thenDecontaminate,
} from '../quality/contamination.js';
import { reject, type Outcome } from '../schemas/outcome.js';
import type { GeneratedSample, Rejection } from '../schemas/contract.js';

const run = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;

// A HumanEval-shaped item (prompt + canonical_solution) and MBPP-shaped ones (text + code), all written for this test.
const HUMANEVAL_LIKE = {
  task_id: 'Toy/0',
  prompt: 'def longest_run(values: list) -> int:\n    """Return the length of the longest run of equal adjacent values in the list.\n    >>> longest_run([1, 1, 2, 2, 2, 3])\n    3\n    """\n',
  canonical_solution: '    best = 0\n    current = 0\n    previous = None\n    for value in values:\n        current = current + 1 if value == previous else 1\n        previous = value\n        best = max(best, current)\n    return best\n',
  test: 'def check(candidate):\n    assert candidate([]) == 0\n',
};
const MBPP_LIKE = [
  { task_id: 901, text: 'Write a function to count how many vowels appear in a given string, ignoring case and counting y only at the end of a word.', code: 'def count_vowels(s):\n    return sum(1 for c in s.lower() if c in "aeiou")', test_list: ['assert count_vowels("abc") == 1'] },
  { task_id: 902, text: 'Write a function that rotates a matrix ninety degrees clockwise.', code: 'def rotate(m):\n    return [list(r) for r in zip(*m[::-1])]', test_list: [] },
];

function sample(id: string, instruction: string, solution: string): GeneratedSample {
  return {
    sampleId: id, taskId: `t-${id}`, treeKey: 'all', level: 'function', language: 'python', instruction, analysis: '',
    files: [
      { path: 'solution.py', role: 'solution', content: solution },
      // Tests are not checked: a test may well quote the benchmark's own examples.
      { path: 'test_solution.py', role: 'test', content: HUMANEVAL_LIKE.prompt + HUMANEVAL_LIKE.canonical_solution },
    ],
    features: [], provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 }, usage: { promptTokens: 0, completionTokens: 0, requests: 0 },
    elapsedMs: 0, validation: null, createdAt: 0,
  };
}

const CLEAN = sample('clean', 'Implement a token bucket rate limiter with a refill rate and a burst size; reject requests when empty.', 'class Bucket:\n    def __init__(self, rate, burst):\n        self.rate = rate\n        self.burst = burst\n');
// The MBPP text, re-cased and re-punctuated: normalisation must still see the overlap.
const COPIED_TEXT = sample('copied-text', 'TASK: write a function to COUNT how many vowels appear in a given string -- ignoring case, and counting y only at the end of a word!', 'def f(s):\n    return 0\n');
// HumanEval's solution inside a solution file with other code around it.
const COPIED_CODE = sample('copied-code', 'Find the longest streak of identical consecutive items.', `import sys\n\n\ndef longest_run(values):\n${HUMANEVAL_LIKE.canonical_solution}\n\nif __name__ == "__main__":\n    print(longest_run(sys.argv))\n`);
// Shares a few words, far below 13 in a row.
const NEAR = sample('near', 'Write a function to count words in a given string.', 'def count_words(s):\n    return len(s.split())\n');

let dir: string;
let bench: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'treesynth-decon-'));
  bench = join(dir, 'bench.jsonl');
  writeFileSync(bench, [JSON.stringify(HUMANEVAL_LIKE), 'not json', JSON.stringify({ unrelated: true }), ...MBPP_LIKE.map((m) => JSON.stringify(m)), ''].join('\n'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('benchmark index', () => {
  it('reads HumanEval and MBPP field names, skips lines it cannot use, and indexes n-grams once', async () => {
    const index = await loadBenchmarkIndex([bench]);
    expect(index.items.map((i) => [i.id, i.line])).toEqual([['Toy/0', 1], ['901', 4], ['902', 5]]);
    expect(index.skipped).toBe(2);
    expect(index.n).toBe(13);
    expect(index.size).toBeGreaterThan(50);
  });

  it('takes common field names, JSON-encoded solution lists (APPS) and items without an id', () => {
    expect(benchmarkTexts({ question: 'Q text', solutions: '["a = 1", "b = 2"]' })).toEqual({ id: null, texts: ['Q text', 'a = 1', 'b = 2', 'Q text\na = 1'] });
    expect(benchmarkTexts({ problem: 'P', solution: 'S', id: 7 })?.id).toBe('7');
    expect(benchmarkTexts({ tests: 'x' })).toBeNull();
  });

  it('reads gzipped JSONL and JSON arrays', async () => {
    writeFileSync(join(dir, 'b.jsonl.gz'), gzipSync(`${JSON.stringify(MBPP_LIKE[0])}\n`));
    writeFileSync(join(dir, 'b.json'), JSON.stringify([MBPP_LIKE[1]]));
    const index = await loadBenchmarkIndex([join(dir, 'b.jsonl.gz'), join(dir, 'b.json')]);
    expect(index.items.map((i) => `${i.file}:${i.id}`)).toEqual(['b.jsonl.gz:901', 'b.json:902']);
  });
});

describe('contamination', () => {
  it('flags a copied instruction and copied solution code, naming the benchmark item; keeps the rest', async () => {
    const config = { index: await loadBenchmarkIndex([bench]) };
    expect(findContamination(CLEAN, config)).toBeNull();
    expect(findContamination(NEAR, config)).toBeNull();
    const text = findContamination(COPIED_TEXT, config)!;
    expect(text).toMatchObject({ where: 'instruction', item: { id: '901', file: 'bench.jsonl', line: 4 } });
    // The whole 25-token text is copied: 25 - 13 + 1 = 13 shared 13-grams.
    expect(text.shared).toBe(13);
    const code = findContamination(COPIED_CODE, config)!;
    expect(code).toMatchObject({ where: 'solution.py', item: { id: 'Toy/0' } });
    expect(code.excerpt.split(' ')).toHaveLength(13);
  });

  it('the stage operator rejects with reason contaminated and passes clean samples on, in order', async () => {
    const config = { index: await loadBenchmarkIndex([bench]) };
    const outcomes = await lastValueFrom(from([CLEAN, COPIED_TEXT, NEAR, COPIED_CODE]).pipe(decontaminate(config), toArray()));
    expect(outcomes.map((o) => (o.ok ? o.value.sampleId : o.rejection.reason))).toEqual(['clean', 'contaminated', 'near', 'contaminated']);
    const r = (outcomes[1] as { ok: false; rejection: Rejection }).rejection;
    expect(r).toMatchObject({ stage: 'decontaminate', reason: 'contaminated', recordId: 'copied-text', source: 'bench.jsonl', position: 4 });
    expect(r.detail).toMatch(/^instruction shares 13 13-grams .* with benchmark item 901 \(bench\.jsonl line 4\), e\.g\. "/);
    expect(JSON.parse(r.record!).sampleId).toBe('copied-text');
  });

  it('thresholds: more shared n-grams, or a larger share of the item, can be required', async () => {
    const index = await loadBenchmarkIndex([bench]);
    expect(findContamination(COPIED_TEXT, { index, minMatches: 14 })).toBeNull();
    expect(findContamination(COPIED_TEXT, { index, minMatches: 13 })).not.toBeNull();
    // The item has its text's 13 n-grams, its code's and the joined ones: copying the text alone is under half.
    expect(findContamination(COPIED_TEXT, { index, minShare: 0.9 })).toBeNull();
    // With 30-grams the 25-token text is shorter than n: it is matched whole, as one n-gram.
    const long = await loadBenchmarkIndex([bench], { n: 30 });
    expect(findContamination(COPIED_TEXT, { index: long })).toMatchObject({ item: { id: '901' }, shared: 1 });
    expect(findContamination(sample('part', MBPP_LIKE[0]!.text.slice(0, 80), 'x = 1\n'), { index: long })).toBeNull();
  });

  it('benchmark texts shorter than n are matched whole, from a minimum length', () => {
    const index = new BenchmarkIndex({ minTokens: 8 });
    index.add({ id: 'short', file: 'f', line: 1 }, ['Write a function that rotates a matrix ninety degrees.']);
    index.add({ id: 'tiny', file: 'f', line: 2 }, ['Reverse a string.']);
    const hit = findContamination(sample('s', 'Please: write a function that rotates a matrix ninety degrees, in place.', 'x = 1\n'), { index });
    expect(hit).toMatchObject({ item: { id: 'short' }, shared: 1, share: 1 });
    // Three tokens are too few to mean anything.
    expect(findContamination(sample('t', 'Reverse a string.', 'x = 1\n'), { index })).toBeNull();
  });

  it('n-grams in many benchmark items are boilerplate and ignored', () => {
    const boiler = 'import sys and read every line from standard input then print the answer to standard output';
    const index = new BenchmarkIndex({ maxItemsPerNgram: 2 });
    for (let i = 0; i < 3; i++) index.add({ id: `p${i}`, file: 'f', line: i + 1 }, [`${boiler} problem ${i} asks something different each time around here`]);
    expect(findContamination(sample('s', boiler, 'x = 1\n'), { index })).toBeNull();
    expect(findContamination(sample('s', `${boiler} problem 1 asks something different each time around here`, 'x = 1\n'), { index })?.item.id).toBe('p1');
  });

  it('runs after a stage, leaving that stage’s own rejections alone', async () => {
    const config = { index: await loadBenchmarkIndex([bench]) };
    const failed = reject<GeneratedSample>({ stage: 'generate', reason: 'llm-invalid-json', detail: 'x' });
    const stage = () => from([{ ok: true, value: COPIED_CODE } as Outcome<GeneratedSample>, failed]);
    const outcomes = await lastValueFrom(of(0).pipe(thenDecontaminate(stage, config), toArray()));
    expect(outcomes.map((o) => (o.ok ? 'ok' : `${o.rejection.stage}:${o.rejection.reason}`))).toEqual(['decontaminate:contaminated', 'generate:llm-invalid-json']);
  });
});

describe('treesynth decontaminate', () => {
  it('filters a samples file in place and the report counts the contaminated samples', async () => {
    const out = join(dir, 'run');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'samples.jsonl'), [CLEAN, COPIED_TEXT, NEAR, COPIED_CODE].map((s) => JSON.stringify(s)).join('\n') + '\n');
    writeFileSync(join(out, 'rejected.jsonl'), `${JSON.stringify({ stage: 'filter', reason: 'binary', detail: 'x', recordId: 'f1', path: 'a.png', source: null, position: null, record: null, at: 1 })}\n`);
    const { stdout } = await run('node', [bin, 'decontaminate', join(out, 'samples.jsonl'), '--benchmark', bench, '--out', out]);
    expect(stdout).toMatch(/^4 samples read: 2 kept, 2 contaminated \(3 benchmark problems, 13-grams, by meaning at cosine 0\.75\)/);
    const kept = readFileSync(join(out, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as GeneratedSample).sampleId);
    expect(kept).toEqual(['clean', 'near']);
    const rejected = readFileSync(join(out, 'rejected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rejection);
    expect(rejected.map((r) => r.reason)).toEqual(['binary', 'contaminated', 'contaminated']);
    // Again: nothing left to remove.
    const again = await run('node', [bin, 'decontaminate', join(out, 'samples.jsonl'), '--benchmark', bench, '--out', out]);
    expect(again.stdout).toMatch(/^2 samples read: 2 kept, 0 contaminated/);

    await run('node', [bin, 'report', out, '--quiet']);
    const quality = JSON.parse(readFileSync(join(out, 'quality.json'), 'utf8'));
    expect(quality.figures.rejections.contaminated).toBe(2);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('2 samples rejected as contaminated by a benchmark');
  });

  it('says what is wrong with a missing or empty benchmark', async () => {
    const fail = async (args: string[]) => run('node', [bin, ...args]).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    const missing = await fail(['decontaminate', join(dir, 'run', 'samples.jsonl'), '--benchmark', join(dir, 'nope.jsonl'), '--out', dir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/benchmark file not found/);
    writeFileSync(join(dir, 'empty.jsonl'), '{"x": 1}\n');
    const empty = await fail(['decontaminate', join(dir, 'run', 'samples.jsonl'), '--benchmark', join(dir, 'empty.jsonl'), '--out', dir]);
    expect(empty.stderr).toMatch(/no benchmark problems found/);
  });
});
