// What local mode and Kafka mode share when they start: the LLM clients of the stages they run
// (checked before anything is paid for), the sandbox of the validate stage, the benchmark index
// of decontamination, and the embedders.
import { resolve } from 'node:path';
import { createCodeEmbedder, createLabelEmbedder } from '../embeddings/index.js';
import type { Embedder } from '../embeddings/embedder.js';
import { LlmClientFactory, type LlmSettings } from '../llm/index.js';
import { loadBenchmarkIndex, type DecontaminateConfig } from '../processors/decontaminate.js';
import type { StructuredModel } from '../processors/model.js';
import { createValidateConfig, type ValidateConfig } from '../processors/validate-samples.js';
import { ResponseCache } from '../stores/response-cache.js';
import type { LlmStage } from '../topology/run-local.js';
import { UsageError } from './errors.js';
import type { RunOptions } from './main.js';

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

/**
 * Clients for the `wanted` stages when an endpoint is configured for any of them, each
 * endpoint checked once (a wrong key, an unknown model, an endpoint that is down: one line).
 */
export async function openLlmClients(options: RunOptions, wanted: readonly LlmStage[]): Promise<LlmClients> {
  const defaults: LlmSettings = { timeoutMs: options.llmTimeout, maxRetries: options.llmRetries, seed: options.seed };
  if (options.llmBaseUrl) defaults.baseURL = options.llmBaseUrl;
  if (options.model) defaults.model = options.model;
  const stageModels: Record<string, LlmSettings> = {};
  if (options.extractModel) stageModels['extract'] = { model: options.extractModel };
  if (options.evolveModel) stageModels['evolve'] = { model: options.evolveModel };
  if (options.generateModel) stageModels['generate'] = { model: options.generateModel };
  if (!wanted.some((s) => new LlmClientFactory({ defaults, stages: stageModels }).configured(s))) {
    return { models: {}, debugModel: null, configured: false, endpoint: undefined, usage: () => ({}), close: async () => {} };
  }
  const cache = options.cache === false ? undefined : await ResponseCache.open(resolve(options.cache));
  const budget: { maxRequests?: number; maxTotalTokens?: number } = {};
  if (options.maxRequests !== undefined) budget.maxRequests = options.maxRequests;
  if (options.maxTokens !== undefined) budget.maxTotalTokens = options.maxTokens;
  const factory = new LlmClientFactory({
    defaults, stages: stageModels, guard: { budget }, concurrency: { initial: Math.min(4, options.concurrency), min: 1, max: options.concurrency },
    ...(cache ? { cache } : {}),
  });
  try {
    const models: Partial<Record<LlmStage, StructuredModel>> = {};
    const checked = new Set<string>();
    for (const stage of wanted) {
      const client = factory.forStage(stage);
      const key = `${client.config.baseURL}\u0000${client.config.model}`;
      if (!checked.has(key)) {
        await client.checkEndpoint();
        checked.add(key);
      }
      models[stage] = client;
    }
    return {
      models,
      debugModel: models.generate ? factory.forStage('validate') : null,
      configured: true,
      endpoint: factory.forStage(wanted[0]!).provenance().endpointHost,
      usage: () => ({ byStage: factory.usageByStage(), budget: factory.guard.budget.snapshot() }),
      close: async () => {
        await cache?.close();
      },
    };
  } catch (error) {
    await cache?.close();
    throw error;
  }
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

export function openEmbedders(options: RunOptions): { labels: Embedder; files: Embedder } {
  if (options.embeddings === 'lexical') return { labels: createLabelEmbedder({ kind: 'lexical' }), files: createCodeEmbedder({ kind: 'lexical' }) };
  if (!options.embeddingModel) throw new UsageError('--embeddings openai needs --embedding-model (e.g. text-embedding-3-small)');
  const remote = { kind: 'openai' as const, model: options.embeddingModel, ...(options.embeddingsUrl ? { baseURL: options.embeddingsUrl } : {}) };
  // Whole files are embedded lexically even then: near-duplicate checks need no model.
  return { labels: createLabelEmbedder(remote), files: createCodeEmbedder({ kind: 'lexical' }) };
}
