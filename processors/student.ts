// The student stage: a student model solves each validated task from its instruction alone; its
// files replace the teacher's solution and the teacher's tests judge them in the sandbox. Each
// answer becomes a StudentAttempt on student.attempts, which the sample stage replays into its
// student store to up-weight the features the student fails on (stores/student-store.ts).
//
// An answer the model could not give in the schema counts as a failed attempt (invalid-answer):
// the student could not do the task. An endpoint that does not answer is not the student's
// fault: that sample becomes a dead letter and counts for nothing.
import { type OperatorFunction } from 'rxjs';
import { orderedMergeMap } from '../lib/ordered-merge-map.js';
import { stopReason, type StructuredModel } from '../llm/model.js';
import { STUDENT_PROMPT_VERSION, checkStudentAnswer, studentMessages, studentSchema, type StudentAnswer } from '../prompts/student-solve.js';
import type { SandboxResult, SampleRunner } from '../sandbox/types.js';
import type { GeneratedSample, StudentAttempt } from '../schemas/contract.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const STUDENT_STAGE = 'student';

const ANSWER_PROBLEMS = new Set(['empty', 'truncated', 'invalid-json', 'off-schema', 'refusal']);

export interface StudentConfig {
  model: StructuredModel;
  runner: SampleRunner;
  /** Samples in flight at once. */
  concurrency: number;
  clock?: () => number;
}

async function runSafely(runner: SampleRunner, language: string, files: GeneratedSample['files']): Promise<SandboxResult> {
  try {
    return await runner.run(language, files);
  } catch (error) {
    return { reason: 'sandbox-error', passed: false, detail: `sandbox failed: ${(error as Error).message}`.slice(0, 300), output: '', exitCode: null, signal: null, durationMs: 0, outputBytes: 0, command: '' };
  }
}

export async function assessSample(sample: GeneratedSample, config: StudentConfig): Promise<Outcome<StudentAttempt>> {
  const where = { stage: STUDENT_STAGE, recordId: sample.sampleId };
  const solutionPaths = sample.files.filter((f) => f.role === 'solution').map((f) => f.path);
  const tests = sample.files.filter((f) => f.role === 'test');
  if (sample.validation?.passed !== true || solutionPaths.length === 0 || tests.length === 0) {
    return reject({ ...where, reason: 'not-validated', detail: 'the student is judged by the tests of a sample that passed validation; this one did not', record: sample });
  }
  const clock = config.clock ?? Date.now;
  const base = { sampleId: sample.sampleId, taskId: sample.taskId, treeKey: sample.treeKey, paths: sample.features.map((f) => f.path), promptVersion: STUDENT_PROMPT_VERSION };
  let result;
  try {
    result = await config.model.complete<StudentAnswer>({
      messages: studentMessages(sample, solutionPaths), schema: studentSchema(solutionPaths), promptVersion: STUDENT_PROMPT_VERSION,
      validate: (a) => checkStudentAnswer(a, solutionPaths),
    });
  } catch (error) {
    const reason = stopReason(error);
    if (!reason) throw error;
    return reject({ ...where, reason, detail: (error as Error).message, record: sample });
  }
  if (!result.ok) {
    if (!ANSWER_PROBLEMS.has(result.reason)) return reject({ ...where, reason: `student-llm-${result.reason}`, detail: result.detail, record: sample });
    return accept({ ...base, passed: false, reason: 'invalid-answer', detail: `${result.reason}: ${result.detail}`.slice(0, 300), model: result.model, createdAt: clock() });
  }
  const answered = new Map(result.value.files.map((f) => [f.path, f.content]));
  const files = [...solutionPaths.map((path) => ({ path, role: 'solution' as const, content: answered.get(path)! })), ...tests];
  const run = await runSafely(config.runner, sample.language, files);
  if (run.reason === 'sandbox-error') return reject({ ...where, reason: 'student-sandbox-error', detail: run.detail, record: sample });
  return accept({ ...base, passed: run.passed, reason: run.reason, detail: run.detail.slice(0, 300), model: result.provenance.model, createdAt: clock() });
}

/** The stage: one attempt per validated sample, in order. */
export function studentStage(config: StudentConfig): OperatorFunction<GeneratedSample, Outcome<StudentAttempt>> {
  return orderedMergeMap((sample: GeneratedSample) => assessSample(sample, config), config.concurrency);
}
