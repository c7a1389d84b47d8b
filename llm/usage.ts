// Token and request accounting per stage, for cost reports and metrics. One meter per run,
// shared by the clients of every stage; each call also returns its own usage.
import type { TokenUsage } from '../schemas/generated.js';

export type { TokenUsage };

export interface StageUsage {
  /** Logical calls (`complete`), cache hits included. */
  calls: number;
  ok: number;
  /** Calls that ended in a typed failure (dead-letter material). */
  failed: number;
  /** Calls that threw (configuration, unreachable endpoint, budget, breaker, abort). */
  errors: number;
  cacheHits: number;
  /** HTTP requests sent, retries and repairs included. */
  requests: number;
  retries: number;
  repairs: number;
  promptTokens: number;
  completionTokens: number;
  /** Tokens the cache hits would have cost (their original usage). */
  cachedPromptTokens: number;
  cachedCompletionTokens: number;
  /** Typed failures by reason. */
  failures: Record<string, number>;
}

export const zeroUsage = (): TokenUsage => ({ promptTokens: 0, completionTokens: 0, requests: 0 });

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return { promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens, requests: a.requests + b.requests };
}

function emptyStage(): StageUsage {
  return {
    calls: 0,
    ok: 0,
    failed: 0,
    errors: 0,
    cacheHits: 0,
    requests: 0,
    retries: 0,
    repairs: 0,
    promptTokens: 0,
    completionTokens: 0,
    cachedPromptTokens: 0,
    cachedCompletionTokens: 0,
    failures: {},
  };
}

/** One finished call, as the meter sees it. */
export interface CallRecord {
  outcome: 'ok' | 'failed' | 'error';
  cacheHit: boolean;
  usage: TokenUsage;
  cachedUsage?: TokenUsage;
  retries: number;
  repairs: number;
  failureReason?: string;
}

export class UsageMeter {
  private readonly stages = new Map<string, StageUsage>();

  record(stage: string, call: CallRecord): void {
    let s = this.stages.get(stage);
    if (!s) this.stages.set(stage, (s = emptyStage()));
    s.calls++;
    if (call.outcome === 'ok') s.ok++;
    else if (call.outcome === 'failed') s.failed++;
    else s.errors++;
    if (call.cacheHit) s.cacheHits++;
    s.requests += call.usage.requests;
    s.promptTokens += call.usage.promptTokens;
    s.completionTokens += call.usage.completionTokens;
    s.retries += call.retries;
    s.repairs += call.repairs;
    if (call.cachedUsage) {
      s.cachedPromptTokens += call.cachedUsage.promptTokens;
      s.cachedCompletionTokens += call.cachedUsage.completionTokens;
    }
    if (call.failureReason) s.failures[call.failureReason] = (s.failures[call.failureReason] ?? 0) + 1;
  }

  /** A copy of the totals of one stage (zeros when it made no call). */
  stage(stage: string): StageUsage {
    const s = this.stages.get(stage);
    return s ? { ...s, failures: { ...s.failures } } : emptyStage();
  }

  /** A copy of the totals, by stage name. */
  byStage(): Record<string, StageUsage> {
    return Object.fromEntries([...this.stages.keys()].map((name) => [name, this.stage(name)]));
  }

  /** All stages together. */
  total(): StageUsage {
    const t = emptyStage();
    for (const s of this.stages.values()) {
      for (const key of ['calls', 'ok', 'failed', 'errors', 'cacheHits', 'requests', 'retries', 'repairs', 'promptTokens', 'completionTokens', 'cachedPromptTokens', 'cachedCompletionTokens'] as const) {
        t[key] += s[key];
      }
      for (const [reason, n] of Object.entries(s.failures)) t.failures[reason] = (t.failures[reason] ?? 0) + n;
    }
    return t;
  }
}
