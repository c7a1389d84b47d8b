// Adaptive concurrency: the limiter on its own (deterministic), then through the client against
// the fake server: fixed concurrency keeps C requests in flight; the adaptive limit rises under
// fast successes and falls on 429s and on latency growth (servers like vLLM never send 429).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdaptiveLimiter, LlmClient, backoffDelay, retryAfterMs, type JsonSchemaSpec, type Permit } from '../llm/index.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';

const SCHEMA: JsonSchemaSpec = {
  name: 'answer',
  jsonSchema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
};

/** Takes `n` permits at once (the limit must allow it). */
async function takeAll(limiter: AdaptiveLimiter, n: number): Promise<Permit[]> {
  return Promise.all(Array.from({ length: n }, () => limiter.acquire()));
}

describe('AdaptiveLimiter', () => {
  it('with min = max it is a fixed FIFO semaphore', async () => {
    const limiter = new AdaptiveLimiter({ initial: 3, min: 3, max: 3 });
    const order: number[] = [];
    const held = await takeAll(limiter, 3);
    const queued = [0, 1, 2, 3].map((i) => limiter.acquire().then((p) => (order.push(i), p)));
    expect(limiter.inFlight).toBe(3);
    expect(limiter.waiting).toBe(4);
    held.forEach((p) => p.release({ kind: 'success', latencyMs: 1 }));
    const next = await Promise.all(queued.slice(0, 3));
    expect(order).toEqual([0, 1, 2]);
    expect(limiter.inFlight).toBe(3);
    next[0]!.release({ kind: 'neutral' });
    next[0]!.release({ kind: 'neutral' }); // idempotent
    const last = await queued[3]!;
    expect(limiter.inFlight).toBe(3);
    [...next.slice(1), last].forEach((p) => p.release({ kind: 'overload' }));
    expect(limiter.limit).toBe(3);
    expect(limiter.inFlight).toBe(0);
  });

  it('raises the limit by one per window of saturated successes, up to max', async () => {
    const limiter = new AdaptiveLimiter({ initial: 2, min: 1, max: 5, successesPerIncrease: 4 });
    for (let round = 0; round < 20; round++) {
      const permits = await takeAll(limiter, limiter.limit);
      permits.forEach((p) => p.release({ kind: 'success', latencyMs: 10 }));
    }
    expect(limiter.limit).toBe(5);
    expect(limiter.snapshot()).toMatchObject({ peakLimit: 5, peakInFlight: 5, decreases: 0 });
  });

  it('does not raise the limit when callers never fill it', async () => {
    const limiter = new AdaptiveLimiter({ initial: 8, min: 1, max: 16, successesPerIncrease: 2 });
    for (let i = 0; i < 50; i++) (await limiter.acquire()).release({ kind: 'success', latencyMs: 10 });
    expect(limiter.limit).toBe(8);
  });

  it('cuts multiplicatively on overload, once per round trip', async () => {
    const limiter = new AdaptiveLimiter({ initial: 16, min: 2, max: 16, decreaseFactor: 0.5 });
    const burst = await takeAll(limiter, 16);
    // 16 requests of the same moment all get a 429: one cut, not sixteen.
    burst.forEach((p) => p.release({ kind: 'overload' }));
    expect(limiter.limit).toBe(8);
    // Requests started after the cut are new evidence.
    const next = await takeAll(limiter, 8);
    next[0]!.release({ kind: 'overload' });
    expect(limiter.limit).toBe(4);
    next.slice(1).forEach((p) => p.release({ kind: 'overload' }));
    expect(limiter.limit).toBe(4);
    for (let i = 0; i < 5; i++) (await limiter.acquire()).release({ kind: 'overload' });
    expect(limiter.limit).toBe(2);
    expect(limiter.snapshot().decreases).toBe(3);
  });

  it('cuts when latency rises well above its baseline, without any error', async () => {
    const limiter = new AdaptiveLimiter({ initial: 8, min: 1, max: 8, latencyTolerance: 1.5, minLatencySamples: 5 });
    for (let i = 0; i < 20; i++) {
      const permits = await takeAll(limiter, limiter.limit);
      permits.forEach((p) => p.release({ kind: 'success', latencyMs: 100 }));
    }
    expect(limiter.limit).toBe(8);
    for (let i = 0; i < 10; i++) {
      const permits = await takeAll(limiter, limiter.limit);
      permits.forEach((p) => p.release({ kind: 'success', latencyMs: 400 }));
    }
    expect(limiter.limit).toBeLessThan(8);
    const s = limiter.snapshot();
    expect(s.recentLatencyMs!).toBeGreaterThan(s.baselineLatencyMs! * 1.5);
  });

  it('a queued caller leaves the queue when its signal aborts; rejectWaiting releases everyone', async () => {
    const limiter = new AdaptiveLimiter({ initial: 1, min: 1, max: 1 });
    const held = await limiter.acquire();
    const controller = new AbortController();
    const aborted = limiter.acquire([controller.signal]);
    const other = limiter.acquire();
    controller.abort(new Error('cancelled'));
    await expect(aborted).rejects.toThrow('cancelled');
    expect(limiter.waiting).toBe(1);
    limiter.rejectWaiting(new Error('stopped'));
    await expect(other).rejects.toThrow('stopped');
    held.release({ kind: 'neutral' });
    expect(limiter.inFlight).toBe(0);
    await expect(limiter.acquire([AbortSignal.abort(new Error('already'))])).rejects.toThrow('already');
  });

  it('rejects nonsense bounds', () => {
    expect(() => new AdaptiveLimiter({ initial: 1, min: 0, max: 1 })).toThrow(/min/);
    expect(() => new AdaptiveLimiter({ initial: 1, min: 4, max: 2 })).toThrow(/max/);
    expect(new AdaptiveLimiter({ initial: 100, min: 1, max: 10 }).limit).toBe(10);
  });
});

