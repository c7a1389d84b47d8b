// The local model as an OpenAI-compatible endpoint on 127.0.0.1: the subset of the chat
// completions API treesynth's client speaks (messages, response_format json_schema, max_tokens,
// temperature, seed) and `GET /v1/models`. Requests wait their turn for the one model up to
// `maxQueue`; past it the server answers 503 with retry-after, which the client paces on. A
// request whose client hangs up (its deadline passed) stops generating at the next token; until
// it has stopped it still holds its place.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalModelRequestError, type LocalCompletion, type LocalCompletionRequest, type LocalMessage } from './local-model.js';

/** What the server needs of a model (LocalModel). */
export interface ServedModel {
  readonly id: string;
  complete(request: LocalCompletionRequest): Promise<LocalCompletion>;
}

export interface ModelServerOptions {
  /** Default 127.0.0.1: the server has no key and is for this machine. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Requests waiting or running at most; the next is answered 503. Default 4. */
  maxQueue?: number;
  /** Largest request body, bytes. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Called once per answered completion (for a log line). */
  onCompletion?: (info: { status: number; ms: number; completionTokens: number }) => void;
}

export interface ModelServer {
  /** `http://host:port/v1`, for OPENAI_BASE_URL. */
  readonly baseURL: string;
  readonly port: number;
  close(): Promise<void>;
}

/** An HTTP answer that is an error, OpenAI-shaped. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const bad = (message: string, code: string | null = null) => new HttpError(400, message, 'invalid_request_error', code);

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `request body over ${limit} bytes`, 'invalid_request_error'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolvePromise(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function messageText(content: unknown, at: string): string {
  if (typeof content === 'string') return content;
  // The array form: only text parts; this model reads nothing else.
  if (Array.isArray(content) && content.every((p) => isRecord(p) && p['type'] === 'text' && typeof p['text'] === 'string')) {
    return content.map((p) => (p as { text: string }).text).join('');
  }
  throw bad(`${at}.content must be a string or an array of text parts`, 'invalid_value');
}

/** The request body as a LocalCompletionRequest, or a 400 naming the first thing wrong. */
export function parseChatRequest(body: unknown, modelId: string): Omit<LocalCompletionRequest, 'signal'> {
  if (!isRecord(body)) throw bad('the body must be a JSON object');
  if (body['model'] !== undefined && body['model'] !== modelId) {
    throw new HttpError(404, `model ${JSON.stringify(body['model'])} is not served here; this endpoint serves "${modelId}"`, 'invalid_request_error', 'model_not_found');
  }
  if (body['stream'] === true) throw bad('stream is not supported', 'unsupported_value');
  if (body['n'] !== undefined && body['n'] !== 1) throw bad('n must be 1', 'unsupported_value');
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) throw bad('messages must be a non-empty array', 'invalid_value');
  const parsed: LocalMessage[] = messages.map((m, i) => {
    if (!isRecord(m)) throw bad(`messages[${i}] must be an object`, 'invalid_value');
    const role = m['role'] === 'developer' ? 'system' : m['role'];
    if (role !== 'system' && role !== 'user' && role !== 'assistant') throw bad(`messages[${i}].role must be system, user or assistant`, 'invalid_value');
    return { role, content: messageText(m['content'], `messages[${i}]`) };
  });
  const request: Omit<LocalCompletionRequest, 'signal'> = { messages: parsed };
  const format = body['response_format'];
  if (format !== undefined && format !== null) {
    if (!isRecord(format)) throw bad('response_format must be an object', 'invalid_value');
    if (format['type'] === 'json_schema') {
      const spec = format['json_schema'];
      if (!isRecord(spec) || !isRecord(spec['schema'])) throw bad('response_format.json_schema.schema must be an object', 'invalid_value');
      request.schema = spec['schema'];
    } else if (format['type'] !== 'text') {
      throw bad(`response_format.type ${JSON.stringify(format['type'])} is not supported (json_schema or text)`, 'unsupported_value');
    }
  }
  const maxTokens = body['max_completion_tokens'] ?? body['max_tokens'];
  if (maxTokens !== undefined && maxTokens !== null) {
    if (!Number.isInteger(maxTokens) || (maxTokens as number) < 1) throw bad('max_tokens must be a positive integer', 'invalid_value');
    request.maxTokens = maxTokens as number;
  }
  const temperature = body['temperature'];
  if (temperature !== undefined && temperature !== null) {
    if (typeof temperature !== 'number' || !(temperature >= 0 && temperature <= 2)) throw bad('temperature must be a number in [0, 2]', 'invalid_value');
    request.temperature = temperature;
  }
  const seed = body['seed'];
  if (seed !== undefined && seed !== null) {
    if (!Number.isSafeInteger(seed)) throw bad('seed must be an integer', 'invalid_value');
    request.seed = seed as number;
  }
  return request;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: HttpError): void {
  send(res, error.status, { error: { message: error.message, type: error.type, code: error.code, param: null } }, error.headers);
}

