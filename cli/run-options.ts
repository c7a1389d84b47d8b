// The options of `treesynth run`, shared by both modes and by the modules that open what a run
// needs (cli/llm-setup.ts); `settingsFrom` turns them into the pipeline's one settings type.
import { InvalidArgumentError } from 'commander';
import type { TaskLevel } from '../schemas/contract.js';
import {
  DEFECT_CATEGORIES, LLM_STAGES, SAMPLING_PRESETS, pipelineSettings, presetSettings, type LlmStage, type PipelineSettings, type SamplingPreset, type TreeKeyMode,
} from '../topology/settings.js';
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
  /** Most bytes a .jsonl.gz input may inflate to; unset, the JSONL source's default. */
  maxDecompressed?: number;
  maxBytes: number;
  /** Unset: the label embedder's own threshold (cli/llm-setup.ts openEmbedders). */
  similarity?: number;
  nearDuplicateRadius: number;
  sampleDuplicateRadius: number;
  /** One T, or one per depth from the categories down. */
  temperature: number | number[];
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
  /** Sampling defaults of another implementation; flags given on the command line still win. */
  preset?: SamplingPreset;
  /** Sample defect categories ("issues & bugs") into tasks too. */
  includeDefects: boolean;
  /** Options given on the command line or by environment (set by the run command): a preset fills only the others. */
  explicit?: ReadonlySet<string>;
  embeddings: 'auto' | 'minilm' | 'lexical' | 'openai';
  embeddingModel?: string;
  embeddingsUrl?: string;
  /** Files in flight; unset: `defaultWindow(concurrency)`. */
  window?: number;
  /** Worker threads that parse files for static extraction; unset: defaultStaticWorkers(). */
  staticWorkers?: number;
  /** Kafka mode only. */
  partitions?: number;
  retentionHours?: number;
  batchRecords?: number;
  sessionTimeout?: number;
  metricsPort?: number;
  /** Tasks requested per file the tree takes in. */
  tasksPerFiles?: number;
  /** Seconds a task request waits for its tree. */
  requestWait?: number;
  quiet: boolean;
  llmBaseUrl?: string;
  model?: string;
  /** False (--no-local-model, or TREESYNTH_LOCAL_MODEL=off): no endpoint means no model at all. */
  localModel?: boolean;
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
  /** Passing samples whose tests catch a smaller share of their mutants are rejected (0: recorded only). */
  minMutationScore: number;
  benchmark?: string[];
  ngram: number;
  /** OpenAI-compatible endpoint of a student model whose failures steer sampling. */
  student?: string;
  studentModel?: string;
  studentRounds: number;
  studentMaxFactor: number;
  /** Cosine at which an instruction matches a benchmark problem by meaning (0: n-grams only). */
  semanticThreshold: number;
}

/**
 * Files in flight by default. Files leave the model stages in input order, so while one waits
 * out a retry's backoff the files behind it finish and wait too: the window must hold the
 * seconds of answers that arrive meanwhile, or the endpoint idles (with 64 files, one at 25 %
 * faults sat idle for seconds at a time). Small files cost little; --window caps it.
 */
export function defaultWindow(concurrency: number): number {
  return Math.max(64, 16 * concurrency);
}

export function llmStages(value: string): LlmStage[] {
  const stages = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of stages) if (!(LLM_STAGES as readonly string[]).includes(s)) throw new InvalidArgumentError(`unknown stage "${s}" (expected some of ${LLM_STAGES.join(', ')})`);
  return stages as LlmStage[];
}

export function samplingPreset(value: string): SamplingPreset {
  if (!(SAMPLING_PRESETS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of: ${SAMPLING_PRESETS.join(', ')}`);
  return value as SamplingPreset;
}

/** "1" or "2,1,1": one sampling temperature, or one per depth from the categories down. */
export function temperatures(value: string): number | number[] {
  const parts = value.split(',').map((p) => p.trim());
  const values = parts.map(Number);
  if (parts.length > 8 || parts.some((p, i) => p === '' || !Number.isFinite(values[i]!) || values[i]! <= 0)) {
    throw new InvalidArgumentError('expected a number above 0, or one per depth separated by commas, e.g. 2,1,1');
  }
  return values.length === 1 ? values[0]! : values;
}

/**
 * The pipeline settings these options ask for; what they leave unset keeps its default. Under a
 * preset, a sampling option keeps the preset's value unless it was given explicitly.
 */
export function settingsFrom(options: RunOptions): PipelineSettings {
  const preset = options.preset ? presetSettings(options.preset, options.targetLanguage) : {};
  const base = pipelineSettings(preset);
  const given = (name: keyof RunOptions) => !options.preset || (options.explicit?.has(name) ?? false);
  const shape = (level: TaskLevel, name: 'breadthFunction' | 'breadthFile' | 'breadthMultiFile') =>
    given(name) ? { ...base.levels[level], breadth: options[name] } : base.levels[level];
  return pipelineSettings({
    ...preset,
    seed: options.seed, maxBytes: options.maxBytes, similarity: options.similarity, nearDuplicateRadius: options.nearDuplicateRadius,
    sampleDuplicateRadius: options.sampleDuplicateRadius,
    treeKey: options.treeKey,
    temperature: given('temperature') ? options.temperature : base.temperature,
    topN: given('topN') ? options.topN : base.topN,
    coverageBoost: given('coverageBoost') ? options.coverageBoost : base.coverageBoost,
    levels: { function: shape('function', 'breadthFunction'), file: shape('file', 'breadthFile'), multi_file: shape('multi_file', 'breadthMultiFile') },
    levelMix: given('levels') ? options.levels : base.levelMix,
    excludeCategories: options.includeDefects ? base.excludeCategories.filter((c) => !DEFECT_CATEGORIES.includes(c)) : base.excludeCategories,
    targetLanguage: options.targetLanguage, upweights: options.upweight, required: options.require,
    // Records in flight per model stage: twice the requests the endpoint's limiter lets out, so
    // calls sleeping out a retry's backoff do not leave the endpoint short (at 25 % faults,
    // C records kept about 11 of 16 requests in flight).
    llmStages: options.llmStages, maxChars: options.maxChars, concurrency: 2 * options.concurrency,
    evolution: { every: options.evolveEvery, rounds: options.evolveRounds },
    ...(options.student ? { student: { maxFactor: options.studentMaxFactor, rounds: options.studentRounds } } : {}),
  });
}
