// The pipeline's settings: one type for both runners, and the one set of defaults. The CLI's
// option defaults, the local runner, the Kafka runner and the benchmarks all read them here.
import { FEATURE_CATEGORIES } from '../schemas/categories.js';
import type { TaskLevel } from '../schemas/contract.js';
import type { FrequencyConvention, LevelShape, Upweight } from '../stores/tree-sampling.js';

export type TreeKeyMode = 'all' | 'language';

/** The stages that can use a model. */
export const LLM_STAGES = ['extract', 'evolve', 'generate'] as const;
export type LlmStage = (typeof LLM_STAGES)[number];

export interface EvolutionSettings {
  /** A round after every N files a tree takes in (0: never while files arrive). */
  every: number;
  /** Rounds after the corpus, before tasks are sampled (local mode). */
  rounds: number;
  /** Children drawn per depth for the subtree shown to the model. */
  breadth: number[];
  /** Temperature of that draw; above 1 shows the model rarer corners of the tree. */
  temperature: number;
  /** Siblings the model is asked to add at each level. */
  minSiblings: number;
  /**
   * Tree demonstration before each round: a category with at least `minFeatures` flat features
   * has up to `sample` of them arranged into sub-categories by the model (0: never).
   */
  demonstrate: { minFeatures: number; sample: number };
}

export interface PipelineSettings {
  /** One seed for every random choice: sampling, evolution, level mix. */
  seed: number;
  /** Files larger than this are rejected as too large. */
  maxBytes: number;
  /** Cosine similarity at or above which a label merges into a sibling; it depends on the label embedder (MERGE_SIMILARITY). */
  similarity: number;
  /** Cosine distance within which a file is a near-duplicate of an accepted one; 0 disables. */
  nearDuplicateRadius: number;
  /** Cosine distance within which a generated sample (instruction + solution) duplicates an accepted one; 0 disables. */
  sampleDuplicateRadius: number;
  treeKey: TreeKeyMode;
  /** Sampling temperature T: p ∝ exp(log(f)/T); or one T per depth, from the categories down (the last repeats). */
  temperature: number | number[];
  /** Children of a node that sampling and evolution consider (the most frequent). */
  topN: number;
  /** Pull of realised draws toward each node's exact expected draws: one draw behind weighs e^x more; 0: off. */
  coverageBoost: number;
  /** What a node's frequency means to the sampler: files that mention it, or the reference's sum over its leaves. */
  frequency: FrequencyConvention;
  levels: Record<TaskLevel, LevelShape>;
  levelMix: Record<TaskLevel, number>;
  targetLanguage: string;
  upweights?: Upweight[];
  /** Features every task must use: drawn at their depth (counting toward k), sampled under, marked mandatory. */
  required?: string[][];
  /** Features every task contains without having to use them (the reference's fixed features). */
  fixed?: string[][];
  /** Top-level categories never sampled into a task: settings, not features, and defects (DEFECT_CATEGORIES). */
  excludeCategories: string[];
  /** Stages that use a model at all (extract without one is static extraction). */
  llmStages: readonly LlmStage[];
  /** Characters of a file sent for extraction. */
  maxChars: number;
  /** Records in flight per LLM stage. */
  concurrency: number;
  evolution: EvolutionSettings;
  /** A student model's failures steer sampling (absent: no student). */
  student?: StudentSettings;
}

export interface StudentSettings {
  /** Largest up-weight of a feature the student fails on (stores/student-store.ts). */
  maxFactor: number;
  /** Local mode asks for its tasks in this many rounds, each sampled after the student answered the previous ones. */
  rounds: number;
}

export const DEFAULT_STUDENT: Readonly<StudentSettings> = Object.freeze({ maxFactor: 4, rounds: 4 });

/**
 * Merge threshold per label embedder. minilm: the best F1 over the labelled pairs of
 * tests/fixtures/label-pairs.json (precision 0.81, recall 0.89 there; its wrong merges are
 * opposites such as "int to string" / "string to int"). lexical: tuned by
 * tests/lexical-embedder.test.ts (precision 0.89, recall 0.40 on the same pairs). openai: not
 * measured, it depends on the model; pass --similarity.
 */
export const MERGE_SIMILARITY = { minilm: 0.73, lexical: 0.85, openai: 0.85 } as const;
export type LabelEmbedderKind = keyof typeof MERGE_SIMILARITY;

/**
 * Categories that describe defects (swallowed exceptions, bare except, todo comments): the
 * extractor records them, but as task features they would make anti-patterns training targets.
 * The reference drops them too. `--include-defects` brings them back.
 */
export const DEFECT_CATEGORIES: readonly string[] = ['issues & bugs'];

/** Larger breadth and depth make more complex tasks: function → file → multi-file. */
export const DEFAULT_LEVELS: Readonly<Record<TaskLevel, LevelShape>> = {
  function: { breadth: [3, 1, 1], mandatory: 1 },
  file: { breadth: [5, 2, 1, 1], mandatory: 2 },
  multi_file: { breadth: [7, 2, 2, 1], mandatory: 3 },
};

