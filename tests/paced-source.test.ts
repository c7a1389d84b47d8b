import { describe, expect, it } from 'vitest';
import { concatMap, delay, lastValueFrom, of, tap, toArray } from 'rxjs';
import { pacedSource } from '../connectors/paced-source.js';

async function* numbers(n: number, pulled: number[]) {
  for (let i = 0; i < n; i++) {
    pulled.push(i);
    yield i;
  }
}

describe('pacedSource', () => {
  it('never has more than `window` items in flight, and delivers all of them in order', async () => {
    const pulled: number[] = [];
    const source = pacedSource(numbers(50, pulled), 4);
    let maxInFlight = 0;
    const out = await lastValueFrom(
      source.items.pipe(
        tap(() => (maxInFlight = Math.max(maxInFlight, source.inFlight))),
        concatMap((x) => of(x).pipe(delay(1))),
        tap(() => source.settle()),
        toArray(),
      ),
    );
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(maxInFlight).toBeLessThanOrEqual(4);
  });

  it('does not read ahead of the pipeline', async () => {
    const pulled: number[] = [];
    const source = pacedSource(numbers(100, pulled), 3);
    const seen: number[] = [];
    const sub = source.items.subscribe((x) => seen.push(x));
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([0, 1, 2]);
    expect(pulled.length).toBeLessThanOrEqual(4);
    source.settle(2);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    sub.unsubscribe();
  });

  it('gives the event loop a turn while a burst of reading fills the window, instead of holding it until the window is full', async () => {
    const pulled: number[] = [];
    const source = pacedSource(numbers(400, pulled), 1000);
    const emittedWhenTimerRan: number[] = [];
    let emitted = 0;
    // A timer due at once stands for a socket's answer or a worker's reply waiting to be handled.
    const timer = new Promise<void>((resolve) => setTimeout(() => (emittedWhenTimerRan.push(emitted), resolve()), 0));
    const done = lastValueFrom(
      source.items.pipe(
        tap(() => {
          emitted += 1;
          // Each item costs the thread about a millisecond, as filtering a file does.
          for (const until = performance.now() + 1; performance.now() < until; );
        }),
        toArray(),
      ),
    );
    await timer;
    expect((await done).length).toBe(400);
    expect(emittedWhenTimerRan[0]).toBeLessThan(50);
  });
  it('reads on when its window grows, and only as far as the window reaches', async () => {
    const pulled: number[] = [];
    let window = 3;
    const source = pacedSource(numbers(20, pulled), () => window);
    const got: number[] = [];
    const subscription = source.items.subscribe((n) => got.push(n));
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    await settle();
    expect(got).toEqual([0, 1, 2]);
    window = 7;
    source.widened();
    await settle();
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // A window that shrinks below what is in flight reads nothing more until enough settle.
    window = 5;
    source.settle(1);
    await settle();
    expect(got.length).toBe(7);
    source.settle(2);
    await settle();
    expect(got.length).toBe(8);
    subscription.unsubscribe();
  });
});
