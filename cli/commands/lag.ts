// `treesynth lag`: consumer lag of every stage's consumer group, per partition as
// kafka-consumer-groups --describe shows it (partitions assigned but never committed included,
// with '-'), and per topic with the partitions that have no commit counted from the log start.
import { Command } from 'commander';
import type { GroupTopicLag, PartitionLag } from '../../connectors/kafka/lag.js';
import { brokersOf } from '../kafka-options.js';

interface LagOptions {
  kafka?: string;
  topicPrefix: string;
  group?: string[];
  json: boolean;
  watch: boolean;
  interval: number;
}

const pad = (cells: string[][]) => {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  // Names left-aligned, numbers right-aligned (a trailing consumer id is a name).
  return cells.map((row) => row.map((c, i) => (i < 2 || i === 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
};

const duration = (s: number | null) => (s === null ? '-' : s < 60 ? `${s.toFixed(0)}s` : s < 3600 ? `${(s / 60).toFixed(1)}m` : `${(s / 3600).toFixed(1)}h`);

function table(rows: readonly PartitionLag[], topics: readonly GroupTopicLag[]): string {
  const perPartition = [
    ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID'],
    ...rows.map((r) => [r.group, r.topic, String(r.partition), r.committed === null ? '-' : String(r.committed), String(r.end), r.lag === null ? '-' : String(r.lag), r.consumer ?? '-']),
  ];
  const perTopic = [
    ['GROUP', 'TOPIC', 'LAG', 'UNCOMMITTED', 'RATE/S', 'TIME-TO-DRAIN'],
    ...topics.map((t) => [t.group, t.topic, String(t.lag), String(t.uncommitted), t.rate === null ? '-' : t.rate.toFixed(1), duration(t.drainSeconds)]),
  ];
  return `${pad(perPartition)}\n\n${pad(perTopic)}\n`;
}

export function registerLagCommand(program: Command): void {
  program
    .command('lag')
    .description("Consumer lag of treesynth's consumer groups, per partition (the same rows and numbers as kafka-consumer-groups --describe: '-' where a group has not committed) and per topic.")
    .option('--kafka <brokers>', 'bootstrap brokers (default: KAFKA_BROKERS)')
    .option('--topic-prefix <prefix>', 'prefix of the consumer groups to show', 'treesynth.')
    .option('--group <id>', 'a consumer group to show (repeatable); default all under the prefix', (v: string, prev: string[] = []) => [...prev, v])
    .option('--json', 'one JSON object per partition: group, topic, partition, committed, end, lag (null without a commit), start, consumer', false)
    .option('--watch', 'read again every --interval seconds, with consumption rate and time to drain', false)
    .option('--interval <s>', 'seconds between readings with --watch', (v: string) => Math.max(1, Number(v) || 5), 5)
    .action(async (options: LagOptions) => {
      // Loaded here, not at start-up: kafkajs is not needed by the other commands.
      const { connectKafka } = await import('../../connectors/kafka/client.js');
      const { listGroups, readLag, summarise } = await import('../../connectors/kafka/lag.js');
      const { admin } = await connectKafka({ brokers: brokersOf(options.kafka), clientId: 'treesynth-lag' });
      try {
        let previous: { rows: PartitionLag[]; at: number } | undefined;
        let stop = false;
        const onSignal = () => (stop = true);
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        do {
          const groups = options.group ?? (await listGroups(admin, options.topicPrefix));
          const rows = await readLag(admin, groups);
          const at = Date.now();
          if (options.json) {
            for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
          } else {
            const since = previous ? { rows: previous.rows, elapsedSeconds: (at - previous.at) / 1000 } : undefined;
            process.stdout.write(groups.length === 0 ? `no consumer groups under "${options.topicPrefix}"\n` : table(rows, summarise(rows, since)));
          }
          previous = { rows, at };
          if (options.watch && !stop) await new Promise((r) => setTimeout(r, options.interval * 1000));
        } while (options.watch && !stop);
      } finally {
        await admin.disconnect();
      }
    });
}
