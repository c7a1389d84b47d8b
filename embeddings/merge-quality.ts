// How well an embedder plus a threshold merges labels: over pairs labelled "same feature" or
// "different features", a merge is predicted when cosine similarity is at or above the
// threshold (as canonicalization does). Precision is the share of predicted merges that are
// right, recall the share of same-feature pairs that merge. Used to choose the default
// threshold (tests/fixtures/label-pairs.json) and by `npm run bench`.
import { cosine, type Embedder } from './embedder.js';

export interface LabelPair {
  a: string;
  b: string;
  same: boolean;
}

export interface ScoredPair extends LabelPair {
  similarity: number;
}

export interface MergeQuality {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  /** Pairs of different features merged: the mistakes that cost a feature. */
  wrongMerges: ScoredPair[];
  /** Pairs of one feature left apart: the mistakes that split a node. */
  missedMerges: ScoredPair[];
}

/** Parses `{ same: [[a, b], ...], different: [[a, b], ...] }`, failing on anything else. */
export function parseLabelPairs(json: unknown): LabelPair[] {
  const fail = (why: string): never => {
    throw new Error(`label pairs: ${why}`);
  };
  if (typeof json !== 'object' || json === null) return fail('expected an object with "same" and "different"');
  const pairs: LabelPair[] = [];
  for (const key of ['same', 'different'] as const) {
    const list = (json as Record<string, unknown>)[key];
    if (!Array.isArray(list) || list.length === 0) return fail(`"${key}" must be a non-empty array of [label, label]`);
    for (const [i, pair] of list.entries()) {
      if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((l) => typeof l === 'string' && l.trim() !== '')) {
        return fail(`"${key}"[${i}] must be two non-empty labels, got ${JSON.stringify(pair)}`);
      }
      pairs.push({ a: pair[0] as string, b: pair[1] as string, same: key === 'same' });
    }
  }
  return pairs;
}

/** Every pair with its cosine similarity under `embedder`, in one call. */
export async function scorePairs(embedder: Embedder, pairs: readonly LabelPair[]): Promise<ScoredPair[]> {
  const vectors = await embedder.embed(pairs.flatMap((p) => [p.a, p.b]));
  return pairs.map((p, i) => ({ ...p, similarity: cosine(vectors[2 * i]!, vectors[2 * i + 1]!) }));
}

export function mergeQuality(scored: readonly ScoredPair[], threshold: number): MergeQuality {
  const merged = scored.filter((p) => p.similarity >= threshold);
  const right = merged.filter((p) => p.same).length;
  const same = scored.filter((p) => p.same).length;
  // No merges at all makes no wrong merge: precision 1, recall 0.
  const precision = merged.length === 0 ? 1 : right / merged.length;
  const recall = same === 0 ? 1 : right / same;
  return {
    threshold, precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    wrongMerges: merged.filter((p) => !p.same),
    missedMerges: scored.filter((p) => p.same && p.similarity < threshold),
  };
}

/**
 * The threshold on a 0.01 grid with the best F1; among equals the highest, since a wrong merge
 * loses a feature for good while a missed one only splits a node's frequency.
 */
export function bestThreshold(scored: readonly ScoredPair[]): MergeQuality {
  let best: MergeQuality | null = null;
  for (let step = 100; step >= 1; step--) {
    const q = mergeQuality(scored, step / 100);
    if (!best || q.f1 > best.f1 + 1e-12) best = q;
  }
  return best!;
}
