// Reads a corpus directory (or a single file) as a stream of SourceFiles, one file in memory at a
// time. Follows git's view of the tree: .gitignore at every level and .git/info/exclude apply,
// .git and vendored directories are never entered, symlinks are never followed.
import type { Dirent, Stats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import type { SourceFile } from '../schemas/contract.js';
import { languageFromExtension, languageFromShebang } from '../schemas/languages.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';
import { pseudoFilesystem } from './filesystems.js';
import { readGitTree, listGitTree } from './git-tree-source.js';
import { directoryMetadata, type SourceMetadata } from './source-metadata.js';

export const SOURCE_STAGE = 'source';

/** Files above this are not read: sources yield a 'too-large' rejection instead. */
export const DEFAULT_MAX_READ_BYTES = 4 * 1024 * 1024;

/** Directory names never entered: dependencies, virtualenvs and caches, not the project's own code. */
export const DEFAULT_SKIP_DIRS: readonly string[] = Object.freeze([
  'node_modules',
  'vendor',
  'third_party',
  'third-party',
  'bower_components',
  'site-packages',
  '.venv',
  'venv',
  '__pycache__',
  '.tox',
  '.mypy_cache',
  '.next',
  '.hg',
  '.svn',
]);

export interface SourceRules {
  /** Default DEFAULT_MAX_READ_BYTES. */
  maxReadBytes?: number;
  /** Directory names to skip anywhere in the tree; replaces DEFAULT_SKIP_DIRS. `.git` is always skipped. */
  skipDirs?: readonly string[];
}

export interface DirectorySourceOptions extends SourceRules {
  /** Honour .gitignore files and .git/info/exclude (default true). */
  gitignore?: boolean;
  /** Read the files of this commit/tree (via git) instead of the work tree. */
  gitRef?: string;
  /** Directories (absolute paths) never entered, e.g. a run's own output folders inside its input. */
  excludeDir?: (absPath: string) => boolean;
  /** Only the files (relative paths) this accepts are read and yielded, under the same rules: what a file-system event named. */
  only?: (relPath: string) => boolean;
}

/** Language named by the extension, else by a `#!` line; null when neither says anything. */
export function languageHintFor(path: string, content: Buffer): string | null {
  const byExtension = languageFromExtension(path);
  if (byExtension !== null) return byExtension;
  if (content.length < 2 || content[0] !== 0x23 /* # */ || content[1] !== 0x21 /* ! */) return null;
  const newline = content.indexOf(0x0a);
  const end = Math.min(newline < 0 ? content.length : newline, 256);
  return languageFromShebang(content.subarray(0, end).toString('utf8'));
}

/** True when a directory segment of `path` (not the file name) is a skipped directory. */
export function inSkippedDir(path: string, skipDirs: ReadonlySet<string>): boolean {
  const segments = path.split('/');
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i]!;
    if (segment === '.git' || skipDirs.has(segment)) return true;
  }
  return false;
}

export const formatBytes = (n: number): string =>
  n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

export function tooLarge(path: string, source: string, position: number, size: number, limit: number): Outcome<SourceFile> {
  return reject({
    stage: SOURCE_STAGE,
    reason: 'too-large',
    detail: `${formatBytes(size)} (${size} bytes) is over the ${formatBytes(limit)} read limit; not read`,
    path,
    source,
    position,
  });
}

const errorCode = (error: unknown): string =>
  (error as NodeJS.ErrnoException | null)?.code ?? (error instanceof Error ? error.message : String(error));

