// The LLM client against the fake OpenAI-compatible server, over HTTP, with the real `openai`
// package: structured answers, retries, configuration errors, repair, budget and breaker.
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AdaptiveLimiter,
  BreakerOpenError,
  BudgetExhaustedError,
  LlmClient,
  LlmClientFactory,
  LlmConfigError,
  LlmRunGuard,
  LlmUnavailableError,
  UsageMeter,
  makeProvenance,
  resolveLlmConfig,
  stageEnvName,
  type JsonSchemaSpec,
  type LlmClientConfig,
  type LlmClientDeps,
  type LlmMessage,
} from '../llm/index.js';
import { startFakeOpenAI, type ChatCompletionRequest, type FakeOpenAI } from './fakes/fake-openai-server.js';
import { schemasOf } from '../prompts/stage-schemas.js';
import { LLM_STAGES } from '../topology/settings.js';

const KEY = 'sk-test-very-secret-key-0123456789';

interface Features {
  labels: string[];
  summary: string;
}

const SCHEMA: JsonSchemaSpec = {
  name: 'features',
  jsonSchema: {
    type: 'object',
    properties: { labels: { type: 'array', items: { type: 'string' } }, summary: { type: 'string' } },
    required: ['labels', 'summary'],
    additionalProperties: false,
  },
};

const GOOD = JSON.stringify({ labels: ['file io', 'json'], summary: 'reads json' });
const MESSAGES: LlmMessage[] = [
  { role: 'system', content: 'Extract features.' },
  { role: 'user', content: 'def f(): pass' },
];

/** Fast retries: the tests check what happens, not how long the real backoff is. */
const FAST: LlmClientDeps = { retry: { baseDelayMs: 1, maxDelayMs: 4 } };

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function chats(server: FakeOpenAI): ChatCompletionRequest[] {
  return server.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body as ChatCompletionRequest);
}

