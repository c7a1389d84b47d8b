// What to do about a failed request: retry it (and does it mean the server is overloaded?), or
// not (and why). The SDK's own retries are off, so this is the single place that decides;
// backoff is exponential with full jitter, and a server's `retry-after-ms` / `retry-after`
// wins when it names a reasonable wait.
import OpenAI from 'openai';
import { oneLine, redactSecret } from './errors.js';

/** A request that did not deliver its whole answer (headers and body) within its deadline. */
export class DeadlineExceeded extends Error {
  constructor(readonly ms: number) {
    super(`no complete answer within ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

/**
 * Runs `request` with a signal that aborts after `ms` (or when `outer` aborts). The SDK's own
 * timeout stops at the response headers; a server that sends them and then stalls the body
 * would hold the request forever. Aborting the signal cancels the body read too, so this bounds
 * the whole request; it then rejects with DeadlineExceeded.
 */
export async function withDeadline<T>(ms: number, outer: AbortSignal | undefined, request: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  // Made when it fires, not up front: an Error's stack costs more than the rest of this per request.
  let deadline: DeadlineExceeded | undefined;
  const timer = setTimeout(() => controller.abort((deadline = new DeadlineExceeded(ms))), ms);
  const onAbort = (): void => controller.abort(outer!.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener('abort', onAbort, { once: true });
  try {
    return await request(controller.signal);
  } catch (error) {
    // However the SDK or fetch wrapped the abort, a deadline that fired is the cause.
    if (deadline !== undefined && controller.signal.reason === deadline) throw deadline;
    throw error;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}

export interface RetryTuning {
  /** First backoff ceiling, ms; doubles per attempt. Default 500. */
  baseDelayMs?: number;
  /** Backoff ceiling, ms. Default 30 000. */
  maxDelayMs?: number;
  /** A server-requested wait longer than this is capped to it, ms. Default 60 000. */
  maxRetryAfterMs?: number;
}

/** Faults worth another attempt. */
export type TransientKind = 'rate-limit' | 'server' | 'timeout' | 'connection' | 'unreachable' | 'malformed-response';

/** Faults no retry will fix. */
export type PermanentKind =
  /** 401/403/404, no quota, other 4xx: the run's configuration is wrong. */
  | 'config'
  /** 400/422: this request was refused; configuration or this record, the client decides. */
  | 'rejected'
  /** The prompt is over the model's context (400 context_length_exceeded, 413). */
  | 'too-long'
  /** The caller aborted. */
  | 'aborted';

export type Classified =
  | {
      readonly retry: true;
      readonly kind: TransientKind;
      /** Tells the concurrency limiter to back off (429, 5xx, timeouts). */
      readonly overload: boolean;
      /** Server-requested wait, ms, when it sent one. */
      readonly retryAfterMs: number | undefined;
      readonly status: number | undefined;
      readonly message: string;
    }
  | {
      readonly retry: false;
      readonly kind: PermanentKind;
      readonly status: number | undefined;
      readonly code: string | undefined;
      readonly message: string;
    };

/** Error codes that mean nothing is listening at the address, or it cannot be found. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Every `code` found along an error's cause chain (and inside AggregateErrors, as dual-stack connects throw). */
export function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): void => {
    if (depth > 8 || typeof e !== 'object' || e === null || seen.has(e)) return;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    if (e instanceof AggregateError) for (const inner of e.errors) visit(inner, depth + 1);
    visit((e as { cause?: unknown }).cause, depth + 1);
  };
  visit(error, 0);
  return codes;
}

function header(headers: Headers | undefined, name: string): string | undefined {
  return headers?.get(name) ?? undefined;
}

/** The wait a server asked for, ms: `retry-after-ms`, else `retry-after` (seconds or an HTTP date). */
export function retryAfterMs(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const after = header(headers, 'retry-after');
  if (after !== undefined && after.trim() !== '') {
    const seconds = Number(after);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(after);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  return undefined;
}

const CONTEXT_LENGTH = /context[ _-]?length|maximum context|context window|too many tokens|prompt is too long|input is too long|maximum input length/i;

export function classifyError(error: unknown): Classified {
  if (error instanceof OpenAI.APIUserAbortError) {
    return { retry: false, kind: 'aborted', status: undefined, code: undefined, message: 'aborted' };
  }
  if (error instanceof DeadlineExceeded) {
    return { retry: true, kind: 'timeout', overload: true, retryAfterMs: undefined, status: undefined, message: `request timed out (${error.message})` };
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return { retry: true, kind: 'timeout', overload: true, retryAfterMs: undefined, status: undefined, message: 'request timed out' };
  }
  if (error instanceof OpenAI.APIConnectionError) {
    const codes = causeCodes(error);
    const unreachable = codes.find((c) => UNREACHABLE_CODES.has(c));
    const detail = unreachable ?? codes[0] ?? error.message;
    return {
      retry: true,
      kind: unreachable ? 'unreachable' : 'connection',
      overload: false,
      retryAfterMs: undefined,
      status: undefined,
      message: `connection failed (${detail})`,
    };
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status;
    const headers = error.headers instanceof Headers ? error.headers : undefined;
    const message = error.message.replace(/^\d{3}\s+/, '');
    const code = typeof error.code === 'string' ? error.code : undefined;
    const type = typeof error.type === 'string' ? error.type : undefined;
    // The server may say explicitly that a retry is pointless (OpenAI sends x-should-retry).
    const noRetry = header(headers, 'x-should-retry') === 'false';
    const permanent = (kind: PermanentKind): Classified => ({ retry: false, kind, status, code, message });
    const transient = (kind: TransientKind, overload: boolean): Classified =>
      noRetry ? permanent('rejected') : { retry: true, kind, overload, retryAfterMs: retryAfterMs(headers), status, message };
    if (status === undefined) return transient('server', true);
    if (status === 429) {
      // "You exceeded your current quota": a billing problem, not a rate; waiting will not help.
      if (code === 'insufficient_quota' || type === 'insufficient_quota') return permanent('config');
      return transient('rate-limit', true);
    }
    if (status === 408) return transient('timeout', true);
    if (status === 409) return transient('server', false);
    if (status >= 500) return transient('server', true);
    if (status === 413) return permanent('too-long');
    if (status === 400 || status === 422) {
      return permanent(code === 'context_length_exceeded' || CONTEXT_LENGTH.test(message) ? 'too-long' : 'rejected');
    }
    return permanent('config');
  }
  // The SDK parses the body itself; a 200 with a body that is not JSON surfaces as a SyntaxError.
  if (error instanceof SyntaxError) {
    return { retry: true, kind: 'malformed-response', overload: false, retryAfterMs: undefined, status: undefined, message: `malformed response body (${error.message})` };
  }
  throw error;
}

/** `HTTP <status> <what>: <server message>`, one line, without the key. */
export function faultLine(fault: Classified, what: string, secret: string | undefined): string {
  const status = fault.status !== undefined ? `HTTP ${fault.status} ` : '';
  return oneLine(`${status}${what}: ${redactSecret(fault.message, secret)}`);
}

/** What a permanent fault says about the run's configuration, in words a user can act on. */
export function configHint(fault: Classified): string {
  const code = fault.retry ? undefined : fault.code;
  return fault.status === 401 ? 'authentication failed: check the API key (OPENAI_API_KEY)'
    : fault.status === 403 ? 'permission denied: the key has no access to this model or endpoint'
    : fault.status === 404 ? 'not found: unknown model, or a wrong base URL (it usually ends in /v1)'
    : fault.status === 429 || code === 'insufficient_quota' ? 'quota exhausted: check the account billing'
    : fault.status === 400 || fault.status === 422 ? 'request rejected before any request succeeded: check the model and the JSON schema'
    : 'request rejected';
}

/**
 * Wait before retry number `attempt` (0 for the first retry): the server's wait when it named
 * one (capped), else full jitter, a uniform draw in [0, min(maxDelay, base·2^attempt)] — full
 * jitter spreads a crowd of clients that failed together instead of having them retry in step.
 */
export function backoffDelay(attempt: number, tuning: RetryTuning, serverWaitMs: number | undefined, random: () => number = Math.random): number {
  const maxRetryAfter = tuning.maxRetryAfterMs ?? 60_000;
  if (serverWaitMs !== undefined) return Math.min(Math.max(0, serverWaitMs), maxRetryAfter);
  const base = tuning.baseDelayMs ?? 500;
  const cap = tuning.maxDelayMs ?? 30_000;
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Sleeps `ms`; rejects with the abort reason as soon as any signal aborts. Listeners are removed
 * afterwards, so long-lived signals (the run's stop signal) do not collect them.
 */
export function sleep(ms: number, signals: readonly (AbortSignal | undefined)[] = []): Promise<void> {
  for (const s of signals) if (s?.aborted) return Promise.reject(s.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      for (const s of signals) s?.removeEventListener('abort', onAbort);
    };
    const onAbort = (event: Event): void => {
      cleanup();
      reject((event.target as AbortSignal).reason);
    };
    const timer = setTimeout(() => {
      cleanup();
      resolve();
    }, ms);
    for (const s of signals) s?.addEventListener('abort', onAbort, { once: true });
  });
}