/** Throws `input not found: <path>` when `path` does not exist; returns its (followed) stats. */
export async function statInput(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new Error(`input not found: ${path}`);
    throw new Error(`cannot read input ${path}: ${code}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Walking

interface IgnoreLayer {
  /** Directory the rules belong to, relative to the root ('' for the root). */
  readonly base: string;
  readonly rules: Ignore;
}

type WalkItem =
  | { readonly kind: 'file'; readonly abs: string; readonly rel: string; readonly isRoot: boolean }
  | { readonly kind: 'unreadable-dir'; readonly rel: string; readonly code: string }
  | { readonly kind: 'special'; readonly rel: string; readonly what: string }
  | { readonly kind: 'pseudo'; readonly rel: string; readonly fs: string };

interface WalkContext {
  readonly skipDirs: ReadonlySet<string>;
  readonly excludeDir: (absPath: string) => boolean;
  readonly gitignore: boolean;
  readonly ignoreCase: boolean;
}

/** git's precedence: the deepest .gitignore with a matching rule decides; within one, the last rule. */
function isIgnored(layers: readonly IgnoreLayer[], rel: string, isDir: boolean): boolean {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    const local = layer.base === '' ? rel : rel.slice(layer.base.length + 1);
    const result = layer.rules.test(isDir ? `${local}/` : local);
    if (result.ignored) return true;
    if (result.unignored) return false;
  }
  return false;
}

async function readTextIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** What a directory entry or stats object is when it is neither a file, a directory nor a symlink. */
function specialKind(entry: Dirent | Stats): string | null {
  if (entry.isFIFO()) return 'a FIFO';
  if (entry.isSocket()) return 'a socket';
  if (entry.isCharacterDevice()) return 'a character device';
  if (entry.isBlockDevice()) return 'a block device';
  return null;
}

/** One directory on the walk's path: its sorted entries and how far through them the walk is. */
interface Frame {
  readonly absDir: string;
  readonly relDir: string;
  /** Its file system: entering another one is when to check it is not /proc or the like. */
  readonly dev: number;
  readonly layers: readonly IgnoreLayer[];
  readonly entries: readonly Dirent[];
  next: number;
}

/**
 * The directory's frame, the reason it cannot be listed, or the pseudo-filesystem it is on
 * (never entered: /proc/kmsg never ends). Entries are sorted (deterministic order, so positions
 * are stable across runs); its .gitignore joins the layers.
 */
async function enter(
  context: WalkContext,
  absDir: string,
  relDir: string,
  layers: readonly IgnoreLayer[],
  parentDev: number | null,
): Promise<Frame | string | { readonly pseudo: string }> {
  let entries: Dirent[];
  let dev: number;
  try {
    dev = (await stat(absDir)).dev;
    if (dev !== parentDev) {
      const pseudo = await pseudoFilesystem(absDir);
      if (pseudo !== null) return { pseudo };
    }
    entries = await readdir(absDir, { withFileTypes: true });
  } catch (error) {
    return errorCode(error);
  }
  entries.sort(byName);
  let local = layers;
  if (context.gitignore && entries.some((e) => e.name === '.gitignore' && e.isFile())) {
    const text = await readTextIfPresent(join(absDir, '.gitignore'));
    if (text !== null) local = [...layers, { base: relDir, rules: ignore({ ignorecase: context.ignoreCase }).add(text) }];
  }
  return { absDir, relDir, dev, layers: local, entries, next: 0 };
}

// Depth-first in name order, with an explicit stack instead of recursion: a tree thousands of
// levels deep must not exhaust the call stack. Memory is bounded by the entries of the
// directories on the current path, not by the corpus.
async function* walkTree(context: WalkContext, root: string, rootLayers: readonly IgnoreLayer[]): AsyncGenerator<WalkItem> {
  const first = await enter(context, root, '', rootLayers, null);
  if (typeof first === 'string') {
    yield { kind: 'unreadable-dir', rel: '.', code: first };
    return;
  }
  if ('pseudo' in first) {
    yield { kind: 'pseudo', rel: '.', fs: first.pseudo };
    return;
  }
  const stack: Frame[] = [first];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const entry = frame.entries[frame.next++];
    if (entry === undefined) {
      stack.pop();
      continue;
    }
    if (entry.isSymbolicLink() || entry.name === '.git') continue;
    const rel = frame.relDir === '' ? entry.name : `${frame.relDir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (context.skipDirs.has(entry.name) || isIgnored(frame.layers, rel, true) || context.excludeDir(join(frame.absDir, entry.name))) continue;
      const child = await enter(context, join(frame.absDir, entry.name), rel, frame.layers, frame.dev);
      if (typeof child === 'string') yield { kind: 'unreadable-dir', rel, code: child };
      else if ('pseudo' in child) yield { kind: 'pseudo', rel, fs: child.pseudo };
      else stack.push(child);
    } else if (entry.isFile()) {
      if (!isIgnored(frame.layers, rel, false)) yield { kind: 'file', abs: join(frame.absDir, entry.name), rel, isRoot: false };
    } else {
      // Never opened (reading a FIFO blocks forever, a device may never end), but counted.
      const what = specialKind(entry);
      if (what !== null && !isIgnored(frame.layers, rel, false)) yield { kind: 'special', rel, what };
    }
  }
}

