// Sampling against its promise (DESIGN.md: with the defaults, realised inclusion of every node
// stays within z ≤ 4 of the exact expectation of p ∝ f^(1/T) without replacement), on a tree
// grown from real files: the Python standard library through static extraction and the
// canonicalize stage. The expectation of a node is, over the level mix, the product along its
// path of its inclusion probability among its siblings (lib/inclusion.ts, which matches exact
// enumeration over subsets to 1e-12: tests/inclusion.test.ts). Also the sampler's speed.
import { extractFeatures } from '../analysis/static-features/index.js';
import type { Grammars } from '../analysis/tree-sitter/grammars.js';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { inclusionProbabilities } from '../lib/inclusion.js';
import { canonicalizeFeatureSet } from '../processors/canonicalize.js';
import { sampleTask } from '../processors/sample.js';
import type { TaskLevel } from '../schemas/contract.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { formulaWeight, temperatureAt } from '../stores/tree-sampling.js';
import { ROOT_ID, type TreeStore } from '../stores/tree-store.js';
import { samplerConfig } from '../topology/build.js';
import { MERGE_SIMILARITY, pipelineSettings, type PipelineSettings } from '../topology/settings.js';
import type { BenchFile } from './corpus.js';

export interface SamplingResult {
  files: number;
  nodes: number;
  tasks: number;
  tasksPerSecond: number;
  /** Largest |z| per depth with the defaults, and how many nodes it was taken over. */
  byDepth: Record<number, { nodes: number; maxZ: number }>;
  maxZ: number;
  /** The same with the coverage boost off: the formula alone. */
  formulaAloneMaxZ: number;
  target: string;
}

function exactExpectation(tree: TreeStore, s: PipelineSettings): Map<string, number> {
  const out = new Map<string, number>();
  const mixTotal = Object.values(s.levelMix).reduce((a, b) => a + b, 0);
  for (const [level, mix] of Object.entries(s.levelMix) as [TaskLevel, number][]) {
    const breadth = s.levels[level].breadth;
    const walk = (parentId: string, depth: number, reached: number) => {
      if (depth >= breadth.length) return;
      let candidates = tree.topChildren(parentId, s.topN);
      if (depth === 0) candidates = candidates.filter((c) => !s.excludeCategories.includes(c.label));
      const pi = inclusionProbabilities(candidates.map((c) => formulaWeight(c.frequency, temperatureAt(s.temperature, depth))), breadth[depth]!);
      candidates.forEach((c, i) => {
        out.set(c.id, (out.get(c.id) ?? 0) + (mix / mixTotal) * reached * pi[i]!);
        if (pi[i]! > 0) walk(c.id, depth + 1, reached * pi[i]!);
      });
    };
    walk(ROOT_ID, 0, 1);
  }
  return out;
}

/** Tasks drawn with these settings; how many included each node; the time it took. */
function draw(trees: FeatureTrees, s: PipelineSettings, n: number): { included: Map<string, number>; seconds: number } {
  const cfg = samplerConfig(s, { trees, coverage: new CoverageStore() });
  const tree = trees.get('all').tree;
  const included = new Map<string, number>();
  const started = performance.now();
  const tasks = [];
  for (let i = 0; i < n; i++) {
    const out = sampleTask({ treeKey: 'all', index: i, level: null, requestedAt: 0 }, cfg);
    if (!out.ok) throw new Error(`sampling bench: ${out.rejection.detail}`);
    tasks.push(out.value);
  }
  const seconds = (performance.now() - started) / 1000;
  for (const task of tasks) {
    const nodes = new Set<string>();
    for (const f of task.features) for (let node = tree.get(f.nodeId); node && node.parentId !== null; node = tree.get(node.parentId)) nodes.add(node.id);
    for (const id of nodes) included.set(id, (included.get(id) ?? 0) + 1);
  }
  return { included, seconds };
}

function zByDepth(tree: TreeStore, included: Map<string, number>, expected: Map<string, number>, n: number): Record<number, { nodes: number; maxZ: number }> {
  const out: Record<number, { nodes: number; maxZ: number }> = {};
  for (const [id, p] of expected) {
    if (p <= 0 || p >= 1) continue;
    const z = Math.abs(((included.get(id) ?? 0) - n * p) / Math.sqrt(n * p * (1 - p)));
    const depth = tree.get(id)!.depth;
    const d = (out[depth] ??= { nodes: 0, maxZ: 0 });
    d.nodes += 1;
    d.maxZ = Math.max(d.maxZ, +z.toFixed(2));
  }
  return out;
}

export async function samplingBench(files: BenchFile[], grammars: Grammars, tasks: number): Promise<SamplingResult> {
  const trees = new FeatureTrees();
  const embedder = new LexicalLabelEmbedder();
  let read = 0;
  for (const [i, f] of files.entries()) {
    const file = {
      id: String(i), path: f.path, language: f.language, content: f.content, sizeBytes: Buffer.byteLength(f.content),
      lines: f.content.split('\n').length, source: 'bench', treeKey: 'all',
    };
    const set = extractFeatures(file, { grammars });
    if (!set.ok) continue;
    await canonicalizeFeatureSet(set.value, { trees, embedder, threshold: MERGE_SIMILARITY.lexical });
    read += 1;
  }
  const tree = trees.get('all').tree;
  const defaults = pipelineSettings();
  const withDefaults = draw(trees, defaults, tasks);
  const byDepth = zByDepth(tree, withDefaults.included, exactExpectation(tree, defaults), tasks);
  const plain = pipelineSettings({ coverageBoost: 0 });
  const formulaAlone = zByDepth(tree, draw(trees, plain, tasks).included, exactExpectation(tree, plain), tasks);
  const worst = (r: Record<number, { maxZ: number }>) => Math.max(...Object.values(r).map((d) => d.maxZ));
  return {
    files: read, nodes: tree.size - 1, tasks, tasksPerSecond: Math.round(tasks / withDefaults.seconds),
    byDepth, maxZ: worst(byDepth), formulaAloneMaxZ: worst(formulaAlone), target: 'max |z| ≤ 4',
  };
}
