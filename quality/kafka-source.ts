// A run in Kafka mode as a report source: the samples, dead letters and tasks topics read to
// their end offsets (read_committed), and the feature tree rebuilt from its compacted
// changelog. What report/build.ts reads from an out-dir, it reads here from the topics.
import { openKafkaContext, type KafkaContext } from '../connectors/kafka/context.js';
import { readTopic } from '../connectors/kafka/reader.js';
import { DEFAULT_PARTITIONS, DEFAULT_RETENTION_MS } from '../connectors/kafka/topics.js';
import type { GeneratedSample, RecordName, Records, Rejection, SynthesisTask, TreeNodeChange } from '../schemas/contract.js';
import { TreeStore } from '../stores/tree-store.js';
import { TOPICS, type TopicSpec } from '../schemas/topics.js';
import type { RunSource } from './collect.js';
import { readFeatureTree } from './records.js';

async function readAll<N extends RecordName>(context: KafkaContext, spec: TopicSpec<N>, problems: string[]): Promise<Array<Records[N]>> {
  const topic = context.topic(spec);
  const records: Array<Records[N]> = [];
  await readTopic(context.kafka, context.admin, topic, {
    groupPrefix: `${context.prefix}report`,
    timeoutMs: 120_000,
    onRecord: async (raw) => {
      const decoded = await context.serde.decode(topic, spec.record, raw.value);
      if (decoded.ok) records.push(decoded.value);
      else problems.push(`${topic}[${raw.partition}]@${raw.offset}: ${decoded.reason}: ${decoded.detail}`);
    },
  });
  return records;
}

export async function openKafkaRun(settings: { brokers: string[]; registryUrl: string; prefix: string }): Promise<RunSource> {
  const context = await openKafkaContext({
    ...settings, clientId: `${settings.prefix}report`, topics: { partitions: DEFAULT_PARTITIONS, retentionMs: DEFAULT_RETENTION_MS },
  });
  const problems: string[] = [];
  try {
    const samples: GeneratedSample[] = await readAll(context, TOPICS.samples, problems);
    const rejections: Rejection[] = await readAll(context, TOPICS.deadLetters, problems);
    const tasks: SynthesisTask[] = await readAll(context, TOPICS.tasks, problems);
    const changes: TreeNodeChange[] = await readAll(context, TOPICS.treeChanges, problems);
    const byKey = new Map<string, TreeNodeChange[]>();
    for (const c of changes) byKey.set(c.treeKey, [...(byKey.get(c.treeKey) ?? []), c]);
    const nested = [...byKey].map(([key, list]) => TreeStore.restore(key, list).toNested());
    const tree = nested.length === 0 ? null : nested.length === 1 ? nested[0] : { label: 'trees', frequency: nested.reduce((a, n) => a + n.frequency, 0), origin: 'root', aliases: [], children: nested };
    const iterate = <T>(list: readonly T[]) => async function* () {
      yield* list;
    };
    return {
      label: `${settings.brokers.join(',')} ${settings.prefix}*`,
      tree: readFeatureTree(tree),
      summary: null,
      samples: iterate(samples),
      rejections: iterate(rejections),
      tasks: iterate(tasks),
      problems,
    };
  } finally {
    await context.close();
  }
}
