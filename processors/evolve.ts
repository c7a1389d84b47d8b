// Tree evolution: sample a subtree, ask the model to expand it in depth (children under
// leaves) and breadth (new siblings), and add what it proposes. Every proposed label goes
// through canonicalization first, so evolution never re-adds a feature under another
// spelling. A new node's frequency is estimated as the mean frequency of its existing
// siblings; under a leaf (no siblings yet) as the parent's frequency shared among the new
// children. A node proposed again averages its estimates.
//
// Tree demonstration (the reference's construct_tree step): before a round evolves, the category
// with the most flat features (children with none of their own, at least `demonstrate.minFeatures`)
// is shown to the model, its most frequent flat features (up to `demonstrate.sample`), and the
// model arranges them into sub-categories. Each feature moves under its sub-category
// (TreeStore.mergeInto, recorded in the changelog), and its old place redirects there, so the
// labels later files give it are placed by the demonstrated hierarchy. A category once arranged
// has fewer flat features, so rounds move on to the next. A failed demonstration leaves the tree
// as it was and the round goes on; the result says why.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { Embedder } from '../embeddings/embedder.js';
import { EVOLVE_PROMPT_VERSION, EVOLVE_SCHEMA, evolveMessages, type EvolveAnswer, type SubtreeJson } from '../prompts/evolve-tree.js';
import { DEMONSTRATE_PROMPT_VERSION, DEMONSTRATE_SCHEMA, checkDemonstrateAnswer, demonstrateMessages, type DemonstrateAnswer } from '../prompts/demonstrate-tree.js';
import type { StructuredModel } from '../llm/model.js';
import type { EvolutionRequest, TreeNode, TreeNodeChange } from '../schemas/contract.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { cleanLabel, resolveLabel, type FeatureTrees } from '../stores/feature-trees.js';
import { ROOT_ID, type TreeStore } from '../stores/tree-store.js';
import { stopReason, type ModelAccess } from '../llm/model.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';
import { seededRandom } from '../lib/random.js';
import { sampleSubtree } from '../stores/tree-sampling.js';

export const EVOLVE_STAGE = 'evolve';

export interface EvolveConfig {
  trees: FeatureTrees;
  embedder: Embedder;
  access: ModelAccess;
  /** Same merge threshold as canonicalization. */
  threshold: number;
  /** The seed of a round's subtree draw (the runners' evolution control decides it). */
  seedOf: (request: EvolutionRequest) => number;
  /** Children drawn per depth for the subtree shown to the model. */
  breadth: number[];
  /** Temperature of that draw; above 1 shows the model rarer corners of the tree. */
  temperature: number;
  topN: number;
  /** Siblings the model is asked to add at each level. */
  minSiblings: number;
  excludeCategories: string[];
  /** Tree demonstration before each round; absent or minFeatures 0: none. */
  demonstrate?: { minFeatures: number; sample: number };
}

export interface Demonstration {
  category: string;
  /** Sub-categories the features went under (`created` of them new nodes), and features moved. */
  groups: number;
  created: number;
  moved: number;
  /** Why nothing moved (the model's answer failed, or the budget ran out); null when it worked. */
  failed: string | null;
}

export interface EvolutionResult {
  treeKey: string;
  round: number;
  changes: TreeNodeChange[];
  /** New nodes added. */
  added: number;
  /** Proposals that were existing nodes under another spelling (or the same one). */
  known: number;
  /** Proposals whose parent path is not in the tree. */
  skipped: number;
  /** Added below a leaf (depth) and beside existing children (breadth). */
  depth: number;
  breadth: number;
  /** The round's tree demonstration; null when no category needed one. */
  demonstration?: Demonstration | null;
}

/** The category with the most flat features (at least `min`), and its most frequent ones up to `sample`. */
export function demonstrationCandidate(tree: TreeStore, min: number, sample: number, exclude: readonly string[]): { category: TreeNode; features: TreeNode[] } | null {
  let best: { category: TreeNode; features: TreeNode[] } | null = null;
  for (const category of tree.children(ROOT_ID)) {
    if (exclude.includes(category.label)) continue;
    const flat = tree.topChildren(category.id).filter((c) => tree.childCount(c.id) === 0);
    if (flat.length >= Math.max(2, min) && (!best || flat.length > best.features.length)) best = { category, features: flat };
  }
  return best && { category: best.category, features: best.features.slice(0, sample) };
}

