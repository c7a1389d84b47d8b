// The processors' settings, the same in local mode and Kafka mode.
import type { Embedder } from '../embeddings/embedder.js';
import type { LevelShape, Upweight } from '../processors/sample-subtrees.js';
import type { TaskLevel } from '../schemas/contract.js';

export type TreeKeyMode = 'all' | 'language';

export interface PipelineSettings {
  seed: number;
  /** Files larger than this are rejected as too large. */
  maxBytes: number;
  /** Cosine similarity at or above which a label merges into a sibling. */
  similarity: number;
  /** Cosine distance within which a file is a near-duplicate of an accepted one; 0 disables. */
  nearDuplicateRadius: number;
  temperature: number;
  topN: number;
  coverageBoost: number;
  levels: Record<TaskLevel, LevelShape>;
  levelMix: Record<TaskLevel, number>;
  targetLanguage: string;
  treeKey: TreeKeyMode;
  upweights?: Upweight[];
  required?: string[][];
  labelEmbedder: Embedder;
  codeEmbedder: Embedder;
}
