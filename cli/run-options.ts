// The options of `treesynth run`, shared by both modes and by the modules that open what a run
// needs (cli/llm-setup.ts); `settingsFrom` turns them into the pipeline's one settings type.
import { InvalidArgumentError } from 'commander';
import type { TaskLevel } from '../schemas/contract.js';
import { LLM_STAGES, pipelineSettings, type LlmStage, type PipelineSettings, type TreeKeyMode } from '../topology/settings.js';
import type { Upweight } from '../stores/tree-sampling.js';

export interface RunOptions {
  input: string;
  out: string;
  /** Kafka mode: bootstrap brokers; the stages run as consumer groups instead of over files. */
  kafka?: string;
  registry?: string;
  stages?: string[];
  topicPrefix: string;
  gitRef?: string;
  seed: number;
  tasks: number;
  maxFiles?: number;
  maxBytes: number;
  /** Unset: the label embedder's own threshold (cli/llm-setup.ts openEmbedders). */
  similarity?: number;
  nearDuplicateRadius: number;
  temperature: number;
  topN: number;
  coverageBoost: number;
  breadthFunction: number[];
  breadthFile: number[];
  breadthMultiFile: number[];
  levels: Record<TaskLevel, number>;
  targetLanguage: string;
  treeKey: TreeKeyMode;
  upweight?: Upweight[];
  require?: string[][];
  embeddings: 'auto' | 'minilm' | 'lexical' | 'openai';
  embeddingModel?: string;
  embeddingsUrl?: string;
  window: number;
  /** Kafka mode only. */
  partitions?: number;
  retentionHours?: number;
  batchRecords?: number;
  sessionTimeout?: number;
  metricsPort?: number;
  quiet: boolean;
  llmBaseUrl?: string;
  model?: string;
  extractModel?: string;
  evolveModel?: string;
  generateModel?: string;
  llmStages: LlmStage[];
  maxRequests?: number;
  maxTokens?: number;
  concurrency: number;
  llmTimeout: number;
  llmRetries: number;
  cache: string | false;
  evolveEvery: number;
  evolveRounds: number;
  maxChars: number;
  validate: boolean;
  turns: number;
  sandboxTimeout: number;
  sandboxMemory: number;
  benchmark?: string[];
  ngram: number;
}

export function llmStages(value: string): LlmStage[] {
  const stages = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of stages) if (!(LLM_STAGES as readonly string[]).includes(s)) throw new InvalidArgumentError(`unknown stage "${s}" (expected some of ${LLM_STAGES.join(', ')})`);
  return stages as LlmStage[];
}

/** The pipeline settings these options ask for; what they leave unset keeps its default. */
export function settingsFrom(options: RunOptions): PipelineSettings {
  const defaults = pipelineSettings();
  return pipelineSettings({
    seed: options.seed, maxBytes: options.maxBytes, similarity: options.similarity, nearDuplicateRadius: options.nearDuplicateRadius,
    treeKey: options.treeKey, temperature: options.temperature, topN: options.topN, coverageBoost: options.coverageBoost,
    levels: {
      function: { ...defaults.levels.function, breadth: options.breadthFunction },
      file: { ...defaults.levels.file, breadth: options.breadthFile },
      multi_file: { ...defaults.levels.multi_file, breadth: options.breadthMultiFile },
    },
    levelMix: options.levels, targetLanguage: options.targetLanguage, upweights: options.upweight, required: options.require,
    llmStages: options.llmStages, maxChars: options.maxChars, concurrency: options.concurrency,
    evolution: { every: options.evolveEvery, rounds: options.evolveRounds },
  });
}
