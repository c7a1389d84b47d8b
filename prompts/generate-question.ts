// Generation, step 1 of 3: the question. From the sampled features the model selects the
// ones that fit together, imagines a real-world scenario, and writes a detailed task, a
// one-line instruction, the signature(s) to implement and input/output examples. No code yet.
import type { LlmMessage } from '../llm/structured.js';
import type { SynthesisTask } from '../schemas/contract.js';
import { SCOPE, numberedFeatures } from './generate-sample.js';

export const QUESTION_PROMPT_VERSION = 'question-v1';

export interface QuestionAnswer {
  /** 1-based numbers of the features the task combines, as listed in the prompt. */
  features: number[];
  scenario: string;
  task: string;
  instruction: string;
  signature: string;
  examples: Array<{ input: string; output: string }>;
}

/** Most features one question may select; a multi_file task lists dozens, a program combines a handful. */
const MAX_FEATURES = 64;

// Every string and array is bounded: small models loop on open schemas until the token limit.
export const QUESTION_SCHEMA = {
  name: 'code_question',
  jsonSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['features', 'scenario', 'task', 'instruction', 'signature', 'examples'],
    properties: {
      features: { type: 'array', minItems: 1, maxItems: MAX_FEATURES, items: { type: 'integer', minimum: 1 } },
      scenario: { type: 'string', minLength: 20, maxLength: 1200 },
      task: { type: 'string', minLength: 40, maxLength: 4000 },
      instruction: { type: 'string', minLength: 10, maxLength: 300 },
      signature: { type: 'string', minLength: 1, maxLength: 800 },
      examples: {
        type: 'array',
        minItems: 1,
        maxItems: 5,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['input', 'output'],
          properties: { input: { type: 'string', maxLength: 600 }, output: { type: 'string', maxLength: 600 } },
        },
      },
    },
  },
};

/** Checks the schema cannot express: selected numbers exist, none twice, every mandatory feature chosen, one-line instruction. */
export function checkQuestion(answer: QuestionAnswer, task: SynthesisTask): string[] {
  const problems: string[] = [];
  const seen = new Set<number>();
  answer.features.forEach((n, i) => {
    if (n > task.features.length) problems.push(`/features/${i}: ${n} is not a listed feature (1 to ${task.features.length})`);
    if (seen.has(n)) problems.push(`/features/${i}: ${n} is selected twice`);
    seen.add(n);
  });
  task.features.forEach((f, i) => {
    if (f.mandatory && !seen.has(i + 1)) problems.push(`/features: mandatory feature ${i + 1} (${f.path.join(' > ')}) is not selected`);
  });
  if (/[\r\n]/.test(answer.instruction.trim())) problems.push('/instruction: must be one line');
  return problems;
}

/** The node ids of the features the question selected (the answer passed checkQuestion). */
export function selectedNodeIds(answer: QuestionAnswer, task: SynthesisTask): string[] {
  return answer.features.map((n) => task.features[n - 1]!.nodeId);
}

/** The self-contained task text a sample carries as its instruction: task, signature, examples. */
export function renderQuestion(answer: QuestionAnswer): string {
  const examples = answer.examples.map((e) => `- input: ${e.input}\n  output: ${e.output}`).join('\n');
  return `${answer.task.trim()}\n\nImplement:\n${answer.signature.trim()}\n\nExamples:\n${examples}`;
}

export function questionMessages(task: SynthesisTask): LlmMessage[] {
  return [
    {
      role: 'system',
      content: [
        `You design ${task.targetLanguage} programming exercises for training code models, grounded in features of real-world code.`,
        `The exercise asks for ${SCOPE[task.level]}.`,
        'Work in this order:',
        '1. features: select, by number, the listed features that combine naturally into one program; every mandatory feature must be among them.',
        '2. scenario: a concrete real-world situation in which the selected features matter.',
        '3. task: a detailed description of the problem to solve in that scenario, with concrete values and rules, so that',
        '   a programmer needs to guess nothing; it must require reasoning, and contain no code and no hints on how to implement it.',
        '4. instruction: one sentence that states the overall goal.',
        `5. signature: the exact ${task.targetLanguage} signature(s) to implement (names, parameters, return types), no bodies.`,
        '6. examples: inputs with the exact outputs the signature must return for them.',
        'Write no solution and no tests: later steps do that.',
      ].join('\n'),
    },
    {
      role: 'user',
      content: `Features of real-world code:\n${numberedFeatures(task)}`,
    },
  ];
}
