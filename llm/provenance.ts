// What every generated record says about where it came from: the model, the endpoint's host
// (never its credentials or path), the prompt version and the seed.
import type { Provenance } from '../schemas/generated.js';
import { endpointHost } from './errors.js';

export type { Provenance };

/** Prompt version used when neither the client nor the call names one. */
export const DEFAULT_PROMPT_VERSION = 'unversioned';

/** The contract's seed is a plain number; this one means no seed was sent. */
export const NO_SEED = -1;

export function makeProvenance(input: { model: string; baseURL: string; promptVersion?: string | undefined; seed?: number | undefined }): Provenance {
  return {
    model: input.model,
    endpointHost: endpointHost(input.baseURL),
    promptVersion: input.promptVersion ?? DEFAULT_PROMPT_VERSION,
    seed: input.seed ?? NO_SEED,
  };
}
