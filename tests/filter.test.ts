import { createHash } from 'node:crypto';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { FILTER_REASONS, FILTER_STAGE, checkFile, lineStats, type FilterOptions } from '../analysis/file-checks.js';
import { filterFile, filterFiles } from '../processors/filter.js';
import type { Outcome } from '../schemas/outcome.js';
import { loadContracts, type CodeFile, type Rejection, type SourceFile } from '../schemas/contract.js';
import { ContentHashStore } from '../stores/content-hash-store.js';

const contracts = loadContracts();
const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

function source(path: string, content: string | Buffer, languageHint: string | null = null, position = 7): SourceFile {
  return { path, content: Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8'), languageHint, source: 'corpus', position, readAt: 0 };
}

function accepted(outcome: Outcome<CodeFile>): CodeFile {
  if (!outcome.ok) throw new Error(`expected acceptance, got ${outcome.rejection.reason}: ${outcome.rejection.detail}`);
  return contracts.CodeFile.check(outcome.value);
}

function rejected(outcome: Outcome<CodeFile>): Rejection {
  if (outcome.ok) throw new Error(`expected rejection, got CodeFile ${outcome.value.path}`);
  return contracts.Rejection.check(outcome.rejection);
}

const reasonOf = (file: SourceFile, options: FilterOptions = {}): string | null => {
  const outcome = checkFile(file, options);
  return outcome.ok ? null : outcome.rejection.reason;
};

describe('checkFile accepts', () => {
  it('a Python file as a CodeFile that passes the contract', () => {
    const text = 'def f():\n    return 1\n';
    const file = accepted(checkFile(source('pkg/f.py', text, 'python'), { treeKey: 'all' }));
    expect(file).toEqual({
      id: sha(text),
      path: 'pkg/f.py',
      language: 'python',
      content: text,
      sizeBytes: Buffer.byteLength(text),
      lines: 2,
      source: 'corpus',
      treeKey: 'all',
      // The source named neither: lineage says so rather than leaving them out.
      repository: null,
      license: null,
    });
  });

  it('strips a UTF-8 BOM and hashes the content without it', () => {
    const text = 'const x = "é";\n';
    const file = accepted(checkFile(source('x.js', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))));
    expect(file.content).toBe(text);
    expect(file.id).toBe(sha(text));
    expect(file.sizeBytes).toBe(Buffer.byteLength(text));
    expect(file.language).toBe('javascript');
  });

  it('finds the language from hint aliases, extension, and shebang', () => {
    const lang = (f: SourceFile): string => accepted(checkFile(f)).language;
    expect(lang(source('x', 'x = 1\n', 'Python'))).toBe('python');
    expect(lang(source('x', 'package x\n', 'golang'))).toBe('go');
    expect(lang(source('v.tsx', 'export default 1;\n', 'TypeScript'))).toBe('tsx');
    expect(lang(source('lib/x.mjs', 'export {};\n'))).toBe('javascript');
    expect(lang(source('bin/tool', '#!/usr/bin/env python3\nprint(1)\n'))).toBe('python');
    expect(lang(source('types.d.ts', 'export declare const x: number;\n'))).toBe('typescript');
  });

  it('takes treeKey from a function of the language, defaulting to the language', () => {
    expect(accepted(checkFile(source('a.go', 'package a\n'), { treeKey: (l) => `tree-${l}` })).treeKey).toBe('tree-go');
    expect(accepted(checkFile(source('a.go', 'package a\n'))).treeKey).toBe('go');
  });

  it('counts lines as an editor does', () => {
    expect(lineStats('a\nb\n')).toEqual({ lines: 2, longest: 1 });
    expect(lineStats('a\nbcd')).toEqual({ lines: 2, longest: 3 });
    expect(lineStats('\n\n')).toEqual({ lines: 2, longest: 0 });
  });
});

