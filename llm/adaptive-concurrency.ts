// How many LLM requests may be in flight at once, learned while the run goes (AIMD, as TCP
// does it): after a window of successes at a saturated limit, while latency stays near its
// baseline, the limit rises by one; on an overload signal (429, 5xx, a timeout) or on latency
// well above the baseline it is cut multiplicatively. Latency matters because self-hosted
// servers (vLLM, llama.cpp, Ollama) never answer 429: they queue, and the queue shows up only
// as slower answers.
//
// One cut per "round trip": a signal from a request that started before the last cut says
// nothing new about the cut limit, so it is ignored (otherwise one burst of 429s from the same
// congested moment would collapse the limit to the minimum).

export interface AdaptiveConcurrencyOptions {
  /** Limit at start. */
  initial: number;
  /** The limit never goes below this (>= 1). */
  min: number;
  /** The limit never goes above this. `min === max` gives a fixed semaphore. */
  max: number;
  /** Successes at a saturated limit needed to add one. Default 10. */
  successesPerIncrease?: number;
  /** Multiplier on an overload signal, in (0, 1). Default 0.5. */
  decreaseFactor?: number;
  /** Recent latency above `baseline × latencyTolerance` counts as overload. Default 2. */
  latencyTolerance?: number;
  /** Weight of a new sample in the recent-latency EWMA. Default 0.3. */
  recentAlpha?: number;
  /** Weight of a new sample in the baseline EWMA; small, so the baseline moves slowly. Default 0.02. */
  baselineAlpha?: number;
  /** Latency samples needed before latency can cut or block increases. Default 5. */
  minLatencySamples?: number;
}

/** How a request that held a permit ended, as far as concurrency is concerned. */
export type PermitOutcome =
  | { readonly kind: 'success'; readonly latencyMs: number }
  /** 429, 5xx, a timeout: the server is telling us to slow down. */
  | { readonly kind: 'overload' }
  /** Says nothing about load (a 4xx, a refused connection, an abort). */
  | { readonly kind: 'neutral' };

export interface Permit {
  /** Gives the slot back and feeds the outcome to the limit. Idempotent. */
  release(outcome: PermitOutcome): void;
}

export interface ConcurrencySnapshot {
  limit: number;
  inFlight: number;
  waiting: number;
  /** Recent latency (fast EWMA), ms; undefined before the first sample. */
  recentLatencyMs: number | undefined;
  /** Baseline latency (slow EWMA), ms. */
  baselineLatencyMs: number | undefined;
  increases: number;
  decreases: number;
  /** Highest limit reached so far. */
  peakLimit: number;
  /** Highest in-flight count reached so far. */
  peakInFlight: number;
}

interface Waiter {
  grant: (permit: Permit) => void;
  fail: (reason: unknown) => void;
  detach: () => void;
}

function checkLimit(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`AdaptiveLimiter: ${what} must be an integer >= 1, got ${value}`);
  return value;
}

function checkFraction(value: number, what: string): number {
  if (!(value > 0 && value < 1)) throw new Error(`AdaptiveLimiter: ${what} must be in (0, 1), got ${value}`);
  return value;
}

/** Abort reason of the first aborted signal, or undefined. */
function abortedReason(signals: readonly (AbortSignal | undefined)[]): { reason: unknown } | undefined {
  for (const s of signals) if (s?.aborted) return { reason: s.reason };
  return undefined;
}

export class AdaptiveLimiter {
  readonly min: number;
  readonly max: number;
  private readonly successesPerIncrease: number;
  private readonly decreaseFactor: number;
  private readonly latencyTolerance: number;
  private readonly recentAlpha: number;
  private readonly baselineAlpha: number;
  private readonly minLatencySamples: number;

  private currentLimit: number;
  private active = 0;
  private readonly queue: Waiter[] = [];
  /** Bumped on every cut; permits remember the epoch they started in. */
  private epoch = 0;
  private successesSinceChange = 0;
  private recent: number | undefined;
  private baseline: number | undefined;
  private samples = 0;
  private increases = 0;
  private decreases = 0;
  private peakLimit: number;
  private peakInFlight = 0;

