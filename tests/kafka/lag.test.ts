// `treesynth lag` against Kafka's own consumer-group tool, on the same groups.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeKafka, kafkaStack } from './stack-env.js';

const run = promisify(execFile);
const { brokers } = kafkaStack;
const bin = new URL('../../bin/treesynth.js', import.meta.url).pathname;
const stack = new URL('../../docker/stack.sh', import.meta.url).pathname;
const id = randomUUID().slice(0, 8);
const prefix = `lagtest-${id}.`;
const topic = `${prefix}input`;

describeKafka('treesynth lag (needs KAFKA_BROKERS)', () => {
  let admin: Admin;

  beforeAll(async () => {
    process.env['KAFKAJS_NO_PARTITIONER_WARNING'] ??= '1';
    const kafka = new Kafka({ clientId: 'lag-test', brokers: brokers!.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ partition: i % 2, value: `v${i}` })) });
    await producer.disconnect();
    // Two groups: one has consumed part of partition 0, one nothing of partition 1.
    await admin.setOffsets({ groupId: `${prefix}a`, topic, partitions: [{ partition: 0, offset: '2' }, { partition: 1, offset: '5' }] });
    await admin.setOffsets({ groupId: `${prefix}b`, topic, partitions: [{ partition: 0, offset: '0' }] });
  });
  afterAll(async () => {
    await admin.deleteGroups([`${prefix}a`, `${prefix}b`]).catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('prints per partition the same committed offset, end offset and lag as kafka-consumer-groups', async () => {
    const { stdout } = await run('node', [bin, 'lag', '--kafka', brokers!, '--topic-prefix', prefix, '--json']);
    const ours = stdout.trim().split('\n').map((l) => JSON.parse(l) as { group: string; topic: string; partition: number; committed: number | null; end: number; lag: number | null });
    expect(ours.map((r) => [r.group, r.partition, r.committed, r.end, r.lag])).toEqual([
      [`${prefix}a`, 0, 2, 5, 3],
      [`${prefix}a`, 1, 5, 5, 0],
      [`${prefix}b`, 0, 0, 5, 5],
    ]);
    for (const group of [`${prefix}a`, `${prefix}b`]) {
      const tool = await run('bash', [stack, 'kafka-tool', 'kafka-consumer-groups', '--bootstrap-server', brokers!, '--describe', '--group', group]);
      // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
      const theirs = tool.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((cols) => cols[0] === group && cols[1] === topic)
        .map((cols) => [Number(cols[2]), cols[3] === '-' ? null : Number(cols[3]), Number(cols[4]), cols[5] === '-' ? null : Number(cols[5])]);
      const mine = ours.filter((r) => r.group === group).map((r) => [r.partition, r.committed, r.end, r.lag]);
      expect(theirs.sort()).toEqual(mine.sort());
    }
  }, 120_000);

  it('prints a table with lag per topic', async () => {
    const { stdout } = await run('node', [bin, 'lag', '--kafka', brokers!, '--topic-prefix', prefix]);
    expect(stdout).toMatch(/GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG/);
    expect(stdout).toMatch(/TIME-TO-DRAIN/);
  });

  it('an unreachable broker is one clear line with the retry schedule and a non-zero exit', async () => {
    const result = await run('node', [bin, 'lag', '--kafka', '127.0.0.1:1']).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/cannot reach Kafka.*attempts/);
  }, 60_000);
});
