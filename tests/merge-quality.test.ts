// How merge quality is counted, and the labelled pairs the default threshold is chosen on.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bestThreshold, mergeQuality, parseLabelPairs, type ScoredPair } from '../embeddings/merge-quality.js';

const pair = (a: string, b: string, same: boolean, similarity: number): ScoredPair => ({ a, b, same, similarity });

describe('mergeQuality', () => {
  const scored = [
    pair('error handling', 'exception handling', true, 0.9),
    pair('read file', 'reading files', true, 0.8),
    pair('hash map', 'dictionary', true, 0.2),
    pair('read file', 'write file', false, 0.85),
    pair('sorting', 'merge sort', false, 0.5),
    pair('json parsing', 'xml parsing', false, 0.4),
    pair('stack', 'queue', false, 0.3),
  ];

  it('counts a merge at or above the threshold: precision over merges, recall over same-feature pairs', () => {
    const q = mergeQuality(scored, 0.8);
    expect(q.precision).toBeCloseTo(2 / 3, 10);
    expect(q.recall).toBeCloseTo(2 / 3, 10);
    expect(q.f1).toBeCloseTo(2 / 3, 10);
    expect(q.wrongMerges.map((p) => p.b)).toEqual(['write file']);
    expect(q.missedMerges.map((p) => p.b)).toEqual(['dictionary']);
  });

  it('calls no merge at all precise but recall-less', () => {
    const q = mergeQuality(scored, 0.95);
    expect(q).toMatchObject({ precision: 1, recall: 0, f1: 0 });
  });

  it('picks the best F1 on a 0.01 grid, the highest threshold among equals', () => {
    // (0.85, 0.9] merges the 1st pair only: F1 0.5; (0.5, 0.8] adds the 2nd and the wrong 4th: 0.67;
    // lower ones add wrong merges faster than right ones (0.2 merges all: 0.6).
    const best = bestThreshold(scored);
    expect(best.threshold).toBe(0.8);
    expect(bestThreshold([pair('a', 'b', true, 0.9), pair('c', 'd', false, 0.3)]).threshold).toBe(0.9);
  });
});

describe('the labelled pairs (tests/fixtures/label-pairs.json)', () => {
  const pairs = parseLabelPairs(JSON.parse(readFileSync(new URL('./fixtures/label-pairs.json', import.meta.url), 'utf8')));
  const different = pairs.filter((p) => !p.same).map((p) => `${p.a} / ${p.b}`);

  it('holds both kinds in about equal numbers, each pair once', () => {
    const same = pairs.filter((p) => p.same).length;
    expect(same).toBeGreaterThanOrEqual(60);
    expect(different.length).toBeGreaterThanOrEqual(60);
    expect(Math.abs(same - different.length)).toBeLessThanOrEqual(10);
    const keys = pairs.map((p) => [p.a, p.b].sort().join('\u0000'));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('includes the hard negatives: the same words or topic, different features', () => {
    for (const hard of ['read file / write file', 'json parsing / json serialization', 'sorting / merge sort', 'types / typing', '_thread / threading', 'round down / round half down']) {
      expect(different).toContain(hard);
    }
  });

  it('rejects a malformed file with the place of the fault', () => {
    expect(() => parseLabelPairs({ same: [['a', 'b']] })).toThrow(/"different" must be a non-empty array/);
    expect(() => parseLabelPairs({ same: [['a', 'b']], different: [['a']] })).toThrow(/"different"\[0\] must be two non-empty labels/);
    expect(() => parseLabelPairs([])).toThrow(/"same" must be/);
  });
});
