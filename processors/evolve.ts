// Tree evolution: sample a subtree, ask the model to expand it in depth (children under
// leaves) and breadth (new siblings), and add what it proposes. Every proposed label goes
// through canonicalization first, so evolution never re-adds a feature under another
// spelling. A new node's frequency is estimated as the mean frequency of its existing
// siblings; under a leaf (no siblings yet) as the parent's frequency shared among the new
// children. A node proposed again averages its estimates.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { Embedder } from '../embeddings/embedder.js';
import { EVOLVE_PROMPT_VERSION, EVOLVE_SCHEMA, evolveMessages, type EvolveAnswer, type SubtreeJson } from '../prompts/evolve-tree.js';
import type { EvolutionRequest, TreeNode, TreeNodeChange } from '../schemas/contract.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { cleanLabel, resolveLabel, type FeatureTrees } from '../stores/feature-trees.js';
import type { TreeStore } from '../stores/tree-store.js';
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

  const result: EvolutionResult = { treeKey: request.treeKey, round: request.round, changes: [], added: 0, known: 0, skipped: 0, depth: 0, breadth: 0 };
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
