// Kafka mode beside local mode on the same corpus, as a user runs each: `treesynth run --input
// corpus.jsonl` (files/s from its summary: reading, filtering, extraction, canonicalization)
// against `treesynth run --kafka` (every stage, one process), timed from the moment
// `treesynth ingest` has sent the first of the same files until canonicalize has committed the
// last of them (stages already started: a deployment runs continuously). Both without a model.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { topicLag as lag } from '../connectors/kafka/lag.js';

export interface KafkaThroughputBench {
  files: number;
  local: { seconds: number; filesPerSecond: number };
  kafka: { seconds: number; filesPerSecond: number };
  /** Kafka files/s over local files/s (target ≥ 0.7). */
  ratio: number;
}

const bin = join(process.cwd(), 'bin', 'treesynth.js');

function run(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [bin, ...args], { env: { ...process.env, CI: 'true' } });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr, stdout }));
  });
}

export async function kafkaThroughputBench(corpus: string, files: number, brokers: string, registry: string): Promise<KafkaThroughputBench> {
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-kafka-bench-'));
  const prefix = `benchk${randomUUID().slice(0, 6)}.`;
  const kafka = new Kafka({ clientId: 'kafka-throughput-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let stages: ChildProcess | null = null;
  try {
    // The first `files` files of the corpus, for both modes.
    const input = join(dir, 'corpus.jsonl');
    writeFileSync(input, `${readFileSync(corpus, 'utf8').split('\n').filter((l) => l.trim()).slice(0, files).join('\n')}\n`);
    const local = await run(['run', '--input', input, '--out', join(dir, 'local'), '--tasks', '0', '--no-cache', '--quiet', '--embeddings', 'lexical']);
    if (local.code !== 0) throw new Error(`local run failed: ${local.stderr}`);
    const summary = JSON.parse(readFileSync(join(dir, 'local', 'summary.json'), 'utf8')) as { files: { read: number }; elapsedMs: number };

    const common = ['--kafka', brokers, '--registry', registry, '--topic-prefix', prefix];
    // Topics and schemas first, as in a running deployment; the timed ingest sends the corpus.
    stages = spawn('node', [bin, 'run', ...common, '--stages', 'filter,extract,canonicalize', '--embeddings', 'lexical', '--quiet'], { env: { ...process.env, CI: 'true' } });
    let stderr = '';
    stages.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => stages!.on('close', () => resolve()));
    for (let i = 0; i < 600 && !(await admin.listTopics()).includes(`${prefix}features`); i++) await new Promise((r) => setTimeout(r, 100));
    const groupsUp = async () => (await admin.listGroups()).groups.filter((g) => g.groupId.startsWith(prefix)).length >= 3;
    for (let i = 0; i < 600 && !(await groupsUp()); i++) await new Promise((r) => setTimeout(r, 100));

    // The clock starts with the first file on code.files: the ingest process's own start-up (node,
    // connecting, the registry) is left out, as local mode's process start-up is.
    const ingesting = run(['ingest', input, ...common, '--state', join(dir, 'state'), '--quiet']);
    const sent = async () => (await admin.fetchTopicOffsets(`${prefix}code.files`)).reduce((n, p) => n + Number(p.high), 0);
    let t0 = performance.now();
    for (let waited = 0; (await sent()) === 0; waited += 10) {
      if (waited > 120_000) throw new Error('ingest sent nothing in 2 minutes');
      await new Promise((r) => setTimeout(r, 10));
      t0 = performance.now();
    }
    const ingested = await ingesting;
    if (ingested.code !== 0) throw new Error(`ingest failed: ${ingested.stderr}`);
    const chain: Array<[string, string]> = [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features']];
    for (const [stage, topic] of chain) {
      for (;;) {
        if ((await lag(admin, `${prefix}${stage}`, `${prefix}${topic}`)) === 0) break;
        if (performance.now() - t0 > 600_000) throw new Error(`${stage} did not drain ${topic} in 10 minutes: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const kafkaSeconds = (performance.now() - t0) / 1000;
    stages.kill('SIGTERM');
    await exited;
    stages = null;

    const read = summary.files.read;
    const localRate = read / (summary.elapsedMs / 1000);
    const kafkaRate = read / kafkaSeconds;
    return {
      files: read,
      local: { seconds: Math.round(summary.elapsedMs) / 1000, filesPerSecond: Math.round(localRate) },
      kafka: { seconds: Math.round(kafkaSeconds * 1000) / 1000, filesPerSecond: Math.round(kafkaRate) },
      ratio: Math.round((kafkaRate / localRate) * 100) / 100,
    };
  } finally {
    stages?.kill('SIGKILL');
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.deleteTopics({ topics }).catch(() => {});
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    await admin.deleteGroups(groups).catch(() => {});
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}
