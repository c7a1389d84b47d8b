// One LLM client for every stage that needs a model: structured JSON answers from any
// OpenAI-compatible endpoint, with the response cache, adaptive concurrency, retries, a run
// budget and an error-rate breaker around each call.
//
// A call goes: cache → (run still going?) → limiter slot → budget slot → request (with a
// deadline on the whole answer, body included) → answer check → at most one repair → cache
// write → result. Problems with an answer (empty, cut off,
// not JSON, off-schema, refused) and with one record (too long, refused by the server, retries
// spent) come back as `{ ok: false, reason }` for the stage to dead-letter; only conditions that
// stop the whole run throw (LlmConfigError, LlmUnavailableError, BudgetExhaustedError,
// BreakerOpenError), each with a one-line message without the key.
import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { CachedResponse } from './response-cache.js';
import { canonicalJson, canonicalJsonWith, hashCanonical } from './response-cache.js';
import { AdaptiveLimiter, type AdaptiveConcurrencyOptions } from './adaptive-concurrency.js';
import { LlmRunGuard } from './budget.js';
import { DEFAULT_MAX_TIMEOUT_RETRIES, checkLlmConfig, type LlmClientConfig } from './config.js';
import { createHttpFetch } from './http-fetch.js';
import { LlmConfigError, LlmUnavailableError, endpointLabel, oneLine, redactSecret } from './errors.js';
import { DEFAULT_PROMPT_VERSION, makeProvenance, type Provenance } from './provenance.js';
import { backoffDelay, classifyError, configHint, faultLine, sleep, withDeadline, type Classified, type RetryTuning } from './retry.js';
import { listIds, servedModels } from './served-models.js';
import {
  SchemaValidator,
  checkAnswer,
  repairMessages,
  responseFormat,
  type AnswerCheck,
  type AnswerProblem,
  type ExtraValidation,
  type JsonSchemaSpec,
  type LlmMessage,
  type RawAnswer,
} from './structured.js';
import { UsageMeter, type StageUsage, type TokenUsage } from './usage.js';

/** Why a call produced no value. The stage turns it into a dead letter with this reason. */
export type LlmFailureReason =
  | AnswerProblem
  /** The prompt does not fit the model's context. */
  | 'too-long'
  /** The server refused this request (400/422) although the same schema worked before. */
  | 'rejected'
  /** 429, 5xx, timeouts or broken connections on every attempt. */
  | 'retries-exhausted';

export interface CompleteRequest<T> {
  messages: readonly LlmMessage[];
  schema: JsonSchemaSpec;
  /** Checks beyond the schema; problems found trigger the repair turn like schema errors do. */
  validate?: ExtraValidation<T>;
  /** Overrides the client's prompt version (provenance and cache key). */
  promptVersion?: string;
  /** `false` skips the cache for this call (neither read nor written). */
  cache?: boolean;
  /** Aborts the call; a request already sent is cancelled too. */
  signal?: AbortSignal;
}

interface CallInfo {
  /** Requests and tokens this call spent now (zero for a cache hit). */
  usage: TokenUsage;
  /** The model that answered, as the endpoint named it (else the configured one). */
  model: string;
  elapsedMs: number;
  stage: string;
  provenance: Provenance;
}

export interface LlmSuccess<T> extends CallInfo {
  ok: true;
  value: T;
  cached: boolean;
  /** For a cache hit: what the original call cost. */
  cachedUsage?: TokenUsage;
  /** The first answer was bad and the repair turn fixed it. */
  repaired: boolean;
}

export interface LlmFailure extends CallInfo {
  ok: false;
  reason: LlmFailureReason;
  /** One line for the dead letter. */
  detail: string;
  cached: false;
  /** The last answer's text (cut to a few KB), when there was one. */
  answer?: string;
}

export type LlmResult<T> = LlmSuccess<T> | LlmFailure;

/** What the client needs from a response cache (`stores/response-cache.ts` provides it). */
export interface ResponseCacheLike {
  get(key: string): Promise<CachedResponse | undefined>;
  put(entry: CachedResponse): Promise<void>;
}

