// The validate stage: decontamination first (cheap, so nothing is run or debugged that would be
// thrown away), then each generated sample's tests run in the sandbox; a failing sample goes back to
// the model with its error output for a bounded number of debugging turns. Passing samples
// flow on with `validation.passed`; the rest become dead letters with the final reason, the
// sample (with every run recorded) as their record.
//
// A sample that passes is then measured for test adequacy (quality/mutation.ts): mutants of its
// solution run the same tests, and the share they catch is the sample's mutation score; below
// the minimum, the sample is rejected as low-mutation-score (and may be debugged like a failure:
// the model sees the mutants its tests let through).
//
// Which failures get a debugging turn: test failures, syntax errors, missing or not allowed
// packages (the model can rewrite with the standard library and the allow-list), timeouts (endless loops are common bugs), tests
// that ran nothing or checked nothing, a file the runner refuses, and low mutation scores. Not
// sandbox violations, memory, process or output limits, runs that did not finish or whose
// report was tampered with: those samples reached for what the sandbox forbids, exhausted it or
// worked against the runner, and coaching code around that is not debugging. Nor invalid or
// unsupported samples, or sandbox errors, which are not the code's fault.
import { availableParallelism } from 'node:os';
import { concatMap, from, mergeMap, pipe, type OperatorFunction } from 'rxjs';
import { loadGrammars, type Grammars } from '../analysis/tree-sitter/grammars.js';
import { orderedMergeMap } from '../lib/ordered-merge-map.js';
import { checkContamination, type DecontaminateConfig } from '../quality/contamination.js';
import { dedupSample, type SampleDedupConfig } from '../quality/sample-dedup.js';
import { DEFAULT_MIN_MUTATION_SCORE, DEFAULT_MUTATION, describeSurvivors, generateMutants, scoreMutants, type MutationResult } from '../quality/mutation.js';
import type { ValidationTally } from '../quality/validation-tally.js';
import { checkGenerateAnswer } from '../prompts/generate-sample.js';
import { DEBUG_PROMPT_VERSION, DEBUG_SCHEMA, debugMessages, stableOutput, type DebugAnswer } from '../prompts/debug-sample.js';
import type { LlmResult } from '../llm/client.js';
import type { GeneratedSample, SynthesisTask, ValidationAttempt } from '../schemas/contract.js';
import { Sandbox, type SandboxOptions } from '../sandbox/sandbox.js';
import type { SampleRunner, SandboxResult, ValidationReason } from '../sandbox/types.js';
import { loadAllowList, type PackageAllowList } from '../sandbox/packages.js';
import { stopReason, type StructuredModel } from '../llm/model.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const VALIDATE_STAGE = 'validate';

export const DEFAULT_DEBUG_REASONS: readonly ValidationReason[] = ['test-failure', 'syntax-error', 'missing-package', 'package-not-allowed', 'timeout', 'no-tests', 'no-assertions', 'forbidden-file', 'low-mutation-score'];

/** Test adequacy: mutants per passing sample, and the score below which a sample is rejected. */
export interface MutationConfig {
  grammars: Grammars;
  /** Mutants per sample at most (0: no mutation testing). */
  maxMutants: number;
  seed: number;
  /** 0: the score is recorded, never a reason to reject. */
  minScore: number;
}

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
  /** Mutation testing of passing samples; absent or null: none. */
  mutation?: MutationConfig | null;
  /** Where this machine's sandbox is weaker than the defaults promise (no cgroup, fewer slots), for the user to hear. */
  warnings?: readonly string[];
  /** The packages debugging turns may use (the sandbox's allow-list). Default: sandbox/python-packages.txt. */
  allowList?: PackageAllowList;
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
  /** Mutants per passing sample (0: no mutation testing). */
  mutants?: number;
  /** Samples whose tests catch a smaller share of the mutants are rejected. */
  minMutationScore?: number;
  seed?: number;
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
  const maxMutants = settings.mutants ?? DEFAULT_MUTATION.maxMutants;
  const mutation: MutationConfig | null = maxMutants > 0
    ? { grammars: await loadGrammars(['python', 'javascript', 'typescript', 'tsx']), maxMutants, seed: settings.seed ?? DEFAULT_MUTATION.seed, minScore: settings.minMutationScore ?? DEFAULT_MIN_MUTATION_SCORE }
    : null;
  // Twice the sandbox slots in flight, so samples waiting on the model do not leave the sandbox idle.
  return { runner, turns: settings.turns ?? 2, model: model ?? null, concurrency: runner.concurrency * 2, mutation, warnings: runner.warnings(), allowList: runner.allowList };
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

async function runSafely(runner: SampleRunner, sample: Pick<GeneratedSample, 'language' | 'files' | 'packages'>): Promise<SandboxResult> {
  try {
    return await runner.run(sample.language, sample.files, { packages: sample.packages ?? [] });
  } catch (error) {
    // Staging failed (disk full, permissions): the sample is not at fault, but it is accounted for.
    return { reason: 'sandbox-error', passed: false, detail: `sandbox failed: ${(error as Error).message}`.slice(0, 300), output: '', exitCode: null, signal: null, durationMs: 0, outputBytes: 0, command: '' };
  }
}