/** One demonstration: the model's arrangement of one category's flat features, applied to the tree. */
async function demonstrate(config: EvolveConfig, model: StructuredModel, request: EvolutionRequest): Promise<Demonstration | null> {
  const settings = config.demonstrate;
  if (!settings || settings.minFeatures <= 0) return null;
  const target = config.trees.get(request.treeKey);
  const tree = target.tree;
  const candidate = demonstrationCandidate(tree, settings.minFeatures, settings.sample, config.excludeCategories);
  if (!candidate) return null;
  const labels = candidate.features.map((f) => f.label);
  const done: Demonstration = { category: candidate.category.label, groups: 0, created: 0, moved: 0, failed: null };
  let answer: DemonstrateAnswer;
  try {
    const result = await model.complete<DemonstrateAnswer>({
      messages: demonstrateMessages(candidate.category.label, labels), schema: DEMONSTRATE_SCHEMA, promptVersion: DEMONSTRATE_PROMPT_VERSION,
      validate: (a) => checkDemonstrateAnswer(a, labels),
    });
    if (!result.ok) return { ...done, failed: `llm-${result.reason}: ${result.detail}`.slice(0, 300) };
    answer = result.value;
  } catch (error) {
    const reason = stopReason(error);
    if (!reason) throw error;
    return { ...done, failed: reason };
  }
  const byLabel = new Map(candidate.features.map((f) => [f.label, f]));
  const groups = answer.groups.map((g) => ({ label: cleanLabel(g.label), features: g.features.map((f) => cleanLabel(f)).filter((f) => byLabel.has(f)) })).filter((g) => g.label !== '' && g.features.length > 0);
  const words = [...new Set(groups.flatMap((g) => [g.label, ...g.features]))];
  const vectors = new Map<string, Float32Array>();
  (await config.embedder.embed(words)).forEach((v, i) => vectors.set(words[i]!, v));
  // Applied in one synchronous block, like the round's additions.
  for (const g of groups) {
    const group = resolveLabel(target, candidate.category.id, g.label, vectors.get(g.label)!, config.threshold, { origin: 'evolved', evolutionRound: request.round, frequency: 0 });
    let moved = 0;
    for (const label of g.features) {
      const feature = byLabel.get(label)!;
      if (feature.id === group.nodeId || !tree.has(feature.id)) continue;
      const placed = tree.addNode({ parentId: group.nodeId, label, origin: feature.origin === 'evolved' ? 'evolved' : 'extracted', frequency: 0, evolutionRound: feature.evolutionRound });
      target.labels.add(group.nodeId, placed.id, label, vectors.get(label)!);
      tree.mergeInto(feature.id, placed.id);
      moved += 1;
    }
    if (moved === 0) continue;
    // A sub-category counts the files of its features: at most their sum, and no more than its category's.
    const sum = tree.children(group.nodeId).reduce((a, c) => a + c.frequency, 0);
    tree.setFrequency(group.nodeId, Math.min(sum, candidate.category.frequency));
    done.groups += 1;
    if (group.kind === 'created') done.created += 1;
    done.moved += moved;
  }
  return done;
}

/** The picked nodes with their ancestors as nested JSON, as the model sees the tree. */
export function subtreeJson(tree: TreeStore, picked: readonly TreeNode[]): SubtreeJson {
  const root: SubtreeJson = {};
  for (const node of picked) {
    const path = tree.pathOf(node.id);
    let level = root;
    path.forEach((label, i) => {
      if (i === path.length - 1) {
        if (!(label in level)) level[label] = [];
        return;
      }
      const next = level[label];
      if (next === undefined || Array.isArray(next)) level[label] = {};
      level = level[label] as SubtreeJson;
    });
  }
  return root;
}

