// Kafka mode while the corpus arrives: task requests made before the tree can serve them wait
// (uncommitted, so they show as lag, and counted in the metrics) and become tasks once files
// arrive, so `request-tasks --count N` yields exactly N tasks; the wait is bounded; and with
// --tasks-per-files the stages ask for tasks themselves as the tree takes in files.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLabelEmbedder } from '../../embeddings/index.js';
import type { TreeNodeChange } from '../../schemas/contract.js';
import { FeatureTrees } from '../../stores/feature-trees.js';
import { PER_FILE_INDEX_BASE } from '../../topology/run-kafka.js';
import { writeCorpus } from '../fixtures/corpus.js';
import { TOPICS, TestCluster, drained, root, startStages, target, treesynth, type Stages } from './harness.js';
import { describeKafka } from './stack-env.js';

const CHAIN: Array<[string, string]> = [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features'], ['sample', 'tasks.requests']];

describeKafka('Kafka mode as the corpus arrives (needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL)', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await TestCluster.open('continuous-test');
    dir = mkdtempSync(join(tmpdir(), 'treesynth-continuous-'));
  });
  afterAll(async () => {
    await cluster?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function stages(prefix: string, args: string[]): Stages {
    const s = startStages(['--topic-prefix', prefix, '--partitions', '1', ...args], dir);
    cluster.children.push(s.child);
    return s;
  }

  /** Records of the sample group's input not yet consumed, as `treesynth lag --json` reports them. */
  async function requestsPending(prefix: string): Promise<number> {
    const lag = await treesynth(['lag', '--kafka', target(prefix)[1]!, '--topic-prefix', prefix, '--json'], dir);
    const rows = lag.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { group: string; topic: string; lag: number | null; end: number; start: number });
    return rows.filter((r) => r.group === `${prefix}sample` && r.topic === `${prefix}tasks.requests`).reduce((n, r) => n + (r.lag ?? r.end - r.start), 0);
  }

  it('requests made before the tree has features wait, visibly, and all become tasks once files arrive', async () => {
    const prefix = cluster.prefix('cw');
    const run = stages(prefix, ['--stages', 'filter,extract,canonicalize,sample', '--metrics-port', '0']);
    await run.ready;
    const metricsUrl = `http://127.0.0.1:${/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(run.stderr())![1]}/metrics`;
    const waiting = async () => Number(/treesynth_requests_waiting\{stage="sample"\} (\d+)/.exec(await (await fetch(metricsUrl)).text())?.[1] ?? 0);

    const requested = await treesynth(['request-tasks', '--count', '12', ...target(prefix)], dir);
    expect(requested.stdout).toContain(`requested 12 tasks (indexes 0..11) on ${prefix}tasks.requests`);
    // The tree is empty: the requests wait, uncommitted, counted in the metrics.
    await expect.poll(() => run.stderr(), { timeout: 30_000 }).toMatch(/treesynth: sample: \d+ task request\(s\) wait for tree all/);
    await expect.poll(waiting, { timeout: 10_000, interval: 500 }).toBeGreaterThan(0);
    expect(await requestsPending(prefix)).toBe(12);

    const corpus = join(dir, 'corpus-wait');
    writeCorpus(corpus);
    const ingested = await treesynth(['ingest', corpus, ...target(prefix), '--state', join(dir, 'state'), '-q'], dir);
    expect(ingested.code, ingested.stderr).toBe(0);
    await drained(cluster.admin, prefix, CHAIN, 90_000);

    const tasks = (await cluster.records(prefix, TOPICS.tasks)).map((r) => r.value);
    expect(tasks.map((t) => t.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(tasks.every((t) => t.features.length > 0)).toBe(true);
    const dead = (await cluster.records(prefix, TOPICS.deadLetters)).map((r) => r.value);
    expect(dead.filter((d) => d.stage === 'sample')).toEqual([]);
    expect(await waiting()).toBe(0);
    expect(run.stderr()).toMatch(/treesynth: sample: served the waiting task requests after/);
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  }, 180_000);

  it('a request waits at most --request-wait seconds, then becomes a dead letter that says so', async () => {
    const prefix = cluster.prefix('cb');
    // The sample stage alone: it follows the tree another process would write (none here).
    const run = stages(prefix, ['--stages', 'sample', '--request-wait', '2']);
    await run.ready;
    const started = Date.now();
    expect((await treesynth(['request-tasks', '--count', '3', ...target(prefix)], dir)).code).toBe(0);
    await drained(cluster.admin, prefix, [['sample', 'tasks.requests']], 60_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    const dead = (await cluster.records(prefix, TOPICS.deadLetters)).map((r) => r.value);
    expect(dead.map((d) => [d.stage, d.reason, d.recordId])).toEqual([0, 1, 2].map((i) => ['sample', 'empty-tree', `all#${i}`]));
    for (const d of dead) expect(d.detail).toMatch(/has no features to sample yet \(waited \d+ s for the tree\)$/);
    expect(await cluster.records(prefix, TOPICS.tasks)).toEqual([]);
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  }, 120_000);

  it('with --tasks-per-files, tasks keep flowing as files arrive: floor(files x rate) in all, each once', async () => {
    const prefix = cluster.prefix('cf');
    const src = join(root, 'node_modules/kafkajs/src');
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.js') && !f.includes('spec') && statSync(join(src, f)).isFile()).sort().slice(0, 24);
    const corpus = join(dir, 'corpus-flow');
    const add = (names: string[]) => {
      for (const f of names) {
        mkdirSync(join(corpus, dirname(f)), { recursive: true });
        copyFileSync(join(src, f), join(corpus, f));
      }
    };
    const ingest = async () => expect((await treesynth(['ingest', corpus, ...target(prefix), '--partitions', '1', '--state', join(dir, 'state'), '-q'], dir)).code).toBe(0);
    /** Files the tree took in (its root's frequency) and the tasks written so far. */
    const state = async () => {
      const latest = new Map<string, TreeNodeChange>();
      for (const c of await cluster.records(prefix, TOPICS.treeChanges)) latest.set(c.raw.key!.toString(), c.value);
      const trees = await FeatureTrees.restore(latest.values(), createLabelEmbedder({ kind: 'lexical' }));
      return { files: trees.get('all').tree.root.frequency, tasks: (await cluster.records(prefix, TOPICS.tasks)).map((r) => r.value) };
    };

    add(files.slice(0, 12));
    await ingest();
    const run = stages(prefix, ['--stages', 'filter,extract,canonicalize,sample', '--tasks-per-files', '0.5', '--near-duplicate-radius', '0']);
    await run.ready;
    await drained(cluster.admin, prefix, CHAIN, 90_000);
    const first = await state();
    expect(first.files).toBeGreaterThan(6);
    expect(first.tasks.map((t) => t.index).sort((a, b) => a - b)).toEqual(Array.from({ length: Math.floor(first.files * 0.5) }, (_, i) => PER_FILE_INDEX_BASE + i));

    // More files arrive while the stages run: more tasks, none repeated.
    add(files.slice(12));
    await ingest();
    await drained(cluster.admin, prefix, CHAIN, 90_000);
    const second = await state();
    expect(second.files).toBeGreaterThan(first.files);
    expect(second.tasks.map((t) => t.index).sort((a, b) => a - b)).toEqual(Array.from({ length: Math.floor(second.files * 0.5) }, (_, i) => PER_FILE_INDEX_BASE + i));
    expect(new Set(second.tasks.map((t) => t.taskId)).size).toBe(second.tasks.length);
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  }, 240_000);
});
