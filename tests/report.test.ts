// `treesynth report` over a hand-made run: the page is self-contained and shows every section;
// quality.json holds the figures.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOutDir, type RunSource } from '../quality/collect.js';
import { buildReport, clientTree, type QualityReport } from '../report/build.js';
import { NodeHits } from '../quality/diversity.js';
import { SUNBURST_SCRIPT } from '../report/client-script.js';
import { readFeatureTree } from '../quality/records.js';
import type { GeneratedSample } from '../schemas/contract.js';
import { writeFixtureRun, type FixtureCounts } from './report-fixture.js';

const run = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;

let dir: string;
let counts: FixtureCounts;
let html: string;
let quality: QualityReport;
let stdout: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'treesynth-report-'));
  counts = writeFixtureRun(join(dir, 'run'), { samples: 30 });
  ({ stdout } = await run('node', [bin, 'report', join(dir, 'run'), '--price-per-1k', '0.15/0.6'], { env: { ...process.env, CI: 'true' } }));
  html = readFileSync(join(dir, 'run', 'report.html'), 'utf8');
  quality = JSON.parse(readFileSync(join(dir, 'run', 'quality.json'), 'utf8')) as QualityReport;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('treesynth report', () => {
  it('writes report.html and quality.json into the run directory and says so', () => {
    expect(stdout).toContain(`${counts.samples} samples, ${counts.tasks} tasks, ${counts.rejections} rejected (2 contaminated)`);
    expect(stdout).toContain(join(dir, 'run', 'report.html'));
    expect(quality).toMatchObject({ format: 'treesynth-quality', version: 1, run: join(dir, 'run') });
  });

  it('is one self-contained page: no external script, style, image, font or link to fetch', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<(script|img|iframe)[^>]+src=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    // The data block cannot close its script element early.
    const data = /<script type="application\/json" id="treesynth-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(JSON.parse(data).tree.c.length).toBe(7);
  });

  it('counts the source files samples name, each once, by licence', () => {
    const samples = readFileSync(join(dir, 'run', 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as GeneratedSample);
    const named = samples.filter((x) => (x.lineage?.sources ?? []).length > 0);
    expect(named.length).toBeGreaterThan(0);
    expect(named.length).toBeLessThan(samples.length); // some predate lineage
    const files = new Map(named.flatMap((x) => x.lineage!.sources!.map((f) => [f.fileId, f.license] as const)));
    const licences = [...files.values()];
    expect(quality.figures.lineage).toEqual({
      samplesWithSources: named.length, files: files.size, repositories: 1,
      byLicense: expect.arrayContaining(['MIT', 'Apache-2.0', null].map((license) => ({ license, files: licences.filter((l) => l === license).length }))),
    });
    expect(quality.figures.lineage.byLicense.reduce((n, x) => n + x.files, 0)).toBe(files.size);
    expect(html).toContain('<section id="lineage">');
    expect(html).toContain(`${named.length} of ${samples.length} samples name the source files behind their features: ${files.size} distinct files from 1 known repository`);
    expect(html).toContain('<code>Apache-2.0</code>');
  });

  it('shows every section with the run’s figures', () => {
    for (const id of ['tree', 'throughput', 'tokens', 'pass-rates', 'adequacy', 'complexity', 'diversity', 'judge', 'rejections', 'lineage']) expect(html).toContain(`<section id="${id}">`);
    const p = quality.figures.passRates;
    expect(p).toMatchObject({ validated: counts.samples + counts.validateFailures, passed: counts.passed });
    expect(html).toContain(`of ${counts.samples + counts.validateFailures} validated samples pass`);
    expect(html).toContain('Not recorded: a local run has no consumer groups');
    expect(html).toContain('unknown-language');
    expect(html).toContain('LLM judge not run (pass --judge');
  });

  it('test adequacy: the mutation scores of the passing samples, per level and as a histogram', () => {
    const m = quality.figures.mutation;
    // The fixture's passing samples catch 7 to 10 of their 10 mutants.
    expect(m.scored).toBe(counts.passed);
    expect(m.overall.min).toBeGreaterThanOrEqual(0.7);
    expect(m.overall.histogram.reduce((a, b) => a + b, 0)).toBe(m.scored);
    expect(m.overall.histogram.slice(0, 3)).toEqual([0, 0, 0]);
    expect(Object.values(m.byLevel).reduce((a, d) => a + d.count, 0)).toBe(m.scored);
    expect(html).toContain('<section id="adequacy">');
    expect(html).toContain(`Mean mutation score ${m.overall.mean!.toFixed(2)}`);
  });

  it('tokens and cost per stage at the given price', () => {
    const t = quality.tokens;
    expect(t.price).toEqual({ input: 0.15, output: 0.6 });
    const extract = t.byStage.find((s) => s.stage === 'extract')!;
    // 52,000 prompt × 0.15/1k + 9,000 completion × 0.6/1k = 7.8 + 5.4.
    expect(extract.cost).toBeCloseTo(13.2);
    expect(t.total.promptTokens).toBe(counts.promptTokens.extract + counts.promptTokens.generate);
    expect(html).toContain('$13.20');
  });

  it('the throughput of the summary, and records over time from their timestamps', () => {
    expect(quality.throughput).toMatchObject({ filesRead: 48, filesPerSecond: 0.4, elapsedMs: 120_000, lag: null });
    const t = quality.figures.timeline!;
    expect(t.series['samples']!.reduce((a, b) => a + b, 0)).toBe(counts.samples);
    expect(t.series['rejected']!.reduce((a, b) => a + b, 0)).toBe(counts.rejections);
    expect(html).toContain('samples per ');
  });

  it('tree statistics and coverage by samples and by tasks', () => {
    expect(quality.tree).toMatchObject({ categories: 7, byOrigin: { evolved: 4 } });
    expect(quality.figures.diversity.coverage.bySamples!.leafShare).toBeGreaterThan(0);
    expect(quality.figures.diversity.coverage.byTasks!.covered).toBeGreaterThanOrEqual(quality.figures.diversity.coverage.bySamples!.covered);
  });

  it('--out puts the page (and quality.json next to it) elsewhere; --cumulative adds every run and all together', async () => {
    writeFixtureRun(join(dir, 'older'), { samples: 10, prefix: 'old', shareWith: 'r1' });
    await run('node', [bin, 'report', join(dir, 'run'), '--out', join(dir, 'pages', 'all.html'), '--cumulative', join(dir, 'older'), '--quiet']);
    const q = JSON.parse(readFileSync(join(dir, 'pages', 'quality.json'), 'utf8')) as QualityReport;
    expect(q.cumulative!.runs.map((r) => r.run)).toEqual([join(dir, 'run'), join(dir, 'older')]);
    const sum = q.cumulative!.runs.reduce((n, r) => n + r.figures.counts.samples, 0);
    expect(q.cumulative!.total.counts.samples).toBe(sum - q.cumulative!.total.counts.duplicateSamples);
    expect(q.cumulative!.total.counts.duplicateSamples).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'pages', 'all.html'), 'utf8')).toContain('<section id="cumulative">');
  });

  it('a run without an LLM endpoint: tasks but no samples, and the page says what is missing', async () => {
    const out = join(dir, 'bare');
    writeFixtureRun(out, { samples: 4 });
    writeFileSync(join(out, 'samples.jsonl'), '');
    writeFileSync(join(out, 'summary.json'), JSON.stringify({ files: { read: 3 }, llm: { usage: {} }, startedAt: '2026-01-01T00:00:00.000Z', elapsedMs: 10, filesPerSecond: 300 }));
    await run('node', [bin, 'report', out, '--quiet']);
    const page = readFileSync(join(out, 'report.html'), 'utf8');
    expect(page).toContain('No LLM usage recorded');
    expect(page).toContain('No samples to measure.');
  });

  it('fails clearly when the directory is not there', async () => {
    const result = await run('node', [bin, 'report', join(dir, 'nope')]).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(result!.code).toBe(2);
    expect(result!.stderr).toMatch(/run directory not found/);
  });
});

