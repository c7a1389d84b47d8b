// Test adequacy by mutation: a sample's tests passing says little if they would also pass
// against a broken solution. For a sample that passed, a bounded set of mutants of its solution
// (a comparison flipped, a constant off by one, `and`/`or` swapped, a function returning early, a
// statement dropped) each runs the same tests in the sandbox; the mutation score is the share
// the tests catch. Mutants are chosen deterministically from a seed, spread over the operators,
// and parsed before they run, so none is wasted on a syntax error of our making.
import type { Grammars, SyntaxNode } from '../analysis/tree-sitter/grammars.js';
import { mixSeed, seededRandom } from '../lib/random.js';
import type { Language } from '../schemas/languages.js';
import type { SampleRunner, SandboxFile, SandboxResult, ValidationReason } from '../sandbox/types.js';

export const MUTATION_OPERATORS = ['comparison', 'constant', 'boolean', 'logical', 'return-early', 'drop-statement'] as const;
export type MutationOperator = (typeof MUTATION_OPERATORS)[number];

export interface MutationSettings {
  /** Mutants per sample at most. */
  maxMutants: number;
  /** Mixed with the sample's own seed: the same sample gets the same mutants. */
  seed: number;
}

export const DEFAULT_MUTATION: MutationSettings = { maxMutants: 10, seed: 7 };

/**
 * A sample whose tests catch a smaller share of its mutants is rejected. Measured with
 * bench/mutation-threshold.ts over HumanEval's 164 reference solutions, 10 mutants each: with
 * their authors' tests the scores have mean 0.93, 5th percentile 0.70, median 1.0; with only
 * the first assert of each suite, mean 0.65, 25th percentile 0.43. At 0.6, 98 % of the authors'
 * suites pass and 38 % of the single-assert ones are rejected (0.5: 100 % and 27 %; 0.7: 95 %
 * and 48 %): generated tests are rarely better than the authors', so the default stays below
 * their 5th percentile.
 */
export const DEFAULT_MIN_MUTATION_SCORE = 0.6;

export interface Mutant {
  operator: MutationOperator;
  file: string;
  /** 1-based line of the change. */
  line: number;
  /** What changed, for a reader: "`<` → `<=`", "drop `total += x`". */
  description: string;
  files: SandboxFile[];
}

interface Site {
  operator: MutationOperator;
  file: string;
  start: number;
  end: number;
  replacement: string;
  line: number;
  description: string;
}

/** The grammar a file is parsed with, by its extension; null for files that are not code we mutate. */
export function grammarOf(path: string): Language | null {
  if (/\.py$/.test(path)) return 'python';
  if (/\.(?:js|mjs|cjs|jsx)$/.test(path)) return 'javascript';
  if (/\.tsx$/.test(path)) return 'tsx';
  if (/\.(?:ts|mts|cts)$/.test(path) && !path.endsWith('.d.ts')) return 'typescript';
  return null;
}

