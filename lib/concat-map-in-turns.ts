// concatMap that gives the event loop a turn between items once it has worked for `sliceMs`.
// A serial stage working through a backlog (the read-ahead window at the start, a run of answers
// released together) runs each next item on a promise callback, and promise callbacks all run
// before any I/O: sockets, timers and worker replies wait until the whole backlog is done. At
// C = 64 that held the model's next requests back for up to 200 ms behind the filter.
import { concatMap, defer, type OperatorFunction } from 'rxjs';
import { TURN_SLICE_MS, eventLoopTurn } from './event-loop-turn.js';

export function concatMapInTurns<T, R>(project: (value: T) => Promise<R>, sliceMs = TURN_SLICE_MS): OperatorFunction<T, R> {
  return (source) =>
    defer(() => {
      // Per subscription: two runs of a stage do not share a clock.
      let since = performance.now();
      return source.pipe(
        concatMap(async (value) => {
          if (performance.now() - since > sliceMs) {
            await eventLoopTurn();
            since = performance.now();
          }
          return project(value);
        }),
      );
    });
}
