import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countJsonlBytes, readJsonl } from '../connectors/jsonl-source.js';
import type { Outcome } from '../schemas/outcome.js';
import type { SourceFile } from '../schemas/contract.js';
import { MAX_DEAD_LETTER_RECORD_CHARS } from '../schemas/outcome.js';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treesynth-jsonl-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const LINES = [
  JSON.stringify({ path: 'a.py', content: 'print(1)\n', language: 'Python' }),
  '',
  JSON.stringify({ max_stars_repo_path: 'lib/b.js', text: 'let b = 1;\n', lang: 'JavaScript' }),
  '   ',
  JSON.stringify({ filepath: 'c.go', code: 'package c\n' }),
  '{"path": "broken.py", "content": ',
  JSON.stringify({ file_path: 'no-content.py', size: 3 }),
  '[1, 2, 3]',
  JSON.stringify({ name: 'blob.bin', content_base64: Buffer.from([0, 159, 146, 150]).toString('base64') }),
  JSON.stringify({ content: 'x = 1\n' }),
  JSON.stringify({ path: 'bad64.bin', content_base64: 'not base64!' }),
  JSON.stringify({ path: 'n.txt', content: 42 }),
  JSON.stringify({ path: 'tool', content: '#!/usr/bin/env python3\nprint(2)\n' }),
];

function summary(o: Outcome<SourceFile>): unknown[] {
  return o.ok
    ? ['ok', o.value.position, o.value.path, o.value.languageHint, o.value.content.toString('utf8')]
    : ['rejected', o.rejection.position, o.rejection.reason];
}

describe('readJsonl', () => {
  it('reads good lines, alternative fields, and rejects bad lines with their line numbers', async () => {
    const file = join(dir, 'corpus.jsonl');
    await writeFile(file, `${LINES.join('\n')}\n`);
    const outcomes = await collect(readJsonl(file));
    expect(outcomes.map(summary)).toEqual([
      ['ok', 1, 'a.py', 'Python', 'print(1)\n'],
      ['ok', 3, 'lib/b.js', 'JavaScript', 'let b = 1;\n'],
      ['ok', 5, 'c.go', 'go', 'package c\n'],
      ['rejected', 6, 'invalid-json'],
      ['rejected', 7, 'missing-content'],
      ['rejected', 8, 'invalid-json'],
      ['ok', 9, 'blob.bin', null, Buffer.from([0, 159, 146, 150]).toString('utf8')],
      ['ok', 10, `${file}:10`, null, 'x = 1\n'],
      ['rejected', 11, 'missing-content'],
      ['rejected', 12, 'missing-content'],
      ['ok', 13, 'tool', 'python', '#!/usr/bin/env python3\nprint(2)\n'],
    ]);
    const blob = outcomes[6]!;
    expect(blob.ok && blob.value.content).toEqual(Buffer.from([0, 159, 146, 150]));
    const first = outcomes[0]!;
    expect(first.ok && first.value.source).toBe(file);
    const broken = outcomes[3]!;
    expect(broken.ok).toBe(false);
    if (!broken.ok) {
      expect(broken.rejection).toMatchObject({ stage: 'source', source: file, record: LINES[5] });
      expect(broken.rejection.detail).toMatch(/line 6 is not JSON/);
    }
  });

  it('handles CRLF line ends and a leading BOM', async () => {
    const file = join(dir, 'crlf.jsonl');
    await writeFile(file, `\uFEFF${LINES[0]}\r\n${LINES[2]}\r\n`);
    const got = await collect(readJsonl(file));
    expect(got.map(summary)).toEqual([
      ['ok', 1, 'a.py', 'Python', 'print(1)\n'],
      ['ok', 2, 'lib/b.js', 'JavaScript', 'let b = 1;\n'],
    ]);
  });

  it('truncates a huge offending line in the rejection record', async () => {
    const file = join(dir, 'huge.jsonl');
    await writeFile(file, `{"content": "${'x'.repeat(MAX_DEAD_LETTER_RECORD_CHARS * 2)}\n`);
    const [only] = await collect(readJsonl(file));
    expect(only!.ok).toBe(false);
    if (!only!.ok) expect(only!.rejection.record!.length).toBeLessThan(MAX_DEAD_LETTER_RECORD_CHARS + 100);
  });

  it('reads .jsonl.gz and reports progress up to the file size', async () => {
    const file = join(dir, 'corpus.jsonl.gz');
    await writeFile(file, gzipSync(`${LINES.join('\n')}\n`));
    const progress: number[] = [];
    const plain = join(dir, 'plain.jsonl');
    await writeFile(plain, `${LINES.join('\n')}\n`);
    const fromGzip = (await collect(readJsonl(file, { onProgress: (n) => progress.push(n) }))).map(summary);
    const fromPlain = (await collect(readJsonl(plain))).map((o) =>
      o.ok ? summary(o).map((v) => (v === `${plain}:10` ? `${file}:10` : v)) : summary(o),
    );
    expect(fromGzip).toEqual(fromPlain);
    expect(progress.length).toBe(LINES.filter((l) => l !== '').length);
    expect(progress.at(-1)).toBe(await countJsonlBytes(file));
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  it('throws one clear error for a missing file and for a file that is not gzip at all', async () => {
    const missing = join(dir, 'missing.jsonl');
    await expect(collect(readJsonl(missing))).rejects.toThrow(`input not found: ${missing}`);
    const corrupt = join(dir, 'corrupt.jsonl.gz');
    await writeFile(corrupt, Buffer.from('this is not gzip at all'));
    await expect(collect(readJsonl(corrupt))).rejects.toThrow(/^cannot read .*corrupt\.jsonl\.gz: incorrect header check$/);
  });

  it('stops reading when the consumer stops', async () => {
    const file = join(dir, 'many.jsonl');
    await writeFile(file, Array.from({ length: 1000 }, (_, i) => JSON.stringify({ path: `f${i}.py`, content: 'x' })).join('\n'));
    const seen: string[] = [];
    for await (const o of readJsonl(file)) {
      if (o.ok) seen.push(o.value.path);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual(['f0.py', 'f1.py', 'f2.py']);
  });
});

const manyLines = (n: number): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ path: `f${i}.py`, content: `def f${i}(x):\n    return x * ${i}\n` })).join('\n') + '\n';

