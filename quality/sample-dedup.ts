// Output diversity: a generated sample that teaches what an accepted one already teaches, in
// other words or other code, adds little and skews the data toward what the model likes to
// write. Each sample is embedded over its instruction and its solution (each embedded alone,
// then averaged: MiniLM reads 256 word pieces, so one text of both would lose the solution),
// and dropped as `near-duplicate-sample` when an accepted sample lies within the cosine radius.
// Accepted vectors live in a SampleIndex (stores/), keyed by sample id.
import type { Embedder } from '../embeddings/embedder.js';
import { normalise } from '../embeddings/embedder.js';
import type { GeneratedSample } from '../schemas/contract.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';
import type { SampleIndex } from '../stores/sample-index.js';

export const SAMPLE_DEDUP_STAGE = 'dedup-samples';
export const NEAR_DUPLICATE_SAMPLE_REASON = 'near-duplicate-sample';

export interface SampleDedupConfig {
  store: SampleIndex;
  embedder: Embedder;
  /** Cosine distance (1 - similarity) within which a sample duplicates an accepted one; 0 disables. */
  radius: number;
}

/** The solution files' text, in order (a sample without one: its instruction alone counts). */
export function solutionText(sample: Pick<GeneratedSample, 'files'>): string {
  return sample.files.filter((f) => f.role === 'solution').map((f) => f.content).join('\n');
}

/** One unit vector per sample: the mean of its instruction's and its solution's vectors. */
export async function sampleVectors(embedder: Embedder, samples: ReadonlyArray<Pick<GeneratedSample, 'instruction' | 'files'>>): Promise<Float32Array[]> {
  const texts = samples.flatMap((s) => {
    const solution = solutionText(s);
    return solution.trim() === '' ? [s.instruction] : [s.instruction, solution];
  });
  const vectors = await embedder.embed(texts);
  let at = 0;
  return samples.map((s) => {
    const instruction = vectors[at++]!;
    if (solutionText(s).trim() === '') return instruction;
    const solution = vectors[at++]!;
    const mean = new Float32Array(instruction.length);
    for (let i = 0; i < mean.length; i++) mean[i] = instruction[i]! + solution[i]!;
    return normalise(mean);
  });
}

/**
 * One sample: rejected when an accepted sample lies within the radius, else accepted and stored.
 * Call in input order, one at a time: whether a sample is kept depends on those before it.
 */
export async function dedupSample(sample: GeneratedSample, config: SampleDedupConfig): Promise<Outcome<GeneratedSample>> {
  if (config.radius <= 0) return accept(sample);
  const [vector] = await sampleVectors(config.embedder, [sample]);
  const nearest = config.store.nearest(vector!, sample.sampleId);
  if (nearest && 1 - nearest.similarity <= config.radius) {
    return reject({
      stage: SAMPLE_DEDUP_STAGE,
      reason: NEAR_DUPLICATE_SAMPLE_REASON,
      detail: `instruction + solution within cosine distance ${(1 - nearest.similarity).toFixed(3)} ≤ ${config.radius} of accepted sample ${nearest.sampleId} (${config.embedder.name})`,
      recordId: sample.sampleId,
      source: nearest.sampleId,
      record: sample,
    });
  }
  config.store.add(sample.sampleId, vector!);
  return accept(sample);
}
