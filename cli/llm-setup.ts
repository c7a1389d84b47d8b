// What local mode and Kafka mode share when they start: the LLM clients of the stages they run
// (checked before anything is paid for), the sandbox of the validate stage, the benchmark index
// of decontamination, and the embedders.
import { resolve } from 'node:path';
import { CachedEmbedder, MiniLmEmbedder, createCodeEmbedder, createLabelEmbedder, defaultMiniLmDir } from '../embeddings/index.js';
import type { Embedder } from '../embeddings/embedder.js';
import { LlmClientFactory, type LlmClient, type LlmSettings } from '../llm/index.js';
import { embedBenchmark, loadBenchmarkIndex, type DecontaminateConfig } from '../quality/contamination.js';
import type { StructuredModel } from '../llm/model.js';
import { createValidateConfig, type ValidateConfig } from '../processors/validate.js';
import { ResponseCache } from '../llm/response-cache.js';
import { schemasOf } from '../prompts/stage-schemas.js';
import type { SampleRunner } from '../sandbox/types.js';
import { MERGE_SIMILARITY, type LabelEmbedderKind, type LlmStage } from '../topology/settings.js';
import { UsageError } from './errors.js';
import type { RunOptions } from './run-options.js';

/** The LLM flags every command that talks to a model shares. */
export interface LlmCliSettings {
  llmBaseUrl?: string;
  model?: string;
  llmTimeout: number;
  llmRetries: number;
  seed?: number;
  temperature?: number;
  /** Path of the response cache, or false for none. */
  cache: string | false;
  concurrency: number;
  maxRequests?: number;
  maxTokens?: number;
  /** A model per stage, where one is given. */
  stageModels?: Readonly<Record<string, string | undefined>>;
  /** No notice on stderr (which model was taken when none was given). */
  quiet?: boolean;
}

export interface OpenedLlm {
  factory: LlmClientFactory;
  /** A client per wanted stage, each endpoint checked once. */
  clients: Record<string, LlmClient>;
  close(): Promise<void>;
}

/**
 * The clients of the `wanted` stages, or null when no endpoint is configured for any of them.
 * Every endpoint is checked before anything is paid for: a wrong key, an unknown model or an
 * endpoint that is down is one line.
 */
function endpointSettings(settings: LlmCliSettings): { defaults: LlmSettings; stages: Record<string, LlmSettings> } {
  const defaults: LlmSettings = { timeoutMs: settings.llmTimeout, maxRetries: settings.llmRetries };
  if (settings.seed !== undefined) defaults.seed = settings.seed;
  if (settings.temperature !== undefined) defaults.temperature = settings.temperature;
  if (settings.llmBaseUrl) defaults.baseURL = settings.llmBaseUrl;
  if (settings.model) defaults.model = settings.model;
  const stages: Record<string, LlmSettings> = {};
  for (const [stage, model] of Object.entries(settings.stageModels ?? {})) if (model) stages[stage] = { model };
  return { defaults, stages };
}

/** Whether an endpoint is configured for `stage` (flags or environment), without contacting it. */
export function endpointConfigured(settings: LlmCliSettings, stage: string): boolean {
  return new LlmClientFactory(endpointSettings(settings)).configured(stage);
}

export async function openLlm(settings: LlmCliSettings, wanted: readonly string[]): Promise<OpenedLlm | null> {
  const { defaults, stages } = endpointSettings(settings);
  if (!wanted.some((s) => endpointConfigured(settings, s))) return null;
  const cache = settings.cache === false ? undefined : await ResponseCache.open(resolve(settings.cache));
  const budget: { maxRequests?: number; maxTotalTokens?: number } = {};
  if (settings.maxRequests !== undefined) budget.maxRequests = settings.maxRequests;
  if (settings.maxTokens !== undefined) budget.maxTotalTokens = settings.maxTokens;
  const factory = new LlmClientFactory({
    // Starts at --concurrency; the limiter comes down on overload only (llm/adaptive-concurrency.ts).
    defaults, stages, guard: { budget }, concurrency: { max: Math.max(1, settings.concurrency) },
    ...(cache ? { cache } : {}),
  });
  try {
    // No model given: an endpoint that serves exactly one names it; say which was taken.
    const discovered = new Map<string, string[]>();
    for (const { stage, model, endpoint } of await factory.discoverModels(wanted)) {
      const key = `${endpoint} serves one model: using "${model}"`;
      discovered.set(key, [...(discovered.get(key) ?? []), stage]);
    }
    if (!settings.quiet) for (const [line, used] of discovered) process.stderr.write(`treesynth: no --model given; ${line} (${used.join(', ')})\n`);
    const clients: Record<string, LlmClient> = {};
    const checked = new Set<string>();
    for (const stage of wanted) {
      const client = factory.forStage(stage);
      client.prepare(schemasOf(stage));
      const key = `${client.config.baseURL}\u0000${client.config.model}`;
      if (!checked.has(key)) {
        await client.checkEndpoint();
        checked.add(key);
      }
      clients[stage] = client;
    }
    return { factory, clients, close: async () => cache?.close() };
  } catch (error) {
    await cache?.close();
    throw error;
  }
}

