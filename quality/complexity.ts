// Static complexity of generated solutions: lines of code, McCabe cyclomatic complexity,
// functions, imports and files. Python, JavaScript, TypeScript, Java and Go are measured on the
// tree-sitter syntax tree (decision points are node kinds, so strings and comments never count);
// any other language, or a run without grammars, gets a careful token count, marked as such.
//
// Definitions, so the numbers can be compared with other tools:
// - lines: non-blank lines holding something other than a comment (docstrings are strings, so
//   they count, as in `cloc`);
// - decision points: if/elif, loops, case labels (not default), catch/except, conditional
//   expressions, comprehension for/if clauses, and each short-circuit operator (&&, ||, ??,
//   and, or), as ESLint's and radon's `complexity` count them;
// - a function is a declared function or method, or an anonymous one bound to a name
//   (`const f = () => ...`); callbacks passed inline belong to the function around them;
// - cyclomatic complexity of a function is 1 + its decision points; code outside functions is
//   one more block when it has decision points of its own (or when there is no function at all);
//   a file's cyclomatic complexity is the sum over its blocks, `maxCyclomatic` the largest block.
import type { Grammars, SyntaxNode, Tree } from '../analysis/tree-sitter/grammars.js';
import { isLanguage, languageFromExtension, normaliseLanguage, type Language } from '../schemas/languages.js';
import type { GeneratedSample } from '../schemas/contract.js';
import { distribution, type Distribution } from './stats.js';

export interface CodeMetrics {
  lines: number;
  decisions: number;
  cyclomatic: number;
  maxCyclomatic: number;
  functions: number;
  imports: number;
  /** How it was measured: on the syntax tree, or by counting tokens. */
  method: 'tree-sitter' | 'tokens';
}

interface LanguageRules {
  /** Named node kinds that are decision points. */
  decisions: ReadonlySet<string>;
  /** Anonymous tokens that are decision points (short-circuit operators). */
  operators: ReadonlySet<string>;
  /** Named node kinds that are functions. */
  functions: ReadonlySet<string>;
  /** Anonymous function kinds, counted as functions when their parent gives them a name. */
  anonymousFunctions: ReadonlySet<string>;
  namingParents: ReadonlySet<string>;
  /** A decision-kind node that is not one after all (a `default:` label, a `case _:` wildcard). */
  notDecision?(type: string, node: SyntaxNode): boolean;
  /** A function-kind node that is not one (a Java interface method without a body). */
  notFunction?(type: string, node: SyntaxNode): boolean;
  /** Imports this node makes; only called for kinds in `importKinds`. */
  importKinds: ReadonlySet<string>;
  imports(type: string, node: SyntaxNode): number;
}

const set = (...kinds: string[]): ReadonlySet<string> => new Set(kinds);

const JS_LIKE: LanguageRules = {
  decisions: set('if_statement', 'for_statement', 'for_in_statement', 'while_statement', 'do_statement', 'switch_case', 'catch_clause', 'ternary_expression'),
  operators: set('&&', '||', '??'),
  functions: set('function_declaration', 'generator_function_declaration', 'method_definition'),
  anonymousFunctions: set('arrow_function', 'function_expression', 'function', 'generator_function'),
  namingParents: set('variable_declarator', 'public_field_definition', 'field_definition', 'pair', 'assignment_expression'),
  importKinds: set('import_statement', 'call_expression'),
  imports(type, node) {
    if (type === 'import_statement') return 1;
    // require('x') and import('x') are imports too.
    const callee = node.childForFieldName('function');
    return callee && (callee.type === 'import' || (callee.type === 'identifier' && callee.text === 'require')) ? 1 : 0;
  },
};

const RULES: Readonly<Record<Language, LanguageRules>> = {
  python: {
    decisions: set('if_statement', 'elif_clause', 'for_statement', 'while_statement', 'except_clause', 'conditional_expression', 'for_in_clause', 'if_clause', 'case_clause'),
    operators: set('and', 'or'),
    functions: set('function_definition'),
    anonymousFunctions: set('lambda'),
    namingParents: set('assignment'),
    notDecision: (type, node) => type === 'case_clause' && node.namedChildren[0]?.text === '_',
    importKinds: set('import_statement', 'import_from_statement', 'future_import_statement'),
    // `import os, sys` imports two modules; `from x import a, b` one.
    imports: (type, node) => (type === 'import_statement' ? Math.max(1, node.childrenForFieldName('name').length) : 1),
  },
  javascript: JS_LIKE,
  typescript: JS_LIKE,
  tsx: JS_LIKE,
  java: {
    decisions: set('if_statement', 'for_statement', 'enhanced_for_statement', 'while_statement', 'do_statement', 'switch_label', 'catch_clause', 'ternary_expression'),
    operators: set('&&', '||'),
    functions: set('method_declaration', 'constructor_declaration', 'compact_constructor_declaration'),
    anonymousFunctions: set(),
    namingParents: set(),
    notDecision: (type, node) => type === 'switch_label' && node.text.trimStart().startsWith('default'),
    notFunction: (type, node) => type === 'method_declaration' && node.childForFieldName('body') === null,
    importKinds: set('import_declaration'),
    imports: () => 1,
  },
  go: {
    decisions: set('if_statement', 'for_statement', 'expression_case', 'type_case', 'communication_case'),
    operators: set('&&', '||'),
    functions: set('function_declaration', 'method_declaration'),
    anonymousFunctions: set(),
    namingParents: set(),
    importKinds: set('import_spec'),
    imports: () => 1,
  },
};

