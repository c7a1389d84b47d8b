// Generation prompt: from the sampled features, a task (instruction with signature and
// examples), an analysis, the solution and its tests, as files.
import type { LlmMessage } from '../llm/structured.js';
import type { SynthesisTask } from '../schemas/contract.js';

export const GENERATE_PROMPT_VERSION = 'generate-v1';

export interface GenerateAnswer {
  instruction: string;
  analysis: string;
  files: Array<{ path: string; role: 'solution' | 'test'; content: string }>;
}

export const GENERATE_SCHEMA = {
  name: 'code_sample',
  jsonSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['instruction', 'analysis', 'files'],
    properties: {
      instruction: { type: 'string', minLength: 20 },
      analysis: { type: 'string', minLength: 1 },
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
            content: { type: 'string', minLength: 1 },
          },
        },
      },
    },
  },
};

const EXTENSIONS: Record<string, string[]> = {
  python: ['.py'], javascript: ['.js', '.mjs'], typescript: ['.ts'], tsx: ['.tsx', '.ts'], java: ['.java'], go: ['.go'],
};

const TEST_RUNNERS: Record<string, string> = {
  python: 'plain Python with assert statements or pytest-style test functions (standard library only, plus pytest)',
  javascript: "node's built-in test runner (node:test and node:assert), no other packages",
  typescript: "node's built-in test runner (node:test and node:assert), no other packages",
  tsx: "node's built-in test runner (node:test and node:assert), no other packages",
  java: 'a main method that checks results and throws on failure',
  go: 'the standard testing package',
};

const SCOPE: Record<SynthesisTask['level'], string> = {
  function: 'a single self-contained function (with any small helpers) in one solution file',
  file: 'one complete module in one solution file: several functions or classes working together',
  multi_file: 'a small multi-module project: at least two solution files that import each other, with tests that exercise them together',
};

/** Checks the model cannot express in a JSON schema; problems trigger the repair turn. */
export function checkGenerateAnswer(answer: GenerateAnswer, task: SynthesisTask): string[] {
  const problems: string[] = [];
  const solutions = answer.files.filter((f) => f.role === 'solution');
  const tests = answer.files.filter((f) => f.role === 'test');
  if (solutions.length === 0) problems.push('/files: no file has role "solution"');
  if (tests.length === 0) problems.push('/files: no file has role "test"');
  if (task.level === 'multi_file' && solutions.length < 2) problems.push('/files: a multi_file task needs at least two solution files');
  const paths = new Set<string>();
  answer.files.forEach((f, i) => {
    if (f.path.startsWith('/') || f.path.split(/[\\/]/).includes('..')) problems.push(`/files/${i}/path: "${f.path}" must be relative and stay inside the project`);
    if (paths.has(f.path)) problems.push(`/files/${i}/path: "${f.path}" appears twice`);
    paths.add(f.path);
    const ext = EXTENSIONS[task.targetLanguage];
    if (ext && !ext.some((e) => f.path.endsWith(e))) problems.push(`/files/${i}/path: "${f.path}" is not a ${task.targetLanguage} file (${ext.join(', ')})`);
  });
  if (task.level === 'multi_file' && solutions.length >= 2) {
    const modules = solutions.map((f) => f.path.replace(/^.*\//, '').replace(/\.[^.]+$/, ''));
    const linked = solutions.some((f) => modules.some((m) => !f.path.endsWith(`/${m}`) && !f.path.startsWith(`${m}.`) && f.content.includes(m)));
    if (!linked) problems.push('/files: the solution files of a multi_file task must import each other');
  }
  return problems;
}

export function generateMessages(task: SynthesisTask): LlmMessage[] {
  const features = task.features
    .map((f) => `- ${f.path.join(' > ')}${f.mandatory ? '  (mandatory)' : ''}`)
    .join('\n');
  return [
    {
      role: 'system',
      content: [
        `You write ${task.targetLanguage} programming exercises with reference solutions and tests for training code models.`,
        `Scope: ${SCOPE[task.level]}.`,
        'Write: (1) instruction: a self-contained task description for a programmer, with the exact signature(s)',
        'to implement and at least one input/output example; (2) analysis: how to approach it;',
        '(3) files: the solution file(s) (role "solution") and test file(s) (role "test") with relative paths.',
        `Tests use ${TEST_RUNNERS[task.targetLanguage] ?? 'the standard library'}; they must pass against the solution,`,
        'run offline, quickly, and touch nothing outside their own directory.',
      ].join('\n'),
    },
    {
      role: 'user',
      content: [
        'Combine these features of real-world code into one realistic task. Mandatory features must be used;',
        'use the others where they fit naturally.',
        features,
      ].join('\n'),
    },
  ];
}
