// Inclusion probabilities of successive weighted draws without replacement: k draws, each with
// p ∝ w among the items not yet drawn. π_i = P(item i is among the k). There is no closed form
// for k ≥ 2, and enumerating draw orders is exponential, so this uses the exponential race: give
// item j an arrival time E_j ~ Exp(w_j); the first k arrivals are distributed exactly as k
// successive draws. Then
//     π_i = ∫₀^∞ w_i e^{-w_i t} · P(fewer than k of the others arrived by t) dt,
// a one-dimensional integral of smooth functions, evaluated with 20-point Gauss–Legendre on
// panels [0,1], [1,2], [2,4], ... (weights normalised to sum 1, so every rate is ≤ 1 and each
// panel is no wider than where it starts) until the probability that fewer than k items have
// arrived at all falls below 1e-17: that is the whole mass left out. Agrees with exact
// enumeration over subsets to ~1e-13 (tests/inclusion.test.ts).

const GAUSS_POINTS = 20;

/** Nodes and weights of n-point Gauss–Legendre quadrature on [-1, 1] (Newton on P_n). */
function gaussLegendre(n: number): { x: Float64Array; w: Float64Array } {
  const x = new Float64Array(n);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let derivative = 1;
    for (let iteration = 0; iteration < 100; iteration++) {
      let previous = 1;
      let current = z;
      for (let j = 2; j <= n; j++) {
        const next = ((2 * j - 1) * z * current - (j - 1) * previous) / j;
        previous = current;
        current = next;
      }
      derivative = (n * (z * current - previous)) / (z * z - 1);
      const step = current / derivative;
      z -= step;
      if (Math.abs(step) < 1e-16) break;
    }
    x[i] = z;
    w[i] = 2 / ((1 - z * z) * derivative * derivative);
  }
  return { x, w };
}

const RULE = gaussLegendre(GAUSS_POINTS);
/** Mass that may be left beyond the last panel. */
const TAIL = 1e-17;

/**
 * π_i for k successive draws without replacement with p ∝ w. Items of weight 0 are never
 * drawn (π = 0); when at most k items have weight, each is drawn (π = 1). Σπ = min(k, #w>0).
 */
export function inclusionProbabilities(weights: readonly number[], k: number): number[] {
  const n = weights.length;
  const pi = new Array<number>(n).fill(0);
  const live: number[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weight ${i} is ${w}: weights must be finite and non-negative`);
    if (w > 0) {
      live.push(i);
      total += w;
    }
  }
  if (k <= 0 || live.length === 0) return pi;
  if (live.length <= k) {
    for (const i of live) pi[i] = 1;
    return pi;
  }
  if (k === 1) {
    for (const i of live) pi[i] = weights[i]! / total;
    return pi;
  }
  const rate = live.map((i) => weights[i]! / total);
  const sums = raceIntegrals(rate, k);
  live.forEach((i, j) => (pi[i] = sums[j]!));
  return pi;
}

/** ∫ rate_i e^{-rate_i t} P(#others arrived < k) dt for every item, rates summing to 1. */
function raceIntegrals(rate: readonly number[], k: number): Float64Array {
  const m = rate.length;
  const sums = new Float64Array(m);
  // prefix[j*k + c]: P(c of items 0..j-1 have arrived); suffix[j*k + c]: the same for items j..m-1,
  // counts above k-1 dropped (they never matter); cumulative suffix for the final convolution.
  const prefix = new Float64Array((m + 1) * k);
  const suffix = new Float64Array((m + 1) * k);
  const notYet = new Float64Array(m);
  const arrived = new Float64Array(m);

  const evaluate = (t: number, scale: number) => {
    for (let j = 0; j < m; j++) {
      notYet[j] = Math.exp(-rate[j]! * t);
      arrived[j] = -Math.expm1(-rate[j]! * t);
    }
    prefix.fill(0, 0, k);
    prefix[0] = 1;
    for (let j = 0; j < m; j++) {
      const from = j * k;
      const to = from + k;
      prefix[to] = prefix[from]! * notYet[j]!;
      for (let c = 1; c < k; c++) prefix[to + c] = prefix[from + c]! * notYet[j]! + prefix[from + c - 1]! * arrived[j]!;
    }
    suffix.fill(0, m * k, (m + 1) * k);
    suffix[m * k] = 1;
    for (let j = m - 1; j >= 0; j--) {
      const from = (j + 1) * k;
      const to = j * k;
      suffix[to] = suffix[from]! * notYet[j]!;
      for (let c = 1; c < k; c++) suffix[to + c] = suffix[from + c]! * notYet[j]! + suffix[from + c - 1]! * arrived[j]!;
    }
    for (let i = 0; i < m; i++) {
      // P(fewer than k of the others) = Σ_a prefix_i[a] · P(suffix_{i+1} ≤ k-1-a)
      let fewer = 0;
      let cumulative = 0;
      const before = i * k;
      const after = (i + 1) * k;
      for (let b = 0; b < k; b++) {
        cumulative += suffix[after + b]!;
        fewer += prefix[before + k - 1 - b]! * cumulative;
      }
      sums[i] = sums[i]! + scale * rate[i]! * notYet[i]! * fewer;
    }
  };

  /** P(fewer than k of all items have arrived by t): the mass beyond t. */
  const beyond = (t: number) => {
    const counts = new Float64Array(k);
    counts[0] = 1;
    for (let j = 0; j < m; j++) {
      const q = Math.exp(-rate[j]! * t);
      const p = -Math.expm1(-rate[j]! * t);
      for (let c = k - 1; c >= 1; c--) counts[c] = counts[c]! * q + counts[c - 1]! * p;
      counts[0] = counts[0]! * q;
    }
    return counts.reduce((a, b) => a + b, 0);
  };

  let start = 0;
  let end = 1;
  for (let panel = 0; panel < 1100; panel++) {
    const half = (end - start) / 2;
    const middle = (end + start) / 2;
    for (let g = 0; g < GAUSS_POINTS; g++) evaluate(middle + half * RULE.x[g]!, half * RULE.w[g]!);
    if (beyond(end) < TAIL) break;
    start = end;
    end *= 2;
  }
  return sums;
}
