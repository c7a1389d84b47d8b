// The sample stage: one synthesis task per request, its features a subtree drawn from the
// feature tree (stores/tree-sampling.ts: p ∝ f^(1/T) without replacement, coverage-aware), its
// level drawn from the mix unless the request names one. Seeded by (seed, request index). A
// request whose tree lacks a required feature is rejected with that reason: the task could not
// use it. With a source index, the task names the files behind its features (its lineage): up to
// `sourcesPerFeature` per feature, the lowest content hashes, so the same tree state gives the same.
import { createHash } from 'node:crypto';
import { map, type OperatorFunction } from 'rxjs';
import type { SynthesisTask, TaskFeature, TaskLevel, TaskRequest, TaskSource } from '../schemas/contract.js';
import type { FeatureTrees } from '../stores/feature-trees.js';
import type { SourceIndex } from '../stores/source-index.js';
import type { TreeStore } from '../stores/tree-store.js';
import type { StudentStore } from '../stores/student-store.js';
import { missingPaths, sampleSubtree, type LevelShape, type SubtreeSampling } from '../stores/tree-sampling.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';
import { mixSeed, seededRandom, weightedIndex } from '../lib/random.js';

export type { LevelShape, Upweight } from '../stores/tree-sampling.js';

export const SAMPLE_STAGE = 'sample';

export interface SamplerConfig extends SubtreeSampling {
  trees: FeatureTrees;
  seed: number;
  levels: Record<TaskLevel, LevelShape>;
  /** Weights of the levels when a request leaves the level open. */
  levelMix: Record<TaskLevel, number>;
  targetLanguage: string;
  /** The student's weak areas: nodes where it fails more often weigh more. */
  student?: StudentStore;
  /** Lineage: the files behind each node; absent, tasks name none. */
  sources?: SourceIndex;
  /** Files named per feature at most (default DEFAULT_SOURCES_PER_FEATURE). */
  sourcesPerFeature?: number;
  clock?: () => number;
}

export const DEFAULT_SOURCES_PER_FEATURE = 3;

/** The files behind the features, each once with the feature node ids it fed, in the order of the features. */
export function taskSources(tree: TreeStore, sources: SourceIndex, features: readonly TaskFeature[], perFeature: number = DEFAULT_SOURCES_PER_FEATURE): TaskSource[] {
  const byFile = new Map<string, TaskSource>();
  for (const feature of features) {
    for (const file of sources.filesOf(tree, feature.nodeId, perFeature)) {
      let entry = byFile.get(file.fileId);
      if (!entry) byFile.set(file.fileId, (entry = { fileId: file.fileId, path: file.path, repository: file.repository, license: file.license, nodeIds: [] }));
      if (!entry.nodeIds.includes(feature.nodeId)) entry.nodeIds.push(feature.nodeId);
    }
  }
  return [...byFile.values()];
}

function pickLevel(mix: Record<TaskLevel, number>, random: () => number): TaskLevel {
  const levels = Object.keys(mix) as TaskLevel[];
  const i = weightedIndex(levels.map((l) => mix[l]), random);
  return levels[Math.max(0, i)]!;
}

export function sampleTask(request: TaskRequest, config: SamplerConfig): Outcome<SynthesisTask> {
  const tree = config.trees.get(request.treeKey).tree;
  const missing = missingPaths(tree, config.required ?? []);
  if (missing.length > 0 && tree.childCount(tree.root.id) > 0) {
    return reject({
      stage: SAMPLE_STAGE,
      reason: 'required-feature-missing',
      detail: `tree ${request.treeKey} has no feature ${missing.map((p) => `"${p.join('/')}"`).join(', ')} yet`,
      recordId: `${request.treeKey}#${request.index}`,
      record: request,
    });
  }
  const random = seededRandom(mixSeed(config.seed, request.index));
  const level = request.level ?? pickLevel(config.levelMix, random);
  const sampling = config.student ? { ...config, factors: config.student.factorsFor(request.treeKey, tree) } : config;
  const picked = sampleSubtree(tree, config.levels[level], random, sampling);
  if (picked.length === 0) {
    return reject({
      stage: SAMPLE_STAGE,
      reason: 'empty-tree',
      detail: `tree ${request.treeKey} has no features to sample yet`,
      recordId: `${request.treeKey}#${request.index}`,
      record: request,
    });
  }
  const features: TaskFeature[] = picked.map(({ node, mandatory }) => ({
    nodeId: node.id,
    path: tree.pathOf(node.id),
    frequency: node.frequency,
    mandatory,
  }));
  const taskId = createHash('sha1')
    .update(`${request.treeKey}\u0000${config.seed}\u0000${request.index}\u0000${tree.seq}`)
    .digest('hex')
    .slice(0, 16);
  return accept({
    taskId,
    treeKey: request.treeKey,
    level,
    targetLanguage: config.targetLanguage,
    seed: config.seed,
    index: request.index,
    features,
    treeSeq: tree.seq,
    createdAt: (config.clock ?? Date.now)(),
    sources: config.sources ? taskSources(tree, config.sources, features, config.sourcesPerFeature) : [],
  });
}

/** The stage: one task per request, in order (draws update the coverage store). */
export function sampleStage(config: SamplerConfig): OperatorFunction<TaskRequest, Outcome<SynthesisTask>> {
  return map((request) => sampleTask(request, config));
}
