// The student's turn: a validated task's instruction (with its signature and examples), solved
// without seeing the teacher's solution or tests. The answer fills exactly the solution files the
// teacher's tests import, so the same tests judge it.
import type { JsonSchemaSpec, LlmMessage } from '../llm/structured.js';
import type { GeneratedSample } from '../schemas/contract.js';
import { TEST_RUNNERS } from './generate-sample.js';

export const STUDENT_PROMPT_VERSION = 'student-v1';

export interface StudentAnswer {
  files: Array<{ path: string; content: string }>;
}

/** One entry per solution file of the teacher's sample, by path. */
export function studentSchema(solutionPaths: readonly string[]): JsonSchemaSpec {
  return {
    name: 'student_solution',
    jsonSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['files'],
      properties: {
        files: {
          type: 'array',
          minItems: solutionPaths.length,
          maxItems: solutionPaths.length,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['path', 'content'],
            properties: {
              path: { type: 'string', enum: [...solutionPaths] },
              content: { type: 'string', minLength: 1, maxLength: 30_000 },
            },
          },
        },
      },
    },
  };
}

/** What the schema cannot say: every solution path answered once. */
export function checkStudentAnswer(answer: StudentAnswer, solutionPaths: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  answer.files.forEach((f, i) => {
    if (!solutionPaths.includes(f.path)) problems.push(`/files/${i}/path: "${f.path}" is not one of ${solutionPaths.join(', ')}`);
    if (seen.has(f.path)) problems.push(`/files/${i}/path: "${f.path}" appears twice`);
    seen.add(f.path);
  });
  for (const p of solutionPaths) if (!seen.has(p)) problems.push(`/files: no content for "${p}"`);
  return problems;
}

export function studentMessages(sample: Pick<GeneratedSample, 'language' | 'instruction'>, solutionPaths: readonly string[]): LlmMessage[] {
  return [
    {
      role: 'system',
      content: [
        `You solve ${sample.language} programming tasks.`,
        'Write complete, working code for every file asked for; tests you do not see will import it',
        `and check it with ${TEST_RUNNERS[sample.language] ?? 'the standard toolchain'}.`,
        'Use the standard library only. Answer the files as JSON.',
      ].join('\n'),
    },
    {
      role: 'user',
      content: [`Task:\n${sample.instruction}`, `Write these files: ${solutionPaths.join(', ')}`].join('\n\n'),
    },
  ];
}
