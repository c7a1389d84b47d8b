// `treesynth run`'s sampling flags as a user gives them: the built command on the fixture corpus.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rejection, SynthesisTask } from '../schemas/contract.js';
import type { NestedNode } from '../stores/tree-store.js';
import { writeCorpus } from './fixtures/corpus.js';

const exec = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;

interface Run {
  code: number;
  stderr: string;
  summary: { settings: Record<string, unknown>; tasks: { written: number; rejected: number } };
  tasks: SynthesisTask[];
  rejected: Rejection[];
  categories: string[];
}

const readJsonl = <T>(path: string): T[] => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

describe('treesynth run: sampling flags', () => {
  let dir: string;
  let corpus: string;
  let runs = 0;

  async function run(args: string[]): Promise<Run> {
    const out = join(dir, `out-${runs++}`);
    try {
      await exec('node', [bin, 'run', '--input', corpus, '--out', out, '--quiet', '--embeddings', 'lexical', '--llm-stages', '', ...args], { env: { ...process.env, CI: 'true' } });
    } catch (error) {
      const e = error as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr, summary: { settings: {}, tasks: { written: 0, rejected: 0 } }, tasks: [], rejected: [], categories: [] };
    }
    const tree = JSON.parse(readFileSync(join(out, 'tree.json'), 'utf8')) as NestedNode;
    return {
      code: 0, stderr: '',
      summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')),
      tasks: readJsonl<SynthesisTask>(join(out, 'tasks.jsonl')),
      rejected: readJsonl<Rejection>(join(out, 'rejected.jsonl')),
      categories: tree.children.map((c) => c.label),
    };
  }
  const categoriesOf = (tasks: SynthesisTask[]) => new Set(tasks.flatMap((t) => t.features.map((f) => f.path[0]!)));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'treesynth-sampling-'));
    corpus = join(dir, 'corpus');
    writeCorpus(corpus);
    // Files with arithmetic and with defects, so both kinds of category are in the tree.
    writeFileSync(join(corpus, 'app', 'stats.py'), [
      'import math', 'import random', '', '',
      'def spread(values):', '    mean = sum(values) / len(values)', '    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))', '', '',
      'def jitter(x):', '    return round(x + random.uniform(-0.5, 0.5), 2)', '',
    ].join('\n'));
    writeFileSync(join(corpus, 'app', 'legacy.py'), [
      'import json', '', '',
      'def read_settings(path):', '    # TODO: stop swallowing every error here', '    try:', '        with open(path) as f:', '            return json.load(f)',
      '    except:', '        pass', '    return {}', '',
    ].join('\n'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves "issues & bugs" out of tasks by default and brings it back with --include-defects', async () => {
    const plain = await run(['--tasks', '60', '--temperature', '3,1']);
    expect(plain.code).toBe(0);
    expect(plain.categories).toContain('issues & bugs'); // the corpus has defects to leave out
    expect(plain.summary.settings['temperature']).toEqual([3, 1]);
    expect(categoriesOf(plain.tasks).has('issues & bugs')).toBe(false);
    const withDefects = await run(['--tasks', '60', '--temperature', '3,1', '--include-defects']);
    expect(categoriesOf(withDefects.tasks).has('issues & bugs')).toBe(true);
  });

  it("--preset epicoder takes the reference's defaults, and a flag given beside it still wins", async () => {
    const r = await run(['--tasks', '30', '--preset', 'epicoder', '--temperature', '2']);
    expect(r.code).toBe(0);
    expect(r.summary.settings).toMatchObject({
      temperature: 2, coverageBoost: 0, topN: 50,
      levelMix: { function: 0, file: 1, multi_file: 0 },
      levels: { file: { breadth: [5, 2, 1, 1], mandatory: 2 } },
    });
    expect(r.tasks).toHaveLength(30);
    expect(r.categories).toContain('computation operation');
    for (const task of r.tasks) {
      expect(task.level).toBe('file');
      const categories = new Set(task.features.map((f) => f.path[0]));
      expect(categories.has('computation operation')).toBe(true); // fixed, one of the 5
      expect(categories.size).toBeLessThanOrEqual(5);
      for (const left of ['error handling', 'logging', 'security', 'issues & bugs', 'programming language']) expect(categories.has(left)).toBe(false);
    }
  });

  it('rejects every task with the reason when a required feature is not in the tree, and refuses bad values', async () => {
    const r = await run(['--tasks', '5', '--require', 'no such feature']);
    expect(r.code).toBe(0);
    expect(r.summary.tasks).toMatchObject({ written: 0, rejected: 5 });
    expect(r.rejected.filter((x) => x.reason === 'required-feature-missing')).toHaveLength(5);

    for (const bad of [['--temperature', '0,1'], ['--preset', 'nope'], ['--coverage-boost', '-1']]) {
      const refused = await run(['--tasks', '1', ...bad]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`option '${bad[0]}`));
    }
  });
});
