// The errors the LLM client throws. Only run-level conditions throw (a wrong key, an unknown
// model, an endpoint that cannot be reached, a spent budget, an open breaker); problems with
// one answer come back as typed failures so the calling stage can dead-letter the record.
// Every message is one line without the API key, so the CLI can print `error.message` and exit.

/** Base class, so callers can tell "stop the run" errors from their own bugs with one check. */
export abstract class LlmError extends Error {
  abstract readonly code: 'config' | 'unavailable' | 'budget' | 'breaker';
}

/**
 * The endpoint rejected the configuration: wrong key (401), no permission (403), unknown model
 * or wrong base URL (404), a request it will never accept (400 before anything succeeded), no
 * quota, or no endpoint/model configured at all. Never retried.
 */
export class LlmConfigError extends LlmError {
  override readonly name = 'LlmConfigError';
  readonly code = 'config' as const;
  constructor(
    message: string,
    /** HTTP status, when the endpoint answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The endpoint could not be reached at all (refused, no such host) after every retry. */
export class LlmUnavailableError extends LlmError {
  override readonly name = 'LlmUnavailableError';
  readonly code = 'unavailable' as const;
}

/** The run's request or token budget is spent; nothing more is sent. */
export class BudgetExhaustedError extends LlmError {
  override readonly name = 'BudgetExhaustedError';
  readonly code = 'budget' as const;
  constructor(
    message: string,
    readonly limit: 'requests' | 'tokens',
  ) {
    super(message);
  }
}

/** Too many recent calls failed; the run stops sending rather than burning budget on a broken endpoint. */
export class BreakerOpenError extends LlmError {
  override readonly name = 'BreakerOpenError';
  readonly code = 'breaker' as const;
}

/** The errors after which a run stops sending requests. */
export type LlmStopError = BudgetExhaustedError | BreakerOpenError;

// OpenAI echoes a masked key ("sk-proj-****abcd") in 401 messages; proxies sometimes echo it whole.
const KEY_LIKE = /\b(?:sk|rk|pk)-[A-Za-z0-9_*.-]{6,}/g;
const BEARER = /\bBearer\s+[^\s"',]+/gi;

/** `text` with the secret (and anything that looks like an API key or bearer token) removed. */
export function redactSecret(text: string, secret: string | undefined): string {
  let out = secret && secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
  out = out.replace(KEY_LIKE, '[redacted]').replace(BEARER, 'Bearer [redacted]');
  return out;
}

/** One line: collapses whitespace and cuts long server messages. */
export function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Scheme, host, port and path of a base URL, without user info, query or fragment. */
export function endpointLabel(baseURL: string): string {
  try {
    const url = new URL(baseURL);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return '(invalid base URL)';
  }
}

/** Host and port of a base URL, without credentials. */
export function endpointHost(baseURL: string): string {
  try {
    return new URL(baseURL).host;
  } catch {
    return '';
  }
}
