// The student, as a specification: a student model solves validated tasks, the teacher's tests
// judge its answers in the sandbox, and the features it fails on are sampled more often, by a
// bounded factor that its attempts (the student.attempts changelog) rebuild exactly.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lastValueFrom, of, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleTask, type SamplerConfig } from '../processors/sample.js';
import { writeReport } from '../report/build.js';
import { assessSample, studentStage } from '../processors/student.js';
import type { GeneratedSample, Rejection, StudentAttempt } from '../schemas/contract.js';
import type { SampleRunner, SandboxFile, SandboxResult } from '../sandbox/types.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { StudentStore, factorOf } from '../stores/student-store.js';
import { ROOT_ID } from '../stores/tree-store.js';
import { DEFAULT_LEVEL_MIX } from '../topology/settings.js';
import type { StructuredModel } from '../llm/model.js';
import type { CompleteRequest, LlmResult } from '../llm/client.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';
import { studentWeakAt, teacherNamingFeatures } from './fakes/student-fakes.js';
import { GOOD_FILES } from './fixtures/corpus.js';
import { LOCAL_MODEL_ID } from '../llm/local-model.js';

const attempt = (paths: string[][], passed: boolean, treeKey = 'all'): Pick<StudentAttempt, 'treeKey' | 'paths' | 'passed'> => ({ treeKey, paths, passed });

describe('the student store', () => {
  it('up-weights where the student fails more often than overall, never below 1 and at most the maximum', () => {
    const store = new StudentStore(4);
    for (let i = 0; i < 10; i++) store.apply(attempt([['algorithm', 'sorting']], false));
    for (let i = 0; i < 10; i++) store.apply(attempt([['file operation', 'read file']], true));
    expect(store.factor('all', ['algorithm'])).toBe(4);
    expect(store.factor('all', ['algorithm', 'sorting'])).toBe(4);
    expect(store.factor('all', ['file operation'])).toBe(1);
    expect(store.factor('all', ['never attempted'])).toBe(1);
    expect(store.factor('other tree', ['algorithm'])).toBe(1);
    const [algorithm, files] = [store.categories('all').find((c) => c.category === 'algorithm')!, store.categories('all').find((c) => c.category === 'file operation')!];
    expect(algorithm).toMatchObject({ attempts: 10, failures: 10, passRate: 0 });
    expect(files).toMatchObject({ attempts: 10, failures: 0, passRate: 1 });
  });

  it('shrinks a node with few attempts toward the overall rate', () => {
    // Overall 50 % failures; one failure in one attempt is weaker evidence than ten in ten.
    const all = { attempts: 40, failures: 20 };
    const one = factorOf({ attempts: 1, failures: 1 }, all, 100);
    const ten = factorOf({ attempts: 10, failures: 10 }, all, 100);
    expect(one).toBeGreaterThan(1);
    expect(ten).toBeGreaterThan(one);
    // A student that fails everywhere (or nowhere) has no weak area.
    expect(factorOf({ attempts: 5, failures: 5 }, { attempts: 20, failures: 20 }, 4)).toBe(1);
    expect(factorOf({ attempts: 5, failures: 0 }, { attempts: 20, failures: 0 }, 4)).toBe(1);
  });

  it('counts an attempt once per node even when two of its features share the node', () => {
    const store = new StudentStore();
    store.apply(attempt([['algorithm', 'sorting'], ['algorithm', 'searching']], false));
    expect(store.tally('all', ['algorithm'])).toEqual({ attempts: 1, failures: 1 });
    expect(store.tally('all', ['algorithm', 'sorting'])).toEqual({ attempts: 1, failures: 1 });
  });

  it('is rebuilt exactly by replaying its changelog, in any order', () => {
    const log = [attempt([['a', 'x']], false), attempt([['b']], true), attempt([['a']], true), attempt([['c', 'y']], false), attempt([['b', 'z']], false)];
    const forward = new StudentStore();
    const backward = new StudentStore();
    for (const a of log) forward.apply(a);
    for (const a of [...log].reverse()) backward.apply(a);
    for (const path of [['a'], ['a', 'x'], ['b'], ['b', 'z'], ['c'], ['c', 'y']]) expect(backward.factor('all', path)).toBe(forward.factor('all', path));
    expect(backward.categories('all')).toEqual(forward.categories('all'));
  });
});

