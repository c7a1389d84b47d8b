// Giving the event loop a turn from a long run of promise callbacks. Promise callbacks all run
// before any I/O, so code that reads or works through a backlog on them holds back sockets,
// timers and worker replies (and with them a model's next requests) until it is done. The paced
// source and concatMapInTurns both work in slices of this length, then wait for one turn.

/** Longest run of work before the event loop gets a turn, ms. */
export const TURN_SLICE_MS = 5;

/** Resolves after one event-loop turn (I/O callbacks included). */
export const eventLoopTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
