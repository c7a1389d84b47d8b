// What local mode and Kafka mode share when they start: the LLM clients of the stages they run
// (checked before anything is paid for), the sandbox of the validate stage, the benchmark index
// of decontamination, and the embedders.
import { resolve } from 'node:path';
import { CachedEmbedder, createCodeEmbedder, createLabelEmbedder } from '../embeddings/index.js';
import type { Embedder } from '../embeddings/embedder.js';
import { LlmClientFactory, type LlmClient, type LlmSettings } from '../llm/index.js';
import { loadBenchmarkIndex, type DecontaminateConfig } from '../quality/contamination.js';
import type { StructuredModel } from '../llm/model.js';
import { createValidateConfig, type ValidateConfig } from '../processors/validate.js';
import { ResponseCache } from '../llm/response-cache.js';
import type { LlmStage } from '../topology/settings.js';
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
export async function openLlm(settings: LlmCliSettings, wanted: readonly string[]): Promise<OpenedLlm | null> {
  const defaults: LlmSettings = { timeoutMs: settings.llmTimeout, maxRetries: settings.llmRetries };
  if (settings.seed !== undefined) defaults.seed = settings.seed;
  if (settings.temperature !== undefined) defaults.temperature = settings.temperature;
  if (settings.llmBaseUrl) defaults.baseURL = settings.llmBaseUrl;
  if (settings.model) defaults.model = settings.model;
  const stages: Record<string, LlmSettings> = {};
  for (const [stage, model] of Object.entries(settings.stageModels ?? {})) if (model) stages[stage] = { model };
  if (!wanted.some((s) => new LlmClientFactory({ defaults, stages }).configured(s))) return null;
  const cache = settings.cache === false ? undefined : await ResponseCache.open(resolve(settings.cache));
  const budget: { maxRequests?: number; maxTotalTokens?: number } = {};
  if (settings.maxRequests !== undefined) budget.maxRequests = settings.maxRequests;
  if (settings.maxTokens !== undefined) budget.maxTotalTokens = settings.maxTokens;
  const factory = new LlmClientFactory({
    defaults, stages, guard: { budget }, concurrency: { initial: Math.min(4, settings.concurrency), min: 1, max: Math.max(1, settings.concurrency) },
    ...(cache ? { cache } : {}),
  });
  try {
    const clients: Record<string, LlmClient> = {};
    const checked = new Set<string>();
    for (const stage of wanted) {
      const client = factory.forStage(stage);
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
  const opened = await openLlm({ ...options, stageModels: { extract: options.extractModel, evolve: options.evolveModel, generate: options.generateModel } }, wanted);
  if (!opened) return { models: {}, debugModel: null, configured: false, endpoint: undefined, usage: () => ({}), close: async () => {} };
  const { factory, clients } = opened;
  const models: Partial<Record<LlmStage, StructuredModel>> = {};
  for (const stage of wanted) models[stage] = clients[stage];
  return {
    models,
    debugModel: models.generate ? factory.forStage('validate') : null,
    configured: true,
    endpoint: factory.forStage(wanted[0]!).provenance().endpointHost,
    usage: () => ({ byStage: factory.usageByStage(), budget: factory.guard.budget.snapshot() }),
    close: opened.close,
  };
}

/**
 * The sandbox for generated samples: only when a model writes samples (otherwise there is
 * nothing to run). No bubblewrap here is one clear line with the way out.
 */
export async function openValidation(options: RunOptions, llm: LlmClients): Promise<ValidateConfig | undefined> {
  if (!options.validate || !llm.models.generate) return undefined;
  try {
    return await createValidateConfig({ timeoutMs: options.sandboxTimeout, memoryMb: options.sandboxMemory, turns: options.turns }, llm.debugModel);
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (or run with --no-validate to keep samples unvalidated)`);
  }
}

export async function openDecontamination(options: RunOptions): Promise<DecontaminateConfig | undefined> {
  if (!options.benchmark?.length) return undefined;
  const index = await loadBenchmarkIndex(options.benchmark, { n: options.ngram }).catch((error: Error) => {
    throw new UsageError(`--benchmark: ${error.message.split('\n')[0]}`);
  });
  return { index, minMatches: 1 };
}

/** The run's embedders; label vectors are cached, since most label occurrences repeat a spelling. */
export function openEmbedders(options: RunOptions): { labels: Embedder; files: Embedder } {
  if (options.embeddings === 'lexical') return { labels: new CachedEmbedder(createLabelEmbedder({ kind: 'lexical' })), files: createCodeEmbedder({ kind: 'lexical' }) };
  if (!options.embeddingModel) throw new UsageError('--embeddings openai needs --embedding-model (e.g. text-embedding-3-small)');
  const remote = { kind: 'openai' as const, model: options.embeddingModel, ...(options.embeddingsUrl ? { baseURL: options.embeddingsUrl } : {}) };
  // Whole files are embedded lexically even then: near-duplicate checks need no model.
  return { labels: new CachedEmbedder(createLabelEmbedder(remote)), files: createCodeEmbedder({ kind: 'lexical' }) };
}
