// Test helper: the exact inclusion probabilities of k successive weighted draws without
// replacement, by dynamic programming over subsets. P(S) — the probability that the first |S|
// draws are S, in any order — is Σ_{i∈S} P(S∖i) · w_i / (W − w(S∖i)); π_i sums P(S) over the
// k-subsets that hold i. Exponential in the number of items, so only for small sibling sets; it
// shares nothing with lib/inclusion.ts, which it checks.

export function exactInclusion(weights: readonly number[], k: number): number[] {
  const n = weights.length;
  if (n > 22) throw new Error(`exactInclusion enumerates subsets: ${n} items is too many`);
  const positive = weights.filter((w) => w > 0).length;
  const draws = Math.min(k, positive); // the sampler stops when nothing with weight is left
  const probability = new Map<number, number>([[0, 1]]);
  let layer = [0];
  for (let size = 1; size <= draws; size++) {
    const next = new Map<number, number>();
    for (const set of layer) {
      const p = probability.get(set)!;
      let left = 0; // summed from what is left, not W minus what was drawn: no cancellation
      for (let i = 0; i < n; i++) if (!(set & (1 << i))) left += weights[i]!;
      for (let i = 0; i < n; i++) {
        if (set & (1 << i) || weights[i]! === 0) continue;
        const grown = set | (1 << i);
        next.set(grown, (next.get(grown) ?? 0) + (p * weights[i]!) / left);
      }
    }
    for (const [set, p] of next) probability.set(set, p);
    layer = [...next.keys()];
  }
  const pi = new Array<number>(n).fill(0);
  for (const set of layer) {
    const p = probability.get(set)!;
    for (let i = 0; i < n; i++) if (set & (1 << i)) pi[i] = pi[i]! + p;
  }
  return pi;
}