export interface LlmClients {
  /** Models of the wanted stages; empty when no endpoint is configured. */
  models: Partial<Record<LlmStage, StructuredModel>>;
  /** The model of debugging turns (stage `validate`), when a model writes samples. */
  debugModel: StructuredModel | null;
  configured: boolean;
  endpoint: string | undefined;
  usage: () => Record<string, unknown>;
  close(): Promise<void>;
}

/** The pipeline stages' clients (`run`, local and Kafka mode). */
export async function openLlmClients(options: RunOptions, wanted: readonly LlmStage[]): Promise<LlmClients> {
  // --temperature is the sampler's T, not the model's: the model keeps its own default.
  const opened = await openLlm({ ...options, temperature: undefined, stageModels: { extract: options.extractModel, evolve: options.evolveModel, generate: options.generateModel } }, wanted);
  if (!opened) return { models: {}, debugModel: null, configured: false, endpoint: undefined, usage: () => ({}), close: async () => {} };
  const { factory, clients } = opened;
  const models: Partial<Record<LlmStage, StructuredModel>> = {};
  for (const stage of wanted) models[stage] = clients[stage];
  // Debugging turns use the validate stage's model: without --model, the endpoint's only one too.
  let debugModel: LlmClient | null = null;
  if (models.generate) {
    await factory.discoverModels(['validate']);
    debugModel = factory.forStage('validate');
    debugModel.prepare(schemasOf('validate'));
  }
  return {
    models,
    debugModel,
    configured: true,
    endpoint: factory.forStage(wanted[0]!).provenance().endpointHost,
    // How each endpoint's limiter fared (cuts, pauses, peak in flight): the summary says why a run was slow.
    usage: () => ({ byStage: factory.usageByStage(), budget: factory.guard.budget.snapshot(), concurrency: Object.fromEntries([...factory.limiters()].map(([endpoint, l]) => [endpoint, l.snapshot()])) }),
    close: opened.close,
  };
}

/**
 * The sandbox for generated samples: only when a model writes samples (otherwise there is
 * nothing to run). No bubblewrap here is one clear line with the way out.
 */
