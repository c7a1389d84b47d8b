// Validation cost, side by side on the same samples: the bare test run (pytest or node --test
// straight on the host, no isolation, no harness), the same tests through the sandbox (harness,
// bubblewrap, seccomp, cgroup), and the mutation step (every passing sample's mutants through
// the sandbox). Python samples are HumanEval's reference solutions with their authors' tests;
// JavaScript samples are small hand-written modules with node:test suites. Each step runs as
// many at once as the sandbox has slots.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { loadGrammars } from '../analysis/tree-sitter/grammars.js';
import { DEFAULT_MUTATION, generateMutants, scoreMutants } from '../quality/mutation.js';
import { Sandbox } from '../sandbox/sandbox.js';
import type { SandboxFile, SandboxResult } from '../sandbox/types.js';
import { humanEvalSample, loadHumanEval } from './humaneval.js';
import { pool } from './mutation-threshold.js';

const exec = promisify(execFile);

interface BenchSample {
  id: string;
  language: 'python' | 'javascript';
  files: SandboxFile[];
}

const JS_SAMPLES: Array<[string, string, string]> = [
  ['clamp', 'exports.clamp = (x, lo, hi) => (x < lo ? lo : x > hi ? hi : x);\n', "test('clamps', () => { assert.strictEqual(m.clamp(-1, 0, 9), 0); assert.strictEqual(m.clamp(4, 0, 9), 4); assert.strictEqual(m.clamp(12, 0, 9), 9); });\n"],
  ['words', "exports.count = (s) => s.split(/\\s+/).filter(Boolean).reduce((m, w) => { m[w] = (m[w] || 0) + 1; return m; }, {});\n", "test('counts', () => assert.deepStrictEqual(m.count('a b  a'), { a: 2, b: 1 }));\ntest('empty', () => assert.deepStrictEqual(m.count(''), {}));\n"],
  ['fib', 'exports.fib = (n) => { let a = 0, b = 1; for (let i = 0; i < n; i++) [a, b] = [b, a + b]; return a; };\n', "test('fib', () => { assert.strictEqual(m.fib(0), 0); assert.strictEqual(m.fib(1), 1); assert.strictEqual(m.fib(10), 55); });\n"],
  ['stack', 'class Stack { constructor() { this.items = []; } push(x) { this.items.push(x); } pop() { if (this.items.length === 0) throw new Error("empty"); return this.items.pop(); } get size() { return this.items.length; } }\nexports.Stack = Stack;\n', "test('push pop', () => { const s = new m.Stack(); s.push(1); s.push(2); assert.strictEqual(s.pop(), 2); assert.strictEqual(s.size, 1); });\ntest('empty', () => assert.throws(() => new m.Stack().pop(), /empty/));\n"],
  ['primes', 'exports.primes = (n) => { const out = []; for (let i = 2; i <= n; i++) if (out.every((p) => i % p !== 0)) out.push(i); return out; };\n', "test('primes', () => assert.deepStrictEqual(m.primes(20), [2, 3, 5, 7, 11, 13, 17, 19]));\ntest('none', () => assert.deepStrictEqual(m.primes(1), []));\n"],
  ['palindrome', "exports.isPalindrome = (s) => { const t = s.toLowerCase().replace(/[^a-z0-9]/g, ''); return t === [...t].reverse().join(''); };\n", "test('yes', () => assert.strictEqual(m.isPalindrome('A man, a plan, a canal: Panama'), true));\ntest('no', () => assert.strictEqual(m.isPalindrome('treesynth'), false));\n"],
];

function jsSamples(): BenchSample[] {
  return JS_SAMPLES.map(([name, solution, tests]) => ({
    id: `js-${name}`,
    language: 'javascript',
    files: [
      { path: `${name}.js`, role: 'solution', content: solution },
      { path: `${name}.test.js`, role: 'test', content: `const test = require('node:test');\nconst assert = require('node:assert');\nconst m = require('./${name}.js');\n${tests}` },
    ],
  }));
}

/**
 * The same tests with nothing around them: written to a directory, run by pytest or node --test,
 * with the interpreter the sandbox uses (its real path: a pyenv shim would add its own start-up).
 */