/** Shared pieces; a factory passes the same ones to every stage's client. */
export interface LlmClientDeps {
  /** Default: a limiter of its own, `DEFAULT_CONCURRENCY`. Share one per endpoint. */
  limiter?: AdaptiveLimiter;
  /** Default: a guard of its own without limits, with the default breaker. */
  guard?: LlmRunGuard;
  meter?: UsageMeter;
  cache?: ResponseCacheLike;
  retry?: RetryTuning;
  /** For backoff jitter; tests may fix it. */
  random?: () => number;
  /** Separates two deployments that serve different weights under one model name, in one cache. */
  cacheNamespace?: string;
}

/** The CLI's default `--concurrency`; the limiter starts there. */
export const DEFAULT_CONCURRENCY: AdaptiveConcurrencyOptions = { max: 16 };

const MAX_ANSWER_CHARS = 4_000;

/** A 2xx answer that is not a chat completion (no `choices`), from a broken server or proxy. */
class MalformedCompletion extends Error {}

type Exchange =
  | { kind: 'answer'; answer: RawAnswer; model: string }
  | { kind: 'failed'; reason: Extract<LlmFailureReason, 'too-long' | 'rejected' | 'retries-exhausted'>; detail: string };

interface CallState {
  usage: TokenUsage;
  retries: number;
  repairs: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** Checks the completion at the edge: the SDK's types are a promise about the server, not a guarantee. */
function readCompletion(response: unknown): { answer: RawAnswer; model: string | undefined; promptTokens: number; completionTokens: number } {
  if (!isRecord(response) || !Array.isArray(response['choices'])) throw new MalformedCompletion('the response has no `choices` array');
  const choice: unknown = response['choices'][0];
  if (!isRecord(choice) || !isRecord(choice['message'])) throw new MalformedCompletion('the response has no `choices[0].message`');
  const message = choice['message'];
  const content = message['content'];
  const refusal = message['refusal'];
  const finish = choice['finish_reason'];
  const usage = isRecord(response['usage']) ? response['usage'] : {};
  return {
    answer: {
      content: typeof content === 'string' ? content : null,
      refusal: typeof refusal === 'string' && refusal !== '' ? refusal : null,
      finishReason: typeof finish === 'string' ? finish : null,
    },
    model: typeof response['model'] === 'string' && response['model'] !== '' ? response['model'] : undefined,
    promptTokens: count(usage['prompt_tokens']),
    completionTokens: count(usage['completion_tokens']),
  };
}

function cut(text: string | null | undefined): string | undefined {
  if (text === null || text === undefined) return undefined;
  return text.length > MAX_ANSWER_CHARS ? `${text.slice(0, MAX_ANSWER_CHARS)}…` : text;
}

export class LlmClient {
  readonly config: Readonly<LlmClientConfig>;
  readonly stage: string;
  readonly limiter: AdaptiveLimiter;
  readonly guard: LlmRunGuard;
  readonly meter: UsageMeter;
  private readonly openai: OpenAI;
  private readonly cache: ResponseCacheLike | undefined;
  private readonly retryTuning: RetryTuning;
  private readonly random: () => number;
  private readonly cacheNamespace: string | undefined;
  private readonly validator = new SchemaValidator();
  /** Canonical JSON of each schema's response_format, for cache keys: serialised once, not per request. */
  private readonly formatJson = new WeakMap<JsonSchemaSpec, string>();
  /** Schemas this endpoint has accepted (a 2xx): after that, a 400 is about one record, not the setup. */
  private readonly acceptedSchemas = new Set<string>();

  constructor(config: LlmClientConfig, deps: LlmClientDeps = {}) {
    checkLlmConfig(config);
    this.config = { ...config };
    this.stage = config.stage ?? 'default';
    this.limiter = deps.limiter ?? new AdaptiveLimiter(DEFAULT_CONCURRENCY);
    this.guard = deps.guard ?? new LlmRunGuard();
    this.meter = deps.meter ?? new UsageMeter();
    this.cache = deps.cache;
    this.retryTuning = deps.retry ?? {};
    this.random = deps.random ?? Math.random;
    this.cacheNamespace = deps.cacheNamespace;
    // Retries are ours (limiter, budget and accounting see every attempt), so the SDK's are off.
    // Its timeout only reaches the headers; `withDeadline` bounds the whole answer.
    this.openai = new OpenAI({ apiKey: config.apiKey, baseURL: config.baseURL, maxRetries: 0, timeout: config.timeoutMs, fetch: createHttpFetch() });
  }

