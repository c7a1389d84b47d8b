import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import { orderedMergeMap } from '../lib/ordered-merge-map.js';

describe('orderedMergeMap', () => {
  it('runs up to `concurrency` at once and emits in input order whatever order they finish in', async () => {
    let running = 0;
    let most = 0;
    const delays = [30, 5, 20, 1, 15, 2, 25, 3];
    const out = await lastValueFrom(
      from(delays).pipe(
        orderedMergeMap(async (ms, i) => {
          running += 1;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, ms));
          running -= 1;
          return `${i}:${ms}`;
        }, 3),
        toArray(),
      ),
    );
    expect(out).toEqual(delays.map((ms, i) => `${i}:${ms}`));
    expect(most).toBe(3);
  });

  it('says how many finished results wait behind an unfinished earlier one, after every change', async () => {
    const heard: number[] = [];
    const delays = [60, 5, 5, 5, 80, 5];
    const out = await lastValueFrom(
      from(delays).pipe(orderedMergeMap((ms, i) => new Promise<number>((resolve) => setTimeout(() => resolve(i), ms)), 6, (n) => heard.push(n)), toArray()),
    );
    expect(out).toEqual([0, 1, 2, 3, 4, 5]);
    // 1, 2, 3 and 5 finish behind 0 (held: 1, 2, 3, 4); 0 lets 1-3 out (1 left: 5, behind 4); then 4 lets 5 out.
    expect(heard).toEqual([1, 2, 3, 4, 1, 0]);
  });

  it('passes errors on', async () => {
    await expect(lastValueFrom(from([1, 2]).pipe(orderedMergeMap(async (x) => {
      if (x === 2) throw new Error('boom');
      return x;
    }, 2)))).rejects.toThrow('boom');
  });
});