async function* walk(root: string, options: DirectorySourceOptions): AsyncGenerator<WalkItem> {
  const rootStats = await statInput(root);
  if (!rootStats.isDirectory()) {
    const what = specialKind(rootStats);
    const pseudo = await pseudoFilesystem(root);
    if (what !== null) yield { kind: 'special', rel: basename(root), what };
    else if (pseudo !== null) yield { kind: 'pseudo', rel: basename(root), fs: pseudo };
    else yield { kind: 'file', abs: root, rel: basename(root), isRoot: true };
    return;
  }
  const gitignore = options.gitignore ?? true;
  const context: WalkContext = {
    skipDirs: new Set(options.skipDirs ?? DEFAULT_SKIP_DIRS),
    excludeDir: options.excludeDir ?? (() => false),
    gitignore,
    // git's core.ignoreCase default follows the file system; approximate it by platform.
    ignoreCase: process.platform === 'darwin' || process.platform === 'win32',
  };
  const layers: IgnoreLayer[] = [];
  // .git/info/exclude ranks below every .gitignore. Only read when the root is the repo top:
  // an explicitly given subdirectory is read even if an ancestor's rules would ignore it.
  const exclude = gitignore ? await readTextIfPresent(join(root, '.git', 'info', 'exclude')) : null;
  if (exclude !== null) layers.push({ base: '', rules: ignore({ ignorecase: context.ignoreCase }).add(exclude) });
  yield* walkTree(context, root, layers);
}

// ---------------------------------------------------------------------------------------------
// Reading

async function readOne(
  item: Extract<WalkItem, { kind: 'file' }>,
  source: string,
  position: number,
  maxReadBytes: number,
  metadata: SourceMetadata,
): Promise<Outcome<SourceFile>> {
  const unreadable = (code: string): Outcome<SourceFile> =>
    reject({ stage: SOURCE_STAGE, reason: 'unreadable', detail: `cannot read file: ${code}`, path: item.rel, source, position });
  // O_NOFOLLOW: a file swapped for a symlink after listing is still not followed.
  // A single file given as the root may be a symlink the user chose; inside a tree, never.
  // O_NONBLOCK: a file swapped for a FIFO after listing does not block the open (fstat below
  // then rejects it); on a regular file it changes nothing.
  const flags = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0) | (item.isRoot ? 0 : (fsConstants.O_NOFOLLOW ?? 0));
  let handle: FileHandle;
  try {
    handle = await open(item.abs, flags);
  } catch (error) {
    return unreadable(errorCode(error));
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return unreadable('not a regular file');
    if (stats.size > maxReadBytes) return tooLarge(item.rel, source, position, stats.size, maxReadBytes);
    const content = await handle.readFile();
    // The file may have grown since fstat.
    if (content.length > maxReadBytes) return tooLarge(item.rel, source, position, content.length, maxReadBytes);
    return accept({
      path: item.rel,
      content,
      languageHint: languageHintFor(item.rel, content),
      source,
      position,
      readAt: Date.now(),
      repository: metadata.repository,
      license: metadata.license,
    });
  } catch (error) {
    return unreadable(errorCode(error));
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function* readWorkTree(root: string, options: DirectorySourceOptions): AsyncGenerator<Outcome<SourceFile>> {
  const maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  let position = 0;
  // Looked up once the walk has found the root (a missing root fails the walk, not this).
  let metadata: SourceMetadata | undefined;
  for await (const item of walk(root, options)) {
    position += 1;
    if (options.only && !options.only(item.rel)) continue;
    if (item.kind === 'unreadable-dir') {
      yield reject({
        stage: SOURCE_STAGE,
        reason: 'unreadable',
        detail: `cannot list directory: ${item.code}${item.code === 'ENAMETOOLONG' ? ' (its path is longer than the system allows)' : ''}`,
        path: item.rel,
        source: root,
        position,
      });
    } else if (item.kind === 'special') {
      yield reject({ stage: SOURCE_STAGE, reason: 'not-a-file', detail: `${item.what}, not a regular file: never opened`, path: item.rel, source: root, position });
    } else if (item.kind === 'pseudo') {
      yield reject({ stage: SOURCE_STAGE, reason: 'pseudo-filesystem', detail: `on ${item.fs}, a kernel interface, not code: not read`, path: item.rel, source: root, position });
    } else {
      metadata ??= await directoryMetadata(root);
      yield await readOne(item, root, position, maxReadBytes, metadata);
    }
  }
}

/**
 * The files under `root` (or `root` itself when it is a file) as SourceFiles, in a stable
 * depth-first name order, position = 1-based ordinal. Throws `input not found: <root>` on the
 * first pull when root does not exist; per-file problems become 'source' rejections.
 */
export function readDirectory(root: string, options: DirectorySourceOptions = {}): AsyncIterable<Outcome<SourceFile>> {
  if (options.gitRef !== undefined) return readGitTree(root, options.gitRef, options);
  return readWorkTree(root, options);
}

/**
 * The relative paths readDirectory would yield, one per outcome (an unreadable directory counts
 * once), without reading contents: for a progress bar's total.
 */
export async function* listDirectory(root: string, options: DirectorySourceOptions = {}): AsyncGenerator<string> {
  if (options.gitRef !== undefined) {
    yield* listGitTree(root, options.gitRef, options);
    return;
  }
  for await (const item of walk(root, options)) yield item.rel;
}
