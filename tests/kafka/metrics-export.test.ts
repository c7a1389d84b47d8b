// Kafka mode as an operator watches it and a trainer consumes it: Prometheus metrics from a
// running stage process, and `treesynth export --kafka` reading the samples topic.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openKafkaContext, openProducer } from '../../connectors/kafka/context.js';
import { DEFAULT_PARTITIONS, DEFAULT_RETENTION_MS } from '../../connectors/kafka/topics.js';
import type { GeneratedSample } from '../../schemas/contract.js';
import { TOPICS } from '../../schemas/topics.js';
import { writeCorpus } from '../fixtures/corpus.js';
import { describeKafka, kafkaStack } from './stack-env.js';

const { brokers, registry } = kafkaStack;
const bin = new URL('../../bin/treesynth.js', import.meta.url).pathname;
const prefix = `mx${randomUUID().slice(0, 6)}.`;
const env = { ...process.env, CI: 'true', KAFKAJS_NO_PARTITIONER_WARNING: '1', TREESYNTH_CONNECT_SCHEDULE_MS: '200,400' };

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [bin, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const sample = (id: string, passed: boolean): GeneratedSample => ({
  sampleId: id, taskId: `t-${id}`, treeKey: 'all', level: 'function', language: 'python', instruction: `Write f${id}.`, analysis: 'Easy.',
  files: [{ path: 'f.py', role: 'solution', content: 'def f():\n    return 1\n' }, { path: 'test_f.py', role: 'test', content: 'from f import f\nassert f() == 1\n' }],
  features: [], provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 }, usage: { promptTokens: 1, completionTokens: 1, requests: 1 },
  elapsedMs: 1, validation: { passed, turns: 0, reason: passed ? null : 'test-failure', attempts: [], tests: null, mutation: null }, createdAt: 0,
});

describeKafka('Kafka mode: metrics and export (needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'treesynth-mx-'));
    writeCorpus(join(dir, 'corpus'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves Prometheus metrics of the running stages: records in and out, batch latency, lag', async () => {
    const ingest = await cli(['ingest', join(dir, 'corpus'), '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--state', join(dir, 'state')]);
    expect(ingest.code).toBe(0);
    const child = spawn('node', [bin, 'run', '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--stages', 'filter,extract,canonicalize', '--metrics-port', '0', '--session-timeout', '6000'], { env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 90_000;
      let text = '';
      while (Date.now() < deadline) {
        const port = /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(stderr)?.[1];
        if (port) {
          text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          if (/treesynth_records_in_total\{stage="canonicalize"\} [1-9]/.test(text) && /treesynth_consumer_lag\{/.test(text)) break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(text).toMatch(/treesynth_records_in_total\{stage="filter"\} [1-9]/);
      expect(text).toMatch(/treesynth_records_in_total\{stage="canonicalize"\} [1-9]/);
      expect(text).toMatch(/treesynth_stage_batch_seconds_count\{stage="extract"\} [1-9]/);
      expect(text).toMatch(new RegExp(`treesynth_consumer_lag\\{group="${prefix.replace('.', '\\.')}extract"`));
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  }, 150_000);

  it('exports the samples topic into a training format, validated ones only on request', async () => {
    const context = await openKafkaContext({
      brokers: brokers!.split(','), registryUrl: registry!, prefix, clientId: 'mx-test', topics: { partitions: DEFAULT_PARTITIONS, retentionMs: DEFAULT_RETENTION_MS },
    });
    try {
      const producer = await openProducer(context);
      await producer.send([sample('a', true), sample('b', false), sample('c', true)].map((s) => context.message(TOPICS.samples, s)));
      await producer.close();
    } finally {
      await context.close();
    }
    const out = join(dir, 'train.jsonl');
    const result = await cli(['export', '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--out', out, '--format', 'instruction', '--validated-only']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^2 samples written/);
    const ids = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id).sort();
    expect(ids).toEqual(['a', 'c']);
  }, 120_000);

  it('writes the quality report from the topics: the tree from its changelog, samples and dead letters', async () => {
    const html = join(dir, 'report.html');
    const result = await cli(['report', '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--out', html]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^3 samples/);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('treesynth quality report');
    const quality = JSON.parse(readFileSync(join(dir, 'quality.json'), 'utf8'));
    expect(quality.figures.counts.samples).toBe(3);
    // The sunburst's data: the tree rebuilt from tree.nodes.
    expect(page).toContain('dependency relations');
  }, 120_000);

  it('evolves the tree on demand: request-evolution reaches the evolve stage (its prompt is recorded without a model)', async () => {
    const out = join(dir, 'evolve-out');
    const child = spawn('node', [bin, 'run', '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--stages', 'canonicalize,evolve', '--out', out, '--session-timeout', '6000'], {
      env: { ...env, OPENAI_BASE_URL: '', OPENAI_API_KEY: '' },
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const requested = await cli(['request-evolution', '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--rounds', '1']);
      expect(requested.code).toBe(0);
      expect(requested.stdout).toMatch(/requested 1 evolution round/);
      const pending = join(out, `${prefix}pending.jsonl`);
      const deadline = Date.now() + 90_000;
      let lines: Array<{ stage: string }> = [];
      while (Date.now() < deadline) {
        try {
          lines = readFileSync(pending, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
        } catch {
          lines = [];
        }
        if (lines.some((l) => l.stage === 'evolve')) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(lines.some((l) => l.stage === 'evolve')).toBe(true);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  }, 150_000);
});