  /** Provenance of this client's answers; `model` defaults to the configured one. */
  provenance(promptVersion?: string, model?: string): Provenance {
    return makeProvenance({ model: model ?? this.config.model, baseURL: this.config.baseURL, promptVersion: promptVersion ?? this.config.promptVersion, seed: this.config.seed });
  }

  /** Totals of this client's stage (from the shared meter). */
  usage(): StageUsage {
    return this.meter.stage(this.stage);
  }

  /**
   * Compiles answer schemas now (a run passes its stages' schemas when it opens the client): one
   * that does not compile throws LlmConfigError before any request, and the first answers do not
   * wait for the compiler.
   */
  prepare(schemas: readonly JsonSchemaSpec[]): void {
    for (const schema of schemas) this.validator.prepare(schema);
  }

  /** The cache key of a request, as `complete` computes it. */
  cacheKey(request: Pick<CompleteRequest<unknown>, 'messages' | 'schema' | 'promptVersion'>): string {
    let format = this.formatJson.get(request.schema);
    if (format === undefined) {
      format = canonicalJson(responseFormat(request.schema));
      this.formatJson.set(request.schema, format);
    }
    // The same key as responseCacheKey over all of these with responseFormat(request.schema).
    return hashCanonical(canonicalJsonWith({
      v: 1,
      namespace: this.cacheNamespace,
      model: this.config.model,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      temperature: this.config.temperature,
      seed: this.config.seed,
      maxTokens: this.config.maxTokens,
      maxTokensParam: this.config.maxTokens !== undefined ? (this.config.maxTokensParam ?? 'max_tokens') : undefined,
      promptVersion: request.promptVersion ?? this.config.promptVersion ?? DEFAULT_PROMPT_VERSION,
    }, { responseFormat: format }));
  }

  /**
   * Asks for a JSON answer that conforms to `schema`, checks it, repairs it once if needed.
   * Resolves with the value or a typed failure; throws only LlmError subclasses that stop the
   * run, or the abort reason when `signal` aborts. A call already under way when the run stops
   * finishes the request it has on the wire, but a retry or repair it would still need throws
   * the stop error (the record is then neither done nor dead: a resumed run does it again).
   * Every call that yields no value, typed failure or LlmUnavailableError, counts against the
   * breaker; configuration errors, stops and aborts do not.
   */
  async complete<T>(request: CompleteRequest<T>): Promise<LlmResult<T>> {
    const started = performance.now();
    if (request.messages.length === 0) throw new Error('LlmClient.complete: messages must not be empty');
    this.validator.prepare(request.schema);
    const promptVersion = request.promptVersion ?? this.config.promptVersion ?? DEFAULT_PROMPT_VERSION;
    const key = this.cache && request.cache !== false ? this.cacheKey(request) : undefined;
    const elapsed = (): number => Math.round(performance.now() - started);

    // The cache comes before the run guard: a hit costs nothing, so it is served even after a stop.
    if (key !== undefined) {
      const hit = await this.cache!.get(key);
      if (hit) {
        // Re-checked: the file may be old or edited, and `validate` may have become stricter.
        const check = this.recheck(hit.value, request);
        if (check.ok) {
          const usage = { promptTokens: 0, completionTokens: 0, requests: 0 };
          this.meter.record(this.stage, { outcome: 'ok', cacheHit: true, usage, cachedUsage: hit.usage, retries: 0, repairs: 0 });
          return {
            ok: true,
            value: check.value as T,
            usage,
            cachedUsage: { ...hit.usage },
            cached: true,
            repaired: false,
            model: hit.model,
            elapsedMs: elapsed(),
            stage: this.stage,
            provenance: this.provenance(promptVersion, hit.model),
          };
        }
      }
    }

    const state: CallState = { usage: { promptTokens: 0, completionTokens: 0, requests: 0 }, retries: 0, repairs: 0 };
    let model = this.config.model;
    const fail = (reason: LlmFailureReason, detail: string, answer?: string | null): LlmFailure => {
      this.guard.recordCall(false);
      this.meter.record(this.stage, { outcome: 'failed', cacheHit: false, usage: state.usage, retries: state.retries, repairs: state.repairs, failureReason: reason });
      const failure: LlmFailure = {
        ok: false,
        reason,
        detail: oneLine(redactSecret(detail, this.config.apiKey), 500),
        cached: false,
        usage: { ...state.usage },
        model,
        elapsedMs: elapsed(),
        stage: this.stage,
        provenance: this.provenance(promptVersion, model),
      };
      const text = cut(answer);
      if (text !== undefined) failure.answer = text;
      return failure;
    };
    const succeed = async (value: unknown, repaired: boolean): Promise<LlmSuccess<T>> => {
      // On disk before the caller sees it: a kill after this point never pays for the answer again.
      if (key !== undefined) await this.cache!.put({ key, value, model, usage: { ...state.usage }, at: Date.now() });
      this.guard.recordCall(true);
      this.meter.record(this.stage, { outcome: 'ok', cacheHit: false, usage: state.usage, retries: state.retries, repairs: state.repairs });
      return {
        ok: true,
        value: value as T,
        usage: { ...state.usage },
        cached: false,
        repaired,
        model,
        elapsedMs: elapsed(),
        stage: this.stage,
        provenance: this.provenance(promptVersion, model),
      };
    };

    try {
      this.guard.assertRunning();
      const first = await this.exchange(request.messages, request, state);
      if (first.kind === 'failed') return fail(first.reason, first.detail);
      model = first.model;
      const check = checkAnswer(first.answer, request.schema, this.validator, request.validate);
      if (check.ok) return await succeed(check.value, false);
      if (check.problem === 'refusal') return fail('refusal', check.errors.join('; '), first.answer.content);

      // Exactly one repair turn, quoting what was wrong.
      state.repairs = 1;
      const second = await this.exchange(repairMessages(request.messages, first.answer, check, request.schema), request, state);
      if (second.kind === 'failed') return fail(second.reason, `${second.detail} (during the repair of: ${check.errors.join('; ')})`, first.answer.content);
      model = second.model;
      const recheck = checkAnswer(second.answer, request.schema, this.validator, request.validate);
      if (recheck.ok) return await succeed(recheck.value, true);
      return fail(recheck.problem, `${recheck.errors.join('; ')} (after one repair; first answer: ${check.problem}: ${check.errors[0] ?? ''})`, second.answer.content);
    } catch (error) {
      if (error instanceof LlmUnavailableError) this.guard.recordCall(false);
      this.meter.record(this.stage, { outcome: 'error', cacheHit: false, usage: state.usage, retries: state.retries, repairs: state.repairs });
      throw error;
    }
  }

