// The sample stage as a specification: what a task's features are drawn from and how, checked
// against the formula's exact expectation (tests/exact-inclusion.ts), not against itself.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadContracts, type SynthesisTask, type TaskLevel } from '../schemas/contract.js';
import { sampleTask, type SamplerConfig } from '../processors/sample.js';
import { formulaWeight, replayCoverage, temperatureAt } from '../stores/tree-sampling.js';
import { DEFAULT_LEVEL_MIX, DEFAULT_LEVELS, pipelineSettings, type PipelineSettings } from '../topology/settings.js';
import { samplerConfig } from '../topology/build.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { ROOT_ID, type TreeStore } from '../stores/tree-store.js';
import { exactInclusion } from './exact-inclusion.js';
import { realisticTree } from './realistic-tree.js';

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
    expect(covered.worst).toBeLessThan(2); // every count within two draws of its expectation
    expect(plain.worst).toBeGreaterThan(5);
    expect(covered.distinct).toBeGreaterThan(plain.distinct);
  });

  it('rejects with a reason when the tree is empty', () => {
    const out = sampleTask({ treeKey: 'empty', index: 0, level: null, requestedAt: 0 }, config(new FeatureTrees(clock)));
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.rejection.reason).toBe('empty-tree');
  });
});

/** T at a depth, as the settings spell it: one for all, or one per depth with the last repeated. */
const tAt = (t: number | readonly number[], depth: number) => (typeof t === 'number' ? t : t[Math.min(depth, t.length - 1)]!);

/**
 * Exact P(a task includes the node) for every node: over the level mix, the product along its
 * path of each step's inclusion probability among its siblings (exact enumeration).
 */
function exactExpectation(tree: TreeStore, s: PipelineSettings): Map<string, number> {
  const out = new Map<string, number>();
  const mixTotal = Object.values(s.levelMix).reduce((a, b) => a + b, 0);
  for (const [level, mix] of Object.entries(s.levelMix) as [TaskLevel, number][]) {
    const breadth = s.levels[level].breadth;
    const walk = (parentId: string, depth: number, reached: number) => {
      if (depth >= breadth.length) return;
      let candidates = tree.topChildren(parentId, s.topN);
      if (depth === 0) candidates = candidates.filter((c) => !s.excludeCategories.includes(c.label));
      const pi = exactInclusion(candidates.map((c) => formulaWeight(c.frequency, tAt(s.temperature, depth))), breadth[depth]!);
      candidates.forEach((c, i) => {
        out.set(c.id, (out.get(c.id) ?? 0) + (mix / mixTotal) * reached * pi[i]!);
        walk(c.id, depth + 1, reached * pi[i]!);
      });
    };
    walk(ROOT_ID, 0, 1);
  }
  return out;
}

/** n tasks from the stage with these settings, and how many of them included each node. */
function drawTasks(trees: FeatureTrees, s: PipelineSettings, n: number) {
  const cfg = samplerConfig(s, { trees, coverage: new CoverageStore() }, clock);
  const tree = trees.get('all').tree;
  const included = new Map<string, number>();
  const tasks: SynthesisTask[] = [];
  for (let i = 0; i < n; i++) {
    const out = sampleTask({ treeKey: 'all', index: i, level: null, requestedAt: 0 }, cfg);
    if (!out.ok) throw new Error(out.rejection.detail);
    tasks.push(out.value);
    const nodes = new Set<string>();
    for (const f of out.value.features) for (let node = tree.get(f.nodeId); node && node.parentId !== null; node = tree.get(node.parentId)) nodes.add(node.id);
    for (const id of nodes) included.set(id, (included.get(id) ?? 0) + 1);
  }
  return { included, tasks, coverage: cfg.coverage };
}

/** Largest |z| of realised against expected inclusion, per depth: z = (count − np) / √(np(1−p)). */
function worstZ(tree: TreeStore, included: Map<string, number>, expected: Map<string, number>, n: number): Map<number, { z: number; nodes: number }> {
  const byDepth = new Map<number, { z: number; nodes: number }>();
  for (const [id, p] of expected) {
    if (p <= 0) continue;
    const z = Math.abs(((included.get(id) ?? 0) - n * p) / Math.sqrt(n * p * (1 - p)));
    const depth = tree.get(id)!.depth;
    const d = byDepth.get(depth) ?? { z: 0, nodes: 0 };
    byDepth.set(depth, { z: Math.max(d.z, z), nodes: d.nodes + 1 });
  }
  return byDepth;
}

