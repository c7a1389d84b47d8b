// Tree demonstration prompt (the reference's construct_tree step): the model sees a sample of
// the flat features of one category and arranges them into sub-categories. The tree keeps that
// arrangement, and labels that name those features later are placed by it (processors/evolve.ts).
import type { LlmMessage } from '../llm/structured.js';

export const DEMONSTRATE_PROMPT_VERSION = 'demonstrate-v1';

export interface DemonstrateAnswer {
  groups: Array<{ label: string; features: string[] }>;
}

export const DEMONSTRATE_SCHEMA = {
  name: 'feature_hierarchy',
  jsonSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['groups'],
    properties: {
      groups: {
        type: 'array',
        minItems: 1,
        maxItems: 16,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['label', 'features'],
          properties: {
            label: { type: 'string', minLength: 1, maxLength: 60 },
            features: { type: 'array', minItems: 1, maxItems: 60, items: { type: 'string', minLength: 1, maxLength: 80 } },
          },
        },
      },
    },
  },
};

/** Problems with an answer, as the model is told them on its repair turn: only listed features, each once; groups are short names. */
export function checkDemonstrateAnswer(answer: DemonstrateAnswer, features: readonly string[]): string[] {
  const problems: string[] = [];
  const listed = new Set(features);
  const placed = new Set<string>();
  answer.groups.forEach((g, i) => {
    if (g.label.trim().split(/\s+/).length > 5) problems.push(`/groups/${i}/label: "${g.label.slice(0, 40)}" is not a short name (at most 5 words)`);
    g.features.forEach((f, j) => {
      const key = f.trim().toLowerCase();
      if (!listed.has(key)) problems.push(`/groups/${i}/features/${j}: "${f.slice(0, 40)}" is not one of the listed features`);
      else if (placed.has(key)) problems.push(`/groups/${i}/features/${j}: "${f.slice(0, 40)}" is placed in two groups; place each feature once`);
      placed.add(key);
    });
  });
  return problems;
}

export function demonstrateMessages(category: string, features: readonly string[]): LlmMessage[] {
  return [
    {
      role: 'system',
      content: [
        'You organise features extracted from a large amount of code into a tree.',
        'The features below all belong to one top-level category. Coarse-grained sub-categories contain fine-grained features:',
        'group the features into 2 to 12 sub-categories, each a short lowercase phrase (1 to 4 words) that names what its features have in common,',
        'for example "data parsing" for "json parsing" and "csv parsing". Use only the listed features, each exactly once, spelled as listed;',
        'leave out a feature that fits no group rather than forcing it.',
      ].join('\n'),
    },
    { role: 'user', content: `Category: ${category}\nFeatures:\n${features.map((f) => `- ${f}`).join('\n')}` },
  ];
}