  private recheck<T>(value: unknown, request: CompleteRequest<T>): AnswerCheck {
    const errors = this.validator.check(request.schema, value);
    if (errors.length > 0) return { ok: false, problem: 'off-schema', errors };
    const more = request.validate?.(value as T) ?? [];
    return more.length > 0 ? { ok: false, problem: 'off-schema', errors: more } : { ok: true, value };
  }

  /** One request/answer exchange with retries; every attempt passes the limiter and the budget. */
  private async exchange<T>(messages: readonly LlmMessage[], request: CompleteRequest<T>, state: CallState): Promise<Exchange> {
    const body: ChatCompletionCreateParamsNonStreaming = {
      model: this.config.model,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      response_format: responseFormat(request.schema),
      ...(this.config.temperature !== undefined ? { temperature: this.config.temperature } : {}),
      ...(this.config.seed !== undefined ? { seed: this.config.seed } : {}),
      ...(this.config.maxTokens !== undefined ? { [this.config.maxTokensParam ?? 'max_tokens']: this.config.maxTokens } : {}),
    };
    const signals = [request.signal, this.guard.stopSignal];
    const timeoutRetries = Math.min(this.config.maxRetries, this.config.maxTimeoutRetries ?? DEFAULT_MAX_TIMEOUT_RETRIES);
    let timeouts = 0;
    for (let attempt = 0; ; attempt++) {
      this.guard.assertRunning();
      const permit = await this.limiter.acquire(signals);
      try {
        this.guard.reserveRequest();
      } catch (error) {
        permit.release({ kind: 'neutral' });
        throw error;
      }
      state.usage.requests++;
      const sentAt = performance.now();
      let fault: Classified;
      try {
        // Only the caller's signal reaches the request: a run that stops lets requests on the wire finish.
        const response: unknown = await withDeadline(this.config.timeoutMs, request.signal, (signal) => this.openai.chat.completions.create(body, { signal }));
        const read = readCompletion(response);
        permit.release({ kind: 'success', latencyMs: performance.now() - sentAt, latencyKey: this.stage });
        this.acceptedSchemas.add(request.schema.name);
        state.usage.promptTokens += read.promptTokens;
        state.usage.completionTokens += read.completionTokens;
        this.guard.addTokens(read.promptTokens + read.completionTokens);
        return { kind: 'answer', answer: read.answer, model: read.model ?? this.config.model };
      } catch (error) {
        if (request.signal?.aborted) {
          // However the abort surfaced (before the headers or while reading the body).
          permit.release({ kind: 'neutral' });
          throw request.signal.reason;
        }
        try {
          fault =
            error instanceof MalformedCompletion
              ? { retry: true, kind: 'malformed-response', overload: false, retryAfterMs: undefined, status: undefined, message: `malformed response: ${error.message}` }
              : classifyError(error);
        } catch (unknown) {
          // Not an API fault (a bug): give the slot back before it surfaces.
          permit.release({ kind: 'neutral' });
          throw unknown;
        }
        // A server-named wait holds back every request to this endpoint, not only this one; it
        // starts before the slot is given back, so no queued request slips out in between.
        if (fault.retry && fault.retryAfterMs !== undefined) this.limiter.pause(backoffDelay(attempt, this.retryTuning, fault.retryAfterMs));
        permit.release(fault.retry && fault.overload ? { kind: 'overload' } : { kind: 'neutral' });
        if (!fault.retry) {
          if (fault.kind === 'aborted') throw request.signal?.aborted ? request.signal.reason : error;
          if (fault.kind === 'too-long') return { kind: 'failed', reason: 'too-long', detail: this.statusLine(fault, 'the prompt does not fit the model context') };
          if (fault.kind === 'rejected' && this.acceptedSchemas.has(request.schema.name)) {
            return { kind: 'failed', reason: 'rejected', detail: this.statusLine(fault, 'request rejected') };
          }
          throw new LlmConfigError(this.configMessage(fault), fault.status);
        }
      }
      if (fault.kind === 'timeout') timeouts++;
      if (attempt >= this.config.maxRetries || timeouts > timeoutRetries) {
        const tries = `${attempt + 1} attempt${attempt === 0 ? '' : 's'}`;
        if (fault.kind === 'unreachable') {
          throw new LlmUnavailableError(oneLine(`LLM endpoint ${endpointLabel(this.config.baseURL)} is unreachable: ${redactSecret(fault.message, this.config.apiKey)} after ${tries}`));
        }
        return { kind: 'failed', reason: 'retries-exhausted', detail: `${this.statusLine(fault, fault.kind)} after ${tries}` };
      }
      state.retries++;
      await sleep(backoffDelay(attempt, this.retryTuning, fault.retryAfterMs, this.random), signals);
    }
  }

