import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JsonlSink, serialiseJsonLine, writeTo } from '../connectors/jsonl-sink.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treesynth-sink-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const readLines = async (file: string): Promise<unknown[]> =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

describe('serialiseJsonLine', () => {
  it('writes Buffers and Uint8Arrays as base64 strings, at any depth', () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    expect(JSON.parse(serialiseJsonLine({ content: bytes, nested: { list: [new Uint8Array([104, 105])] } }))).toEqual({
      content: bytes.toString('base64'),
      nested: { list: ['aGk='] },
    });
    expect(JSON.parse(serialiseJsonLine(bytes))).toBe(bytes.toString('base64'));
    expect(serialiseJsonLine({ text: 'a\nb' })).not.toContain('\n');
  });
});

describe('JsonlSink', () => {
  it('creates parent directories and has every line on disk once close resolves', async () => {
    const file = join(dir, 'deep', 'er', 'out.jsonl');
    const sink = new JsonlSink<{ n: number; content: Buffer }>(file);
    for (let n = 0; n < 100; n++) await sink.write({ n, content: Buffer.from(`file ${n}`) });
    await sink.close();
    const lines = await readLines(file);
    expect(lines).toHaveLength(100);
    expect(lines[42]).toEqual({ n: 42, content: Buffer.from('file 42').toString('base64') });
    expect(sink.written).toBe(100);
  });

  it('keeps order for writes that are not awaited one by one', async () => {
    const file = join(dir, 'out.jsonl');
    const sink = new JsonlSink<{ n: number }>(file);
    await Promise.all(Array.from({ length: 500 }, (_, n) => sink.write({ n })));
    await sink.close();
    expect((await readLines(file)).map((r) => (r as { n: number }).n)).toEqual(Array.from({ length: 500 }, (_, n) => n));
  });

  it('waits for drain when the stream buffer is full', async () => {
    const sink = new JsonlSink<{ blob: string }>(join(dir, 'big.jsonl'));
    await sink.write({ blob: 'warm-up' }); // the file is open
    let settled = false;
    const pending = sink.write({ blob: 'x'.repeat(1024 * 1024) }).then(() => (settled = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(false);
    await pending;
    expect(settled).toBe(true);
    await sink.close();
  });

  it('appends by default and truncates with mode overwrite', async () => {
    const file = join(dir, 'out.jsonl');
    for (const n of [1, 2]) {
      const sink = new JsonlSink<{ n: number }>(file);
      await sink.write({ n });
      await sink.close();
    }
    expect(await readLines(file)).toEqual([{ n: 1 }, { n: 2 }]);
    const over = new JsonlSink<{ n: number }>(file, { mode: 'overwrite' });
    await over.write({ n: 3 });
    await over.close();
    expect(await readLines(file)).toEqual([{ n: 3 }]);
  });

  it('creates an empty file when closed without writes; close is idempotent; write after close rejects', async () => {
    const file = join(dir, 'empty.jsonl');
    const sink = new JsonlSink<{ n: number }>(file);
    await Promise.all([sink.close(), sink.close()]);
    await sink.close();
    expect(await readFile(file, 'utf8')).toBe('');
    await expect(sink.write({ n: 1 })).rejects.toThrow(/sink is closed/);
  });

  it('reports a file that cannot be written through write/close instead of crashing', async () => {
    const isDir = join(dir, 'a-directory');
    await mkdir(isDir);
    const sink = new JsonlSink<{ n: number }>(isDir);
    await expect(
      (async () => {
        await sink.write({ n: 1 });
        await sink.close();
      })(),
    ).rejects.toThrow(/cannot write/);
    await expect(sink.close()).rejects.toThrow(/cannot write/);

    const underFile = new JsonlSink<{ n: number }>(join(dir, 'empty-parent.jsonl', 'x.jsonl'));
    await new JsonlSink<{ n: number }>(join(dir, 'empty-parent.jsonl')).close();
    await expect(underFile.write({ n: 1 })).rejects.toThrow();
  });

  it('writeTo passes values on in order after writing them', async () => {
    const file = join(dir, 'rx.jsonl');
    const sink = new JsonlSink<{ n: number }>(file);
    const passed = await lastValueFrom(from([{ n: 1 }, { n: 2 }, { n: 3 }]).pipe(writeTo(sink), toArray()));
    await sink.close();
    expect(passed).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(await readLines(file)).toEqual(passed);
  });
});
