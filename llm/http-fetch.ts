// The `fetch` the LLM client gives the openai SDK: node:http(s) with keep-alive sockets, the
// request written in one go, the whole answer read before it resolves. Node's own fetch sends
// even a string body as an async iterable of chunks and reads answers through web streams:
// measured against the fake endpoint, it took twice the CPU per chat completion (1.2-1.3 ms
// against 0.6-0.7 ms), and at C = 64 and L = 200 ms the client's one thread is what runs out.
// Anything this does not cover (a body that is a stream or a form, a redirect) goes to
// Node's fetch unchanged.
import http from 'node:http';
import https from 'node:https';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';

/** Answers larger than this are refused by default: a chat completion is kilobytes, not gigabytes. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** Statuses whose Response may not have a body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return new DOMException('This operation was aborted', 'AbortError');
}

function decoded(res: http.IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') return res.pipe(createGunzip());
  if (encoding === 'deflate') return res.pipe(createInflate());
  if (encoding === 'br') return res.pipe(createBrotliDecompress());
  return res;
}

/** A fetch over keep-alive node:http(s) agents of its own; one per client. */
export function createHttpFetch(options: { maxAnswerBytes?: number } = {}): typeof fetch {
  const maxAnswerBytes = options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const fallback = globalThis.fetch;
  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body;
    if (input instanceof Request || (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array))) return fallback(input, init);
    const url = new URL(input);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fallback(input, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw abortError(signal);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    if (body !== undefined && body !== null && headers['content-length'] === undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const secure = url.protocol === 'https:';
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        reject(signal?.aborted ? abortError(signal) : error);
      };
      const request = (secure ? https : http).request(url, { method: init.method ?? 'GET', headers, agent: secure ? agents.https : agents.http }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          // Redirects are rare here and fetch knows their rules: let it follow this one.
          res.resume();
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          fallback(input, init).then(resolve, reject);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const stream = decoded(res);
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxAnswerBytes) {
            request.destroy();
            fail(new Error(`answer larger than ${maxAnswerBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        stream.on('error', fail);
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error('connection closed before the answer was complete'));
        });
        stream.on('end', () => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          const answerHeaders = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) answerHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          try {
            resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: answerHeaders }));
          } catch (error) {
            reject(error);
          }
        });
      });
      const onAbort = (): void => {
        request.destroy();
        fail(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      request.on('error', fail);
      request.end(body ?? undefined);
    });
  }) as typeof fetch;
}