  private where(): string {
    return `LLM${this.config.stage !== undefined ? ` (stage ${this.config.stage})` : ''} model "${this.config.model}" at ${endpointLabel(this.config.baseURL)}`;
  }

  private statusLine(fault: Classified, what: string): string {
    return faultLine(fault, what, this.config.apiKey);
  }

  private configMessage(fault: Classified): string {
    return oneLine(`${this.where()}: ${this.statusLine(fault, configHint(fault))}`, 400);
  }

  /**
   * Checks the endpoint before a run spends anything: reachable, key accepted, model served
   * (when the endpoint lists its models). Throws LlmConfigError / LlmUnavailableError; returns
   * the model ids it lists, or undefined when it has no model list.
   */
  async checkEndpoint(signal?: AbortSignal): Promise<string[] | undefined> {
    const ids = await servedModels(this.config, {
      where: this.where(), retry: this.retryTuning, random: this.random, openai: this.openai, ...(signal ? { signal } : {}),
    });
    const wanted = this.config.model;
    // Some servers list `models/x` or `org/x` for a model addressed as `x`, or the reverse.
    const served = ids === undefined || ids.length === 0 || ids.some((id) => id === wanted || id.endsWith(`/${wanted}`) || wanted.endsWith(`/${id}`));
    if (!served) throw new LlmConfigError(oneLine(`${this.where()}: unknown model; the endpoint serves: ${listIds(ids)}`, 400), 404);
    return ids;
  }
}
