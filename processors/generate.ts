// Generation: the model turns a synthesis task's features into an instruction (task,
// signature, examples), an analysis, the solution and its tests, as files with paths.
import { createHash } from 'node:crypto';
import { EMPTY, mergeMap, pipe, type OperatorFunction } from 'rxjs';
import { orderedMergeMap } from '../lib/ordered-merge-map.js';
import { GENERATE_PROMPT_VERSION, GENERATE_SCHEMA, checkGenerateAnswer, generateMessages, type GenerateAnswer } from '../prompts/generate-sample.js';
import type { GeneratedSample, SynthesisTask } from '../schemas/contract.js';
import { stopReason, type ModelAccess } from '../llm/model.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const GENERATE_STAGE = 'generate';

export interface GenerateConfig {
  access: ModelAccess;
  /** Tasks in flight at once; the client's limiter decides how many requests really are. */
  concurrency: number;
  clock?: () => number;
}

export async function generateSample(task: SynthesisTask, config: GenerateConfig): Promise<Outcome<GeneratedSample> | null> {
  const messages = generateMessages(task);
  if ('pending' in config.access) {
    await config.access.pending({
      stage: GENERATE_STAGE, recordId: task.taskId, promptVersion: GENERATE_PROMPT_VERSION, messages,
      responseFormat: { name: GENERATE_SCHEMA.name, schema: GENERATE_SCHEMA.jsonSchema },
    });
    return null;
  }
  const where = { stage: GENERATE_STAGE, recordId: task.taskId };
  const clock = config.clock ?? Date.now;
  try {
    const result = await config.access.model.complete<GenerateAnswer>({
      messages, schema: GENERATE_SCHEMA, validate: (answer) => checkGenerateAnswer(answer, task), promptVersion: GENERATE_PROMPT_VERSION,
    });
    if (!result.ok) return reject({ ...where, reason: `llm-${result.reason}`, detail: result.detail, record: { task, answer: result.answer ?? null } });
    // What the sample cost, even when it came from the cache this time.
    const usage = result.cached && result.cachedUsage ? result.cachedUsage : result.usage;
    const sampleId = createHash('sha1').update(`${task.taskId}\u0000${result.provenance.model}\u0000${GENERATE_PROMPT_VERSION}`).digest('hex').slice(0, 16);
    return accept({
      sampleId,
      taskId: task.taskId,
      treeKey: task.treeKey,
      level: task.level,
      language: task.targetLanguage,
      instruction: result.value.instruction,
      analysis: result.value.analysis,
      files: result.value.files.map((f) => ({ path: f.path, role: f.role, content: f.content })),
      features: task.features,
      provenance: result.provenance,
      usage: { promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, requests: usage.requests },
      elapsedMs: Math.round(result.elapsedMs),
      validation: null,
      createdAt: clock(),
    });
  } catch (error) {
    const reason = stopReason(error);
    if (!reason) throw error;
    return reject({ ...where, reason, detail: (error as Error).message });
  }
}

export function generateStage(config: GenerateConfig): OperatorFunction<SynthesisTask, Outcome<GeneratedSample>> {
  return pipe(
    orderedMergeMap((task: SynthesisTask) => generateSample(task, config), config.concurrency),
    mergeMap((o) => (o ? [o] : EMPTY)),
  );
}
