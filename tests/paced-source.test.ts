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
});
