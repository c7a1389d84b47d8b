import { describe, expect, it } from 'vitest';
import { cosine } from '../embeddings/embedder.js';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { LabelIndex, spellingKey } from '../stores/label-index.js';

describe('LabelIndex', () => {
  it('treats case, spacing and punctuation as the same spelling', () => {
    expect(spellingKey('Quick-Sort')).toBe('quick sort');
    expect(spellingKey('os.path')).toBe('os path');
    const index = new LabelIndex();
    index.add('p', 'n1', 'read file', null);
    expect(index.exact('p', 'Read_File')).toBe('n1');
    expect(index.exact('q', 'read file')).toBeUndefined();
  });

  it('finds the same nearest sibling as brute force, before and after moving to HNSW', async () => {
    const embedder = new LexicalLabelEmbedder();
    const labels = Array.from({ length: 400 }, (_, i) => `${['parse', 'render', 'sort', 'hash', 'merge'][i % 5]} ${['json', 'xml', 'csv', 'yaml'][i % 4]} item${i}`);
    const vectors = await embedder.embed(labels);
    const queries = await embedder.embed(labels.map((l) => l.replace('item', 'items ')));
    const index = new LabelIndex({ hnswThreshold: 100 });
    let agree = 0;
    let asked = 0;
    for (let i = 0; i < labels.length; i++) {
      if (i > 0) {
        const got = index.nearest('p', queries[i]!)!;
        let best = -Infinity;
        for (let j = 0; j < i; j++) best = Math.max(best, cosine(queries[i]!, vectors[j]!));
        asked += 1;
        if (Math.abs(got.similarity - best) < 1e-5) agree += 1;
        if (i < 100) expect(got.similarity).toBeCloseTo(best, 5); // exact search below the threshold
      }
      index.add('p', `n${i}`, labels[i]!, vectors[i]!);
    }
    expect(index.hnswParents).toBe(1);
    expect(agree / asked).toBeGreaterThanOrEqual(0.95);
  });
});