async function runBare(python: string, sample: BenchSample): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-bench-bare-'));
  try {
    for (const f of sample.files) {
      mkdirSync(dirname(join(dir, f.path)), { recursive: true });
      writeFileSync(join(dir, f.path), f.content);
    }
    const tests = sample.files.filter((f) => f.role === 'test').map((f) => f.path);
    const [cmd, args] = sample.language === 'python' ? [python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', ...tests]] : [process.execPath, ['--test', ...tests]];
    await exec(cmd, args, { cwd: dir, timeout: 60_000 });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ValidationBench {
  samples: { python: number; javascript: number };
  concurrency: number;
  sandbox: string;
  bare: { seconds: number; samplesPerSecond: number; passed: number };
  sandboxed: { seconds: number; samplesPerSecond: number; passed: number; slowdown: number };
  mutation: { seconds: number; samplesPerSecond: number; mutants: number; mutantsPerSecond: number; meanScore: number | null };
  /** Samples per second of the whole validation (tests then mutants) against the bare run. */
  endToEndSlowdown: number;
}

export async function validationBench(cacheDir: string, pythonSamples: number): Promise<ValidationBench> {
  const problems = loadHumanEval(join(cacheDir, 'humaneval')).slice(0, pythonSamples);
  const samples: BenchSample[] = [...problems.map((p) => ({ id: p.task_id, language: 'python' as const, files: humanEvalSample(p, 'full').files })), ...jsSamples()];
  const sandbox = await Sandbox.create({});
  const python = (await exec('python3', ['-c', 'import sys; print(sys.executable)'])).stdout.trim();
  const bareRun = (s: BenchSample) => runBare(python, s);
  const grammars = await loadGrammars(['python', 'javascript']);
  const n = sandbox.concurrency;
  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const t = performance.now();
    const value = await work();
    return [value, (performance.now() - t) / 1000];
  };
  // One untimed pass each way first, so neither side pays for cold caches in the measurement.
  await Promise.all([bareRun(samples[0]!), sandbox.run(samples[0]!.language, samples[0]!.files)]);
  const [bare, bareSeconds] = await timed(() => pool(samples, n, bareRun));
  const [runs, sandboxSeconds] = await timed(() => pool(samples, n, (s) => sandbox.run(s.language, s.files)));
  const passing = samples.map((s, i) => ({ s, r: runs[i]! })).filter((x) => x.r.passed);
  // Mutants of one sample at a time; each sample's mutants share the sandbox's slots.
  const [scores, mutationSeconds] = await timed(() =>
    pool(passing, 1, async ({ s, r }: { s: BenchSample; r: SandboxResult }) => scoreMutants(sandbox, s.language, generateMutants(s.files, grammars, { ...DEFAULT_MUTATION, sampleId: s.id }), r)),
  );
  grammars.delete();
  const mutants = scores.reduce((a, m) => a + m.outcomes.length, 0);
  const scored = scores.filter((m) => m.score !== null).map((m) => m.score!);
  const rate = (count: number, seconds: number) => +(count / seconds).toFixed(2);
  return {
    samples: { python: problems.length, javascript: samples.length - problems.length },
    concurrency: n,
    sandbox: sandbox.describe(),
    bare: { seconds: +bareSeconds.toFixed(1), samplesPerSecond: rate(samples.length, bareSeconds), passed: bare.filter(Boolean).length },
    sandboxed: { seconds: +sandboxSeconds.toFixed(1), samplesPerSecond: rate(samples.length, sandboxSeconds), passed: passing.length, slowdown: +(sandboxSeconds / bareSeconds).toFixed(2) },
    mutation: { seconds: +mutationSeconds.toFixed(1), samplesPerSecond: rate(passing.length, mutationSeconds), mutants, mutantsPerSecond: rate(mutants, mutationSeconds), meanScore: scored.length ? +(scored.reduce((a, b) => a + b, 0) / scored.length).toFixed(3) : null },
    endToEndSlowdown: +((sandboxSeconds + mutationSeconds) / bareSeconds).toFixed(2),
  };
}
