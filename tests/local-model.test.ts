// The tiny local model (SmolLM2-135M, installed by ./setup.sh) behind treesynth's
// OpenAI-compatible server: real generations, so the grammar, the limits and the error paths
// are checked against the model itself. Each answer is kept to a few dozen tokens.
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmClient } from '../llm/client.js';
import { LOCAL_MODEL_ID, LocalModel, boundSchema } from '../llm/local-model.js';
import { startModelServer, type ModelServer } from '../llm/model-server.js';
import { servedModels } from '../llm/served-models.js';
import { EXTRACT_SCHEMA } from '../prompts/extract-features.js';

const LIMITS = { maxLength: 40, maxItems: 2, integerRange: 4 };

describe('boundSchema: the grammar never allows more than the limits, nor less than the schema needs', () => {
  it('tightens maxLength and maxItems, keeps minLength and minItems, and only ever narrows', () => {
    const bounded = boundSchema(
      {
        type: 'object', additionalProperties: false, required: ['files', 'note', 'short'],
        properties: {
          files: { type: 'array', minItems: 3, maxItems: 12, items: { type: 'string', minLength: 50, maxLength: 30_000 } },
          note: { type: 'string' },
          short: { type: 'string', maxLength: 10 },
          count: { type: 'integer', minimum: 1 },
          score: { type: 'integer', minimum: 1, maximum: 2 },
          any: { type: 'integer' },
          either: { anyOf: [{ type: 'string' }, { type: 'null' }] },
        },
      },
      LIMITS,
    );
    expect(bounded).toEqual({
      type: 'object', additionalProperties: false, required: ['files', 'note', 'short'],
      properties: {
        // minItems 3 and minLength 50 exceed the limits: the schema's minimum wins, or no answer could fit it.
        files: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'string', minLength: 50, maxLength: 50 } },
        note: { type: 'string', maxLength: 40 },
        short: { type: 'string', maxLength: 10 },
        // The grammar has lists, not ranges: a few values from the minimum, or the whole range when it is shorter.
        count: { type: 'integer', enum: [1, 2, 3, 4] },
        score: { type: 'integer', enum: [1, 2] },
        any: { type: 'integer' },
        either: { oneOf: [{ type: 'string', maxLength: 40 }, { type: 'null' }] },
      },
    });
  });

  it('refuses a schema that is not one, with the reason', () => {
    expect(() => boundSchema('string', LIMITS)).toThrow(/must be an object/);
    expect(() => boundSchema({ type: 'object', properties: [] }, LIMITS)).toThrow(/properties must be an object/);
  });
});

