// Labels repeat: most label occurrences in a corpus are spellings seen before. A remote
// embedder would be paid for every one, so label embedders answer repeats from a bounded
// in-memory cache and send only the texts they have not seen.
import type { Embedder } from './embedder.js';

export class CachedEmbedder implements Embedder {
  private readonly cache = new Map<string, Float32Array>();

  constructor(
    private readonly inner: Embedder,
    private readonly maxEntries = 200_000,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get dimension(): number {
    return this.inner.dimension;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const missing = [...new Set(texts.filter((t) => !this.cache.has(t)))];
    const fresh = new Map<string, Float32Array>();
    if (missing.length > 0) {
      const vectors = await this.inner.embed(missing);
      missing.forEach((text, i) => fresh.set(text, vectors[i]!));
    }
    // Answer from this call's vectors first: remembering them may evict others of this call.
    const answer = texts.map((t) => fresh.get(t) ?? this.cache.get(t)!);
    for (const [text, vector] of fresh) this.remember(text, vector);
    return answer;
  }

  private remember(text: string, vector: Float32Array): void {
    // Oldest first out: a Map iterates in insertion order.
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(text, vector);
  }
}