/** Decision points and functions per block, while walking. */
interface Walk {
  decisions: number;
  functions: number;
  imports: number;
  /** Decision points of each open block; [0] is the code outside functions. */
  open: number[];
  /** Decision points of each finished function. */
  finished: number[];
  codeRows: Set<number>;
}

function walkTree(tree: Tree, rules: LanguageRules, lines: readonly string[]): Walk {
  const w: Walk = { decisions: 0, functions: 0, imports: 0, open: [0], finished: [], codeRows: new Set() };
  const cursor = tree.walk();
  const types: string[] = [];
  const opensBlock: boolean[] = [];
  const countDecision = (): void => {
    w.decisions += 1;
    w.open[w.open.length - 1]! += 1;
  };
  const enter = (): void => {
    const type = cursor.nodeType;
    let opens = false;
    if (cursor.nodeIsNamed) {
      const parent = types[types.length - 1];
      const isFunction =
        (rules.functions.has(type) && !rules.notFunction?.(type, cursor.currentNode)) ||
        (rules.anonymousFunctions.has(type) && parent !== undefined && rules.namingParents.has(parent));
      if (isFunction) {
        w.functions += 1;
        w.open.push(0);
        opens = true;
      }
      if (rules.decisions.has(type) && !rules.notDecision?.(type, cursor.currentNode)) countDecision();
      if (rules.importKinds.has(type)) w.imports += rules.imports(type, cursor.currentNode);
    } else if (rules.operators.has(type)) {
      countDecision();
    }
    types.push(type);
    opensBlock.push(opens);
  };
  const leave = (): void => {
    types.pop();
    if (opensBlock.pop()) w.finished.push(w.open.pop()!);
  };
  try {
    for (;;) {
      enter();
      if (cursor.gotoFirstChild()) continue;
      // A leaf: the rows it spans hold code unless it is a comment.
      if (!cursor.nodeType.includes('comment')) {
        for (let row = cursor.startPosition.row; row <= cursor.endPosition.row; row++) {
          if (/\S/.test(lines[row] ?? '')) w.codeRows.add(row);
        }
      }
      leave();
      let more = true;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) {
          more = false;
          break;
        }
        leave();
      }
      if (!more) break;
    }
  } finally {
    cursor.delete();
  }
  return w;
}

function fromBlocks(w: Pick<Walk, 'decisions' | 'functions' | 'imports' | 'open' | 'finished'>, lines: number, method: CodeMetrics['method']): CodeMetrics {
  const outside = w.open[0] ?? 0;
  const blocks = w.finished.map((d) => 1 + d);
  if (outside > 0 || w.functions === 0) blocks.push(1 + outside);
  return {
    lines,
    decisions: w.decisions,
    cyclomatic: blocks.reduce((s, b) => s + b, 0),
    maxCyclomatic: Math.max(...blocks),
    functions: w.functions,
    imports: w.imports,
    method,
  };
}

