// The local runner stopped early: by its caller (a signal), by an input it cannot read, by a
// disk that is full. Each ends the run with what was done written, never a crash or a hang.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCodeEmbedder, createLabelEmbedder } from '../embeddings/index.js';
import { runLocal, type LocalRunConfig, type RunSummary } from '../topology/run-local.js';
import { pipelineSettings } from '../topology/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'treesynth-stop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `n` distinct small Python files as a JSONL corpus. */
function corpus(name: string, n: number): string {
  const file = join(dir, name);
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ path: `pkg${i}/mod${i}.py`, content: `import os\n\n\ndef handler_${i}(path):\n    if not os.path.exists(path):\n        raise FileNotFoundError(path)\n    return ${i} * len(path) + ${i * 7}\n` }),
  );
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function config(input: string, out: string, extra: Partial<LocalRunConfig> = {}): LocalRunConfig {
  return {
    input, out, tasks: 5, window: 4,
    settings: pipelineSettings({ llmStages: [] }),
    labelEmbedder: createLabelEmbedder({ kind: 'lexical' }), codeEmbedder: createCodeEmbedder({ kind: 'lexical' }),
    ...extra,
  };
}

const summaryIn = (out: string): RunSummary => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as RunSummary;

describe('runLocal stopped early', () => {
  it('stops reading when its signal aborts, settles the files in flight and writes what was done', async () => {
    const input = corpus('many.jsonl', 300);
    const out = join(dir, 'aborted');
    const stop = new AbortController();
    const summary = await runLocal(config(input, out, {
      signal: stop.signal,
      onProgress: (p) => {
        if (p.read >= 20 && !stop.signal.aborted) stop.abort('SIGINT');
      },
    }));
    expect(summary.interrupted).toBe('SIGINT during files');
    expect(summary.files.read).toBeGreaterThanOrEqual(20);
    expect(summary.files.read).toBeLessThan(300);
    expect(summary.files.read).toBe(summary.files.accepted + summary.files.rejected);
    // No tasks are started after the stop; the tree of the files read is kept.
    expect(summary.tasks.written).toBe(0);
    expect(summaryIn(out)).toEqual(summary);
    expect(JSON.parse(readFileSync(join(out, 'tree.json'), 'utf8'))).toMatchObject({ frequency: summary.files.accepted });
  });

  it('reads nothing when stopped before it starts', async () => {
    const stop = new AbortController();
    stop.abort('SIGTERM');
    const summary = await runLocal(config(corpus('few.jsonl', 5), join(dir, 'before'), { signal: stop.signal }));
    expect(summary.files).toEqual({ read: 0, accepted: 0, rejected: 0 });
    expect(summary.interrupted).toBe('SIGTERM during files');
  });

  it('a complete run says it was not interrupted', async () => {
    const summary = await runLocal(config(corpus('small.jsonl', 5), join(dir, 'complete')));
    expect(summary.interrupted).toBeNull();
    expect(summary.files.read).toBe(5);
  });

  it('fails with the input\'s error after writing the outputs of what was read', async () => {
    const input = join(dir, 'not-gzip.jsonl.gz');
    writeFileSync(input, 'this is not gzip at all');
    const out = join(dir, 'bad-input');
    await expect(runLocal(config(input, out))).rejects.toThrow(`cannot read ${input}: incorrect header check`);
    expect(summaryIn(out).interrupted).toBe(`input failed after 0 files: cannot read ${input}: incorrect header check`);
  });

  // /dev/full fails every write with ENOSPC, as a full disk does. Without a model, the
  // extraction stage writes its prompts to pending.jsonl from inside the pipeline.
  it('fails at once with one clear error when an output cannot be written (disk full)', async () => {
    const out = join(dir, 'full');
    mkdirSync(out);
    symlinkSync('/dev/full', join(out, 'pending.jsonl'));
    const input = corpus('for-a-full-disk.jsonl', 50);
    await expect(runLocal(config(input, out, { settings: pipelineSettings({ llmStages: ['extract'] }) }))).rejects.toThrow(/^cannot write .*pending\.jsonl: ENOSPC/);
  });
});