export const DEFAULT_LEVEL_MIX: Readonly<Record<TaskLevel, number>> = { function: 0.6, file: 0.3, multi_file: 0.1 };

export const DEFAULT_SETTINGS: Readonly<PipelineSettings> = Object.freeze({
  seed: 42,
  maxBytes: 1024 * 1024,
  // The default label embedder's; a run with another embedder uses that one's (MERGE_SIMILARITY).
  similarity: MERGE_SIMILARITY.minilm,
  nearDuplicateRadius: 0.05,
  // MiniLM on tests/fixtures/sample-pairs.json: the same task in other words and code 0.91-0.94,
  // different tasks on one topic 0.34-0.69. 0.15 (similarity 0.85) drops every duplicate there and
  // leans toward keeping: a sample dropped wrongly is lost, one kept wrongly costs little.
  sampleDuplicateRadius: 0.15,
  treeKey: 'all',
  temperature: 1,
  topN: 50,
  coverageBoost: 1,
  frequency: 'files',
  levels: DEFAULT_LEVELS as Record<TaskLevel, LevelShape>,
  levelMix: DEFAULT_LEVEL_MIX as Record<TaskLevel, number>,
  targetLanguage: 'python',
  excludeCategories: ['programming language', ...DEFECT_CATEGORIES],
  llmStages: LLM_STAGES,
  maxChars: 24_000,
  concurrency: 16,
  // 12: a category with fewer flat features reads well as a list; 40 fit one prompt and give
  // the model enough to see the groups (the reference shows its construct_tree step a sample too).
  evolution: { every: 0, rounds: 1, breadth: [4, 2, 2], temperature: 2, minSiblings: 2, demonstrate: { minFeatures: 12, sample: 40 } },
});

/**
 * `run` with no endpoint, on the tiny local model (llm/local-model.ts), where a flag does not
 * say otherwise: it writes samples only (per-file extraction of a whole repository would take
 * hours at ~25 tokens/s), few of them, one request at a time (a request queued behind another
 * would spend its deadline waiting), each with a deadline that fits the local model's 512-token
 * answers four times over at 25 tokens/s, and a timeout retried once (a CPU too slow for one
 * answer is as slow for the next); so `run --input . --out out` ends in about two minutes.
 */
export const LOCAL_MODEL_RUN = Object.freeze({
  llmStages: ['generate'] as LlmStage[],
  tasks: 2,
  concurrency: 1,
  llmTimeoutMs: 90_000,
  llmRetries: 1,
});

/** Settings from the defaults and what the caller changes; nested parts merge one level deep. */
export function pipelineSettings(overrides: Partial<Omit<PipelineSettings, 'evolution'>> & { evolution?: Partial<EvolutionSettings> } = {}): PipelineSettings {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Partial<PipelineSettings>;
  return {
    ...DEFAULT_SETTINGS,
    levels: { ...DEFAULT_LEVELS },
    levelMix: { ...DEFAULT_LEVEL_MIX },
    excludeCategories: [...DEFAULT_SETTINGS.excludeCategories],
    ...defined,
    evolution: { ...DEFAULT_SETTINGS.evolution, ...(overrides.evolution ?? {}) },
  };
}

/** Named sets of sampling defaults, for runs compared with another implementation. */
export const SAMPLING_PRESETS = ['epicoder'] as const;
export type SamplingPreset = (typeof SAMPLING_PRESETS)[number];

/** The categories the reference's gen_question.py samples from, per language (Java's list for Java). */
const EPICODER_CATEGORIES = {
  python: ['workflow', 'implementation style', 'functionality', 'resource usage', 'computation operation', 'user interaction', 'data processing', 'file operation', 'dependency relations', 'algorithm', 'data structures'],
  java: ['workflow', 'implementation style', 'functionality', 'resource usage', 'computation operation', 'user interaction', 'data processing', 'file operation', 'algorithm', 'data structures'],
} as const;

/**
 * The reference's generation defaults (microsoft/EpiCoder gen/gen_question.py over
 * utils/tree.py): T = 10; k = [5, 2, 1, 1] with 2 mandatory features at every level (it has one
 * shape) and file-level tasks only; "computation operation" fixed into every task, counting
 * toward the 5, not mandatory; only its categories for the language (Python's list for languages
 * it does not name); a node with children weighing the sum of its leaves; no coverage correction.
 * Evolution keeps treesynth's settings.
 */
export function presetSettings(preset: SamplingPreset, targetLanguage: string): Partial<PipelineSettings> {
  switch (preset) {
    case 'epicoder': {
      const shape = () => ({ breadth: [5, 2, 1, 1], mandatory: 2 });
      const kept: readonly string[] = targetLanguage === 'java' ? EPICODER_CATEGORIES.java : EPICODER_CATEGORIES.python;
      return {
        temperature: 10, coverageBoost: 0, topN: 50, frequency: 'leaf-sum',
        levels: { function: shape(), file: shape(), multi_file: shape() },
        levelMix: { function: 0, file: 1, multi_file: 0 },
        fixed: [['computation operation']],
        excludeCategories: FEATURE_CATEGORIES.filter((c) => !kept.includes(c)),
      };
    }
  }
}
