// Seeded randomness, so a sampling run is reproducible from its seed.

/** mulberry32: tiny, fast, and good enough for sampling (not for cryptography). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a seed with further integers into one 32-bit seed (splitmix-style). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h ^= Math.floor(p) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    h ^= Math.floor(p / 4294967296) >>> 0;
  }
  return h >>> 0;
}

/** Index drawn with probability proportional to its weight; -1 when all weights are zero. */
export function weightedIndex(weights: readonly number[], random: () => number): number {
  let total = 0;
  for (const w of weights) total += w;
  if (!(total > 0)) return -1;
  let r = random() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r < 0) return i;
  }
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i;
  return -1;
}
