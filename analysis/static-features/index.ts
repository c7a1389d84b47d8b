// Static feature extraction: parse a file with tree-sitter, run its language's feature query
// once, and map what the query found (imports, calls, definitions, constructs) onto label paths
// under the method's fixed categories. The public API of the analyser; its parts live beside it.
export {
  DEFAULT_MAX_ERROR_RATIO,
  DEFAULT_MAX_LABELS_PER_CATEGORY,
  DEFAULT_PARSE_TIMEOUT_MS,
  EXTRACT_STATIC_STAGE,
  type ExtractHereConfig,
  type ExtractStaticConfig,
  type ExtractStaticOptions,
} from './config.js';
export { extractFeatures, extractFeaturesOff, extractStaticFeatures } from './extract.js';
export { StaticExtractorPool, defaultStaticWorkers, openStaticWorkers } from './pool.js';
export { splitName } from './names.js';