const COMPARISON: Record<string, string> = { '<': '<=', '<=': '<', '>': '>=', '>=': '>', '==': '!=', '!=': '==', '===': '!==', '!==': '===' };
const LOGICAL: Record<string, string> = { and: 'or', or: 'and', '&&': '||', '||': '&&' };
const BOOLEAN: Record<string, string> = { True: 'False', False: 'True', true: 'false', false: 'true' };
/** Calls whose removal changes only what is printed or logged: dropping them makes equivalent mutants. */
const OUTPUT_CALL = /^(?:print|console\.\w+|logging\.\w+|logger\.\w+|log\.\w+|self\.log\w*\.\w+|sys\.std(?:out|err)\.write)\s*\(/;
/** Export lists: dropping one fails every test at import, which says nothing about the tests. */
const EXPORTS = /^(?:module\.)?exports\b|^__all__\s*=/;
const FUNCTION_BODY_PARENTS = new Set(['function_declaration', 'function_expression', 'function', 'arrow_function', 'method_definition', 'generator_function_declaration', 'generator_function']);

const clip = (text: string, max = 40): string => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

/** `if __name__ == "__main__":` blocks run only as a script, never under the tests. */
const isMainGuard = (node: SyntaxNode): boolean => node.type === 'if_statement' && /__name__\s*==\s*['"]__main__['"]|['"]__main__['"]\s*==\s*__name__/.test(node.childForFieldName('condition')?.text ?? '');

const isDocstring = (node: SyntaxNode): boolean => node.type === 'expression_statement' && node.namedChildCount === 1 && node.namedChild(0)?.type === 'string';

function pythonSites(root: SyntaxNode, file: string, content: string): Site[] {
  const sites: Site[] = [];
  const site = (operator: MutationOperator, node: { startIndex: number; endIndex: number; startPosition: { row: number } }, replacement: string, description: string): void =>
    void sites.push({ operator, file, start: node.startIndex, end: node.endIndex, replacement, line: node.startPosition.row + 1, description });
  const walk = (node: SyntaxNode): void => {
    if (isMainGuard(node)) return;
    switch (node.type) {
      case 'comparison_operator':
        for (const child of node.children) {
          const to = !child.isNamed ? COMPARISON[child.type] : undefined;
          if (to && child.type !== '===' && child.type !== '!==') site('comparison', child, to, `\`${child.type}\` → \`${to}\``);
        }
        break;
      case 'boolean_operator': {
        const op = node.childForFieldName('operator');
        const to = op ? LOGICAL[op.type] : undefined;
        if (op && to) site('logical', op, to, `\`${op.type}\` → \`${to}\``);
        break;
      }
      case 'integer':
        if (/^\d+$/.test(node.text)) site('constant', node, String(BigInt(node.text) + 1n), `${node.text} → ${BigInt(node.text) + 1n}`);
        break;
      case 'true':
      case 'false':
        site('boolean', node, BOOLEAN[node.text]!, `${node.text} → ${BOOLEAN[node.text]}`);
        break;
      case 'function_definition': {
        const body = node.childForFieldName('body');
        const statements = body?.namedChildren.filter((c) => c.type !== 'comment') ?? [];
        const first = statements[0] && isDocstring(statements[0]) ? statements[1] : statements[0];
        // Before the first statement, at its indentation: `return None` then the original line.
        if (first && first.startPosition.row > node.startPosition.row) {
          const indent = content.slice(content.lastIndexOf('\n', first.startIndex - 1) + 1, first.startIndex);
          if (/^[ \t]*$/.test(indent)) sites.push({ operator: 'return-early', file, start: first.startIndex, end: first.startIndex, replacement: `return None\n${indent}`, line: first.startPosition.row + 1, description: `\`${node.childForFieldName('name')?.text ?? 'function'}\` returns None at once` });
        }
        break;
      }
      case 'expression_statement':
        if (!isDocstring(node) && !OUTPUT_CALL.test(node.text) && !EXPORTS.test(node.text)) site('drop-statement', node, 'pass', `drop \`${clip(node.text)}\``);
        break;
      case 'return_statement':
        if (node.namedChildCount > 0) site('drop-statement', node, 'pass', `drop \`${clip(node.text)}\``);
        break;
    }
    for (const child of node.namedChildren) walk(child);
  };
  walk(root);
  return sites;
}

function scriptSites(root: SyntaxNode, file: string): Site[] {
  const sites: Site[] = [];
  const site = (operator: MutationOperator, node: SyntaxNode, replacement: string, description: string): void =>
    void sites.push({ operator, file, start: node.startIndex, end: node.endIndex, replacement, line: node.startPosition.row + 1, description });
  const walk = (node: SyntaxNode): void => {
    switch (node.type) {
      case 'binary_expression': {
        const op = node.childForFieldName('operator');
        if (op && COMPARISON[op.type]) site('comparison', op, COMPARISON[op.type]!, `\`${op.type}\` → \`${COMPARISON[op.type]}\``);
        else if (op && LOGICAL[op.type]) site('logical', op, LOGICAL[op.type]!, `\`${op.type}\` → \`${LOGICAL[op.type]}\``);
        break;
      }
      case 'number':
        if (/^\d+$/.test(node.text)) site('constant', node, String(BigInt(node.text) + 1n), `${node.text} → ${BigInt(node.text) + 1n}`);
        break;
      case 'true':
      case 'false':
        site('boolean', node, BOOLEAN[node.text]!, `${node.text} → ${BOOLEAN[node.text]}`);
        break;
      case 'statement_block':
        // Right after the opening brace of a function's body.
        if (node.parent && FUNCTION_BODY_PARENTS.has(node.parent.type) && node.namedChildren.some((c) => c.type !== 'comment')) {
          const name = node.parent.childForFieldName('name')?.text ?? 'function';
          sites.push({ operator: 'return-early', file, start: node.startIndex + 1, end: node.startIndex + 1, replacement: ' return; ', line: node.startPosition.row + 1, description: `\`${name}\` returns at once` });
        }
        break;
      case 'expression_statement':
        if (!OUTPUT_CALL.test(node.text) && !EXPORTS.test(node.text)) site('drop-statement', node, ';', `drop \`${clip(node.text)}\``);
        break;
      case 'return_statement':
        if (node.namedChildCount > 0) site('drop-statement', node, ';', `drop \`${clip(node.text)}\``);
        break;
    }
    for (const child of node.namedChildren) walk(child);
  };
  walk(root);
  return sites;
}

/** A seed for a sample from its identity, so reruns of one sample draw the same mutants. */
export function sampleSeed(id: string, seed: number): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) >>> 0;
  return mixSeed(seed, h);
}

/**
 * Up to `maxMutants` mutants of the solution files, taken in turn from each operator (shuffled
 * by the seed), each checked to still parse.
 */