describe('buildReport over any source', () => {
  it('the page script is valid JavaScript (the browser test runs it)', () => {
    expect(() => new Function(SUNBURST_SCRIPT)).not.toThrow();
    expect(SUNBURST_SCRIPT).not.toMatch(/<\/script/i);
  });

  it('takes records from something other than an out-dir (the Kafka seam)', async () => {
    const fromDir = await openOutDir(join(dir, 'run'));
    async function* none<T>(): AsyncGenerator<T> {}
    const memory: RunSource = { label: 'kafka://127.0.0.1:9092/treesynth.', tree: fromDir.tree, summary: null, samples: () => fromDir.samples(), rejections: none, tasks: none, problems: [] };
    const { report, html: page } = await buildReport(memory, [], { grammars: null });
    expect(report.run).toBe('kafka://127.0.0.1:9092/treesynth.');
    expect(report.figures.counts.samples).toBe(counts.samples);
    expect(report.figures.complexity.all.byTokens).toBe(counts.samples);
    expect(page).toContain('kafka://127.0.0.1:9092/treesynth.');
  });

  it('the picture’s tree keeps labels, origin, aliases and use counts; roots are not features', () => {
    const tree = readFeatureTree({ label: 'all', frequency: 0, origin: 'root', aliases: [], children: [{ label: 'A', frequency: 2, origin: 'evolved', evolutionRound: 2, aliases: ['a'], children: [] }] })!;
    const samples = new NodeHits();
    samples.add('all', [{ path: ['A'] }]);
    expect(clientTree(tree, { samples, tasks: new NodeHits() })).toEqual({ l: 'all', f: 0, o: 'r', s: -1, t: -1, c: [{ l: 'A', f: 2, o: 'e', a: ['a'], r: 2, s: 1, t: 0 }] });
    // One tree per language: each tree's nodes count only that tree's samples.
    const leaf = (label: string) => ({ label, frequency: 1, origin: 'extracted', aliases: [], children: [] });
    const trees = readFeatureTree({ label: 'trees', children: [
      { label: 'python', frequency: 1, origin: 'root', aliases: [], children: [leaf('A')] },
      { label: 'go', frequency: 1, origin: 'root', aliases: [], children: [leaf('A')] },
    ] })!;
    const py = new NodeHits();
    py.add('python', [{ path: ['A'] }]);
    const picture = clientTree(trees, { samples: py, tasks: new NodeHits() });
    expect(picture.c!.map((t) => [t.l, t.o, t.c![0]!.s])).toEqual([['python', 'r', 1], ['go', 'r', 0]]);
  });
});
