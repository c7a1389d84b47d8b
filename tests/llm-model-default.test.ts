// `--model` is optional: OpenAI-compatible servers list what they serve at /v1/models. One model
// served: it is used, and the run says which. Several: the one-line error lists them. None, or
// no list at all: a clear error that says what to set.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LlmClientFactory, LlmConfigError, type JsonSchemaSpec } from '../llm/index.js';
import { startFakeOpenAI, type ChatCompletionRequest, type FakeOpenAI } from './fakes/fake-openai-server.js';
import { scriptedModel } from './fakes/scripted-model.js';
import { GOOD_FILES } from './fixtures/corpus.js';

const SCHEMA: JsonSchemaSpec = {
  name: 'answer',
  jsonSchema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
};

const modelLists = (server: FakeOpenAI) => server.requests.filter((r) => r.path === '/v1/models').length;
const chatModels = (server: FakeOpenAI) => server.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => (r.body as ChatCompletionRequest).model);

describe('LlmClientFactory.discoverModels', () => {
  let server: FakeOpenAI | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const factory = (url: string, env: Record<string, string> = {}) =>
    new LlmClientFactory({ env: { OPENAI_BASE_URL: url, ...env }, defaults: { maxRetries: 0 } });

  it('takes the only model an endpoint serves, for every stage, asking it once', async () => {
    server = await startFakeOpenAI({ models: ['solo-7b'], chat: () => JSON.stringify({ n: 1 }) });
    const f = factory(server.url);
    expect(await f.discoverModels(['extract', 'generate'])).toEqual([
      { stage: 'extract', model: 'solo-7b', endpoint: server.url },
      { stage: 'generate', model: 'solo-7b', endpoint: server.url },
    ]);
    expect(modelLists(server)).toBe(1);
    await f.forStage('extract').complete({ messages: [{ role: 'user', content: 'x' }], schema: SCHEMA });
    expect(chatModels(server)).toEqual(['solo-7b']);
  });

  it('asks nothing for a stage whose model is configured', async () => {
    server = await startFakeOpenAI({ models: ['a', 'b'] });
    const f = factory(server.url, { TREESYNTH_MODEL: 'a' });
    expect(await f.discoverModels(['extract'])).toEqual([]);
    expect(modelLists(server)).toBe(0);
    expect(f.forStage('extract').config.model).toBe('a');
  });

  it('several models served: one line that lists them', async () => {
    server = await startFakeOpenAI({ models: ['qwen-coder-7b', 'llama-3-8b', 'phi-3'] });
    const error = await factory(server.url).discoverModels(['extract']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/no model configured, and .* serves 3 models: qwen-coder-7b, llama-3-8b, phi-3; set --model or TREESYNTH_MODEL/);
    expect(message).not.toContain('\n');
  });

  it('no model listed, or no list at all: a clear error that says what to set', async () => {
    server = await startFakeOpenAI({ models: [] });
    await expect(factory(server.url).discoverModels(['extract'])).rejects.toThrow(/lists no model \(GET \/models is empty\): set --model or TREESYNTH_MODEL/);
    server.respondNext(1, { kind: 'error', status: 404, message: 'Not Found' }, '/v1/models');
    await expect(factory(server.url).discoverModels(['extract'])).rejects.toThrow(/has no model list \(GET \/models\): set --model/);
  });
});

describe('treesynth run without --model', () => {
  const run = promisify(execFile);
  const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'treesynth-model-default-'));
    for (const [path, content] of Object.entries(GOOD_FILES)) {
      mkdirSync(join(dir, 'corpus', path, '..'), { recursive: true });
      writeFileSync(join(dir, 'corpus', path), content);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function treesynth(server: FakeOpenAI, out: string) {
    const args = ['run', '--input', join(dir, 'corpus'), '--out', join(dir, out), '--llm-base-url', server.url, '--llm-stages', 'extract', '--tasks', '0', '--no-cache'];
    try {
      const { stderr } = await run('node', [bin, ...args], { env: { ...process.env, CI: 'true', OPENAI_API_KEY: '', TREESYNTH_MODEL: '', TREESYNTH_EXTRACT_MODEL: '' } });
      return { code: 0, stderr };
    } catch (error) {
      const e = error as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  }

  it('uses the one model the endpoint serves and says which', async () => {
    const server = await startFakeOpenAI({ models: ['only-model'], chat: scriptedModel() });
    try {
      const result = await treesynth(server, 'one');
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/no --model given; http:\/\/127\.0\.0\.1:\d+\/v1 serves one model: using "only-model" \(extract\)/);
      const models = chatModels(server);
      expect(models.length).toBeGreaterThan(0);
      expect(new Set(models)).toEqual(new Set(['only-model']));
    } finally {
      await server.close();
    }
  });

  it('with several served, stops before any request with one line that lists them', async () => {
    const server = await startFakeOpenAI({ models: ['model-a', 'model-b'], chat: scriptedModel() });
    try {
      const result = await treesynth(server, 'several');
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/serves 2 models: model-a, model-b; set --model/);
      expect(chatModels(server)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