export async function evolveOnce(request: EvolutionRequest, config: EvolveConfig): Promise<Outcome<EvolutionResult>> {
  const target = config.trees.get(request.treeKey);
  const tree = target.tree;
  const where = { stage: EVOLVE_STAGE, recordId: `${request.treeKey}#round-${request.round}` };
  // First the hierarchy, so the round evolves the tree as arranged.
  const demonstration = 'model' in config.access ? await demonstrate(config, config.access.model, request) : null;
  const random = seededRandom(config.seedOf(request));
  const picked = sampleSubtree(tree, { breadth: config.breadth, mandatory: 0 }, random, {
    coverage: new CoverageStore(), temperature: config.temperature, topN: config.topN, coverageBoost: 0, excludeCategories: config.excludeCategories,
  }).map((p) => p.node);
  if (picked.length === 0) return reject({ ...where, reason: 'empty-tree', detail: `tree ${request.treeKey} has nothing to evolve yet`, record: request });

  const messages = evolveMessages(subtreeJson(tree, picked), config.minSiblings);
  if ('pending' in config.access) {
    await config.access.pending({
      stage: EVOLVE_STAGE, recordId: where.recordId, promptVersion: EVOLVE_PROMPT_VERSION, messages,
      responseFormat: { name: EVOLVE_SCHEMA.name, schema: EVOLVE_SCHEMA.jsonSchema },
    });
    return accept({ treeKey: request.treeKey, round: request.round, changes: [], added: 0, known: 0, skipped: 0, depth: 0, breadth: 0 });
  }
  let answer: EvolveAnswer;
  try {
    const result = await config.access.model.complete<EvolveAnswer>({ messages, schema: EVOLVE_SCHEMA, promptVersion: EVOLVE_PROMPT_VERSION });
    if (!result.ok) return reject({ ...where, reason: `llm-${result.reason}`, detail: result.detail, record: { request, answer: result.answer ?? null } });
    answer = result.value;
  } catch (error) {
    const reason = stopReason(error);
    if (!reason) throw error;
    return reject({ ...where, reason, detail: (error as Error).message });
  }

  // Embed every proposed label at once, then apply the additions in one synchronous block,
  // so no other stage's changes interleave with this round's.
  const proposals = answer.additions.map((a) => ({ parent: a.parent.map((l) => cleanLabel(l)), labels: [...new Set(a.labels.map((l) => cleanLabel(l)).filter(Boolean))] }));
  const labels = [...new Set(proposals.flatMap((p) => p.labels))];
  const vectors = new Map<string, Float32Array>();
  (await config.embedder.embed(labels)).forEach((v, i) => vectors.set(labels[i]!, v));

  // The demonstration's new sub-categories are nodes the round added, beside existing children.
  const grouped = demonstration?.created ?? 0;
  const result: EvolutionResult = { treeKey: request.treeKey, round: request.round, changes: [], added: grouped, known: 0, skipped: 0, depth: 0, breadth: grouped, demonstration };
  for (const proposal of proposals) {
    const parent = tree.findByPath(proposal.parent);
    if (!parent || proposal.labels.length === 0) {
      result.skipped += proposal.labels.length;
      continue;
    }
    const siblings = tree.children(parent.id);
    const estimate =
      siblings.length > 0 ? siblings.reduce((a, s) => a + s.frequency, 0) / siblings.length : parent.frequency / proposal.labels.length;
    for (const label of proposal.labels) {
      const resolution = resolveLabel(target, parent.id, label, vectors.get(label)!, config.threshold, {
        origin: 'evolved', evolutionRound: request.round, frequency: estimate,
      });
      if (resolution.kind === 'created') {
        result.added += 1;
        if (siblings.length === 0) result.depth += 1;
        else result.breadth += 1;
      } else {
        result.known += 1;
        tree.addEstimate(resolution.nodeId, estimate);
      }
    }
  }
  result.changes = tree.flush(`evolution-${request.round}`);
  return accept(result);
}

/** The stage: one round at a time, in order, since it changes the tree. */
export function evolveStage(config: EvolveConfig): OperatorFunction<EvolutionRequest, Outcome<EvolutionResult>> {
  return concatMap((request) => evolveOnce(request, config));
}
