// mergeMap that keeps the input order: up to `concurrency` projections run at once, and their
// results are emitted in the order the inputs came. Stages that call a model concurrently use
// it so the records after them (and which spelling of a label becomes a node's name) do not
// depend on which answer happened to come back first.
import { Observable, from, map, mergeMap, type OperatorFunction } from 'rxjs';

/**
 * `held`, when given, hears how many finished results wait behind an unfinished earlier one
 * after every change: a caller that bounds what is in flight can let that many more in, so one
 * slow item (a request sleeping out its backoff) does not stop everything behind it.
 */
export function orderedMergeMap<T, R>(project: (value: T, index: number) => Promise<R>, concurrency: number, held?: (count: number) => void): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const done = new Map<number, R>();
      let next = 0;
      return source
        .pipe(mergeMap((value, index) => from(project(value, index)).pipe(map((result) => ({ index, result }))), concurrency))
        .subscribe({
          next: ({ index, result }) => {
            done.set(index, result);
            // Emit the longest run of finished results from the head of the line.
            while (done.has(next)) {
              const value = done.get(next)!;
              done.delete(next);
              next += 1;
              subscriber.next(value);
            }
            held?.(done.size);
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        });
    });
}
