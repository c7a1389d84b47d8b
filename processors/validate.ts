// Validation: each generated sample's tests run in the sandbox; a failing sample goes back to
// the model with its error output for a bounded number of debugging turns. Passing samples
// flow on with `validation.passed`; the rest become dead letters with the final reason, the
// sample (with every run recorded) as their record.
//
// Which failures get a debugging turn: test failures, syntax errors, missing packages (the
// model can rewrite with the standard library) and timeouts (endless loops are common bugs).
// Not sandbox violations, memory, process or output limits: those samples reached for what the
// sandbox forbids or exhausted it, and coaching code around the limits is not debugging. Nor
// invalid or unsupported samples, or sandbox errors, which are not the code's fault.
import { availableParallelism } from 'node:os';
import { from, mergeMap, type OperatorFunction } from 'rxjs';
import { checkGenerateAnswer } from '../prompts/generate-sample.js';
import { DEBUG_PROMPT_VERSION, DEBUG_SCHEMA, debugMessages, stableOutput, type DebugAnswer } from '../prompts/debug-sample.js';
import type { LlmResult } from '../llm/client.js';
import type { GeneratedSample, SynthesisTask, ValidationAttempt } from '../schemas/contract.js';
import { Sandbox, type SandboxOptions } from '../sandbox/sandbox.js';
import type { SampleRunner, SandboxResult, ValidationReason } from '../sandbox/types.js';
import { stopReason, type StructuredModel } from '../llm/model.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const VALIDATE_STAGE = 'validate';

export const DEFAULT_DEBUG_REASONS: readonly ValidationReason[] = ['test-failure', 'syntax-error', 'missing-package', 'timeout'];

export interface ValidateConfig {
  runner: SampleRunner;
  /** Debugging turns after the first run (0: none). Without a model there are none. */
  turns: number;
  /** The model for debugging turns; null or absent: no turns. */
  model?: StructuredModel | null;
  /** Samples in flight at once (running, or waiting for the model). */
  concurrency: number;
  /** Failures that get a debugging turn. */
  debugReasons?: readonly ValidationReason[];
  /** Characters of the error output kept on each attempt and sent to the model. */
  errorTailChars?: number;
}

/** Run settings as the CLI and the topology know them. */
export interface ValidateSettings {
  timeoutMs?: number;
  memoryMb?: number;
  maxProcesses?: number;
  outputBytes?: number;
  turns?: number;
  concurrency?: number;
  python?: string;
}

/**
 * The stage's config from plain settings: creates (and checks) the sandbox. Throws
 * SandboxUnavailableError with one line when bubblewrap cannot run here.
 */
export async function createValidateConfig(settings: ValidateSettings, model?: StructuredModel | null): Promise<ValidateConfig> {
  const concurrency = settings.concurrency ?? availableParallelism();
  const limits: SandboxOptions['limits'] = {};
  if (settings.timeoutMs !== undefined) limits.wallMs = settings.timeoutMs;
  if (settings.memoryMb !== undefined) limits.memoryBytes = settings.memoryMb * 1024 * 1024;
  if (settings.maxProcesses !== undefined) limits.maxProcesses = settings.maxProcesses;
  if (settings.outputBytes !== undefined) limits.outputBytes = settings.outputBytes;
  const runner = await Sandbox.create({ limits, concurrency, ...(settings.python ? { python: settings.python } : {}) });
  // Twice the sandbox slots in flight, so samples waiting on the model do not leave the sandbox idle.
  return { runner, turns: settings.turns ?? 2, model: model ?? null, concurrency: concurrency * 2 };
}

function attempt(turn: number, result: SandboxResult, tokens: { promptTokens: number; completionTokens: number }, tailChars: number): ValidationAttempt {
  return {
    turn,
    reason: result.reason,
    detail: result.detail,
    errorTail: result.passed ? '' : stableOutput(result.output, tailChars),
    durationMs: result.durationMs,
    promptTokens: tokens.promptTokens,
    completionTokens: tokens.completionTokens,
  };
}

