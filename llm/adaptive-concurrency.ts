// How many LLM requests may be in flight at once to one endpoint. It starts at the configured
// concurrency (the user said what the endpoint takes; ramping up from a few slots wastes
// hundreds of requests at C = 64) and comes down only on evidence of overload:
//
// - a fault rate, not a fault: 429s, 5xx and timeouts are counted over the last outcomes, and
//   the limit is cut when their share is clearly above what a flaky proxy or an unlucky shard
//   produces (`toleratedFaultRate`). A single fault, or 25 % of random faults, is retried, not
//   answered by halving the limit (which left a run at one request in flight);
// - latency well above its baseline: self-hosted servers (vLLM, llama.cpp, Ollama) never answer
//   429, they queue, and the queue shows up only as slower answers. What is compared is the
//   fastest answer of each round trip: a server's queue delays every answer, the client's own
//   busy moments (a CPU-bound pipeline measures latency in its event loop) and long answers
//   delay some. Each kind of request (a stage's prompts) has its own baseline, so a stage with
//   longer answers starting is not a slower server. A latency cut takes a tenth, not half: a
//   queue that keeps growing is cut again every round trip;
// - a server's `retry-after`: the whole endpoint pauses (no request starts) until it has passed,
//   not only the request that was told.
//
// After a cut the limit climbs back by one per window of successes at a saturated limit (AIMD,
// as TCP does it). One cut per "round trip": evidence from requests that started before the
// last cut says nothing about the cut limit, so it is ignored; otherwise one burst of 429s from
// the same congested moment would collapse the limit to the minimum.

export interface AdaptiveConcurrencyOptions {
  /** The configured concurrency; the limit never goes above it. */
  max: number;
  /** The limit never goes below this (>= 1). Default 1. */
  min?: number;
  /** Limit at start. Default `max`. */
  initial?: number;
  /** Successes at a saturated limit needed to add one after a cut. Default 10. */
  successesPerIncrease?: number;
  /** Multiplier of a cut for faults, in (0, 1). Default 0.5. */
  decreaseFactor?: number;
  /**
   * Multiplier of a cut for latency, in (0, 1). Default 0.9: a queue that keeps growing is cut
   * again every round trip, while a latency blip costs a tenth of the limit, not half of it.
   */
  latencyDecreaseFactor?: number;
  /** Share of faults among recent outcomes that is noise, not overload, in (0, 1). Default 0.3. */
  toleratedFaultRate?: number;
  /** Outcomes the fault rate is measured over. Default 64. */
  faultWindow?: number;
  /** Outcomes needed before the fault rate can cut. Default 8. */
  minFaultSamples?: number;
  /** A round trip whose fastest answer is above `baseline × latencyTolerance` counts as overload. Default 2. */
  latencyTolerance?: number;
  /** Weight of a round trip's fastest answer in the baseline. Default 0.2. */
  baselineAlpha?: number;
  /** Answers in a latency window at least; a window is otherwise one round trip (`limit` answers). Default 5. */
  minLatencySamples?: number;
  /** Clock in ms, for pauses. Default `performance.now`. */
  now?: () => number;
}

/** How a request that held a permit ended, as far as concurrency is concerned. */
export type PermitOutcome =
  /** `latencyKey`: the kind of request (a stage's prompts); each kind has its own latency baseline. */
  | { readonly kind: 'success'; readonly latencyMs: number; readonly latencyKey?: string }
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
  /** By kind of request: the fastest answer of the last round trip and the baseline, ms. */
  latency: Record<string, { fastestMs: number | undefined; baselineMs: number | undefined }>;
  /** Share of faults among the outcomes counted since the last cut (at most `faultWindow`). */
  recentFaultRate: number;
  increases: number;
  decreases: number;
  /** Cuts caused by a fault rate, and by latency. */
  faultCuts: number;
  latencyCuts: number;
  /** Pauses the endpoint asked for (retry-after), and how long is left of the current one, ms. */
  pauses: number;
  pausedForMs: number;
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

/** Below this baseline, ms, latency is compared with this: 2 ms becoming 20 is noise, not a queue. */
const LATENCY_FLOOR_MS = 10;

interface LatencyTrack {
  /** Fastest answer and answers so far in the current window. */
  windowMin: number;
  windowCount: number;
  /** Fastest answer of the last complete window. */
  fastest: number | undefined;
  baseline: number | undefined;
  /** The last complete window was slow: no increase until one is not. */
  slow: boolean;
}

