// `treesynth run` as a user runs it: the built command on a corpus made here.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContracts, type Rejection, type SynthesisTask, type TreeNodeChange } from '../schemas/contract.js';
import { TreeStore, type NestedNode } from '../stores/tree-store.js';
import { BAD_FILES, GOOD_FILES, writeCorpus } from './fixtures/corpus.js';

const run = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;

async function treesynth(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [bin, ...args], { env: { ...process.env, CI: 'true' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const readJsonl = <T>(path: string): T[] =>
  readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

describe('treesynth run on a directory corpus', () => {
  let dir: string;
  let out: string;
  let result: { code: number; stdout: string; stderr: string };

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
