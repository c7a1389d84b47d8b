// Consumer lag, computed as Kafka's own consumer-group tool (kafka-consumer-groups --describe)
// computes it. A group's rows are the partitions assigned to its live members, committed or not,
// and the partitions it committed that no member holds. LAG = LOG-END-OFFSET - CURRENT-OFFSET;
// a partition without a commit shows no current offset and no lag ('-'), as the tool prints.
// Per topic, such a partition counts its whole log as lag (treesynth's groups read from the
// beginning), so a stage that never committed does not look drained. The rate and time to
// drain come from two readings.
import { AssignerProtocol, type Admin } from 'kafkajs';

export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  /** Committed offset; null when the group has not committed this partition. */
  committed: number | null;
  end: number;
  lag: number | null;
  /** The partition's log start: where a group without a commit begins reading. */
  start: number;
  /** The live member the partition is assigned to; null when none holds it. */
  consumer: string | null;
}

export interface GroupTopicLag {
  group: string;
  topic: string;
  committed: number;
  end: number;
  /** Records not yet consumed: committed partitions' lag plus the whole log of partitions without a commit. */
  lag: number;
  /** Partitions with no committed offset. */
  uncommitted: number;
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

/** Partitions assigned to each live member of a consumer group: "topic/partition" -> member id. */
async function assignments(admin: Admin, group: string): Promise<Map<string, { topic: string; partition: number; member: string }>> {
  const out = new Map<string, { topic: string; partition: number; member: string }>();
  const { groups } = await admin.describeGroups([group]);
  for (const g of groups) {
    // Only consumer groups carry the consumer protocol's assignment (the tool describes only those).
    if (g.protocolType !== 'consumer') continue;
    for (const member of g.members) {
      if (!member.memberAssignment || member.memberAssignment.length === 0) continue;
      const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) {
        for (const partition of partitions) out.set(`${topic}/${partition}`, { topic, partition, member: member.memberId });
      }
    }
  }
  return out;
}

/** What `group` has not yet consumed of `topic`: end offset less committed (the log start when none), over its partitions. */
export async function topicLag(admin: Admin, group: string, topic: string): Promise<number> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  let total = 0;
  for (const end of ends) {
    const c = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
    total += Number(end.high) - Math.max(c, Number(end.low));
  }
  return total;
}

export async function readLag(admin: Admin, groups: readonly string[]): Promise<PartitionLag[]> {
  const rows: PartitionLag[] = [];
  const logs = new Map<string, Map<number, { start: number; end: number }>>();
  const offsetsOf = async (topic: string) => {
    let byPartition = logs.get(topic);
    if (!byPartition) {
      byPartition = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, { start: Number(p.low), end: Number(p.high) }]));
      logs.set(topic, byPartition);
    }
    return byPartition;
  };
  for (const group of groups) {
    const assigned = await assignments(admin, group);
    const committed = new Map<string, { topic: string; partition: number; offset: number }>();
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId: group })) {
      for (const p of partitions) if (Number(p.offset) >= 0) committed.set(`${topic}/${p.partition}`, { topic, partition: p.partition, offset: Number(p.offset) });
    }
    const keys = new Set([...assigned.keys(), ...committed.keys()]);
    for (const key of keys) {
      const { topic, partition } = assigned.get(key) ?? committed.get(key)!;
      const log = (await offsetsOf(topic)).get(partition) ?? { start: 0, end: 0 };
      const offset = committed.get(key)?.offset ?? null;
      rows.push({
        group, topic, partition, committed: offset, end: log.end, lag: offset === null ? null : Math.max(0, log.end - offset),
        start: log.start, consumer: assigned.get(key)?.member ?? null,
      });
    }
  }
  return rows.sort((a, b) => a.group.localeCompare(b.group) || a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Per group and topic; `previous` (an earlier reading `elapsedSeconds` ago) gives the rate. */
export function summarise(rows: readonly PartitionLag[], previous?: { rows: readonly PartitionLag[]; elapsedSeconds: number }): GroupTopicLag[] {
  const key = (r: { group: string; topic: string }) => `${r.group}\u0000${r.topic}`;
  const sum = (list: readonly PartitionLag[]) => {
    const out = new Map<string, { group: string; topic: string; committed: number; end: number; lag: number; uncommitted: number }>();
    for (const r of list) {
      const entry = out.get(key(r)) ?? { group: r.group, topic: r.topic, committed: 0, end: 0, lag: 0, uncommitted: 0 };
      // Consumed so far: up to the commit, or nothing of a partition without one.
      entry.committed += r.committed ?? r.start;
      entry.end += r.end;
      entry.lag += r.lag ?? Math.max(0, r.end - r.start);
      if (r.committed === null) entry.uncommitted += 1;
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
