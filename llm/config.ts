// Where a stage's endpoint, key and model come from. The most specific setting wins: a flag for
// this stage, then TREESYNTH_<STAGE>_* in the environment, then a flag for all stages, then the
// generic environment (OPENAI_BASE_URL, OPENAI_API_KEY, TREESYNTH_MODEL), then built-in defaults.
// So one endpoint can serve every stage, and one stage can still be pointed elsewhere.
import { LlmConfigError } from './errors.js';

export interface LlmClientConfig {
  /** OpenAI-compatible base URL, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`. */
  baseURL: string;
  apiKey: string;
  model: string;
  /** Stage name, for accounting and messages (e.g. `extract`, `evolve`, `generate`). */
  stage?: string;
  /** Deadline of one request, headers and body, ms. */
  timeoutMs: number;
  /** Retries after the first attempt, for 429, 5xx, timeouts and connection errors. */
  maxRetries: number;
  /**
   * Of those, at most this many after a timeout (default `DEFAULT_MAX_TIMEOUT_RETRIES`): an
   * endpoint that went silent costs (1 + this) deadlines per request, not (1 + maxRetries).
   */
  maxTimeoutRetries?: number;
  temperature?: number;
  seed?: number;
  /** Output token limit per request. */
  maxTokens?: number;
  /** Most hosted APIs take `max_tokens`; OpenAI reasoning models need `max_completion_tokens`. Default `max_tokens`. */
  maxTokensParam?: 'max_tokens' | 'max_completion_tokens';
  /** Default prompt version for provenance and the cache key; a call may override it. */
  promptVersion?: string;
}

export type LlmSettings = Partial<LlmClientConfig>;

