// The processors' settings, the same in local mode and Kafka mode.
import type { Embedder } from '../embeddings/embedder.js';
import type { SamplerConfig } from '../processors/sample.js';

export type TreeKeyMode = 'all' | 'language';

/** The sampler's own settings, as the sampler declares them. */
type SamplingSettings = Pick<
  SamplerConfig,
  'seed' | 'temperature' | 'topN' | 'coverageBoost' | 'levels' | 'levelMix' | 'targetLanguage' | 'upweights' | 'required'
>;

export interface PipelineSettings extends SamplingSettings {
  /** Files larger than this are rejected as too large. */
  maxBytes: number;
  /** Cosine similarity at or above which a label merges into a sibling. */
  similarity: number;
  /** Cosine distance within which a file is a near-duplicate of an accepted one; 0 disables. */
  nearDuplicateRadius: number;
  treeKey: TreeKeyMode;
  labelEmbedder: Embedder;
  codeEmbedder: Embedder;
}
