// A run's output directory is replaced whole or not at all, and one run at a time writes it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMIT_MARKER, LOCK_FILE, OutDirError, PARTIAL_NOTE, ensureDirectory, openOutDir } from '../connectors/out-dir.js';

let dir: string;
let out: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'treesynth-outdir-'));
  out = join(dir, 'out');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const PREVIOUS = { 'summary.json': '{"run":1}\n', 'tasks.jsonl': '{"task":1}\n', 'notes.md': 'kept: not an output of ours\n' };

function writePrevious(): void {
  mkdirSync(out, { recursive: true });
  for (const [name, text] of Object.entries(PREVIOUS)) writeFileSync(join(out, name), text);
}

const contents = (folder: string): Record<string, string> =>
  Object.fromEntries(readdirSync(folder).sort().map((name) => [name, readFileSync(join(folder, name), 'utf8')]));

/** A pid that was in use a moment ago and is not any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

const lines = () => {
  const logged: string[] = [];
  return { logged, log: (line: string) => logged.push(line) };
};

describe('openOutDir', () => {
  it('stages beside --out and moves the files into place on commit, leaving no lock or staging behind', async () => {
    writePrevious();
    const staged = await openOutDir(out);
    expect(basename(staged.staging)).toMatch(/^out\.partial-[A-Za-z0-9]{6}$/);
    expect(staged.staging.startsWith(`${dir}/`)).toBe(true);
    writeFileSync(join(staged.staging, 'tasks.jsonl'), '{"task":2}\n');
    writeFileSync(join(staged.staging, 'summary.json'), '{"run":2}\n');
    // Nothing of the new run is visible until commit.
    expect(contents(out)).toMatchObject(PREVIOUS);
    staged.commit();
    expect(contents(out)).toEqual({ 'notes.md': PREVIOUS['notes.md'], 'summary.json': '{"run":2}\n', 'tasks.jsonl': '{"task":2}\n' });
    expect(existsSync(staged.staging)).toBe(false);
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('abandon leaves the previous outputs untouched and the partial folder with a note saying why', async () => {
    writePrevious();
    const staged = await openOutDir(out);
    writeFileSync(join(staged.staging, 'rejected.jsonl'), '{"half":true}\n');
    const partial = staged.abandon('interrupted (SIGINT during files)');
    expect(partial).toBe(staged.staging);
    expect(contents(out)).toEqual(PREVIOUS);
    const note = readFileSync(join(partial!, PARTIAL_NOTE), 'utf8');
    expect(note).toContain('did not finish: interrupted (SIGINT during files)');
    expect(note).toContain(`The outputs of the last complete run are in ${out}, untouched.`);
    expect(readFileSync(join(partial!, 'rejected.jsonl'), 'utf8')).toBe('{"half":true}\n');
    // The lock is released: the next run starts without a word.
    const { logged, log } = lines();
    (await openOutDir(out, { log })).abandon('test');
    expect(logged).toEqual([]);
  });

  it('removes a staging folder that holds nothing when abandoned', async () => {
    const staged = await openOutDir(out);
    expect(staged.abandon('failed before writing')).toBeNull();
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('refuses a second run on the same directory while the first holds it', async () => {
    const first = await openOutDir(out);
    const second = openOutDir(out);
    await expect(second).rejects.toThrow(OutDirError);
    await expect(openOutDir(out)).rejects.toThrow(new RegExp(`^${out} is in use by another treesynth run \\(pid ${process.pid}, started .+\\): wait for it to finish or choose another --out$`));
    first.abandon('test');
    (await openOutDir(out)).abandon('test');
  });

  it('takes over the lock of a run that died, and says where its partial outputs are', async () => {
    const killed = await openOutDir(out);
    writeFileSync(join(killed.staging, 'rejected.jsonl'), '{}\n');
    // What a SIGKILLed run leaves: its lock, naming a process that no longer exists.
    const lock = JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8')) as { pid: number; start: string | null };
    const pid = deadPid();
    writeFileSync(join(out, LOCK_FILE), JSON.stringify({ ...lock, pid, start: null }));
    const { logged, log } = lines();
    const next = await openOutDir(out, { log });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(new RegExp(`^treesynth: took over the lock on ${out} from pid ${pid} \\(started .+\\), which is no longer running; what it had written is in ${killed.staging}$`));
    next.commit();
    expect(existsSync(join(killed.staging, 'rejected.jsonl'))).toBe(true);
  });

  it('does not mistake a reused pid for the run that held the lock', async () => {
    const staged = await openOutDir(out);
    const lock = JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8')) as { start: string | null };
    staged.abandon('test');
    // The start time (from /proc) tells a live holder from another process given its pid.
    expect(lock.start).not.toBeNull();
    writeFileSync(join(out, LOCK_FILE), JSON.stringify({ ...lock, pid: process.pid, start: String(Number(lock.start) - 1), token: 'another-run' }));
    const { logged, log } = lines();
    (await openOutDir(out, { log })).abandon('test');
    expect(logged.join()).toMatch(/took over the lock/);
  });

  it('refuses a lock held on another host, naming the file to remove', async () => {
    mkdirSync(out);
    const lock = { pid: 1, host: `not-${hostname()}`, start: null, startedAt: '2026-01-01T00:00:00.000Z', token: 't', staging: null };
    writeFileSync(join(out, LOCK_FILE), JSON.stringify(lock));
    await expect(openOutDir(out)).rejects.toThrow(
      `${out} is locked by pid 1 on host ${lock.host} (started 2026-01-01T00:00:00.000Z): if no run is active there, remove ${join(out, LOCK_FILE)}`,
    );
  });

  it('finishes a move into place that was cut short before anything else', async () => {
    writePrevious();
    // A run killed between its renames: summary.json (moved last) and tree.json still staged.
    const cut = join(dir, 'out.partial-AbC123');
    mkdirSync(cut);
    writeFileSync(join(cut, COMMIT_MARKER), out);
    writeFileSync(join(cut, 'tree.json'), '{"tree":2}\n');
    writeFileSync(join(cut, 'summary.json'), '{"run":2}\n');
    writeFileSync(join(out, 'tasks.jsonl'), '{"task":2}\n');
    // A partial folder without the marker is an interrupted run's, not a cut move: left alone.
    const partial = join(dir, 'out.partial-XyZ789');
    mkdirSync(partial);
    writeFileSync(join(partial, 'summary.json'), '{"run":"partial"}\n');
    const { logged, log } = lines();
    (await openOutDir(out, { log })).abandon('test');
    expect(logged).toEqual([`treesynth: finished putting the outputs of an earlier run into ${out} (moving them had been cut short)`]);
    expect(contents(out)).toEqual({ 'notes.md': PREVIOUS['notes.md'], 'summary.json': '{"run":2}\n', 'tasks.jsonl': '{"task":2}\n', 'tree.json': '{"tree":2}\n' });
    expect(existsSync(cut)).toBe(false);
    expect(readFileSync(join(partial, 'summary.json'), 'utf8')).toBe('{"run":"partial"}\n');
  });

  it('refuses to commit, moving nothing, when a directory stands where an output goes', async () => {
    writePrevious();
    mkdirSync(join(out, 'tree.json'));
    const staged = await openOutDir(out);
    writeFileSync(join(staged.staging, 'summary.json'), '{"run":2}\n');
    writeFileSync(join(staged.staging, 'tree.json'), '{}\n');
    expect(() => staged.commit()).toThrow(`cannot put tree.json into ${out}: a directory of that name is in the way`);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe(PREVIOUS['summary.json']);
    // Not committed, so it can still be kept as the partial outputs.
    expect(staged.abandon('could not commit')).toBe(staged.staging);
  });

  it('refuses to commit once another run has taken its lock', async () => {
    const staged = await openOutDir(out);
    writeFileSync(join(staged.staging, 'summary.json'), '{}\n');
    writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname(), start: null, startedAt: 'now', token: 'someone-else', staging: null }));
    expect(() => staged.commit()).toThrow(`lost the lock on ${out} to another run: this run's outputs stay in ${staged.staging}`);
    expect(existsSync(join(out, 'summary.json'))).toBe(false);
  });
});

describe('ensureDirectory', () => {
  it('creates missing levels one at a time', async () => {
    await ensureDirectory(join(dir, 'a', 'b', 'c'));
    expect(existsSync(join(dir, 'a', 'b', 'c'))).toBe(true);
  });

  it('says in one line why a path cannot be a directory', async () => {
    writeFileSync(join(dir, 'file'), 'x');
    await expect(ensureDirectory(join(dir, 'file'), 'the output directory')).rejects.toThrow('cannot use the output directory: it exists and is not a directory');
    await expect(ensureDirectory(join(dir, 'file', 'sub'), 'the output directory')).rejects.toThrow('cannot use the output directory: a part of its path is a file, not a directory');
    await expect(ensureDirectory('/dev/null/x')).rejects.toThrow(OutDirError);
  });

  // Node's recursive mkdir never returns for /proc/x (ENOENT under an existing parent).
  it('refuses pseudo-filesystems at once', async () => {
    await expect(ensureDirectory('/proc/x', '/proc/x')).rejects.toThrow('cannot use /proc/x: /proc is on proc, a pseudo-filesystem that holds no files');
    await expect(ensureDirectory('/sys/x/y', '/sys/x/y')).rejects.toThrow('cannot use /sys/x/y: /sys is on sysfs, a pseudo-filesystem that holds no files');
    await expect(ensureDirectory('/proc/self', '/proc/self')).rejects.toThrow(/pseudo-filesystem/);
  });
});
