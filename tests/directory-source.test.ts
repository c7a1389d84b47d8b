import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { listDirectory, readDirectory } from '../connectors/directory-source.js';
import { listGitTree, readGitTree } from '../connectors/git-tree-source.js';
import type { Outcome } from '../schemas/outcome.js';
import type { Rejection, SourceFile } from '../schemas/contract.js';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

const files = (outcomes: Outcome<SourceFile>[]): SourceFile[] => outcomes.flatMap((o) => (o.ok ? [o.value] : []));
const rejections = (outcomes: Outcome<SourceFile>[]): Rejection[] => outcomes.flatMap((o) => (o.ok ? [] : [o.rejection]));

async function put(root: string, rel: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), content);
}

let root: string;
const hasSetpriv = (() => {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'treesynth-dir-'));
});
afterEach(async () => {
  await chmod(root, 0o755).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

describe('readDirectory', () => {
  beforeEach(async () => {
    await put(root, '.gitignore', '*.log\n!keep.log\nbuild/\n');
    await put(root, '.git/info/exclude', 'excluded.py\n');
    await put(root, '.git/HEAD', 'ref: refs/heads/main\n');
    await put(root, 'a.py', 'print("a")\n');
    await put(root, 'debug.log', 'ignored\n');
    await put(root, 'keep.log', 'negated, so kept\n');
    await put(root, 'excluded.py', 'x = 1\n');
    await put(root, 'build/out.js', 'ignored dir\n');
    await put(root, 'script', '#!/usr/bin/env python3\nprint(1)\n');
    await put(root, 'notes.xyz', 'unknown extension\n');
    await put(root, 'node_modules/pkg/index.js', 'vendored\n');
    await put(root, 'vendor/lib.go', 'package lib\n');
    await put(root, 'pkg/third_party/x.py', 'vendored deeper\n');
    await put(root, 'src/.gitignore', 'secret.ts\n/local.js\n!debug.log\n');
    await put(root, 'src/main.ts', 'export const x = 1;\n');
    await put(root, 'src/secret.ts', 'ignored by nested\n');
    await put(root, 'src/local.js', 'ignored by anchored nested\n');
    await put(root, 'src/debug.log', 're-included by nested negation\n');
    await put(root, 'src/deep/local.js', 'anchored pattern does not reach here\n');
    await put(root, 'src/deep/secret.ts', 'unanchored nested pattern reaches here\n');
    await put(root, 'src/deep/view.tsx', 'export default 1;\n');
    await put(root, 'other/secret.ts', 'nested .gitignore of src does not apply here\n');
    await put(root, 'tools/run', '#!/bin/sh\necho hi\n');
    await symlink(join(root, 'a.py'), join(root, 'link.py'));
    await symlink(join(root, 'src'), join(root, 'linkdir'));
  });

  it('yields exactly the files git would track, in name order, with language hints', async () => {
    const outcomes = await collect(readDirectory(root));
    expect(rejections(outcomes)).toEqual([]);
    const got = files(outcomes).map((f) => [f.path, f.languageHint]);
    expect(got).toEqual([
      ['.gitignore', null],
      ['a.py', 'python'],
      ['keep.log', null],
      ['notes.xyz', null],
      ['other/secret.ts', 'typescript'],
      ['script', 'python'],
      ['src/.gitignore', null],
      ['src/debug.log', null],
      ['src/deep/local.js', 'javascript'],
      ['src/deep/view.tsx', 'tsx'],
      ['src/main.ts', 'typescript'],
      ['tools/run', null],
    ]);
  });

  it('fills the SourceFile fields: bytes, source as given, 1-based positions, readAt', async () => {
    const before = Date.now();
    const got = files(await collect(readDirectory(root)));
    const a = got.find((f) => f.path === 'a.py')!;
    expect(Buffer.isBuffer(a.content)).toBe(true);
    expect(a.content.toString()).toBe('print("a")\n');
    expect(a.source).toBe(root);
    expect(got.map((f) => f.position)).toEqual(got.map((_, i) => i + 1));
    expect(a.readAt).toBeGreaterThanOrEqual(before);
  });

  it('can turn gitignore off and replace the skip list', async () => {
    const got = files(await collect(readDirectory(root, { gitignore: false, skipDirs: ['vendor'] }))).map((f) => f.path);
    expect(got).toContain('debug.log');
    expect(got).toContain('excluded.py');
    expect(got).toContain('build/out.js');
    expect(got).toContain('node_modules/pkg/index.js');
    expect(got).toContain('pkg/third_party/x.py');
    expect(got).not.toContain('vendor/lib.go');
    expect(got.some((p) => p.startsWith('.git/'))).toBe(false);
    expect(got.some((p) => p.startsWith('link'))).toBe(false);
  });

  it('never enters the directories excludeDir names', async () => {
    const got = files(await collect(readDirectory(root, { excludeDir: (dir) => dir === join(root, 'src') }))).map((f) => f.path);
    expect(got.some((p) => p.startsWith('src/'))).toBe(false);
    expect(got).toContain('other/secret.ts');
  });

  it('reads only the files `only` accepts, under the same rules (what a file-system event named)', async () => {
    const all = files(await collect(readDirectory(root))).map((f) => f.path);
    const named = new Set([all[0]!, 'debug.log', 'node_modules/pkg/index.js', 'no/such/file.py']);
    const got = files(await collect(readDirectory(root, { only: (rel) => named.has(rel) }))).map((f) => f.path);
    // Ignored and skipped paths stay out even when named; a path that is not there is not read.
    expect(got).toEqual([all[0]]);
  });

  it('listDirectory names the same paths without reading', async () => {
    const listed = await collect(listDirectory(root));
    const read = (await collect(readDirectory(root))).map((o) => (o.ok ? o.value.path : o.rejection.path));
    expect(listed).toEqual(read);
  });

  it('rejects files over maxReadBytes as too-large without failing the walk', async () => {
    await put(root, 'big.py', Buffer.alloc(2000, 0x61));
    const outcomes = await collect(readDirectory(root, { maxReadBytes: 1000 }));
    const [rejected, ...rest] = rejections(outcomes);
    expect(rest).toEqual([]);
    expect(rejected).toMatchObject({ stage: 'source', reason: 'too-large', path: 'big.py', source: root, record: null });
    expect(rejected!.position).toBe(outcomes.findIndex((o) => !o.ok) + 1);
    expect(files(outcomes).map((f) => f.path)).toContain('a.py');
  });

  // As root every file is readable, so there the check runs the CLI as an unprivileged user.
  const asRoot = process.getuid?.() === 0;
  // Defined for the user the suite runs as, so neither variant shows up as skipped.
  if (asRoot) it('turns unreadable files and directories into rejections (CLI as an unprivileged user)', async () => {
    expect(hasSetpriv, 'setpriv (util-linux) is needed to drop root for this check').toBe(true);
    const base = await mkdtemp(join(tmpdir(), 'treesynth-unreadable-'));
    try {
      await put(base, 'corpus/a.py', 'x = 1\n');
      await put(base, 'corpus/b.py', 'y = 2\n');
      await put(base, 'corpus/other/c.py', 'z = 3\n');
      await chmod(base, 0o777);
      await chmod(join(base, 'corpus'), 0o755);
      await chmod(join(base, 'corpus', 'a.py'), 0o600);
      await chmod(join(base, 'corpus', 'other'), 0o700);
      const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', bin, 'run', '--input', join(base, 'corpus'), '--out', join(base, 'out'), '-q', '--tasks', '1'], {
        env: { ...process.env, CI: 'true', OPENAI_BASE_URL: '', OPENAI_API_KEY: '' },
      });
      const rejected = (await import('node:fs')).readFileSync(join(base, 'out', 'rejected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rejection);
      const unreadable = rejected.filter((r) => r.stage === 'source');
      expect(unreadable.map((r) => [r.path, r.reason]).sort()).toEqual([['a.py', 'unreadable'], ['other', 'unreadable']]);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  else it('turns unreadable files and directories into rejections', async () => {
    await chmod(join(root, 'a.py'), 0o000);
    await chmod(join(root, 'other'), 0o000);
    try {
      const got = rejections(await collect(readDirectory(root)));
      expect(got.map((r) => [r.path, r.reason])).toEqual([
        ['a.py', 'unreadable'],
        ['other', 'unreadable'],
      ]);
    } finally {
      await chmod(join(root, 'a.py'), 0o644);
      await chmod(join(root, 'other'), 0o755);
    }
  });
});

describe('readDirectory edge inputs', () => {
  it('reads a single file given as the root', async () => {
    await put(root, 'tool', '#!/usr/bin/env node\nconsole.log(1)\n');
    const file = join(root, 'tool');
    const got = await collect(readDirectory(file));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ ok: true, value: { path: 'tool', languageHint: 'javascript', source: file, position: 1 } });
  });

  it('throws a one-line error for a missing root before yielding anything', async () => {
    const missing = join(root, 'nope');
    await expect(collect(readDirectory(missing))).rejects.toThrow(`input not found: ${missing}`);
    await expect(collect(listDirectory(missing))).rejects.toThrow(`input not found: ${missing}`);
  });

  it('rejects FIFOs and sockets in the tree with a reason, never opening them, and keeps walking', async () => {
    await put(root, 'a.py', 'x = 1\n');
    await put(root, 'z.py', 'y = 2\n');
    execFileSync('mkfifo', [join(root, 'pipe.py')]);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(root, 'sock.py'), resolve));
    try {
      const got = await collect(readDirectory(root));
      expect(files(got).map((f) => f.path)).toEqual(['a.py', 'z.py']);
      expect(rejections(got).map((r) => [r.path, r.reason, r.stage, r.detail])).toEqual([
        ['pipe.py', 'not-a-file', 'source', 'a FIFO, not a regular file: never opened'],
        ['sock.py', 'not-a-file', 'source', 'a socket, not a regular file: never opened'],
      ]);
      // Counted like any outcome: a progress total covers them too.
      expect(await collect(listDirectory(root))).toEqual(['a.py', 'pipe.py', 'sock.py', 'z.py']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects a device or a FIFO given as the input itself instead of blocking on it', async () => {
    expect(rejections(await collect(readDirectory('/dev/null'))).map((r) => [r.path, r.reason])).toEqual([['null', 'not-a-file']]);
    execFileSync('mkfifo', [join(root, 'input.py')]);
    const got = await collect(readDirectory(join(root, 'input.py')));
    expect(rejections(got).map((r) => [r.path, r.reason, r.detail])).toEqual([['input.py', 'not-a-file', 'a FIFO, not a regular file: never opened']]);
  });
});

describe('readDirectory on pseudo-filesystems', () => {
  // /proc and /sys look like files but are kernel interfaces: /proc/kmsg never ends, so a walk
  // that read it would hang.
  it('rejects /proc as the input without entering it', async () => {
    const got = await collect(readDirectory('/proc'));
    expect(got.map((o) => (o.ok ? o.value.path : [o.rejection.path, o.rejection.reason, o.rejection.detail]))).toEqual([
      ['.', 'pseudo-filesystem', 'on proc, a kernel interface, not code: not read'],
    ]);
    expect(await collect(listDirectory('/sys'))).toEqual(['.']);
  });

  it('rejects a single file on /proc given as the input without reading it', async () => {
    const got = await collect(readDirectory('/proc/self/status'));
    expect(rejections(got).map((r) => [r.path, r.reason])).toEqual([['status', 'pseudo-filesystem']]);
  });
});

describe('readDirectory on very deep trees', () => {
  // A tree nested 2,000 levels deep still fits in PATH_MAX with one-letter names; walking it by
  // recursion overflowed the call stack.
  it('walks a 2,000-level tree without recursion and reads the file at the bottom', async () => {
    const deep = join(root, 'deep');
    execFileSync('mkdir', ['-p', 'deep/' + 'd/'.repeat(2000)], { cwd: root });
    await writeFile(join(deep, 'd/'.repeat(2000), 'leaf.py'), 'x = 1\n');
    await writeFile(join(deep, 'top.py'), 'y = 2\n');
    const got = await collect(readDirectory(deep));
    expect(rejections(got)).toEqual([]);
    expect(files(got).map((f) => f.path)).toEqual([`${'d/'.repeat(2000)}leaf.py`, 'top.py']);
    expect((await collect(listDirectory(deep))).length).toBe(2);
  });

  // 3,000 levels are past PATH_MAX: the directory where the path gets too long is one rejection.
  it('turns a directory whose path is too long for the system into one rejection, not a crash', async () => {
    const deep = join(root, 'deeper');
    execFileSync('mkdir', ['-p', 'deeper/' + 'd/'.repeat(3000)], { cwd: root });
    await writeFile(join(deep, 'top.py'), 'y = 2\n');
    try {
      const got = await collect(readDirectory(deep));
      expect(files(got).map((f) => f.path)).toEqual(['top.py']);
      const [tooLong, ...others] = rejections(got);
      expect(others).toEqual([]);
      expect(tooLong).toMatchObject({ stage: 'source', reason: 'unreadable', position: 1 });
      expect(tooLong!.detail).toBe('cannot list directory: ENAMETOOLONG (its path is longer than the system allows)');
      expect(tooLong!.path).toMatch(/^(d\/)+d$/);
    } finally {
      // GNU rm descends with openat, so it can remove what Node cannot name.
      execFileSync('rm', ['-rf', deep]);
    }
  });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
  });
}

const hasGit = (() => {
  try {
    execFileSync('git', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasGit)('readGitTree', () => {
  let first: string;
  beforeEach(async () => {
    git(root, 'init', '-q', '-b', 'main');
    await put(root, 'a.py', 'print("committed")\n');
    await put(root, 'src/b.ts', 'export const b = 1;\n');
    await put(root, 'bin/tool', '#!/usr/bin/env python\nprint(1)\n');
    await put(root, 'node_modules/x/index.js', 'vendored but committed\n');
    await put(root, 'big.js', Buffer.alloc(3000, 0x61));
    await put(root, 'data.bin', Buffer.from([0, 1, 2, 255, 0x0a]));
    await symlink('a.py', join(root, 'link.py'));
    git(root, 'add', '-A');
    git(root, 'commit', '-q', '-m', 'one');
    first = git(root, 'rev-parse', 'HEAD').trim();
    // The work tree moves on: the reader must not see any of this.
    await put(root, 'a.py', 'print("changed in work tree")\n');
    await put(root, 'untracked.py', 'x = 1\n');
    git(root, 'rm', '-q', 'src/b.ts');
    await put(root, 'c.go', 'package c\n');
    git(root, 'add', 'c.go');
    git(root, 'commit', '-q', '-m', 'two');
  });

  it('reads the committed blobs of a ref, not the work tree', async () => {
    const outcomes = await collect(readGitTree(root, first, { maxReadBytes: 1000 }));
    const got = files(outcomes);
    expect(got.map((f) => [f.path, f.languageHint])).toEqual([
      ['a.py', 'python'],
      ['bin/tool', 'python'],
      ['data.bin', null],
      ['src/b.ts', 'typescript'],
    ]);
    expect(got[0]!.content.toString()).toBe('print("committed")\n');
    expect(got[2]!.content).toEqual(Buffer.from([0, 1, 2, 255, 0x0a]));
    expect(got.every((f) => f.source === `${root}@${first}`)).toBe(true);
    const rejected = rejections(outcomes);
    expect(rejected.map((r) => [r.path, r.reason, r.stage])).toEqual([['big.js', 'too-large', 'source']]);
    expect(outcomes.map((o) => (o.ok ? o.value.position : o.rejection.position))).toEqual([1, 2, 3, 4, 5]);
    expect(await collect(listGitTree(root, first, {}))).toEqual(['a.py', 'big.js', 'bin/tool', 'data.bin', 'src/b.ts']);
  });

  it('is what readDirectory does with gitRef, and follows later commits', async () => {
    const got = files(await collect(readDirectory(root, { gitRef: 'HEAD' }))).map((f) => f.path);
    expect(got).toEqual(['a.py', 'big.js', 'bin/tool', 'c.go', 'data.bin']);
    expect(await collect(listDirectory(root, { gitRef: 'HEAD' }))).toEqual(got);
  });

  it('reads a subdirectory relative to itself', async () => {
    const got = files(await collect(readGitTree(join(root, 'bin'), first)));
    expect(got.map((f) => f.path)).toEqual(['tool']);
  });

  it('streams many blobs of varied sizes across pipe chunk boundaries byte for byte', async () => {
    const expected = new Map<string, Buffer>();
    for (let i = 0; i < 120; i++) {
      const size = (i * 7919) % 200_000;
      const content = Buffer.alloc(size, `${i}\n\0\xff`);
      expected.set(`many/f${String(i).padStart(3, '0')}.txt`, content);
      await put(root, `many/f${String(i).padStart(3, '0')}.txt`, content);
    }
    git(root, 'add', 'many');
    git(root, 'commit', '-q', '-m', 'many');
    const got = files(await collect(readGitTree(join(root, 'many'), 'HEAD')));
    expect(got).toHaveLength(120);
    for (const f of got) expect(f.content.equals(expected.get(`many/${f.path}`)!)).toBe(true);
  });

  it('stops its git processes when the consumer stops early', async () => {
    const gitChildren = (): string[] => {
      try {
        return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'git'], { encoding: 'utf8' }).split('\n').filter(Boolean);
      } catch {
        return []; // pgrep exits 1 when nothing matches
      }
    };
    for await (const outcome of readGitTree(root, first)) {
      expect(outcome.ok).toBe(true);
      expect(gitChildren().length).toBeGreaterThan(0);
      break;
    }
    await vi.waitFor(() => expect(gitChildren()).toEqual([]), { timeout: 5000 });
  });

  it('throws clear errors for a bad ref, an option-like ref, a non-repository and a missing dir', async () => {
    await expect(collect(readGitTree(root, 'no-such-ref'))).rejects.toThrow(/git could not read no-such-ref/);
    await expect(collect(readGitTree(root, '--output=x'))).rejects.toThrow(/invalid git ref/);
    const plain = await mkdtemp(join(tmpdir(), 'treesynth-nogit-'));
    try {
      await expect(collect(readGitTree(plain, 'HEAD'))).rejects.toThrow(/not a git repository/);
    } finally {
      await rm(plain, { recursive: true, force: true });
    }
    await expect(collect(readGitTree(join(root, 'missing'), 'HEAD'))).rejects.toThrow(`input not found: ${join(root, 'missing')}`);
  });
});
