// Tree evolution prompt: the model sees a sampled part of the feature tree and proposes new
// nodes, deeper (children under leaves) and broader (new siblings).
import type { LlmMessage } from '../llm/structured.js';

export const EVOLVE_PROMPT_VERSION = 'evolve-v1';

export interface EvolveAnswer {
  additions: Array<{ parent: string[]; labels: string[] }>;
}

export const EVOLVE_SCHEMA = {
  name: 'feature_tree_expansion',
  jsonSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['additions'],
    properties: {
      additions: {
        type: 'array',
        minItems: 1,
        maxItems: 60,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['parent', 'labels'],
          properties: {
            parent: { type: 'array', minItems: 1, maxItems: 6, items: { type: 'string', minLength: 1, maxLength: 80 } },
            labels: { type: 'array', minItems: 1, maxItems: 8, items: { type: 'string', minLength: 1, maxLength: 80 } },
          },
        },
      },
    },
  },
};

/** The sampled subtree as nested JSON: inner nodes are objects, leaves are lists of labels. */
export type SubtreeJson = { [label: string]: SubtreeJson | string[] };

export function evolveMessages(subtree: SubtreeJson, minSiblings: number): LlmMessage[] {
  return [
    {
      role: 'system',
      content: [
        'You grow a feature tree of source code. Each node is a feature; children are more specific features.',
        'Expand the given part of the tree in two ways:',
        '- depth: add more specific sub-features under leaves that have a meaningful refinement;',
        `- breadth: add at least ${minSiblings} new sibling features next to the existing ones at each level.`,
        'Answer with additions: each names a parent by its full path of labels from the top-level category',
        '(the path must exist in the given tree) and the new labels to add under it.',
        'New labels are short lowercase phrases (1 to 5 words), realistic features of real programs,',
        'and must not repeat or rephrase labels already present.',
      ].join('\n'),
    },
    { role: 'user', content: `Feature tree:\n${JSON.stringify(subtree, null, 2)}` },
  ];
}
