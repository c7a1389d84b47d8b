// Embeddings from any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, LiteLLM, ...). Answers
// are checked here, at the edge, so the rest of the pipeline can trust every vector: one per
// input, finite numbers, one dimension, unit length.
import OpenAI from 'openai';
import { normalise, type Embedder } from './embedder.js';

export interface OpenAIEmbedderOptions {
  /** Default: `OPENAI_BASE_URL`, else the OpenAI API. */
  baseURL?: string;
  /** Default: `OPENAI_API_KEY`; may be omitted for a custom `baseURL` that needs no key. */
  apiKey?: string;
  model: string;
  /** Expected vector length; learned from the first answer when omitted. */
  dimension?: number;
  /** Send `dimensions: dimension` in each request (text-embedding-3 models can shorten vectors). Default false. */
  requestDimensions?: boolean;
  /** Inputs per request; default 256. */
  batchSize?: number;
  /** Requests in flight at once; default 1. */
  concurrency?: number;
  /** Deadline of one request in ms, headers and body (the `openai` client's timeout); default 60 s, as the LLM stages'. */
  timeoutMs?: number;
  /** Retries on connection errors, 408/409/429/5xx; default: the `openai` client's (2). */
  maxRetries?: number;
  /** Inputs longer than this many characters are cut, to stay under the model's token limit. */
  maxInputChars?: number;
}

export const DEFAULT_EMBEDDING_TIMEOUT_MS = 60_000;

/** A failed or malformed embeddings call. `status` is the HTTP status when there was one. */
export class OpenAIEmbeddingError extends Error {
  override readonly name = 'OpenAIEmbeddingError';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function positiveInteger(value: number | undefined, what: string): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
    throw new Error(`OpenAIEmbedder: ${what} must be a positive integer, got ${value}`);
  }
  return value;
}

export class OpenAIEmbedder implements Embedder {
  readonly name: string;
  private readonly client: OpenAI;
  private readonly model: string;
  private readonly baseURL: string;
  private readonly apiKey: string;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly requestDimensions: boolean;
  private readonly maxInputChars: number | undefined;
  private knownDimension: number | undefined;

  constructor(options: OpenAIEmbedderOptions) {
    if (!options.model) throw new Error('OpenAIEmbedder: model is required');
    this.model = options.model;
    this.name = `openai:${options.model}`;
    this.knownDimension = positiveInteger(options.dimension, 'dimension');
    this.batchSize = positiveInteger(options.batchSize, 'batchSize') ?? 256;
    this.concurrency = positiveInteger(options.concurrency, 'concurrency') ?? 1;
    this.maxInputChars = positiveInteger(options.maxInputChars, 'maxInputChars');
    this.requestDimensions = options.requestDimensions ?? false;
    if (this.requestDimensions && this.knownDimension === undefined) {
      throw new Error('OpenAIEmbedder: requestDimensions needs dimension');
    }
    const baseURL = options.baseURL ?? process.env['OPENAI_BASE_URL'] ?? undefined;
    const apiKey = options.apiKey ?? process.env['OPENAI_API_KEY'];
    if (!apiKey && !baseURL) {
      throw new Error('OpenAIEmbedder: no API key (set apiKey or OPENAI_API_KEY), and no custom baseURL');
    }
    // Local OpenAI-compatible servers often need no key, but the client insists on one.
    this.apiKey = apiKey || 'no-key';
    this.client = new OpenAI({
      apiKey: this.apiKey,
      baseURL: baseURL ?? null,
      // The client's own default is 10 minutes: one endpoint that stops answering would hold a run that long.
      timeout: options.timeoutMs ?? DEFAULT_EMBEDDING_TIMEOUT_MS,
      ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
    });
    this.baseURL = this.client.baseURL;
  }

