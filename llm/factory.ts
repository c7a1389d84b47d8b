// One run's LLM clients, one per stage, built from flags and the environment, sharing what
// must be shared: the budget and breaker (per run), the usage meter (per run, split by stage),
// the response cache, and one concurrency limiter per endpoint (stages that use the same
// server compete for the same capacity; stages on different servers do not). A stage with an
// endpoint but no model takes the endpoint's only model (`discoverModels`).
import { AdaptiveLimiter, type AdaptiveConcurrencyOptions } from './adaptive-concurrency.js';
import { LlmRunGuard, type RunGuardOptions } from './budget.js';
import { DEFAULT_CONCURRENCY, LlmClient, type ResponseCacheLike } from './client.js';
import { llmEndpointConfigured, resolveLlmConfig, resolveLlmEndpoint, stageEnvName, type ResolveLlmConfigOptions } from './config.js';
import { endpointLabel } from './errors.js';
import type { RetryTuning } from './retry.js';
import { onlyServedModel, servedModels } from './served-models.js';
import { UsageMeter, type StageUsage } from './usage.js';

export interface LlmClientFactoryOptions extends ResolveLlmConfigOptions {
  /** Limits for each endpoint's limiter. Default `DEFAULT_CONCURRENCY`. */
  concurrency?: AdaptiveConcurrencyOptions;
  /** The run's guard, or options for a new one. */
  guard?: LlmRunGuard | RunGuardOptions;
  meter?: UsageMeter;
  cache?: ResponseCacheLike;
  retry?: RetryTuning;
  random?: () => number;
  cacheNamespace?: string;
}

/** A model taken because the endpoint serves only that one. */
export interface DiscoveredModel {
  stage: string;
  model: string;
  /** Base URL without credentials. */
  endpoint: string;
}

export class LlmClientFactory {
  readonly guard: LlmRunGuard;
  readonly meter: UsageMeter;
  private readonly options: LlmClientFactoryOptions;
  private readonly clients = new Map<string, LlmClient>();
  private readonly endpointLimiters = new Map<string, AdaptiveLimiter>();
  /** Models found by `discoverModels`, by stage. */
  private readonly discovered = new Map<string, string>();

  constructor(options: LlmClientFactoryOptions = {}) {
    this.options = options;
    this.guard = options.guard instanceof LlmRunGuard ? options.guard : new LlmRunGuard(options.guard);
    this.meter = options.meter ?? new UsageMeter();
  }

  /** Whether an endpoint is configured for `stage` (a base URL or a key, here or in the environment). */
  configured(stage: string): boolean {
    return llmEndpointConfigured(stage, this.options);
  }

  /**
   * For each of `stages` with an endpoint but no model configured, asks the endpoint what it
   * serves (once per endpoint) and takes its only model; `forStage` then uses it. Throws
   * LlmConfigError when an endpoint serves several models (naming them), none, or has no list.
   */
  async discoverModels(stages: readonly string[], signal?: AbortSignal): Promise<DiscoveredModel[]> {
    const found: DiscoveredModel[] = [];
    const listed = new Map<string, Promise<string[] | undefined>>();
    for (const stage of stages) {
      if (this.discovered.has(stage) || !this.configured(stage)) continue;
      const endpoint = resolveLlmEndpoint(stage, this.options);
      if (endpoint.model !== undefined) continue;
      const key = `${endpoint.baseURL}\u0000${endpoint.apiKey}`;
      let ids = listed.get(key);
      if (!ids) {
        ids = servedModels(endpoint, { ...(this.options.retry ? { retry: this.options.retry } : {}), ...(this.options.random ? { random: this.options.random } : {}), ...(signal ? { signal } : {}) });
        listed.set(key, ids);
      }
      const model = onlyServedModel(await ids, endpoint.baseURL, `TREESYNTH_MODEL (or ${stageEnvName(stage, 'MODEL')})`);
      this.discovered.set(stage, model);
      found.push({ stage, model, endpoint: endpointLabel(endpoint.baseURL) });
    }
    return found;
  }

  /** The client of `stage`, built once. Throws LlmConfigError when no endpoint or model is configured for it. */
  forStage(stage: string): LlmClient {
    let client = this.clients.get(stage);
    if (!client) {
      const model = this.discovered.get(stage);
      const config = resolveLlmConfig(stage, model === undefined ? this.options : { ...this.options, stages: { ...this.options.stages, [stage]: { ...this.options.stages?.[stage], model } } });
      client = new LlmClient(config, {
        limiter: this.limiterFor(config.baseURL),
        guard: this.guard,
        meter: this.meter,
        ...(this.options.cache ? { cache: this.options.cache } : {}),
        ...(this.options.retry ? { retry: this.options.retry } : {}),
        ...(this.options.random ? { random: this.options.random } : {}),
        ...(this.options.cacheNamespace !== undefined ? { cacheNamespace: this.options.cacheNamespace } : {}),
      });
      this.clients.set(stage, client);
    }
    return client;
  }

  /** The limiter of an endpoint (by URL without credentials), created on first use. */
  limiterFor(baseURL: string): AdaptiveLimiter {
    const key = endpointLabel(baseURL);
    let limiter = this.endpointLimiters.get(key);
    if (!limiter) {
      limiter = new AdaptiveLimiter(this.options.concurrency ?? DEFAULT_CONCURRENCY);
      this.endpointLimiters.set(key, limiter);
    }
    return limiter;
  }

  /** Limiters by endpoint, for metrics. */
  limiters(): ReadonlyMap<string, AdaptiveLimiter> {
    return this.endpointLimiters;
  }

  usageByStage(): Record<string, StageUsage> {
    return this.meter.byStage();
  }
}
