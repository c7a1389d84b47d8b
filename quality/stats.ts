// Small statistics used by the quality figures. Pure functions; inputs are never modified.

/** Summary of a list of numbers; every field is null for an empty list. */
export interface Distribution {
  count: number;
  mean: number | null;
  median: number | null;
  p90: number | null;
  min: number | null;
  max: number | null;
}

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Linear-interpolation quantile (the same as numpy's default), q in [0, 1]. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { count: 0, mean: null, median: null, p90: null, min: null, max: null };
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { count: values.length, mean: mean(values), median: quantile(values, 0.5), p90: quantile(values, 0.9), min, max };
}

/** Share a / b, or null when b is 0 (a share of nothing is not 0 %, it is unknown). */
export const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

/** Shannon entropy in bits of the distribution given by counts (zeros ignored). */
export function entropyBits(counts: Iterable<number>): number {
  let total = 0;
  const list: number[] = [];
  for (const c of counts) {
    if (c > 0) {
      list.push(c);
      total += c;
    }
  }
  if (total === 0) return 0;
  let h = 0;
  for (const c of list) {
    const p = c / total;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * 53-bit FNV-1a style hash of a string, as a safe integer: two independent 32-bit FNV-1a
 * passes combined, so hashed n-gram sets collide with negligible probability even at tens of
 * millions of entries while staying plain numbers (fast Map/Set keys, no BigInt).
 */
export function hash53(text: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return (h1 >>> 0) * 0x200000 + ((h2 >>> 0) & 0x1fffff);
}

/** Lower-cased word tokens (letters, digits, underscore): punctuation and spacing do not count. */
export function wordTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
}