describe('readJsonl on damaged or hostile gzip', () => {
  it('keeps every line before a truncation and ends with one "truncated" rejection for the rest', async () => {
    const whole = gzipSync(manyLines(3000));
    const file = join(dir, 'cut.jsonl.gz');
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const got = await collect(readJsonl(file));
    const last = got.at(-1)!;
    const read = got.slice(0, -1);
    expect(read.length).toBeGreaterThan(100);
    expect(read.every((o) => o.ok)).toBe(true);
    expect(read.map((o) => (o.ok ? o.value.position : 0))).toEqual(read.map((_, i) => i + 1));
    expect(last.ok).toBe(false);
    if (!last.ok) {
      expect(last.rejection).toMatchObject({ stage: 'source', reason: 'truncated', position: read.length + 1, path: `${file}:${read.length + 1}` });
      expect(last.rejection.detail).toBe(`reading stopped after line ${read.length}: unexpected end of file (the file is truncated); the rest of the file is not read`);
    }
  });

  it('ends with one "corrupt" rejection where the compressed bytes stop making sense', async () => {
    const bytes = Buffer.from(gzipSync(manyLines(3000)));
    const middle = Math.floor(bytes.length / 2);
    bytes.fill(0x55, middle, middle + 64);
    const file = join(dir, 'flipped.jsonl.gz');
    await writeFile(file, bytes);
    const got = await collect(readJsonl(file));
    const last = got.at(-1)!;
    // Lines before the damage are read; the last few before the check fails may be garbage.
    expect(got.filter((o) => o.ok).length).toBeGreaterThan(100);
    expect(last.ok ? null : last.rejection.reason).toBe('corrupt');
    expect(last.ok ? null : last.rejection.detail).toMatch(/^reading stopped after line \d+: .+; the rest of the file is not read$/);
  });

  it('skips a line over the line limit without holding it, and reads on', async () => {
    const file = join(dir, 'long-line.jsonl.gz');
    const long = JSON.stringify({ path: 'huge.py', content: 'a'.repeat(200_000) });
    await writeFile(file, gzipSync(`${manyLines(1)}${long}\n${JSON.stringify({ path: 'after.py', content: 'x = 1\n' })}\n`));
    const got = await collect(readJsonl(file, { maxLineBytes: 64 * 1024 }));
    expect(got.map(summary)).toEqual([
      ['ok', 1, 'f0.py', 'python', 'def f0(x):\n    return x * 0\n'],
      ['rejected', 2, 'too-large'],
      ['ok', 3, 'after.py', 'python', 'x = 1\n'],
    ]);
    const rejected = got[1]!;
    if (!rejected.ok) {
      expect(rejected.rejection.detail).toBe(`line 2 is 195.3 KiB, over the 64.0 KiB line limit: not parsed`);
      expect(rejected.rejection.record).toBe(`${long.slice(0, 1024)}…`);
    }
  });

  it('stops a gzip bomb at the decompressed-size cap with one "decompression-limit" rejection', async () => {
    // 64 MiB of newlines (and a last line) from ~64 KiB of gzip: the default cap is 100x the file.
    const file = join(dir, 'bomb.jsonl.gz');
    const bomb = gzipSync(Buffer.concat([Buffer.from(manyLines(2)), Buffer.alloc(64 * 1024 * 1024, 0x0a), Buffer.from(manyLines(1))]));
    await writeFile(file, bomb);
    expect(bomb.length * 100).toBeLessThan(64 * 1024 * 1024);
    const got = await collect(readJsonl(file, { maxDecompressedBytes: 8 * 1024 * 1024 }));
    expect(got.map(summary)).toEqual([
      ['ok', 1, 'f0.py', 'python', 'def f0(x):\n    return x * 0\n'],
      ['ok', 2, 'f1.py', 'python', 'def f1(x):\n    return x * 1\n'],
      ['rejected', expect.any(Number), 'decompression-limit'],
    ]);
    const last = got[2]!;
    if (!last.ok) expect(last.rejection.detail).toMatch(/^inflated past 8\.0 MiB after \d+ lines \(a gzip bomb\?\); the rest of the file is not read$/);
    // Unset, the cap follows the file's size: 64 MiB (the floor) here, still short of the bomb.
    const byDefault = await collect(readJsonl(file));
    expect(byDefault.at(-1)!.ok ? null : (byDefault.at(-1) as { rejection: { reason: string } }).rejection.reason).toBe('decompression-limit');
  });
});