  get dimension(): number {
    if (this.knownDimension === undefined) {
      throw new Error(`${this.name}: dimension is not known until the first embed() call; configure \`dimension\` to know it up front`);
    }
    return this.knownDimension;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(texts.length);
    const batches: number[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) batches.push(start);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < batches.length) {
        const start = batches[next++]!;
        try {
          const vectors = await this.embedBatch(texts.slice(start, start + this.batchSize));
          for (let i = 0; i < vectors.length; i++) out[start + i] = vectors[i]!;
        } catch (error) {
          failed = true; // stop the other workers from sending more
          throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, worker));
    return out;
  }

  private async embedBatch(texts: readonly string[]): Promise<Float32Array[]> {
    // The API rejects empty strings; a single space embeds to "nothing" as well.
    const input = texts.map((t) => {
      const cut = this.maxInputChars !== undefined && t.length > this.maxInputChars ? t.slice(0, this.maxInputChars) : t;
      return cut.length === 0 ? ' ' : cut;
    });
    let response: unknown;
    try {
      response = await this.client.embeddings.create({
        model: this.model,
        input,
        encoding_format: 'float',
        ...(this.requestDimensions ? { dimensions: this.knownDimension } : {}),
      });
    } catch (error) {
      throw this.describe(error);
    }
    return this.parse(response, texts.length);
  }

  /** A clear, key-free error for a failed request. */
  private describe(error: unknown): OpenAIEmbeddingError {
    const where = `${this.name} at ${this.baseURL}`;
    if (error instanceof OpenAI.APIConnectionTimeoutError) {
      return new OpenAIEmbeddingError(`${where}: request timed out`, undefined, { cause: error });
    }
    if (error instanceof OpenAI.APIConnectionError) {
      return new OpenAIEmbeddingError(`${where}: connection failed: ${this.redact(error.message)}`, undefined, { cause: error });
    }
    if (error instanceof OpenAI.APIError) {
      const status = error.status;
      const hint =
        status === 401 ? ' (authentication failed: check apiKey / OPENAI_API_KEY)'
        : status === 403 ? ' (permission denied)'
        : status === 404 ? ' (unknown model or wrong baseURL?)'
        : status === 429 ? ' (rate limited; retries exhausted)'
        : '';
      const detail = this.redact(error.message).replace(/^\d{3} /, '');
      return new OpenAIEmbeddingError(`${where}: HTTP ${status ?? '?'}${hint}: ${detail}`, status, { cause: error });
    }
    if (error instanceof SyntaxError) {
      return new OpenAIEmbeddingError(`${where}: malformed embeddings answer: not JSON (${error.message})`, undefined, { cause: error });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new OpenAIEmbeddingError(`${where}: ${this.redact(message)}`, undefined, { cause: error });
  }

  private redact(message: string): string {
    return this.apiKey.length >= 4 ? message.split(this.apiKey).join('[redacted]') : message;
  }

  private parse(response: unknown, expected: number): Float32Array[] {
    const fail = (why: string): never => {
      throw new OpenAIEmbeddingError(`${this.name} at ${this.baseURL}: malformed embeddings answer: ${why}`);
    };
    const data = typeof response === 'object' && response !== null ? (response as { data?: unknown }).data : undefined;
    if (!Array.isArray(data)) return fail('no `data` array');
    if (data.length !== expected) return fail(`${data.length} embeddings for ${expected} inputs`);
    const out = new Array<Float32Array | undefined>(expected).fill(undefined);
    for (let k = 0; k < data.length; k++) {
      const item: unknown = data[k];
      if (typeof item !== 'object' || item === null) return fail(`data[${k}] is not an object`);
      const { index, embedding } = item as { index?: unknown; embedding?: unknown };
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= expected) {
        return fail(`data[${k}].index is ${JSON.stringify(index)}, expected an integer in [0, ${expected})`);
      }
      if (out[index] !== undefined) return fail(`index ${index} appears twice`);
      if (!Array.isArray(embedding)) return fail(`data[${k}].embedding is not an array of numbers`);
      const dimension = this.knownDimension ?? embedding.length;
      if (embedding.length !== dimension || dimension === 0) {
        return fail(`data[${k}].embedding has ${embedding.length} numbers, expected ${dimension}`);
      }
      const v = new Float32Array(dimension);
      let norm = 0;
      for (let i = 0; i < dimension; i++) {
        const x: unknown = embedding[i];
        if (typeof x !== 'number' || !Number.isFinite(x)) return fail(`data[${k}].embedding[${i}] is ${JSON.stringify(x)}, not a finite number`);
        v[i] = x;
        norm += x * x;
      }
      if (norm === 0) return fail(`data[${k}].embedding is all zeros`);
      this.knownDimension = dimension;
      out[index] = normalise(v);
    }
    return out as Float32Array[];
  }
}
