// Generation, step 2 of 3: the analysis. Before any code, the model studies the question in
// the reference method's four steps: the question and its examples, boundary cases,
// prerequisites, then extra test cases with why they are right.
import type { LlmMessage } from '../llm/structured.js';
import type { SynthesisTask } from '../schemas/contract.js';

export const ANALYSIS_PROMPT_VERSION = 'analysis-v1';

export interface AnalysisAnswer {
  understanding: string;
  boundaryCases: string[];
  prerequisites: string;
  extraTests: Array<{ input: string; expected: string; reason: string }>;
}

export const ANALYSIS_SCHEMA = {
  name: 'code_analysis',
  jsonSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['understanding', 'boundaryCases', 'prerequisites', 'extraTests'],
    properties: {
      understanding: { type: 'string', minLength: 20, maxLength: 2000 },
      boundaryCases: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'string', minLength: 1, maxLength: 300 } },
      prerequisites: { type: 'string', minLength: 1, maxLength: 1500 },
      extraTests: {
        type: 'array',
        minItems: 1,
        maxItems: 8,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['input', 'expected', 'reason'],
          properties: {
            input: { type: 'string', maxLength: 600 },
            expected: { type: 'string', maxLength: 600 },
            reason: { type: 'string', maxLength: 300 },
          },
        },
      },
    },
  },
};

/** The analysis as the text a sample carries, one numbered section per step. */
export function renderAnalysis(answer: AnalysisAnswer): string {
  return [
    `1. The question and its examples\n${answer.understanding.trim()}`,
    `2. Boundary cases\n${answer.boundaryCases.map((c) => `- ${c}`).join('\n')}`,
    `3. Prerequisites\n${answer.prerequisites.trim()}`,
    `4. Extra test cases\n${answer.extraTests.map((t) => `- input: ${t.input}\n  expected: ${t.expected}\n  because: ${t.reason}`).join('\n')}`,
  ].join('\n\n');
}

/** `question` is the rendered question (task, signature, examples). */
export function analysisMessages(task: SynthesisTask, question: string): LlmMessage[] {
  return [
    {
      role: 'system',
      content: [
        `You are a ${task.targetLanguage} expert. Analyse the programming question you are given; do not write its implementation.`,
        'Answer in four steps:',
        '1. understanding: what the question asks, and why each of its examples has the output it has.',
        '2. boundaryCases: the boundary and error cases a correct solution must handle, one per item.',
        '3. prerequisites: the knowledge, data structures, algorithms and standard-library modules the solution needs.',
        '4. extraTests: further test cases beyond the examples, each with its exact expected result and why it is correct.',
      ].join('\n'),
    },
    { role: 'user', content: `QUESTION:\n${question}` },
  ];
}