describe('checkFile rejects', () => {
  it('empty and whitespace-only files', () => {
    expect(reasonOf(source('a.py', ''))).toBe('empty');
    expect(reasonOf(source('a.py', ' \n\t\r\n'))).toBe('empty');
  });

  it('files over maxBytes, and not files at the limit', () => {
    expect(reasonOf(source('a.py', 'x = 12345\n'), { maxBytes: 9 })).toBe('too-large');
    expect(reasonOf(source('a.py', 'x = 12345\n'), { maxBytes: 10 })).toBeNull();
    const r = rejected(checkFile(source('a.py', 'x'.repeat(2 * 1024 * 1024))));
    expect(r.detail).toMatch(/over the 1048576-byte limit/);
  });

  it('binary content: NUL bytes or many control characters', () => {
    expect(reasonOf(source('a.py', Buffer.from('x = 1\0\n')))).toBe('binary');
    const controls = Buffer.from(Array.from({ length: 100 }, (_, i) => (i % 4 === 0 ? 0x01 : 0x61)));
    expect(reasonOf(source('a.py', controls))).toBe('binary');
    // A NUL past the 8 KiB sample is not looked at; tabs, CR and ESC are text.
    expect(reasonOf(source('a.py', Buffer.concat([Buffer.from(`x = 1\t\r\n\x1b[0m\n`.repeat(1000)), Buffer.from([0])])))).not.toBe('binary');
  });

  it('invalid UTF-8 (stray bytes, encoded surrogates)', () => {
    expect(reasonOf(source('a.py', Buffer.from([0x78, 0x3d, 0xff, 0x0a])))).toBe('invalid-utf8');
    expect(reasonOf(source('a.py', Buffer.from([0x78, 0x3d, 0xed, 0xa0, 0x80, 0x0a])))).toBe('invalid-utf8');
  });

  it('files in no supported language', () => {
    expect(reasonOf(source('notes.txt', 'hello\n'))).toBe('unknown-language');
    expect(reasonOf(source('main.rs', 'fn main() {}\n', 'Rust'))).toBe('unknown-language');
    expect(reasonOf(source('run', '#!/bin/sh\necho hi\n'))).toBe('unknown-language');
    const r = rejected(checkFile(source('lib.rs', 'fn x() {}\n', 'Rust')));
    expect(r.detail).toContain('"Rust"');
    expect(r.detail).toContain('.rs');
  });

  it('generated files, by header in the first lines or by generator file name', () => {
    expect(reasonOf(source('a.go', '// Code generated by protoc-gen-go. DO NOT EDIT.\npackage a\n'))).toBe('generated');
    expect(reasonOf(source('a.py', '# -*- coding: utf-8 -*-\n# @generated by tool\nx = 1\n'))).toBe('generated');
    expect(reasonOf(source('a.ts', '/**\n * This file is auto-generated.\n */\nexport {};\n'))).toBe('generated');
    expect(reasonOf(source('a.js', '// Autogenerated from schema.json\nexport {};\n'))).toBe('generated');
    expect(reasonOf(source('api/foo_pb2.py', 'x = 1\n'))).toBe('generated');
    expect(reasonOf(source('api/foo_pb2_grpc.py', 'x = 1\n'))).toBe('generated');
    expect(reasonOf(source('api/foo.pb.go', 'package api\n'))).toBe('generated');
    expect(reasonOf(source('api/foo_pb.js', 'var x;\n'))).toBe('generated');
    // A marker below the header, and .d.ts files, are fine.
    expect(reasonOf(source('a.py', 'a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n# DO NOT EDIT below\n'))).toBeNull();
    expect(reasonOf(source('index.d.ts', 'export declare function f(): void;\n'))).toBeNull();
  });

  it('minified scripts, by name or line shape, but not other languages', () => {
    expect(reasonOf(source('dist/app.min.js', 'var a = 1;\n'))).toBe('minified');
    const bundle = `${'var a=1;'.repeat(1000)}\n${'b();'.repeat(100)}\n`;
    expect(reasonOf(source('bundle.js', bundle))).toBe('minified');
    const oneHugeLine = `${'x\n'.repeat(40)}${'f(1);'.repeat(2000)}\n`;
    expect(reasonOf(source('app.ts', oneHugeLine))).toBe('minified');
    // A long data line in a file of ordinary code is not minification.
    const dataLine = `${'const a = 1;\n'.repeat(1000)}const blob = "${'A'.repeat(6000)}";\n`;
    expect(reasonOf(source('data.ts', dataLine))).toBeNull();
    expect(reasonOf(source('data.py', `x = "${'A'.repeat(9000)}"\n`))).toBeNull();
  });

  it('with stage, ids and location on every rejection, valid against the contract', () => {
    const r = rejected(checkFile(source('sub/a.py', Buffer.from([0x78, 0xff]), null, 12)));
    expect(r).toMatchObject({ stage: FILTER_STAGE, reason: 'invalid-utf8', path: 'sub/a.py', source: 'corpus', position: 12 });
    expect(r.recordId).toBe(sha(Buffer.from([0x78, 0xff])));
    expect(r.detail).not.toContain('\n');
    expect(JSON.parse(r.record!)).toMatchObject({ path: 'sub/a.py', sizeBytes: 2 });
  });
});