/** A task-shaped view of the sample, for the generation prompt's own answer checks. */
function taskOf(sample: GeneratedSample): SynthesisTask {
  return { taskId: sample.taskId, treeKey: sample.treeKey, level: sample.level, targetLanguage: sample.language, seed: 0, index: 0, features: sample.features, treeSeq: 0, createdAt: sample.createdAt };
}

async function runSafely(runner: SampleRunner, sample: Pick<GeneratedSample, 'language' | 'files'>): Promise<SandboxResult> {
  try {
    return await runner.run(sample.language, sample.files);
  } catch (error) {
    // Staging failed (disk full, permissions): the sample is not at fault, but it is accounted for.
    return { reason: 'sandbox-error', passed: false, detail: `sandbox failed: ${(error as Error).message}`.slice(0, 300), output: '', exitCode: null, signal: null, durationMs: 0, outputBytes: 0, command: '' };
  }
}

export async function validateSample(sample: GeneratedSample, config: ValidateConfig): Promise<Outcome<GeneratedSample>> {
  const tailChars = config.errorTailChars ?? 4_000;
  const debuggable = new Set<string>(config.debugReasons ?? DEFAULT_DEBUG_REASONS);
  const zero = { promptTokens: 0, completionTokens: 0 };
  let current = sample;
  let result = await runSafely(config.runner, current);
  const attempts: ValidationAttempt[] = [attempt(0, result, zero, tailChars)];
  let turns = 0;
  let stopped: string | null = null;

  while (!result.passed && config.model && turns < config.turns && debuggable.has(result.reason)) {
    const turn = turns + 1;
    const messages = debugMessages(current, {
      files: current.files, instruction: current.instruction, reason: result.reason, detail: result.detail,
      output: result.output, command: result.command, turn, maxTurns: config.turns,
    }, tailChars);
    let answer: LlmResult<DebugAnswer>;
    try {
      answer = await config.model.complete<DebugAnswer>({
        messages, schema: DEBUG_SCHEMA, validate: (a) => checkGenerateAnswer(a, taskOf(current)), promptVersion: DEBUG_PROMPT_VERSION,
      });
    } catch (error) {
      // Budget or breaker: the run goes on without more turns; anything else stops the run.
      const reason = stopReason(error);
      if (!reason) throw error;
      stopped = reason;
      break;
    }
    if (!answer.ok) {
      stopped = `llm-${answer.reason}`;
      break;
    }
    turns = turn;
    current = {
      ...current,
      instruction: answer.value.instruction,
      analysis: answer.value.analysis,
      files: answer.value.files.map((f) => ({ path: f.path, role: f.role, content: f.content })),
    };
    result = await runSafely(config.runner, current);
    const usage = answer.cached && answer.cachedUsage ? answer.cachedUsage : answer.usage;
    attempts.push(attempt(turn, result, usage, tailChars));
  }

  const validated: GeneratedSample = { ...current, validation: { passed: result.passed, turns, reason: result.passed ? null : result.reason, attempts } };
  if (result.passed) return accept(validated);
  const after = turns > 0 ? ` after ${turns} debugging turn${turns === 1 ? '' : 's'}` : '';
  const why = stopped ? ` (debugging stopped: ${stopped})` : '';
  return reject({ stage: VALIDATE_STAGE, reason: result.reason, detail: `${result.detail}${after}${why}`, recordId: sample.sampleId, record: validated });
}

export function validateSamples(config: ValidateConfig): OperatorFunction<GeneratedSample, Outcome<GeneratedSample>> {
  return mergeMap((sample) => from(validateSample(sample, config)), Math.max(1, config.concurrency));
}

// ---------------------------------------------------------------- figures for validation.json

export interface RateRow {
  validated: number;
  passed: number;
  rate: number | null;
}

export interface ValidationSummary {
  /** Inputs seen, including lines that were not samples. */
  total: number;
  /** Samples that went through the sandbox (or were refused by it: invalid, unsupported). */
  validated: number;
  /** Inputs that were not samples at all. */
  invalid: number;
  passed: number;
  /** Everything not passed: failed samples and invalid inputs. */
  rejected: number;
  /** passed / validated. */
  passRate: number | null;
  /** Final reason of every input: passed, test-failure, ..., and invalid-json / invalid-sample for bad lines. */
  byReason: Record<string, number>;
  byLevel: Record<string, RateRow>;
  /** turn n: samples that passed after exactly n debugging turns, and the pass rate had debugging stopped there. */
  byTurn: Array<{ turn: number; passed: number; cumulativePassed: number; cumulativeRate: number | null }>;
  /** Reasons of every run (first runs and debugging turns), to see what the turns fixed. */
  runsByReason: Record<string, number>;
  debugTokens: { promptTokens: number; completionTokens: number };
  sandboxMs: number;
}

