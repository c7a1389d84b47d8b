// The whole-request deadline: the SDK's timeout stops at the response headers, so a server that
// sends them and then stalls the body used to hold a request (and a run) forever. Every LLM
// call, chat or model list, now has a deadline on the complete answer, retried like any
// timeout, and a silent endpoint costs a bounded number of deadlines per request.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AdaptiveLimiter,
  DEFAULT_MAX_TIMEOUT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  LlmClient,
  LlmUnavailableError,
  resolveLlmConfig,
  type JsonSchemaSpec,
  type LlmClientConfig,
} from '../llm/index.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeResponse } from './fakes/fake-openai-server.js';

const SCHEMA: JsonSchemaSpec = {
  name: 'answer',
  jsonSchema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
};
const MESSAGES = [{ role: 'user' as const, content: 'count' }];
const CHAT = '/v1/chat/completions';
/** 200, headers sent, the first bytes of a completion, then nothing. */
/** Room for a loaded machine's answer; a stalled one never comes. */
const DEADLINE_MS = 1_000;
const STALL: FakeResponse = { kind: 'stall', body: '{"id":"chatcmpl-1","object":"chat.completion","choices":[' };

describe('a whole-request deadline', () => {
  let server: FakeOpenAI;
  beforeEach(async () => {
    server = await startFakeOpenAI({ chat: () => JSON.stringify({ n: 1 }), models: ['fake-chat'] });
  });
  afterEach(async () => {
    await server.close();
  });

  const client = (config: Partial<LlmClientConfig> = {}, limiter = new AdaptiveLimiter({ max: 4 })): LlmClient =>
    new LlmClient({ baseURL: server.url, apiKey: 'k', model: 'fake-chat', timeoutMs: DEADLINE_MS, maxRetries: 3, ...config }, { limiter, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
  const chats = () => server.requests.filter((r) => r.path === CHAT).length;

  it('a body that stalls after the headers times out at the deadline and is retried', async () => {
    server.respondNext(1, STALL, CHAT);
    const limiter = new AdaptiveLimiter({ max: 4 });
    const result = await client({}, limiter).complete({ messages: MESSAGES, schema: SCHEMA });
    expect(result).toMatchObject({ ok: true, value: { n: 1 }, usage: { requests: 2 } });
    expect(chats()).toBe(2);
    // A timeout is an overload signal for the limiter (counted, not a cut on its own).
    expect(limiter.snapshot()).toMatchObject({ recentFaultRate: 0.5, decreases: 0, inFlight: 0 });
  });

  it('a silent endpoint costs at most 1 + maxTimeoutRetries deadlines per request, then a typed failure', async () => {
    server.respondNext(20, STALL, CHAT);
    const result = await client({ maxRetries: 5, maxTimeoutRetries: 2 }).complete({ messages: MESSAGES, schema: SCHEMA });
    expect(result).toMatchObject({ ok: false, reason: 'retries-exhausted', usage: { requests: 3 } });
    expect(result.ok === false && result.detail).toContain(`timed out (no complete answer within ${DEADLINE_MS} ms) after 3 attempts`);
    expect(chats()).toBe(3);
  });

  it('other faults still get every retry after a timeout', async () => {
    server.respondNext(1, STALL, CHAT);
    server.failNext(3, { status: 503 }, CHAT);
    const result = await client({ maxRetries: 5, maxTimeoutRetries: 1 }).complete({ messages: MESSAGES, schema: SCHEMA });
    expect(result).toMatchObject({ ok: true, usage: { requests: 5 } });
  });

  it('the model list before a run has the same deadline', async () => {
    server.respondNext(5, { kind: 'stall', body: '{"object":"list","data":[' }, '/v1/models');
    const error = await client({ maxRetries: 1 }).checkEndpoint().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmUnavailableError);
    expect((error as Error).message).toContain(`is not answering: timeout: request timed out (no complete answer within ${DEADLINE_MS} ms)`);
    expect(server.requests.filter((r) => r.path === '/v1/models')).toHaveLength(2);
  });

  it("the caller's abort still wins while the body stalls, and frees the slot", async () => {
    server.respondNext(1, STALL, CHAT);
    const limiter = new AdaptiveLimiter({ max: 1 });
    const controller = new AbortController();
    const pending = client({ timeoutMs: 10_000 }, limiter).complete({ messages: MESSAGES, schema: SCHEMA, signal: controller.signal });
    while (chats() === 0) await new Promise((r) => setTimeout(r, 10));
    controller.abort(new Error('shutting down'));
    await expect(pending).rejects.toThrow('shutting down');
    expect(limiter.inFlight).toBe(0);
  });

  it('the default deadline keeps a silent endpoint to minutes per request, not 18', () => {
    const config = resolveLlmConfig('extract', { env: { OPENAI_BASE_URL: 'http://127.0.0.1:1/v1', TREESYNTH_MODEL: 'm' } });
    expect(config.timeoutMs).toBe(DEFAULT_TIMEOUT_MS);
    expect(DEFAULT_TIMEOUT_MS * (1 + DEFAULT_MAX_TIMEOUT_RETRIES)).toBeLessThanOrEqual(3 * 60_000);
    expect(() => resolveLlmConfig('extract', { env: { OPENAI_BASE_URL: 'http://h/v1', TREESYNTH_MODEL: 'm' }, defaults: { maxTimeoutRetries: -1 } })).toThrow(/maxTimeoutRetries/);
  });
});
