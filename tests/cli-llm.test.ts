// `treesynth run` with the LLM stages, against a fake OpenAI-compatible server over HTTP.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GeneratedSample, Rejection } from '../schemas/contract.js';
import { loadContracts } from '../schemas/contract.js';
import type { NestedNode } from '../stores/tree-store.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';
import { scriptedModel } from './fakes/scripted-model.js';
import { GOOD_FILES } from './fixtures/corpus.js';

const run = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
const KEY = 'sk-test-secret-123';

async function treesynth(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run('node', [bin, ...args], { env: { ...process.env, CI: 'true', OPENAI_API_KEY: KEY, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const readJsonl = <T>(path: string): T[] => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
const chatRequests = (server: FakeOpenAI) => server.requests.filter((r) => r.path === '/v1/chat/completions').length;

function find(node: NestedNode, path: string[]): NestedNode | undefined {
  let current: NestedNode | undefined = node;
  for (const label of path) current = current?.children.find((c) => c.label === label);
  return current;
}

describe('treesynth run with an LLM endpoint', () => {
  let server: FakeOpenAI;
  let dir: string;
  let corpus: string;
  let first: Awaited<ReturnType<typeof treesynth>>;
  let requestsAfterFirst: number;
  const args = (out: string, extra: string[] = []) => [
    'run', '--input', corpus, '--out', out, '--llm-base-url', server.url, '--model', 'fake-model', '--tasks', '6',
    '--levels', 'function=0.5,multi_file=0.5', '--cache', join(dir, 'cache.jsonl'),
    // The scripted model's evolved labels differ in one word ("finer variant alpha" / "... beta"):
    // apart by spelling, one feature by meaning. These tests count them as separate nodes.
    '--embeddings', 'lexical',
    // The scripted model writes the same code for every task: output dedup (its own test below) would keep one per level.
    '--sample-duplicate-radius', '0', ...extra,
  ];

  beforeAll(async () => {
    server = await startFakeOpenAI({ apiKey: KEY, chat: scriptedModel({ garbageFor: 'garbage' }), models: ['fake-model'] });
    dir = mkdtempSync(join(tmpdir(), 'treesynth-llm-'));
    corpus = join(dir, 'corpus');
    for (const [path, content] of Object.entries(GOOD_FILES)) {
      mkdirSync(join(corpus, path, '..'), { recursive: true });
      writeFileSync(join(corpus, path), content);
    }
    writeFileSync(join(corpus, 'garbage.py'), 'def f():\n    return 42\n');
    first = await treesynth(args(join(dir, 'out')));
    requestsAfterFirst = chatRequests(server);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the extraction, evolution and generation stages and exits 0', () => {
    expect(first.stderr).not.toMatch(/no LLM endpoint/);
    expect(first.code).toBe(0);
    expect(requestsAfterFirst).toBeGreaterThan(Object.keys(GOOD_FILES).length);
  });

  it('merges model features with static ones in the tree', () => {
    const tree = JSON.parse(readFileSync(join(dir, 'out', 'tree.json'), 'utf8')) as NestedNode;
    expect(find(tree, ['algorithm', 'graph traversal', 'breadth-first search'])?.frequency).toBe(Object.keys(GOOD_FILES).length);
    expect(find(tree, ['dependency relations'])).toBeDefined();
  });

  it('adds evolved nodes with their round and estimated frequency', () => {
    const tree = JSON.parse(readFileSync(join(dir, 'out', 'tree.json'), 'utf8')) as NestedNode;
    const evolved: NestedNode[] = [];
    const walk = (n: NestedNode) => {
      if (n.origin === 'evolved') evolved.push(n);
      n.children.forEach(walk);
    };
    walk(tree);
    expect(evolved.map((n) => n.label)).toEqual(expect.arrayContaining(['finer variant alpha', 'finer variant beta']));
    for (const n of evolved) {
      expect(n.evolutionRound).toBe(1);
      expect(n.frequency).toBeGreaterThan(0);
    }
    const summary = JSON.parse(readFileSync(join(dir, 'out', 'summary.json'), 'utf8'));
    expect(summary.evolution.added).toBe(evolved.length);
    expect(summary.evolution.skipped).toBe(1);
  });

  it('writes samples with files, provenance and token usage; multi-file ones import each other', () => {
    const samples = readJsonl<GeneratedSample>(join(dir, 'out', 'samples.jsonl'));
    expect(samples).toHaveLength(6);
    const contracts = loadContracts();
    for (const s of samples) {
      contracts.GeneratedSample.check(s);
      // The solution step's provenance; every step's model and prompt version is in the lineage.
      expect(s.provenance).toMatchObject({ model: 'fake-model', promptVersion: 'solution-v2', seed: 42 });
      expect(s.lineage!.steps.map((t) => [t.step, t.model, t.promptVersion])).toEqual([
        ['question', 'fake-model', 'question-v1'], ['analysis', 'fake-model', 'analysis-v1'], ['solution', 'fake-model', 'solution-v2'],
      ]);
      expect(s.question!.selectedNodeIds).toEqual(s.features.map((f) => f.nodeId));
      expect(s.instruction).toContain(s.question!.signature);
      expect(s.provenance.endpointHost).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(s.usage.promptTokens).toBeGreaterThan(0);
      expect(s.files.some((f) => f.role === 'test')).toBe(true);
      expect(s.features.length).toBeGreaterThan(0);
      // Validated in the sandbox: the scripted solutions pass their tests at the first run.
      expect(s.validation).toMatchObject({ passed: true, turns: 0 });
    }
    const multi = samples.filter((s) => s.level === 'multi_file');
    expect(multi.length).toBeGreaterThan(0);
    for (const s of multi) expect(s.files.filter((f) => f.role === 'solution').length).toBeGreaterThanOrEqual(2);
  });

  it('dead-letters a file whose answer stays invalid after the repair turn, and the counts add up', () => {
    const rejected = readJsonl<Rejection>(join(dir, 'out', 'rejected.jsonl'));
    expect(rejected.find((r) => r.path === 'garbage.py')).toMatchObject({ stage: 'extract-llm', reason: 'llm-invalid-json' });
    const summary = JSON.parse(readFileSync(join(dir, 'out', 'summary.json'), 'utf8'));
    expect(summary.files).toEqual({ read: 7, accepted: 6, rejected: 1 });
    expect(summary.llm.usage.byStage.extract.requests).toBeGreaterThanOrEqual(8);
  });

  it('a second run over the same corpus sends no requests but the ones that failed before (never cached), and writes the same samples', async () => {
    const again = await treesynth(args(join(dir, 'again')));
    expect(again.code).toBe(0);
    const fresh = server.requests.filter((r) => r.path === '/v1/chat/completions').slice(requestsAfterFirst);
    expect(fresh).toHaveLength(2); // the garbage file: its question and its repair turn
    for (const r of fresh) expect(JSON.stringify(r.body)).toContain('garbage.py');
    // Samples arrive in completion order, which concurrency makes vary: compare as sets.
    const replayed = readJsonl<GeneratedSample>(join(dir, 'again', 'samples.jsonl'));
    // Every step of every sample came from the cache, at the cost it had when first paid for.
    for (const s of replayed) expect(s.lineage!.steps.map((t) => t.cached)).toEqual([true, true, true]);
    const strip = (s: GeneratedSample) => ({
      ...s, createdAt: 0, elapsedMs: 0, lineage: s.lineage && { ...s.lineage, steps: s.lineage.steps.map((t) => ({ ...t, cached: false })) },
      validation: s.validation && { ...s.validation, attempts: s.validation.attempts.map((a) => ({ ...a, durationMs: 0 })) },
    });
    const bySample = (a: GeneratedSample, b: GeneratedSample) => (a.sampleId < b.sampleId ? -1 : 1);
    expect(replayed.map(strip).sort(bySample)).toEqual(
      readJsonl<GeneratedSample>(join(dir, 'out', 'samples.jsonl')).map(strip).sort(bySample),
    );
  });

  it('at the default radius drops generated samples that repeat an accepted one (the scripted model writes the same code for every task), each naming the one it repeats', async () => {
    const out = join(dir, 'out-dedup');
    const result = await treesynth(args(out, ['--sample-duplicate-radius', '0.15']));
    expect(result.code).toBe(0);
    const kept = readJsonl<GeneratedSample>(join(out, 'samples.jsonl'));
    const dropped = readJsonl<Rejection>(join(out, 'rejected.jsonl')).filter((r) => r.reason === 'near-duplicate-sample');
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length + dropped.length).toBe(6);
    expect(dropped.length).toBeGreaterThan(0);
    const keptIds = new Set(kept.map((s) => s.sampleId));
    for (const r of dropped) {
      expect(r.stage).toBe('dedup-samples');
      expect(keptIds.has(r.source!)).toBe(true);
    }
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.rejectedByReason['near-duplicate-sample']).toBe(dropped.length);
  });

  it('stops cleanly at the request budget: the run finishes and every file is accounted for', async () => {
    const out = join(dir, 'budget');
    const result = await treesynth(args(out, ['--no-cache', '--max-requests', '3']));
    expect(result.code).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.files.read).toBe(summary.files.accepted + summary.files.rejected);
    expect(summary.rejectedByReason['budget-exhausted']).toBeGreaterThan(0);
    expect(summary.llm.usage.budget.requests).toBeLessThanOrEqual(3);
  });

  it('a wrong key is one clear line without the key, and a non-zero exit', async () => {
    const result = await treesynth(args(join(dir, 'badkey')), { OPENAI_API_KEY: 'sk-wrong-key-456' });
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/401|key/i);
    expect(result.stderr).not.toContain('sk-wrong-key-456');
  });

  it('an unknown model is one clear line and a non-zero exit', async () => {
    const result = await treesynth(args(join(dir, 'badmodel')).map((a) => (a === 'fake-model' ? 'no-such-model' : a)));
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toMatch(/unknown model/);
  });

  it('an endpoint that is down is one clear line and a non-zero exit', async () => {
    const result = await treesynth(['run', '--input', corpus, '--out', join(dir, 'down'), '--llm-base-url', 'http://127.0.0.1:9/v1', '--model', 'm', '--llm-retries', '1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/unreachable|not answering/);
  });
});

describe('treesynth run without an endpoint', () => {
  it('says so in one line, runs the static stages and writes the prompts it would send', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'treesynth-pending-'));
    try {
      mkdirSync(join(dir, 'corpus'));
      writeFileSync(join(dir, 'corpus', 'a.py'), GOOD_FILES['app/loader.py']!);
      const env = { OPENAI_API_KEY: '', OPENAI_BASE_URL: '' };
      const result = await treesynth(['run', '--input', join(dir, 'corpus'), '--out', join(dir, 'out'), '--tasks', '2'], env);
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/no LLM endpoint configured/);
      const pending = readJsonl<{ stage: string; messages: unknown[]; responseFormat: { name: string } }>(join(dir, 'out', 'pending.jsonl'));
      expect(pending.map((p) => p.stage).sort()).toEqual(['evolve', 'extract-llm', 'generate', 'generate']);
      // Only the question step can be written down: the analysis and the solution need its answer.
      expect(pending.filter((p) => p.stage === 'generate').map((p) => p.responseFormat.name)).toEqual(['code_question', 'code_question']);
      expect(readFileSync(join(dir, 'out', 'samples.jsonl'), 'utf8')).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('treesynth run: generated samples are validated and decontaminated', () => {
  let server: FakeOpenAI;
  let dir: string;
  const buggy = (files: string) => files.replace('return a + b', 'return a - b');

  beforeAll(async () => {
    const script = scriptedModel();
    server = await startFakeOpenAI({
      apiKey: KEY, models: ['fake-model'],
      chat: (request) => {
        const name = (request.response_format as { json_schema?: { name?: string } } | undefined)?.json_schema?.name;
        // Generation answers with a bug; the debugging turn answers the fixed code.
        if (name === 'code_solution') return buggy(String(script(request)));
        if (name === 'code_sample_fix') return String(script({ ...request, response_format: { json_schema: { name: 'code_sample' } } }));
        return script(request);
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'treesynth-validate-'));
    mkdirSync(join(dir, 'corpus'));
    writeFileSync(join(dir, 'corpus', 'a.py'), GOOD_FILES['app/loader.py']!);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a failing sample goes through a debugging turn and passes with the fixed code', async () => {
    const out = join(dir, 'out');
    const result = await treesynth(['run', '--input', join(dir, 'corpus'), '--out', out, '--llm-base-url', server.url, '--model', 'fake-model', '--tasks', '2', '--levels', 'function=1', '--no-cache', '--sample-duplicate-radius', '0']);
    expect(result.code).toBe(0);
    const samples = readJsonl<GeneratedSample>(join(out, 'samples.jsonl'));
    expect(samples).toHaveLength(2);
    for (const s of samples) {
      expect(s.validation).toMatchObject({ passed: true, turns: 1 });
      expect(s.validation!.attempts.map((a) => a.reason)).toEqual(['test-failure', 'passed']);
      expect(s.files.find((f) => f.path === 'mathlib.py')!.content).toContain('return a + b');
    }
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.samples.validation.byTurn.find((t: { turn: number }) => t.turn === 1).passed).toBe(2);
  });

  it('a sample that overlaps a benchmark problem is rejected as contaminated', async () => {
    const out = join(dir, 'contaminated');
    const bench = join(dir, 'humaneval.jsonl');
    writeFileSync(bench, `${JSON.stringify({ task_id: 'HumanEval/0', prompt: 'Implement `add(a, b)` returning the sum of two integers. Example: add(2, 3) == 5.', canonical_solution: '    return a + b\n' })}\n`);
    const result = await treesynth(['run', '--input', join(dir, 'corpus'), '--out', out, '--llm-base-url', server.url, '--model', 'fake-model', '--tasks', '2', '--levels', 'function=1', '--no-cache', '--benchmark', bench, '--ngram', '8']);
    expect(result.code).toBe(0);
    const rejected = readJsonl<Rejection>(join(out, 'rejected.jsonl'));
    expect(rejected.filter((r) => r.reason === 'contaminated')).toHaveLength(2);
    expect(rejected.find((r) => r.reason === 'contaminated')!.detail).toContain('HumanEval/0');
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.samples).toMatchObject({ generated: 2, written: 0, contaminated: 2 });
  });
});
