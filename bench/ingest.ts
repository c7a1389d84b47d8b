// Ingest throughput: `treesynth ingest` (read, Avro-encode in the Confluent wire format, send
// with acks=all) beside the raw produce throughput of the same broker for the same payloads
// and the same batching (500 records or 4 MiB, idempotent producer, acks=all), as a ratio.
import { randomUUID } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { ingest } from '../topology/ingest.js';
import { parseBrokers } from '../connectors/kafka/client.js';
import { MAX_MESSAGE_BYTES } from '../connectors/kafka/topics.js';

export interface IngestBench {
  files: number;
  megabytes: number;
  /**
   * One whole `ingest` call, its connection included, after a 50-file ingest on the same prefix
   * has created the topics and registered the schemas (as they are in a running deployment).
   */
  ingest: { seconds: number; filesPerSecond: number; megabytesPerSecond: number };
  raw: { seconds: number; recordsPerSecond: number; megabytesPerSecond: number };
  ratio: number;
}

/** The first `n` files of a JSONL corpus, as a smaller JSONL file and as raw payloads. */
async function take(corpus: string, n: number, target: string): Promise<Buffer[]> {
  const lines: string[] = [];
  const payloads: Buffer[] = [];
  for await (const line of createInterface({ input: createReadStream(corpus, 'utf8'), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    lines.push(line);
    payloads.push(Buffer.from((JSON.parse(line) as { content: string }).content, 'utf8'));
    if (lines.length >= n) break;
  }
  writeFileSync(target, `${lines.join('\n')}\n`);
  return payloads;
}

export async function ingestBench(corpus: string, n: number, brokers: string, registry: string): Promise<IngestBench> {
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-ingest-bench-'));
  const prefix = `bench${randomUUID().slice(0, 6)}.`;
  const kafka = new Kafka({ clientId: 'ingest-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const file = join(dir, 'corpus.jsonl');
    const payloads = await take(corpus, n, file);
    const bytes = payloads.reduce((a, p) => a + p.length, 0);

    const timedIngest = async (input: string, topicPrefix: string) => {
      const t0 = performance.now();
      const counts = await ingest(input, {
        brokers: parseBrokers(brokers), registryUrl: registry, topicPrefix, topics: { partitions: 3, retentionMs: 3600_000 }, quiet: true,
        watch: false, interval: 1, maxReadBytes: 4 << 20, state: join(dir, 'state'), resend: true,
      });
      return { counts, seconds: (performance.now() - t0) / 1000 };
    };
    const smallFile = join(dir, 'small.jsonl');
    await take(corpus, 50, smallFile);
    await timedIngest(smallFile, prefix);
    const { counts, seconds: ingestSeconds } = await timedIngest(file, prefix);

    const raw = `${prefix}raw`;
    // The same topic settings as treesynth's own topics (batches of up to 4 MiB).
    await admin.createTopics({ topics: [{ topic: raw, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) }] }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const t1 = performance.now();
    let batch: Array<{ key: string; value: Buffer }> = [];
    let batchBytes = 0;
    for (const [i, value] of payloads.entries()) {
      batch.push({ key: String(i), value });
      batchBytes += value.length;
      if (batch.length >= 500 || batchBytes >= 4 * 1024 * 1024) {
        await producer.send({ topic: raw, acks: -1, messages: batch });
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length) await producer.send({ topic: raw, acks: -1, messages: batch });
    const rawSeconds = (performance.now() - t1) / 1000;
    await producer.disconnect();

    const mb = bytes / 1e6;
    const ingestRate = mb / ingestSeconds;
    const rawRate = mb / rawSeconds;
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.deleteTopics({ topics }).catch(() => {});
    return {
      files: counts.sent, megabytes: +mb.toFixed(2),
      ingest: { seconds: +ingestSeconds.toFixed(2), filesPerSecond: Math.round(counts.sent / ingestSeconds), megabytesPerSecond: +ingestRate.toFixed(2) },
      raw: { seconds: +rawSeconds.toFixed(2), recordsPerSecond: Math.round(payloads.length / rawSeconds), megabytesPerSecond: +rawRate.toFixed(2) },
      ratio: +(ingestRate / rawRate).toFixed(2),
    };
  } finally {
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}
