// What a run may spend, and when it must stop. A budget caps requests and tokens; a breaker
// stops a run whose calls mostly fail (a broken endpoint, a model that cannot follow the
// schema) before it burns the budget. Both stop cleanly: once tripped, new calls fail fast and
// queued ones are released, while requests already on the wire finish and deliver their answers.
import { setMaxListeners } from 'node:events';
import { BreakerOpenError, BudgetExhaustedError, type LlmStopError } from './errors.js';

export interface BudgetOptions {
  /** HTTP requests the run may send, retries and repairs included. */
  maxRequests?: number;
  /** Prompt + completion tokens the run may spend. Checked after each answer, so requests already in flight may overshoot it. */
  maxTotalTokens?: number;
}

export interface BudgetSnapshot {
  requests: number;
  tokens: number;
  maxRequests: number | undefined;
  maxTotalTokens: number | undefined;
}

function optionalLimit(value: number | undefined, what: string): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) throw new Error(`${what} must be a non-negative integer, got ${value}`);
  return value;
}

export class RunBudget {
  readonly maxRequests: number | undefined;
  readonly maxTotalTokens: number | undefined;
  private sent = 0;
  private spent = 0;

  constructor(options: BudgetOptions = {}) {
    this.maxRequests = optionalLimit(options.maxRequests, 'maxRequests');
    this.maxTotalTokens = optionalLimit(options.maxTotalTokens, 'maxTotalTokens');
  }

  get requests(): number {
    return this.sent;
  }

  get tokens(): number {
    return this.spent;
  }

  /** Which limit is spent, if any. */
  exhausted(): 'requests' | 'tokens' | undefined {
    if (this.maxRequests !== undefined && this.sent >= this.maxRequests) return 'requests';
    if (this.maxTotalTokens !== undefined && this.spent >= this.maxTotalTokens) return 'tokens';
    return undefined;
  }

  /** Takes one request slot; false (and nothing taken) when the budget is spent. */
  tryReserveRequest(): boolean {
    if (this.exhausted() !== undefined) return false;
    this.sent++;
    return true;
  }

  addTokens(tokens: number): void {
    if (tokens > 0) this.spent += tokens;
  }

  snapshot(): BudgetSnapshot {
    return { requests: this.sent, tokens: this.spent, maxRequests: this.maxRequests, maxTotalTokens: this.maxTotalTokens };
  }
}

export interface BreakerOptions {
  /** Calls remembered. Default 20. */
  window?: number;
  /** Opens when failures / calls in the window exceed this. Default 0.5. */
  failureRatio?: number;
  /** Calls needed in the window before it may open, so one early failure is not 100 %. Default 10. */
  minCalls?: number;
}

export interface BreakerSnapshot {
  open: boolean;
  calls: number;
  failures: number;
  window: number;
  failureRatio: number;
}

/** A latch, not a self-healing circuit: once open it stays open for the run (resume by starting again). */
export class ErrorRateBreaker {
  readonly window: number;
  readonly failureRatio: number;
  readonly minCalls: number;
  /** Ring of the last `window` outcomes; true = failure. */
  private readonly ring: boolean[] = [];
  private next = 0;
  private failures = 0;
  private opened = false;

  constructor(options: BreakerOptions = {}) {
    this.window = options.window ?? 20;
    this.failureRatio = options.failureRatio ?? 0.5;
    this.minCalls = Math.min(options.minCalls ?? 10, this.window);
    if (!Number.isInteger(this.window) || this.window < 1) throw new Error(`breaker window must be an integer >= 1, got ${this.window}`);
    if (!(this.failureRatio >= 0 && this.failureRatio < 1)) throw new Error(`breaker failureRatio must be in [0, 1), got ${this.failureRatio}`);
    if (!Number.isInteger(this.minCalls) || this.minCalls < 1) throw new Error(`breaker minCalls must be an integer >= 1, got ${this.minCalls}`);
  }

