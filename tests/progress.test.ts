// Progress output in logs, pipes and CI: plain counter lines only. A progress bar redraws by
// carriage returns, cursor and erase sequences and blank padding, which in a log is noise.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProgress, type ProgressStream } from '../cli/progress.js';
import type { RunProgress } from '../topology/run-local.js';

/** A stream that records what is written to it; `isTTY` as given. */
function recorder(isTTY: boolean): ProgressStream & { text(): string } {
  const chunks: string[] = [];
  return {
    isTTY,
    columns: 100,
    write(chunk: string) {
      chunks.push(String(chunk));
      return true;
    },
    text: () => chunks.join(''),
  } as ProgressStream & { text(): string; columns: number };
}

const progress = (read: number, phase: RunProgress['phase'] = 'files'): RunProgress => ({
  read, accepted: read - 1, rejected: 1, nodes: 3 * read, tasks: 0, samples: 0, phase,
});

/** Feeds a run of updates 500 ms apart (fake clock), then stops. */
function drive(stream: ProgressStream, tty: boolean): void {
  const reporter = createProgress({ total: 40, unit: 'files', tty, quiet: false, stream });
  for (let read = 1; read <= 40; read++) {
    reporter.update(progress(read));
    vi.advanceTimersByTime(500);
  }
  reporter.update(progress(40, 'done'));
  reporter.stop();
}

// eslint-disable-next-line no-control-regex
const ESCAPE = /\u001b/;

describe('progress on a stream that is not a terminal', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  for (const tty of [false, true]) {
    it(`writes only plain counter lines (caller asked for a bar: ${tty})`, () => {
      vi.useFakeTimers();
      const stream = recorder(false);
      drive(stream, tty);
      const text = stream.text();
      expect(text).not.toContain('\r');
      expect(text).not.toMatch(ESCAPE);
      expect(text).not.toMatch(/ {4,}/);
      const lines = text.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.length).toBeGreaterThanOrEqual(2);
      for (const line of lines) expect(line).toMatch(/^\[treesynth\] (files|done): read \d+ · accepted \d+ · rejected \d+ · nodes \d+ · tasks \d+ · \d+ files\/s$/);
      expect(lines.at(-1)).toMatch(/^\[treesynth\] done: read 40 /);
    });
  }

  it('(the check above does catch a bar: on a terminal the same run draws one, with escapes)', () => {
    vi.useFakeTimers();
    const stream = recorder(true);
    drive(stream, true);
    expect(stream.text()).toMatch(ESCAPE);
    expect(stream.text()).toContain('100%');
  });

  it('writes nothing with quiet', () => {
    const stream = recorder(false);
    const reporter = createProgress({ total: 3, unit: 'files', tty: false, quiet: true, stream });
    reporter.update(progress(1));
    reporter.stop();
    expect(stream.text()).toBe('');
  });
});
