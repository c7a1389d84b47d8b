// What one stage transaction writes: on a compacted topic only the last message of each key
// (a transaction becomes visible whole, and compaction keeps the latest record of a key), on
// other topics everything, in order.
import { describe, expect, it } from 'vitest';
import { latestPerKey, type OutMessage } from '../connectors/kafka/transactional.js';

const msg = (topic: string, key: string, value: string | null, compacted: boolean): OutMessage => ({
  topic, partition: 0, key, value: value === null ? null : Buffer.from(value), ...(compacted ? { compacted: true } : {}),
});
const shown = (ms: OutMessage[]) => ms.map((m) => `${m.topic}:${m.key}=${m.value?.toString() ?? 'null'}`);

describe('latestPerKey', () => {
  it('keeps the last message of a key on a compacted topic, at its place, tombstones included', () => {
    const out = [
      msg('tree.nodes', 'all/root', 'f1', true),
      msg('tree.nodes', 'all/a', 'f1', true),
      msg('dead.letters', 'x', 'd1', false),
      msg('tree.nodes', 'all/root', 'f2', true),
      msg('dead.letters', 'x', 'd2', false),
      msg('tree.nodes', 'all/a', null, true),
      msg('filter.paths', 'all/root', 'p', true),
    ];
    expect(shown(latestPerKey(out))).toEqual(['dead.letters:x=d1', 'tree.nodes:all/root=f2', 'dead.letters:x=d2', 'tree.nodes:all/a=null', 'filter.paths:all/root=p']);
  });

  it('leaves a batch without repeated keys as it is', () => {
    const out = [msg('tree.nodes', 'all/root', 'f1', true), msg('features', 'h1', 'v', false), msg('features', 'h1', 'w', false)];
    expect(latestPerKey(out)).toEqual(out);
  });
});
