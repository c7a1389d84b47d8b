import { describe, expect, it } from 'vitest';
import { CachedEmbedder } from '../embeddings/cached.js';
import type { Embedder } from '../embeddings/embedder.js';

function counting(): Embedder & { asked: string[][] } {
  const asked: string[][] = [];
  return {
    name: 'counting', dimension: 2, asked,
    embed: async (texts) => {
      asked.push([...texts]);
      return texts.map((t) => new Float32Array([t.length, 1]));
    },
  };
}

describe('CachedEmbedder', () => {
  it('sends only texts it has not seen, once each, and answers in order', async () => {
    const inner = counting();
    const cached = new CachedEmbedder(inner);
    const first = await cached.embed(['read file', 'parse json', 'read file']);
    const second = await cached.embed(['parse json', 'sort', 'read file']);
    expect(inner.asked).toEqual([['read file', 'parse json'], ['sort']]);
    expect(first.map((v) => v[0])).toEqual([9, 10, 9]);
    expect(second.map((v) => v[0])).toEqual([10, 4, 9]);
    expect(cached.name).toBe('counting');
  });

  it('forgets the oldest entries past its bound', async () => {
    const inner = counting();
    const cached = new CachedEmbedder(inner, 2);
    const all = await cached.embed(['a', 'bb', 'ccc']);
    expect(all.map((v) => v[0])).toEqual([1, 2, 3]);
    await cached.embed(['a']);
    expect(inner.asked).toEqual([['a', 'bb', 'ccc'], ['a']]);
  });
});
