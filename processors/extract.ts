// The extract stage: static features from the syntax tree (analysis/static-features); with a
// model, the model also reads the file and names its features under the method's categories,
// with a summary, purpose and scenario. Both are merged, so the tree keeps what the syntax
// shows and gains what only reading shows.
import { map, type OperatorFunction } from 'rxjs';
import { orderedMergeMap } from '../lib/ordered-merge-map.js';
import { EXTRACT_PROMPT_VERSION, EXTRACT_SCHEMA, checkExtractAnswer, extractMessages, type ExtractAnswer } from '../prompts/extract-features.js';
import type { CodeFile, Feature, FeatureSet } from '../schemas/contract.js';
import { extractFeatures, extractFeaturesOff, type ExtractStaticConfig } from '../analysis/static-features/index.js';
import { stopReason, type ModelAccess } from '../llm/model.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const EXTRACT_LLM_STAGE = 'extract-llm';

export interface ExtractLlmConfig {
  static: ExtractStaticConfig;
  access: ModelAccess;
  /** Characters of a file sent to the model; the rest is cut with a note. */
  maxChars: number;
  /** Files in flight at once; the client's limiter decides how many requests really are. */
  concurrency: number;
  /** Hears how many finished files wait behind an earlier one still with the model (see orderedMergeMap). */
  held?: (count: number) => void;
  clock?: () => number;
}

/** Static and model features together, each path once. */
export function mergeFeatures(staticSet: FeatureSet, answer: ExtractAnswer): FeatureSet {
  const seen = new Set<string>();
  const features: Feature[] = [];
  for (const f of [...staticSet.features, ...answer.features.map((a) => ({ category: a.category, labels: a.labels }))]) {
    const labels = f.labels.map((l) => l.trim().toLowerCase()).filter(Boolean);
    const key = [f.category, ...labels].join('\u0000');
    if (labels.length === 0 || seen.has(key)) continue;
    seen.add(key);
    features.push({ category: f.category, labels });
  }
  return {
    ...staticSet,
    extractor: 'static+llm',
    features,
    summary: answer.summary.trim() || null,
    purpose: answer.purpose.trim() || null,
    scenario: answer.scenario.trim() || null,
  };
}

export async function extractWithModel(file: CodeFile, config: ExtractLlmConfig): Promise<Outcome<FeatureSet>> {
  const base = await extractFeaturesOff(file, config.static, (config.clock ?? Date.now)());
  return base.ok ? askModel(file, base.value, config) : base;
}

/** The model's features for a file whose static features are known, merged with them. */
async function askModel(file: CodeFile, base: FeatureSet, config: ExtractLlmConfig): Promise<Outcome<FeatureSet>> {
  const messages = extractMessages(file, config.maxChars);
  if ('pending' in config.access) {
    await config.access.pending({
      stage: EXTRACT_LLM_STAGE, recordId: file.id, promptVersion: EXTRACT_PROMPT_VERSION, messages,
      responseFormat: { name: EXTRACT_SCHEMA.name, schema: EXTRACT_SCHEMA.jsonSchema },
    });
    return accept(base);
  }
  const where = { stage: EXTRACT_LLM_STAGE, recordId: file.id, path: file.path, source: file.source };
  try {
    const result = await config.access.model.complete<ExtractAnswer>({
      messages, schema: EXTRACT_SCHEMA, validate: checkExtractAnswer, promptVersion: EXTRACT_PROMPT_VERSION,
    });
    if (!result.ok) return reject({ ...where, reason: `llm-${result.reason}`, detail: result.detail, record: { path: file.path, answer: result.answer ?? null } });
    return accept(mergeFeatures(base, result.value));
  } catch (error) {
    const reason = stopReason(error);
    if (!reason) throw error;
    return reject({ ...where, reason, detail: (error as Error).message });
  }
}

/**
 * Files in the stage per model slot. The client's limiter decides how many requests are on the
 * wire (at most `concurrency`); the files beyond wait in its queue, parsed and with their prompt
 * built, so when an answer comes back the next request leaves at once. With one file per slot,
 * each slot spent its first milliseconds parsing: at C = 64 and 200 ms answers, about 3 of the
 * 64 requests were missing at any time (bench/orchestration.ts). Parsing stays inside a file's
 * slot, so a file slow to parse holds back no other file's request.
 */
export const FILES_PER_MODEL_SLOT = 2;

export function extractLlmFeatures(config: ExtractLlmConfig): OperatorFunction<CodeFile, Outcome<FeatureSet>> {
  return orderedMergeMap((file) => extractWithModel(file, config), config.concurrency * FILES_PER_MODEL_SLOT, config.held);
}

/**
 * The deployed extract stage: static features (tree-sitter) for every file, merged with the
 * model's when the stage has a model or records its prompts (`llm`); static alone without.
 */
export function extractStage(config: { static: ExtractStaticConfig; llm?: Omit<ExtractLlmConfig, 'static'> }): OperatorFunction<CodeFile, Outcome<FeatureSet>> {
  if (config.llm) return extractLlmFeatures({ ...config.llm, static: config.static });
  const here = config.static;
  // On worker threads, a few files per worker in flight keep each busy while answers come back.
  if (here.workers) return orderedMergeMap((file: CodeFile) => extractFeaturesOff(file, here), here.workers.size * 4);
  return map((file: CodeFile) => extractFeatures(file, here));
}
