// Progress of a long run: a bar on a terminal, plain counter lines in logs and CI.
import cliProgress from 'cli-progress';
import type { RunProgress } from '../topology/run-local.js';

export interface ProgressReporter {
  update(progress: RunProgress): void;
  stop(): void;
}

export function createProgress(options: { total: number | null; unit: 'files' | 'bytes'; tty: boolean; quiet: boolean; write?: (line: string) => void }): ProgressReporter {
  if (options.quiet) return { update() {}, stop() {} };
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const rate = (p: RunProgress) => Math.round(p.read / Math.max(0.001, (Date.now() - started) / 1000));
  const counters = (p: RunProgress) =>
    `read ${p.read} · accepted ${p.accepted} · rejected ${p.rejected} · nodes ${p.nodes} · tasks ${p.tasks} · ${rate(p)} files/s`;

  if (options.tty && options.total !== null) {
    const bar = new cliProgress.SingleBar(
      { format: ' {bar} {percentage}% | {counters}', hideCursor: true, clearOnComplete: false, stream: process.stderr, fps: 5 },
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
