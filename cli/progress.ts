// Progress of a long run: a bar on a terminal, plain counter lines in logs and CI.
//
// The bar (cli-progress) moves the cursor and erases the line it redraws, which in a log file
// or CI output becomes `\r`, ANSI escapes and runs of blanks. So the bar is drawn only when the
// caller asks for one (`tty`: a terminal, not CI) AND the stream it is drawn on is itself a
// TTY, decided here from that very stream, not from whatever the caller looked at. Everything
// else gets plain counter lines on the same stream.
import cliProgress from 'cli-progress';
import type { RunProgress } from '../topology/run-local.js';

export interface ProgressReporter {
  update(progress: RunProgress): void;
  stop(): void;
}

/** What progress is written to; `process.stderr` by default. */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

export interface ProgressOptions {
  total: number | null;
  unit: 'files' | 'bytes';
  /** The caller wants a bar (an interactive session); only honoured if `stream` is a TTY. */
  tty: boolean;
  quiet: boolean;
  /** Where the bar or the counter lines go (default process.stderr). */
  stream?: ProgressStream;
  /** Receives the plain counter lines instead of `stream` (without the newline). */
  write?: (line: string) => void;
}

export function createProgress(options: ProgressOptions): ProgressReporter {
  if (options.quiet) return { update() {}, stop() {} };
  const stream: ProgressStream = options.stream ?? process.stderr;
  const write = options.write ?? ((line: string) => void stream.write(`${line}\n`));
  const started = Date.now();
  const rate = (p: RunProgress) => Math.round(p.read / Math.max(0.001, (Date.now() - started) / 1000));
  const counters = (p: RunProgress) =>
    `read ${p.read} · accepted ${p.accepted} · rejected ${p.rejected} · nodes ${p.nodes} · tasks ${p.tasks} · ${rate(p)} files/s`;

  if (options.tty && stream.isTTY === true && options.total !== null) {
    const bar = new cliProgress.SingleBar(
      { format: ' {bar} {percentage}% | {counters}', hideCursor: true, clearOnComplete: false, stream: stream as NodeJS.WritableStream, fps: 5 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(1, options.total), 0, { counters: '' });
    return {
      update(p) {
        const value = options.unit === 'bytes' ? (p.bytesRead ?? 0) : p.read;
        bar.update(Math.min(value, Math.max(1, options.total ?? 1)), { counters: counters(p) });
      },
      stop() {
        bar.stop();
      },
    };
  }

  let last = 0;
  let latest: RunProgress | null = null;
  return {
    update(p) {
      latest = p;
      const now = Date.now();
      if (now - last >= 2000) {
        last = now;
        write(`[treesynth] ${p.phase}: ${counters(p)}`);
      }
    },
    stop() {
      if (latest) write(`[treesynth] ${latest.phase}: ${counters(latest)}`);
    },
  };
}