describe('sampling toward the student\'s weak areas', () => {
  const clock = () => 1_700_000_000_000;
  const trees = () => {
    const t = new FeatureTrees(clock);
    const { tree } = t.get('all');
    for (const label of ['algorithm', 'file operation', 'data processing']) tree.addNode({ parentId: ROOT_ID, label, origin: 'extracted', frequency: 10 });
    return t;
  };
  const config = (t: FeatureTrees, student?: StudentStore): SamplerConfig => ({
    trees: t, coverage: new CoverageStore(), seed: 3, temperature: 1, targetLanguage: 'python', topN: 50, coverageBoost: 1,
    levels: { function: { breadth: [1], mandatory: 1 }, file: { breadth: [1], mandatory: 1 }, multi_file: { breadth: [1], mandatory: 1 } },
    levelMix: { ...DEFAULT_LEVEL_MIX }, excludeCategories: [], clock, ...(student ? { student } : {}),
  });
  const share = (cfg: SamplerConfig, n: number) => {
    let hits = 0;
    for (let index = 0; index < n; index++) {
      const o = sampleTask({ treeKey: 'all', index, level: 'function', requestedAt: 0 }, cfg);
      if (o.ok && o.value.features[0]!.path[0] === 'algorithm') hits += 1;
    }
    return hits / n;
  };

  it('draws a category the student fails on with the up-weighted probability, and the others as before', () => {
    const student = new StudentStore(4);
    for (let i = 0; i < 20; i++) student.apply(attempt([['algorithm']], false));
    for (let i = 0; i < 20; i++) student.apply(attempt([['file operation']], true));
    const factor = student.factor('all', ['algorithm']);
    expect(factor).toBe(4);
    const n = 6000;
    // Three equal categories, one draw: p = f / (f + 2) with the student, 1/3 without.
    const expected = factor / (factor + 2);
    const withStudent = share(config(trees(), student), n);
    const without = share(config(trees()), n);
    const z = (p: number, q: number) => Math.abs(p - q) / Math.sqrt((q * (1 - q)) / n);
    expect(z(withStudent, expected)).toBeLessThan(4);
    expect(z(without, 1 / 3)).toBeLessThan(4);
  });

  it('samples by the formula alone while the student has not answered', () => {
    const n = 3000;
    expect(share(config(trees(), new StudentStore()), n)).toBe(share(config(trees()), n));
  });
});

/** A validated sample of `add`, its tests judging whatever solution replaces mathlib.py. */
function validatedSample(features: string[][]): GeneratedSample {
  return {
    sampleId: 's1', taskId: 't1', treeKey: 'all', level: 'function', language: 'python', instruction: 'Implement add(a, b).', analysis: '',
    files: [
      { path: 'mathlib.py', role: 'solution', content: 'def add(a, b):\n    return a + b\n' },
      { path: 'test_mathlib.py', role: 'test', content: 'from mathlib import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n' },
    ],
    features: features.map((path, i) => ({ nodeId: `n${i}`, path, frequency: 1, mandatory: i === 0 })),
    provenance: { model: 'teacher', endpointHost: 'fake', promptVersion: 'v', temperature: null, seed: null },
    usage: { promptTokens: 0, completionTokens: 0, requests: 0 }, elapsedMs: 0, createdAt: 0, question: null, lineage: null,
    validation: { passed: true, reason: 'passed', turns: 0, attempts: [], mutation: null },
  } as unknown as GeneratedSample;
}

/** Runs the tests only against `add` returning a + b: enough to tell a right answer from a wrong one. */
const judge: SampleRunner = {
  async run(_language: string, files: readonly SandboxFile[]): Promise<SandboxResult> {
    const solution = files.find((f) => f.role === 'solution')!.content;
    const passed = /return a \+ b/.test(solution);
    return { reason: passed ? 'passed' : 'test-failure', passed, detail: passed ? '1 passed' : 'assert 5 == -1', output: '', exitCode: passed ? 0 : 1, signal: null, durationMs: 1, outputBytes: 0, command: 'pytest' };
  },
};

function modelAnswering(answer: (request: CompleteRequest<unknown>) => LlmResult<unknown>): StructuredModel & { requests: CompleteRequest<unknown>[] } {
  const requests: CompleteRequest<unknown>[] = [];
  return {
    requests,
    async complete<T>(request: CompleteRequest<T>): Promise<LlmResult<T>> {
      requests.push(request as CompleteRequest<unknown>);
      return answer(request as CompleteRequest<unknown>) as LlmResult<T>;
    },
  };
}
const success = (value: unknown): LlmResult<unknown> => ({
  ok: true, value, cached: false, usage: { promptTokens: 1, completionTokens: 1, requests: 1 }, model: 'student', elapsedMs: 1, stage: 'student',
  provenance: { model: 'student', endpointHost: 'fake', promptVersion: 'student-v1', temperature: null, seed: null },
} as unknown as LlmResult<unknown>);
const failure = (reason: string): LlmResult<unknown> => ({
  ok: false, reason, detail: `${reason} detail`, cached: false, usage: { promptTokens: 0, completionTokens: 0, requests: 1 }, model: 'student', elapsedMs: 1, stage: 'student',
  provenance: { model: 'student', endpointHost: 'fake', promptVersion: 'student-v1', temperature: null, seed: null },
} as unknown as LlmResult<unknown>);

