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

  it('passes errors on', async () => {
    await expect(lastValueFrom(from([1, 2]).pipe(orderedMergeMap(async (x) => {
      if (x === 2) throw new Error('boom');
      return x;
    }, 2)))).rejects.toThrow('boom');
  });
});
