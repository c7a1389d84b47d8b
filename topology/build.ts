// Builds every stage's operator from one settings type over explicit stores: the one place both
// runners get their stages from. The runners only wire what this returns to their transport
// (memory in local mode, consumer groups with transactions in Kafka mode).
import type { StaticExtractorPool } from '../analysis/static-features/pool.js';
import type { Grammars } from '../analysis/tree-sitter/grammars.js';
import type { ExtractStaticConfig } from '../analysis/static-features/index.js';
import type { Embedder } from '../embeddings/embedder.js';
import type { ModelAccess, PendingPrompt, StructuredModel } from '../llm/model.js';
import { canonicalizeStage } from '../processors/canonicalize.js';
import { evolveStage } from '../processors/evolve.js';
import { extractStage } from '../processors/extract.js';
import { filterStage } from '../processors/filter.js';
import { generateStage } from '../processors/generate.js';
import { sampleStage, type SamplerConfig } from '../processors/sample.js';
import { studentStage, type StudentConfig } from '../processors/student.js';
import { validateStage, type ValidateConfig } from '../processors/validate.js';
import type { DecontaminateConfig } from '../quality/contamination.js';
import type { ValidationTally } from '../quality/validation-tally.js';
import { ContentHashStore } from '../stores/content-hash-store.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { FileIndex } from '../stores/file-index.js';
import { StudentStore } from '../stores/student-store.js';
import type { SuppressedStore } from '../stores/suppressed-store.js';
import { SampleIndex } from '../stores/sample-index.js';
import { SourceIndex } from '../stores/source-index.js';
import { evolutionSeed } from './evolution.js';
import type { LlmStage, PipelineSettings } from './settings.js';
import type { Stages } from './treesynth.js';

/** The state the stages keep: each runner creates (local) or restores (Kafka) these. */
export interface StageStores {
  /** The feature trees (canonicalize and evolve write, sample reads). */
  trees: FeatureTrees;
  /** How often sampling drew each node, and how often the formula expected it to. */
  coverage: CoverageStore;
  /** Exact dedup: content hash -> first path. */
  seen: ContentHashStore;
  /** Near-duplicate index over accepted files. */
  index: FileIndex;
  /** Files suppressed as near-duplicates, kept to filter again when what they duplicated goes (Kafka mode); null keeps none (a fixed corpus). */
  suppressed: SuppressedStore | null;
  /** The student's failures per feature (sample reads them from student.attempts). */
  student: StudentStore;
  /** Near-duplicate index over accepted samples (instruction + solution), keyed by sample id. */
  samples: SampleIndex;
  /** Lineage: the few files behind each tree node (canonicalize writes, sample reads). */
  sources: SourceIndex;
}

/** What the stages use that is not a setting: embedders, models, the sandbox, a clock. */
export interface StageResources {
  labelEmbedder: Embedder;
  codeEmbedder: Embedder;
  /** Embeds generated samples for output dedup (and semantic decontamination); absent, the code embedder. */
  sampleEmbedder?: Embedder;
  /**
   * Tree-sitter grammars for parsing on the stage's own thread; null when worker threads parse
   * (each loads its own) or in a process that runs no extract stage (they load slowly).
   */
  grammars: Grammars | null;
  /** Worker threads that parse for the extract stage; absent, it parses on the stage's own thread. */
  staticWorkers?: StaticExtractorPool;
  /** Models per LLM stage; a stage in `llmStages` without one records its prompts through `pending`. */
  models: Partial<Record<LlmStage, StructuredModel>>;
  pending: (prompt: PendingPrompt) => Promise<void>;
  /** The sandbox and its debugging turns; absent, samples are not run. */
  validation?: ValidateConfig;
  /** Benchmark overlap checks; absent, none. */
  decontamination?: DecontaminateConfig;
  /** The student model and the sandbox that judges its answers; absent, no student stage. */
  student?: Pick<StudentConfig, 'model' | 'runner'>;
  /** Counts the validate stage's outcomes for the summary. */
  tally?: ValidationTally;
  /**
   * Hears how many files the extract stage holds back, finished, while an earlier file is still
   * with the model (files leave in input order). The local runner reads that many more, so a file
   * sleeping out a backoff does not leave the endpoint idle once the window is full.
   */
  heldByExtract?: (count: number) => void;
  clock?: () => number;
}