export function generateMutants(files: readonly SandboxFile[], grammars: Grammars, settings: MutationSettings & { sampleId: string }): Mutant[] {
  const byOperator = new Map<MutationOperator, Site[]>();
  for (const file of files) {
    const grammar = file.role === 'solution' ? grammarOf(file.path) : null;
    if (!grammar || !grammars.has(grammar)) continue;
    const tree = grammars.parse(grammar, file.content, 2_000);
    try {
      if (tree.rootNode.hasError) continue; // the tests passed, but we cannot mutate what we cannot parse
      const sites = grammar === 'python' ? pythonSites(tree.rootNode, file.path, file.content) : scriptSites(tree.rootNode, file.path);
      for (const s of sites) byOperator.set(s.operator, [...(byOperator.get(s.operator) ?? []), s]);
    } finally {
      tree.delete();
    }
  }
  const random = seededRandom(sampleSeed(settings.sampleId, settings.seed));
  const queues = MUTATION_OPERATORS.map((op) => {
    const sites = [...(byOperator.get(op) ?? [])];
    for (let i = sites.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [sites[i], sites[j]] = [sites[j]!, sites[i]!];
    }
    return sites;
  });
  const mutants: Mutant[] = [];
  while (mutants.length < settings.maxMutants && queues.some((q) => q.length > 0)) {
    for (const queue of queues) {
      if (mutants.length >= settings.maxMutants) break;
      const s = queue.shift();
      if (!s) continue;
      const original = files.find((f) => f.path === s.file)!;
      const content = original.content.slice(0, s.start) + s.replacement + original.content.slice(s.end);
      const tree = grammars.parse(grammarOf(s.file)!, content, 2_000);
      const parses = !tree.rootNode.hasError;
      tree.delete();
      if (!parses) continue;
      mutants.push({ operator: s.operator, file: s.file, line: s.line, description: s.description, files: files.map((f) => (f.path === s.file ? { ...f, content } : { ...f })) });
    }
  }
  return mutants;
}

export interface MutantOutcome {
  operator: MutationOperator;
  file: string;
  line: number;
  description: string;
  /** How the tests ran against the mutant: passed means it survived. */
  reason: ValidationReason;
}

export interface MutationResult {
  /** killed / (killed + survived); null when no mutant could be made or run. */
  score: number | null;
  killed: number;
  survived: number;
  /** Mutants that could not be judged (the sandbox failed, or the mutant was refused before running). */
  unviable: number;
  outcomes: MutantOutcome[];
  durationMs: number;
}

/** Outcomes that say nothing about the tests: the mutant neither survived nor was caught by them. */
const UNVIABLE: ReadonlySet<ValidationReason> = new Set(['sandbox-error', 'syntax-error', 'invalid-sample', 'forbidden-file', 'unsupported-language']);

/**
 * Runs each mutant's tests. A mutant is killed when its run does not pass for any reason the
 * tests or the sample caused (a failed assert, a timeout, a crash); a mutant whose tests still
 * pass survives. `baseline` (the passing run) sets each mutant's wall time: a mutant that turns
 * a loop endless is caught by the clock without costing the full limit.
 */
export async function scoreMutants(runner: SampleRunner, language: string, mutants: readonly Mutant[], baseline: Pick<SandboxResult, 'durationMs'>, signal?: AbortSignal): Promise<MutationResult> {
  const started = performance.now();
  const wallMs = Math.max(3_000, baseline.durationMs * 4 + 2_000);
  const outcomes = await Promise.all(
    mutants.map(async (m): Promise<MutantOutcome> => {
      let reason: ValidationReason;
      try {
        reason = (await runner.run(language, m.files, { wallMs, ...(signal ? { signal } : {}) })).reason;
      } catch {
        reason = 'sandbox-error';
      }
      return { operator: m.operator, file: m.file, line: m.line, description: m.description, reason };
    }),
  );
  const survived = outcomes.filter((o) => o.reason === 'passed').length;
  const unviable = outcomes.filter((o) => UNVIABLE.has(o.reason)).length;
  const killed = outcomes.length - survived - unviable;
  return {
    score: killed + survived > 0 ? Math.round((killed / (killed + survived)) * 10_000) / 10_000 : null,
    killed,
    survived,
    unviable,
    outcomes,
    durationMs: Math.round(performance.now() - started),
  };
}

/** The surviving mutants as lines a person or the debugging model can act on. */
export function describeSurvivors(result: MutationResult, max = 10): string {
  const survivors = result.outcomes.filter((o) => o.reason === 'passed');
  const lines = survivors.slice(0, max).map((o) => `- ${o.file}:${o.line} (${o.operator}): ${o.description}`);
  if (survivors.length > max) lines.push(`- … and ${survivors.length - max} more`);
  return `The tests still pass when the solution is changed like this (each change alone):\n${lines.join('\n')}\nStrengthen the tests so that each of these changes makes one fail.`;
}
