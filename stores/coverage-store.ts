// What the sampler has drawn against what the formula expected it to draw. Every time the walk
// draws among a node's children, each candidate's expected draws grow by its exact inclusion
// probability for that draw (k without replacement, lib/inclusion.ts) and its drawn count by one
// when it is drawn; their difference is what coverage-aware sampling corrects
// (stores/tree-sampling.ts). Also memoises the inclusion probabilities of a sibling set, since
// the same weights come back on every visit while the tree does not change.
import { inclusionProbabilities } from '../lib/inclusion.js';

interface Tally {
  drawn: number;
  expected: number;
}

interface Memo {
  weights: readonly number[];
  probabilities: number[];
}

export class CoverageStore {
  private readonly tallies = new Map<string, Tally>();
  /** Per parent, per k. */
  private readonly memo = new Map<string, Map<number, Memo>>();

  private tally(nodeId: string): Tally {
    let t = this.tallies.get(nodeId);
    if (!t) this.tallies.set(nodeId, (t = { drawn: 0, expected: 0 }));
    return t;
  }

  timesDrawn(nodeId: string): number {
    return this.tallies.get(nodeId)?.drawn ?? 0;
  }

  /** Σ over the draws among its siblings of the probability that it was drawn. */
  expectedDraws(nodeId: string): number {
    return this.tallies.get(nodeId)?.expected ?? 0;
  }

  /** Drawn minus expected: positive when drawn more often than the formula says. */
  surplus(nodeId: string): number {
    const t = this.tallies.get(nodeId);
    return t ? t.drawn - t.expected : 0;
  }

  /**
   * One draw among siblings: adds each candidate's inclusion probability in it to its expected
   * draws, and returns each one's surplus from before.
   */
  expect(nodeIds: readonly string[], probabilities: readonly number[]): Float64Array {
    const before = new Float64Array(nodeIds.length);
    for (let i = 0; i < nodeIds.length; i++) {
      const t = this.tally(nodeIds[i]!);
      before[i] = t.drawn - t.expected;
      t.expected += probabilities[i]!;
    }
    return before;
  }

  record(nodeId: string): void {
    this.tally(nodeId).drawn += 1;
  }

  /**
   * Inclusion probabilities of k draws without replacement among `parentId`'s candidates with
   * these weights, reused while the weights stay the same.
   */
  inclusion(parentId: string, weights: readonly number[], k: number): readonly number[] {
    let byK = this.memo.get(parentId);
    if (!byK) this.memo.set(parentId, (byK = new Map()));
    const hit = byK.get(k);
    if (hit && hit.weights.length === weights.length && hit.weights.every((w, i) => w === weights[i])) return hit.probabilities;
    const probabilities = inclusionProbabilities(weights, k);
    byK.set(k, { weights: [...weights], probabilities });
    return probabilities;
  }

  /** Nodes drawn at least once. */
  covered(): Set<string> {
    const out = new Set<string>();
    for (const [id, t] of this.tallies) if (t.drawn > 0) out.add(id);
    return out;
  }
}
