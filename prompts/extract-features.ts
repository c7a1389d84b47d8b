// Feature extraction prompt: the model reads one file and names its features under the
// method's fixed categories. Answers are a flat list of label paths, which strict structured
// outputs can express and canonicalization can walk.
import type { LlmMessage } from '../llm/structured.js';
import { FEATURE_CATEGORIES } from '../schemas/categories.js';

export const EXTRACT_PROMPT_VERSION = 'extract-v1';

export interface ExtractAnswer {
  features: Array<{ category: string; labels: string[] }>;
  summary: string;
  purpose: string;
  scenario: string;
}

export const EXTRACT_SCHEMA = {
  name: 'code_features',
  jsonSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['features', 'summary', 'purpose', 'scenario'],
    properties: {
      features: {
        type: 'array',
        minItems: 1,
        maxItems: 80,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['category', 'labels'],
          properties: {
            category: { type: 'string', enum: [...FEATURE_CATEGORIES] },
            labels: { type: 'array', minItems: 1, maxItems: 4, items: { type: 'string', minLength: 1, maxLength: 80 } },
          },
        },
      },
      summary: { type: 'string', maxLength: 1000 },
      purpose: { type: 'string', maxLength: 1000 },
      scenario: { type: 'string', maxLength: 1000 },
    },
  },
};

/** Labels are short phrases: more than eight words is prose, and prose does not merge. */
export function checkExtractAnswer(answer: ExtractAnswer): string[] {
  const problems: string[] = [];
  answer.features.forEach((f, i) =>
    f.labels.forEach((label, j) => {
      if (label.trim().split(/\s+/).length > 8) problems.push(`/features/${i}/labels/${j}: "${label.slice(0, 40)}…" is a sentence; use a short phrase of at most 8 words`);
    }),
  );
  return problems;
}

export function extractMessages(file: { path: string; language: string; content: string }, maxChars: number): LlmMessage[] {
  const truncated = file.content.length > maxChars;
  const code = truncated ? `${file.content.slice(0, maxChars)}\n… [truncated: ${file.content.length - maxChars} more characters]` : file.content;
  return [
    {
      role: 'system',
      content: [
        'You analyse source code and describe its features for a feature tree.',
        `Use only these top-level categories: ${FEATURE_CATEGORIES.join(', ')}.`,
        'Each feature is a category and a path of 1 to 4 labels below it, most general first,',
        'for example {"category": "data processing", "labels": ["data transformation", "json serialization"]}',
        'or {"category": "algorithm", "labels": ["sorting", "merge sort"]}.',
        'Labels are short lowercase phrases (1 to 5 words), not sentences, and name what the code does,',
        'not identifiers from it. Cover every category that applies; skip those that do not.',
        'Also give a one-sentence summary, the purpose of the code, and a potential scenario where it is used.',
      ].join('\n'),
    },
    { role: 'user', content: `File: ${file.path}\nLanguage: ${file.language}\n\n\`\`\`${file.language}\n${code}\n\`\`\`` },
  ];
}
