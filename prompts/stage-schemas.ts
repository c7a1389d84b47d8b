// The answer schemas each pipeline stage asks its model for, so a run can compile them when it
// opens its clients: a schema that does not compile stops the run before any request is paid
// for, and the first answers do not wait for the compiler (about 0.1 s for a client's first
// schema, while the run's first requests would otherwise queue behind it).
import type { JsonSchemaSpec } from '../llm/structured.js';
import { DEBUG_SCHEMA } from './debug-sample.js';
import { DEMONSTRATE_SCHEMA } from './demonstrate-tree.js';
import { EVOLVE_SCHEMA } from './evolve-tree.js';
import { EXTRACT_SCHEMA } from './extract-features.js';
import { ANALYSIS_SCHEMA } from './generate-analysis.js';
import { QUESTION_SCHEMA } from './generate-question.js';
import { SOLUTION_SCHEMA } from './generate-solution.js';

/**
 * By stage (topology/settings.ts LLM_STAGES, and `validate`, the debugging turns' model). The
 * student's schema depends on each task, so it is not here.
 */
export const STAGE_SCHEMAS: Readonly<Record<'extract' | 'evolve' | 'generate' | 'validate', readonly JsonSchemaSpec[]>> = {
  extract: [EXTRACT_SCHEMA],
  evolve: [EVOLVE_SCHEMA, DEMONSTRATE_SCHEMA],
  generate: [QUESTION_SCHEMA, ANALYSIS_SCHEMA, SOLUTION_SCHEMA],
  validate: [DEBUG_SCHEMA],
};

/** The schemas of `stage`; none for a stage this map does not know (a command's own client). */
export function schemasOf(stage: string): readonly JsonSchemaSpec[] {
  return Object.hasOwn(STAGE_SCHEMAS, stage) ? STAGE_SCHEMAS[stage as keyof typeof STAGE_SCHEMAS] : [];
}
