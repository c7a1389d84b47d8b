// A fake OpenAI-compatible HTTP server for tests: real sockets, so the real `openai` client (its
// retries, timeouts and error classes) is exercised end to end. Embeddings are deterministic
// hash vectors; chat completions come from a handler the test sets; faults can be scripted.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeOpenAIOptions {
  /** When set, every request must carry `Authorization: Bearer <apiKey>`, else 401. */
  apiKey?: string;
  /** Length of `/v1/embeddings` vectors unless the request asks for `dimensions`. Default 64. */
  embeddingDimension?: number;
  /** Added before every answer, in ms. */
  latencyMs?: number;
  /** Answers `/v1/chat/completions`; default: echoes the last user message. */
  chat?: ChatHandler;
  /** Replaces or post-processes `/v1/embeddings` answers. */
  embeddings?: EmbeddingsHandler;
  /** Ids listed by `/v1/models`. */
  models?: readonly string[];
}

/** Any answer the server can give. */
export type FakeResponse =
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string>; delayMs?: number }
  /** Body sent verbatim, e.g. malformed or truncated JSON. */
  | { kind: 'raw'; status?: number; body: string; contentType?: string; headers?: Record<string, string>; delayMs?: number }
  /** OpenAI-style `{ error: { message, type, param, code } }`. */
  | {
      kind: 'error';
      status: number;
      message?: string;
      type?: string;
      code?: string | null;
      /** `retry-after` header, seconds. */
      retryAfter?: number;
      /** `retry-after-ms` header (honoured by the `openai` client). */
      retryAfterMs?: number;
      headers?: Record<string, string>;
      delayMs?: number;
    }
  /** Closes the connection without answering. */
  | { kind: 'hangup'; delayMs?: number }
  /**
   * Sends the status line, the headers and `body` (the start of an answer), then nothing more
   * until the server closes: a server that stalls after the headers.
   */
  | { kind: 'stall'; status?: number; headers?: Record<string, string>; body?: string; delayMs?: number };

