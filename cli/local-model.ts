// The tiny local model behind an OpenAI-compatible endpoint on 127.0.0.1, as `serve-model`
// runs it and as `run` starts it for itself when no endpoint is configured.
import { existsSync } from 'node:fs';
import { LOCAL_MODEL_ID, LocalModel, defaultLocalModelPath, type LocalModelLimits } from '../llm/local-model.js';
import { startModelServer, type ModelServerOptions } from '../llm/model-server.js';
import { LOCAL_MODEL_RUN } from '../topology/settings.js';
import { endpointConfigured } from './llm-setup.js';
import type { RunOptions } from './run-options.js';

export interface ServedLocalModel {
  baseURL: string;
  model: LocalModel;
  close(): Promise<void>;
}

/** Loads the model and serves it; one line on failure, nothing left running. */
export async function serveLocalModel(
  options: { path?: string; limits?: Partial<LocalModelLimits> } & Pick<ModelServerOptions, 'host' | 'port' | 'maxQueue' | 'onCompletion'>,
): Promise<ServedLocalModel> {
  const model = await LocalModel.open({ ...(options.path ? { path: options.path } : {}), ...(options.limits ? { limits: options.limits } : {}) });
  try {
    const server = await startModelServer(model, options);
    return {
      baseURL: server.baseURL,
      model,
      close: async () => {
        await server.close();
        await model.close();
      },
    };
  } catch (error) {
    await model.close();
    throw error;
  }
}

/** One line naming the model, its size and what to expect of it. */
export function describeLocalModel(model: LocalModel): string {
  return `${LOCAL_MODEL_ID} (135M parameters, 4-bit, CPU, ${model.limits.threads} thread${model.limits.threads === 1 ? '' : 's'}; strings ≤ ${model.limits.maxLength} chars, arrays ≤ ${model.limits.maxItems} items, ≤ ${model.limits.maxTokens} tokens per answer)`;
}

/** Why `run` did not start the local model, for the line that says no model is used. */
export type NoLocalModel = { reason: string };

/**
 * For `run` in local mode with no endpoint for any of its LLM stages: the local model served on
 * a free port, and the options pointed at it, with LOCAL_MODEL_RUN's defaults where no flag was
 * given. `{ reason }` when it is turned off, not installed, or does not load.
 */
export async function localModelForRun(options: RunOptions, log: (line: string) => void): Promise<{ options: RunOptions; close(): Promise<void> } | NoLocalModel> {
  if (options.localModel === false) return { reason: '--no-local-model' };
  if (process.env['TREESYNTH_LOCAL_MODEL'] === 'off') return { reason: 'TREESYNTH_LOCAL_MODEL=off' };
  const settings = { ...options, temperature: undefined, stageModels: { extract: options.extractModel, evolve: options.evolveModel, generate: options.generateModel } };
  if (options.llmStages.length === 0 || options.llmStages.some((stage) => endpointConfigured(settings, stage))) return { reason: 'an endpoint is configured' };
  const path = defaultLocalModelPath();
  if (!existsSync(path)) return { reason: `no local model at ${path} (./setup.sh installs it)` };
  let served: ServedLocalModel;
  try {
    served = await serveLocalModel({ path });
  } catch (error) {
    return { reason: `the local model did not load: ${(error as Error).message.split('\n')[0]}` };
  }
  const given = (name: keyof RunOptions) => options.explicit?.has(name) ?? false;
  const adjusted: RunOptions = {
    ...options,
    llmBaseUrl: served.baseURL,
    // A --model given for another endpoint is kept: the local server answers it with a 404 naming its own.
    model: options.model ?? LOCAL_MODEL_ID,
    llmStages: given('llmStages') ? options.llmStages : [...LOCAL_MODEL_RUN.llmStages],
    tasks: given('tasks') ? options.tasks : LOCAL_MODEL_RUN.tasks,
    concurrency: given('concurrency') ? options.concurrency : LOCAL_MODEL_RUN.concurrency,
    llmTimeout: given('llmTimeout') ? options.llmTimeout : LOCAL_MODEL_RUN.llmTimeoutMs,
    llmRetries: given('llmRetries') ? options.llmRetries : LOCAL_MODEL_RUN.llmRetries,
  };
  if (!options.quiet) {
    log(
      `treesynth: no LLM endpoint configured: using the tiny local model ${describeLocalModel(served.model)} at ${served.baseURL}` +
        ` for ${adjusted.llmStages.join(', ')}, ${adjusted.tasks} task${adjusted.tasks === 1 ? '' : 's'}.` +
        ' Expect most samples to be rejected; set OPENAI_BASE_URL (or --llm-base-url) for a real model, --no-local-model for none',
    );
  }
  return { options: adjusted, close: () => served.close() };
}
