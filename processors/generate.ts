// Generation in the reference method's three steps, each its own structured call (own schema,
// prompt version and so response-cache entry): the question (features selected, scenario,
// task, signature, examples), its analysis, then the solution and tests from both. A replayed
// run pays only for the steps whose inputs changed. The sample keeps the question, the
// analysis, and the model and prompt version of every step.
import { createHash } from 'node:crypto';
import { EMPTY, mergeMap, pipe, type OperatorFunction } from 'rxjs';
import { orderedMergeMap } from '../lib/ordered-merge-map.js';
import type { JsonSchemaSpec, LlmMessage } from '../llm/structured.js';
import { checkFiles } from '../prompts/generate-sample.js';
import { loadAllowList, normalizePackageName, type PackageAllowList } from '../sandbox/packages.js';
import { QUESTION_PROMPT_VERSION, QUESTION_SCHEMA, checkQuestion, questionMessages, renderQuestion, selectedNodeIds, type QuestionAnswer } from '../prompts/generate-question.js';
import { ANALYSIS_PROMPT_VERSION, ANALYSIS_SCHEMA, analysisMessages, renderAnalysis, type AnalysisAnswer } from '../prompts/generate-analysis.js';
import { SOLUTION_PROMPT_VERSION, SOLUTION_SCHEMA, solutionMessages, type SolutionAnswer } from '../prompts/generate-solution.js';
import type { GeneratedSample, GenerationStep, SynthesisTask, TokenUsage } from '../schemas/contract.js';
import { stopReason, type ModelAccess } from '../llm/model.js';
import type { LlmSuccess } from '../llm/client.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const GENERATE_STAGE = 'generate';

/** The prompt versions of the three steps, in order; together they name a sample's generation. */
export const GENERATE_PROMPT_VERSIONS = [QUESTION_PROMPT_VERSION, ANALYSIS_PROMPT_VERSION, SOLUTION_PROMPT_VERSION] as const;

export interface GenerateConfig {
  access: ModelAccess;
  /** Tasks in flight at once; the client's limiter decides how many requests really are. */
  concurrency: number;
  clock?: () => number;
  /** The packages the prompts offer (the sandbox's allow-list). Default: sandbox/python-packages.txt. */
  allowList?: PackageAllowList;
}

type StepName = 'question' | 'analysis' | 'solution';

interface Step<T> {
  name: StepName;
  messages: LlmMessage[];
  schema: JsonSchemaSpec;
  promptVersion: string;
  validate?: (answer: T) => readonly string[];
}

/** A step that did not give a value: the rejection to emit. */
class StepFailed extends Error {
  constructor(readonly outcome: Outcome<GeneratedSample>) {
    super('generation step failed');
  }
}