const rate = (passed: number, of: number): number | null => (of > 0 ? Math.round((passed / of) * 10_000) / 10_000 : null);

/** Counts outcomes as they stream past; `summary()` any time. */
export class ValidationTally {
  private total = 0;
  private passed = 0;
  private readonly byReason = new Map<string, number>();
  private readonly levels = new Map<string, { validated: number; passed: number }>();
  private readonly passedAtTurn = new Map<number, number>();
  private readonly runs = new Map<string, number>();
  private readonly tokens = { promptTokens: 0, completionTokens: 0 };
  private sandboxMs = 0;
  private validatedSamples = 0;

  private bump<K>(map: Map<K, number>, key: K, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }

  /** An input that never became a sample (bad JSON, wrong shape). */
  addInvalid(reason: string): void {
    this.total++;
    this.bump(this.byReason, reason);
  }

  addSample(sample: GeneratedSample, finalReason: string): void {
    this.total++;
    this.validatedSamples++;
    const v = sample.validation;
    const ok = v?.passed === true;
    if (ok) this.passed++;
    this.bump(this.byReason, ok ? 'passed' : finalReason);
    const level = this.levels.get(sample.level) ?? { validated: 0, passed: 0 };
    level.validated++;
    if (ok) level.passed++;
    this.levels.set(sample.level, level);
    if (ok) this.bump(this.passedAtTurn, v.turns);
    for (const a of v?.attempts ?? []) {
      this.bump(this.runs, a.reason);
      this.tokens.promptTokens += a.promptTokens;
      this.tokens.completionTokens += a.completionTokens;
      this.sandboxMs += a.durationMs;
    }
  }

  /** Takes the stage's outcome; a dead letter without a readable sample counts by its reason. */
  add(outcome: Outcome<GeneratedSample>): void {
    if (outcome.ok) return this.addSample(outcome.value, 'passed');
    const record = outcome.rejection.record;
    let sample: GeneratedSample | null = null;
    try {
      const parsed: unknown = record && !record.endsWith('…[truncated]') ? JSON.parse(record) : null;
      if (parsed && typeof parsed === 'object' && 'level' in parsed && 'validation' in parsed) sample = parsed as GeneratedSample;
    } catch {
      sample = null;
    }
    if (sample) this.addSample(sample, outcome.rejection.reason);
    else this.addInvalid(outcome.rejection.reason);
  }

  summary(): ValidationSummary {
    const turns = [...this.passedAtTurn.keys()];
    const maxTurn = turns.length ? Math.max(...turns) : 0;
    const byTurn: ValidationSummary['byTurn'] = [];
    let cumulative = 0;
    for (let turn = 0; turn <= maxTurn; turn++) {
      const passed = this.passedAtTurn.get(turn) ?? 0;
      cumulative += passed;
      byTurn.push({ turn, passed, cumulativePassed: cumulative, cumulativeRate: rate(cumulative, this.validatedSamples) });
    }
    const sorted = (map: Map<string, number>): Record<string, number> => Object.fromEntries([...map.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
    return {
      total: this.total,
      validated: this.validatedSamples,
      invalid: this.total - this.validatedSamples,
      passed: this.passed,
      rejected: this.total - this.passed,
      passRate: rate(this.passed, this.validatedSamples),
      byReason: sorted(this.byReason),
      byLevel: Object.fromEntries([...this.levels.entries()].sort().map(([k, v]) => [k, { ...v, rate: rate(v.passed, v.validated) }])),
      byTurn,
      runsByReason: sorted(this.runs),
      debugTokens: { ...this.tokens },
      sandboxMs: this.sandboxMs,
    };
  }
}
