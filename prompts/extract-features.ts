// Feature extraction prompt: the model reads one file and names its features under the
// method's fixed categories. Answers are a flat list of label paths, which strict structured
// outputs can express and canonicalization can walk.
import type { LlmMessage } from '../llm/structured.js';
import { FEATURE_CATEGORIES, type FeatureCategory } from '../schemas/categories.js';

export const EXTRACT_PROMPT_VERSION = 'extract-v2';

/**
 * What each category holds, and the sub-categories its labels usually start with: a model that
 * sees only category names files the same feature under different ones (json parsing under data
 * processing in one file, file operation in the next), and invents a new second level each time.
 * The hints give the first level below each category a shared vocabulary; they are examples,
 * not a closed list. Typed per category, so a new category cannot ship without its guide.
 */
export const CATEGORY_GUIDE: Readonly<Record<FeatureCategory, { definition: string; subcategories: readonly string[] }>> = {
  'programming language': { definition: 'the language, its version and the language constructs the code relies on', subcategories: ['language version', 'type system', 'syntax features', 'standard library'] },
  workflow: { definition: 'how the program runs end to end: entry points, steps, scheduling, configuration and build', subcategories: ['entry point', 'command line interface', 'configuration', 'scheduling', 'pipeline stages', 'testing'] },
  'implementation style': { definition: 'the programming paradigm and code organisation', subcategories: ['object-oriented', 'functional', 'procedural', 'declarative', 'modular design'] },
  functionality: { definition: 'what the code does for its user, named as a behaviour, never as an identifier from the code', subcategories: ['data retrieval', 'data persistence', 'parsing', 'serialization', 'validation', 'transformation', 'searching', 'reporting', 'communication'] },
  'resource usage': { definition: 'the memory, CPU, disk, network, thread and process resources the code manages', subcategories: ['memory management', 'concurrency', 'network resources', 'disk usage', 'resource cleanup'] },
  'computation operation': { definition: 'the kinds of computation performed', subcategories: ['arithmetic', 'string manipulation', 'statistics', 'date and time', 'bitwise operations', 'comparison'] },
  security: { definition: 'protection of data and access', subcategories: ['authentication', 'authorization', 'cryptography', 'input sanitization', 'secrets handling'] },
  'user interaction': { definition: 'how a person or client talks to the program', subcategories: ['command line', 'graphical interface', 'web interface', 'prompts and input', 'output formatting'] },
  'data processing': { definition: 'reading, transforming and producing data in memory', subcategories: ['data parsing', 'data transformation', 'data validation', 'aggregation', 'filtering', 'serialization'] },
  'file operation': { definition: 'working with files and directories', subcategories: ['file reading', 'file writing', 'directory traversal', 'path handling', 'file formats', 'compression'] },
  'error handling': { definition: 'how failures are detected, reported and recovered from', subcategories: ['exception handling', 'input validation', 'retries', 'error reporting', 'fallbacks'] },
  logging: { definition: 'recording what the program does', subcategories: ['log levels', 'log formatting', 'log destinations', 'tracing', 'metrics'] },
  'dependency relations': { definition: 'the libraries and modules the code imports and how it uses them', subcategories: ['standard library', 'third-party library', 'internal modules', 'external services'] },
  algorithm: { definition: 'named algorithms and algorithmic techniques', subcategories: ['sorting', 'searching', 'graph algorithms', 'dynamic programming', 'recursion', 'hashing', 'numerical methods'] },
  'data structures': { definition: 'the data structures the code builds or relies on', subcategories: ['lists and arrays', 'dictionaries and maps', 'sets', 'trees', 'graphs', 'queues and stacks', 'custom classes'] },
  'implementation logic': { definition: 'control flow and program logic', subcategories: ['conditionals', 'loops', 'iteration', 'state management', 'event handling', 'early returns'] },
  'advanced techniques': { definition: 'less common techniques that raise the difficulty', subcategories: ['metaprogramming', 'decorators', 'generators', 'asynchronous programming', 'caching', 'design patterns'] },
  'issues & bugs': { definition: 'defects and risky patterns in the code as written', subcategories: ['error swallowing', 'resource leaks', 'race conditions', 'code smells', 'security risks'] },
};

/** One line per category: its definition and sub-category hints, as the prompt shows them. */
export function categoryGuideLines(): string[] {
  return FEATURE_CATEGORIES.map((c) => `- ${c}: ${CATEGORY_GUIDE[c].definition} (e.g. ${CATEGORY_GUIDE[c].subcategories.join(', ')})`);
}

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
        'Use only these top-level categories; each is given with what it holds and typical first labels below it:',
        ...categoryGuideLines(),
        'Each feature is a category and a path of 1 to 4 labels below it, most general first,',
        'starting with one of the category\'s typical first labels when one fits, so the same feature is named the same way in every file,',
        'for example {"category": "data processing", "labels": ["data transformation", "json serialization"]}',
        'or {"category": "algorithm", "labels": ["sorting", "merge sort"]}.',
        'Labels are short lowercase phrases (1 to 5 words), not sentences, and name what the code does,',
        'not identifiers from it ("configuration parsing", not "parse os release").',
        'File each feature under the one category that fits it best. Cover every category that applies; skip those that do not.',
        'Also give a one-sentence summary, the purpose of the code, and a potential scenario where it is used.',
      ].join('\n'),
    },
    { role: 'user', content: `File: ${file.path}\nLanguage: ${file.language}\n\n\`\`\`${file.language}\n${code}\n\`\`\`` },
  ];
}
