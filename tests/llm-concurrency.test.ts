// Adaptive concurrency: the limiter on its own (deterministic), then through the client against
// the fake server. It starts at the configured concurrency; a fault rate (not a fault) or
// latency growth (servers like vLLM never send 429) brings it down, once per round trip; a
// server's retry-after pauses the whole endpoint.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdaptiveLimiter, LlmClient, backoffDelay, retryAfterMs, type JsonSchemaSpec, type Permit } from '../llm/index.js';
import { seededRandom } from '../lib/random.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';

const SCHEMA: JsonSchemaSpec = {
  name: 'answer',
  jsonSchema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
};

/** Takes `n` permits at once (the limit must allow it). */
async function takeAll(limiter: AdaptiveLimiter, n: number): Promise<Permit[]> {
  return Promise.all(Array.from({ length: n }, () => limiter.acquire()));
}

/** Keeps the limiter full for `rounds` round trips; each request is a fault with probability `faultRate`. */
async function traffic(limiter: AdaptiveLimiter, rounds: number, faultRate: number, random: () => number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const permits = await takeAll(limiter, limiter.limit);
    for (const p of permits) p.release(random() < faultRate ? { kind: 'overload' } : { kind: 'success', latencyMs: 100 });
  }
}

describe('AdaptiveLimiter', () => {
  it('starts at the configured concurrency; with min = max it is a fixed FIFO semaphore', async () => {
    expect(new AdaptiveLimiter({ max: 64 }).limit).toBe(64);
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

  it('below max, climbs by one per window of saturated successes, up to max', async () => {
    const limiter = new AdaptiveLimiter({ initial: 2, min: 1, max: 5, successesPerIncrease: 4 });
    await traffic(limiter, 20, 0, Math.random);
    expect(limiter.limit).toBe(5);
    expect(limiter.snapshot()).toMatchObject({ peakLimit: 5, peakInFlight: 5, decreases: 0 });
  });

  it('does not raise the limit when callers never fill it', async () => {
    const limiter = new AdaptiveLimiter({ initial: 8, min: 1, max: 16, successesPerIncrease: 2 });
    for (let i = 0; i < 50; i++) (await limiter.acquire()).release({ kind: 'success', latencyMs: 10 });
    expect(limiter.limit).toBe(8);
  });

  it('a single fault, or a quarter of the requests failing at random, does not cut the limit', async () => {
    const limiter = new AdaptiveLimiter({ max: 16 });
    (await limiter.acquire()).release({ kind: 'overload' });
    expect(limiter.limit).toBe(16);
    // 160 round trips, 2,560 requests, 25 % of them 429/5xx: retried, not a reason to slow down.
    await traffic(limiter, 160, 0.25, seededRandom(7));
    expect(limiter.limit).toBe(16);
    expect(limiter.snapshot().faultCuts).toBe(0);
    expect(limiter.snapshot().recentFaultRate).toBeGreaterThan(0.1);
  });

  it('a burst of 429s cuts once per round trip, not once per fault, down to min while it lasts', async () => {
    const limiter = new AdaptiveLimiter({ max: 16, min: 2 });
    const burst = await takeAll(limiter, 16);
    // 16 requests of the same congested moment all get a 429: one cut, not sixteen.
    burst.forEach((p) => p.release({ kind: 'overload' }));
    expect(limiter.limit).toBe(8);
    expect(limiter.snapshot().decreases).toBe(1);
    // Requests started after the cut are new evidence: the storm goes on, the limit keeps falling.
    await traffic(limiter, 1, 1, Math.random);
    expect(limiter.limit).toBe(4);
    await traffic(limiter, 4, 1, Math.random);
    expect(limiter.limit).toBe(2);
    await traffic(limiter, 10, 1, Math.random);
    expect(limiter.limit).toBe(2);
    expect(limiter.snapshot()).toMatchObject({ faultCuts: 3, latencyCuts: 0 });
  });

  it('cuts when the fault rate rises clearly above the tolerated one, and climbs back when it falls', async () => {
    const limiter = new AdaptiveLimiter({ max: 16, successesPerIncrease: 5 });
    const random = seededRandom(11);
    await traffic(limiter, 10, 0.7, random);
    expect(limiter.snapshot().faultCuts).toBeGreaterThan(0);
    const cut = limiter.limit;
    expect(cut).toBeLessThan(16);
    // The storm passes; a quarter of faults remain: the limit climbs back all the same.
    await traffic(limiter, 80, 0.25, random);
    expect(limiter.limit).toBe(16);
  });

  it('cuts when latency rises well above its baseline, without any error, by a tenth per round trip', async () => {
    const limiter = new AdaptiveLimiter({ max: 8, latencyTolerance: 1.5 });
    const wave = async (latencyMs: number) => (await takeAll(limiter, limiter.limit)).forEach((p) => p.release({ kind: 'success', latencyMs }));
    for (let i = 0; i < 20; i++) await wave(100);
    expect(limiter.limit).toBe(8);
    await wave(400);
    expect(limiter.snapshot()).toMatchObject({ limit: 7, latencyCuts: 1 });
    // The queue keeps growing: cut again every round trip.
    for (let i = 0; i < 3; i++) await wave(800 + 400 * i);
    expect(limiter.snapshot().latencyCuts).toBe(4);
    expect(limiter.limit).toBeLessThan(7);
    const { fastestMs, baselineMs } = limiter.snapshot().latency['']!;
    expect(fastestMs!).toBeGreaterThan(baselineMs! * 1.5);
  });

  it("judges latency by each round trip's fastest answer: the client's own busy moments delay some answers, a server's queue all", async () => {
    const limiter = new AdaptiveLimiter({ max: 8 });
    const wave = async (latencies: (i: number) => number) => (await takeAll(limiter, 8)).forEach((p, i) => p.release({ kind: 'success', latencyMs: latencies(i) }));
    for (let i = 0; i < 10; i++) await wave(() => 100);
    // Seven of eight answers waited 300 ms for a busy client; one was handled at once.
    for (let i = 0; i < 10; i++) await wave((j) => (j === 0 ? 110 : 400));
    expect(limiter.snapshot()).toMatchObject({ limit: 8, latencyCuts: 0 });
    await wave(() => 400);
    expect(limiter.snapshot().latencyCuts).toBe(1);
  });

  it('compares each kind of request with its own baseline: a stage with longer answers is not a slower server', async () => {
    const limiter = new AdaptiveLimiter({ max: 8 });
    const wave = async (latencyMs: number, latencyKey: string) => (await takeAll(limiter, 8)).forEach((p) => p.release({ kind: 'success', latencyMs, latencyKey }));
    for (let i = 0; i < 10; i++) await wave(100, 'extract');
    for (let i = 0; i < 10; i++) await wave(2_000, 'generate');
    expect(limiter.snapshot()).toMatchObject({ limit: 8, latencyCuts: 0 });
    expect(limiter.snapshot().latency).toMatchObject({ extract: { fastestMs: 100 }, generate: { fastestMs: 2_000 } });
  });

  describe('a pause (retry-after)', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('holds every new request until it has passed; requests on the wire are untouched', async () => {
      const limiter = new AdaptiveLimiter({ max: 4, now: () => Date.now() });
      const onTheWire = await limiter.acquire();
      limiter.pause(1_000);
      limiter.pause(200); // a shorter one does not shorten it
      const granted: number[] = [];
      const waiting = [0, 1, 2].map((i) => limiter.acquire().then((p) => (granted.push(i), p)));
      await vi.advanceTimersByTimeAsync(990);
      expect(granted).toEqual([]);
      expect(limiter.snapshot()).toMatchObject({ pauses: 1, waiting: 3, inFlight: 1 });
      onTheWire.release({ kind: 'success', latencyMs: 10 });
      await vi.advanceTimersByTimeAsync(20);
      expect(granted).toEqual([0, 1, 2]);
      (await Promise.all(waiting)).forEach((p) => p.release({ kind: 'success', latencyMs: 10 }));
      // After the pause, a permit is immediate again.
      await expect(limiter.acquire()).resolves.toBeDefined();
    });

    it('a caller that gives up while paused leaves no timer behind', async () => {
      const limiter = new AdaptiveLimiter({ max: 1, now: () => Date.now() });
      limiter.pause(60_000);
      const controller = new AbortController();
      const waiting = limiter.acquire([controller.signal]);
      expect(vi.getTimerCount()).toBe(1);
      controller.abort(new Error('stopped'));
      await expect(waiting).rejects.toThrow('stopped');
      expect(vi.getTimerCount()).toBe(0);
    });
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
    expect(() => new AdaptiveLimiter({ max: 4, toleratedFaultRate: 1 })).toThrow(/toleratedFaultRate/);
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
  /** When each chat request reached the handler (after the server's latency), ms. */
  let handled: number[];
  beforeEach(async () => {
    handled = [];
    server = await startFakeOpenAI({ chat: (_r, { callIndex }) => (handled.push(performance.now()), JSON.stringify({ n: callIndex })) });
  });
  afterEach(async () => {
    await server.close();
  });

  const client = (limiter: AdaptiveLimiter, maxRetries = 6): LlmClient =>
    new LlmClient({ baseURL: server.url, apiKey: 'k', model: 'fake-chat', timeoutMs: 10_000, maxRetries }, { limiter, retry: { baseDelayMs: 1, maxDelayMs: 5 } });

  const run = (c: LlmClient, n: number, tag: string) =>
    Promise.all(Array.from({ length: n }, (_, i) => c.complete({ messages: [{ role: 'user', content: `${tag} ${i}` }], schema: SCHEMA })));

  it('keeps the configured concurrency in flight from the first request on', async () => {
    server.setLatency(30);
    const limiter = new AdaptiveLimiter({ max: 8 });
    const results = await run(client(limiter), 16, 'start');
    expect(results.every((r) => r.ok)).toBe(true);
    // The first 8 requests went out together: no ramp from a few slots.
    expect(limiter.snapshot()).toMatchObject({ peakInFlight: 8, faultCuts: 0 });
    expect(server.requests).toHaveLength(16);
  });

  it('a quarter of the requests failing with 429/5xx at random is retried at full concurrency', async () => {
    server.setLatency(5);
    const random = seededRandom(3);
    server.setChatHandler((_r, { callIndex }) =>
      random() < 0.25 ? { kind: 'error', status: callIndex % 2 === 0 ? 429 : 503 } : JSON.stringify({ n: callIndex }),
    );
    const limiter = new AdaptiveLimiter({ max: 8 });
    const results = await run(client(limiter, 10), 200, 'flaky');
    expect(results.every((r) => r.ok)).toBe(true);
    expect(server.requests.length).toBeGreaterThan(230);
    // (On a loaded machine a 5 ms answer can take 20: latency may trim the limit, faults do not.)
    expect(limiter.snapshot()).toMatchObject({ peakInFlight: 8, faultCuts: 0 });
  });

  it("a server's retry-after pauses the whole endpoint, not only the request that was told", async () => {
    server.setLatency(20);
    server.setChatHandler((_r, { callIndex }) => {
      handled.push(performance.now());
      if (callIndex === 0) return { kind: 'error', status: 429, retryAfterMs: 300 };
      // The rest of the first wave answers a little later, so the 429 is surely back first.
      return { content: JSON.stringify({ n: callIndex }), ...(callIndex < 4 ? { delayMs: 50 } : {}) };
    });
    const limiter = new AdaptiveLimiter({ max: 4 });
    const results = await run(client(limiter), 12, 'paced');
    expect(results.every((r) => r.ok)).toBe(true);
    // The first 4 went out together; the 429 came back first, so nothing was sent for 300 ms
    // after it although 3 slots were free and 8 calls waited.
    const told = handled[0]!;
    const later = handled.slice(4);
    expect(later).toHaveLength(9);
    for (const t of later) expect(t - told).toBeGreaterThanOrEqual(300);
    expect(limiter.snapshot()).toMatchObject({ pauses: 1, faultCuts: 0 });
  });

  it('a burst of 429s brings the limit down step by step; latency growth does too, without any error', async () => {
    // 40 ms, not less: at 10 ms a busy CI machine alone doubled a round trip's fastest answer and cut the limit while warming.
    server.setLatency(40);
    const limiter = new AdaptiveLimiter({ max: 16, successesPerIncrease: 3, latencyTolerance: 2 });
    const c = client(limiter, 12);
    await run(c, 64, 'warm');
    expect(limiter.limit).toBe(16);

    // Every request gets a 429 for a while: once the faults outweigh the good answers before
    // them, each wave of retries (a new round trip) cuts once.
    server.failNext(120, { status: 429, retryAfter: 0 }, '/v1/chat/completions');
    await run(c, 16, 'throttled');
    // 16 → 8 → 4 → 2 at least; the calls' final successes then start the climb back.
    expect(limiter.snapshot().faultCuts).toBeGreaterThanOrEqual(3);
    expect(limiter.limit).toBeLessThan(16);

    // It climbs back, then the server gets slow: no error at all, only latency.
    await run(c, 200, 'recover');
    const beforeSlow = limiter.limit;
    expect(beforeSlow).toBeGreaterThan(8);
    // Judged per round trip (limit answers): three of them, the first may still hold fast answers.
    server.setLatency(600);
    await run(c, 48, 'slow');
    expect(limiter.snapshot().latencyCuts).toBeGreaterThan(0);
    expect(limiter.limit).toBeLessThan(beforeSlow);
  });
});