describe('backoff', () => {
  it('uses full jitter under an exponential ceiling, and the server wait when given', () => {
    const tuning = { baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 5_000 };
    expect(backoffDelay(0, tuning, undefined, () => 0.999)).toBe(99);
    expect(backoffDelay(3, tuning, undefined, () => 0.5)).toBe(400);
    expect(backoffDelay(10, tuning, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(2, tuning, undefined, () => 0)).toBe(0);
    expect(backoffDelay(5, tuning, 0, () => 0.9)).toBe(0);
    expect(backoffDelay(5, tuning, 60_000, () => 0.9)).toBe(5_000);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2_000);
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4_000)).toBe(6_000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });
});

describe('concurrency through the client, against the fake server', () => {
  let server: FakeOpenAI;
  beforeEach(async () => {
    server = await startFakeOpenAI({ chat: (_r, { callIndex }) => JSON.stringify({ n: callIndex }) });
  });
  afterEach(async () => {
    await server.close();
  });

  const client = (limiter: AdaptiveLimiter): LlmClient =>
    new LlmClient({ baseURL: server.url, apiKey: 'k', model: 'fake-chat', timeoutMs: 10_000, maxRetries: 6 }, { limiter, retry: { baseDelayMs: 1, maxDelayMs: 5 } });

  const run = (c: LlmClient, n: number, tag: string): Promise<unknown[]> =>
    Promise.all(Array.from({ length: n }, (_, i) => c.complete({ messages: [{ role: 'user', content: `${tag} ${i}` }], schema: SCHEMA })));

  it('with a fixed latency L and concurrency C, N calls keep C in flight and take about N·L/C', async () => {
    const L = 40;
    const C = 4;
    const N = 24;
    server.setLatency(L);
    const limiter = new AdaptiveLimiter({ initial: C, min: C, max: C });
    const started = performance.now();
    const results = await run(client(limiter), N, 'fixed');
    const elapsed = performance.now() - started;
    expect(results).toHaveLength(N);
    expect(limiter.snapshot().peakInFlight).toBe(C);
    const bound = (N * L) / C;
    expect(elapsed).toBeGreaterThanOrEqual(bound * 0.9);
    expect(elapsed).toBeLessThan(bound * 4);
  });

  it('rises under fast successes, falls on 429s, and falls when latency grows', async () => {
    server.setLatency(10);
    const limiter = new AdaptiveLimiter({ initial: 2, min: 1, max: 16, successesPerIncrease: 3, latencyTolerance: 2 });
    const c = client(limiter);
    await run(c, 150, 'warm');
    const risen = limiter.limit;
    expect(risen).toBeGreaterThan(8);

    // Every request gets a 429 for a while: each wave of retries (a new round trip) cuts once.
    server.failNext(40, { status: 429, retryAfter: 0 }, '/v1/chat/completions');
    await run(c, 8, 'throttled');
    expect(limiter.snapshot().decreases).toBeGreaterThanOrEqual(2);
    expect(limiter.limit).toBeLessThan(risen / 2);

    // Let it climb again, then make the server slow: no error at all, only latency.
    await run(c, 150, 'recover');
    const beforeSlow = limiter.limit;
    const decreasesBefore = limiter.snapshot().decreases;
    server.setLatency(150);
    await run(c, 20, 'slow');
    expect(limiter.snapshot().decreases).toBeGreaterThan(decreasesBefore);
    expect(limiter.limit).toBeLessThan(beforeSlow);
  });
});
