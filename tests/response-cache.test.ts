// The response cache: the log on its own (round trip, torn last line, damage, keys), then with
// the client against the fake server: a second run sends zero requests, failures are not
// cached, and a process killed while writing loses nothing it had acknowledged.
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LlmClient, type JsonSchemaSpec, type LlmClientConfig } from '../llm/index.js';
import { ResponseCache, canonicalJson, canonicalJsonWith, responseCacheKey, type CachedResponse } from '../llm/response-cache.js';
import { responseFormat } from '../llm/structured.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';

const SCHEMA: JsonSchemaSpec = {
  name: 'summary',
  jsonSchema: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'], additionalProperties: false },
};

function entry(i: number, value: unknown = { summary: `answer ${i} ✓` }): CachedResponse {
  return { key: responseCacheKey({ i }), value, model: 'fake-chat', usage: { promptTokens: 10 + i, completionTokens: 5, requests: 1 }, at: 1_700_000_000_000 + i };
}

describe('ResponseCache', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'treesynth-cache-'));
    path = join(dir, 'nested', 'responses.jsonl');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores answers durably and finds them after reopening', async () => {
    const cache = await ResponseCache.open(path);
    expect(cache.entries).toBe(0);
    await Promise.all([0, 1, 2].map((i) => cache.put(entry(i))));
    expect(await cache.get(entry(1).key)).toEqual(entry(1));
    expect(await cache.get(responseCacheKey({ i: 99 }))).toBeUndefined();
    await cache.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(lines[0]!.startsWith('{"key":"')).toBe(true);

    const again = await ResponseCache.open(path);
    expect(again.entries).toBe(3);
    for (const i of [0, 1, 2]) expect(await again.get(entry(i).key)).toEqual(entry(i));
    expect(again.stats()).toMatchObject({ entries: 3, hits: 3, misses: 0, badLines: 0, truncatedBytes: 0 });
    await again.close();
    await expect(again.get(entry(0).key)).rejects.toThrow(/closed/);
  });

  it('ignores a torn last line and appends cleanly after it', async () => {
    const cache = await ResponseCache.open(path);
    await cache.put(entry(0));
    await cache.put(entry(1));
    await cache.close();
    const whole = (await stat(path)).size;
    await appendFile(path, '{"key":"' + entry(2).key + '","model":"fake-ch');

    const reopened = await ResponseCache.open(path);
    expect(reopened.entries).toBe(2);
    expect(reopened.has(entry(2).key)).toBe(false);
    expect(reopened.stats().truncatedBytes).toBeGreaterThan(0);
    expect((await stat(path)).size).toBe(whole);
    await reopened.put(entry(3));
    await reopened.close();

    const third = await ResponseCache.open(path);
    expect(third.entries).toBe(3);
    expect(await third.get(entry(3).key)).toEqual(entry(3));
    expect(third.stats().badLines).toBe(0);
    await third.close();
  });

  it('survives a kill at every byte of the last write: earlier answers intact, the log appendable', async () => {
    const cache = await ResponseCache.open(path);
    for (const i of [0, 1]) await cache.put(entry(i));
    await cache.put(entry(2, { summary: 'x'.repeat(50) }));
    await cache.close();
    const full = await readFile(path);
    const lastStart = full.lastIndexOf(0x0a, full.length - 2) + 1;
    for (let cut = lastStart; cut <= full.length; cut++) {
      await writeFile(path, full.subarray(0, cut));
      const c = await ResponseCache.open(path, { durability: 'flush' });
      // The last entry survives only if it was written whole (with or without its newline).
      const whole = cut >= full.length - 1;
      expect(c.entries).toBe(whole ? 3 : 2);
      expect(await c.get(entry(0).key)).toEqual(entry(0));
      await c.put(entry(9));
      await c.close();
      const check = await ResponseCache.open(path, { durability: 'flush' });
      expect(check.entries).toBe(whole ? 4 : 3);
      expect(check.stats().badLines).toBe(0);
      await check.close();
    }
  });

  it('skips damaged lines, and forgets an entry that no longer reads back', async () => {
    const cache = await ResponseCache.open(path);
    await cache.put(entry(0));
    await cache.close();
    await appendFile(path, 'this is not json\n\n');
    const c = await ResponseCache.open(path);
    await c.put(entry(1));
    expect(c.entries).toBe(2);
    expect(c.stats().badLines).toBe(1);
    await c.close();

    // Damage inside a line whose prefix still looks right: found at read time, treated as a miss.
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace('"model":"fake-chat"', '"model":fake-chat"'));
    const d = await ResponseCache.open(path);
    expect(await d.get(entry(0).key)).toBeUndefined();
    expect(d.has(entry(0).key)).toBe(false);
    expect(await d.get(entry(1).key)).toEqual(entry(1));
    await d.close();
  });

  it('keys are canonical: key order does not matter, every other difference does', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
    expect(responseCacheKey({ a: 1, b: 2 })).toBe(responseCacheKey({ b: 2, a: 1 }));
    expect(responseCacheKey({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
    expect(responseCacheKey({ a: 1 })).not.toBe(responseCacheKey({ a: 2 }));
  });

  it('a part given as its canonical JSON gives the same text as the whole serialised at once', () => {
    const schema = { type: 'object', properties: { z: { type: 'string' }, a: { enum: [2, 1] } }, required: ['z'] };
    const parts = { v: 1, model: 'm', seed: undefined, messages: [{ role: 'user', content: 'a "quoted"\nline' }], namespace: null };
    expect(canonicalJsonWith(parts, { responseFormat: canonicalJson(schema) })).toBe(canonicalJson({ ...parts, responseFormat: schema }));
    expect(canonicalJsonWith({}, {})).toBe(canonicalJson({}));
  });

  it("a client's cache key is the documented hash of the request, so caches written before stay valid", () => {
    const client = new LlmClient({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k', model: 'm', stage: 'extract', timeoutMs: 1_000, maxRetries: 0, temperature: 0.2, seed: 7 });
    const schema = { name: 'answer', jsonSchema: { type: 'object', properties: { b: { type: 'string' }, a: { type: 'number' } }, required: ['a', 'b'], additionalProperties: false } };
    const messages = [{ role: 'system' as const, content: 'sys' }, { role: 'user' as const, content: 'code' }];
    const expected = responseCacheKey({
      v: 1, namespace: undefined, model: 'm', messages, responseFormat: responseFormat(schema), temperature: 0.2, seed: 7,
      maxTokens: undefined, maxTokensParam: undefined, promptVersion: 'v1',
    });
    expect(client.cacheKey({ messages, schema, promptVersion: 'v1' })).toBe(expected);
    // Asked again (the schema's JSON now remembered), the same key.
    expect(client.cacheKey({ messages, schema, promptVersion: 'v1' })).toBe(expected);
    expect(client.cacheKey({ messages: [messages[1]!], schema, promptVersion: 'v1' })).not.toBe(expected);
  });

  it('group-commits concurrent writes and rejects puts after close', async () => {
    const cache = await ResponseCache.open(path, { durability: 'flush' });
    await Promise.all(Array.from({ length: 200 }, (_, i) => cache.put(entry(i))));
    expect(cache.stats()).toMatchObject({ entries: 200, writes: 200 });
    await cache.close();
    await expect(cache.put(entry(1))).rejects.toThrow(/closed/);
    const again = await ResponseCache.open(path);
    expect(again.entries).toBe(200);
    await again.close();
  });

  it('a process killed while writing keeps every answer it had acknowledged', async () => {
    // A child appends as fast as it can and prints each key once `put` resolved; we SIGKILL it.
    const script = join(dir, 'writer.ts');
    const cacheModule = new URL('../llm/response-cache.ts', import.meta.url).pathname;
    await writeFile(
      script,
      `import { ResponseCache, responseCacheKey } from ${JSON.stringify(cacheModule)};
const cache = await ResponseCache.open(process.argv[2]!);
for (let i = 0; ; i++) {
  const key = responseCacheKey({ i });
  await cache.put({ key, value: { summary: 'x'.repeat(i % 500) }, model: 'm', usage: { promptTokens: 1, completionTokens: 1, requests: 1 }, at: i });
  process.stdout.write(key + '\\n');
}
`,
    );
    const viteNode = new URL('../node_modules/.bin/vite-node', import.meta.url).pathname;
    const child = spawn(viteNode, [script, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const deadline = Date.now() + 20_000;
    while (out.split('\n').length < 300 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await exited;
    const acknowledged = out.split('\n').filter((k) => /^[0-9a-f]{64}$/.test(k));
    expect(acknowledged.length, err).toBeGreaterThan(100);

    const cache = await ResponseCache.open(path);
    for (const key of acknowledged) expect(cache.has(key)).toBe(true);
    expect(cache.stats().badLines).toBe(0);
    await cache.put({ ...entry(1), key: responseCacheKey({ after: 'restart' }) });
    await cache.close();
    const again = await ResponseCache.open(path);
    expect(again.stats().badLines).toBe(0);
    expect(again.entries).toBeGreaterThanOrEqual(acknowledged.length + 1);
    await again.close();
  }, 30_000);
});

describe('the client with a response cache', () => {
  let dir: string;
  let path: string;
  let server: FakeOpenAI;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'treesynth-cache-'));
    path = join(dir, 'responses.jsonl');
    server = await startFakeOpenAI({
      chat: (r) => ({ content: JSON.stringify({ summary: `about ${String(r.messages.at(-1)?.content)}` }), usage: { prompt_tokens: 30, completion_tokens: 8 } }),
    });
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const config = (extra: Partial<LlmClientConfig> = {}): LlmClientConfig => ({
    baseURL: server.url,
    apiKey: 'sk-cache-test-key-123456',
    model: 'fake-chat',
    stage: 'extract',
    timeoutMs: 5_000,
    maxRetries: 1,
    temperature: 0,
    seed: 1,
    ...extra,
  });
  const corpus = Array.from({ length: 6 }, (_, i) => `file-${i}.py`);
  const runOnce = (c: LlmClient) => Promise.all(corpus.map((f) => c.complete<{ summary: string }>({ messages: [{ role: 'user', content: f }], schema: SCHEMA })));

  it('a second identical run sends zero requests and reports the original usage as cachedUsage', async () => {
    const cache = await ResponseCache.open(path);
    const first = await runOnce(new LlmClient(config(), { cache }));
    expect(first.every((r) => r.ok && !r.cached)).toBe(true);
    expect(server.requests).toHaveLength(6);
    await cache.close();

    // A new process, in effect: new cache handle, new client.
    const reopened = await ResponseCache.open(path);
    const client = new LlmClient(config(), { cache: reopened });
    const second = await runOnce(client);
    expect(server.requests).toHaveLength(6);
    second.forEach((r, i) => {
      expect(r).toMatchObject({ ok: true, cached: true, usage: { promptTokens: 0, completionTokens: 0, requests: 0 }, cachedUsage: { promptTokens: 30, completionTokens: 8, requests: 1 } });
      expect(r.ok && r.value).toEqual(first[i]!.ok && first[i]!.value);
    });
    expect(client.usage()).toMatchObject({ calls: 6, cacheHits: 6, requests: 0, promptTokens: 0, cachedPromptTokens: 180 });

    // Anything that changes the answer changes the key.
    await new LlmClient(config({ temperature: 0.7 }), { cache: reopened }).complete({ messages: [{ role: 'user', content: corpus[0]! }], schema: SCHEMA });
    await new LlmClient(config({ seed: 2 }), { cache: reopened }).complete({ messages: [{ role: 'user', content: corpus[0]! }], schema: SCHEMA });
    await new LlmClient(config({ maxTokens: 100 }), { cache: reopened }).complete({ messages: [{ role: 'user', content: corpus[0]! }], schema: SCHEMA });
    await new LlmClient(config({ model: 'other' }), { cache: reopened }).complete({ messages: [{ role: 'user', content: corpus[0]! }], schema: SCHEMA });
    await client.complete({ messages: [{ role: 'user', content: corpus[0]! }], schema: { ...SCHEMA, name: 'summary2' } });
    await client.complete({ messages: [{ role: 'user', content: corpus[0]! }], schema: SCHEMA, promptVersion: 'v2' });
    expect(server.requests).toHaveLength(12);
    // The endpoint's address is not part of the key: a local server on a new port still hits.
    const moved = await startFakeOpenAI();
    try {
      const r = await new LlmClient(config({ baseURL: moved.url }), { cache: reopened }).complete({ messages: [{ role: 'user', content: corpus[0]! }], schema: SCHEMA });
      expect(r).toMatchObject({ ok: true, cached: true });
      expect(moved.requests).toHaveLength(0);
    } finally {
      await moved.close();
    }
    await reopened.close();
  });

  it('an interrupted run resumes without paying twice', async () => {
    const cache = await ResponseCache.open(path);
    const c = new LlmClient(config(), { cache });
    for (const f of corpus.slice(0, 3)) await c.complete({ messages: [{ role: 'user', content: f }], schema: SCHEMA });
    // No close(): the process "dies" here; what was returned is already on disk.
    const resumed = await ResponseCache.open(path);
    await runOnce(new LlmClient(config(), { cache: resumed }));
    expect(server.requests).toHaveLength(6);
    await resumed.close();
    await cache.close();
  });

  it('never caches failures; a repaired answer is cached under the original request', async () => {
    server.setChatHandler(() => JSON.stringify({ wrong: true }));
    const cache = await ResponseCache.open(path);
    const c = new LlmClient(config(), { cache, retry: { baseDelayMs: 1 } });
    const failed = await c.complete({ messages: [{ role: 'user', content: 'a' }], schema: SCHEMA });
    expect(failed).toMatchObject({ ok: false, reason: 'off-schema', usage: { requests: 2 } });
    server.failNext(5, { status: 500 });
    expect(await c.complete({ messages: [{ role: 'user', content: 'b' }], schema: SCHEMA })).toMatchObject({ ok: false, reason: 'retries-exhausted' });
    expect(cache.entries).toBe(0);

    server.setChatHandler((_r, { callIndex }) => (callIndex % 2 === 0 ? 'not json' : JSON.stringify({ summary: 'fixed' })));
    server.reset();
    const repaired = await c.complete({ messages: [{ role: 'user', content: 'a' }], schema: SCHEMA });
    expect(repaired).toMatchObject({ ok: true, repaired: true, usage: { requests: 2 } });
    expect(cache.entries).toBe(1);
    const hit = await c.complete({ messages: [{ role: 'user', content: 'a' }], schema: SCHEMA });
    expect(hit).toMatchObject({ ok: true, cached: true, value: { summary: 'fixed' }, cachedUsage: { requests: 2 } });
    expect(server.requests).toHaveLength(2);
    await cache.close();
  });

  it('a cached value that no longer passes the checks is paid for again and replaced; cache: false bypasses it', async () => {
    const cache = await ResponseCache.open(path);
    const c = new LlmClient(config(), { cache });
    const ask = (validate?: (v: { summary: string }) => readonly string[]) =>
      c.complete<{ summary: string }>({ messages: [{ role: 'user', content: 'a' }], schema: SCHEMA, ...(validate ? { validate } : {}) });
    expect(await ask()).toMatchObject({ ok: true, cached: false, value: { summary: 'about a' } });
    expect(await ask((v) => (v.summary.startsWith('about') ? [] : ['must start with "about"']))).toMatchObject({ ok: true, cached: true });
    expect(server.requests).toHaveLength(1);

    // The caller became stricter than what is cached: pay once more, and keep the new answer.
    server.setChatHandler(() => JSON.stringify({ summary: 'about a, fresh' }));
    expect(await ask((v) => (v.summary.includes('fresh') ? [] : ['must be fresh']))).toMatchObject({ ok: true, cached: false, value: { summary: 'about a, fresh' } });
    expect(server.requests).toHaveLength(2);
    expect(await ask()).toMatchObject({ ok: true, cached: true, value: { summary: 'about a, fresh' } });
    await cache.close();
    const reopened = await ResponseCache.open(path);
    expect(await new LlmClient(config(), { cache: reopened }).complete({ messages: [{ role: 'user', content: 'a' }], schema: SCHEMA })).toMatchObject({
      cached: true,
      value: { summary: 'about a, fresh' },
    });
    await reopened.close();

    const third = await ResponseCache.open(path);
    const bypass = new LlmClient(config(), { cache: third });
    expect(await bypass.complete({ messages: [{ role: 'user', content: 'a' }], schema: SCHEMA, cache: false })).toMatchObject({ ok: true, cached: false });
    expect(server.requests).toHaveLength(3);
    await third.close();
  });
});
