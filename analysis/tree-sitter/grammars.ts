// Loads the tree-sitter WASM grammars and compiles each language's feature query once. All state
// lives in the returned Grammars object (no module-level caches), so tests and workers can hold
// independent sets and free them with delete().
import { createRequire } from 'node:module';
import path from 'node:path';
import Parser from 'web-tree-sitter';
import { LANGUAGES, type Language } from '../../schemas/languages.js';
import { isFeatureKey, type FeatureKey } from './categories.js';
import { LANGUAGE_SPECS, type LanguageSpec, type Rules } from './queries/index.js';
import { CAPTURE_NAMES } from './queries/spec.js';

export type Tree = Parser.Tree;
export type SyntaxNode = Parser.SyntaxNode;
export type QueryMatch = Parser.QueryMatch;

/** One language, ready to parse and query. */
export interface Grammar {
  readonly language: Language;
  readonly spec: LanguageSpec;
  readonly parser: Parser;
  readonly query: Parser.Query;
  /** `flag.<key>` capture name → feature key. */
  readonly flags: ReadonlyMap<string, FeatureKey>;
  readonly modules: ReadonlyMap<string, readonly FeatureKey[]>;
  readonly symbols: ReadonlyMap<string, readonly FeatureKey[]>;
}

/** Thrown by Grammars.parse when tree-sitter gives up (the timeout elapsed). */
export class ParseFailure extends Error {
  constructor(
    readonly language: Language,
    message: string,
  ) {
    super(message);
    this.name = 'ParseFailure';
  }
}

export class Grammars {
  private readonly byLanguage: Map<string, Grammar>;

  constructor(grammars: readonly Grammar[]) {
    this.byLanguage = new Map(grammars.map((g) => [g.language, g]));
  }

  get languages(): Language[] {
    return [...this.byLanguage.keys()] as Language[];
  }

  has(language: string): boolean {
    return this.byLanguage.has(language);
  }

  get(language: string): Grammar | undefined {
    return this.byLanguage.get(language);
  }

  /**
   * Parses `content`; the caller owns the tree and must call `tree.delete()` (WASM memory is not
   * garbage collected). `timeoutMs` > 0 bounds the parse; on expiry throws ParseFailure.
   */
  parse(language: Language, content: string, timeoutMs = 0): Tree {
    const grammar = this.byLanguage.get(language);
    if (!grammar) throw new Error(`no grammar loaded for ${language}`);
    const { parser } = grammar;
    // The WASM build ignores ts_parser_set_timeout_micros (no working clock), so the deadline is
    // checked each time the lexer asks for the next chunk: past it, the input "ends" and the
    // truncated tree is discarded.
    const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Number.POSITIVE_INFINITY;
    let parsing = true;
    let timedOut = false;
    const input = (index: number): string | null => {
      if (index >= content.length) return null;
      if (parsing && (timedOut || performance.now() > deadline)) {
        timedOut = true;
        return null;
      }
      let end = index + INPUT_CHUNK;
      // Keep surrogate pairs whole across chunks.
      const last = content.charCodeAt(end - 1);
      if (last >= 0xd800 && last <= 0xdbff) end++;
      return content.slice(index, end);
    };
    let tree: Tree;
    try {
      tree = parser.parse(input);
    } catch (err) {
      parser.reset();
      throw new ParseFailure(language, `parse failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      // The tree keeps `input` to read node text later; from now on it must return real text.
      parsing = false;
    }
    if (timedOut) {
      tree.delete();
      throw new ParseFailure(language, `parse did not finish within ${timeoutMs} ms`);
    }
    return tree;
  }

  /** Frees the parsers and queries; the object is unusable afterwards. */
  delete(): void {
    for (const g of this.byLanguage.values()) {
      g.query.delete();
      g.parser.delete();
    }
    this.byLanguage.clear();
  }
}

/** Characters handed to the lexer per read; web-tree-sitter copies at most 5119 UTF-16 units. */
const INPUT_CHUNK = 4096;

const KNOWN_CAPTURES: ReadonlySet<string> = new Set(CAPTURE_NAMES);

function toMap(rules: Rules): Map<string, readonly FeatureKey[]> {
  return new Map(Object.entries(rules));
}

function compile(language: Language, spec: LanguageSpec, tsLanguage: Parser.Language): Grammar {
  let query: Parser.Query;
  try {
    query = tsLanguage.query(spec.query);
  } catch (err) {
    throw new Error(`feature query for ${language} does not compile: ${err instanceof Error ? err.message : String(err)}`);
  }
  const flags = new Map<string, FeatureKey>();
  for (const name of query.captureNames) {
    if (name.startsWith('flag.')) {
      const key = name.slice(5);
      if (!isFeatureKey(key)) throw new Error(`feature query for ${language}: capture @${name} names no feature`);
      flags.set(name, key);
    } else if (!KNOWN_CAPTURES.has(name) && !name.startsWith('_')) {
      throw new Error(`feature query for ${language}: unknown capture @${name}`);
    }
  }
  const parser = new Parser();
  parser.setLanguage(tsLanguage);
  return { language, spec, parser, query, flags, modules: toMap(spec.modules), symbols: toMap(spec.symbols) };
}

/** Loads the grammars of `languages` (default: all supported) and compiles their queries. */
export async function loadGrammars(languages: readonly Language[] = LANGUAGES): Promise<Grammars> {
  await Parser.init();
  const wasmDir = path.join(path.dirname(createRequire(import.meta.url).resolve('tree-sitter-wasms/package.json')), 'out');
  const grammars: Grammar[] = [];
  // One at a time: concurrent Language.load calls corrupt web-tree-sitter's dynamic linking.
  for (const language of new Set(languages)) {
    const spec = LANGUAGE_SPECS[language];
    const tsLanguage = await Parser.Language.load(path.join(wasmDir, spec.wasm));
    grammars.push(compile(language, spec, tsLanguage));
  }
  return new Grammars(grammars);
}