/** Standard deviations above the tolerated fault rate at which faults count as overload. */
const FAULT_SIGMAS = 3;

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
  private readonly latencyDecreaseFactor: number;
  private readonly toleratedFaultRate: number;
  private readonly faultWindow: number;
  private readonly minFaultSamples: number;
  private readonly latencyTolerance: number;
  private readonly baselineAlpha: number;
  private readonly minLatencySamples: number;
  private readonly now: () => number;

  private currentLimit: number;
  private active = 0;
  private readonly queue: Waiter[] = [];
  /** Bumped on every cut; permits remember the epoch they started in. */
  private epoch = 0;
  private successesSinceChange = 0;
  /** Outcomes of this epoch, oldest first (true = fault), at most `faultWindow`. */
  private readonly outcomes: boolean[] = [];
  private faultsInWindow = 0;
  private readonly latency = new Map<string, LatencyTrack>();
  private increases = 0;
  private faultCuts = 0;
  private latencyCuts = 0;
  private pauses = 0;
  private pausedUntil = 0;
  /** Wakes the queue when a pause ends; armed only while callers wait, so it never keeps an idle process alive. */
  private pauseTimer: ReturnType<typeof setTimeout> | undefined;
  private peakLimit: number;
  private peakInFlight = 0;

  constructor(options: AdaptiveConcurrencyOptions) {
    this.max = checkLimit(options.max, 'max');
    this.min = checkLimit(options.min ?? 1, 'min');
    if (this.max < this.min) throw new Error(`AdaptiveLimiter: max (${this.max}) < min (${this.min})`);
    this.currentLimit = Math.min(this.max, Math.max(this.min, checkLimit(options.initial ?? this.max, 'initial')));
    this.successesPerIncrease = checkLimit(options.successesPerIncrease ?? 10, 'successesPerIncrease');
    this.decreaseFactor = checkFraction(options.decreaseFactor ?? 0.5, 'decreaseFactor');
    this.latencyDecreaseFactor = checkFraction(options.latencyDecreaseFactor ?? 0.9, 'latencyDecreaseFactor');
    this.toleratedFaultRate = checkFraction(options.toleratedFaultRate ?? 0.3, 'toleratedFaultRate');
    this.faultWindow = checkLimit(options.faultWindow ?? 64, 'faultWindow');
    this.minFaultSamples = Math.min(this.faultWindow, checkLimit(options.minFaultSamples ?? 8, 'minFaultSamples'));
    this.latencyTolerance = options.latencyTolerance ?? 2;
    if (!(this.latencyTolerance > 1)) throw new Error(`AdaptiveLimiter: latencyTolerance must be > 1, got ${this.latencyTolerance}`);
    this.baselineAlpha = checkFraction(options.baselineAlpha ?? 0.2, 'baselineAlpha');
    this.minLatencySamples = Math.max(1, Math.floor(options.minLatencySamples ?? 5));
    this.now = options.now ?? (() => performance.now());
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
      latency: Object.fromEntries([...this.latency].map(([key, t]) => [key, { fastestMs: t.fastest, baselineMs: t.baseline }])),
      recentFaultRate: this.outcomes.length > 0 ? this.faultsInWindow / this.outcomes.length : 0,
      increases: this.increases,
      decreases: this.faultCuts + this.latencyCuts,
      faultCuts: this.faultCuts,
      latencyCuts: this.latencyCuts,
      pauses: this.pauses,
      pausedForMs: Math.max(0, this.pausedUntil - this.now()),
      peakLimit: this.peakLimit,
      peakInFlight: this.peakInFlight,
    };
  }

  /**
   * Waits for a slot (first come, first served; none is given while the endpoint is paused).
   * Rejects with the signal's reason when any of `signals` aborts while waiting; the slot is
   * then not taken.
   */
  acquire(signals: readonly (AbortSignal | undefined)[] = []): Promise<Permit> {
    const aborted = abortedReason(signals);
    if (aborted) return Promise.reject(aborted.reason);
    if (this.queue.length === 0 && this.active < this.currentLimit && !this.paused()) return Promise.resolve(this.take());
    return new Promise<Permit>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        waiter.detach();
        this.disarmIfIdle();
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
      this.pump();
    });
  }

  /**
   * No request starts for `ms` from now: the endpoint asked for it (retry-after). Requests on
   * the wire finish; callers queue. A longer pause extends the current one, a shorter one does
   * not shorten it.
   */
  pause(ms: number): void {
    if (!(ms > 0)) return;
    const until = this.now() + ms;
    if (until <= this.pausedUntil) return;
    if (!this.paused()) this.pauses++;
    this.pausedUntil = until;
    this.pump();
  }

  private paused(): boolean {
    return this.pausedUntil > this.now();
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
    const current = startedEpoch === this.epoch;
    if (current) this.count(outcome.kind === 'overload');
    if (outcome.kind === 'overload') {
      if (current && this.faultRateTooHigh()) this.decrease('faults');
      return;
    }
    const track = this.latencyTrack(outcome.latencyKey ?? '');
    if (current && this.slowRoundTrip(track, Math.max(0, outcome.latencyMs))) {
      this.decrease('latency');
      return;
    }
    if (track.slow || !saturated) return;
    // Faults in between do not reset this count: their rate is judged above, and a limit cut by
    // mistake must be able to climb back while a quarter of the requests still fail.
    if (++this.successesSinceChange >= this.successesPerIncrease && this.currentLimit < this.max) {
      // No epoch bump here: an overload signal from a request started before the increase
      // still says the (lower) limit was already too high.
      this.currentLimit++;
      this.increases++;
      this.successesSinceChange = 0;
      if (this.currentLimit > this.peakLimit) this.peakLimit = this.currentLimit;
    }
  }

  private latencyTrack(key: string): LatencyTrack {
    let track = this.latency.get(key);
    if (!track) {
      track = { windowMin: Infinity, windowCount: 0, fastest: undefined, baseline: undefined, slow: false };
      this.latency.set(key, track);
    }
    return track;
  }

  /**
   * Adds an answer to its kind's window; when the window (a round trip) is complete, whether
   * its fastest answer was well above the baseline. Slow windows move the baseline too, so a
   * lasting change (longer prompts) costs a cut or two, while a growing queue keeps cutting.
   */
  private slowRoundTrip(track: LatencyTrack, latencyMs: number): boolean {
    track.windowMin = Math.min(track.windowMin, latencyMs);
    if (++track.windowCount < Math.max(this.minLatencySamples, this.currentLimit)) return false;
    const fastest = track.windowMin;
    track.windowMin = Infinity;
    track.windowCount = 0;
    track.fastest = fastest;
    track.slow = track.baseline !== undefined && fastest > Math.max(track.baseline, LATENCY_FLOOR_MS) * this.latencyTolerance;
    track.baseline = track.baseline === undefined ? fastest : track.baseline + this.baselineAlpha * (fastest - track.baseline);
    return track.slow;
  }

  private count(fault: boolean): void {
    this.outcomes.push(fault);
    if (fault) this.faultsInWindow++;
    if (this.outcomes.length > this.faultWindow && this.outcomes.shift()) this.faultsInWindow--;
  }

  /**
   * Whether the faults among this epoch's outcomes are more than `toleratedFaultRate` can
   * explain: above it by FAULT_SIGMAS binomial standard deviations. Over 64 outcomes that is
   * 31 faults (48 %); over the first 8 of a burst, 7 (so a burst of 429s cuts within about one
   * round trip), while 25 % of random faults cut in fewer than 1 run in 100.
   */
  private faultRateTooHigh(): boolean {
    const n = this.outcomes.length;
    if (n < this.minFaultSamples) return false;
    const p = this.toleratedFaultRate;
    return this.faultsInWindow > n * p + FAULT_SIGMAS * Math.sqrt(n * p * (1 - p));
  }

  private decrease(cause: 'faults' | 'latency'): void {
    if (this.currentLimit <= this.min) return;
    const factor = cause === 'faults' ? this.decreaseFactor : this.latencyDecreaseFactor;
    this.currentLimit = Math.max(this.min, Math.min(this.currentLimit - 1, Math.floor(this.currentLimit * factor)));
    if (cause === 'faults') this.faultCuts++;
    else this.latencyCuts++;
    this.epoch++;
    this.successesSinceChange = 0;
    this.outcomes.length = 0;
    this.faultsInWindow = 0;
    // Latency windows restart at the new limit, with answers sent under it.
    for (const track of this.latency.values()) {
      track.windowMin = Infinity;
      track.windowCount = 0;
    }
  }

  private pump(): void {
    if (this.paused()) {
      this.armPauseTimer();
      return;
    }
    while (this.active < this.currentLimit && this.queue.length > 0) {
      this.queue.shift()!.grant(this.take());
    }
  }

  private armPauseTimer(): void {
    if (this.queue.length === 0) return;
    if (this.pauseTimer !== undefined) clearTimeout(this.pauseTimer);
    // +1: a timer may fire a fraction of a millisecond before the clock reaches the deadline.
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined;
      this.pump();
    }, Math.ceil(this.pausedUntil - this.now()) + 1);
  }

  private disarmIfIdle(): void {
    if (this.queue.length === 0 && this.pauseTimer !== undefined) {
      clearTimeout(this.pauseTimer);
      this.pauseTimer = undefined;
    }
  }

  /** Rejects every queued caller with `reason` (e.g. when the run stops); in-flight permits are untouched. */
  rejectWaiting(reason: unknown): void {
    for (const waiter of this.queue.splice(0)) {
      waiter.detach();
      waiter.fail(reason);
    }
    this.disarmIfIdle();
  }
}
