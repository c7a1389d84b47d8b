// Reads the files of a commit/tree through git instead of the work tree: `git ls-tree` lists the
// blobs (streamed, never held whole) and one long-lived `git cat-file --batch` serves them one at
// a time, so memory stays at one file. Committed trees already exclude gitignored files.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { SourceFile } from '../schemas/contract.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';
// directory-source imports this module back (for its gitRef option): use these only inside
// functions, never at module evaluation, so the cycle stays harmless.
import {
  DEFAULT_MAX_READ_BYTES,
  DEFAULT_SKIP_DIRS,
  SOURCE_STAGE,
  inSkippedDir,
  languageHintFor,
  statInput,
  tooLarge,
  type SourceRules,
} from './directory-source.js';
import { gitTreeMetadata, type SourceMetadata } from './source-metadata.js';

export type GitTreeSourceOptions = SourceRules;

const SYMLINK_MODE = '120000';
const MAX_STDERR_CHARS = 4096;

/** Pulls bytes from a stream on demand: delimited records and exact-length payloads. */
class ByteReader {
  readonly #chunks: AsyncIterator<Buffer>;
  #buffered: Buffer[] = [];
  /** Bytes of #buffered[0] already consumed. */
  #head = 0;
  #available = 0;

  constructor(stream: Readable) {
    this.#chunks = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    const next = await this.#chunks.next();
    if (next.done) return false;
    this.#buffered.push(next.value);
    this.#available += next.value.length;
    return true;
  }

