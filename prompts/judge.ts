// The LLM judge, as the EpiCoder paper evaluates its data: a strong model scores each sample's
// solution on complexity dimensions (1-10, with a reason for each score) and lists the
// sample's features in the method's categories, so diversity can be measured as the number of
// distinct features across the judged samples. Change the wording, change the version: the
// version goes into provenance and the response-cache key, so old verdicts are not reused.
import type { LlmMessage } from '../llm/structured.js';
import { FEATURE_CATEGORIES } from '../schemas/categories.js';
import type { GeneratedSample } from '../schemas/contract.js';

export const JUDGE_PROMPT_VERSION = 'judge-v1';

/** The complexity dimensions, each scored 1 (trivial) to 10 (expert-level). */
export const COMPLEXITY_DIMENSIONS = [
  'error_handling',
  'modularity',
  'data_structure_complexity',
  'time_complexity',
  'space_complexity',
  'third_party_dependencies',
] as const;
export type ComplexityDimension = (typeof COMPLEXITY_DIMENSIONS)[number];

/** What each score means, shown to the judge so scores stay comparable between runs and models. */
const RUBRIC: Readonly<Record<ComplexityDimension, string>> = {
  error_handling: 'how thoroughly failures are anticipated and handled: 1 = none; 5 = input checks and a few exceptions caught or raised; 10 = systematic handling with specific error types, recovery or cleanup, and clear messages',
  modularity: 'how the code is decomposed: 1 = one monolithic block; 5 = several focused functions or a class; 10 = cohesive modules/classes with clear interfaces and separation of concerns',
  data_structure_complexity: 'the data structures used and designed: 1 = scalars and a flat list; 5 = dictionaries, sets, nested collections, simple records; 10 = custom or composite structures (trees, graphs, heaps, indexes) chosen for the problem',
  time_complexity: 'the algorithmic sophistication of the computation: 1 = constant work or a single pass with no algorithmic idea; 5 = nested iteration, sorting, searching; 10 = non-trivial algorithms (dynamic programming, graph algorithms, careful optimisation)',
  space_complexity: 'how much reasoning about memory the solution involves: 1 = none needed; 5 = auxiliary collections sized by the input; 10 = deliberate trade-offs (caching, streaming, in-place updates, bounded buffers)',
  third_party_dependencies: 'reliance on libraries beyond the language core: 1 = none; 5 = several standard-library modules used substantively; 10 = an integration of several external libraries or frameworks',
};

export interface DimensionVerdict {
  score: number;
  reason: string;
}

export interface JudgeAnswer {
  complexity: Record<ComplexityDimension, DimensionVerdict>;
  features: Array<{ category: string; labels: string[] }>;
}

const verdictSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['score', 'reason'],
  properties: {
    score: { type: 'integer', minimum: 1, maximum: 10 },
    reason: { type: 'string', minLength: 1 },
  },
};

export const JUDGE_SCHEMA = {
  name: 'sample_judgement',
  jsonSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['complexity', 'features'],
    properties: {
      complexity: {
        type: 'object',
        additionalProperties: false,
        required: [...COMPLEXITY_DIMENSIONS],
        properties: Object.fromEntries(COMPLEXITY_DIMENSIONS.map((d) => [d, verdictSchema])),
      },
      features: {
        type: 'array',
        maxItems: 40,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['category', 'labels'],
          properties: {
            category: { type: 'string', enum: [...FEATURE_CATEGORIES] },
            labels: { type: 'array', minItems: 1, maxItems: 12, items: { type: 'string', minLength: 1, maxLength: 80 } },
          },
        },
      },
    },
  },
};

/** Checks beyond the schema (servers that ignore `response_format` still get held to the rules). */
export function checkJudgeAnswer(answer: JudgeAnswer): string[] {
  const problems: string[] = [];
  for (const d of COMPLEXITY_DIMENSIONS) {
    const v = answer.complexity[d];
    if (!v || !Number.isInteger(v.score) || v.score < 1 || v.score > 10) problems.push(`/complexity/${d}/score: must be a whole number from 1 to 10`);
    else if (v.reason.trim() === '') problems.push(`/complexity/${d}/reason: must say why`);
  }
  return problems;
}

/** Characters of solution code shown to the judge; past it the files are cut and it is told so. */
export const JUDGE_MAX_CHARS = 16_000;

export function judgeMessages(sample: GeneratedSample, maxChars: number = JUDGE_MAX_CHARS): LlmMessage[] {
  let budget = maxChars;
  const shown: string[] = [];
  for (const file of sample.files.filter((f) => f.role === 'solution')) {
    if (budget <= 0) {
      shown.push(`### ${file.path}\n(omitted: the code shown is cut at ${maxChars} characters)`);
      continue;
    }
    const content = file.content.length > budget ? `${file.content.slice(0, budget)}\n… (cut here)` : file.content;
    budget -= file.content.length;
    shown.push(`### ${file.path}\n${content}`);
  }
  const rubric = COMPLEXITY_DIMENSIONS.map((d) => `- ${d}: ${RUBRIC[d]}`).join('\n');
  return [
    {
      role: 'system',
      content: [
        'You are an experienced software engineer who rates the complexity of code in instruction-tuning data for code models.',
        'Rate the SOLUTION (not the task wording) on each dimension from 1 to 10, and give a one-sentence reason for each score that points at the code.',
        'Rate what the code does, not what it could do; short code can still score high where it is sophisticated.',
        rubric,
        `Then list the features the solution exhibits, as short lowercase labels grouped under these categories: ${FEATURE_CATEGORIES.join(', ')}.`,
        'Use only categories that apply. Answer with JSON only.',
      ].join('\n'),
    },
    {
      role: 'user',
      content: [`Language: ${sample.language}`, `Level: ${sample.level}`, 'Task:', sample.instruction, '', 'Solution files:', ...shown].join('\n'),
    },
  ];
}