export interface ResolveLlmConfigOptions {
  /** Settings for every stage (e.g. from CLI flags). */
  defaults?: LlmSettings;
  /** Settings for one stage, by stage name. */
  stages?: Readonly<Record<string, LlmSettings>>;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/**
 * Deadline of one request. Long enough for a few thousand tokens from a hosted model or a
 * batching server; with DEFAULT_MAX_TIMEOUT_RETRIES a silent endpoint costs 3 minutes per
 * request (it was 18: 180 s × 6 attempts, and a stalled body was not bounded at all).
 */
export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 5;
export const DEFAULT_MAX_TIMEOUT_RETRIES = 2;

/** `TREESYNTH_<STAGE>_<WHAT>`: the stage upper-cased, anything but letters and digits as `_`. */
export function stageEnvName(stage: string, what: 'MODEL' | 'BASE_URL' | 'API_KEY'): string {
  return `TREESYNTH_${stage.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_${what}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

function first<T>(...values: (T | undefined)[]): T | undefined {
  for (const v of values) if (v !== undefined) return v;
  return undefined;
}

/** True when some endpoint is configured for `stage` (a base URL or a key); says nothing about whether it works. */
export function llmEndpointConfigured(stage: string | undefined, options: ResolveLlmConfigOptions = {}): boolean {
  const env = options.env ?? process.env;
  const own = stage !== undefined ? options.stages?.[stage] : undefined;
  return (
    first(
      nonEmpty(own?.baseURL),
      nonEmpty(own?.apiKey),
      stage !== undefined ? nonEmpty(env[stageEnvName(stage, 'BASE_URL')]) : undefined,
      stage !== undefined ? nonEmpty(env[stageEnvName(stage, 'API_KEY')]) : undefined,
      nonEmpty(options.defaults?.baseURL),
      nonEmpty(options.defaults?.apiKey),
      nonEmpty(env['OPENAI_BASE_URL']),
      nonEmpty(env['OPENAI_API_KEY']),
    ) !== undefined
  );
}

/**
 * The full configuration of one stage's client. Throws LlmConfigError (one line, no key) when
 * no endpoint or no model is configured, or a value is out of range.
 */
export function resolveLlmConfig(stage: string | undefined, options: ResolveLlmConfigOptions = {}): LlmClientConfig {
  const { model, ...endpoint } = resolveLlmEndpoint(stage, options);
  if (model === undefined) {
    const env = stage !== undefined ? `TREESYNTH_MODEL or ${stageEnvName(stage, 'MODEL')}` : 'TREESYNTH_MODEL';
    throw new LlmConfigError(`no model configured for ${stage !== undefined ? `stage "${stage}"` : 'the LLM'}: set ${env}`);
  }
  const config: LlmClientConfig = { ...endpoint, model };
  checkLlmConfig(config);
  return config;
}

/**
 * A stage's configuration as far as it is given: `model` is undefined when none is configured
 * (the endpoint may name it: see `servedModels`). Throws LlmConfigError when no endpoint is
 * configured or its URL is not one.
 */
export function resolveLlmEndpoint(stage: string | undefined, options: ResolveLlmConfigOptions = {}): Omit<LlmClientConfig, 'model'> & { model: string | undefined } {
  const env = options.env ?? process.env;
  const own: LlmSettings = (stage !== undefined ? options.stages?.[stage] : undefined) ?? {};
  const all: LlmSettings = options.defaults ?? {};
  const stageEnv = (what: 'MODEL' | 'BASE_URL' | 'API_KEY'): string | undefined => (stage !== undefined ? nonEmpty(env[stageEnvName(stage, what)]) : undefined);
  const label = stage !== undefined ? `stage "${stage}"` : 'the LLM';

  const apiKey = first(nonEmpty(own.apiKey), stageEnv('API_KEY'), nonEmpty(all.apiKey), nonEmpty(env['OPENAI_API_KEY']));
  let baseURL = first(nonEmpty(own.baseURL), stageEnv('BASE_URL'), nonEmpty(all.baseURL), nonEmpty(env['OPENAI_BASE_URL']));
  if (baseURL === undefined) {
    if (apiKey === undefined) {
      throw new LlmConfigError(`no LLM endpoint configured for ${label}: set OPENAI_BASE_URL (and OPENAI_API_KEY if it needs one)`);
    }
    baseURL = OPENAI_DEFAULT_BASE_URL;
  }
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    throw new LlmConfigError(`LLM base URL for ${label} is not a URL (expected e.g. http://127.0.0.1:8000/v1)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LlmConfigError(`LLM base URL for ${label} must be http or https, got ${url.protocol}`);
  }
  const model = first(nonEmpty(own.model), stageEnv('MODEL'), nonEmpty(all.model), nonEmpty(env['TREESYNTH_MODEL']));
  const pick = <K extends keyof LlmClientConfig>(key: K): LlmClientConfig[K] | undefined => first(own[key], all[key]);
  const config: Omit<LlmClientConfig, 'model'> & { model: string | undefined } = {
    baseURL,
    // Local servers often need no key, but the openai client insists on one.
    apiKey: apiKey ?? 'no-key',
    model,
    timeoutMs: pick('timeoutMs') ?? DEFAULT_TIMEOUT_MS,
    maxRetries: pick('maxRetries') ?? DEFAULT_MAX_RETRIES,
  };
  if (stage !== undefined) config.stage = stage;
  const temperature = pick('temperature');
  const seed = pick('seed');
  const maxTokens = pick('maxTokens');
  const maxTokensParam = pick('maxTokensParam');
  const promptVersion = pick('promptVersion');
  if (temperature !== undefined) config.temperature = temperature;
  if (seed !== undefined) config.seed = seed;
  if (maxTokens !== undefined) config.maxTokens = maxTokens;
  if (maxTokensParam !== undefined) config.maxTokensParam = maxTokensParam;
  if (promptVersion !== undefined) config.promptVersion = promptVersion;
  const maxTimeoutRetries = pick('maxTimeoutRetries');
  if (maxTimeoutRetries !== undefined) config.maxTimeoutRetries = maxTimeoutRetries;
  checkSettings(config);
  return config;
}

/** Throws LlmConfigError for values the endpoint or the SDK would reject later, less clearly. */
export function checkLlmConfig(config: LlmClientConfig): void {
  if (!config.model) settingError(config, 'model is empty');
  checkSettings(config);
}

function settingError(config: { stage?: string }, what: string): never {
  throw new LlmConfigError(`invalid LLM setting${config.stage !== undefined ? ` (stage "${config.stage}")` : ''}: ${what}`);
}

/** The checks of `checkLlmConfig` but the model's, which may still be unknown. */
function checkSettings(config: Omit<LlmClientConfig, 'model'>): void {
  const fail = (what: string): never => settingError(config, what);
  try {
    new URL(config.baseURL);
  } catch {
    fail('baseURL is not a URL');
  }
  if (!Number.isInteger(config.timeoutMs) || config.timeoutMs <= 0) fail(`timeoutMs must be a positive integer, got ${config.timeoutMs}`);
  if (!Number.isInteger(config.maxRetries) || config.maxRetries < 0) fail(`maxRetries must be a non-negative integer, got ${config.maxRetries}`);
  if (config.maxTimeoutRetries !== undefined && (!Number.isInteger(config.maxTimeoutRetries) || config.maxTimeoutRetries < 0)) {
    fail(`maxTimeoutRetries must be a non-negative integer, got ${config.maxTimeoutRetries}`);
  }
  if (config.temperature !== undefined && !(Number.isFinite(config.temperature) && config.temperature >= 0 && config.temperature <= 2)) {
    fail(`temperature must be in [0, 2], got ${config.temperature}`);
  }
  if (config.seed !== undefined && !Number.isSafeInteger(config.seed)) fail(`seed must be an integer, got ${config.seed}`);
  if (config.maxTokens !== undefined && (!Number.isInteger(config.maxTokens) || config.maxTokens <= 0)) fail(`maxTokens must be a positive integer, got ${config.maxTokens}`);
}
