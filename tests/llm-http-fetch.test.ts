// The LLM client's fetch (node:http with keep-alive, whole answers): what the openai SDK reads
// from it must be what Node's fetch would give, and what it cannot do it hands to Node's fetch.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpFetch } from '../llm/http-fetch.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

describe('createHttpFetch', () => {
  let server: Server;
  let base: string;
  let handler: Handler;
  let connections: number;
  beforeEach(async () => {
    connections = 0;
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => handler(req, body, res));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends method, headers and body in one request and gives back status, headers and body; sockets are kept alive', async () => {
    handler = (req, body, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-echo-method': req.method!, 'x-echo-auth': req.headers.authorization ?? '' });
      res.end(JSON.stringify({ got: JSON.parse(body), length: req.headers['content-length'], chunked: req.headers['transfer-encoding'] ?? null }));
    };
    const fetch = createHttpFetch();
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: new Headers({ authorization: 'Bearer k', 'content-type': 'application/json' }), body: JSON.stringify({ n: i, text: 'é' }) });
      expect(response.status).toBe(201);
      expect(response.headers.get('x-echo-method')).toBe('POST');
      expect(response.headers.get('x-echo-auth')).toBe('Bearer k');
      // Content-Length in bytes, not characters: no chunked encoding some servers refuse.
      expect(await response.json()).toEqual({ got: { n: i, text: 'é' }, length: String(Buffer.byteLength(JSON.stringify({ n: i, text: 'é' }))), chunked: null });
    }
    expect(connections).toBe(1);
  });

  it('decompresses an answer the server compressed anyway', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ ok: true })));
    };
    expect(await (await createHttpFetch()(`${base}/x`)).json()).toEqual({ ok: true });
  });

  it('an error status keeps its body and headers (the SDK reads the error and retry-after from them)', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '250' });
      res.end(JSON.stringify({ error: { message: 'slow down' } }));
    };
    const response = await createHttpFetch()(`${base}/x`);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after-ms')).toBe('250');
    expect(await response.json()).toEqual({ error: { message: 'slow down' } });
  });

  it('an abort while the body stalls rejects with an AbortError and closes the connection', async () => {
    let closed = false;
    handler = (req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"choices": [');
      req.socket.on('close', () => (closed = true));
    };
    const controller = new AbortController();
    const pending = createHttpFetch()(`${base}/x`, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true);
  });

  it('a connection closed before the answer is complete, or an answer over the cap, is an error', async () => {
    handler = (req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"choices": [');
      setTimeout(() => req.socket.destroy(), 20);
    };
    await expect(createHttpFetch()(`${base}/x`)).rejects.toThrow(/before the answer was complete|aborted|socket hang up/);
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('x'.repeat(5_000));
    };
    await expect(createHttpFetch({ maxAnswerBytes: 1_000 })(`${base}/x`)).rejects.toThrow(/larger than 1000 bytes/);
  });

  it('follows a redirect through Node’s fetch', async () => {
    handler = (req, _body, res) => {
      if (req.url === '/old') {
        res.writeHead(307, { location: '/new' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ at: req.url, method: req.method }));
    };
    const response = await createHttpFetch()(`${base}/old`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(await response.json()).toEqual({ at: '/new', method: 'POST' });
  });
});
