// Generation, step 3 of 3: the solution and its tests, written from the question and the
// analysis, as files with relative paths.
import type { LlmMessage } from '../llm/structured.js';
import type { SynthesisTask } from '../schemas/contract.js';
import type { PackageAllowList } from '../sandbox/packages.js';
import { PACKAGES_PROPERTY, SCOPE, TEST_RUNNERS, packagesInstruction, type GenerateAnswer } from './generate-sample.js';

// v2: the answer declares its packages, and the prompt offers the sandbox's allow-list.
export const SOLUTION_PROMPT_VERSION = 'solution-v2';

export interface SolutionAnswer {
  files: GenerateAnswer['files'];
  packages: string[];
}

export const SOLUTION_SCHEMA = {
  name: 'code_solution',
  jsonSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['files', 'packages'],
    properties: {
      files: {
        type: 'array',
        minItems: 2,
        maxItems: 12,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['path', 'role', 'content'],
          properties: {
            path: { type: 'string', minLength: 1, maxLength: 200 },
            role: { type: 'string', enum: ['solution', 'test'] },
            content: { type: 'string', minLength: 1, maxLength: 30_000 },
          },
        },
      },
      packages: PACKAGES_PROPERTY,
    },
  },
};

/** The student's prompt says "standard library only"; here the allow-listed packages follow. */
const SOLUTION_TEST_RUNNERS: Record<string, string> = { ...TEST_RUNNERS, python: 'plain Python with assert statements or pytest-style test functions (pytest is installed)' };

/** `question` and `analysis` are the rendered outputs of the first two steps. */
export function solutionMessages(task: SynthesisTask, question: string, analysis: string, allowList: PackageAllowList): LlmMessage[] {
  return [
    {
      role: 'system',
      content: [
        `You write ${task.targetLanguage} reference solutions and their tests for programming exercises.`,
        `Scope: ${SCOPE[task.level]}.`,
        'Implement the question exactly as specified (its signature and examples), using the analysis.',
        'Answer files: the solution file(s) (role "solution") and test file(s) (role "test") with relative paths.',
        `Tests use ${SOLUTION_TEST_RUNNERS[task.targetLanguage] ?? 'the standard library'}; they cover the examples, the boundary cases`,
        'and the extra test cases of the analysis, must pass against the solution, run offline and quickly,',
        'and touch nothing outside their own directory.',
        packagesInstruction(task.targetLanguage, allowList),
      ].join('\n'),
    },
    { role: 'user', content: `QUESTION:\n${question}\n\nANALYSIS:\n${analysis}` },
  ];
}
