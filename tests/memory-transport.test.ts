import { describe, expect, it } from 'vitest';
import { lastValueFrom, of, toArray } from 'rxjs';
import { MemoryTransport } from '../connectors/memory-transport.js';
import { loadContracts, type TaskRequest } from '../schemas/contract.js';
import { TOPICS } from '../schemas/topics.js';

describe('MemoryTransport', () => {
  it('delivers records to consumers and completes a topic when all its producers complete', async () => {
    const transport = new MemoryTransport(loadContracts());
    const got = lastValueFrom(transport.consume(TOPICS.taskRequests, 'g').pipe(toArray()));
    const r = (index: number): TaskRequest => ({ treeKey: 'all', index, level: null, requestedAt: 0 });
    transport.produce(TOPICS.taskRequests, of(r(1), r(2)));
    transport.produce(TOPICS.taskRequests, of(r(3)));
    transport.start();
    expect((await got).map((x) => x.index)).toEqual([1, 2, 3]);
  });

  it('checks every record against its schema: an invalid one becomes a dead letter naming the field', async () => {
    const transport = new MemoryTransport(loadContracts());
    const requests = lastValueFrom(transport.consume(TOPICS.taskRequests, 'g').pipe(toArray()));
    const dead = lastValueFrom(transport.consume(TOPICS.deadLetters, 'g').pipe(toArray()));
    const bad = { treeKey: 'all', index: 'one', level: null, requestedAt: 0 } as unknown as TaskRequest;
    transport.produce(TOPICS.taskRequests, of(bad, { treeKey: 'all', index: 2, level: null, requestedAt: 0 }));
    transport.produce(TOPICS.deadLetters, of());
    transport.start();
    expect((await requests).map((x) => x.index)).toEqual([2]);
    const letters = await dead;
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ stage: 'produce:tasks.requests', reason: 'schema-violation' });
    expect(letters[0]!.detail).toContain('index');
  });
});
