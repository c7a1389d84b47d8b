// `treesynth validate` as a user runs it: the built command over a samples file with good,
// broken, hostile and malformed lines, with and without a (fake) model for debugging turns.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GeneratedSample, Rejection } from '../schemas/contract.js';
import type { ChatCompletionRequest } from './fakes/fake-openai-server.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';

const execute = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
const KEY = 'sk-validate-cli-secret';

/** The environment without any LLM settings of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true' };
  for (const k of Object.keys(env)) if (k.startsWith('OPENAI_') || k.startsWith('TREESYNTH_')) delete env[k];
  return { ...env, ...extra };
}

async function treesynth(args: string[], env: NodeJS.ProcessEnv) {
  try {
    const { stdout, stderr } = await execute('node', [bin, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function sample(id: string, files: GeneratedSample['files'], language = 'python', level: GeneratedSample['level'] = 'function'): GeneratedSample {
  return {
    sampleId: id, taskId: `task-${id}`, treeKey: 'all', level, language,
    instruction: 'Implement `add(a, b)` returning the sum of two integers. Example: add(2, 3) == 5.',
    analysis: 'One operation.', files, features: [{ nodeId: 'n1', path: ['algorithm'], frequency: 1, mandatory: false }],
    provenance: { model: 'gen', endpointHost: 'example.test', promptVersion: 'generate-v1', seed: 1 },
    usage: { promptTokens: 1, completionTokens: 1, requests: 1 }, elapsedMs: 1, validation: null, createdAt: 1,
  };
}

const TEST_ADD = 'from mathlib import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n';
const SAMPLES: GeneratedSample[] = [
  sample('good-py', [{ path: 'mathlib.py', role: 'solution', content: 'def add(a, b):\n    return a + b\n' }, { path: 'test_mathlib.py', role: 'test', content: TEST_ADD }]),
  sample('wrong-py', [{ path: 'mathlib.py', role: 'solution', content: 'def add(a, b):\n    return a - b\n' }, { path: 'test_mathlib.py', role: 'test', content: TEST_ADD }]),
  sample('good-js', [
    { path: 'add.js', role: 'solution', content: 'exports.add = (a, b) => a + b;\n' },
    { path: 'add.test.js', role: 'test', content: "const test = require('node:test');\nconst assert = require('node:assert');\nconst { add } = require('./add.js');\ntest('add', () => assert.strictEqual(add(2, 3), 5));\n" },
  ], 'javascript', 'file'),
  sample('escape', [
    { path: 'mathlib.py', role: 'solution', content: 'def add(a, b):\n    open("/etc/treesynth-escape", "w").write("x")\n    return a + b\n' },
    { path: 'test_mathlib.py', role: 'test', content: TEST_ADD },
  ]),
];

describe('treesynth validate', () => {
  let dir: string;
  let input: string;
  let server: FakeOpenAI;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'treesynth-validate-'));
    input = join(dir, 'samples.jsonl');
    const lines = SAMPLES.map((s) => JSON.stringify(s));
    // A sample from before `attempts` existed, a line that is not JSON, one that is not a sample.
    lines.splice(1, 0, JSON.stringify({ ...SAMPLES[0], sampleId: 'old-format', validation: { passed: false, turns: 0, reason: 'test-failure' } }));
    lines.push('{"sampleId": "broken", ', JSON.stringify({ hello: 'world' }), '');
    writeFileSync(input, lines.join('\n'));
    server = await startFakeOpenAI({
      apiKey: KEY,
      models: ['fake-model'],
      chat: (request: ChatCompletionRequest) => {
        const name = (request.response_format as { json_schema?: { name?: string } } | undefined)?.json_schema?.name;
        if (name !== 'code_sample_fix') return '{}';
        return JSON.stringify({
          instruction: SAMPLES[1]!.instruction,
          analysis: 'Fixed the operator.',
          files: [{ path: 'mathlib.py', role: 'solution', content: 'def add(a, b):\n    return a + b\n' }, { path: 'test_mathlib.py', role: 'test', content: TEST_ADD }],
          packages: [],
        });
      },
    });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const read = <T>(path: string): T[] => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

  it('without a model: passing samples, rejections with reasons, and the figures', async () => {
    const out = join(dir, 'plain');
    const r = await treesynth(['validate', input, '--out', out, '--timeout', '4000', '--concurrency', '2'], cleanEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/no LLM endpoint configured/);
    expect(r.stdout).toMatch(/^7 read: 3 passed/);

    const passed = read<GeneratedSample>(join(out, 'samples.jsonl'));
    expect(passed.map((s) => s.sampleId).sort()).toEqual(['good-js', 'good-py', 'old-format']);
    for (const s of passed) expect(s.validation).toMatchObject({ passed: true, turns: 0, reason: null, attempts: [expect.objectContaining({ turn: 0, reason: 'passed' })] });

    const rejected = read<Rejection>(join(out, 'rejected.jsonl'));
    const byId = Object.fromEntries(rejected.map((x) => [x.recordId ?? `line ${x.position}`, x]));
    expect(byId['wrong-py']).toMatchObject({ stage: 'validate', reason: 'test-failure' });
    expect(byId['escape']).toMatchObject({ stage: 'validate', reason: 'sandbox-violation' });
    expect(byId['line 6']).toMatchObject({ stage: 'validate', reason: 'invalid-json', position: 6 });
    expect(byId['line 7']).toMatchObject({ stage: 'validate', reason: 'invalid-record' });
    expect(existsSync('/etc/treesynth-escape')).toBe(false);

    const figures = JSON.parse(readFileSync(join(out, 'validation.json'), 'utf8'));
    expect(figures).toMatchObject({ total: 7, validated: 5, invalid: 2, passed: 3, rejected: 4, passRate: 0.6, model: null });
    expect(figures.byReason).toEqual({ passed: 3, 'invalid-json': 1, 'invalid-record': 1, 'sandbox-violation': 1, 'test-failure': 1 });
    expect(figures.byLevel).toEqual({ file: { validated: 1, passed: 1, rate: 1 }, function: { validated: 4, passed: 2, rate: 0.5 } });
    expect(figures.byTurn).toEqual([{ turn: 0, passed: 3, cumulativePassed: 3, cumulativeRate: 0.6 }]);
    expect(figures.sandbox).toMatch(/bubblewrap/);
  });

  it('with a model: the failing sample passes after a debugging turn; the key stays out of every file', async () => {
    const out = join(dir, 'debug');
    const r = await treesynth(['validate', input, '--out', out, '--timeout', '15000', '--turns', '1', '--llm-base-url', server.url, '--model', 'fake-model', '--no-cache'], cleanEnv({ OPENAI_API_KEY: KEY }));
    expect(r.code, r.stderr).toBe(0);
    const passed = read<GeneratedSample>(join(out, 'samples.jsonl'));
    const fixed = passed.find((s) => s.sampleId === 'wrong-py');
    expect(fixed?.validation).toMatchObject({ passed: true, turns: 1 });
    expect(fixed?.validation?.attempts.map((a) => a.reason)).toEqual(['test-failure', 'passed']);
    const figures = JSON.parse(readFileSync(join(out, 'validation.json'), 'utf8'));
    expect(figures).toMatchObject({ passed: 4, model: 'fake-model' });
    expect(figures.byTurn).toEqual([
      { turn: 0, passed: 3, cumulativePassed: 3, cumulativeRate: 0.6 },
      { turn: 1, passed: 1, cumulativePassed: 4, cumulativeRate: 0.8 },
    ]);
    // The sandbox violation got no turn: one debugging request in all.
    expect(server.requests.filter((q) => q.path === '/v1/chat/completions')).toHaveLength(1);
    for (const f of ['samples.jsonl', 'rejected.jsonl', 'validation.json']) expect(readFileSync(join(out, f), 'utf8')).not.toContain(KEY);
    expect(r.stdout + r.stderr).not.toContain(KEY);
  });

  it('a missing input file is one clear line and a non-zero exit', async () => {
    const r = await treesynth(['validate', join(dir, 'nope.jsonl'), '--out', join(dir, 'x')], cleanEnv());
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/input not found: .*nope\.jsonl/);
  });
});