describe('repository and licence from the line (lineage)', () => {
  it('takes them from the common corpus fields, a licence list joined, and null where the line names none', async () => {
    const file = join(dir, 'meta.jsonl');
    await writeFile(file, [
      JSON.stringify({ path: 'a.py', content: 'a = 1\n', repository: 'https://github.com/acme/a', license: 'MIT' }),
      JSON.stringify({ max_stars_repo_path: 'b.py', content: 'b = 1\n', max_stars_repo_name: 'acme/b', max_stars_repo_licenses: ['Apache-2.0', 'MIT'] }),
      JSON.stringify({ path: 'c.py', content: 'c = 1\n', repo_name: 'acme/c', licenses: [] }),
      JSON.stringify({ path: 'd.py', content: 'd = 1\n', repo: null, license: '  ' }),
    ].join('\n'));
    const files = (await collect(readJsonl(file))).map((o) => (o.ok ? o.value : null));
    expect(files.map((f) => [f?.path, f?.repository, f?.license])).toEqual([
      ['a.py', 'https://github.com/acme/a', 'MIT'],
      ['b.py', 'acme/b', 'Apache-2.0, MIT'],
      ['c.py', 'acme/c', null],
      ['d.py', null, null],
    ]);
  });

  it('refuses a line whose repository or licence is not a name, saying which field and why', async () => {
    const file = join(dir, 'bad-meta.jsonl');
    await writeFile(file, [
      JSON.stringify({ path: 'a.py', content: 'a = 1\n', repository: { url: 'x' } }),
      JSON.stringify({ path: 'b.py', content: 'b = 1\n', license: ['MIT', 3] }),
      JSON.stringify({ path: 'c.py', content: 'c = 1\n', repo_name: 'r'.repeat(501) }),
    ].join('\n'));
    const outcomes = await collect(readJsonl(file));
    expect(outcomes.every((o) => !o.ok)).toBe(true);
    const rejections = outcomes.map((o) => (o.ok ? null : o.rejection));
    expect(rejections.map((r) => [r?.reason, r?.position])).toEqual([['invalid-metadata', 1], ['invalid-metadata', 2], ['invalid-metadata', 3]]);
    expect(rejections[0]!.detail).toMatch(/field "repository" must be a string/);
    expect(rejections[1]!.detail).toMatch(/field "license" must be a string or a list of strings/);
    expect(rejections[2]!.detail).toMatch(/field "repo_name" is 501 characters, over 500/);
  });
});
