// A run's output directory, written as a whole or not at all. The run writes into a staging
// folder beside the directory (`<name>.partial-XXXXXX`) and its files are renamed into place
// at the end, so an interrupted or failed run leaves the last complete outputs untouched and
// its own partial ones in a folder that says what it is. A lock file in the directory refuses
// a second run on it; the lock of a run that died (SIGKILL, power loss) is taken over.
import { randomUUID } from 'node:crypto';
import {
  linkSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pseudoFilesystem } from './filesystems.js';

/** A problem with the output directory, said in one line. */
export class OutDirError extends Error {}

export const LOCK_FILE = '.treesynth.lock';
/** Inside a staging folder while its files are being moved into place. */
export const COMMIT_MARKER = '.treesynth-commit';
/** Written into a staging folder left behind by a run that did not finish. */
export const PARTIAL_NOTE = 'INTERRUPTED.txt';
/** Written into place last: its presence says the files beside it are from one complete run. */
const LAST_FILE = 'summary.json';

const errnoOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | null)?.code;
const explain = (error: unknown): string => {
  const code = errnoOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const text = message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return code ? `${text} (${code})` : text;
};

/** The path's stats, or null when nothing is there; other errors say why in one line. */
async function statOrNull(path: string, what: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw new OutDirError(`cannot use ${what}: a part of its path is a file, not a directory`);
    throw new OutDirError(`cannot use ${what}: ${explain(error)}`);
  }
}

/**
 * Creates `dir` and its missing parents, one level at a time. Node's `mkdir(..., { recursive })`
 * never returns where a parent exists but refuses new entries with ENOENT (/proc/x), so it is
 * not used; here every failure is one line. Refuses pseudo-filesystems (/proc, /sys, ...).
 */
