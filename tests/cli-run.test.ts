// `treesynth run` as a user runs it: the built command on a corpus made here.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { constants as zlibConstants, createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContracts, type Rejection, type SynthesisTask, type TreeNodeChange } from '../schemas/contract.js';
import { TreeStore, type NestedNode } from '../stores/tree-store.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';
import { scriptedModel } from './fakes/scripted-model.js';
import { BAD_FILES, GOOD_FILES, writeCorpus } from './fixtures/corpus.js';

const run = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
// No endpoint from the environment: the LLM stages record their prompts instead.
const ENV = { ...process.env, CI: 'true', OPENAI_BASE_URL: '', OPENAI_API_KEY: '', TREESYNTH_MODEL: '' };

/** Runs the CLI to its end; `timeout` kills a run that hangs, so a hang fails instead of stalling the suite. */
async function treesynth(args: string[], timeout = 0): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [bin, ...args], { env: ENV, timeout, killSignal: 'SIGKILL' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number | null; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : null, stdout: e.stdout, stderr: e.stderr };
  }
}

const readJsonl = <T>(path: string): T[] =>
  readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

describe('treesynth run on a directory corpus', () => {
  let dir: string;
  let out: string;
  let result: Awaited<ReturnType<typeof treesynth>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'treesynth-e2e-'));
    writeCorpus(join(dir, 'corpus'));
    out = join(dir, 'out');
    result = await treesynth(['run', '--input', join(dir, 'corpus'), '--out', out, '--tasks', '25', '--seed', '7', '--max-bytes', '64k']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 and says what it did', () => {
    expect(result.stderr).not.toMatch(/Error|at .*\.js:\d+/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/files read/);
  });

  it('accounts for every file read: read = accepted + rejected', () => {
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.files.read).toBe(summary.files.accepted + summary.files.rejected);
    expect(summary.files.accepted).toBe(Object.keys(GOOD_FILES).length);
    expect(summary.exactDuplicates).toBe(1);
    expect(summary.nearDuplicates).toBe(1);
    expect(summary.tasks.written).toBe(25);
    expect(summary.labels.seen).toBeGreaterThan(summary.nodes / 2);
  });

  it('rejects each bad file with its reason, and never reads ignored or vendored files', () => {
    const rejected = readJsonl<Rejection>(join(out, 'rejected.jsonl'));
    const contracts = loadContracts();
    for (const r of rejected) contracts.Rejection.check(r);
    const byPath = new Map(rejected.map((r) => [r.path, r.reason]));
    for (const [path, { reason }] of Object.entries(BAD_FILES)) expect(byPath.get(path), path).toBe(reason);
    const paths = rejected.map((r) => r.path ?? '');
    expect(paths.some((p) => p.includes('node_modules') || p.startsWith('build/') || p.endsWith('.log'))).toBe(false);
  });

  it('writes the nested tree with frequencies, and it matches the changelog', () => {
    const tree = JSON.parse(readFileSync(join(out, 'tree.json'), 'utf8')) as NestedNode;
    expect(tree.frequency).toBe(Object.keys(GOOD_FILES).length);
    const categories = tree.children.map((c) => c.label);
    for (const c of ['programming language', 'dependency relations', 'error handling', 'implementation logic']) expect(categories).toContain(c);
    const languages = tree.children.find((c) => c.label === 'programming language')!.children.map((c) => c.label).sort();
    expect(languages).toEqual(['go', 'java', 'javascript', 'python', 'typescript']);
    const python = tree.children.find((c) => c.label === 'programming language')!.children.find((c) => c.label === 'python')!;
    expect(python.frequency).toBe(2);
    const walk = (n: NestedNode): void => {
      expect(Object.keys(n).sort()).toEqual(expect.arrayContaining(['aliases', 'children', 'frequency', 'label', 'origin']));
      for (const c of n.children) {
        expect(c.frequency).toBeLessThanOrEqual(n.frequency);
        walk(c);
      }
    };
    walk(tree);
    const changes = readJsonl<TreeNodeChange>(join(out, 'tree.changelog.jsonl'));
    expect(TreeStore.restore('all', changes).toNested()).toEqual(tree);
    expect(readFileSync(join(out, 'tree.txt'), 'utf8')).toContain('programming language');
  });

  it('writes tasks that sample the tree, level by level', () => {
    const tasks = readJsonl<SynthesisTask>(join(out, 'tasks.jsonl'));
    const contracts = loadContracts();
    expect(tasks).toHaveLength(25);
    for (const t of tasks) {
      contracts.SynthesisTask.check(t);
      expect(t.features.length).toBeGreaterThan(0);
      expect(t.features.some((f) => f.mandatory)).toBe(true);
      expect(t.features.every((f) => f.path[0] !== 'programming language')).toBe(true);
    }
    expect(new Set(tasks.map((t) => t.taskId)).size).toBe(25);
  });

  it('gives the same tasks for the same seed', async () => {
    const again = join(dir, 'again');
    const second = await treesynth(['run', '--input', join(dir, 'corpus'), '--out', again, '--tasks', '25', '--seed', '7', '--max-bytes', '64k', '-q']);
    expect(second.code).toBe(0);
    const strip = (t: SynthesisTask) => ({ ...t, createdAt: 0 });
    expect(readJsonl<SynthesisTask>(join(again, 'tasks.jsonl')).map(strip)).toEqual(readJsonl<SynthesisTask>(join(out, 'tasks.jsonl')).map(strip));
  });
});

