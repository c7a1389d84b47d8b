// What an endpoint serves (`GET /models`), asked before a run spends anything: to check the
// configured model, or to choose one when none is configured. OpenAI-compatible servers that
// run one model (vLLM, llama.cpp, a local SmolLM) list exactly that one, so naming it again
// on the command line is a chore; when an endpoint serves several, only the user can choose.
import OpenAI from 'openai';
import { LlmConfigError, LlmError, LlmUnavailableError, endpointLabel, oneLine, redactSecret } from './errors.js';
import { createHttpFetch } from './http-fetch.js';
import { backoffDelay, classifyError, configHint, faultLine, sleep, withDeadline, type Classified, type RetryTuning } from './retry.js';

export interface EndpointAccess {
  baseURL: string;
  apiKey: string;
  /** Deadline of one request, headers and body, ms. */
  timeoutMs: number;
  maxRetries: number;
}

export interface ServedModelsOptions {
  /** Starts the messages of configuration errors, e.g. `LLM (stage extract) model "m" at host`. */
  where?: string;
  retry?: RetryTuning;
  random?: () => number;
  signal?: AbortSignal;
  /** A client to reuse; default one of its own, without SDK retries. */
  openai?: OpenAI;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The model ids the endpoint lists, or undefined when it has no model list (some proxies answer
 * 404/405). Retries transient faults; throws LlmConfigError (wrong key, ...) or
 * LlmUnavailableError (down, not answering), one line without the key.
 */
export async function servedModels(endpoint: EndpointAccess, options: ServedModelsOptions = {}): Promise<string[] | undefined> {
  const openai = options.openai ?? new OpenAI({ apiKey: endpoint.apiKey, baseURL: endpoint.baseURL, maxRetries: 0, timeout: endpoint.timeoutMs, fetch: createHttpFetch() });
  const label = endpointLabel(endpoint.baseURL);
  const where = options.where ?? `LLM endpoint ${label}`;
  for (let attempt = 0; ; attempt++) {
    let fault: Classified;
    try {
      const page = await withDeadline(endpoint.timeoutMs, options.signal, (signal) => openai.models.list({ signal }));
      const ids: string[] = [];
      for (const m of page.data as unknown[]) if (isRecord(m) && typeof m['id'] === 'string' && m['id'] !== '') ids.push(m['id']);
      return ids;
    } catch (error) {
      if (error instanceof LlmError) throw error;
      if (options.signal?.aborted) throw options.signal.reason;
      fault = classifyError(error);
      if (!fault.retry) {
        if (fault.kind === 'aborted') throw error;
        if (fault.status === 404 || fault.status === 405) return undefined;
        throw new LlmConfigError(oneLine(`${where}: ${faultLine(fault, configHint(fault), endpoint.apiKey)}`, 400), fault.status);
      }
    }
    if (attempt >= endpoint.maxRetries) {
      if (fault.kind === 'unreachable') {
        throw new LlmUnavailableError(oneLine(`LLM endpoint ${label} is unreachable: ${redactSecret(fault.message, endpoint.apiKey)}`));
      }
      throw new LlmUnavailableError(oneLine(`LLM endpoint ${label} is not answering: ${faultLine(fault, fault.kind, endpoint.apiKey)}`));
    }
    await sleep(backoffDelay(attempt, options.retry ?? {}, fault.retryAfterMs, options.random), [options.signal]);
  }
}

/** A few ids for a one-line message. */
export function listIds(ids: readonly string[], most = 8): string {
  return ids.slice(0, most).join(', ') + (ids.length > most ? `, … (${ids.length} in all)` : '');
}

/**
 * The model to use when none is configured: the endpoint's only one. Several, none, or no model
 * list is one LlmConfigError that says what to set (and, for several, what there is to pick).
 */
export function onlyServedModel(ids: readonly string[] | undefined, baseURL: string, what: string): string {
  const at = endpointLabel(baseURL);
  const set = `set --model or ${what}`;
  if (ids === undefined) throw new LlmConfigError(`no model configured, and ${at} has no model list (GET /models): ${set}`);
  const distinct = [...new Set(ids)];
  if (distinct.length === 1) return distinct[0]!;
  if (distinct.length === 0) throw new LlmConfigError(`no model configured, and ${at} lists no model (GET /models is empty): ${set}`);
  throw new LlmConfigError(oneLine(`no model configured, and ${at} serves ${distinct.length} models: ${listIds(distinct)}; ${set} to one of them`, 600));
}