const COMMENT_LINE = /^\s*(\/\/|#(?!include)|\/\*|\*|--)/;

/**
 * The token-count fallback: keywords and operators outside comments and string literals. No
 * block structure is known, so the whole file is one block (maxCyclomatic = cyclomatic).
 */
export function measureByTokens(text: string): CodeMetrics {
  const lines = text.split('\n');
  let code = 0;
  for (const line of lines) if (/\S/.test(line) && !COMMENT_LINE.test(line)) code += 1;
  // Drop comments and string literals so words inside them do not count.
  const stripped = text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/("""|''')[\s\S]*?\1/g, ' ')
    .replace(/(["'`])(?:\\.|(?!\1)[^\\\n])*\1/g, ' ')
    .replace(/(\/\/|#(?!include)).*$/gm, ' ');
  const count = (re: RegExp): number => stripped.match(re)?.length ?? 0;
  const decisions = count(/\b(if|elif|for|foreach|while|case|catch|except)\b/g) + count(/&&|\|\||\?\?/g) + count(/\b(and|or)\b/g);
  const functions = count(/\b(def|function|func|fn|fun|sub)\s+[A-Za-z_$][\w$]*/g);
  const imports = count(/^\s*(import\b|from\s+\S+\s+import\b|#include\b|use\s+\S)/gm) + count(/\brequire\s*\(/g);
  return { lines: code, decisions, cyclomatic: 1 + decisions, maxCyclomatic: 1 + decisions, functions, imports, method: 'tokens' };
}

/** Measures one file of code. Without a grammar for `language`, falls back to token counting. */
export function measureCode(text: string, language: string, grammars: Grammars | null): CodeMetrics {
  if (!grammars || !isLanguage(language) || !grammars.has(language)) return measureByTokens(text);
  const lines = text.split('\n');
  let tree: Tree;
  try {
    tree = grammars.parse(language, text, 2_000);
  } catch {
    return measureByTokens(text);
  }
  try {
    const w = walkTree(tree, RULES[language], lines);
    return fromBlocks(w, w.codeRows.size, 'tree-sitter');
  } finally {
    tree.delete();
  }
}

/** The language of one file of a sample: its extension first (a .tsx file in a TypeScript sample), else the sample's. */
export function fileLanguage(path: string, sampleLanguage: string): string {
  return languageFromExtension(path) ?? normaliseLanguage(sampleLanguage) ?? sampleLanguage;
}

export interface SampleComplexity {
  sampleId: string;
  level: string;
  language: string;
  /** Solution files. */
  files: number;
  lines: number;
  cyclomatic: number;
  maxCyclomatic: number;
  functions: number;
  imports: number;
  /** Lines of the test files, for the ratio of test to solution code. */
  testLines: number;
  /** 'tokens' when any solution file was measured by the fallback. */
  method: CodeMetrics['method'];
}

/** The complexity of a sample's solution: its solution files together. */
export function sampleComplexity(sample: GeneratedSample, grammars: Grammars | null): SampleComplexity {
  const result: SampleComplexity = {
    sampleId: sample.sampleId, level: sample.level, language: sample.language,
    files: 0, lines: 0, cyclomatic: 0, maxCyclomatic: 0, functions: 0, imports: 0, testLines: 0, method: 'tree-sitter',
  };
  for (const file of sample.files) {
    const m = measureCode(file.content, fileLanguage(file.path, sample.language), grammars);
    if (file.role === 'test') {
      result.testLines += m.lines;
      continue;
    }
    result.files += 1;
    result.lines += m.lines;
    result.cyclomatic += m.cyclomatic;
    result.maxCyclomatic = Math.max(result.maxCyclomatic, m.maxCyclomatic);
    result.functions += m.functions;
    result.imports += m.imports;
    if (m.method === 'tokens') result.method = 'tokens';
  }
  return result;
}

export interface ComplexityGroup {
  samples: number;
  files: Distribution;
  lines: Distribution;
  cyclomatic: Distribution;
  maxCyclomatic: Distribution;
  functions: Distribution;
  imports: Distribution;
  testLines: Distribution;
  /** Samples measured by token counting rather than on a syntax tree. */
  byTokens: number;
}

export interface ComplexityFigures {
  all: ComplexityGroup;
  byLanguage: Record<string, ComplexityGroup>;
  byLevel: Record<string, ComplexityGroup>;
}

function group(list: readonly SampleComplexity[]): ComplexityGroup {
  const pick = (key: 'files' | 'lines' | 'cyclomatic' | 'maxCyclomatic' | 'functions' | 'imports' | 'testLines') => distribution(list.map((s) => s[key]));
  return {
    samples: list.length,
    files: pick('files'), lines: pick('lines'), cyclomatic: pick('cyclomatic'), maxCyclomatic: pick('maxCyclomatic'),
    functions: pick('functions'), imports: pick('imports'), testLines: pick('testLines'),
    byTokens: list.filter((s) => s.method === 'tokens').length,
  };
}

function groupBy(list: readonly SampleComplexity[], key: (s: SampleComplexity) => string): Record<string, ComplexityGroup> {
  const groups = new Map<string, SampleComplexity[]>();
  for (const s of list) {
    const k = key(s);
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  return Object.fromEntries([...groups].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, g]) => [k, group(g)]));
}

export function aggregateComplexity(list: readonly SampleComplexity[]): ComplexityFigures {
  return { all: group(list), byLanguage: groupBy(list, (s) => s.language), byLevel: groupBy(list, (s) => s.level) };
}