describe('the student stage', () => {
  it('asks for exactly the solution files, without showing the teacher\'s solution or tests, and the teacher\'s tests judge the answer', async () => {
    const right = modelAnswering(() => success({ files: [{ path: 'mathlib.py', content: 'def add(a, b):\n    return a + b\n' }] }));
    const wrong = modelAnswering(() => success({ files: [{ path: 'mathlib.py', content: 'def add(a, b):\n    return a - b\n' }] }));
    const sample = validatedSample([['algorithm', 'arithmetic']]);
    const good = await assessSample(sample, { model: right, runner: judge, concurrency: 1, clock: () => 5 });
    const bad = await assessSample(sample, { model: wrong, runner: judge, concurrency: 1, clock: () => 5 });
    expect(good).toMatchObject({ ok: true, value: { sampleId: 's1', passed: true, reason: 'passed', paths: [['algorithm', 'arithmetic']], model: 'student', createdAt: 5 } });
    expect(bad).toMatchObject({ ok: true, value: { passed: false, reason: 'test-failure' } });
    const prompt = JSON.stringify(right.requests[0]!.messages);
    expect(prompt).toContain('mathlib.py');
    expect(prompt).not.toContain('test_mathlib');
    expect(prompt).not.toContain('return a + b');
    const schema = right.requests[0]!.schema.jsonSchema as { properties: { files: { items: { properties: { path: { enum: string[] } } } } } };
    expect(schema.properties.files.items.properties.path.enum).toEqual(['mathlib.py']);
  });

  it('counts an answer the student could not give in shape as a failure, and an endpoint that does not answer as no attempt at all', async () => {
    const sample = validatedSample([['algorithm']]);
    const offSchema = await assessSample(sample, { model: modelAnswering(() => failure('off-schema')), runner: judge, concurrency: 1 });
    expect(offSchema).toMatchObject({ ok: true, value: { passed: false, reason: 'invalid-answer' } });
    const down = await assessSample(sample, { model: modelAnswering(() => failure('retries-exhausted')), runner: judge, concurrency: 1 });
    expect(down).toMatchObject({ ok: false, rejection: { stage: 'student', reason: 'student-llm-retries-exhausted', recordId: 's1' } });
  });

  it('judges only samples that passed validation, one outcome per sample, in order', async () => {
    const unvalidated = { ...validatedSample([['a']]), sampleId: 's0', validation: null } as GeneratedSample;
    const model = modelAnswering(() => success({ files: [{ path: 'mathlib.py', content: 'def add(a, b):\n    return a + b\n' }] }));
    const outcomes = await lastValueFrom(of(unvalidated, validatedSample([['a']])).pipe(studentStage({ model, runner: judge, concurrency: 2 }), toArray()));
    expect(outcomes.map((o) => (o.ok ? o.value.sampleId : `${o.rejection.recordId}:${o.rejection.reason}`))).toEqual(['s0:not-validated', 's1']);
    expect(model.requests).toHaveLength(1);
  });
});

const exec = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
const readJsonl = <T>(path: string): T[] => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

