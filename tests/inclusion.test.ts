// The arithmetic the sampler's promise rests on: the inclusion probabilities of k successive
// weighted draws without replacement (lib/inclusion.ts, an integral over the exponential race)
// against exact enumeration over subsets (tests/exact-inclusion.ts), and the coverage tilt's
// guarantee that it never pushes realised counts away from the formula's.
import { describe, expect, it } from 'vitest';
import { inclusionProbabilities } from '../lib/inclusion.js';
import { seededRandom } from '../lib/random.js';
import { tiltedWeights } from '../stores/tree-sampling.js';
import { exactInclusion } from './exact-inclusion.js';

/** Weights spread over `orders` orders of magnitude. */
function randomWeights(random: () => number, n: number, orders: number): number[] {
  return Array.from({ length: n }, () => 10 ** ((random() - 0.5) * orders));
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('inclusion probabilities of successive draws without replacement', () => {
  it('match exact enumeration over subsets to 1e-12, from even to very skewed weights', () => {
    const random = seededRandom(5);
    let worst = 0;
    for (let trial = 0; trial < 240; trial++) {
      const n = 2 + Math.floor(random() * 13);
      const k = 1 + Math.floor(random() * Math.min(n, 7));
      const weights = randomWeights(random, n, [0.5, 2, 4, 7][trial % 4]!);
      const fast = inclusionProbabilities(weights, k);
      const exact = exactInclusion(weights, k);
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(fast[i]! - exact[i]!));
    }
    expect(worst).toBeLessThan(1e-12);
  });

  it('are not the weight shares once k ≥ 2: frequent items are capped, rare ones lifted', () => {
    // The old coverage target assumed π_i = k·w_i/Σw; without replacement π_i ≤ 1 and the rest shifts to rarer items.
    const weights = [8, 4, 2, 1, 1];
    const pi = inclusionProbabilities(weights, 2);
    expect(pi[0]).toBeLessThan((2 * 8) / 16);
    expect(pi[4]).toBeGreaterThan((2 * 1) / 16);
    expect(sum(pi)).toBeCloseTo(2, 12);
  });

  it('handle the edges: k = 1, zero weights, fewer items than draws, no draws', () => {
    expect(inclusionProbabilities([1, 3], 1)).toEqual([0.25, 0.75]);
    expect(inclusionProbabilities([0, 2, 0, 5], 3)).toEqual([0, 1, 0, 1]);
    const withZero = inclusionProbabilities([0, 1, 2, 3], 2);
    expect(withZero[0]).toBe(0);
    expect(sum(withZero)).toBeCloseTo(2, 12);
    expect(inclusionProbabilities([1, 2, 3], 0)).toEqual([0, 0, 0]);
    expect(inclusionProbabilities([], 2)).toEqual([]);
  });

  it('refuse negative or non-finite weights', () => {
    expect(() => inclusionProbabilities([1, -1], 1)).toThrow(/non-negative/);
    expect(() => inclusionProbabilities([1, Number.NaN], 1)).toThrow(/finite/);
    expect(() => inclusionProbabilities([1, Infinity], 1)).toThrow(/finite/);
  });
});

describe('the coverage tilt', () => {
  // s: drawn − expected per candidate. The tilt's expected effect on s over one draw is π' − π;
  // it must never point along s (s·(π' − π) ≤ 0), for any k, weights and surpluses.
  const drift = (weights: number[], surplus: number[], boost: number, k: number) => {
    const before = exactInclusion(weights, k);
    const after = exactInclusion(tiltedWeights(weights, surplus, boost), k);
    return sum(surplus.map((s, i) => s * (after[i]! - before[i]!)));
  };

  it('moves the expected surplus toward zero, never away, for k ≥ 1', () => {
    const random = seededRandom(9);
    let worst = -Infinity;
    for (let trial = 0; trial < 400; trial++) {
      const n = 2 + Math.floor(random() * 9);
      const k = 1 + Math.floor(random() * Math.min(n - 1, 5));
      const weights = randomWeights(random, n, 3);
      const surplus = weights.map(() => (random() - 0.5) * 6);
      const boost = [0.3, 1, 3][trial % 3]!;
      worst = Math.max(worst, drift(weights, surplus, boost, k));
    }
    expect(worst).toBeLessThanOrEqual(1e-12);
  });

  it('would push away if it favoured the nodes ahead (the check has teeth)', () => {
    const random = seededRandom(10);
    let pushedAway = 0;
    for (let trial = 0; trial < 50; trial++) {
      const weights = randomWeights(random, 6, 2);
      const surplus = weights.map(() => (random() - 0.5) * 4);
      if (drift(weights, surplus, -1, 2) > 1e-9) pushedAway += 1;
    }
    expect(pushedAway).toBe(50);
  });

  it('keeps weights finite however far a node falls behind', () => {
    const tilted = tiltedWeights([1, 1e6], [-1e6, 1e6], 5);
    expect(tilted.every((w) => Number.isFinite(w) && w > 0)).toBe(true);
    expect(tilted[0]! / tilted[1]!).toBeGreaterThan(1e18);
  });
});
