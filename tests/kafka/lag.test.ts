// `treesynth lag` against Kafka's own consumer-group tool, on the same groups.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Admin, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeKafka, kafkaStack } from './stack-env.js';

const run = promisify(execFile);
const { brokers } = kafkaStack;
const bin = new URL('../../bin/treesynth.js', import.meta.url).pathname;
const stack = new URL('../../docker/stack.sh', import.meta.url).pathname;
const id = randomUUID().slice(0, 8);
const prefix = `lagtest-${id}.`;
const topic = `${prefix}input`;

interface Row {
  group: string;
  topic: string;
  partition: number;
  committed: number | null;
  end: number;
  lag: number | null;
  consumer: string | null;
}

/** `kafka-consumer-groups --describe --all-groups`: the rows of the groups under our prefix. */
async function toolRows(): Promise<Array<[string, number, number | null, number, number | null, string | null]>> {
  const tool = await run('bash', [stack, 'kafka-tool', 'kafka-consumer-groups', '--bootstrap-server', brokers!, '--describe', '--all-groups']);
  // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
  const value = (cell: string | undefined) => (cell === undefined || cell === '-' ? null : Number(cell));
  return tool.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((cols) => cols[0]!.startsWith(prefix) && cols[1] === topic)
    .map((cols) => [cols[0]!, Number(cols[2]), value(cols[3]), Number(cols[4]), value(cols[5]), cols[6] === '-' ? null : cols[6]!]);
}

describeKafka('treesynth lag (needs KAFKA_BROKERS)', () => {
  let admin: Admin;
  const members: Consumer[] = [];

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
    // Groups without members: a has consumed part of partition 0, b committed only partition 0.
    await admin.setOffsets({ groupId: `${prefix}a`, topic, partitions: [{ partition: 0, offset: '2' }, { partition: 1, offset: '5' }] });
    await admin.setOffsets({ groupId: `${prefix}b`, topic, partitions: [{ partition: 0, offset: '0' }] });
    // Groups with a live member that holds both partitions: c never committed (a stage that
    // has not finished its first batch), d committed partition 1 only.
    await admin.setOffsets({ groupId: `${prefix}d`, topic, partitions: [{ partition: 1, offset: '3' }] });
    for (const group of [`${prefix}c`, `${prefix}d`]) {
      const consumer = kafka.consumer({ groupId: group, sessionTimeout: 30_000 });
      members.push(consumer);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      // Never resolves an offset and never commits: the member holds its partitions, that is all.
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
    }
    for (const group of [`${prefix}c`, `${prefix}d`]) {
      for (let i = 0; i < 120; i++) {
        const [described] = (await admin.describeGroups([group])).groups;
        if (described?.state === 'Stable' && described.members.length === 1) break;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  });
  afterAll(async () => {
    for (const consumer of members) await consumer.disconnect().catch(() => {});
    await admin.deleteGroups(['a', 'b', 'c', 'd'].map((g) => `${prefix}${g}`)).catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('prints per partition the same rows as kafka-consumer-groups --describe --all-groups, assigned partitions without a commit included', async () => {
    const { stdout } = await run('node', [bin, 'lag', '--kafka', brokers!, '--topic-prefix', prefix, '--json']);
    const ours = stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);
    const member = (group: string) => ours.find((r) => r.group === group && r.consumer !== null)?.consumer ?? 'none';
    expect(ours.map((r) => [r.group, r.partition, r.committed, r.end, r.lag, r.consumer])).toEqual([
      [`${prefix}a`, 0, 2, 5, 3, null],
      [`${prefix}a`, 1, 5, 5, 0, null],
      [`${prefix}b`, 0, 0, 5, 5, null],
      [`${prefix}c`, 0, null, 5, null, member(`${prefix}c`)],
      [`${prefix}c`, 1, null, 5, null, member(`${prefix}c`)],
      [`${prefix}d`, 0, null, 5, null, member(`${prefix}d`)],
      [`${prefix}d`, 1, 3, 5, 2, member(`${prefix}d`)],
    ]);
    const mine = ours.map((r) => [r.group, r.partition, r.committed, r.end, r.lag, r.consumer]);
    const sort = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();
    expect(sort(await toolRows())).toEqual(sort(mine));
  }, 120_000);

  it('counts a partition without a commit from its log start in the per-topic lag', async () => {
    const { stdout } = await run('node', [bin, 'lag', '--kafka', brokers!, '--topic-prefix', prefix]);
    // The per-topic table follows the per-partition one after a blank line:
    // GROUP TOPIC LAG UNCOMMITTED RATE/S TIME-TO-DRAIN
    const perTopic = stdout.split('\n\n')[1] ?? '';
    const line = (group: string) => perTopic.split('\n').find((l) => l.startsWith(`${prefix}${group} `));
    expect(line('c')?.split(/\s+/).slice(1, 4)).toEqual([topic, '10', '2']);
    expect(line('d')?.split(/\s+/).slice(1, 4)).toEqual([topic, '7', '1']);
    expect(line('a')?.split(/\s+/).slice(1, 4)).toEqual([topic, '3', '0']);
  }, 60_000);

  it('prints a table with lag per topic', async () => {
    const { stdout } = await run('node', [bin, 'lag', '--kafka', brokers!, '--topic-prefix', prefix]);
    expect(stdout).toMatch(/GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID/);
    expect(stdout).toMatch(/GROUP\s+TOPIC\s+LAG\s+UNCOMMITTED\s+RATE\/S\s+TIME-TO-DRAIN/);
  });

  it('an unreachable broker is one clear line with the retry schedule and a non-zero exit', async () => {
    const result = await run('node', [bin, 'lag', '--kafka', '127.0.0.1:1']).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/cannot reach Kafka.*attempts/);
  }, 60_000);
});
