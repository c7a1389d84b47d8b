import { describe, expect, it } from 'vitest';
import { concatMap, from, lastValueFrom, toArray } from 'rxjs';
import { concatMapInTurns } from '../lib/concat-map-in-turns.js';

/** About a millisecond of this thread's time, as filtering a file or placing its labels takes. */
async function work(value: number): Promise<number> {
  for (const until = performance.now() + 1; performance.now() < until; );
  return value * 2;
}

/** How many of 200 backlogged items `operator` had finished when a timer due at once ran. */
async function finishedWhenTimerRan(operator: typeof concatMapInTurns): Promise<{ finished: number; results: number[] }> {
  let finished = 0;
  let atTimer = -1;
  // A timer due at once stands for a model's answer or a worker's reply waiting to be handled.
  const timer = new Promise<void>((resolve) => setTimeout(() => ((atTimer = finished), resolve()), 0));
  const results = await lastValueFrom(
    from(Array.from({ length: 200 }, (_, i) => i)).pipe(
      operator(async (value: number) => {
        const out = await work(value);
        finished += 1;
        return out;
      }),
      toArray(),
    ),
  );
  await timer;
  return { finished: atTimer, results };
}

describe('concatMapInTurns', () => {
  it('works through a backlog in order, one item at a time, as concatMap does', async () => {
    let running = 0;
    let most = 0;
    const out = await lastValueFrom(
      from([3, 1, 2]).pipe(
        concatMapInTurns(async (v: number) => {
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, v));
          running -= 1;
          return v;
        }),
        toArray(),
      ),
    );
    expect(out).toEqual([3, 1, 2]);
    expect(most).toBe(1);
  });

  it('lets I/O in between while it works through a backlog, where concatMap holds the thread until the end', async () => {
    const inTurns = await finishedWhenTimerRan(concatMapInTurns);
    expect(inTurns.results).toEqual(Array.from({ length: 200 }, (_, i) => i * 2));
    expect(inTurns.finished).toBeLessThan(20);
    // The plain operator, for contrast: the timer waits for all 200 (about 200 ms).
    const plain = await finishedWhenTimerRan(((project: (v: number) => Promise<number>) => concatMap(project)) as typeof concatMapInTurns);
    expect(plain.finished).toBe(200);
  });

  it('passes a failing item on as the stream error', async () => {
    const failing = lastValueFrom(from([1, 2]).pipe(concatMapInTurns(async (v: number) => {
      if (v === 2) throw new Error('boom');
      return v;
    })));
    await expect(failing).rejects.toThrow('boom');
  });
});
