// Runs one sandbox command under a wall clock and an output budget. The caller's command is
// bubblewrap, whose sandboxed child dies with it (--die-with-parent, own PID namespace), so
// killing bwrap's process group takes the whole tree down, however much it forked or setsid'ed.
import { spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';

export interface CaptureLimits {
  wallMs: number;
  outputBytes: number;
  /** Bytes kept from the start and from the end of the output. */
  keepHead?: number;
  keepTail?: number;
}

/** Extra descriptors for the sandbox: the seccomp program on fd 3, the report channel on fd 4. */
export interface Channels {
  /** Written to fd 3 and closed (bubblewrap's `--seccomp 3` reads it). */
  seccomp?: Buffer | null;
  /** fd 4: the nonce is written first; what comes back, up to maxBytes, is the report. */
  report?: { nonce: string; maxBytes: number } | null;
}

export interface ProcessOutcome {
  exitCode: number | null;
  /** A signal that ended bwrap itself (ours on timeout), or the child's signal as bwrap reports it (exit 128+n). */
  signal: string | null;
  timedOut: boolean;
  outputExceeded: boolean;
  aborted: boolean;
  outputBytes: number;
  /** Head and tail of stdout+stderr in arrival order; the cut is marked. */
  output: string;
  durationMs: number;
  /** The command could not be started at all. */
  spawnError: string | null;
  /** What came back on the report channel ('' without one). */
  report: string;
  /** More than the report channel's maxBytes came back; the run was killed. */
  reportExceeded: boolean;
}

const SIGNAL_NAMES: Record<number, string> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL',
  11: 'SIGSEGV', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ',
};

/** bwrap (like a shell) reports a child killed by signal n as exit code 128+n. */
export function signalFromExit(code: number | null): string | null {
  if (code === null || code <= 128 || code > 128 + 64) return null;
  return SIGNAL_NAMES[code - 128] ?? `signal ${code - 128}`;
}

/** Keeps the first and last bytes of a stream of unbounded size in bounded memory. */
export class OutputCapture {
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  total = 0;

  constructor(
    private readonly keepHead: number,
    private readonly keepTail: number,
  ) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headBytes < this.keepHead) {
      const take = rest.subarray(0, this.keepHead - this.headBytes);
      this.head.push(take);
      this.headBytes += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    // Drop whole chunks from the front while the rest still covers the tail we keep.
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= this.keepTail) this.tailBytes -= this.tail.shift()!.length;
  }

  text(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    let tail = Buffer.concat(this.tail);
    const cut = tail.length > this.keepTail ? tail.length - this.keepTail : 0;
    tail = tail.subarray(cut);
    const skipped = this.total - this.headBytes - tail.length;
    return skipped > 0 ? `${head}\n…[${skipped} bytes cut]…\n${tail.toString('utf8')}` : head + tail.toString('utf8');
  }
}

export function runCaptured(argv: readonly string[], limits: CaptureLimits, signal?: AbortSignal, channels: Channels = {}): Promise<ProcessOutcome> {
  const started = performance.now();
  const capture = new OutputCapture(limits.keepHead ?? 16_384, limits.keepTail ?? 16_384);
  return new Promise<ProcessOutcome>((resolve) => {
    let timedOut = false;
    let outputExceeded = false;
    let aborted = false;
    let spawnError: string | null = null;
    let reportExceeded = false;
    const report: Buffer[] = [];
    let reportBytes = 0;
    const [command, ...args] = argv;
    // detached: bwrap leads its own process group, so one kill reaches it and anything it started.
    const child = spawn(command!, args, {
      stdio: ['ignore', 'pipe', 'pipe', channels.seccomp ? 'pipe' : 'ignore', channels.report ? 'pipe' : 'ignore'],
      detached: true,
      env: {},
    });
    const kill = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, limits.wallMs);
    const onAbort = (): void => {
      aborted = true;
      kill();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const onData = (chunk: Buffer): void => {
      if (outputExceeded) return;
      capture.push(chunk);
      if (capture.total > limits.outputBytes) {
        outputExceeded = true;
        kill();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const seccompPipe = child.stdio[3] as Duplex | null;
    if (channels.seccomp && seccompPipe) {
      seccompPipe.on('error', () => {}); // a child that never reads it fails on its own
      seccompPipe.resume(); // nothing comes back, but the stream only closes once read to its end
      seccompPipe.end(channels.seccomp);
    }
    const reportPipe = child.stdio[4] as Duplex | null;
    if (channels.report && reportPipe) {
      const { maxBytes } = channels.report;
      reportPipe.on('error', () => {});
      reportPipe.write(`${channels.report.nonce}\n`);
      reportPipe.on('data', (chunk: Buffer) => {
        if (reportExceeded) return;
        reportBytes += chunk.length;
        if (reportBytes > maxBytes) {
          reportExceeded = true;
          kill();
          return;
        }
        report.push(chunk);
      });
    }
    let done = false;
    const finish = (code: number | null, sig: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({
        exitCode: code,
        signal: sig ?? signalFromExit(code),
        timedOut,
        outputExceeded,
        aborted,
        outputBytes: capture.total,
        output: capture.text(),
        durationMs: Math.round(performance.now() - started),
        spawnError,
        report: Buffer.concat(report).toString('utf8'),
        reportExceeded,
      });
    };
    child.on('error', (error) => {
      spawnError = error.message;
      // A command that never started emits no 'close' we can count on.
      if (child.pid === undefined) finish(null, null);
    });
    child.on('close', finish);
  });
}
