// The extractor's knobs and their defaults, and the stage name its rejections carry. Apart so the
// entry point, the rejection helper and callers share them without importing the whole analyser.
import type { Grammars } from '../tree-sitter/grammars.js';
import type { StaticExtractorPool } from './pool.js';

export const EXTRACT_STATIC_STAGE = 'extract-static';

/** The extractor's knobs, the same wherever it parses. */
export interface ExtractStaticOptions {
  /** Most features kept per category (default 12). */
  maxLabelsPerCategory?: number;
  /** Largest share of the file inside ERROR/MISSING nodes still accepted (default 0.2). */
  maxErrorRatio?: number;
  /** Parse budget per file (default 5000 ms). */
  parseTimeoutMs?: number;
}

/**
 * Where files are parsed: on the calling thread with `grammars` loaded there, or on worker
 * threads (extractFeaturesOff) that load their own, so the calling thread needs none.
 */
export type ExtractStaticConfig = ExtractStaticOptions &
  ({ grammars: Grammars; workers?: undefined } | { workers: StaticExtractorPool; grammars?: Grammars });

/** What parsing on the calling thread needs. */
export type ExtractHereConfig = ExtractStaticOptions & { grammars: Grammars };

export const DEFAULT_MAX_LABELS_PER_CATEGORY = 12;
export const DEFAULT_MAX_ERROR_RATIO = 0.2;
export const DEFAULT_PARSE_TIMEOUT_MS = 5000;