export async function generateSample(task: SynthesisTask, config: GenerateConfig): Promise<Outcome<GeneratedSample> | null> {
  const where = { stage: GENERATE_STAGE, recordId: task.taskId };
  const first = questionMessages(task);
  if ('pending' in config.access) {
    // Without a model only the first step can be written down: the others need its answer.
    await config.access.pending({
      ...where, promptVersion: QUESTION_PROMPT_VERSION, messages: first,
      responseFormat: { name: QUESTION_SCHEMA.name, schema: QUESTION_SCHEMA.jsonSchema },
    });
    return null;
  }
  const { model } = config.access;
  const allowList = config.allowList ?? loadAllowList();
  const clock = config.clock ?? Date.now;
  const done: Array<{ step: StepName; result: LlmSuccess<unknown> }> = [];
  const partial: Record<string, unknown> = {};

  const run = async <T>(step: Step<T>): Promise<T> => {
    const result = await model.complete<T>({ messages: step.messages, schema: step.schema, validate: step.validate, promptVersion: step.promptVersion });
    if (!result.ok) {
      throw new StepFailed(reject({
        ...where, reason: `llm-${result.reason}`, detail: `${step.name} step: ${result.detail}`,
        record: { task, step: step.name, ...partial, answer: result.answer ?? null },
      }));
    }
    done.push({ step: step.name, result });
    partial[step.name] = result.value;
    return result.value;
  };

  try {
    const question = await run<QuestionAnswer>({
      name: 'question', messages: first, schema: QUESTION_SCHEMA, promptVersion: QUESTION_PROMPT_VERSION, validate: (a) => checkQuestion(a, task),
    });
    const questionText = renderQuestion(question);
    const analysis = await run<AnalysisAnswer>({
      name: 'analysis', messages: analysisMessages(task, questionText), schema: ANALYSIS_SCHEMA, promptVersion: ANALYSIS_PROMPT_VERSION,
    });
    const analysisText = renderAnalysis(analysis);
    const solution = await run<SolutionAnswer>({
      name: 'solution', messages: solutionMessages(task, questionText, analysisText, allowList), schema: SOLUTION_SCHEMA, promptVersion: SOLUTION_PROMPT_VERSION,
      validate: (a) => checkFiles(a.files, task),
    });

    const steps: GenerationStep[] = done.map(({ step, result }) => {
      const cost = paidUsage(result);
      return { step, model: result.provenance.model, promptVersion: result.provenance.promptVersion, cached: result.cached, promptTokens: cost.promptTokens, completionTokens: cost.completionTokens };
    });
    const last = done[done.length - 1]!.result;
    const models = [...new Set(steps.map((s) => s.model))].join('+');
    const sampleId = createHash('sha1').update([task.taskId, models, ...GENERATE_PROMPT_VERSIONS].join('\u0000')).digest('hex').slice(0, 16);
    return accept({
      sampleId,
      taskId: task.taskId,
      treeKey: task.treeKey,
      level: task.level,
      language: task.targetLanguage,
      instruction: questionText,
      analysis: analysisText,
      files: solution.files.map((f) => ({ path: f.path, role: f.role, content: f.content })),
      // As declared; validation checks them against the allow-list and adds allowed ones it finds imported.
      packages: [...new Set(solution.packages.map(normalizePackageName).filter((p) => p !== ''))],
      features: task.features,
      // The solution step's: it wrote the files. Every step's own is in lineage.steps.
      provenance: last.provenance,
      usage: done.reduce<TokenUsage>((sum, { result }) => {
        const cost = paidUsage(result);
        return { promptTokens: sum.promptTokens + cost.promptTokens, completionTokens: sum.completionTokens + cost.completionTokens, requests: sum.requests + cost.requests };
      }, { promptTokens: 0, completionTokens: 0, requests: 0 }),
      elapsedMs: Math.round(done.reduce((sum, { result }) => sum + result.elapsedMs, 0)),
      validation: null,
      createdAt: clock(),
      question: {
        selectedNodeIds: selectedNodeIds(question, task),
        scenario: question.scenario,
        task: question.task,
        instruction: question.instruction.trim(),
        signature: question.signature,
        examples: question.examples.map((e) => ({ input: e.input, output: e.output })),
      },
      lineage: { treeSeq: task.treeSeq, taskSeed: task.seed, taskIndex: task.index, steps, sources: (task.sources ?? []).map((s) => ({ ...s, nodeIds: [...s.nodeIds] })) },
    });
  } catch (error) {
    if (error instanceof StepFailed) return error.outcome;
    const reason = stopReason(error);
    if (!reason) throw error;
    return reject({ ...where, reason, detail: (error as Error).message });
  }
}

/** What an answer cost, even when it came from the cache this time. */
function paidUsage(result: LlmSuccess<unknown>): TokenUsage {
  const usage = result.cached && result.cachedUsage ? result.cachedUsage : result.usage;
  return { promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, requests: usage.requests };
}

export function generateStage(config: GenerateConfig): OperatorFunction<SynthesisTask, Outcome<GeneratedSample>> {
  // Read once for the stage, not per sample.
  const withList: GenerateConfig = { ...config, allowList: config.allowList ?? loadAllowList() };
  return pipe(
    orderedMergeMap((task: SynthesisTask) => generateSample(task, withList), config.concurrency),
    mergeMap((o) => (o ? [o] : EMPTY)),
  );
}
