// Sample lineage in Kafka mode: a sample stage in its own process names the files behind its
// features from the tree writer's tree.sources changelog; after a file changes and every
// process restarts (the index rebuilt from tree.contributions), samples name the corpus as it
// is now: never the old content, every hash that of a file on disk.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GeneratedSample } from '../../schemas/contract.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai-server.js';
import { scriptedModel } from '../fakes/scripted-model.js';
import { GOOD_FILES } from '../fixtures/corpus.js';
import { TOPICS, TestCluster, drained, startStages, target, treesynth, type Stages } from './harness.js';
import { describeKafka } from './stack-env.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const MIT = 'MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the "Software")\n';

describeKafka('sample lineage in Kafka mode (needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL)', () => {
  let cluster: TestCluster;
  let server: FakeOpenAI;
  let dir: string;
  let corpus: string;

  beforeAll(async () => {
    cluster = await TestCluster.open('lineage-test');
    server = await startFakeOpenAI({ chat: scriptedModel(), models: ['fake-model'] });
    dir = mkdtempSync(join(tmpdir(), 'treesynth-kafka-lineage-'));
    corpus = join(dir, 'corpus');
    for (const [path, content] of Object.entries(GOOD_FILES)) {
      mkdirSync(join(corpus, path, '..'), { recursive: true });
      writeFileSync(join(corpus, path), content);
    }
    writeFileSync(join(corpus, 'LICENSE'), MIT);
    await promisify(execFile)('git', ['init', '-q', corpus]);
    await promisify(execFile)('git', ['-C', corpus, 'remote', 'add', 'origin', 'https://github.com/acme/widgets.git']);
  });
  afterAll(async () => {
    await cluster?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const model = () => ['--llm-base-url', server.url, '--model', 'fake-model', '--llm-stages', 'generate', '--no-cache', '--no-validate'];
  const stages = (prefix: string, list: string): Stages => {
    const s = startStages(['--topic-prefix', prefix, '--partitions', '1', '--near-duplicate-radius', '0', '--stages', list, ...model()], dir);
    cluster.children.push(s.child);
    return s;
  };
  const ingest = async (prefix: string) => {
    const r = await treesynth(['ingest', corpus, ...target(prefix), '--partitions', '1', '--state', join(dir, `state-${prefix}`), '-q'], dir);
    expect(r.code, r.stderr).toBe(0);
  };
  /** Waits for the chain to drain; a stage that never does fails with what its processes said. */
  const settled = async (prefix: string, chain: Array<[string, string]>, processes: Stages[]) => {
    try {
      await drained(cluster.admin, prefix, chain, 120_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${processes.map((p) => p.stderr().slice(-3000)).join('\n---\n')}`);
    }
  };
  const requestTasks = async (prefix: string, count: number) => {
    const r = await treesynth(['request-tasks', '--count', String(count), ...target(prefix)], dir);
    expect(r.code, r.stderr).toBe(0);
  };
  /** The corpus's files on disk now, by content hash. */
  const onDisk = () => new Map(Object.keys(GOOD_FILES).map((path) => [sha256(readFileSync(join(corpus, path), 'utf8')), path]));

  /** Every sample names files of the corpus as it is now, with the checkout's repository and licence, each for features of the sample. */
  function expectLineage(samples: GeneratedSample[]): void {
    expect(samples.length).toBeGreaterThan(0);
    const files = onDisk();
    for (const s of samples) {
      const sources = s.lineage!.sources!;
      expect(sources.length).toBeGreaterThan(0);
      const features = s.features.map((f) => f.nodeId);
      for (const source of sources) {
        expect(files.get(source.fileId)).toBe(source.path);
        expect(source).toMatchObject({ repository: 'https://github.com/acme/widgets.git', license: 'MIT' });
        for (const id of source.nodeIds) expect(features).toContain(id);
      }
      for (const id of features) expect(sources.filter((f) => f.nodeIds.includes(id)).length).toBeLessThanOrEqual(3);
    }
  }

  it('names source files when sample runs apart from the tree writer, and after a change and a restart with the index rebuilt', async () => {
    const prefix = cluster.prefix('ln');
    await ingest(prefix);
    const writer = stages(prefix, 'filter,extract,canonicalize');
    const sampler = stages(prefix, 'sample,generate');
    await Promise.all([writer.ready, sampler.ready]);
    await drained(cluster.admin, prefix, [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features']]);
    await requestTasks(prefix, 4);
    await settled(prefix, [['sample', 'tasks.requests'], ['generate', 'tasks']], [writer, sampler]);
    const first = (await cluster.records(prefix, TOPICS.generated)).map((r) => r.value);
    expect(first).toHaveLength(4);
    expectLineage(first);
    // The sample process followed tree.sources: it says so.
    expect(sampler.stderr()).toMatch(/following \S+tree\.sources: \d+ nodes with source files/);

    // The file named most often changes; every process stops.
    const counts = new Map<string, number>();
    for (const s of first) for (const src of s.lineage!.sources!) counts.set(src.path, (counts.get(src.path) ?? 0) + 1);
    const [changed] = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!;
    const oldHash = sha256(readFileSync(join(corpus, changed), 'utf8'));
    writeFileSync(join(corpus, changed), `${readFileSync(join(corpus, changed), 'utf8')}\n# changed: a new content, a new hash\n`);
    await ingest(prefix);
    await drained(cluster.admin, prefix, [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features']]);
    for (const s of [writer, sampler]) s.child.kill('SIGTERM');
    for (const s of [writer, sampler]) expect((await s.exited).code).toBe(0);

    // One process again: sample beside the writer reads the index rebuilt from tree.contributions.
    const all = stages(prefix, 'filter,extract,canonicalize,sample,generate');
    await all.ready;
    await requestTasks(prefix, 6);
    await settled(prefix, [['sample', 'tasks.requests'], ['generate', 'tasks']], [all]);
    const later = (await cluster.records(prefix, TOPICS.generated)).map((r) => r.value).filter((s) => !first.some((f) => f.sampleId === s.sampleId));
    expect(later).toHaveLength(6);
    expectLineage(later);
    const named = later.flatMap((s) => s.lineage!.sources!.map((src) => src.fileId));
    expect(named).not.toContain(oldHash);
    // The writer's changelog agrees: no node lists the old content any more.
    const index = await cluster.latest(prefix, TOPICS.sources);
    expect(index.size).toBeGreaterThan(0);
    for (const entry of index.values()) expect(entry.files.map((f) => f.fileId)).not.toContain(oldHash);
    all.child.kill('SIGTERM');
    expect((await all.exited).code).toBe(0);
  }, 400_000);
});
