// What the generation steps share: the sample's files (their checks, per-language test
// runners, scope per level) and the whole-sample answer shape the debugging turns answer in.
// The steps themselves are generate-question.ts, generate-analysis.ts, generate-solution.ts.
import type { SynthesisTask } from '../schemas/contract.js';
import { describeAllowList, type PackageAllowList } from '../sandbox/packages.js';

export interface GenerateAnswer {
  instruction: string;
  analysis: string;
  files: Array<{ path: string; role: 'solution' | 'test'; content: string }>;
  /** Packages beyond the standard library the files import (allow-listed names). */
  packages: string[];
}

/** The answer's package list: allow-listed names, [] for the standard library alone. */
export const PACKAGES_PROPERTY = { type: 'array', maxItems: 16, items: { type: 'string', minLength: 1, maxLength: 80 } } as const;

/**
 * What the model may import beyond the standard library, and how to say so. The sandbox
 * refuses anything else (sandbox/packages.ts), so the prompt offers exactly its allow-list.
 */
export function packagesInstruction(language: string, allowList: PackageAllowList): string {
  if (language === 'python') {
    return [
      `Packages: besides the standard library (and pytest in tests), only these are installed: ${describeAllowList(allowList)}.`,
      'List the ones the files import in "packages" by these names ([] when the standard library is enough);',
      'a sample that imports or lists anything else is rejected.',
    ].join('\n');
  }
  return `Packages: none are installed; use ${language === 'javascript' || language === 'typescript' || language === 'tsx' ? "Node's built-in modules" : 'the standard library'} only and answer "packages": [].`;
}

export const GENERATE_SCHEMA = {
  name: 'code_sample',
  jsonSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['instruction', 'analysis', 'files', 'packages'],
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
      packages: PACKAGES_PROPERTY,
    },
  },
};

const EXTENSIONS: Record<string, string[]> = {
  python: ['.py'], javascript: ['.js', '.mjs'], typescript: ['.ts'], tsx: ['.tsx', '.ts'], java: ['.java'], go: ['.go'],
};

export const TEST_RUNNERS: Record<string, string> = {
  python: 'plain Python with assert statements or pytest-style test functions (standard library only, plus pytest)',
  javascript: "node's built-in test runner (node:test and node:assert), no other packages",
  typescript: "node's built-in test runner (node:test and node:assert), no other packages",
  tsx: "node's built-in test runner (node:test and node:assert), no other packages",
  java: 'a main method that checks results and throws on failure',
  go: 'the standard testing package',
};

export const SCOPE: Record<SynthesisTask['level'], string> = {
  function: 'a single self-contained function (with any small helpers) in one solution file',
  file: 'one complete module in one solution file: several functions or classes working together',
  multi_file: 'a small multi-module project: at least two solution files that import each other, with tests that exercise them together',
};

/** Checks of a whole-sample answer (the debugging turns') the JSON schema cannot express. */
export function checkGenerateAnswer(answer: GenerateAnswer, task: SynthesisTask): string[] {
  return checkFiles(answer.files, task);
}

/** Checks of a sample's files the model cannot express in a JSON schema; problems trigger the repair turn. */
export function checkFiles(files: GenerateAnswer['files'], task: SynthesisTask): string[] {
  const problems: string[] = [];
  const solutions = files.filter((f) => f.role === 'solution');
  const tests = files.filter((f) => f.role === 'test');
  if (solutions.length === 0) problems.push('/files: no file has role "solution"');
  if (tests.length === 0) problems.push('/files: no file has role "test"');
  if (task.level === 'multi_file' && solutions.length < 2) problems.push('/files: a multi_file task needs at least two solution files');
  const paths = new Set<string>();
  files.forEach((f, i) => {
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

/** The task's features as a numbered list; the question step selects features by these numbers. */
export function numberedFeatures(task: SynthesisTask): string {
  return task.features.map((f, i) => `${i + 1}. ${f.path.join(' > ')}${f.mandatory ? '  (mandatory)' : ''}`).join('\n');
}