export async function startModelServer(model: ServedModel, options: ModelServerOptions = {}): Promise<ModelServer> {
  const host = options.host ?? '127.0.0.1';
  const maxQueue = options.maxQueue ?? 4;
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const created = Math.floor(Date.now() / 1000);
  let served = 0;
  let inFlight = 0;

  const completion = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, maxBodyBytes));
    } catch (error) {
      throw error instanceof HttpError ? error : bad(`the body is not JSON: ${(error as Error).message}`);
    }
    // A request that can never be served is told so (400) even while the model is busy.
    const request = parseChatRequest(body, model.id);
    if (inFlight >= maxQueue) {
      throw new HttpError(503, `the local model is busy (${inFlight} requests waiting or running, at most ${maxQueue})`, 'server_error', 'server_busy', { 'retry-after': '2' });
    }
    inFlight++;
    try {
      await answer(request, res);
    } finally {
      inFlight--;
    }
  };

  const answer = async (request: Omit<LocalCompletionRequest, 'signal'>, res: ServerResponse): Promise<void> => {
    const hangUp = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) hangUp.abort(new Error('the client hung up'));
    });
    const started = performance.now();
    let completed: LocalCompletion;
    try {
      completed = await model.complete({ ...request, signal: hangUp.signal });
    } catch (error) {
      if (hangUp.signal.aborted) return;
      if (error instanceof LocalModelRequestError) throw bad(error.message, error.code);
      throw error;
    }
    served++;
    options.onCompletion?.({ status: 200, ms: performance.now() - started, completionTokens: completed.completionTokens });
    send(res, 200, {
      id: `chatcmpl-local-${served}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      choices: [{ index: 0, message: { role: 'assistant', content: completed.text }, finish_reason: completed.finishReason, logprobs: null }],
      usage: { prompt_tokens: completed.promptTokens, completion_tokens: completed.completionTokens, total_tokens: completed.promptTokens + completed.completionTokens },
    });
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://local').pathname.replace(/\/+$/, '');
    const route = async () => {
      if (path === '/v1/models' || path === '/models') {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET', 'invalid_request_error', null, { allow: 'GET' });
        send(res, 200, { object: 'list', data: [{ id: model.id, object: 'model', created, owned_by: 'treesynth-local' }] });
        return;
      }
      if (path === '/v1/chat/completions' || path === '/chat/completions') {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST', 'invalid_request_error', null, { allow: 'POST' });
        await completion(req, res);
        return;
      }
      throw new HttpError(404, `no route ${req.method} ${path} (this server has /v1/models and /v1/chat/completions)`, 'invalid_request_error', 'not_found');
    };
    route().catch((error: unknown) => {
      if (error instanceof HttpError) sendError(res, error);
      else sendError(res, new HttpError(500, `the local model failed: ${(error as Error).message?.split('\n')[0] ?? String(error)}`, 'server_error'));
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
    port,
    close: () =>
      new Promise<void>((resolvePromise) => {
        server.close(() => resolvePromise());
        server.closeAllConnections();
      }),
  };
}
