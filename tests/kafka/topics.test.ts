// Topics of a deployment made by an earlier version: code.files expired records by time before
// retraction needed one live record per path. Opening the flow again compacts the topics that
// should be compacted, keeps the settings an operator gave them, and never turns compaction off.
import { randomUUID } from 'node:crypto';
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectKafka } from '../../connectors/kafka/client.js';
import { openKafkaContext } from '../../connectors/kafka/context.js';
import { DEFAULT_PARTITIONS, DEFAULT_RETENTION_MS, MAX_MESSAGE_BYTES } from '../../connectors/kafka/topics.js';
import { TOPICS } from '../../schemas/topics.js';
import { describeKafka, kafkaStack } from './stack-env.js';

const { brokers, registry } = kafkaStack;

describeKafka('topics made by an earlier version', () => {
  const prefix = `topics-${randomUUID().slice(0, 8)}.`;
  const files = `${prefix}${TOPICS.files.name}`;
  const paths = `${prefix}${TOPICS.paths.name}`;
  let admin: Admin;

  const configOf = async (topic: string): Promise<Record<string, string | null>> => {
    const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
    return Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  };
  const open = () =>
    openKafkaContext({
      brokers: brokers!.split(','), registryUrl: registry!, prefix, clientId: 'topics-test',
      topics: { partitions: DEFAULT_PARTITIONS, retentionMs: DEFAULT_RETENTION_MS },
    });

  beforeAll(async () => {
    ({ admin } = await connectKafka({ brokers: brokers!.split(','), clientId: 'topics-test-admin' }));
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        // As the earlier version made it, plus a setting of the operator's own.
        { topic: files, numPartitions: 2, replicationFactor: 1, configEntries: [
          { name: 'cleanup.policy', value: 'delete' }, { name: 'retention.ms', value: '3600000' }, { name: 'segment.ms', value: '7200000' },
        ] },
        // Already compacted, and compacted and deleted at once: both are left alone.
        { topic: paths, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact,delete' }, { name: 'retention.ms', value: '3600000' }] },
      ],
    });
  });

  afterAll(async () => {
    if (!admin) return;
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.deleteTopics({ topics: mine }).catch(() => {});
    await admin.disconnect();
  });

  it('compacts code.files in place, keeps its partitions and the operator\'s settings, and says so once', async () => {
    const first = await open();
    try {
      expect(first.compacted).toEqual([files]);
      expect(first.created).not.toContain(files);
    } finally {
      await first.close();
    }
    const config = await configOf(files);
    expect(config['cleanup.policy']).toBe('compact');
    expect(config['retention.ms']).toBe('-1');
    expect(config['segment.ms']).toBe('7200000');
    expect(config['max.message.bytes']).toBe(String(MAX_MESSAGE_BYTES));
    const meta = await admin.fetchTopicMetadata({ topics: [files] });
    expect(meta.topics[0]!.partitions).toHaveLength(2);

    const second = await open();
    try {
      expect(second.compacted).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('leaves a topic that already compacts as it is (the flow was opened above)', async () => {
    const config = await configOf(paths);
    expect(config['cleanup.policy']).toBe('compact,delete');
    expect(config['retention.ms']).toBe('3600000');
  });
});
