// Kafka mode under transient failures: a failed batch restarts the stage it hit and nothing
// else (no other store is rebuilt, nothing is lost), the stages ride out a broker that goes
// away and comes back, and SIGTERM ends a process within a few seconds in every state:
// connecting, running, and backing off from a broker it cannot reach.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initTransactionalProducer } from '../../connectors/kafka/transactional.js';
import { BrokerProxy } from './broker-proxy.js';
import { TOPICS, TestCluster, bin, cliEnv, drained, root, startStages, target, treesynth, type Stages } from './harness.js';
import { describeKafka, kafkaStack } from './stack-env.js';

const CHAIN: Array<[string, string]> = [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features']];
const count = (text: string, pattern: RegExp) => (text.match(new RegExp(pattern.source, 'g')) ?? []).length;

describeKafka('Kafka mode restarts and stops (needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL)', () => {
  let cluster: TestCluster;
  let dir: string;
  let files: string[];
  const src = join(root, 'node_modules/kafkajs/src');

  beforeAll(async () => {
    cluster = await TestCluster.open('restart-test');
    dir = mkdtempSync(join(tmpdir(), 'treesynth-restart-'));
    files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.js') && !f.includes('spec') && statSync(join(src, f)).isFile()).sort().slice(0, 30);
  });
  afterAll(async () => {
    await cluster?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Copies some kafkajs sources into `corpus` and ingests the corpus into `prefix`'s code.files. */
  async function feed(prefix: string, corpus: string, names: string[]): Promise<void> {
    for (const f of names) {
      mkdirSync(join(corpus, dirname(f)), { recursive: true });
      copyFileSync(join(src, f), join(corpus, f));
    }
    const r = await treesynth(['ingest', corpus, ...target(prefix), '--partitions', '1', '--state', join(dir, `state-${prefix}`), '-q'], dir);
    expect(r.code, r.stderr).toBe(0);
  }

  function stages(prefix: string, args: string[], brokers?: string): Stages {
    const s = startStages(['--topic-prefix', prefix, '--partitions', '1', '--near-duplicate-radius', '0', ...args], dir, brokers ? { brokers } : {});
    cluster.children.push(s.child);
    return s;
  }

  /** Every accepted file has its feature set, once. */
  async function expectComplete(prefix: string): Promise<void> {
    const accepted = (await cluster.records(prefix, TOPICS.accepted)).map((r) => r.value.id);
    const features = (await cluster.records(prefix, TOPICS.features)).map((r) => r.value.fileId);
    expect(new Set(features).size).toBe(features.length);
    expect([...features].sort()).toEqual([...accepted].sort());
  }

  it('a failed batch restarts only its stage: the other stores are not rebuilt and nothing is lost', async () => {
    const prefix = cluster.prefix('rs');
    const corpus = join(dir, 'corpus-one');
    await feed(prefix, corpus, files.slice(0, 10));
    const run = stages(prefix, ['--stages', 'filter,extract,canonicalize']);
    await run.ready;
    await drained(cluster.admin, prefix, CHAIN, 90_000);

    // Another producer takes over extract's transactional id for its one input partition:
    // extract's next transaction fails, fenced. It is not a store's single writer, so that is
    // transient for it: its stage restarts with a new producer.
    const usurper = await initTransactionalProducer(cluster.kafka, `${prefix}extract-${prefix}code.accepted-0`);
    await usurper.disconnect();
    await feed(prefix, corpus, files.slice(10, 20));
    await expect.poll(() => run.stderr(), { timeout: 60_000 }).toMatch(/treesynth: extract: .*; restarting extract from its committed state/);
    await drained(cluster.admin, prefix, CHAIN, 90_000);

    const log = run.stderr();
    expect(log).toMatch(/treesynth: extract: running again/);
    expect(count(log, /restarting /)).toBe(1);
    expect(count(log, /treesynth: filter restored /)).toBe(1);
    expect(count(log, /treesynth: tree restored /)).toBe(1);
    await expectComplete(prefix);
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  }, 180_000);

  it('rides out a broker that goes away and comes back: the stages restart and go on', async () => {
    const prefix = cluster.prefix('rb');
    const corpus = join(dir, 'corpus-two');
    await feed(prefix, corpus, files.slice(0, 10));
    const proxy = await BrokerProxy.start(kafkaStack.brokers);
    try {
      const run = stages(prefix, ['--stages', 'filter,extract,canonicalize'], proxy.address);
      await run.ready;
      await drained(cluster.admin, prefix, CHAIN, 90_000);
      await proxy.cut();
      await expect.poll(() => run.stderr(), { timeout: 90_000, interval: 500 }).toMatch(/restarting /);
      await proxy.restore();
      await feed(prefix, corpus, files.slice(10, 20));
      await drained(cluster.admin, prefix, CHAIN, 120_000);
      await expectComplete(prefix);
      run.child.kill('SIGTERM');
      expect((await run.exited).code).toBe(0);
    } finally {
      await proxy.cut();
    }
  }, 300_000);

  /** Sends SIGTERM and resolves with how long the process took to exit, and how. */
  async function terminate(run: Stages): Promise<{ ms: number; code: number | null; stderr: string }> {
    const sent = Date.now();
    run.child.kill('SIGTERM');
    const result = await run.exited;
    return { ms: Date.now() - sent, code: result.code, stderr: result.stderr };
  }

  it('SIGTERM ends a process that cannot reach its broker within 5 s, while it is backing off', async () => {
    const prefix = cluster.prefix('rt');
    await feed(prefix, join(dir, 'corpus-three'), files.slice(0, 4));
    const proxy = await BrokerProxy.start(kafkaStack.brokers);
    try {
      const run = stages(prefix, ['--stages', 'filter,extract,canonicalize'], proxy.address);
      await run.ready;
      await proxy.cut();
      // A stage failed and is restarting: backing off, or trying to reach the broker again.
      await expect.poll(() => run.stderr(), { timeout: 90_000, interval: 500 }).toMatch(/restarting /);
      const stopped = await terminate(run);
      expect(stopped.ms, stopped.stderr).toBeLessThan(5_000);
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stderr).toMatch(/treesynth: stopped\n$/);
    } finally {
      await proxy.cut();
    }
  }, 180_000);

  it('SIGTERM ends ingest --watch within 5 s while its broker is out of reach', async () => {
    const prefix = cluster.prefix('rw');
    const corpus = join(dir, 'corpus-watch');
    await feed(prefix, corpus, files.slice(0, 2));
    const proxy = await BrokerProxy.start(kafkaStack.brokers);
    try {
      const child = spawn('node', [bin, 'ingest', corpus, '--watch', '--interval', '300', ...target(prefix, proxy.address), '--state', join(dir, `state-${prefix}`)], { cwd: dir, env: cliEnv() });
      cluster.children.push(child);
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await expect.poll(() => stdout, { timeout: 30_000 }).toContain('watching');
      await proxy.cut();
      // A new file: the pass that sends it hangs on the missing broker.
      copyFileSync(join(src, files[2]!), join(corpus, 'late.js'));
      await new Promise((r) => setTimeout(r, 2_000));
      const sent = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - sent).toBeLessThan(5_000);
      expect(stdout).toContain('stopped: 0 files sent in all');
    } finally {
      await proxy.cut();
    }
  }, 120_000);

  it('SIGTERM ends a process within 5 s right after its broker went away, and while it is still connecting', async () => {
    const prefix = cluster.prefix('ru');
    const proxy = await BrokerProxy.start(kafkaStack.brokers);
    try {
      const run = stages(prefix, ['--stages', 'filter,extract,canonicalize'], proxy.address);
      await run.ready;
      await proxy.cut();
      await new Promise((r) => setTimeout(r, 1_500));
      const stopped = await terminate(run);
      expect(stopped.ms, stopped.stderr).toBeLessThan(5_000);
      expect(stopped.code, stopped.stderr).toBe(0);
    } finally {
      await proxy.cut();
    }
    // A broker address where nothing answers (connections are accepted, never served), with a
    // patient connection schedule: SIGTERM ends the waiting, mid-attempt included.
    const connections: Socket[] = [];
    const silent = createServer((socket) => void connections.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const connecting = startStages(['--topic-prefix', prefix, '--stages', 'filter'], dir, {
        brokers: `127.0.0.1:${(silent.address() as AddressInfo).port}`, env: { ...cliEnv(), TREESYNTH_CONNECT_SCHEDULE_MS: '1000,2000,4000,8000,16000' },
      });
      cluster.children.push(connecting.child);
      connecting.ready.catch(() => {}); // it never gets there
      await expect.poll(() => connections.length, { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
      const stopped = await terminate(connecting);
      expect(stopped.ms, stopped.stderr).toBeLessThan(5_000);
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stderr).toMatch(/treesynth: SIGTERM: stopping[^\n]*\ntreesynth: stopped\n$/);
    } finally {
      for (const socket of connections) socket.destroy();
      silent.close();
    }
  }, 120_000);
});