describe('filterFile / filterFiles with a ContentHashStore', () => {
  it('keeps the first file with some content and rejects later copies as duplicate', () => {
    const seen = new ContentHashStore();
    const text = 'print(1)\n';
    const first = accepted(filterFile(source('a.py', text), { seen }));
    const dup = rejected(filterFile(source('copy/a.py', text), { seen }));
    expect(dup).toMatchObject({ stage: FILTER_STAGE, reason: 'duplicate', recordId: first.id, path: 'copy/a.py' });
    expect(dup.detail).toContain('a.py');
    expect(seen.has(first.id)).toBe('a.py');
    expect(seen.size).toBe(1);
    // Same text with a BOM is the same content.
    expect(rejected(filterFile(source('bom.py', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])), { seen })).reason).toBe('duplicate');
  });

  it('does not remember rejected files', () => {
    const seen = new ContentHashStore();
    rejected(filterFile(source('x_pb2.py', 'x = 1\n'), { seen }));
    expect(seen.size).toBe(0);
    accepted(filterFile(source('x.py', 'x = 1\n'), { seen }));
  });

  it('resumes dedup from a snapshot', () => {
    const seen = new ContentHashStore();
    accepted(filterFile(source('a.py', 'a = 1\n'), { seen }));
    const restored = ContentHashStore.fromSnapshot(JSON.parse(JSON.stringify(seen.snapshot())) as Array<[string, string]>);
    expect(rejected(filterFile(source('b.py', 'a = 1\n'), { seen: restored })).detail).toContain('a.py');
    expect(() => new ContentHashStore().restore([[1, 2] as unknown as [string, string]])).toThrow(/snapshot/);
  });

  it('as an operator emits one outcome per file, in order, covering every reason', async () => {
    const seen = new ContentHashStore();
    const inputs = [
      source('ok.py', 'x = 1\n'),
      source('empty.py', ''),
      source('big.py', 'x = 1234567890\n'),
      source('bin.py', Buffer.from([0x78, 0, 0x79])),
      source('bad.py', Buffer.from([0x78, 0xc3])),
      source('README', 'hello\n'),
      source('a_pb2.py', 'x = 2\n'),
      source('a.min.js', 'var a=1;\n'),
      source('again.py', 'x = 1\n'),
    ];
    const outcomes = await lastValueFrom(from(inputs).pipe(filterFiles({ seen, maxBytes: 12 }), toArray()));
    const reasons = outcomes.map((o) => (o.ok ? 'ok' : o.rejection.reason));
    expect(reasons).toEqual(['ok', 'empty', 'too-large', 'binary', 'invalid-utf8', 'unknown-language', 'generated', 'minified', 'duplicate']);
    expect(new Set(reasons.filter((r) => r !== 'ok'))).toEqual(new Set(FILTER_REASONS));
    for (const o of outcomes) if (!o.ok) contracts.Rejection.check(o.rejection);
  });
});
