// Consumer lag, computed as Kafka's own consumer-group tool computes it: for every partition a
// group has committed, LAG = LOG-END-OFFSET - CURRENT-OFFSET; partitions of its topics without a
// commit show no current offset and no lag. The rate and time to drain come from two readings.
import type { Admin } from 'kafkajs';

export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  /** Committed offset; null when the group has not committed this partition. */
  committed: number | null;
  end: number;
  lag: number | null;
}

export interface GroupTopicLag {
  group: string;
  topic: string;
  committed: number;
  end: number;
  lag: number;
  /** Records consumed per second since the previous reading; null on the first. */
  rate: number | null;
  /** Seconds until lag reaches 0 at that rate; null when unknown or not draining. */
  drainSeconds: number | null;
}

/** Groups whose id starts with `prefix` (all when empty), sorted. */
export async function listGroups(admin: Admin, prefix: string): Promise<string[]> {
  const { groups } = await admin.listGroups();
  return groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix)).sort();
}

export async function readLag(admin: Admin, groups: readonly string[]): Promise<PartitionLag[]> {
  const rows: PartitionLag[] = [];
  const ends = new Map<string, Map<number, number>>();
  const endOffsets = async (topic: string) => {
    let byPartition = ends.get(topic);
    if (!byPartition) {
      byPartition = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.offset)]));
      ends.set(topic, byPartition);
    }
    return byPartition;
  };
  for (const group of groups) {
    const topics = await admin.fetchOffsets({ groupId: group });
    for (const { topic, partitions } of topics) {
      const end = await endOffsets(topic);
      for (const p of partitions) {
        const committed = Number(p.offset) >= 0 ? Number(p.offset) : null;
        const logEnd = end.get(p.partition) ?? 0;
        rows.push({ group, topic, partition: p.partition, committed, end: logEnd, lag: committed === null ? null : Math.max(0, logEnd - committed) });
      }
    }
  }
  return rows.sort((a, b) => a.group.localeCompare(b.group) || a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Per group and topic; `previous` (an earlier reading `elapsedSeconds` ago) gives the rate. */
export function summarise(rows: readonly PartitionLag[], previous?: { rows: readonly PartitionLag[]; elapsedSeconds: number }): GroupTopicLag[] {
  const key = (r: { group: string; topic: string }) => `${r.group}\u0000${r.topic}`;
  const sum = (list: readonly PartitionLag[]) => {
    const out = new Map<string, { group: string; topic: string; committed: number; end: number; lag: number }>();
    for (const r of list) {
      const entry = out.get(key(r)) ?? { group: r.group, topic: r.topic, committed: 0, end: 0, lag: 0 };
      entry.committed += r.committed ?? 0;
      entry.end += r.end;
      entry.lag += r.lag ?? 0;
      out.set(key(r), entry);
    }
    return out;
  };
  const before = previous ? sum(previous.rows) : new Map();
  return [...sum(rows).values()].map((now) => {
    const then = before.get(key(now));
    const rate = then && previous && previous.elapsedSeconds > 0 ? Math.max(0, (now.committed - then.committed) / previous.elapsedSeconds) : null;
    return { ...now, rate, drainSeconds: rate && rate > 0 ? now.lag / rate : now.lag === 0 ? 0 : null };
  });
}