describe('the local model served over HTTP', () => {
  let model: LocalModel;
  let server: ModelServer;
  const post = (body: unknown, signal?: AbortSignal) =>
    fetch(`${server.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
  /** `post`, again after each 503 as a client honouring retry-after would (for 15 s at most). */
  const postWhenFree = async (body: unknown) => {
    const until = performance.now() + 15_000;
    let response = await post(body);
    while (response.status === 503 && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      response = await post(body);
    }
    return response;
  };

  beforeAll(async () => {
    model = await LocalModel.open({ limits: { maxLength: 60, maxItems: 2, contextSize: 2048 } });
    server = await startModelServer(model, { maxQueue: 1 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await model?.close();
  });

  it('lists exactly its one model at /v1/models, so a run needs no --model', async () => {
    const ids = await servedModels({ baseURL: server.baseURL, apiKey: 'no-key', timeoutMs: 10_000, maxRetries: 0 });
    expect(ids).toEqual([LOCAL_MODEL_ID]);
  });

  it('answers a JSON-schema request with JSON that parses and fits the schema and the limits', async () => {
    const schema = {
      type: 'object', additionalProperties: false, required: ['language', 'names', 'summary'],
      properties: {
        language: { type: 'string', enum: ['python', 'javascript', 'go'] },
        names: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'string', minLength: 1, maxLength: 500 } },
        summary: { type: 'string', maxLength: 2000 },
      },
    };
    const response = await post({
      model: LOCAL_MODEL_ID, temperature: 0, seed: 1,
      messages: [{ role: 'system', content: 'You describe code as JSON.' }, { role: 'user', content: 'def add(a, b):\n    return a + b\n\nWhich language is this, and what does it define?' }],
      response_format: { type: 'json_schema', json_schema: { name: 'code_facts', strict: true, schema } },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { model: string; choices: { message: { content: string }; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number } };
    expect(body.model).toBe(LOCAL_MODEL_ID);
    expect(body.choices[0]!.finish_reason).toBe('stop');
    const answer = JSON.parse(body.choices[0]!.message.content) as { names: string[]; summary: string };
    const ajv = new Ajv2020.default({ strict: false });
    expect(ajv.validate(schema, answer), JSON.stringify(ajv.errors)).toBe(true);
    expect(answer.names.length).toBeLessThanOrEqual(2);
    expect(answer.summary.length).toBeLessThanOrEqual(60);
    expect(body.usage.prompt_tokens).toBeGreaterThan(20);
    expect(body.usage.completion_tokens).toBeGreaterThan(5);
  }, 120_000);

  it('answers treesynth\'s own client with a value its schema check accepts (the extraction schema)', async () => {
    const client = new LlmClient({ baseURL: server.baseURL, apiKey: 'no-key', model: LOCAL_MODEL_ID, timeoutMs: 90_000, maxRetries: 1, temperature: 0, seed: 3 });
    const result = await client.complete<{ features: unknown[] }>({
      messages: [{ role: 'system', content: 'Name the features of the code as JSON.' }, { role: 'user', content: 'import json\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n' }],
      schema: EXTRACT_SCHEMA,
    });
    // The grammar holds the answer to the schema, so the client never needs its repair turn.
    expect(result.ok, result.ok ? '' : `${result.reason}: ${result.detail}`).toBe(true);
    if (result.ok) {
      expect(result.value.features.length).toBeGreaterThanOrEqual(1);
      expect(result.value.features.length).toBeLessThanOrEqual(2);
      expect(result.repaired).toBe(false);
    }
  }, 180_000);

  it('a deadline the model cannot meet is a timeout the client reports, and the model is free again', async () => {
    const client = new LlmClient({ baseURL: server.baseURL, apiKey: 'no-key', model: LOCAL_MODEL_ID, timeoutMs: 1500, maxRetries: 0 });
    // 300 integers take far longer than 1.5 s at any speed this model reaches.
    const result = await client.complete<unknown>({
      messages: [{ role: 'user', content: 'List numbers.' }],
      schema: { name: 'numbers', jsonSchema: { type: 'object', additionalProperties: false, required: ['n'], properties: { n: { type: 'array', minItems: 300, maxItems: 300, items: { type: 'integer' } } } } },
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect([result.reason, result.detail]).toEqual(['retries-exhausted', expect.stringMatching(/timeout/)]);
    // The abandoned generation stops at its next token: the model is free again well before
    // the 300 integers could have been written.
    const next = await postWhenFree({ messages: [{ role: 'user', content: 'Say yes.' }], max_tokens: 2 });
    expect(next.status).toBe(200);
  }, 60_000);

  it('stops at max_tokens and says so (finish_reason length)', async () => {
    const response = await postWhenFree({ messages: [{ role: 'user', content: 'Count from one to one hundred in words.' }], max_tokens: 4 });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { choices: { finish_reason: string }[]; usage: { completion_tokens: number } };
    expect(body.choices[0]!.finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(4);
  }, 60_000);

  it('answers 400 to requests it cannot serve, naming what is wrong, and 404 to another model', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ messages: [] }, 400, /messages must be a non-empty array/],
      [{ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] }, 400, /must end with a user message/],
      [{ messages: [{ role: 'tool', content: 'x' }] }, 400, /role must be system, user or assistant/],
      [{ messages: [{ role: 'user', content: 'hi' }], stream: true }, 400, /stream is not supported/],
      [{ messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 }, 400, /max_tokens must be a positive integer/],
      [{ messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 400, /json_schema.schema must be an object/],
      [{ messages: [{ role: 'user', content: 'x '.repeat(5000) }] }, 400, /do not fit the local model's context/],
      [{ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, 404, /serves "SmolLM2-135M-Instruct-Q4_1"/],
    ];
    for (const [body, status, message] of cases) {
      const response = await post(body);
      const error = ((await response.json()) as { error: { message: string; type: string } }).error;
      expect([response.status, error.message], JSON.stringify(body).slice(0, 80)).toEqual([status, expect.stringMatching(message)]);
    }
    const notJson = await fetch(`${server.baseURL}/chat/completions`, { method: 'POST', body: '{"messages":' });
    expect(notJson.status).toBe(400);
    const tooLong = (await post({ messages: [{ role: 'user', content: 'x '.repeat(5000) }] }).then((r) => r.json())) as { error: { code: string } };
    // The client reads this code as "the prompt is too long": one rejected record, not a stopped run.
    expect(tooLong.error.code).toBe('context_length_exceeded');
    expect((await fetch(`${server.baseURL}/chat/completions`)).status).toBe(405);
    expect((await fetch(`${server.baseURL}/embeddings`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('answers 503 with retry-after while its queue is full, and a client that hangs up frees the model', async () => {
    // A grammar that forces a long answer: 300 integers, which the token limit (768) cuts at
    // about 30 s even at the ~25 tokens/s of a quiet core, so only a stopped generation frees
    // the model sooner.
    const long = { type: 'object', additionalProperties: false, required: ['n'], properties: { n: { type: 'array', minItems: 300, maxItems: 300, items: { type: 'integer' } } } };
    const hangUp = new AbortController();
    // Sent once the model is free (the requests before may still be stopping), then it holds the one place in the queue (maxQueue 1).
    expect((await postWhenFree({ messages: [{ role: 'user', content: 'Say yes.' }], max_tokens: 1 })).status).toBe(200);
    const first = post({ messages: [{ role: 'user', content: 'List numbers.' }], response_format: { type: 'json_schema', json_schema: { name: 'n', schema: long } } }, hangUp.signal).catch((error: Error) => error);
    await new Promise((r) => setTimeout(r, 1000));
    const busy = await post({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('2');
    expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('server_busy');
    hangUp.abort();
    expect(await first).toBeInstanceOf(Error);
    const started = performance.now();
    const next = await postWhenFree({ messages: [{ role: 'user', content: 'Say yes.' }], max_tokens: 3 });
    expect(next.status).toBe(200);
    expect(((await next.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBeLessThanOrEqual(3);
    expect(performance.now() - started).toBeLessThan(15_000);
  }, 120_000);
});