  constructor(options: AdaptiveConcurrencyOptions) {
    this.min = checkLimit(options.min, 'min');
    this.max = checkLimit(options.max, 'max');
    if (this.max < this.min) throw new Error(`AdaptiveLimiter: max (${this.max}) < min (${this.min})`);
    this.currentLimit = Math.min(this.max, Math.max(this.min, checkLimit(options.initial, 'initial')));
    this.successesPerIncrease = checkLimit(options.successesPerIncrease ?? 10, 'successesPerIncrease');
    this.decreaseFactor = checkFraction(options.decreaseFactor ?? 0.5, 'decreaseFactor');
    this.latencyTolerance = options.latencyTolerance ?? 2;
    if (!(this.latencyTolerance > 1)) throw new Error(`AdaptiveLimiter: latencyTolerance must be > 1, got ${this.latencyTolerance}`);
    this.recentAlpha = checkFraction(options.recentAlpha ?? 0.3, 'recentAlpha');
    this.baselineAlpha = checkFraction(options.baselineAlpha ?? 0.02, 'baselineAlpha');
    this.minLatencySamples = Math.max(1, Math.floor(options.minLatencySamples ?? 5));
    this.peakLimit = this.currentLimit;
  }

  /** Requests allowed in flight now. */
  get limit(): number {
    return this.currentLimit;
  }

  /** Requests holding a permit now. */
  get inFlight(): number {
    return this.active;
  }

  /** Callers queued for a permit. */
  get waiting(): number {
    return this.queue.length;
  }

  snapshot(): ConcurrencySnapshot {
    return {
      limit: this.currentLimit,
      inFlight: this.active,
      waiting: this.queue.length,
      recentLatencyMs: this.recent,
      baselineLatencyMs: this.baseline,
      increases: this.increases,
      decreases: this.decreases,
      peakLimit: this.peakLimit,
      peakInFlight: this.peakInFlight,
    };
  }

  /**
   * Waits for a slot (first come, first served). Rejects with the signal's reason when any of
   * `signals` aborts while waiting; the slot is then not taken.
   */
  acquire(signals: readonly (AbortSignal | undefined)[] = []): Promise<Permit> {
    const aborted = abortedReason(signals);
    if (aborted) return Promise.reject(aborted.reason);
    if (this.queue.length === 0 && this.active < this.currentLimit) return Promise.resolve(this.take());
    return new Promise<Permit>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        waiter.detach();
        reject(abortedReason(signals)?.reason);
      };
      const waiter: Waiter = {
        grant: (permit) => {
          waiter.detach();
          resolve(permit);
        },
        fail: reject,
        detach: () => {
          for (const s of signals) s?.removeEventListener('abort', onAbort);
        },
      };
      for (const s of signals) s?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private take(): Permit {
    this.active++;
    if (this.active > this.peakInFlight) this.peakInFlight = this.active;
    const startedEpoch = this.epoch;
    // A request sent while at least half the limit is busy tests the limit; one sent into an
    // idle limiter (the caller produces too little work) says nothing about raising it.
    const saturated = this.active * 2 >= this.currentLimit;
    let released = false;
    return {
      release: (outcome) => {
        if (released) return;
        released = true;
        this.active--;
        this.observe(outcome, startedEpoch, saturated);
        this.pump();
      },
    };
  }

  private observe(outcome: PermitOutcome, startedEpoch: number, saturated: boolean): void {
    if (outcome.kind === 'neutral') return;
    if (outcome.kind === 'overload') {
      this.successesSinceChange = 0;
      if (startedEpoch === this.epoch) this.decrease();
      return;
    }
    const latency = Math.max(0, outcome.latencyMs);
    this.samples++;
    this.recent = this.recent === undefined ? latency : this.recent + this.recentAlpha * (latency - this.recent);
    this.baseline = this.baseline === undefined ? latency : this.baseline + this.baselineAlpha * (latency - this.baseline);
    const slow = this.samples >= this.minLatencySamples && this.recent > this.baseline * this.latencyTolerance;
    if (slow) {
      this.successesSinceChange = 0;
      if (startedEpoch === this.epoch) this.decrease();
      return;
    }
    if (!saturated) return;
    if (++this.successesSinceChange >= this.successesPerIncrease && this.currentLimit < this.max) {
      // No epoch bump here: an overload signal from a request started before the increase
      // still says the (lower) limit was already too high.
      this.currentLimit++;
      this.increases++;
      this.successesSinceChange = 0;
      if (this.currentLimit > this.peakLimit) this.peakLimit = this.currentLimit;
    }
  }

  private decrease(): void {
    if (this.currentLimit <= this.min) return;
    this.currentLimit = Math.max(this.min, Math.min(this.currentLimit - 1, Math.floor(this.currentLimit * this.decreaseFactor)));
    this.decreases++;
    this.epoch++;
    this.successesSinceChange = 0;
  }

  private pump(): void {
    while (this.active < this.currentLimit && this.queue.length > 0) {
      this.queue.shift()!.grant(this.take());
    }
  }

  /** Rejects every queued caller with `reason` (e.g. when the run stops); in-flight permits are untouched. */
  rejectWaiting(reason: unknown): void {
    for (const waiter of this.queue.splice(0)) {
      waiter.detach();
      waiter.fail(reason);
    }
  }
}