  get isOpen(): boolean {
    return this.opened;
  }

  /** Records one call; returns true when this call opened the breaker. */
  record(ok: boolean): boolean {
    const failed = !ok;
    if (this.ring.length < this.window) {
      this.ring.push(failed);
    } else {
      if (this.ring[this.next]) this.failures--;
      this.ring[this.next] = failed;
      this.next = (this.next + 1) % this.window;
    }
    if (failed) this.failures++;
    if (!this.opened && this.ring.length >= this.minCalls && this.failures / this.ring.length > this.failureRatio) {
      this.opened = true;
      return true;
    }
    return false;
  }

  snapshot(): BreakerSnapshot {
    return { open: this.opened, calls: this.ring.length, failures: this.failures, window: this.window, failureRatio: this.failureRatio };
  }
}

export interface RunGuardOptions {
  budget?: BudgetOptions;
  /** `false` turns the breaker off. */
  breaker?: BreakerOptions | false;
}

/**
 * The budget and the breaker of one run, shared by every client (every stage) of that run.
 * `stopSignal` aborts when either trips, with the stop error as its reason: the limiters and
 * backoff sleeps listen to it, so queued calls fail at once instead of waiting their turn.
 */
export class LlmRunGuard {
  readonly budget: RunBudget;
  readonly breaker: ErrorRateBreaker | undefined;
  private readonly stopper = new AbortController();
  private stopError: LlmStopError | undefined;

  constructor(options: RunGuardOptions = {}) {
    // Every queued call listens to the stop signal (and removes its listener when it leaves the
    // queue), so hundreds of listeners are expected here, not a leak.
    setMaxListeners(0, this.stopper.signal);
    this.budget = new RunBudget(options.budget);
    this.breaker = options.breaker === false ? undefined : new ErrorRateBreaker(options.breaker);
  }

  get stopSignal(): AbortSignal {
    return this.stopper.signal;
  }

  /** Why the run stopped sending, if it did. */
  get stopped(): LlmStopError | undefined {
    return this.stopError;
  }

  /** Throws the stop error once the run has stopped. */
  assertRunning(): void {
    if (this.stopError) throw this.stopError;
    this.checkBudget();
    if (this.stopError) throw this.stopError;
  }

  /** Takes one request slot or throws BudgetExhaustedError (and stops the run). */
  reserveRequest(): void {
    this.assertRunning();
    if (!this.budget.tryReserveRequest()) {
      this.checkBudget();
      throw this.stopError ?? new BudgetExhaustedError('LLM request budget exhausted', 'requests');
    }
    // Taking the last slot stops the run now, so queued calls are released at once.
    this.checkBudget();
  }

  addTokens(tokens: number): void {
    this.budget.addTokens(tokens);
    this.checkBudget();
  }

  /** Records the outcome of one logical call (not one attempt) with the breaker. */
  recordCall(ok: boolean): void {
    if (!this.breaker || this.stopError) {
      this.breaker?.record(ok);
      return;
    }
    if (this.breaker.record(ok)) {
      const s = this.breaker.snapshot();
      this.stop(
        new BreakerOpenError(
          `LLM error-rate breaker open: ${s.failures} of the last ${s.calls} calls failed (limit ${Math.round(s.failureRatio * 100)}%); no more requests are sent`,
        ),
      );
    }
  }

  private checkBudget(): void {
    if (this.stopError) return;
    const limit = this.budget.exhausted();
    if (limit === undefined) return;
    const b = this.budget.snapshot();
    this.stop(
      new BudgetExhaustedError(
        limit === 'requests'
          ? `LLM request budget exhausted: ${b.requests} of ${b.maxRequests} requests sent`
          : `LLM token budget exhausted: ${b.tokens} of ${b.maxTotalTokens} tokens spent`,
        limit,
      ),
    );
  }

  private stop(error: LlmStopError): void {
    if (this.stopError) return;
    this.stopError = error;
    this.stopper.abort(error);
  }
}
