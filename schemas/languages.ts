// The languages treesynth understands, and how a file's language is recognised. Part of the
// contract: CodeFile.language holds one of these names.
export const LANGUAGES = ['python', 'javascript', 'typescript', 'tsx', 'java', 'go'] as const;
export type Language = (typeof LANGUAGES)[number];

export const isLanguage = (name: string): name is Language => (LANGUAGES as readonly string[]).includes(name);

const BY_EXTENSION: Readonly<Record<string, Language>> = {
  '.py': 'python', '.pyw': 'python', '.pyi': 'python',
  '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascript',
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript',
  '.tsx': 'tsx',
  '.java': 'java',
  '.go': 'go',
};

/** Interpreter names in a shebang line (`#!/usr/bin/env python3`). */
const BY_INTERPRETER: ReadonlyArray<[RegExp, Language]> = [
  [/^python[0-9.]*$/, 'python'],
  [/^(node|nodejs|bun|deno)$/, 'javascript'],
  [/^(ts-node|tsx)$/, 'typescript'],
];

/** Aliases that public corpora use in their `language` field (The Stack, CodeSearchNet...). */
const ALIASES: Readonly<Record<string, Language>> = {
  python: 'python', py: 'python', python3: 'python',
  javascript: 'javascript', js: 'javascript', jsx: 'javascript', node: 'javascript',
  typescript: 'typescript', ts: 'typescript', tsx: 'tsx',
  java: 'java', go: 'go', golang: 'go',
};

export function languageFromExtension(path: string): Language | null {
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot < path.lastIndexOf('/')) return null;
  return BY_EXTENSION[path.slice(dot).toLowerCase()] ?? null;
}

/** The language named by a shebang on the first line, if any. */
export function languageFromShebang(firstLine: string): Language | null {
  const m = /^#!\s*(\S+)(?:\s+(?:-\S+\s+)*(\S+))?/.exec(firstLine);
  if (!m) return null;
  const program = m[1]!.split('/').pop()!;
  const interpreter = program === 'env' ? m[2]?.split('/').pop() : program;
  if (!interpreter) return null;
  for (const [pattern, language] of BY_INTERPRETER) if (pattern.test(interpreter)) return language;
  return null;
}

/** Normalises a language name from a corpus to ours, or null if we do not handle it. */
export function normaliseLanguage(name: string): Language | null {
  return ALIASES[name.trim().toLowerCase()] ?? null;
}
