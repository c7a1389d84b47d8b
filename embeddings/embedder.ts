// One interface for every way of turning text into vectors: the offline lexical default and
// any OpenAI-compatible embeddings endpoint. Vectors are unit length, so inner product is
// cosine similarity.
export interface Embedder {
  /** Stable name that says what the vectors mean, e.g. `lexical-label-v1` or `openai:text-embedding-3-small`. */
  readonly name: string;
  /** Length of every vector; for remote models learned from the first answer if not configured. */
  readonly dimension: number;
  /** One unit-length vector per text, in order. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

export function normalise(v: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm;
  return v;
}
