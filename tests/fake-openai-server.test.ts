import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';

describe('fake OpenAI server', () => {
  let server: FakeOpenAI | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const client = (s: FakeOpenAI, options: { apiKey?: string; maxRetries?: number; timeout?: number } = {}): OpenAI =>
    new OpenAI({ baseURL: s.url, apiKey: options.apiKey ?? 'k', maxRetries: options.maxRetries ?? 0, ...(options.timeout ? { timeout: options.timeout } : {}) });

  it('listens on 127.0.0.1 with a /v1 base URL and lists models', async () => {
    server = await startFakeOpenAI({ models: ['a', 'b'] });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = await client(server).models.list();
    expect(models.data.map((m) => m.id)).toEqual(['a', 'b']);
    await expect(client(server).models.retrieve('zzz')).rejects.toMatchObject({ status: 404 });
  });

  it('answers chat completions from the handler, with usage, and records the request', async () => {
    server = await startFakeOpenAI({ apiKey: 'secret' });
    server.setChatHandler((request, { callIndex }) => ({
      content: JSON.stringify({ n: callIndex, model: request.model, schema: request.response_format !== undefined }),
      usage: { prompt_tokens: 11, completion_tokens: 7 },
    }));
    const completion = await client(server, { apiKey: 'secret' }).chat.completions.create({
      model: 'fake-chat',
      messages: [{ role: 'user', content: 'hi' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
    });
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ n: 0, model: 'fake-chat', schema: true });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toEqual({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
    expect(server.requests[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', authorized: true });
    expect(server.requests[0]!.headers['authorization']).toBe('[redacted]');
  });

  it('echoes the last user message by default and can truncate (finish_reason length)', async () => {
    server = await startFakeOpenAI();
    const echo = await client(server).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'ping' }] });
    expect(echo.choices[0]!.message.content).toBe('echo: ping');
    server.setChatHandler(() => ({ content: '{"truncat', finishReason: 'length' }));
    const cut = await client(server).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(cut.choices[0]!.finish_reason).toBe('length');
    expect(cut.choices[0]!.message.content).toBe('{"truncat');
  });

  it('streams when asked', async () => {
    server = await startFakeOpenAI({ chat: () => 'a fairly long streamed answer, in pieces' });
    const stream = await client(server).chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('a fairly long streamed answer, in pieces');
    expect(usage).toMatchObject({ total_tokens: expect.any(Number) });
  });

  it('rejects a wrong key with an OpenAI-style 401', async () => {
    server = await startFakeOpenAI({ apiKey: 'right' });
    const error = await client(server, { apiKey: 'wrong' })
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
  });

  it('plays scripted faults in order, then recovers', async () => {
    server = await startFakeOpenAI({ chat: () => 'ok' });
    server.failNext(2, { status: 429, retryAfterMs: 1 }, '/v1/chat/completions');
    const completion = await client(server, { maxRetries: 2 }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(completion.choices[0]!.message.content).toBe('ok');
    expect(server.requests).toHaveLength(3);

    server.failNext(1, { status: 401 });
    await expect(client(server).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    server.failNext(1, { status: 500 });
    await expect(client(server).models.list()).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    server.respondNext(1, { kind: 'raw', body: '{"choices": [' });
    await expect(client(server).chat.completions.create({ model: 'm', messages: [] })).rejects.toThrow();
    server.failNext(1, { hangup: true });
    await expect(client(server).models.list()).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    expect((await client(server).models.list()).data.length).toBeGreaterThan(0);
  });

  it('handler replies can be errors with retry-after, or slow enough to time out', async () => {
    server = await startFakeOpenAI();
    server.setChatHandler((_r, { callIndex }) =>
      callIndex === 0 ? { kind: 'error', status: 503, retryAfter: 0.001 } : { content: 'late', delayMs: callIndex === 1 ? 300 : 0 },
    );
    const c = client(server, { maxRetries: 0, timeout: 50 });
    await expect(c.chat.completions.create({ model: 'm', messages: [] })).rejects.toMatchObject({ status: 503 });
    await expect(c.chat.completions.create({ model: 'm', messages: [] })).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect((await c.chat.completions.create({ model: 'm', messages: [] })).choices[0]!.message.content).toBe('late');
  });

  it('answers unknown paths and bad bodies with OpenAI-style errors', async () => {
    server = await startFakeOpenAI();
    const notFound = await fetch(`${server.url}/nope`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ error: { code: 'unknown_url' } });
    const bad = await fetch(`${server.url}/chat/completions`, { method: 'POST', body: 'not json' });
    expect(bad.status).toBe(400);
    expect(server.requests.map((r) => r.body)).toEqual([undefined, 'not json']);
  });

  it('close() ends pending slow answers', async () => {
    server = await startFakeOpenAI({ latencyMs: 10_000 });
    const pending = fetch(`${server.url}/models`).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});
