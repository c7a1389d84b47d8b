// What the extractor needs to know about one language: the tree-sitter query that finds the
// facts, and the tables that give library modules and symbols their meaning.
import type { FeatureKey } from '../categories.js';

/** Capture names the extractor understands besides `flag.<FeatureKey>` (and `_`-prefixed helpers). */
export const CAPTURE_NAMES = [
  'import', 'import.from', 'import.name', 'import.alias', 'call', 'call.object', 'new', 'ref', 'decorator',
  'def', 'def.name', 'def.receiver', 'class.name', 'class.super', 'class.iface', 'iface.name', 'struct.name',
  'guard', 'package', 'errcheck', 'comment', 'catch.body',
] as const;

/** Lookup table: key → the features it signals. */
export type Rules = Readonly<Record<string, readonly FeatureKey[]>>;

/**
 * A language's static-analysis knowledge. The query's capture names are the contract with
 * analysis/static-features/:
 *
 * - `import`: a module specifier as written → dependency labels and `modules` rules.
 * - `import.from` with `import.name` and/or `import.alias`: a local binding, so `np.array` or
 *   a bare `deque()` resolve to `numpy.array` / `collections.deque` before `symbols` lookup.
 * - `call` (with `call.object` for Java): a callee; its start is the call site (recursion).
 * - `new`, `ref`, `decorator`: constructed types, member chains used as values, decorator and
 *   annotation names; all looked up in `symbols`.
 * - `def` + `def.name`: a function and its range; `class.name`, `class.super`, `class.iface`,
 *   `iface.name`, `struct.name`: type declarations.
 * - `flag.<FeatureKey>`: the node's presence alone signals that feature.
 * - `guard`, `package`, `errcheck`, `comment`, `catch.body`: inputs of special-purpose checks.
 */
export interface LanguageSpec {
  /** Grammar file in tree-sitter-wasms/out. */
  readonly wasm: string;
  readonly query: string;
  /** Keyed by module id or a leading part of it (`os.path` also matches key `os`). */
  readonly modules: Rules;
  /**
   * Keyed by a dotted suffix (`path.join`, `sort`), a dotted prefix ending in `.*` (`Math.*`), or a
   * bare function name ending in `()` that must not match methods (`print()` but not `x.print`).
   */
  readonly symbols: Rules;
  /** Dependency label path for an imported module, or null to skip it. */
  dependencyLabels(module: string, filePackage: string | null): string[] | null;
  /** Module id for `modules` lookup (`node:fs/promises` → `fs`, Go `"net/http"` → `net/http`). */
  moduleId(module: string): string;
  /** What a name bound to this module resolves to for `symbols` lookup; moduleId if absent (Go: `http`). */
  bindingTarget?(module: string): string;
  /** Local name an `import` without a binding capture binds, if any (Java `java.util.List` → `List`). */
  implicitBinding?(module: string): string | null;
  /** Extra features of a call whose text after the callee is `rest` (e.g. the mode of `open`). */
  callFeatures?(symbol: string, rest: string): readonly FeatureKey[] | null;
}

/** Splits an import path on `sep` into [top, second?] labels, lowercased. */
export function twoLevels(segments: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of segments.slice(0, 2)) {
    const label = s.trim().toLowerCase();
    if (label && !out.includes(label)) out.push(label);
  }
  return out;
}

/** The parenthesised argument list at the start of `rest` (balanced, bounded), without the parens. */
export function callArguments(rest: string, limit = 400): string {
  if (rest[0] !== '(') return '';
  let depth = 0;
  const end = Math.min(rest.length, limit);
  for (let i = 0; i < end; i++) {
    const ch = rest[i];
    if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return rest.slice(1, i);
  }
  return rest.slice(1, end);
}
