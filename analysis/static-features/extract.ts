// The entry point: look up the file's grammar, parse it within the time budget, refuse it when too
// much of it is inside syntax errors, then collect its facts and finalise them into a FeatureSet.
// No LLM; a pure function of the file. Also the stage, one Outcome per CodeFile.
import { map, type OperatorFunction } from 'rxjs';
import type { CodeFile, FeatureSet } from '../../schemas/contract.js';
import { accept, type Outcome } from '../../schemas/outcome.js';
import { ParseFailure, type Tree } from '../tree-sitter/grammars.js';
import { collectFeatures } from './collect.js';
import {
  DEFAULT_MAX_ERROR_RATIO,
  DEFAULT_MAX_LABELS_PER_CATEGORY,
  DEFAULT_PARSE_TIMEOUT_MS,
  type ExtractHereConfig,
  type ExtractStaticConfig,
} from './config.js';
import { finalise } from './finalise.js';
import { errorRatio, rejectFile } from './parse-checks.js';

/** extractFeatures on the config's worker threads when it has them, else here; the same answer either way. */
export function extractFeaturesOff(file: CodeFile, config: ExtractStaticConfig, now: number = Date.now()): Promise<Outcome<FeatureSet>> {
  if (!config.workers) return Promise.resolve(extractFeatures(file, config, now));
  const { grammars: _grammars, workers, ...options } = config;
  return workers.extract(file, options, now);
}

export function extractFeatures(file: CodeFile, config: ExtractHereConfig, now: number = Date.now()): Outcome<FeatureSet> {
  const grammar = config.grammars.get(file.language);
  if (!grammar) return rejectFile(file, 'unsupported-language', `no tree-sitter grammar loaded for language '${file.language}'`, now);
  const timeoutMs = config.parseTimeoutMs ?? DEFAULT_PARSE_TIMEOUT_MS;
  let tree: Tree;
  try {
    tree = config.grammars.parse(grammar.language, file.content, timeoutMs);
  } catch (err) {
    if (err instanceof ParseFailure) return rejectFile(file, 'unparseable', err.message, now);
    throw err;
  }
  try {
    const root = tree.rootNode;
    if (root.hasError) {
      const ratio = errorRatio(root, file.content.length);
      const max = config.maxErrorRatio ?? DEFAULT_MAX_ERROR_RATIO;
      if (ratio > max) {
        const detail = `${(ratio * 100).toFixed(1)}% of the file is inside syntax errors (limit ${(max * 100).toFixed(1)}%)`;
        return rejectFile(file, 'unparseable', detail, now);
      }
    }
    const paths = collectFeatures(grammar, root, file);
    return accept({
      fileId: file.id,
      path: file.path,
      language: file.language,
      treeKey: file.treeKey,
      extractor: 'static',
      features: finalise(paths, config.maxLabelsPerCategory ?? DEFAULT_MAX_LABELS_PER_CATEGORY),
      summary: null,
      purpose: null,
      scenario: null,
      extractedAt: now,
      repository: file.repository ?? null,
      license: file.license ?? null,
    });
  } finally {
    tree.delete();
  }
}

/** The stage: one Outcome per CodeFile, in order. */
export function extractStaticFeatures(config: ExtractHereConfig): OperatorFunction<CodeFile, Outcome<FeatureSet>> {
  return map((file) => extractFeatures(file, config));
}
