import { describe, expect, it } from 'vitest';
import { loadContracts, type TaskLevel } from '../schemas/contract.js';
import { sampleTask, type SamplerConfig } from '../processors/sample.js';
import { formulaWeight } from '../stores/tree-sampling.js';
import { DEFAULT_LEVEL_MIX, DEFAULT_LEVELS } from '../topology/settings.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { ROOT_ID } from '../stores/tree-store.js';

const clock = () => 1_700_000_000_000;

/** A tree with categories of given frequencies, each with `width` children of frequency 1..width. */
function makeTrees(categories: Record<string, number>, width = 0, depth = 2): FeatureTrees {
  const trees = new FeatureTrees(clock);
  const { tree } = trees.get('all');
  const grow = (parentId: string, level: number) => {
    if (level > depth) return;
    for (let j = 1; j <= width; j++) {
      const child = tree.addNode({ parentId, label: `l${level}-${j}`, origin: 'extracted', frequency: j });
      grow(child.id, level + 1);
    }
  };
  for (const [label, f] of Object.entries(categories)) {
    const node = tree.addNode({ parentId: ROOT_ID, label, origin: 'extracted', frequency: f });
    grow(node.id, 2);
  }
  return trees;
}

function config(trees: FeatureTrees, overrides: Partial<SamplerConfig> = {}): SamplerConfig {
  return {
    trees, coverage: new CoverageStore(), seed: 7, temperature: 1, levels: { ...DEFAULT_LEVELS },
    levelMix: { ...DEFAULT_LEVEL_MIX }, targetLanguage: 'python', topN: 100, coverageBoost: 0,
    excludeCategories: ['programming language'], clock, ...overrides,
  };
}

const one: Record<TaskLevel, { breadth: number[]; mandatory: number }> = {
  function: { breadth: [1], mandatory: 1 }, file: { breadth: [1], mandatory: 1 }, multi_file: { breadth: [1], mandatory: 1 },
};

function drawCounts(cfg: SamplerConfig, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const out = sampleTask({ treeKey: 'all', index: i, level: 'function', requestedAt: 0 }, cfg);
    if (!out.ok) throw new Error(out.rejection.detail);
    const label = out.value.features[0]!.path[0]!;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return counts;
}

describe('subtree sampling', () => {
  const freqs = { a: 1, b: 2, c: 4, d: 8, e: 16 };

  for (const temperature of [1, 2, 1000]) {
    it(`draws in proportion to exp(log(f)/T) at T=${temperature}`, () => {
      const n = 20_000;
      const counts = drawCounts(config(makeTrees(freqs), { temperature, levels: one }), n);
      const weights = Object.values(freqs).map((f) => formulaWeight(f, temperature));
      const total = weights.reduce((a, b) => a + b, 0);
      Object.keys(freqs).forEach((label, i) => {
        const expected = weights[i]! / total;
        expect(Math.abs((counts.get(label) ?? 0) / n - expected)).toBeLessThan(0.015);
      });
    });
  }

  it('samples without replacement: no feature twice in a task', () => {
    const cfg = config(makeTrees(freqs, 3), { levels: { ...one, function: { breadth: [5, 3], mandatory: 1 } } });
    for (let i = 0; i < 200; i++) {
      const out = sampleTask({ treeKey: 'all', index: i, level: 'function', requestedAt: 0 }, cfg);
      if (!out.ok) throw new Error(out.rejection.detail);
      const ids = out.value.features.map((f) => f.nodeId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(15);
    }
  });

  it('is deterministic for a given seed and differs for another seed', () => {
    const run = (seed: number) =>
      Array.from({ length: 30 }, (_, i) => {
        const out = sampleTask({ treeKey: 'all', index: i, level: null, requestedAt: 0 }, config(makeTrees(freqs, 3), { seed }));
        return out.ok ? out.value.features.map((f) => f.path.join('/')).join(',') + out.value.level : 'x';
      });
    expect(run(11)).toEqual(run(11));
    expect(run(11)).not.toEqual(run(12));
  });

  it('grows breadth and depth with the task level and marks mandatory features', () => {
    const cfg = config(makeTrees({ a: 5, b: 5, c: 5, d: 5, e: 5, f: 5, g: 5, h: 5 }, 3, 4));
    const sizes: Record<string, number> = {};
    const contracts = loadContracts();
    for (const level of ['function', 'file', 'multi_file'] as const) {
      const out = sampleTask({ treeKey: 'all', index: 1, level, requestedAt: 0 }, cfg);
      if (!out.ok) throw new Error(out.rejection.detail);
      contracts.SynthesisTask.check(out.value);
      sizes[level] = out.value.features.length;
      expect(out.value.features.filter((f) => f.mandatory)).toHaveLength(DEFAULT_LEVELS[level].mandatory);
      expect(Math.max(...out.value.features.map((f) => f.path.length))).toBe(DEFAULT_LEVELS[level].breadth.length);
    }
    expect(sizes.function).toBeLessThan(sizes.file!);
    expect(sizes.file).toBeLessThan(sizes.multi_file!);
  });

  it('never samples an excluded category and always includes required paths as mandatory', () => {
    const trees = makeTrees({ 'programming language': 1000, a: 1, b: 1 }, 2);
    const cfg = config(trees, { required: [['b', 'l2-1']] });
    for (let i = 0; i < 50; i++) {
      const out = sampleTask({ treeKey: 'all', index: i, level: 'function', requestedAt: 0 }, cfg);
      if (!out.ok) throw new Error(out.rejection.detail);
      expect(out.value.features.every((f) => f.path[0] !== 'programming language')).toBe(true);
      expect(out.value.features.find((f) => f.path.join('/') === 'b/l2-1')?.mandatory).toBe(true);
    }
  });

  it('up-weights chosen nodes', () => {
    const base = drawCounts(config(makeTrees(freqs), { levels: one }), 4000);
    const boosted = drawCounts(config(makeTrees(freqs), { levels: one, upweights: [{ path: ['a'], factor: 10 }] }), 4000);
    expect(boosted.get('a')! / 4000).toBeGreaterThan(2.5 * (base.get('a')! / 4000));
  });

  it('coverage boost keeps counts closer to their shares and reaches rare features sooner', () => {
    const many: Record<string, number> = {};
    for (let i = 0; i < 40; i++) many[`n${i}`] = 1 + (i % 5 === 0 ? 50 : 0);
    const n = 600;
    const deviation = (boost: number) => {
      const counts = drawCounts(config(makeTrees(many), { levels: one, coverageBoost: boost, seed: 3 }), n);
      const total = Object.values(many).reduce((a, b) => a + b, 0);
      let worst = 0;
      for (const [label, f] of Object.entries(many)) worst = Math.max(worst, Math.abs((counts.get(label) ?? 0) - (n * f) / total));
      return { worst, distinct: counts.size };
    };
    const plain = deviation(0);
    const covered = deviation(1);
    expect(covered.worst).toBeLessThan(plain.worst);
    expect(covered.distinct).toBeGreaterThanOrEqual(plain.distinct);
    expect(covered.distinct).toBe(40);
  });

  it('rejects with a reason when the tree is empty', () => {
    const out = sampleTask({ treeKey: 'empty', index: 0, level: null, requestedAt: 0 }, config(new FeatureTrees(clock)));
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.rejection.reason).toBe('empty-tree');
  });
});