describe('sampling keeps its promise', () => {
  const n = 20_000;
  const { trees, tree } = realisticTree();
  const defaults = pipelineSettings();
  let run: ReturnType<typeof drawTasks>;
  beforeAll(() => {
    run = drawTasks(trees, defaults, n);
  });

  it('with the defaults (coverage boost on), every node at every depth is within z ≤ 4 of its exact inclusion probability over 20,000 tasks', () => {
    expect(defaults.coverageBoost).toBeGreaterThan(0);
    const worst = worstZ(tree, run.included, exactExpectation(tree, defaults), n);
    expect([...worst.keys()].sort()).toEqual([1, 2, 3, 4]);
    for (const [depth, { z, nodes }] of worst) {
      expect(nodes, `depth ${depth}`).toBeGreaterThan(10);
      expect(z, `depth ${depth}`).toBeLessThanOrEqual(4);
    }
  });

  it('the check has teeth: the same draws fail it against the expectation at T = 1.15', () => {
    const worst = worstZ(tree, run.included, exactExpectation(tree, { ...defaults, temperature: 1.15 }), n);
    expect(Math.max(...[...worst.values()].map((d) => d.z))).toBeGreaterThan(4);
  });

  it('the formula alone (boost 0) matches the exact expectation too, on the categories and their children', () => {
    const plain = pipelineSettings({ coverageBoost: 0 });
    const worst = worstZ(tree, drawTasks(trees, plain, n).included, exactExpectation(tree, plain), n);
    expect(worst.get(1)!.z).toBeLessThanOrEqual(4);
    expect(worst.get(2)!.z).toBeLessThanOrEqual(4);
  });

  it('restoring coverage from the written tasks gives the same drawn and expected counts', () => {
    const restored = new CoverageStore();
    const cfg = samplerConfig(defaults, { trees, coverage: restored }, clock);
    for (const task of run.tasks.slice(0, 2000)) replayCoverage(tree, task, defaults.levels[task.level], cfg);
    const live = drawTasks(trees, defaults, 2000).coverage;
    for (const node of tree.all()) {
      expect(restored.timesDrawn(node.id)).toBe(live.timesDrawn(node.id));
      expect(restored.expectedDraws(node.id)).toBeCloseTo(live.expectedDraws(node.id), 9);
    }
  });
});