describe('treesynth run --student, end to end (fake teacher and student over HTTP, the real sandbox)', () => {
  let teacher: FakeOpenAI;
  let student: FakeOpenAI;
  let dir: string;

  beforeAll(async () => {
    teacher = await startFakeOpenAI({ models: ['teacher'], chat: teacherNamingFeatures() });
    // Solves every task, except those about file operations, which it gets wrong.
    student = await startFakeOpenAI({ models: ['student'], chat: studentWeakAt('file operation') });
    dir = mkdtempSync(join(tmpdir(), 'treesynth-student-'));
    mkdirSync(join(dir, 'corpus'));
    writeFileSync(join(dir, 'corpus', 'a.py'), GOOD_FILES['app/loader.py']!);
  });
  afterAll(async () => {
    await teacher.close();
    await student.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('judges every validated sample once, reports the student per category, and samples its weak category more often in later rounds', async () => {
    const out = join(dir, 'out');
    const { stderr } = await exec('node', [
      bin, 'run', '--input', join(dir, 'corpus'), '--out', out, '--llm-base-url', teacher.url, '--student', student.url, '--no-cache',
      '--tasks', '24', '--student-rounds', '2', '--levels', 'function=1', '--breadth-function', '1,1', '--evolve-rounds', '0', '--min-mutation-score', '0',
      // The fake teacher writes the same `add` every time: keep its samples apart from output dedup.
      '--sample-duplicate-radius', '0',
    ], { env: { ...process.env, CI: 'true', OPENAI_API_KEY: 'sk-test' }, timeout: 240_000 });
    expect(stderr).toMatch(/student model student at/);
    const samples = readJsonl<GeneratedSample>(join(out, 'samples.jsonl'));
    const attempts = readJsonl<StudentAttempt>(join(out, 'student.jsonl'));
    const rejected = readJsonl<Rejection>(join(out, 'rejected.jsonl'));
    expect(samples.length).toBeGreaterThan(0);
    expect(attempts.map((a) => a.sampleId).sort()).toEqual(samples.map((s) => s.sampleId).sort());
    expect(rejected.filter((r) => r.stage === 'student')).toEqual([]);
    for (const a of attempts) expect(a.passed).toBe(!a.paths.some((p) => p[0] === 'file operation'));

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { student: { attempts: number; rounds: number; roundShares: unknown[]; byCategory: Array<{ category: string; attempts: number; passRate: number | null; factor: number; firstRoundShare: number; lastRoundShare: number }> } };
    expect(summary.student.attempts).toBe(attempts.length);
    expect(summary.student.rounds).toBe(2);
    const weak = summary.student.byCategory.find((c) => c.category === 'file operation')!;
    expect(weak, JSON.stringify(summary.student)).toBeDefined();
    expect(weak.passRate).toBe(0);
    expect(weak.factor).toBeGreaterThan(1);
    expect(weak.lastRoundShare, JSON.stringify(summary.student.roundShares)).toBeGreaterThan(weak.firstRoundShare);
    for (const c of summary.student.byCategory.filter((c) => c.category !== 'file operation' && c.passRate !== null)) {
      expect(c.passRate).toBe(1);
      expect(c.factor).toBe(1);
    }
    expect(student.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(attempts.length);

    // The report shows the same, per category.
    const { report, html } = await writeReport(out, { judgeSkipped: 'not under test' });
    expect(report.student?.byCategory.find((c) => c.category === 'file operation')).toMatchObject({ passRate: 0, attempts: weak.attempts });
    expect(readFileSync(html, 'utf8')).toMatch(/<section id="student">[\s\S]*file operation[\s\S]*<\/section>/);
  }, 300_000);

  it('runs with the tiny local model as the student: its answers are judged and counted, whatever they are', async () => {
    // `treesynth serve-model` as the student endpoint (./setup.sh installs the model).
    const server = spawn('node', [bin, 'serve-model', '--port', '0', '--quiet'], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let serverErr = '';
    server.stderr.on('data', (d: Buffer) => (serverErr += d.toString()));
    const stopped = new Promise<void>((resolve) => server.on('exit', () => resolve()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /^OPENAI_BASE_URL=(\S+)$/m.exec(out);
          if (m) resolve(m[1]!);
        });
        server.on('exit', () => reject(new Error(`serve-model exited: ${serverErr}`)));
      });
      const out = join(dir, 'local-student');
      await exec('node', [
        bin, 'run', '--input', join(dir, 'corpus'), '--out', out, '--llm-base-url', teacher.url, '--student', url, '--no-cache',
        '--tasks', '2', '--student-rounds', '2', '--levels', 'function=1', '--breadth-function', '1,1', '--evolve-rounds', '0', '--min-mutation-score', '0',
        '--sample-duplicate-radius', '0', '--llm-timeout', '120000',
      ], { env: { ...process.env, CI: 'true', OPENAI_API_KEY: 'sk-test' }, timeout: 400_000 });
      const samples = readJsonl<GeneratedSample>(join(out, 'samples.jsonl'));
      const attempts = readJsonl<StudentAttempt>(join(out, 'student.jsonl'));
      const unjudged = readJsonl<Rejection>(join(out, 'rejected.jsonl')).filter((r) => r.stage === 'student');
      // Every validated sample was put to the real model: judged by the teacher's tests, or (the
      // model timing out on a busy machine) a dead letter that says why.
      expect(attempts.length + unjudged.length).toBe(samples.length);
      expect(attempts.length).toBeGreaterThan(0);
      for (const a of attempts) {
        expect(a.model).toBe(LOCAL_MODEL_ID);
        expect(a.reason).toMatch(/^[a-z-]+$/);
        expect(a.passed).toBe(a.reason === 'passed');
      }
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { student: { attempts: number; model: string } };
      expect(summary.student).toMatchObject({ attempts: attempts.length, model: LOCAL_MODEL_ID });
    } finally {
      server.kill('SIGTERM');
      await stopped;
    }
  }, 480_000);

  it('refuses --student without validated samples to judge it by', async () => {
    const result = await exec('node', [bin, 'run', '--input', join(dir, 'corpus'), '--out', join(dir, 'refused'), '--llm-base-url', teacher.url, '--student', student.url, '--no-validate', '--no-cache', '--tasks', '1'], { env: { ...process.env, CI: 'true', OPENAI_API_KEY: 'sk-test' } }).catch((e: { code: number; stderr: string }) => e);
    expect((result as { code: number }).code).toBe(2);
    expect((result as { stderr: string }).stderr).toMatch(/--student needs validated samples/);
  });
});