export function createStores(resources: Pick<StageResources, 'codeEmbedder' | 'clock'>, settings: Pick<PipelineSettings, 'student'> = {}): StageStores {
  return {
    trees: new FeatureTrees(resources.clock), coverage: new CoverageStore(), seen: new ContentHashStore(), index: new FileIndex(resources.codeEmbedder.dimension), suppressed: null,
    student: new StudentStore(settings.student?.maxFactor), samples: new SampleIndex(), sources: new SourceIndex(),
  };
}

/** The sample stage's settings over the stores; the Kafka runner replays coverage with the same. */
export function samplerConfig(settings: PipelineSettings, stores: Pick<StageStores, 'trees' | 'coverage'> & Partial<Pick<StageStores, 'student' | 'sources'>>, clock: () => number = Date.now): SamplerConfig {
  return {
    trees: stores.trees, coverage: stores.coverage, seed: settings.seed, temperature: settings.temperature, levels: settings.levels,
    levelMix: settings.levelMix, targetLanguage: settings.targetLanguage, topN: settings.topN, coverageBoost: settings.coverageBoost,
    frequency: settings.frequency, upweights: settings.upweights, required: settings.required, fixed: settings.fixed,
    excludeCategories: settings.excludeCategories, clock, ...(settings.student && stores.student ? { student: stores.student } : {}),
    ...(stores.sources ? { sources: stores.sources } : {}),
  };
}

export function buildStages(settings: PipelineSettings, stores: StageStores, resources: StageResources): Stages {
  const clock = resources.clock ?? Date.now;
  const uses = (stage: LlmStage) => settings.llmStages.includes(stage);
  const access = (stage: LlmStage): ModelAccess => {
    const model = resources.models[stage];
    return model ? { model } : { pending: resources.pending };
  };
  const parsing = (): ExtractStaticConfig => {
    if (resources.staticWorkers) return { workers: resources.staticWorkers };
    if (!resources.grammars) throw new Error('the extract stage needs the tree-sitter grammars (loadGrammars) or worker threads (openStaticWorkers)');
    return { grammars: resources.grammars };
  };
  const validate = validateStage(resources.decontamination, resources.validation, resources.tally, {
    store: stores.samples, embedder: resources.sampleEmbedder ?? resources.codeEmbedder, radius: settings.sampleDuplicateRadius,
  });
  return {
    filter: filterStage({
      files: { maxBytes: settings.maxBytes, seen: stores.seen, treeKey: settings.treeKey === 'language' ? (language) => language : () => 'all' },
      nearDuplicates: { index: stores.index, embedder: resources.codeEmbedder, radius: settings.nearDuplicateRadius, ...(stores.suppressed ? { suppressed: stores.suppressed } : {}) },
    }),
    // Built on first subscription: a process without the extract stage never loads grammars.
    extract: (files) =>
      files.pipe(
        extractStage({
          static: parsing(),
          ...(uses('extract') ? { llm: { access: access('extract'), maxChars: settings.maxChars, concurrency: settings.concurrency, clock, ...(resources.heldByExtract ? { held: resources.heldByExtract } : {}) } } : {}),
        }),
      ),
    canonicalize: canonicalizeStage({ trees: stores.trees, embedder: resources.labelEmbedder, threshold: settings.similarity, sources: stores.sources }),
    evolve: evolveStage({
      trees: stores.trees, embedder: resources.labelEmbedder, access: access('evolve'), threshold: settings.similarity,
      seedOf: (request) => evolutionSeed(settings.seed, request.round), breadth: settings.evolution.breadth,
      temperature: settings.evolution.temperature, topN: settings.topN, minSiblings: settings.evolution.minSiblings,
      excludeCategories: settings.excludeCategories, demonstrate: settings.evolution.demonstrate,
    }),
    sample: sampleStage(samplerConfig(settings, stores, clock)),
    generate: generateStage({ access: access('generate'), concurrency: settings.concurrency, clock }),
    ...(validate ? { validate } : {}),
    ...(resources.student && settings.student ? { student: studentStage({ ...resources.student, concurrency: settings.concurrency, clock }) } : {}),
  };
}