describe('sampling settings', () => {
  const one = (breadth: number[]): Record<TaskLevel, { breadth: number[]; mandatory: number }> => ({
    function: { breadth, mandatory: 1 }, file: { breadth, mandatory: 1 }, multi_file: { breadth, mandatory: 1 },
  });
  const task = (cfg: SamplerConfig, index: number) => {
    const out = sampleTask({ treeKey: 'all', index, level: 'function', requestedAt: 0 }, cfg);
    if (!out.ok) throw new Error(out.rejection.detail);
    return out.value;
  };

  for (const temperature of [[1000, 1], [1, 1000]]) {
    it(`takes one temperature per depth: T = ${temperature.join(', ')}`, () => {
      const trees = makeTrees({ a: 1, b: 2, c: 4, d: 8, e: 16 }, 4);
      const s = pipelineSettings({ temperature, coverageBoost: 0, levels: one([1, 1]), excludeCategories: [] });
      const tree = trees.get('all').tree;
      const { included } = drawTasks(trees, s, 20_000);
      const worst = worstZ(tree, included, exactExpectation(tree, s), 20_000);
      expect(worst.get(1)!.z).toBeLessThanOrEqual(4);
      expect(worst.get(2)!.z).toBeLessThanOrEqual(4);
      // and it is the per-depth T that explains the draws, not either one alone
      for (const t of temperature) expect(Math.max(...[...worstZ(tree, included, exactExpectation(tree, { ...s, temperature: t }), 20_000).values()].map((d) => d.z))).toBeGreaterThan(4);
      expect(temperatureAt(temperature, 5)).toBe(temperature[1]);
    });
  }

  it('--require: the feature is one of the k at its depth, the walk goes on beneath it, and a feature under it is mandatory', () => {
    const trees = makeTrees({ a: 100, b: 1, c: 1, d: 1, e: 1 }, 3, 3);
    const cfg = config(trees, { levels: one([3, 1, 1]), required: [['b']] });
    for (let i = 0; i < 100; i++) {
      const { features } = task(cfg, i);
      expect(features).toHaveLength(3); // b counts toward the 3 categories
      expect(new Set(features.map((f) => f.path[0])).size).toBe(3);
      const underB = features.filter((f) => f.path[0] === 'b');
      expect(underB).toHaveLength(1);
      expect(underB[0]!.path).toHaveLength(3); // sampled under, not the bare category
      expect(features.filter((f) => f.mandatory)).toEqual(underB);
    }
  });

  it('--require reaches below the last k: a path deeper than the walk is still drawn to its end', () => {
    const trees = makeTrees({ a: 1, b: 1, c: 1 }, 3, 3);
    const cfg = config(trees, { levels: one([2]), required: [['c', 'l2-1', 'l3-2']] });
    for (let i = 0; i < 20; i++) {
      const { features } = task(cfg, i);
      expect(features).toHaveLength(2);
      expect(features.find((f) => f.path.join('/') === 'c/l2-1/l3-2')?.mandatory).toBe(true);
    }
  });

  it('rejects a task whose tree lacks a required feature, saying which', () => {
    const out = sampleTask({ treeKey: 'all', index: 0, level: 'function', requestedAt: 0 }, config(makeTrees({ a: 1 }, 2), { required: [['logging']] }));
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.rejection.reason).toBe('required-feature-missing');
      expect(out.rejection.detail).toContain('"logging"');
    }
  });

  it('fixed features (the reference\'s): in every task and one of the k, but mandatory only by the draw', () => {
    const trees = makeTrees({ a: 100, b: 1, c: 1, d: 1, e: 1 }, 3, 3);
    const cfg = config(trees, { levels: { ...one([3, 1, 1]), function: { breadth: [3, 1, 1], mandatory: 1 } }, fixed: [['b']], required: [] });
    let mandatoryUnderB = 0;
    for (let i = 0; i < 300; i++) {
      const { features } = task(cfg, i);
      expect(features).toHaveLength(3);
      const underB = features.filter((f) => f.path[0] === 'b');
      expect(underB).toHaveLength(1);
      if (underB[0]!.mandatory) mandatoryUnderB += 1;
    }
    expect(mandatoryUnderB).toBeGreaterThan(60); // about a third
    expect(mandatoryUnderB).toBeLessThan(140);
  });

  it('leaves defect categories out by default, and samples them when they are not excluded', () => {
    const trees = makeTrees({ 'issues & bugs': 1000, 'programming language': 1000, algorithm: 1, logging: 1 }, 2);
    const categories = (excludeCategories: string[]) => {
      const seen = new Set<string>();
      for (let i = 0; i < 200; i++) for (const f of task(config(trees, { excludeCategories }), i).features) seen.add(f.path[0]!);
      return seen;
    };
    expect([...categories(pipelineSettings().excludeCategories)].sort()).toEqual(['algorithm', 'logging']);
    expect(categories(['programming language']).has('issues & bugs')).toBe(true);
  });

  it("leaf-sum frequencies (the reference's): a node with children weighs the sum of its leaves, not its own count", () => {
    const trees = new FeatureTrees(clock);
    const { tree } = trees.get('all');
    const a = tree.addNode({ parentId: ROOT_ID, label: 'a', origin: 'extracted', frequency: 100 });
    const b = tree.addNode({ parentId: ROOT_ID, label: 'b', origin: 'extracted', frequency: 1 });
    for (const f of [1, 2]) tree.addNode({ parentId: a.id, label: `a${f}`, origin: 'extracted', frequency: f });
    for (const f of [10, 20]) tree.addNode({ parentId: b.id, label: `b${f}`, origin: 'extracted', frequency: f });
    const share = (frequency: 'files' | 'leaf-sum') => {
      const cfg = config(trees, { levels: one([1]), frequency });
      let underA = 0;
      for (let i = 0; i < 6000; i++) if (task(cfg, i).features[0]!.path[0] === 'a') underA += 1;
      return underA / 6000;
    };
    expect(share('files')).toBeCloseTo(100 / 101, 1);
    expect(share('leaf-sum')).toBeCloseTo(3 / 33, 1);
  });
});
