// Choosing an embedder from configuration: lexical (offline, no model) or an OpenAI-compatible
// endpoint; the MiniLM model (offline, by meaning) loads asynchronously: MiniLmEmbedder.open.
import type { Embedder } from './embedder.js';
import { LexicalCodeEmbedder, LexicalLabelEmbedder } from './lexical.js';
import { OpenAIEmbedder, type OpenAIEmbedderOptions } from './openai.js';

export { CachedEmbedder } from './cached.js';
export { cosine, normalise, type Embedder } from './embedder.js';
export { LexicalCodeEmbedder, LexicalLabelEmbedder, labelKey, type LexicalEmbedderOptions } from './lexical.js';
export { OpenAIEmbedder, OpenAIEmbeddingError, type OpenAIEmbedderOptions } from './openai.js';
export { MINILM_FILES, MiniLmEmbedder, MiniLmModelMissingError, defaultMiniLmDir, type MiniLmOptions } from './minilm.js';
export { bestThreshold, mergeQuality, parseLabelPairs, scorePairs, type LabelPair, type MergeQuality, type ScoredPair } from './merge-quality.js';

export type EmbedderOptions = { kind: 'lexical'; dimension?: number } | ({ kind: 'openai' } & OpenAIEmbedderOptions);

// Whole files easily exceed embedding models' ~8k-token input limit; ~4 characters per token.
const DEFAULT_CODE_MAX_INPUT_CHARS = 24_000;

export function createLabelEmbedder(options: EmbedderOptions): Embedder {
  switch (options.kind) {
    case 'lexical':
      return new LexicalLabelEmbedder(options.dimension !== undefined ? { dimension: options.dimension } : {});
    case 'openai': {
      const { kind: _kind, ...rest } = options;
      return new OpenAIEmbedder(rest);
    }
    default:
      return unknownKind(options);
  }
}

export function createCodeEmbedder(options: EmbedderOptions): Embedder {
  switch (options.kind) {
    case 'lexical':
      return new LexicalCodeEmbedder(options.dimension !== undefined ? { dimension: options.dimension } : {});
    case 'openai': {
      const { kind: _kind, ...rest } = options;
      return new OpenAIEmbedder({ ...rest, maxInputChars: rest.maxInputChars ?? DEFAULT_CODE_MAX_INPUT_CHARS });
    }
    default:
      return unknownKind(options);
  }
}

function unknownKind(options: never): never {
  throw new Error(`unknown embedder kind: ${JSON.stringify((options as { kind?: unknown }).kind)}`);
}
