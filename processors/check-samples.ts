// Checking generated samples: decontamination, then the sandbox with its debugging turns.
// Cheap checks first, so nothing is run (or debugged) that would be thrown away.
import { map, pipe, type OperatorFunction } from 'rxjs';
import { orderedMergeMap } from '../lib/ordered-merge-map.js';
import type { GeneratedSample } from '../schemas/contract.js';
import { decontaminateSample, type DecontaminateConfig } from '../quality/contamination.js';
import { accept, type Outcome } from '../schemas/outcome.js';
import { validateSample, type ValidateConfig, type ValidationTally } from './validate.js';

/** The validate stage's operator; undefined when there is nothing to check. */
export function checkSamples(
  decontamination: DecontaminateConfig | undefined,
  validation: ValidateConfig | undefined,
  tally?: ValidationTally,
): OperatorFunction<GeneratedSample, Outcome<GeneratedSample>> | undefined {
  if (!decontamination && !validation) return undefined;
  return pipe(
    map((sample: GeneratedSample) => (decontamination ? decontaminateSample(sample, decontamination) : accept(sample))),
    orderedMergeMap(async (o: Outcome<GeneratedSample>) => {
      if (!o.ok || !validation) return o;
      const checked = await validateSample(o.value, validation);
      tally?.add(checked);
      return checked;
    }, validation?.concurrency ?? 1),
  );
}