  #take(n: number): Buffer {
    const parts: Buffer[] = [];
    let needed = n;
    while (needed > 0) {
      const chunk = this.#buffered[0]!;
      const part = chunk.subarray(this.#head, Math.min(chunk.length, this.#head + needed));
      parts.push(part);
      needed -= part.length;
      this.#head += part.length;
      if (this.#head === chunk.length) {
        this.#buffered.shift();
        this.#head = 0;
      }
    }
    this.#available -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** The bytes up to (not including) the next `delimiter`, which is consumed; null at a clean end. */
  async readUntil(delimiter: number): Promise<Buffer | null> {
    let scanned = 0; // bytes already searched, counted from the read position
    for (;;) {
      let offset = 0;
      for (let i = 0; i < this.#buffered.length; i++) {
        const chunk = this.#buffered[i]!;
        const start = i === 0 ? this.#head : 0;
        const length = chunk.length - start;
        if (offset + length > scanned) {
          const from = start + Math.max(0, scanned - offset);
          const at = chunk.indexOf(delimiter, from);
          if (at >= 0) {
            const record = this.#take(offset + (at - start));
            this.#take(1);
            return record;
          }
        }
        offset += length;
      }
      scanned = offset;
      if (!(await this.#fill())) {
        if (this.#available === 0) return null;
        throw new Error('git output ended inside a record');
      }
    }
  }

  async readExactly(n: number): Promise<Buffer> {
    while (this.#available < n) {
      if (!(await this.#fill())) throw new Error(`git output ended ${n - this.#available} bytes early`);
    }
    return n === 0 ? Buffer.alloc(0) : this.#take(n);
  }

  close(): void {
    this.#chunks.return?.().catch(() => undefined);
  }
}

interface GitExit {
  readonly code: number | null;
  readonly error?: Error;
}

/** A running git command with its stdout as a ByteReader. */
class GitProcess {
  readonly #child: ChildProcess;
  readonly #stdin: Writable;
  readonly reader: ByteReader;
  readonly exit: Promise<GitExit>;
  #stderr = '';

  constructor(repoDir: string, args: readonly string[]) {
    const child = spawn('git', ['-C', repoDir, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child = child;
    this.#stdin = child.stdin!;
    // EPIPE when git has already exited; the exit status carries the real problem.
    this.#stdin.on('error', () => undefined);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      if (this.#stderr.length < MAX_STDERR_CHARS) this.#stderr += text;
    });
    this.exit = new Promise((resolve) => {
      child.once('error', (error) => resolve({ code: null, error }));
      child.once('close', (code) => resolve({ code }));
    });
    this.reader = new ByteReader(child.stdout!);
  }

  write(text: string): void {
    this.#stdin.write(text);
  }

  /** A one-line description of why git failed. */
  async failure(what: string): Promise<Error> {
    const exit = await this.exit;
    if ((exit.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      return new Error(`git is not available (needed to read ${what})`);
    }
    const message = this.#stderr.trim().split('\n')[0]?.replace(/^fatal: /, '') || `exit code ${exit.code}`;
    return new Error(`git could not read ${what}: ${message}`);
  }

  stop(): void {
    this.reader.close();
    this.#stdin.end();
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill();
  }
}

interface TreeEntry {
  readonly mode: string;
  readonly type: string;
  readonly oid: string;
  readonly size: number;
  readonly path: string;
}

/** The blobs of `ref` a source reads: no symlinks or submodules, nothing under a skipped directory. */
async function* treeBlobs(repoDir: string, ref: string, options: GitTreeSourceOptions): AsyncGenerator<TreeEntry> {
  await statInput(repoDir);
  // A leading '-' would be parsed as an option.
  if (ref === '' || ref.startsWith('-')) throw new Error(`invalid git ref: ${JSON.stringify(ref)}`);
  const skipDirs = new Set(options.skipDirs ?? DEFAULT_SKIP_DIRS);
  const what = `${ref} in ${repoDir}`;
  const ls = new GitProcess(repoDir, ['ls-tree', '-r', '-z', '--long', ref]);
  try {
    for (;;) {
      let record: Buffer | null;
      try {
        record = await ls.reader.readUntil(0);
      } catch {
        throw await ls.failure(what);
      }
      if (record === null) break;
      // "<mode> SP <type> SP <oid> SP+ <size> TAB <path>"; the path is raw (no quoting with -z).
      const line = record.toString('utf8');
      const tab = line.indexOf('\t');
      const [mode = '', type = '', oid = '', size = ''] = line.slice(0, tab).trim().split(/\s+/);
      const path = line.slice(tab + 1);
      if (type !== 'blob' || mode === SYMLINK_MODE || inSkippedDir(path, skipDirs)) continue;
      yield { mode, type, oid, size: Number(size), path };
    }
    if ((await ls.exit).code !== 0) throw await ls.failure(what);
  } finally {
    ls.stop();
  }
}

/**
 * The files of commit/tree `ref` of the repository at `repoDir` as SourceFiles (paths relative
 * to repoDir, which may be a subdirectory of the work tree), in ls-tree order, position =
 * 1-based ordinal, source = `<repoDir>@<ref>`. Throws on the first pull when repoDir does not
 * exist, git is missing, or the ref does not name a tree.
 */
export async function* readGitTree(
  repoDir: string,
  ref: string,
  options: GitTreeSourceOptions = {},
): AsyncGenerator<Outcome<SourceFile>> {
  const maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  const source = `${repoDir}@${ref}`;
  let catFile: GitProcess | undefined;
  let position = 0;
  let metadata: SourceMetadata | undefined;
  try {
    for await (const entry of treeBlobs(repoDir, ref, options)) {
      position += 1;
      metadata ??= await gitTreeMetadata(repoDir, ref);
      if (entry.size > maxReadBytes) {
        yield tooLarge(entry.path, source, position, entry.size, maxReadBytes);
        continue;
      }
      catFile ??= new GitProcess(repoDir, ['cat-file', '--batch']);
      catFile.write(`${entry.oid}\n`);
      let header: Buffer | null;
      try {
        header = await catFile.reader.readUntil(0x0a);
      } catch {
        header = null;
      }
      if (header === null) throw await catFile.failure(`blob ${entry.oid} (${entry.path})`);
      // "<oid> blob <size>", or "<oid> missing" for an object the repository lacks.
      const [, type, size] = header.toString('utf8').split(' ');
      if (type !== 'blob' || size === undefined) {
        yield reject({
          stage: SOURCE_STAGE,
          reason: 'unreadable',
          detail: `git cat-file: ${header.toString('utf8')}`,
          recordId: entry.oid,
          path: entry.path,
          source,
          position,
        });
        continue;
      }
      const content = await catFile.reader.readExactly(Number(size));
      await catFile.reader.readExactly(1); // the LF after every object
      yield accept({
        path: entry.path,
        content,
        languageHint: languageHintFor(entry.path, content),
        source,
        position,
        readAt: Date.now(),
        repository: metadata.repository,
        license: metadata.license,
      });
    }
  } finally {
    catFile?.stop();
  }
}

/** The paths readGitTree would yield, one per outcome, without reading any blob. */
export async function* listGitTree(repoDir: string, ref: string, options: GitTreeSourceOptions = {}): AsyncGenerator<string> {
  for await (const entry of treeBlobs(repoDir, ref, options)) yield entry.path;
}