/** Shorthand for `failNext`. */
export interface FakeFault {
  /** Default 500. */
  status?: number;
  retryAfter?: number;
  retryAfterMs?: number;
  message?: string;
  type?: string;
  code?: string | null;
  delayMs?: number;
  /** Send this body verbatim (with `status`, default 200) instead of an error JSON. */
  rawBody?: string;
  /** Close the connection without answering. */
  hangup?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/embeddings`. */
  path: string;
  /** Lower-case header names; the authorization value is replaced by `[redacted]`. */
  headers: Record<string, string>;
  /** Parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: unknown;
  /** Whether the bearer key matched (always true when no key is configured). */
  authorized: boolean;
}

export interface ChatMessage {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  response_format?: unknown;
  [key: string]: unknown;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ToolCallReply {
  id?: string;
  name: string;
  /** JSON text, as the API sends it. */
  arguments: string;
}

/** A successful chat answer, turned into a `chat.completion` (or SSE chunks when `stream`). */
export interface ChatReply {
  content?: string | null;
  /** Default `stop` (`tool_calls` when `toolCalls` is given). Use `length` for truncated output. */
  finishReason?: 'stop' | 'length' | 'content_filter' | 'tool_calls';
  refusal?: string | null;
  toolCalls?: readonly ToolCallReply[];
  /** Overrides the computed token counts; fields left out are estimated. */
  usage?: Partial<Usage> | null;
  model?: string;
  delayMs?: number;
}

export interface HandlerContext {
  /** 0-based count of calls to this endpoint that reached the handler. */
  callIndex: number;
  headers: Record<string, string>;
}

export type ChatHandler = (
  request: ChatCompletionRequest,
  context: HandlerContext,
) => string | ChatReply | FakeResponse | Promise<string | ChatReply | FakeResponse>;

export interface EmbeddingsRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  dimensions?: number;
  encoding_format?: 'float' | 'base64';
  [key: string]: unknown;
}

export interface EmbeddingsResponseBody {
  object: 'list';
  model: string;
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

/** Return a response to send, or undefined for the default answer. */
export type EmbeddingsHandler = (
  request: EmbeddingsRequest,
  context: HandlerContext & { defaultBody: () => EmbeddingsResponseBody },
) => FakeResponse | undefined | Promise<FakeResponse | undefined>;

export interface FakeOpenAI {
  /** Base URL ending in `/v1`, for `new OpenAI({ baseURL })`. */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  setChatHandler(handler: ChatHandler): void;
  setEmbeddingsHandler(handler: EmbeddingsHandler | undefined): void;
  setLatency(ms: number): void;
  /** The next `count` requests (to `path` when given, e.g. `/v1/embeddings`) get `fault`. */
  failNext(count: number, fault?: FakeFault, path?: string): void;
  /** The next `count` requests (to `path` when given) get `response`. */
  respondNext(count: number, response: FakeResponse, path?: string): void;
  /** Forgets recorded requests and scripted answers. */
  reset(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The deterministic unit vector the fake server returns for `text`. */
export function fakeEmbedding(text: string, dimension: number): number[] {
  let state = fnv1a(text) || 1;
  const v = new Array<number>(dimension);
  let norm = 0;
  for (let i = 0; i < dimension; i++) {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const x = (state >>> 0) / 0xffffffff - 0.5;
    v[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm) || 1;
  return v.map((x) => x / norm);
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function openAIError(status: number, message: string, type: string, code: string | null = null): FakeResponse {
  return { kind: 'error', status, message, type, code };
}

function isFakeResponse(value: unknown): value is FakeResponse {
  return typeof value === 'object' && value !== null && 'kind' in value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] = name === 'authorization' ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function faultToResponse(fault: FakeFault): FakeResponse {
  const delay = fault.delayMs !== undefined ? { delayMs: fault.delayMs } : {};
  if (fault.hangup) return { kind: 'hangup', ...delay };
  if (fault.rawBody !== undefined) return { kind: 'raw', status: fault.status ?? 200, body: fault.rawBody, ...delay };
  const status = fault.status ?? 500;
  const defaults: Record<number, [string, string]> = {
    401: ['Incorrect API key provided.', 'invalid_request_error'],
    429: ['Rate limit reached, please retry later.', 'requests'],
    500: ['The server had an error while processing your request.', 'server_error'],
    503: ['The engine is currently overloaded, please try again later.', 'server_error'],
  };
  const [message, type] = defaults[status] ?? [`Scripted failure with status ${status}.`, 'server_error'];
  return {
    kind: 'error',
    status,
    message: fault.message ?? message,
    type: fault.type ?? type,
    code: fault.code ?? null,
    ...(fault.retryAfter !== undefined ? { retryAfter: fault.retryAfter } : {}),
    ...(fault.retryAfterMs !== undefined ? { retryAfterMs: fault.retryAfterMs } : {}),
    ...delay,
  };
}

interface Scripted {
  remaining: number;
  response: FakeResponse;
  path: string | undefined;
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const scripted: Scripted[] = [];
  const sockets = new Set<Socket>();
  const sleepers = new Set<() => void>();
  const models = options.models ?? ['fake-chat', 'fake-embedding'];
  let chatHandler: ChatHandler | undefined = options.chat;
  let embeddingsHandler: EmbeddingsHandler | undefined = options.embeddings;
  let latencyMs = options.latencyMs ?? 0;
  let closed = false;
  let chatCalls = 0;
  let embeddingCalls = 0;
  let completionCounter = 0;

  const sleep = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            sleepers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, ms);
          sleepers.add(wake);
        });

  const send = async (res: ServerResponse, response: FakeResponse): Promise<void> => {
    if (response.delayMs) await sleep(response.delayMs);
    if (closed || res.destroyed || res.writableEnded) return;
    switch (response.kind) {
      case 'hangup':
        res.socket?.destroy();
        return;
      case 'stall':
        res.writeHead(response.status ?? 200, { 'content-type': 'application/json', ...response.headers });
        res.flushHeaders();
        if (response.body) res.write(response.body);
        return;
      case 'json': {
        const body = JSON.stringify(response.body);
        res.writeHead(response.status ?? 200, { 'content-type': 'application/json', ...response.headers });
        res.end(body);
        return;
      }
      case 'raw':
        res.writeHead(response.status ?? 200, { 'content-type': response.contentType ?? 'application/json', ...response.headers });
        res.end(response.body);
        return;
      case 'error': {
        const headers: Record<string, string> = { 'content-type': 'application/json', ...response.headers };
        if (response.retryAfter !== undefined) headers['retry-after'] = String(response.retryAfter);
        if (response.retryAfterMs !== undefined) headers['retry-after-ms'] = String(response.retryAfterMs);
        res.writeHead(response.status, headers);
        res.end(
          JSON.stringify({
            error: {
              message: response.message ?? `Error ${response.status}`,
              type: response.type ?? 'server_error',
              param: null,
              code: response.code ?? null,
            },
          }),
        );
        return;
      }
    }
  };

  const chatCompletion = (request: ChatCompletionRequest, reply: ChatReply): unknown => {
    const content = reply.content === undefined ? '' : reply.content;
    const toolCalls = reply.toolCalls?.map((call, i) => ({
      id: call.id ?? `call_${i}`,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
    const prompt = estimateTokens(JSON.stringify(request.messages));
    const completion = content === null ? 1 : estimateTokens(content);
    const usage =
      reply.usage === null
        ? undefined
        : {
            prompt_tokens: reply.usage?.prompt_tokens ?? prompt,
            completion_tokens: reply.usage?.completion_tokens ?? completion,
            total_tokens: reply.usage?.total_tokens ?? (reply.usage?.prompt_tokens ?? prompt) + (reply.usage?.completion_tokens ?? completion),
          };
    return {
      id: `chatcmpl-fake-${++completionCounter}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: reply.model ?? request.model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content,
            refusal: reply.refusal ?? null,
            ...(toolCalls ? { tool_calls: toolCalls } : {}),
          },
          logprobs: null,
          finish_reason: reply.finishReason ?? (toolCalls ? 'tool_calls' : 'stop'),
        },
      ],
      ...(usage ? { usage } : {}),
    };
  };

  /** Server-sent events in the shape of `stream: true` answers. */
  const sendStream = async (res: ServerResponse, request: ChatCompletionRequest, reply: ChatReply): Promise<void> => {
    const full = chatCompletion(request, reply) as {
      id: string;
      created: number;
      model: string;
      choices: { finish_reason: string; message: { content: string | null } }[];
      usage?: Usage;
    };
    const base = { id: full.id, object: 'chat.completion.chunk', created: full.created, model: full.model };
    const content = full.choices[0]?.message.content ?? '';
    const chunks: unknown[] = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }];
    for (let i = 0; i < content.length; i += 16) {
      chunks.push({ ...base, choices: [{ index: 0, delta: { content: content.slice(i, i + 16) }, finish_reason: null }] });
    }
    chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: full.choices[0]?.finish_reason ?? 'stop' }] });
    const streamOptions = request['stream_options'];
    if (isObject(streamOptions) && streamOptions['include_usage'] === true && full.usage) {
      chunks.push({ ...base, choices: [], usage: full.usage });
    }
    if (reply.delayMs) await sleep(reply.delayMs);
    if (closed || res.destroyed) return;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const chunk of chunks) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    res.end('data: [DONE]\n\n');
  };

  const handleChat = async (res: ServerResponse, body: unknown, headers: Record<string, string>): Promise<void> => {
    if (!isObject(body) || typeof body['model'] !== 'string' || !Array.isArray(body['messages'])) {
      await send(res, openAIError(400, 'Expected a JSON body with `model` (string) and `messages` (array).', 'invalid_request_error'));
      return;
    }
    const request = body as ChatCompletionRequest;
    const context: HandlerContext = { callIndex: chatCalls++, headers };
    const handler: ChatHandler =
      chatHandler ??
      ((r) => {
        const lastUser = [...r.messages].reverse().find((m) => m.role === 'user');
        return `echo: ${typeof lastUser?.content === 'string' ? lastUser.content : JSON.stringify(lastUser?.content ?? null)}`;
      });
    const reply = await handler(request, context);
    if (isFakeResponse(reply)) {
      await send(res, reply);
      return;
    }
    const chatReply: ChatReply = typeof reply === 'string' ? { content: reply } : reply;
    if (request.stream === true) {
      await sendStream(res, request, chatReply);
      return;
    }
    await send(res, { kind: 'json', body: chatCompletion(request, chatReply), ...(chatReply.delayMs ? { delayMs: chatReply.delayMs } : {}) });
  };

  const handleEmbeddings = async (res: ServerResponse, body: unknown, headers: Record<string, string>): Promise<void> => {
    if (!isObject(body) || typeof body['model'] !== 'string' || body['input'] === undefined) {
      await send(res, openAIError(400, 'Expected a JSON body with `model` and `input`.', 'invalid_request_error'));
      return;
    }
    const raw = body['input'];
    let inputs: string[];
    if (typeof raw === 'string') inputs = [raw];
    else if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) inputs = raw as string[];
    else if (Array.isArray(raw) && raw.every((x) => typeof x === 'number')) inputs = [JSON.stringify(raw)];
    else if (Array.isArray(raw) && raw.every((x) => Array.isArray(x))) inputs = raw.map((x) => JSON.stringify(x));
    else {
      await send(res, openAIError(400, "'$.input' is invalid.", 'invalid_request_error'));
      return;
    }
    if (inputs.length === 0 || inputs.some((t) => t.length === 0)) {
      // The real API rejects empty inputs too.
      await send(res, openAIError(400, "'$.input' is invalid. Please check the API reference.", 'invalid_request_error'));
      return;
    }
    const dimensions = body['dimensions'];
    const dimension = typeof dimensions === 'number' && Number.isInteger(dimensions) && dimensions > 0 ? dimensions : (options.embeddingDimension ?? 64);
    const base64 = body['encoding_format'] === 'base64';
    const request = body as EmbeddingsRequest;
    const defaultBody = (): EmbeddingsResponseBody => {
      const tokens = inputs.reduce((sum, t) => sum + estimateTokens(t), 0);
      return {
        object: 'list',
        model: request.model,
        data: inputs.map((text, index) => {
          const vector = fakeEmbedding(text, dimension);
          const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
          return { object: 'embedding' as const, index, embedding };
        }),
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
    };
    const context = { callIndex: embeddingCalls++, headers, defaultBody };
    const custom = embeddingsHandler ? await embeddingsHandler(request, context) : undefined;
    await send(res, custom ?? { kind: 'json', body: defaultBody() });
  };

  const route = async (req: IncomingMessage, res: ServerResponse, path: string, body: unknown, headers: Record<string, string>): Promise<void> => {
    const method = req.method ?? 'GET';
    if (path === '/v1/embeddings' || path === '/v1/chat/completions') {
      if (method !== 'POST') {
        await send(res, openAIError(405, `Method ${method} not allowed on ${path}.`, 'invalid_request_error'));
        return;
      }
      if (body === undefined || typeof body === 'string') {
        await send(res, openAIError(400, 'We could not parse the JSON body of your request.', 'invalid_request_error'));
        return;
      }
      await (path === '/v1/embeddings' ? handleEmbeddings(res, body, headers) : handleChat(res, body, headers));
      return;
    }
    if (method === 'GET' && path === '/v1/models') {
      await send(res, { kind: 'json', body: { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })) } });
      return;
    }
    if (method === 'GET' && path.startsWith('/v1/models/')) {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      await send(
        res,
        models.includes(id)
          ? { kind: 'json', body: { id, object: 'model', created: 0, owned_by: 'fake' } }
          : openAIError(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found'),
      );
      return;
    }
    await send(res, openAIError(404, `Unknown request URL: ${method} ${path}.`, 'invalid_request_error', 'unknown_url'));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    if (text.length > 0) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const headers = flattenHeaders(req);
    const authorized = options.apiKey === undefined || req.headers.authorization === `Bearer ${options.apiKey}`;
    requests.push({ method: req.method ?? 'GET', path, headers, body, authorized });

    await sleep(latencyMs);
    if (!authorized) {
      await send(res, openAIError(401, 'Incorrect API key provided. You can find your API key in your account settings.', 'invalid_request_error', 'invalid_api_key'));
      return;
    }
    const queued = scripted.find((s) => s.path === undefined || s.path === path);
    if (queued) {
      if (--queued.remaining <= 0) scripted.splice(scripted.indexOf(queued), 1);
      await send(res, queued.response);
      return;
    }
    await route(req, res, path, body, headers);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(async (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      await send(res, openAIError(500, `fake server handler threw: ${message}`, 'server_error')).catch(() => undefined);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    setChatHandler(handler) {
      chatHandler = handler;
    },
    setEmbeddingsHandler(handler) {
      embeddingsHandler = handler;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    failNext(count, fault = {}, path) {
      if (count > 0) scripted.push({ remaining: count, response: faultToResponse(fault), path });
    },
    respondNext(count, response, path) {
      if (count > 0) scripted.push({ remaining: count, response, path });
    },
    reset() {
      requests.length = 0;
      scripted.length = 0;
      chatCalls = 0;
      embeddingCalls = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const wake of [...sleepers]) wake();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}