export async function openValidation(options: RunOptions, llm: LlmClients): Promise<ValidateConfig | undefined> {
  if (!options.validate || !llm.models.generate) return undefined;
  let config: ValidateConfig;
  try {
    config = await createValidateConfig({ timeoutMs: options.sandboxTimeout, memoryMb: options.sandboxMemory, turns: options.turns, minMutationScore: options.minMutationScore, seed: options.seed }, llm.debugModel);
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (or run with --no-validate to keep samples unvalidated)`);
  }
  if (!options.quiet) for (const line of config.warnings ?? []) process.stderr.write(`treesynth: ${line}\n`);
  return config;
}

/**
 * The student model of `--student`, judged by the validate stage's sandbox. It needs validated
 * samples: a model that writes them and the sandbox. Its own client (own limiter, no response
 * cache: a cache file has one writer, the teacher's client).
 */
export async function openStudent(options: RunOptions, validation: ValidateConfig | undefined): Promise<{ model: StructuredModel; runner: SampleRunner; close(): Promise<void> } | undefined> {
  if (!options.student) return undefined;
  if (!validation) throw new UsageError('--student needs validated samples to judge the student by: an LLM endpoint that writes them, and the sandbox (not --no-validate)');
  const opened = await openLlm(
    { llmBaseUrl: options.student, model: options.studentModel, llmTimeout: options.llmTimeout, llmRetries: options.llmRetries, cache: false, concurrency: options.concurrency, quiet: options.quiet },
    ['student'],
  ).catch((error: Error) => {
    throw new UsageError(`--student: ${error.message.split('\n')[0]}`);
  });
  if (!opened) throw new UsageError(`--student: no endpoint at ${options.student}`);
  if (!options.quiet) process.stderr.write(`treesynth: student model ${opened.clients['student']!.config.model} at ${options.student}: it solves each validated task; features it fails on are sampled up to ${options.studentMaxFactor}x more often\n`);
  return { model: opened.clients['student']!, runner: validation.runner, close: opened.close };
}

/**
 * The n-gram check, and beside it the check by meaning when the samples' embedder embeds meaning
 * (MiniLM or an endpoint); with lexical vectors a paraphrase looks unrelated, so it is left out
 * and the run says so.
 */
export async function openDecontamination(
  options: Pick<RunOptions, 'benchmark' | 'ngram' | 'semanticThreshold' | 'quiet'>, samples: OpenedEmbedders['samples'], log: (line: string) => void = (line) => void process.stderr.write(`${line}\n`),
): Promise<DecontaminateConfig | undefined> {
  if (!options.benchmark?.length) return undefined;
  const index = await loadBenchmarkIndex(options.benchmark, { n: options.ngram }).catch((error: Error) => {
    throw new UsageError(`--benchmark: ${error.message.split('\n')[0]}`);
  });
  if (options.semanticThreshold <= 0) return { index, minMatches: 1 };
  if (!samples.byMeaning) {
    if (!options.quiet) log(`treesynth: decontamination by ${options.ngram}-grams only: matching by meaning needs MiniLM (./setup.sh) or --embeddings openai`);
    return { index, minMatches: 1 };
  }
  return { index, minMatches: 1, semantic: await embedBenchmark(index, samples.embedder, options.semanticThreshold) };
}

export interface OpenedEmbedders {
  labels: Embedder;
  files: Embedder;
  /** Embeds generated samples (output dedup, decontamination by meaning): the label model when it embeds meaning, else the file embedder. */
  samples: { embedder: Embedder; byMeaning: boolean };
  /** The merge threshold: --similarity, else the one chosen for this label embedder (MERGE_SIMILARITY). */
  similarity: number;
}

/**
 * The run's embedders; label vectors are cached, since most label occurrences repeat a spelling.
 * `auto` (the default) merges labels by meaning with the MiniLM model ./setup.sh installs and,
 * when it cannot be opened, falls back to the lexical embedder, saying so and why in one line;
 * when no model names the features (static extraction only) it merges by spelling, and says so.
 * Whole files are embedded lexically with every choice: MiniLM reads only a file's first 256
 * word pieces, so files that share a licence header look alike, and it is ~100x slower.
 */
export async function openEmbedders(
  options: Pick<RunOptions, 'embeddings' | 'embeddingModel' | 'embeddingsUrl' | 'similarity' | 'quiet'>,
  {
    modelDir = defaultMiniLmDir(), log = (line: string) => process.stderr.write(`${line}\n`), staticLabelsOnly = false,
  }: { modelDir?: string; log?: (line: string) => void; staticLabelsOnly?: boolean } = {},
): Promise<OpenedEmbedders> {
  const opened = (kind: LabelEmbedderKind, labels: Embedder): OpenedEmbedders => ({
    labels: new CachedEmbedder(labels), files: createCodeEmbedder({ kind: 'lexical' }), similarity: options.similarity ?? MERGE_SIMILARITY[kind],
    // Uncached: sample texts rarely repeat, and the label cache would hold them.
    samples: kind === 'lexical' ? { embedder: createCodeEmbedder({ kind: 'lexical' }), byMeaning: false } : { embedder: labels, byMeaning: true },
  });
  switch (options.embeddings) {
    case 'lexical':
      return opened('lexical', createLabelEmbedder({ kind: 'lexical' }));
    case 'openai': {
      if (!options.embeddingModel) throw new UsageError('--embeddings openai needs --embedding-model (e.g. text-embedding-3-small)');
      return opened('openai', createLabelEmbedder({ kind: 'openai', model: options.embeddingModel, ...(options.embeddingsUrl ? { baseURL: options.embeddingsUrl } : {}) }));
    }
    case 'minilm':
      try {
        return opened('minilm', await MiniLmEmbedder.open({ dir: modelDir }));
      } catch (error) {
        throw new UsageError(`--embeddings minilm: ${(error as Error).message.split('\n')[0]}`);
      }
    case 'auto':
      // Static labels name identifiers (round up, round down, _sha1, _sha256): siblings are
      // different functions, and by meaning MiniLM merged 92 of them on 150 stdlib files with
      // about 12 right, lexical 16 with 4 right. Meaning pays once a model names the features.
      if (staticLabelsOnly) {
        const lexical = opened('lexical', createLabelEmbedder({ kind: 'lexical' }));
        if (!options.quiet) log(`treesynth: labels come from static extraction only: merged by spelling (lexical, similarity ${lexical.similarity}); --embeddings minilm merges them by meaning`);
        return lexical;
      }
      try {
        return opened('minilm', await MiniLmEmbedder.open({ dir: modelDir }));
      } catch (error) {
        const fallback = opened('lexical', createLabelEmbedder({ kind: 'lexical' }));
        if (!options.quiet) log(`treesynth: labels merge by spelling, not meaning (lexical embeddings, similarity ${fallback.similarity}): ${(error as Error).message.split('\n')[0]}`);
        return fallback;
      }
    default:
      throw new UsageError(`unknown --embeddings ${JSON.stringify(options.embeddings satisfies never)}`);
  }
}