describe('LlmClient', () => {
  let server: FakeOpenAI;
  beforeEach(async () => {
    server = await startFakeOpenAI({ apiKey: KEY, chat: () => GOOD });
  });
  afterEach(async () => {
    await server.close();
  });

  const client = (config: Partial<LlmClientConfig> = {}, deps: LlmClientDeps = {}): LlmClient =>
    new LlmClient({ baseURL: server.url, apiKey: KEY, model: 'fake-chat', stage: 'extract', timeoutMs: 5_000, maxRetries: 3, ...config }, { ...FAST, ...deps });

  it('sends a strict json_schema response_format with the sampling settings and returns the checked value', async () => {
    server.setChatHandler(() => ({ content: GOOD, usage: { prompt_tokens: 40, completion_tokens: 12 } }));
    const c = client({ temperature: 0.2, seed: 7, maxTokens: 300, promptVersion: 'extract-v1' });
    const result = await c.complete<Features>({ messages: MESSAGES, schema: SCHEMA });
    expect(result).toMatchObject({
      ok: true,
      value: { labels: ['file io', 'json'], summary: 'reads json' },
      usage: { promptTokens: 40, completionTokens: 12, requests: 1 },
      model: 'fake-chat',
      cached: false,
      repaired: false,
      stage: 'extract',
    });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(0);
    const host = new URL(server.url).host;
    expect(result.provenance).toEqual({ model: 'fake-chat', endpointHost: host, promptVersion: 'extract-v1', seed: 7 });
    const [body] = chats(server);
    expect(body).toMatchObject({
      model: 'fake-chat',
      messages: MESSAGES,
      temperature: 0.2,
      seed: 7,
      max_tokens: 300,
      response_format: { type: 'json_schema', json_schema: { name: 'features', schema: SCHEMA.jsonSchema, strict: true } },
    });
    expect(body).not.toHaveProperty('stream');
    expect(c.usage()).toMatchObject({ calls: 1, ok: 1, requests: 1, promptTokens: 40, completionTokens: 12 });
  });

  it('retries 429 (honouring retry-after 0) and 5xx, then succeeds', async () => {
    server.failNext(2, { status: 429, retryAfter: 0 }, '/v1/chat/completions');
    server.failNext(1, { status: 500, retryAfter: 0 }, '/v1/chat/completions');
    server.failNext(1, { status: 503, retryAfterMs: 0 }, '/v1/chat/completions');
    // A backoff of seconds: only honouring the server's retry-after (0) keeps this fast.
    const c = client({ maxRetries: 5 }, { retry: { baseDelayMs: 5_000, maxDelayMs: 5_000 }, random: () => 0.99 });
    const started = Date.now();
    const result = await c.complete<Features>({ messages: MESSAGES, schema: SCHEMA });
    expect(result.ok).toBe(true);
    expect(result.usage.requests).toBe(5);
    expect(chats(server)).toHaveLength(5);
    expect(c.usage()).toMatchObject({ calls: 1, ok: 1, requests: 5, retries: 4 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('waits as long as retry-after-ms says', async () => {
    server.failNext(1, { status: 429, retryAfterMs: 150 }, '/v1/chat/completions');
    const started = Date.now();
    const result = await client({ maxRetries: 1 }).complete({ messages: MESSAGES, schema: SCHEMA });
    expect(result.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('retries timeouts, hangups and malformed bodies', async () => {
    // A deadline with room for a loaded machine's answer, and a first answer far beyond it.
    server.setChatHandler((_r, { callIndex }) => (callIndex === 0 ? { content: GOOD, delayMs: 3_000 } : GOOD));
    const slow = await client({ timeoutMs: 400, maxRetries: 2 }).complete({ messages: MESSAGES, schema: SCHEMA });
    expect(slow).toMatchObject({ ok: true, usage: { requests: 2 } });

    server.reset();
    server.setChatHandler(() => GOOD);
    server.failNext(1, { hangup: true }, '/v1/chat/completions');
    server.failNext(1, { rawBody: '{"choices": [', status: 200 }, '/v1/chat/completions');
    server.respondNext(1, { kind: 'json', body: { object: 'chat.completion' } }, '/v1/chat/completions');
    const flaky = await client({ maxRetries: 3 }).complete({ messages: MESSAGES, schema: SCHEMA });
    expect(flaky).toMatchObject({ ok: true, usage: { requests: 4 } });
  });

  it('turns retries that run out into a typed failure, not a throw', async () => {
    server.failNext(10, { status: 500 }, '/v1/chat/completions');
    const result = await client({ maxRetries: 2 }).complete({ messages: MESSAGES, schema: SCHEMA });
    expect(result).toMatchObject({ ok: false, reason: 'retries-exhausted', usage: { requests: 3 } });
    expect(result.ok === false && result.detail).toMatch(/HTTP 500.*after 3 attempts/);
  });

  it('a wrong key is one LlmConfigError, not retried, and the key appears nowhere', async () => {
    const wrong = 'sk-wrong-secret-abcdefghijklmnop';
    const c = client({ apiKey: wrong, maxRetries: 5 });
    const error = await c.complete({ messages: MESSAGES, schema: SCHEMA }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmConfigError);
    const e = error as LlmConfigError;
    expect(e.status).toBe(401);
    expect(e.message).toMatch(/401/);
    expect(e.message).toMatch(/API key/);
    expect(e.message).not.toContain('\n');
    expect(e.message).not.toContain(wrong);
    expect(inspect(e, { depth: 10 })).not.toContain(wrong);
    expect(server.requests).toHaveLength(1);
    expect(c.usage()).toMatchObject({ calls: 1, errors: 1, requests: 1 });
  });

  it('an unknown model (404) is one LlmConfigError, not retried', async () => {
    server.setChatHandler((r) =>
      r.model === 'fake-chat' ? GOOD : { kind: 'error', status: 404, message: `The model \`${r.model}\` does not exist.`, type: 'invalid_request_error', code: 'model_not_found' },
    );
    const error = await client({ model: 'no-such-model', maxRetries: 5 })
      .complete({ messages: MESSAGES, schema: SCHEMA })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmConfigError);
    expect((error as Error).message).toMatch(/404.*unknown model/);
    expect((error as Error).message).toContain('no-such-model');
    expect(server.requests).toHaveLength(1);
  });

  it('checkEndpoint reports a wrong key, an unknown model, or the served models before spending anything', async () => {
    expect(await client().checkEndpoint()).toEqual(['fake-chat', 'fake-embedding']);
    await expect(client({ model: 'gpt-nope' }).checkEndpoint()).rejects.toThrow(/unknown model; the endpoint serves: fake-chat, fake-embedding/);
    await expect(client({ apiKey: 'sk-wrong-123456789' }).checkEndpoint()).rejects.toBeInstanceOf(LlmConfigError);
    expect(chats(server)).toHaveLength(0);
  });

  it('an endpoint that is down is an LlmUnavailableError after the retries', async () => {
    const port = await closedPort();
    const c = new LlmClient(
      { baseURL: `http://127.0.0.1:${port}/v1`, apiKey: KEY, model: 'fake-chat', timeoutMs: 2_000, maxRetries: 2 },
      FAST,
    );
    const error = await c.complete({ messages: MESSAGES, schema: SCHEMA }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmUnavailableError);
    expect((error as Error).message).toMatch(/unreachable.*ECONNREFUSED.*after 3 attempts/);
    expect((error as Error).message).not.toContain(KEY);
    expect(c.usage()).toMatchObject({ errors: 1, requests: 3, retries: 2 });
    await expect(c.checkEndpoint()).rejects.toBeInstanceOf(LlmUnavailableError);
  });

  it('a 400 before anything worked is configuration; after a success it is one rejected record', async () => {
    server.failNext(1, { status: 400, message: "Invalid schema for response_format 'features'", type: 'invalid_request_error' });
    await expect(client().complete({ messages: MESSAGES, schema: SCHEMA })).rejects.toThrow(LlmConfigError);

    const c = client();
    expect((await c.complete({ messages: MESSAGES, schema: SCHEMA })).ok).toBe(true);
    server.failNext(1, { status: 400, message: 'Invalid unicode in message', type: 'invalid_request_error' });
    expect(await c.complete({ messages: MESSAGES, schema: SCHEMA })).toMatchObject({ ok: false, reason: 'rejected', usage: { requests: 1 } });
    server.failNext(1, { status: 400, message: "This model's maximum context length is 8192 tokens.", code: 'context_length_exceeded' });
    expect(await client().complete({ messages: MESSAGES, schema: SCHEMA })).toMatchObject({ ok: false, reason: 'too-long', usage: { requests: 1 } });
  });

  it('a schema that does not compile is a configuration error before anything is sent', async () => {
    const broken: JsonSchemaSpec = { name: 'broken', jsonSchema: { type: 'object', properties: { a: { type: 'no-such-type' } } } };
    await expect(client().complete({ messages: MESSAGES, schema: broken })).rejects.toThrow(/JSON schema "broken" does not compile/);
    expect(server.requests).toHaveLength(0);
  });

  it("compiles every stage's answer schemas when the run opens its client, and a broken one fails there, before any request", () => {
    const c = client();
    for (const stage of [...LLM_STAGES, 'validate']) {
      expect(schemasOf(stage).length, stage).toBeGreaterThan(0);
      expect(() => c.prepare(schemasOf(stage)), stage).not.toThrow();
    }
    expect(schemasOf('no-such-stage')).toEqual([]);
    const broken: JsonSchemaSpec = { name: 'broken', jsonSchema: { type: 'object', properties: { a: { type: 'no-such-type' } } } };
    expect(() => c.prepare([SCHEMA, broken])).toThrow(/JSON schema "broken" does not compile/);
    expect(server.requests).toHaveLength(0);
  });

  it('a spent quota (429 insufficient_quota) is configuration, not retried', async () => {
    server.failNext(5, { status: 429, code: 'insufficient_quota', type: 'insufficient_quota', message: 'You exceeded your current quota.' });
    await expect(client({ maxRetries: 4 }).complete({ messages: MESSAGES, schema: SCHEMA })).rejects.toThrow(/quota/);
    expect(server.requests).toHaveLength(1);
  });

  it('repairs a malformed answer on the second try, quoting the problem', async () => {
    server.setChatHandler((_r, { callIndex }) => (callIndex === 0 ? 'Sure! Here are the features: {labels: [file io]' : GOOD));
    const c = client();
    const result = await c.complete<Features>({ messages: MESSAGES, schema: SCHEMA });
    expect(result).toMatchObject({ ok: true, repaired: true, value: { summary: 'reads json' }, usage: { requests: 2 } });
    const repair = chats(server)[1]!;
    expect(repair.messages.slice(0, 2)).toEqual(MESSAGES);
    expect(repair.messages[2]).toEqual({ role: 'assistant', content: 'Sure! Here are the features: {labels: [file io]' });
    expect(repair.messages[3]).toMatchObject({ role: 'user', content: expect.stringMatching(/not valid JSON[\s\S]*features/) });
    expect(repair.response_format).toMatchObject({ type: 'json_schema' });
    expect(c.usage()).toMatchObject({ ok: 1, requests: 2, repairs: 1, retries: 0 });
  });

  it('an off-schema answer twice is a typed failure with both requests counted', async () => {
    server.setChatHandler(() => JSON.stringify({ labels: 'file io', extra: 1 }));
    const c = client();
    const result = await c.complete<Features>({ messages: MESSAGES, schema: SCHEMA });
    expect(result).toMatchObject({ ok: false, reason: 'off-schema', cached: false, usage: { requests: 2 } });
    if (result.ok) throw new Error('unreachable');
    expect(result.detail).toMatch(/\/labels: must be array/);
    expect(result.detail).toMatch(/unexpected property "extra"/);
    expect(result.answer).toBe(JSON.stringify({ labels: 'file io', extra: 1 }));
    const repair = chats(server)[1]!;
    expect(repair.messages.at(-1)!.content).toMatch(/required property 'summary'/);
    expect(c.usage()).toMatchObject({ calls: 1, failed: 1, requests: 2, repairs: 1, failures: { 'off-schema': 1 } });
  });

  it('runs the caller check after the schema, and repairs on its problems too', async () => {
    server.setChatHandler((_r, { callIndex }) => (callIndex === 0 ? JSON.stringify({ labels: [], summary: 's' }) : GOOD));
    const result = await client().complete<Features>({
      messages: MESSAGES,
      schema: SCHEMA,
      validate: (v) => (v.labels.length === 0 ? ['labels must not be empty'] : []),
    });
    expect(result).toMatchObject({ ok: true, repaired: true });
    expect(chats(server)[1]!.messages.at(-1)!.content).toContain('labels must not be empty');
  });

  it('truncated answers get a shorter-answer repair, then a typed failure', async () => {
    server.setChatHandler(() => ({ content: '{"labels": ["file io", "js', finishReason: 'length' }));
    const result = await client({ maxTokens: 10 }).complete({ messages: MESSAGES, schema: SCHEMA });
    expect(result).toMatchObject({ ok: false, reason: 'truncated', usage: { requests: 2 } });
    const repair = chats(server)[1]!;
    expect(repair.messages).toHaveLength(3);
    expect(repair.messages[2]!.content).toMatch(/cut off/);

    server.reset();
    server.setChatHandler((_r, { callIndex }) => (callIndex === 0 ? { content: '{"lab', finishReason: 'length' } : GOOD));
    expect(await client().complete({ messages: MESSAGES, schema: SCHEMA })).toMatchObject({ ok: true, repaired: true });

    // Stopped exactly at the limit, but the JSON is whole and valid: nothing to repair.
    server.reset();
    server.setChatHandler(() => ({ content: GOOD, finishReason: 'length' }));
    expect(await client().complete({ messages: MESSAGES, schema: SCHEMA })).toMatchObject({ ok: true, repaired: false, usage: { requests: 1 } });
  });

  it('empty answers are repaired; refusals are not', async () => {
    server.setChatHandler((_r, { callIndex }) => (callIndex === 0 ? '' : GOOD));
    expect(await client().complete({ messages: MESSAGES, schema: SCHEMA })).toMatchObject({ ok: true, repaired: true, usage: { requests: 2 } });

    server.reset();
    server.setChatHandler(() => ({ content: null, refusal: "I can't help with that." }));
    const refused = await client().complete({ messages: MESSAGES, schema: SCHEMA });
    expect(refused).toMatchObject({ ok: false, reason: 'refusal', usage: { requests: 1 } });
    expect(refused.ok === false && refused.detail).toMatch(/refused/);
  });

  it('accepts a JSON answer wrapped in a markdown fence without a repair', async () => {
    server.setChatHandler(() => '```json\n' + GOOD + '\n```');
    expect(await client().complete({ messages: MESSAGES, schema: SCHEMA })).toMatchObject({ ok: true, repaired: false, usage: { requests: 1 } });
  });

  it('stops cleanly at the request budget: later calls fail fast and the counts add up', async () => {
    const guard = new LlmRunGuard({ budget: { maxRequests: 3 } });
    const c = client({}, { guard });
    for (let i = 0; i < 3; i++) expect((await c.complete({ messages: MESSAGES, schema: SCHEMA })).ok).toBe(true);
    const error = await c.complete({ messages: MESSAGES, schema: SCHEMA }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExhaustedError);
    expect((error as BudgetExhaustedError).limit).toBe('requests');
    expect(server.requests).toHaveLength(3);
    expect(guard.budget.requests).toBe(3);
    expect(c.usage()).toMatchObject({ calls: 4, ok: 3, errors: 1, requests: 3 });
  });

  it('with many calls in flight, the budget stop lets in-flight requests finish and fails the queued ones', async () => {
    server.setLatency(30);
    const guard = new LlmRunGuard({ budget: { maxRequests: 4 } });
    const limiter = new AdaptiveLimiter({ initial: 2, min: 2, max: 2 });
    const c = client({}, { guard, limiter });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => c.complete({ messages: [{ role: 'user', content: `file ${i}` }], schema: SCHEMA })));
    const ok = results.filter((r) => r.status === 'fulfilled' && r.value.ok);
    const stopped = results.filter((r) => r.status === 'rejected' && r.reason instanceof BudgetExhaustedError);
    expect(ok).toHaveLength(4);
    expect(stopped).toHaveLength(6);
    expect(server.requests).toHaveLength(4);
    expect(limiter.inFlight).toBe(0);
    expect(limiter.waiting).toBe(0);
    expect(guard.stopped).toBeInstanceOf(BudgetExhaustedError);
    expect(c.usage()).toMatchObject({ calls: 10, ok: 4, errors: 6, requests: 4 });
  });

  it('stops at the token budget', async () => {
    server.setChatHandler(() => ({ content: GOOD, usage: { prompt_tokens: 60, completion_tokens: 50 } }));
    const guard = new LlmRunGuard({ budget: { maxTotalTokens: 200 } });
    const c = client({}, { guard });
    expect((await c.complete({ messages: MESSAGES, schema: SCHEMA })).ok).toBe(true);
    expect((await c.complete({ messages: MESSAGES, schema: SCHEMA })).ok).toBe(true);
    await expect(c.complete({ messages: MESSAGES, schema: SCHEMA })).rejects.toThrow(/token budget exhausted: 220 of 200/);
    expect(server.requests).toHaveLength(2);
  });

  it('opens the breaker after failures and then fails fast without sending', async () => {
    server.failNext(100, { status: 500 }, '/v1/chat/completions');
    const guard = new LlmRunGuard({ breaker: { window: 4, minCalls: 4, failureRatio: 0.5 } });
    const c = client({ maxRetries: 0 }, { guard });
    for (let i = 0; i < 4; i++) expect(await c.complete({ messages: MESSAGES, schema: SCHEMA })).toMatchObject({ ok: false, reason: 'retries-exhausted' });
    expect(guard.stopped).toBeInstanceOf(BreakerOpenError);
    const before = server.requests.length;
    await expect(c.complete({ messages: MESSAGES, schema: SCHEMA })).rejects.toThrow(/breaker open: 4 of the last 4 calls failed/);
    expect(server.requests.length).toBe(before);
  });

  it('an aborted call rejects with the abort reason and frees its slot', async () => {
    server.setLatency(2_000);
    const limiter = new AdaptiveLimiter({ initial: 1, min: 1, max: 1 });
    const c = client({}, { limiter });
    const controller = new AbortController();
    const pending = c.complete({ messages: MESSAGES, schema: SCHEMA, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 50));
    controller.abort(new Error('shutting down'));
    await expect(pending).rejects.toThrow('shutting down');
    expect(limiter.inFlight).toBe(0);
  });
});

describe('LLM configuration', () => {
  it('resolves per-stage settings from the environment, most specific first', () => {
    const env = {
      OPENAI_BASE_URL: 'http://127.0.0.1:8000/v1',
      OPENAI_API_KEY: KEY,
      TREESYNTH_MODEL: 'qwen-coder',
      TREESYNTH_GENERATE_MODEL: 'big-model',
      TREESYNTH_GENERATE_BASE_URL: 'http://gpu-box:9000/v1',
    };
    expect(stageEnvName('extract-llm', 'MODEL')).toBe('TREESYNTH_EXTRACT_LLM_MODEL');
    expect(resolveLlmConfig('extract', { env })).toMatchObject({ baseURL: 'http://127.0.0.1:8000/v1', apiKey: KEY, model: 'qwen-coder', stage: 'extract', maxRetries: 5 });
    expect(resolveLlmConfig('generate', { env })).toMatchObject({ baseURL: 'http://gpu-box:9000/v1', model: 'big-model' });
    // A flag for all stages beats the generic environment, not the stage's own variable.
    expect(resolveLlmConfig('generate', { env, defaults: { model: 'flag-model' } }).model).toBe('big-model');
    expect(resolveLlmConfig('extract', { env, defaults: { model: 'flag-model' } }).model).toBe('flag-model');
    expect(resolveLlmConfig('extract', { env, stages: { extract: { model: 'stage-flag', temperature: 0 } } })).toMatchObject({ model: 'stage-flag', temperature: 0 });
    // A key alone means the OpenAI API; a local server without a key gets a placeholder.
    expect(resolveLlmConfig('x', { env: { OPENAI_API_KEY: KEY, TREESYNTH_MODEL: 'm' } }).baseURL).toBe('https://api.openai.com/v1');
    expect(resolveLlmConfig('x', { env: { OPENAI_BASE_URL: 'http://localhost:11434/v1', TREESYNTH_MODEL: 'm' } }).apiKey).toBe('no-key');
  });

  it('says in one line what is missing', () => {
    expect(() => resolveLlmConfig('extract', { env: {} })).toThrow(/no LLM endpoint configured for stage "extract": set OPENAI_BASE_URL/);
    expect(() => resolveLlmConfig('extract', { env: { OPENAI_BASE_URL: 'http://h/v1' } })).toThrow(/set TREESYNTH_MODEL or TREESYNTH_EXTRACT_MODEL/);
    expect(() => resolveLlmConfig('extract', { env: { OPENAI_BASE_URL: 'ftp://h', TREESYNTH_MODEL: 'm' } })).toThrow(LlmConfigError);
    expect(() => resolveLlmConfig('extract', { env: { OPENAI_BASE_URL: 'http://h/v1', TREESYNTH_MODEL: 'm' }, defaults: { timeoutMs: 0 } })).toThrow(/timeoutMs/);
    const factory = new LlmClientFactory({ env: {} });
    expect(factory.configured('extract')).toBe(false);
    expect(() => factory.forStage('extract')).toThrow(LlmConfigError);
  });

  it('provenance names the host only', () => {
    expect(makeProvenance({ model: 'm', baseURL: 'https://user:pass@api.example.com:8443/v1?key=x', promptVersion: 'p1', seed: 3 })).toEqual({
      model: 'm',
      endpointHost: 'api.example.com:8443',
      promptVersion: 'p1',
      seed: 3,
    });
  });
});

describe('LlmClientFactory', () => {
  let server: FakeOpenAI;
  beforeEach(async () => {
    server = await startFakeOpenAI({ chat: () => ({ content: GOOD, usage: { prompt_tokens: 10, completion_tokens: 5 } }) });
  });
  afterEach(async () => {
    await server.close();
  });

  it('builds one client per stage that share the endpoint limiter, the guard and the meter, with usage by stage', async () => {
    const meter = new UsageMeter();
    const factory = new LlmClientFactory({
      env: { OPENAI_BASE_URL: server.url, TREESYNTH_MODEL: 'small', TREESYNTH_GENERATE_MODEL: 'large' },
      defaults: { maxRetries: 1 },
      meter,
      retry: { baseDelayMs: 1 },
    });
    const extract = factory.forStage('extract');
    const generate = factory.forStage('generate');
    expect(factory.forStage('extract')).toBe(extract);
    expect(extract.limiter).toBe(generate.limiter);
    expect(extract.guard).toBe(generate.guard);
    expect(factory.limiters().size).toBe(1);
    await extract.complete({ messages: MESSAGES, schema: SCHEMA });
    await extract.complete({ messages: MESSAGES, schema: SCHEMA });
    await generate.complete({ messages: MESSAGES, schema: SCHEMA });
    expect(chats(server).map((b) => b.model)).toEqual(['small', 'small', 'large']);
    const usage = factory.usageByStage();
    expect(usage['extract']).toMatchObject({ calls: 2, requests: 2, promptTokens: 20, completionTokens: 10 });
    expect(usage['generate']).toMatchObject({ calls: 1, requests: 1, promptTokens: 10, completionTokens: 5 });
    expect(meter.total()).toMatchObject({ calls: 3, requests: 3, promptTokens: 30 });
    expect(factory.guard.budget.requests).toBe(3);
  });
});
