// The modules a Python source imports, found without running it: a small tokenizer (strings,
// comments, brackets, line continuations, semicolons) and the two import statements over its
// tokens. Strings and comments never count, whatever they contain; `import` is a keyword, so
// the word outside them is always an import statement. `__import__("x")` and
// `importlib.import_module("x")` with a literal name count too; a name computed at run time
// cannot be seen here, and ends as a ModuleNotFoundError that the sandbox classifies the same
// way (sandbox/classify.ts). Relative imports (`from . import x`) are the sample's own and are
// left out.

export interface PythonImport {
  /** The dotted module name as written, e.g. `os.path`. */
  module: string;
  /** 1-based line of the statement. */
  line: number;
  kind: 'import' | 'from' | 'dynamic';
}

type Token =
  | { kind: 'name'; text: string; line: number }
  | { kind: 'string'; text: string; literal: boolean; line: number }
  | { kind: 'op'; text: string; line: number }
  | { kind: 'end'; line: number };

const NAME_START = /[\p{L}\p{Nl}_]/u;
const NAME_PART = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_]/u;
const STRING_PREFIX = /^(?:[rRuUbBfF]|[rR][bBfF]|[bBfF][rR])$/;

/** Tokens with logical-line ends (`end`) after each statement: newline outside brackets, or `;`. */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let depth = 0;
  const n = source.length;
  const end = (): void => {
    if (tokens.length > 0 && tokens[tokens.length - 1]!.kind !== 'end') tokens.push({ kind: 'end', line });
  };
  const readString = (prefix: string): void => {
    const quote = source[i]!;
    const triple = source.startsWith(quote.repeat(3), i);
    const close = triple ? quote.repeat(3) : quote;
    const startLine = line;
    i += close.length;
    let text = '';
    while (i < n) {
      const c = source[i]!;
      if (c === '\\' && i + 1 < n) {
        // A backslash never ends a string, raw or not; the pair is kept as written.
        text += c + source[i + 1];
        if (source[i + 1] === '\n') line++;
        i += 2;
        continue;
      }
      if (source.startsWith(close, i)) {
        i += close.length;
        break;
      }
      // An unclosed one-line string ends at the line's end (a syntax error Python reports itself).
      if (c === '\n' && !triple) break;
      if (c === '\n') line++;
      text += c;
      i++;
    }
    const literal = !/[fF]/.test(prefix) && !text.includes('\\');
    tokens.push({ kind: 'string', text, literal, line: startLine });
  };
  while (i < n) {
    const c = source[i]!;
    if (c === '\n') {
      line++;
      i++;
      if (depth === 0) end();
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    if (c === '\\' && source[i + 1] === '\n') {
      line++;
      i += 2;
      continue;
    }
    if (c === '\\' && source[i + 1] === '\r' && source[i + 2] === '\n') {
      line++;
      i += 3;
      continue;
    }
    if (c === '"' || c === "'") {
      readString('');
      continue;
    }
    if (NAME_START.test(c)) {
      const start = i;
      while (i < n && NAME_PART.test(source[i]!)) i++;
      const text = source.slice(start, i);
      if (i < n && (source[i] === '"' || source[i] === "'") && STRING_PREFIX.test(text)) {
        readString(text);
        continue;
      }
      tokens.push({ kind: 'name', text, line });
      continue;
    }
    if (/[0-9]/.test(c)) {
      while (i < n && /[0-9a-zA-Z_.]/.test(source[i]!)) i++;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth = Math.max(0, depth - 1);
    if (c === ';' && depth === 0) {
      end();
      i++;
      continue;
    }
    tokens.push({ kind: 'op', text: c, line });
    i++;
  }
  end();
  return tokens;
}

const isName = (t: Token | undefined, text?: string): t is Extract<Token, { kind: 'name' }> => t?.kind === 'name' && (text === undefined || t.text === text);
const isOp = (t: Token | undefined, text: string): boolean => t?.kind === 'op' && t.text === text;

/** A dotted name from `at`: its text and the index after it (null: no name there). */
function dotted(tokens: readonly Token[], at: number): { name: string; next: number } | null {
  if (!isName(tokens[at])) return null;
  const parts = [(tokens[at] as { text: string }).text];
  let i = at + 1;
  while (isOp(tokens[i], '.') && isName(tokens[i + 1])) {
    parts.push((tokens[i + 1] as { text: string }).text);
    i += 2;
  }
  return { name: parts.join('.'), next: i };
}

/** Every absolute module the source imports, in order of appearance (duplicates kept). */
export function pythonImports(source: string): PythonImport[] {
  const tokens = tokenize(source);
  const found: PythonImport[] = [];
  // A statement starts a logical line, or follows the colon of a one-line compound statement
  // (`try: import x`); brackets are joined into their line by the tokenizer.
  let statementStart = true;
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'end') {
      statementStart = true;
      depth = 0;
      continue;
    }
    const atStart = statementStart;
    statementStart = false;
    if (t.kind === 'op') {
      if ('([{'.includes(t.text)) depth++;
      else if (')]}'.includes(t.text)) depth = Math.max(0, depth - 1);
      else if (t.text === ':' && depth === 0) statementStart = true;
      continue;
    }
    if (t.kind !== 'name') continue;
    if (t.text === 'import' && atStart) {
      // import a.b [as c], d ...
      let j = i + 1;
      for (;;) {
        const d = dotted(tokens, j);
        if (!d) break;
        found.push({ module: d.name, line: t.line, kind: 'import' });
        j = d.next;
        if (isName(tokens[j], 'as') && isName(tokens[j + 1])) j += 2;
        if (!isOp(tokens[j], ',')) break;
        j++;
      }
      i = j - 1;
      continue;
    }
    if (t.text === 'from' && atStart) {
      // from a.b import ...; from .a import ... is relative (the sample's own).
      if (isOp(tokens[i + 1], '.')) continue;
      const d = dotted(tokens, i + 1);
      if (d && isName(tokens[d.next], 'import')) {
        found.push({ module: d.name, line: t.line, kind: 'from' });
        i = d.next;
      }
      continue;
    }
    // __import__("x") and import_module("x") (importlib.import_module or imported by name).
    if ((t.text === '__import__' || t.text === 'import_module') && isOp(tokens[i + 1], '(')) {
      const arg = tokens[i + 2];
      if (arg?.kind === 'string' && arg.literal && !arg.text.startsWith('.') && /^[\p{L}_][\p{L}\p{N}_.]*$/u.test(arg.text)) {
        found.push({ module: arg.text, line: t.line, kind: 'dynamic' });
      }
    }
  }
  return found;
}

/** The top-level package of a dotted module name (`os` of `os.path`). */
export const topLevel = (module: string): string => module.split('.')[0]!;
