// The LLM judge through the real client against the fake OpenAI-compatible server, directly and
// from `treesynth report --judge`.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmClient } from '../llm/client.js';
import { COMPLEXITY_DIMENSIONS, JUDGE_PROMPT_VERSION, JUDGE_SCHEMA, judgeMessages } from '../prompts/judge.js';
import { judgeSamples } from '../quality/judge.js';
import type { GeneratedSample } from '../schemas/contract.js';
import { startFakeOpenAI, type ChatCompletionRequest, type ChatReply, type FakeOpenAI } from './fakes/fake-openai-server.js';
import { writeFixtureRun } from './report-fixture.js';

const run = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
const KEY = 'sk-judge-test';

/** Scores follow the level (function 3, file 6, multi_file 9); an instruction with "garbage" gets prose back. */
function judge(request: ChatCompletionRequest): string | ChatReply {
  const format = request.response_format as { json_schema?: { name?: string } } | undefined;
  if (format?.json_schema?.name !== 'sample_judgement') return '{}';
  const user = request.messages.filter((m) => m.role === 'user').map((m) => String(m.content)).join('\n');
  if (user.includes('garbage')) return 'This code looks complex, maybe a 7.';
  const level = /^Level: (\w+)$/m.exec(user)?.[1];
  const score = level === 'function' ? 3 : level === 'file' ? 6 : 9;
  return JSON.stringify({
    complexity: Object.fromEntries(COMPLEXITY_DIMENSIONS.map((d) => [d, { score, reason: `${d} looks like a ${score}` }])),
    features: [
      { category: 'error handling', labels: ['Try/Except', 'input validation'] },
      { category: 'algorithm', labels: [`level ${level}`] },
    ],
  });
}

function sample(id: string, level: GeneratedSample['level'], instruction = 'Implement a queue with two stacks.'): GeneratedSample {
  return {
    sampleId: id, taskId: id, treeKey: 'all', level, language: 'python', instruction, analysis: '',
    files: [{ path: 'q.py', role: 'solution', content: 'class Queue:\n    pass\n' }, { path: 'test_q.py', role: 'test', content: 'def test():\n    pass\n' }],
    features: [], provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 }, usage: { promptTokens: 0, completionTokens: 0, requests: 0 },
    elapsedMs: 0, validation: null, createdAt: 0,
  };
}

let server: FakeOpenAI;
let dir: string;
beforeAll(async () => {
  server = await startFakeOpenAI({ apiKey: KEY, chat: judge, models: ['judge-model'] });
  dir = mkdtempSync(join(tmpdir(), 'treesynth-judge-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('LLM judge', () => {
  it('the prompt shows the solution files, not the tests, and cuts long code', () => {
    const s = sample('a', 'file');
    s.files[0]!.content = 'x = 1\n'.repeat(100);
    const [system, user] = judgeMessages(s, 50);
    expect(system!.content).toContain('error_handling');
    expect(user!.content).toContain('### q.py');
    expect(user!.content).not.toContain('test_q.py');
    expect(user!.content).toContain('(cut here)');
  });

  it('scores samples per dimension with structured outputs, and counts the features it finds', async () => {
    const client = new LlmClient({ baseURL: server.url, apiKey: KEY, model: 'judge-model', stage: 'judge', timeoutMs: 10_000, maxRetries: 0 });
    const figures = await judgeSamples([sample('f1', 'function'), sample('f2', 'function'), sample('m1', 'multi_file'), sample('bad', 'file', 'garbage in')], { model: client, concurrency: 2 });
    expect(figures).toMatchObject({ promptVersion: JUDGE_PROMPT_VERSION, model: 'judge-model', requested: 4, judged: 3, failed: 1, failures: { 'llm-invalid-json': 1 } });
    // Scores 3, 3, 9 on every dimension: mean 5.
    for (const d of COMPLEXITY_DIMENSIONS) expect(figures.scores[d]).toMatchObject({ count: 3, mean: 5, min: 3, max: 9 });
    expect(figures.overall.mean).toBe(5);
    expect(figures.byLevel['function']).toMatchObject({ samples: 2, error_handling: 3 });
    expect(figures.byLevel['multi_file']).toMatchObject({ samples: 1, modularity: 9 });
    // Labels are normalised to lower case: try/except, input validation, level function, level multi_file.
    expect(figures.diversity).toMatchObject({ distinctFeatures: 4, distinctByCategory: { algorithm: 2, 'error handling': 2 } });
    expect(figures.diversity.featuresPerSample.mean).toBe(3);
    expect(figures.samples[0]!.reasons.modularity).toBe('modularity looks like a 3');
    expect(figures.usage.requests).toBe(5); // 3 answers + the bad one and its repair turn
    const sent = server.requests.find((r) => r.path === '/v1/chat/completions')!.body as { response_format: { json_schema: { name: string; strict: boolean } } };
    expect(sent.response_format.json_schema).toMatchObject({ name: JUDGE_SCHEMA.name, strict: true });
  });

  it('treesynth report --judge scores a random subset and puts judge tokens into the cost table', async () => {
    const out = join(dir, 'run');
    writeFixtureRun(out, { samples: 12 });
    const before = server.requests.length;
    const { stdout } = await run('node', [bin, 'report', out, '--judge', '--judge-samples', '4', '--llm-base-url', server.url, '--model', 'judge-model', '--no-cache', '--price-per-1k', '1/2'], {
      env: { ...process.env, OPENAI_API_KEY: KEY, CI: 'true' },
    });
    expect(stdout).toMatch(/judge scored 4 samples/);
    const quality = JSON.parse(readFileSync(join(out, 'quality.json'), 'utf8'));
    expect(quality.figures.judge).toMatchObject({ requested: 4, judged: 4, model: 'judge-model' });
    const judgeRow = quality.tokens.byStage.find((s: { stage: string }) => s.stage === 'judge');
    expect(judgeRow.requests).toBe(4);
    expect(judgeRow.cost).toBeCloseTo(judgeRow.promptTokens / 1000 + (2 * judgeRow.completionTokens) / 1000);
    expect(server.requests.length - before).toBe(5); // the models check, then one request per sample
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('4 of 4 random samples judged by judge-model');
    expect(html).not.toContain(KEY);
  });

  it('without an endpoint, --judge leaves the judge out and the page says why', async () => {
    const out = join(dir, 'run2');
    writeFixtureRun(out, { samples: 3 });
    const env: Record<string, string | undefined> = { ...process.env, CI: 'true' };
    for (const k of ['OPENAI_BASE_URL', 'OPENAI_API_KEY', 'TREESYNTH_MODEL', 'TREESYNTH_JUDGE_BASE_URL', 'TREESYNTH_JUDGE_API_KEY']) delete env[k];
    const { stderr } = await run('node', [bin, 'report', out, '--judge'], { env });
    expect(stderr).toMatch(/--judge: no LLM endpoint configured/);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('LLM judge not run: no endpoint was configured.');
  });
});
