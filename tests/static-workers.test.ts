// Static extraction on worker threads answers exactly what it answers on the calling thread, in
// the same order, for every kind of file (accepted, unparseable, unsupported), and a run parses
// on workers by default without changing anything it writes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticExtractorPool, defaultStaticWorkers, extractFeatures } from '../analysis/static-features/index.js';
import { loadGrammars, type Grammars } from '../analysis/tree-sitter/grammars.js';
import { createCodeEmbedder, createLabelEmbedder } from '../embeddings/index.js';
import { extractStage } from '../processors/extract.js';
import type { CodeFile } from '../schemas/contract.js';
import type { Language } from '../schemas/languages.js';
import { runLocal } from '../topology/run-local.js';
import { MERGE_SIMILARITY, pipelineSettings } from '../topology/settings.js';
import { GOOD_FILES, writeCorpus } from './fixtures/corpus.js';

const NOW = 1_700_000_000_000;
const LANGUAGE_OF: Record<string, string> = { py: 'python', js: 'javascript', ts: 'typescript', tsx: 'tsx', java: 'java', go: 'go' };

function codeFile(path: string, content: string, language = LANGUAGE_OF[path.split('.').pop()!] ?? 'python'): CodeFile {
  return { id: `id-${path}`, path, language, content, sizeBytes: Buffer.byteLength(content), lines: content.split('\n').length, source: 'test', treeKey: 'all' };
}

const files: CodeFile[] = [
  ...Object.entries(GOOD_FILES).map(([path, content]) => codeFile(path, content)),
  codeFile('broken.py', 'def f(:\n  return ((((\n'.repeat(20)),
  codeFile('unknown.rb', 'puts "hi"\n', 'ruby'),
];

describe('static extraction on worker threads', () => {
  let grammars: Grammars;
  let pool: StaticExtractorPool;
  beforeAll(async () => {
    grammars = await loadGrammars();
    pool = await StaticExtractorPool.open(2, grammars.languages);
  });
  afterAll(() => pool?.close());

  it('answers each file as extractFeatures does on this thread: features, rejections and their reasons', async () => {
    expect(files.length).toBeGreaterThan(5);
    const kinds = new Set<string>();
    for (const file of files) {
      const here = extractFeatures(file, { grammars }, NOW);
      const there = await pool.extract(file, {}, NOW);
      expect(there, file.path).toEqual(here);
      kinds.add(here.ok ? 'accepted' : here.rejection.reason);
    }
    expect(kinds).toEqual(new Set(['accepted', 'unparseable', 'unsupported-language']));
  });

  it("applies the caller's options in the worker", async () => {
    const file = files.find((f) => f.path.endsWith('.py') && extractFeatures(f, { grammars }, NOW).ok)!;
    const options = { maxLabelsPerCategory: 1 };
    const there = await pool.extract(file, options, NOW);
    expect(there).toEqual(extractFeatures(file, { grammars, ...options }, NOW));
    expect(there).not.toEqual(extractFeatures(file, { grammars }, NOW));
  });

  it('keeps the input order in the extract stage while files are parsed side by side', async () => {
    const many = Array.from({ length: 60 }, (_, i) => files[i % files.length]!).map((f, i) => ({ ...f, id: `${f.id}-${i}` }));
    const onWorkers = await lastValueFrom(from(many).pipe(extractStage({ static: { grammars, workers: pool } }), toArray()));
    const here = await lastValueFrom(from(many).pipe(extractStage({ static: { grammars } }), toArray()));
    const ids = (outcomes: typeof here) => outcomes.map((o) => (o.ok ? o.value.fileId : o.rejection.recordId));
    expect(ids(onWorkers)).toEqual(ids(here));
    // Timestamps aside (each call reads the clock), the outcomes are the same.
    const strip = (outcomes: typeof here) => JSON.parse(JSON.stringify(outcomes).replace(/"(extractedAt|rejectedAt|at)":\d+/g, '"$1":0'));
    expect(strip(onWorkers)).toEqual(strip(here));
  });

  it('returns before its workers have loaded their grammars, and answers the files sent meanwhile', async () => {
    const early = StaticExtractorPool.start(1, grammars.languages);
    let ready = false;
    void early.ready.then(() => (ready = true));
    try {
      // Sent while the worker still loads: the file waits in its queue instead of being lost.
      const sent = files.map((file) => early.extract(file, {}, NOW));
      await Promise.resolve();
      expect(ready).toBe(false);
      expect(await Promise.all(sent)).toEqual(files.map((file) => extractFeatures(file, { grammars }, NOW)));
      expect(ready).toBe(true);
    } finally {
      await early.close();
    }
  });

  it('fails the files sent to a worker that could not start, and every later one, with the reason', async () => {
    const broken = StaticExtractorPool.start(1, ['cobol' as Language]);
    try {
      await expect(broken.extract(files[0]!, {}, NOW)).rejects.toThrow(/static extractor worker did not start: .+/);
      await expect(broken.ready).rejects.toThrow(/did not start/);
      await expect(broken.extract(files[1]!, {}, NOW)).rejects.toThrow(/did not start/);
      await expect(StaticExtractorPool.open(1, ['cobol' as Language])).rejects.toThrow(/did not start/);
    } finally {
      await broken.close();
    }
  });

  it('refuses work once closed, and fails the files still in flight instead of leaving them hanging', async () => {
    const own = await StaticExtractorPool.open(1, grammars.languages);
    const inFlight = expect(own.extract(files[0]!, {}, NOW)).rejects.toThrow(/closed/);
    await own.close();
    await inFlight;
    await expect(own.extract(files[0]!, {}, NOW)).rejects.toThrow(/closed/);
    await own.close(); // idempotent
  });

  it('starts one worker per core, at most two', async () => {
    expect([1, 2, 3, 4, 16].map((cores) => defaultStaticWorkers(cores))).toEqual([1, 2, 2, 2, 2]);
    expect(() => StaticExtractorPool.start(0, grammars.languages)).toThrow(/at least one worker/);
    await expect(StaticExtractorPool.open(0, grammars.languages)).rejects.toThrow(/at least one worker/);
  });
});

describe('a local run parses on worker threads without changing what it writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-static-workers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const corpus = join(dir, 'corpus');
  writeCorpus(corpus);

  const run = (staticWorkers: number, out: string) =>
    runLocal({
      input: corpus, out: join(dir, out), tasks: 4, staticWorkers,
      settings: pipelineSettings({ llmStages: [], similarity: MERGE_SIMILARITY.lexical }),
      labelEmbedder: createLabelEmbedder({ kind: 'lexical' }), codeEmbedder: createCodeEmbedder({ kind: 'lexical' }), clock: () => NOW,
    });

  it('writes the same tree, tasks and dead letters with 0 and 2 workers', async () => {
    const inline = await run(0, 'inline');
    const workers = await run(2, 'workers');
    expect(workers.files).toEqual(inline.files);
    for (const name of ['tree.changelog.jsonl', 'tasks.jsonl']) {
      expect(readFileSync(join(dir, 'workers', name), 'utf8'), name).toBe(readFileSync(join(dir, 'inline', name), 'utf8'));
    }
    // Dead letters of different stages interleave as they happen, each stamped with the wall clock.
    const deadLetters = (out: string) =>
      readFileSync(join(dir, out, 'rejected.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => line.replace(/"at":\d+/, '"at":0')).sort();
    expect(deadLetters('workers')).toEqual(deadLetters('inline'));
    expect(deadLetters('inline').some((line) => line.includes('"unparseable"'))).toBe(true);
    expect(inline.files.accepted).toBeGreaterThan(3);
  });
});