describe('treesynth run on a JSONL corpus', () => {
  it('reads one file per line and rejects bad lines with their line number', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'treesynth-jsonl-'));
    try {
      const lines = [
        JSON.stringify({ path: 'a.py', content: GOOD_FILES['app/loader.py'], language: 'Python' }),
        '{"path": "broken.py", "content": ',
        JSON.stringify({ path: 'no-content.py', language: 'python' }),
        JSON.stringify({ max_stars_repo_path: 'b.go', content: GOOD_FILES['cmd/main.go'], lang: 'Go' }),
        '',
      ];
      writeFileSync(join(dir, 'corpus.jsonl'), lines.join('\n'));
      const result = await treesynth(['run', '--input', join(dir, 'corpus.jsonl'), '--out', join(dir, 'out'), '--tasks', '3']);
      expect(result.code).toBe(0);
      const summary = JSON.parse(readFileSync(join(dir, 'out', 'summary.json'), 'utf8'));
      expect(summary.files).toEqual({ read: 4, accepted: 2, rejected: 2 });
      const rejected = readJsonl<Rejection>(join(dir, 'out', 'rejected.jsonl'));
      expect(rejected.map((r) => [r.reason, r.position]).sort()).toEqual([['invalid-json', 2], ['missing-content', 3]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('treesynth usage errors', () => {
  it('a missing input path is one clear line and a non-zero exit', async () => {
    const result = await treesynth(['run', '--input', '/no/such/corpus', '--out', join(tmpdir(), 'x')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe('treesynth: input not found: /no/such/corpus');
  });

  it('a bad flag value is one clear line and a non-zero exit', async () => {
    const result = await treesynth(['run', '--input', '.', '--out', join(tmpdir(), 'x'), '--tasks', 'many']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/--tasks.*many.*whole number/);
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('an unknown flag is refused', async () => {
    const result = await treesynth(['run', '--input', '.', '--out', join(tmpdir(), 'x'), '--frobnicate']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unknown option '--frobnicate'/);
  });
});

// ---------------------------------------------------------------------------------------------
// Runs that are safe to interrupt and rerun (#9)

/** The CLI as a running process: its stderr so far and how it ended. */
function startRun(args: string[], env: Record<string, string> = {}) {
  const child = spawn('node', [bin, ...args], { env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return { child, exited, stderr: () => stderr };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every file of a folder with its bytes (dot files too: a lock left behind shows up). */
const snapshot = (folder: string): Record<string, string> =>
  Object.fromEntries(readdirSync(folder).sort().map((name) => [name, readFileSync(join(folder, name), 'latin1')]));

const partialFolders = (parent: string, name: string): string[] =>
  readdirSync(parent).filter((n) => n.startsWith(`${name}.partial-`)).map((n) => join(parent, n));

/** `n` distinct Python files, each worth a model call. */
function writeManyFiles(root: string, n: number): void {
  for (let i = 0; i < n; i++) {
    mkdirSync(join(root, `pkg${i}`), { recursive: true });
    writeFileSync(join(root, `pkg${i}`, `mod${i}.py`), `import os\n\n\ndef handler_${i}(path):\n    if not os.path.exists(path):\n        raise FileNotFoundError(path)\n    return ${i} * len(path) + ${i * 7}\n`);
  }
}

describe('treesynth run, interrupted and run again', { timeout: 180_000 }, () => {
  const FILES = 80;
  let dir: string;
  let corpus: string;
  let server: FakeOpenAI;
  let release!: () => void;
  const stalled = new Promise<void>((resolve) => (release = resolve));
  /** Whether the model answers (slowly) or holds every request until the end of the suite. */
  let mode: 'slow' | 'stalled' = 'slow';
  const chatRequests = () => server.requests.filter((r) => r.path === '/v1/chat/completions').length;
  const llmArgs = (out: string) => [
    'run', '--input', corpus, '--out', out, '--tasks', '0', '--embeddings', 'lexical',
    '--llm-base-url', server.url, '--model', 'fake-model', '--llm-stages', 'extract', '--no-cache', '--concurrency', '4', '--window', '8',
  ];
  /** A complete run without a model, as the previous outputs of `out`. */
  const completeRun = async (out: string) => {
    const result = await treesynth(['run', '--input', corpus, '--out', out, '--tasks', '3', '--embeddings', 'lexical', '-q']);
    expect(result.code).toBe(0);
    return snapshot(out);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'treesynth-interrupt-'));
    corpus = join(dir, 'corpus');
    writeManyFiles(corpus, FILES);
    // Rejected before any model call: even a run stopped at once has written something.
    writeFileSync(join(corpus, 'blob.bin'), Buffer.from([0, 1, 2, 3, 0, 255]));
    const model = scriptedModel();
    server = await startFakeOpenAI({
      models: ['fake-model'],
      chat: async (request) => {
        if (mode === 'stalled') await stalled;
        else await new Promise((resolve) => setTimeout(resolve, 150));
        return model(request);
      },
    });
  });
  afterAll(async () => {
    release();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGINT mid-run: the previous outputs stay as they were, this run\'s work is kept in a partial folder, and it says so', async () => {
    const out = join(dir, 'out');
    const before = await completeRun(out);
    mode = 'slow';
    const started = chatRequests();
    const running = startRun(llmArgs(out));
    await waitFor('the first model calls', () => chatRequests() >= started + 3);
    running.child.kill('SIGINT');
    const { code } = await running.exited;
    expect(code).toBe(130);
    const stderr = running.stderr();
    expect(stderr).toContain(`treesynth: SIGINT: stopping; what is in flight finishes, then what was done is kept apart from ${out} (SIGINT again stops at once)\n`);
    const said = /^treesynth: interrupted \(SIGINT during files\) after (\d+) files: the outputs in (.+) are untouched; this run's partial outputs are in (.+)$/m.exec(stderr);
    expect(said, stderr).not.toBeNull();
    expect(said![2]).toBe(out);
    expect(stderr).not.toMatch(/at .*\.js:\d+/);

    expect(snapshot(out)).toEqual(before);
    const [partial, ...others] = partialFolders(dir, 'out');
    expect(others).toEqual([]);
    expect(partial).toBe(said![3]);
    expect(partial).toMatch(/out\.partial-[A-Za-z0-9]{6}$/);
    expect(readFileSync(join(partial!, 'INTERRUPTED.txt'), 'utf8')).toContain('did not finish: interrupted (SIGINT during files)');
    const summary = JSON.parse(readFileSync(join(partial!, 'summary.json'), 'utf8'));
    expect(summary.interrupted).toBe('SIGINT during files');
    expect(summary.files.read).toBe(Number(said![1]));
    expect(summary.files.read).toBe(summary.files.accepted + summary.files.rejected);
    expect(summary.files.read).toBeLessThan(FILES + 1);
    expect(existsSync(join(partial!, 'tree.json'))).toBe(true);

    // Run again: it completes and replaces the outputs; the partial folder is the user's to remove.
    const again = await treesynth(['run', '--input', corpus, '--out', out, '--tasks', '3', '--embeddings', 'lexical', '-q']);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/took over/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).files.read).toBe(FILES + 1);
    expect(partialFolders(dir, 'out')).toEqual([partial]);
    rmSync(partial!, { recursive: true });
  });

  it('refuses a second run on the same --out, and a second SIGINT stops at once', async () => {
    const out = join(dir, 'busy');
    const before = await completeRun(out);
    mode = 'stalled';
    const started = chatRequests();
    const running = startRun(llmArgs(out));
    await waitFor('the first model call', () => chatRequests() > started);

    const second = await treesynth(['run', '--input', corpus, '--out', out, '--tasks', '3', '--embeddings', 'lexical', '-q'], 60_000);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`^treesynth: ${out} is in use by another treesynth run \\(pid ${running.child.pid}, started [^)]+\\): wait for it to finish or choose another --out\n$`));

    // The model never answers, so the first SIGINT waits for the calls in flight; the second does not.
    running.child.kill('SIGINT');
    await waitFor('the stopping line', () => running.stderr().includes('SIGINT: stopping'));
    running.child.kill('SIGINT');
    const { code } = await running.exited;
    expect(code).toBe(130);
    const said = /^treesynth: stopped at once; the outputs in (.+) are untouched; this run's partial outputs are in (.+)$/m.exec(running.stderr());
    expect(said, running.stderr()).not.toBeNull();
    expect(snapshot(out)).toEqual(before);
    expect(said![1]).toBe(out);
    expect(readFileSync(join(said![2]!, 'INTERRUPTED.txt'), 'utf8')).toContain('did not finish: stopped at once by a second SIGINT');
    expect(readFileSync(join(said![2]!, 'rejected.jsonl'), 'utf8')).toContain('blob.bin');
    expect(existsSync(join(out, '.treesynth.lock'))).toBe(false);
    rmSync(said![2]!, { recursive: true });
  });

  it('a crash mid-run (a throw outside the pipeline) is one line, and keeps the previous and the partial outputs', async () => {
    const out = join(dir, 'crashed');
    const before = await completeRun(out);
    // Injected through a preload: SIGUSR2 makes the process throw from a callback, as a bug would.
    const preload = join(dir, 'crash-on-sigusr2.cjs');
    writeFileSync(preload, "process.on('SIGUSR2', () => setImmediate(() => { throw new Error('injected crash'); }));\n");
    mode = 'stalled';
    const started = chatRequests();
    const running = startRun(llmArgs(out), { NODE_OPTIONS: `--require ${preload}` });
    await waitFor('the first model call', () => chatRequests() > started);
    running.child.kill('SIGUSR2');
    const { code } = await running.exited;
    expect(code).toBe(1);
    const said = /^treesynth: injected crash; the outputs in (.+) are untouched; this run's partial outputs are in (.+)$/m.exec(running.stderr());
    expect(running.stderr()).not.toMatch(/at .*\.js:\d+/);
    expect(said, running.stderr()).not.toBeNull();
    expect(said![1]).toBe(out);
    expect(snapshot(out)).toEqual(before);
    expect(readFileSync(join(said![2]!, 'INTERRUPTED.txt'), 'utf8')).toContain('did not finish: crashed: injected crash');
    rmSync(said![2]!, { recursive: true });
  });

  it('takes over the lock of a run that was SIGKILLed, says so, and completes', async () => {
    const out = join(dir, 'killed');
    await completeRun(out);
    mode = 'stalled';
    const started = chatRequests();
    const running = startRun(llmArgs(out));
    await waitFor('the first model call', () => chatRequests() > started);
    running.child.kill('SIGKILL');
    await running.exited;
    expect(existsSync(join(out, '.treesynth.lock'))).toBe(true);
    const [partial] = partialFolders(dir, 'killed');

    const next = await treesynth(['run', '--input', corpus, '--out', out, '--tasks', '3', '--embeddings', 'lexical', '-q'], 150_000);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(
      `treesynth: took over the lock on ${out} from pid ${running.child.pid} (started `,
    );
    expect(next.stderr).toContain(`), which is no longer running; what it had written is in ${partial}\n`);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).files.read).toBe(FILES + 1);
    expect(existsSync(join(out, '.treesynth.lock'))).toBe(false);
  });
});

describe('treesynth run on hostile inputs and outputs', { timeout: 180_000 }, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'treesynth-hostile-'));
  });
  // GNU rm descends with openat, so it removes trees deeper than PATH_MAX, which Node cannot name.
  afterAll(() => execFileSync('rm', ['-rf', dir]));

  const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const lines = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ path: `f${i}.py`, content: `def f${i}(x):\n    return x * ${i} + ${i * 3}\n` })).join('\n') + '\n';

  it('refuses pseudo-filesystems, files and paths through files as --out in one line, at once', async () => {
    writeFileSync(join(dir, 'a-file'), 'x');
    const cases: Array<[string, string]> = [
      ['/proc/x', 'treesynth: cannot use output directory /proc/x: /proc is on proc, a pseudo-filesystem that holds no files'],
      ['/sys/x', 'treesynth: cannot use output directory /sys/x: /sys is on sysfs, a pseudo-filesystem that holds no files'],
      [join(dir, 'a-file'), `treesynth: cannot use output directory ${join(dir, 'a-file')}: it exists and is not a directory`],
      [join(dir, 'a-file', 'out'), `treesynth: cannot use output directory ${join(dir, 'a-file', 'out')}: a part of its path is a file, not a directory`],
    ];
    writeManyFiles(join(dir, 'tiny'), 2);
    for (const [out, message] of cases) {
      const result = await treesynth(['run', '--input', join(dir, 'tiny'), '--out', out, '-q'], 60_000);
      expect(result.code, out).toBe(2);
      expect(result.stderr, out).toBe(`${message}\n`);
    }
  });

  // As root every directory is writable, so there the CLI runs as an unprivileged user.
  it('an --out it may not write is one line; when only its parent is closed, the run stages inside --out', async () => {
    const asRoot = process.getuid?.() === 0;
    const base = join(dir, 'perm');
    chmodSync(dir, 0o755);
    writeManyFiles(join(base, 'corpus'), 2);
    mkdirSync(join(base, 'closed'));
    mkdirSync(join(base, 'parent', 'out'), { recursive: true });
    chmodSync(join(base, 'parent', 'out'), 0o777);
    for (const d of [base, join(base, 'corpus'), ...readdirSync(join(base, 'corpus')).map((p) => join(base, 'corpus', p))]) chmodSync(d, 0o755);
    for (const d of [join(base, 'closed'), join(base, 'parent')]) chmodSync(d, asRoot ? 0o755 : 0o555);
    const cli = async (out: string) => {
      const args = ['run', '--input', join(base, 'corpus'), '--out', out, '--tasks', '1', '--embeddings', 'lexical', '-q'];
      const command = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'node', bin, ...args] : ['node', bin, ...args];
      try {
        await run(command[0]!, command.slice(1), { env: ENV, timeout: 60_000 });
        return { code: 0, stderr: '' };
      } catch (error) {
        return error as { code: number; stderr: string };
      }
    };
    try {
      const closed = await cli(join(base, 'closed'));
      expect(closed.code).toBe(2);
      expect(closed.stderr).toBe(`treesynth: cannot write in ${join(base, 'closed')}: permission denied (EACCES)\n`);
      const below = await cli(join(base, 'closed', 'new'));
      expect(below.stderr).toBe(`treesynth: cannot create output directory ${join(base, 'closed', 'new')}: permission denied (EACCES)\n`);

      const staged = await cli(join(base, 'parent', 'out'));
      expect(staged.code).toBe(0);
      expect(summaryOf(join(base, 'parent', 'out')).files.read).toBe(2);
      expect(readdirSync(join(base, 'parent', 'out')).filter((n) => n.includes('partial') || n.startsWith('.'))).toEqual([]);
      expect(readdirSync(join(base, 'parent'))).toEqual(['out']);
    } finally {
      chmodSync(join(base, 'closed'), 0o755);
      chmodSync(join(base, 'parent'), 0o755);
    }
  });

  it('never reads its own outputs when --out lies inside --input: a rerun reads what the first run read', async () => {
    const input = join(dir, 'self');
    writeManyFiles(input, 3);
    const out = join(input, 'out');
    const first = await treesynth(['run', '--input', input, '--out', out, '--tasks', '1', '--embeddings', 'lexical', '-q'], 60_000);
    expect(first.code).toBe(0);
    const second = await treesynth(['run', '--input', input, '--out', out, '--tasks', '1', '--embeddings', 'lexical', '-q'], 60_000);
    expect(second.code).toBe(0);
    expect(summaryOf(out).files).toEqual({ read: 3, accepted: 3, rejected: 0 });
  });

  it('keeps every line of a truncated .jsonl.gz before the cut, rejects the rest as "truncated" and says so', async () => {
    const whole = gzipSync(lines(2000));
    const cut = whole.subarray(0, Math.floor(whole.length / 2));
    const input = join(dir, 'cut.jsonl.gz');
    writeFileSync(input, cut);
    // What the cut file still holds: the complete lines an inflate that tolerates the cut gives.
    const recoverable = gunzipSync(cut, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString('utf8').split('\n').length - 1;
    const out = join(dir, 'cut-out');
    const result = await treesynth(['run', '--input', input, '--out', out, '--tasks', '2', '-q'], 150_000);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`treesynth: warning: ${input} was not read to its end (truncated): the rest of it is one rejection in ${join(out, 'rejected.jsonl')}\n`);
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
    const summary = summaryOf(out);
    expect(summary.files.accepted).toBe(recoverable);
    expect(summary.files.read).toBe(summary.files.accepted + summary.files.rejected);
    expect(summary.rejectedByReason).toEqual({ truncated: 1 });
  });

  it('stops a gzip bomb (one line inflating to 600 MiB) at the cap with one rejection, and --max-decompressed sets the cap', async () => {
    const input = join(dir, 'bomb.jsonl.gz');
    await new Promise<void>((resolve, reject) => {
      const gzip = createGzip({ level: 1 });
      const chunks: Buffer[] = [];
      gzip.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(writeFileSync(input, Buffer.concat(chunks)))).on('error', reject);
      const mib = Buffer.alloc(1024 * 1024, 0x61);
      gzip.write('{"path": "bomb.py", "content": "');
      for (let i = 0; i < 600; i++) gzip.write(mib);
      gzip.end('"}\n');
    });
    const out = join(dir, 'bomb-out');
    const result = await treesynth(['run', '--input', input, '--out', out, '--tasks', '2', '-q'], 150_000);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('was not read to its end (decompression-limit)');
    expect(result.stderr).toContain('--max-decompressed raises the cap');
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(summaryOf(out).files).toEqual({ read: 1, accepted: 0, rejected: 1 });
    expect(summaryOf(out).rejectedByReason).toEqual({ 'decompression-limit': 1 });

    const capped = await treesynth(['run', '--input', input, '--out', out, '--tasks', '2', '-q', '--max-decompressed', '8m'], 150_000);
    expect(capped.code).toBe(0);
    const [rejection] = readFileSync(join(out, 'rejected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rejection);
    expect(rejection!.detail).toMatch(/^inflated past 8\.0 MiB after 0 lines/);
  });

  it('walks a 3,000-level directory tree without a stack overflow, counting the part past PATH_MAX as one rejection', async () => {
    const input = join(dir, 'deep');
    mkdirSync(input);
    execFileSync('mkdir', ['-p', 'd/'.repeat(3000)], { cwd: input });
    writeFileSync(join(input, 'top.py'), 'def top(x):\n    return x + 1\n');
    const out = join(dir, 'deep-out');
    const result = await treesynth(['run', '--input', input, '--out', out, '--tasks', '2', '-q'], 150_000);
    expect(result.stderr).not.toMatch(/at .*\.js:\d+|Maximum call stack/);
    expect(result.code).toBe(0);
    const summary = summaryOf(out);
    expect(summary.files).toEqual({ read: 2, accepted: 1, rejected: 1 });
    expect(summary.rejectedByReason).toEqual({ unreadable: 1 });
  });

  it('rejects FIFOs and sockets in a directory with a reason, and counts them: read = accepted + rejected', async () => {
    const input = join(dir, 'special');
    writeManyFiles(input, 2);
    execFileSync('mkfifo', [join(input, 'pipe.py')]);
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(join(input, 'sock.py'), resolve));
    try {
      const out = join(dir, 'special-out');
      const result = await treesynth(['run', '--input', input, '--out', out, '--tasks', '2', '-q'], 150_000);
      expect(result.code).toBe(0);
      const summary = summaryOf(out);
      expect(summary.files).toEqual({ read: 4, accepted: 2, rejected: 2 });
      expect(summary.rejectedByReason).toEqual({ 'not-a-file': 2 });
      const rejected = readFileSync(join(out, 'rejected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rejection);
      expect(rejected.map((r) => [r.path, r.detail]).sort()).toEqual([
        ['pipe.py', 'a FIFO, not a regular file: never opened'],
        ['sock.py', 'a socket, not a regular file: never opened'],
      ]);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  it('an input that cannot be read at all is one line that says the outputs are untouched', async () => {
    const input = join(dir, 'not-gzip.jsonl.gz');
    writeFileSync(input, 'this is not gzip at all');
    const out = join(dir, 'not-gzip-out');
    mkdirSync(out);
    writeFileSync(join(out, 'summary.json'), '{"previous": true}\n');
    const result = await treesynth(['run', '--input', input, '--out', out, '-q'], 60_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^treesynth: cannot read ${input}: incorrect header check; the outputs in ${out} are untouched; this run's partial outputs are in ${out}\\.partial-[A-Za-z0-9]{6}\\n$`),
    );
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe('{"previous": true}\n');
  });
});