export async function ensureDirectory(dir: string, what = dir): Promise<void> {
  const target = resolve(dir);
  const missing: string[] = [];
  let existing = target;
  let info = await statOrNull(existing, what);
  while (info === null) {
    missing.unshift(existing);
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
    info = await statOrNull(existing, what);
  }
  if (info && !info.isDirectory()) {
    throw new OutDirError(existing === target ? `cannot use ${what}: it exists and is not a directory` : `cannot use ${what}: ${existing} is not a directory`);
  }
  const pseudo = await pseudoFilesystem(existing);
  if (pseudo !== null) throw new OutDirError(`cannot use ${what}: ${existing} is on ${pseudo}, a pseudo-filesystem that holds no files`);
  for (const path of missing) {
    try {
      await mkdir(path);
    } catch (error) {
      // Made by someone else meanwhile: fine if it is a directory.
      if (errnoOf(error) === 'EEXIST' && (await statOrNull(path, what))?.isDirectory()) continue;
      throw new OutDirError(`cannot create ${what}: ${explain(error)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The lock

interface LockOwner {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (Linux), so a reused pid is not mistaken for it. */
  start: string | null;
  startedAt: string;
  token: string;
  /** Where that run writes: its partial outputs if it died. */
  staging: string | null;
}

/** Field 22 of /proc/<pid>/stat, or null where there is no /proc. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function parseOwner(text: string): LockOwner | null {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.token === 'string') {
      return { pid: value.pid, host: value.host, start: value.start ?? null, startedAt: String(value.startedAt ?? '?'), token: value.token, staging: value.staging ?? null };
    }
  } catch {
    // not JSON: not a lock of ours
  }
  return null;
}

function readOwner(path: string): LockOwner | null | 'missing' {
  try {
    return parseOwner(readFileSync(path, 'utf8'));
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return 'missing';
    throw new OutDirError(`cannot read the lock ${path}: ${explain(error)}`);
  }
}

type Liveness = 'running' | 'gone' | 'elsewhere';

function liveness(owner: LockOwner): Liveness {
  if (owner.host !== hostname()) return 'elsewhere';
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if (errnoOf(error) === 'ESRCH') return 'gone';
    // EPERM: it exists, under another user.
  }
  // A pid in use by a process that started at another time is a reused pid (containers
  // restart from low pids): the holder is gone.
  const start = processStart(owner.pid);
  return owner.start !== null && start !== null && start !== owner.start ? 'gone' : 'running';
}

class Lock {
  readonly path: string;
  readonly #owner: LockOwner;

  constructor(dir: string) {
    this.path = join(dir, LOCK_FILE);
    this.#owner = { pid: process.pid, host: hostname(), start: processStart(process.pid), startedAt: new Date().toISOString(), token: randomUUID(), staging: null };
  }

  /** Takes the lock, or throws saying who holds it; takes over a lock whose process is gone. */
  acquire(out: string, log: (line: string) => void): void {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (this.#create()) return;
      const holder = readOwner(this.path);
      if (holder === 'missing') continue; // released meanwhile
      if (holder === null) throw new OutDirError(`${this.path} is not a treesynth lock: remove it if no run uses ${out}`);
      const state = liveness(holder);
      if (state === 'running') {
        throw new OutDirError(`${out} is in use by another treesynth run (pid ${holder.pid}, started ${holder.startedAt}): wait for it to finish or choose another --out`);
      }
      if (state === 'elsewhere') {
        throw new OutDirError(`${out} is locked by pid ${holder.pid} on host ${holder.host} (started ${holder.startedAt}): if no run is active there, remove ${this.path}`);
      }
      if (this.#takeOver(holder)) {
        const partial = holder.staging !== null && exists(holder.staging) ? `; what it had written is in ${holder.staging}` : '';
        log(`treesynth: took over the lock on ${out} from pid ${holder.pid} (started ${holder.startedAt}), which is no longer running${partial}`);
      }
    }
    throw new OutDirError(`cannot lock ${out}: other runs keep taking the lock`);
  }

  /** Records where this run writes, so a run that finds the lock stale can say where to look. */
  recordStaging(staging: string): void {
    this.#owner.staging = staging;
    const temp = `${this.path}.${this.#owner.token}`;
    writeFileSync(temp, JSON.stringify(this.#owner));
    renameSync(temp, this.path);
  }

  /** True while the lock file is still this run's. */
  held(): boolean {
    const holder = readOwner(this.path);
    return holder !== 'missing' && holder !== null && holder.token === this.#owner.token;
  }

  release(): void {
    try {
      if (this.held()) unlinkSync(this.path);
    } catch {
      // A lock left behind is taken over by the next run, with a line saying so.
    }
  }

  // Written whole under a temporary name, then linked into place: link fails if the lock
  // exists, and a reader never sees half a lock.
  #create(): boolean {
    const temp = `${this.path}.${this.#owner.token}`;
    try {
      writeFileSync(temp, JSON.stringify(this.#owner), { flag: 'wx' });
    } catch (error) {
      throw new OutDirError(`cannot write in ${dirname(this.path)}: ${explain(error)}`);
    }
    try {
      linkSync(temp, this.path);
      return true;
    } catch (error) {
      if (errnoOf(error) === 'EEXIST') return false;
      // No hard links here (some network and FUSE file systems): exclusive create instead.
      try {
        writeFileSync(this.path, JSON.stringify(this.#owner), { flag: 'wx' });
        return true;
      } catch (inner) {
        if (errnoOf(inner) === 'EEXIST') return false;
        throw new OutDirError(`cannot lock ${dirname(this.path)}: ${explain(inner)}`);
      }
    } finally {
      rmSync(temp, { force: true });
    }
  }

  // Moves the stale lock aside and checks it is the one judged stale: a run that took it over
  // meanwhile has a new token, and gets its lock back.
  #takeOver(stale: LockOwner): boolean {
    const aside = `${this.path}.stale-${this.#owner.token}`;
    try {
      renameSync(this.path, aside);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return false;
      throw new OutDirError(`cannot take over the lock ${this.path}: ${explain(error)}`);
    }
    const moved = readOwner(aside);
    if (moved !== 'missing' && moved !== null && moved.token !== stale.token) {
      try {
        linkSync(aside, this.path);
      } catch {
        // Someone locked it again meanwhile; their commit checks that the lock is still theirs.
      }
      rmSync(aside, { force: true });
      return false;
    }
    rmSync(aside, { force: true });
    return true;
  }
}

const statOrUndefined = (path: string): Stats | undefined => {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
};
const exists = (path: string): boolean => statOrUndefined(path) !== undefined;

// ---------------------------------------------------------------------------------------------
// Staging and moving into place

/** The files of `staging` to move into place, summary.json last. */
function outputsIn(staging: string): string[] {
  const names = readdirSync(staging).filter((n) => n !== COMMIT_MARKER && n !== PARTIAL_NOTE);
  return names.sort((a, b) => Number(a === LAST_FILE) - Number(b === LAST_FILE));
}

/** Moves every file of `staging` into `out`, summary.json last, then removes `staging`. */
function moveInto(staging: string, out: string): void {
  const names = outputsIn(staging);
  for (const name of names) {
    try {
      renameSync(join(staging, name), join(out, name));
    } catch (error) {
      throw new OutDirError(`cannot move ${name} into ${out}: ${explain(error)} (the rest stays in ${staging}; the next run finishes the move)`);
    }
  }
  rmSync(join(staging, PARTIAL_NOTE), { force: true });
  rmSync(join(staging, COMMIT_MARKER), { force: true });
  rmdirSync(staging);
}

/** Staging folders of `out` whose move into place was cut short: finished by the next run. */
function finishInterruptedMoves(out: string, places: readonly string[], prefix: string, log: (line: string) => void): void {
  for (const place of places) {
    let names: string[];
    try {
      names = readdirSync(place);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const staging = join(place, name);
      let target: string;
      try {
        target = readFileSync(join(staging, COMMIT_MARKER), 'utf8');
      } catch {
        continue; // no marker: an interrupted run's partial outputs, left for the user
      }
      if (target !== out) continue;
      moveInto(staging, out);
      log(`treesynth: finished putting the outputs of an earlier run into ${out} (moving them had been cut short)`);
    }
  }
}

export interface OutDirOptions {
  /** Lines for the user: a lock taken over, an earlier move finished. */
  log?: (line: string) => void;
}

export interface StagedOutDir {
  /** The output directory, absolute. */
  readonly out: string;
  /** Where this run writes its files until commit(). */
  readonly staging: string;
  /** Moves the staged files into place (summary.json last) and releases the lock. Synchronous. */
  commit(): void;
  /**
   * Leaves the staging folder as this run's partial outputs, with a note saying why, and
   * releases the lock; `out` is untouched. Returns the folder, or null when nothing was written
   * (then it is removed). Synchronous, so a signal handler can call it.
   */
  abandon(reason: string): string | null;
}

/**
 * Locks `out` (created if missing) for this run and makes its staging folder: beside `out`,
 * or inside it when the parent is not writable or is another file system (a rename must not
 * cross one). Finishes first any earlier move into `out` that was cut short.
 */
export async function openOutDir(out: string, options: OutDirOptions = {}): Promise<StagedOutDir> {
  const log = options.log ?? (() => undefined);
  const dir = resolve(out);
  await ensureDirectory(dir, `output directory ${out}`);
  const lock = new Lock(dir);
  lock.acquire(out, log);
  try {
    const name = basename(dir) || 'out';
    const prefix = `${name}.partial-`;
    const parent = dirname(dir);
    finishInterruptedMoves(dir, parent === dir ? [dir] : [parent, dir], prefix, log);
    const staging = makeStaging(dir, parent, prefix);
    lock.recordStaging(staging);
    const startedAt = new Date().toISOString();
    let settled = false;
    return {
      out: dir,
      staging,
      commit() {
        if (settled) throw new OutDirError('the outputs were already committed or abandoned');
        if (!lock.held()) throw new OutDirError(`lost the lock on ${out} to another run: this run's outputs stay in ${staging}`);
        // A rename onto a directory fails: find that out before moving anything.
        const blocked = outputsIn(staging).find((name) => statOrUndefined(join(dir, name))?.isDirectory());
        if (blocked !== undefined) throw new OutDirError(`cannot put ${blocked} into ${out}: a directory of that name is in the way`);
        settled = true;
        try {
          // From here on the move is finished by the next run on `out` if this one is cut short.
          writeFileSync(join(staging, COMMIT_MARKER), dir);
          moveInto(staging, dir);
        } finally {
          lock.release();
        }
      },
      abandon(reason) {
        if (settled) return null;
        settled = true;
        let kept: string | null = staging;
        try {
          if (readdirSync(staging).length === 0) {
            rmdirSync(staging);
            kept = null;
          } else {
            writeFileSync(
              join(staging, PARTIAL_NOTE),
              `These are the partial outputs of a treesynth run that did not finish: ${reason}.\n` +
                `The outputs of the last complete run are in ${dir}, untouched.\n` +
                `Started ${startedAt}, stopped ${new Date().toISOString()}, pid ${process.pid}.\n`,
            );
          }
        } catch {
          // The folder is still named as partial; the note is a courtesy.
        }
        lock.release();
        return kept;
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

function makeStaging(dir: string, parent: string, prefix: string): string {
  const device = statSync(dir).dev;
  if (parent !== dir) {
    try {
      const beside = mkdtempSync(join(parent, prefix));
      if (statSync(beside).dev === device) return beside;
      rmdirSync(beside); // `out` is a mount point: renames from here would cross file systems
    } catch {
      // The parent is not writable: stage inside `out` instead.
    }
  }
  try {
    return mkdtempSync(join(dir, prefix));
  } catch (error) {
    throw new OutDirError(`cannot write in ${dir}: ${explain(error)}`);
  }
}
