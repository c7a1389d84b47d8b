// Backpressure for a push-based pipeline: pulls the next item from an async source only while
// fewer than `window` items are in flight, and counts one back for every item the pipeline
// reports settled. Memory stays flat however large the corpus, and RxJS operators downstream
// never queue more than `window` items.
import { Observable } from 'rxjs';
// Reading and the stages behind it run on promise callbacks: a burst of them (the window filling
// at the start) would otherwise hold back sockets, timers and worker answers, and with them the
// model requests, until the whole window was read and filtered.
import { TURN_SLICE_MS, eventLoopTurn } from '../lib/event-loop-turn.js';

export interface PacedSource<T> {
  readonly items: Observable<T>;
  /** Call once for every item that has left the pipeline (emitted or rejected). */
  settle(count?: number): void;
  /** Call when the window (a function) may have grown: the source reads again if it has. */
  widened(): void;
  readonly inFlight: number;
}

/** `window` is a number, or a function read before each item (a window that grows and shrinks). */
export function pacedSource<T>(source: AsyncIterable<T>, window: number | (() => number)): PacedSource<T> {
  const limit = typeof window === 'number' ? () => window : window;
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const items = new Observable<T>((subscriber) => {
    const iterator = source[Symbol.asyncIterator]();
    let stopped = false;
    void (async () => {
      try {
        let slice = performance.now();
        while (!stopped) {
          if (performance.now() - slice > TURN_SLICE_MS) {
            await eventLoopTurn();
            slice = performance.now();
          }
          while (inFlight >= limit() && !stopped) {
            await new Promise<void>((resolve) => (wake = resolve));
            slice = performance.now();
          }
          if (stopped) break;
          const next = await iterator.next();
          if (next.done) break;
          inFlight += 1;
          subscriber.next(next.value);
        }
        subscriber.complete();
      } catch (error) {
        subscriber.error(error);
      }
    })();
    return () => {
      stopped = true;
      wake?.();
      void iterator.return?.();
    };
  });
  const wakeReader = (): void => {
    const resume = wake;
    wake = null;
    resume?.();
  };
  return {
    items,
    settle(count = 1) {
      inFlight -= count;
      wakeReader();
    },
    widened() {
      if (inFlight < limit()) wakeReader();
    },
    get inFlight() {
      return inFlight;
    },
  };
}
