import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cosine } from '../embeddings/embedder.js';
import { createCodeEmbedder, createLabelEmbedder, LexicalCodeEmbedder, LexicalLabelEmbedder } from '../embeddings/index.js';
import { OpenAIEmbedder, OpenAIEmbeddingError } from '../embeddings/openai.js';
import { fakeEmbedding, startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';

const KEY = 'sk-test-secret-key-123';

describe('OpenAIEmbedder against the fake server', () => {
  let server: FakeOpenAI;

  beforeEach(async () => {
    server = await startFakeOpenAI({ apiKey: KEY, embeddingDimension: 16 });
  });
  afterEach(async () => {
    await server.close();
  });

  const embedder = (options: Partial<ConstructorParameters<typeof OpenAIEmbedder>[0]> = {}): OpenAIEmbedder =>
    new OpenAIEmbedder({ baseURL: server.url, apiKey: KEY, model: 'fake-embedding', maxRetries: 0, ...options });

  it('embeds texts as unit vectors, in order, learning the dimension from the first answer', async () => {
    const e = embedder();
    expect(e.name).toBe('openai:fake-embedding');
    expect(() => e.dimension).toThrow(/not known until the first embed/);
    const texts = ['read file', 'json parsing', 'read file'];
    const vectors = await e.embed(texts);
    expect(e.dimension).toBe(16);
    expect(vectors).toHaveLength(3);
    vectors.forEach((v, i) => {
      expect(v).toBeInstanceOf(Float32Array);
      expect(cosine(v, v)).toBeCloseTo(1, 5);
      expect(Array.from(v)).toEqual(Array.from(new Float32Array(fakeEmbedding(texts[i]!, 16))));
    });
    expect(cosine(vectors[0]!, vectors[2]!)).toBeCloseTo(1, 5);
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/v1/embeddings', authorized: true });
    expect(request!.body).toEqual({ model: 'fake-embedding', input: texts, encoding_format: 'float' });
    expect(request!.headers['authorization']).toBe('[redacted]');
  });

  it('returns [] for no texts without calling the server', async () => {
    expect(await embedder().embed([])).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it('splits inputs into batches of batchSize', async () => {
    const texts = Array.from({ length: 10 }, (_, i) => `label ${i}`);
    const vectors = await embedder({ batchSize: 4 }).embed(texts);
    expect(server.requests.map((r) => (r.body as { input: string[] }).input.length)).toEqual([4, 4, 2]);
    vectors.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(new Float32Array(fakeEmbedding(texts[i]!, 16)))));
  });

  it('keeps order with concurrent batches', async () => {
    server.setLatency(5);
    const texts = Array.from({ length: 9 }, (_, i) => `text ${i}`);
    const vectors = await embedder({ batchSize: 2, concurrency: 3 }).embed(texts);
    expect(server.requests).toHaveLength(5);
    vectors.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(new Float32Array(fakeEmbedding(texts[i]!, 16)))));
  });

  it('orders results by index, not by position in the answer', async () => {
    server.setEmbeddingsHandler((_request, { defaultBody }) => {
      const body = defaultBody();
      body.data.reverse();
      return { kind: 'json', body };
    });
    const texts = ['a', 'b', 'c'];
    const vectors = await embedder().embed(texts);
    vectors.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(new Float32Array(fakeEmbedding(texts[i]!, 16)))));
  });

  it('normalises vectors that are not unit length', async () => {
    server.setEmbeddingsHandler((_request, { defaultBody }) => {
      const body = defaultBody();
      for (const item of body.data) item.embedding = (item.embedding as number[]).map((x) => x * 7);
      return { kind: 'json', body };
    });
    const [v] = await embedder().embed(['x']);
    expect(cosine(v!, v!)).toBeCloseTo(1, 5);
  });

  it('retries after a 500 and then succeeds', async () => {
    server.failNext(1, { status: 500, retryAfterMs: 1 });
    const vectors = await embedder({ maxRetries: 2 }).embed(['retry me']);
    expect(vectors).toHaveLength(1);
    expect(server.requests).toHaveLength(2);
  });

  it('retries a 429 with retry-after', async () => {
    server.failNext(2, { status: 429, retryAfter: 0.001 });
    await embedder({ maxRetries: 2 }).embed(['rate limited']);
    expect(server.requests).toHaveLength(3);
  });

  it('surfaces exhausted retries as a clear error with the status', async () => {
    server.failNext(3, { status: 503, retryAfterMs: 1 });
    const error = await embedder({ maxRetries: 1 }).embed(['x']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAIEmbeddingError);
    expect((error as OpenAIEmbeddingError).status).toBe(503);
    expect((error as Error).message).toMatch(/openai:fake-embedding at http:\/\/127\.0\.0\.1:\d+\/v1: HTTP 503/);
    expect(server.requests).toHaveLength(2);
  });

  it('turns a wrong key into a clear 401 error that does not contain the key', async () => {
    const wrong = 'sk-wrong-key-456';
    const error = await embedder({ apiKey: wrong }).embed(['x']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAIEmbeddingError);
    expect((error as OpenAIEmbeddingError).status).toBe(401);
    expect((error as Error).message).toMatch(/HTTP 401 \(authentication failed: check apiKey \/ OPENAI_API_KEY\)/);
    expect((error as Error).message).not.toContain(wrong);
    expect(server.requests[0]!.authorized).toBe(false);
  });

  it('redacts the key if the server echoes it', async () => {
    server.failNext(1, { status: 400, message: `bad request from ${KEY}` });
    const error = await embedder().embed(['x']).catch((e: unknown) => e);
    expect((error as Error).message).not.toContain(KEY);
    expect((error as Error).message).toContain('[redacted]');
  });

  it.each([
    ['a body that is not JSON', { kind: 'raw', body: '{"data": [' } as const, /malformed embeddings answer: not JSON/],
    ['no data array', { kind: 'json', body: { object: 'list' } } as const, /malformed embeddings answer: no `data` array/],
    ['too few embeddings', { kind: 'json', body: { data: [{ index: 0, embedding: [1, 0] }] } } as const, /1 embeddings for 2 inputs/],
    [
      'a non-numeric component',
      { kind: 'json', body: { data: [{ index: 0, embedding: [1, 'x'] }, { index: 1, embedding: [1, 0] }] } } as const,
      /embedding\[1\] is "x", not a finite number/,
    ],
    [
      'inconsistent dimensions',
      { kind: 'json', body: { data: [{ index: 0, embedding: [1, 0] }, { index: 1, embedding: [1, 0, 0] }] } } as const,
      /has 3 numbers, expected 2/,
    ],
    [
      'a duplicate index',
      { kind: 'json', body: { data: [{ index: 1, embedding: [1, 0] }, { index: 1, embedding: [0, 1] }] } } as const,
      /index 1 appears twice/,
    ],
    [
      'an index out of range',
      { kind: 'json', body: { data: [{ index: 0, embedding: [1, 0] }, { index: 5, embedding: [0, 1] }] } } as const,
      /index is 5/,
    ],
    ['a zero vector', { kind: 'json', body: { data: [{ index: 0, embedding: [0, 0] }, { index: 1, embedding: [0, 1] }] } } as const, /all zeros/],
  ])('rejects %s with a clear error', async (_name, response, message) => {
    server.respondNext(1, response, '/v1/embeddings');
    const error = await embedder().embed(['a', 'b']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAIEmbeddingError);
    expect((error as Error).message).toMatch(/^openai:fake-embedding at /);
    expect((error as Error).message).toMatch(message);
  });

  it('checks answers against a configured dimension', async () => {
    const e = embedder({ dimension: 32 });
    expect(e.dimension).toBe(32);
    await expect(e.embed(['x'])).rejects.toThrow(/has 16 numbers, expected 32/);
  });

  it('asks for the configured dimension when requestDimensions is set', async () => {
    const e = embedder({ dimension: 8, requestDimensions: true });
    const [v] = await e.embed(['x']);
    expect(v).toHaveLength(8);
    expect((server.requests[0]!.body as { dimensions?: number }).dimensions).toBe(8);
  });

  it('times out slow answers with a clear error', async () => {
    server.setLatency(500);
    await expect(embedder({ timeoutMs: 50 }).embed(['slow'])).rejects.toThrow(/timed out/);
  });

  it('sends a space for empty strings (the API rejects empty input) and cuts long inputs when told', async () => {
    await embedder({ maxInputChars: 5 }).embed(['', 'abcdefghij']);
    expect((server.requests[0]!.body as { input: string[] }).input).toEqual([' ', 'abcde']);
  });

  it('reads OPENAI_BASE_URL and OPENAI_API_KEY from the environment', async () => {
    const saved = { url: process.env['OPENAI_BASE_URL'], key: process.env['OPENAI_API_KEY'] };
    process.env['OPENAI_BASE_URL'] = server.url;
    process.env['OPENAI_API_KEY'] = KEY;
    try {
      const [v] = await new OpenAIEmbedder({ model: 'fake-embedding' }).embed(['env']);
      expect(v).toHaveLength(16);
    } finally {
      for (const [name, value] of [['OPENAI_BASE_URL', saved.url], ['OPENAI_API_KEY', saved.key]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('validates options', () => {
    expect(() => embedder({ batchSize: 0 })).toThrow(/batchSize/);
    expect(() => embedder({ model: '' })).toThrow(/model/);
    expect(() => embedder({ requestDimensions: true })).toThrow(/requestDimensions needs dimension/);
  });
});

describe('createLabelEmbedder / createCodeEmbedder', () => {
  it('builds lexical embedders', () => {
    expect(createLabelEmbedder({ kind: 'lexical' })).toBeInstanceOf(LexicalLabelEmbedder);
    expect(createLabelEmbedder({ kind: 'lexical', dimension: 128 }).dimension).toBe(128);
    expect(createCodeEmbedder({ kind: 'lexical' })).toBeInstanceOf(LexicalCodeEmbedder);
  });

  it('builds OpenAI embedders; the code one cuts long files', async () => {
    const server = await startFakeOpenAI({ embeddingDimension: 8 });
    try {
      const label = createLabelEmbedder({ kind: 'openai', baseURL: server.url, model: 'm', dimension: 8 });
      expect(label).toBeInstanceOf(OpenAIEmbedder);
      expect(label.name).toBe('openai:m');
      const code = createCodeEmbedder({ kind: 'openai', baseURL: server.url, model: 'm' });
      await code.embed(['x'.repeat(100_000)]);
      expect((server.requests[0]!.body as { input: string[] }).input[0]).toHaveLength(24_000);
    } finally {
      await server.close();
    }
  });
});