/**
 * One check of the sample: its tests in the sandbox, then, when they pass, its mutants. A score
 * below the minimum turns the pass into a low-mutation-score failure whose output lists the
 * mutants the tests let through.
 */
async function check(config: ValidateConfig, sample: GeneratedSample): Promise<{ result: SandboxResult; mutation: MutationResult | null }> {
  const result = await runSafely(config.runner, sample);
  const m = config.mutation;
  if (!result.passed || !m || m.maxMutants <= 0) return { result, mutation: null };
  const mutants = generateMutants(sample.files, m.grammars, { maxMutants: m.maxMutants, seed: m.seed, sampleId: sample.sampleId });
  const mutation = await scoreMutants(config.runner, sample.language, mutants, result);
  if (mutation.score === null || mutation.score >= m.minScore) return { result, mutation };
  const judged = mutation.killed + mutation.survived;
  return {
    mutation,
    result: {
      ...result,
      reason: 'low-mutation-score',
      passed: false,
      detail: `the tests caught ${mutation.killed} of ${judged} mutants of the solution (score ${mutation.score.toFixed(2)}, at least ${m.minScore.toFixed(2)} needed)`,
      output: describeSurvivors(mutation),
      durationMs: result.durationMs + mutation.durationMs,
    },
  };
}

function mutationRecord(mutation: MutationResult | null): NonNullable<GeneratedSample['validation']>['mutation'] {
  if (!mutation) return null;
  return {
    score: mutation.score, killed: mutation.killed, survived: mutation.survived, unviable: mutation.unviable,
    survivors: mutation.outcomes.filter((o) => o.reason === 'passed').map((o) => ({ file: o.file, line: o.line, operator: o.operator, description: o.description })),
  };
}

export async function validateSample(sample: GeneratedSample, config: ValidateConfig): Promise<Outcome<GeneratedSample>> {
  const tailChars = config.errorTailChars ?? 4_000;
  const debuggable = new Set<string>(config.debugReasons ?? DEFAULT_DEBUG_REASONS);
  const zero = { promptTokens: 0, completionTokens: 0 };
  let current = sample;
  let { result, mutation } = await check(config, current);
  const attempts: ValidationAttempt[] = [attempt(0, result, zero, tailChars)];
  let turns = 0;
  let stopped: string | null = null;

  while (!result.passed && config.model && turns < config.turns && debuggable.has(result.reason)) {
    const turn = turns + 1;
    const messages = debugMessages(current, {
      files: current.files, packages: current.packages ?? [], allowList: config.allowList ?? loadAllowList(), instruction: current.instruction, reason: result.reason, detail: result.detail,
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
      packages: answer.value.packages,
    };
    ({ result, mutation } = await check(config, current));
    const usage = answer.cached && answer.cachedUsage ? answer.cachedUsage : answer.usage;
    attempts.push(attempt(turn, result, usage, tailChars));
  }

  const validated: GeneratedSample = {
    ...current,
    // What the sandbox checked: the declared packages plus allowed ones the files import.
    packages: result.packages ?? current.packages ?? [],
    validation: { passed: result.passed, turns, reason: result.passed ? null : result.reason, attempts, tests: result.tests ?? null, mutation: mutationRecord(mutation) },
  };
  if (result.passed) return accept(validated);
  const after = turns > 0 ? ` after ${turns} debugging turn${turns === 1 ? '' : 's'}` : '';
  const why = stopped ? ` (debugging stopped: ${stopped})` : '';
  return reject({ stage: VALIDATE_STAGE, reason: result.reason, detail: `${result.detail}${after}${why}`, recordId: sample.sampleId, record: validated });
}

export function validateSamples(config: ValidateConfig): OperatorFunction<GeneratedSample, Outcome<GeneratedSample>> {
  return mergeMap((sample) => from(validateSample(sample, config)), Math.max(1, config.concurrency));
}

/**
 * The deployed validate stage's operator; undefined when there is nothing to check. Samples that
 * pass decontamination and validation are then checked against the accepted ones for
 * near-duplicates, one at a time in input order (the verdict depends on what came before).
 */
export function validateStage(
  decontamination: DecontaminateConfig | undefined,
  validation: ValidateConfig | undefined,
  tally?: ValidationTally,
  dedup?: SampleDedupConfig,
): OperatorFunction<GeneratedSample, Outcome<GeneratedSample>> | undefined {
  const dedups = dedup !== undefined && dedup.radius > 0;
  if (!decontamination && !validation && !dedups) return undefined;
  // The allow-list the debugging turns offer, read once for the stage, not per turn.
  const validating = validation && { ...validation, allowList: validation.allowList ?? loadAllowList() };
  return pipe(
    orderedMergeMap(async (sample: GeneratedSample) => {
      const o = decontamination ? await checkContamination(sample, decontamination) : accept(sample);
      if (!o.ok || !validating) return o;
      const checked = await validateSample(o.value, validating);
      tally?.add(checked);
      return checked;
    }, validation?.concurrency ?? 1),
    concatMap(async (o: Outcome<GeneratedSample>) => (o.ok && dedups ? dedupSample(o.value, dedup) : o)),
  );
}
