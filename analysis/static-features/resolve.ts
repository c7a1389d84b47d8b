// Import and symbol resolution: local names bound by imports, dependency labels and module rules
// for each import, and the most specific symbol rule for each callee, type or decorator once its
// leading name is resolved through the bindings (including logger calls at a level).
import type { FeatureKey } from '../tree-sitter/categories.js';
import type { Grammar } from '../tree-sitter/grammars.js';
import type { Facts } from './facts.js';

const LOGGER_RECEIVER = /^_*(?:log|logger|slog)_*$/i;
const LOG_LEVELS: ReadonlyMap<string, FeatureKey> = new Map(
  Object.entries({
    debug: 'debugLevel', trace: 'debugLevel', fine: 'debugLevel', finer: 'debugLevel', finest: 'debugLevel',
    info: 'infoLevel', config: 'infoLevel', warn: 'warningLevel', warning: 'warningLevel', error: 'errorLevel',
    exception: 'errorLevel', severe: 'errorLevel', critical: 'criticalLevel', fatal: 'criticalLevel',
    log: 'loggingFramework',
  } as const),
);

export function bindImport(facts: Facts, spec: Grammar['spec'], from: string, name: string | null, alias: string | null): void {
  const target = spec.bindingTarget ? spec.bindingTarget(from) : spec.moduleId(from);
  if (name !== null) {
    const qualified = `${target}.${name}`;
    facts.bindings.set(alias ?? name, qualified);
    facts.symbols.add(qualified);
  } else if (alias !== null) {
    facts.bindings.set(alias, target);
  }
}

export function resolveImports(facts: Facts, grammar: Grammar): void {
  const { spec } = grammar;
  for (const module of facts.imports) {
    const labels = spec.dependencyLabels(module, facts.pkg);
    if (labels && labels.length > 0) facts.paths.push(['dependency relations', ...labels]);
    const hit = lookupModule(grammar.modules, spec.moduleId(module));
    if (hit) for (const key of hit) facts.keys.add(key);
    const implicit = spec.implicitBinding?.(module);
    if (implicit) {
      if (!facts.bindings.has(implicit)) facts.bindings.set(implicit, module);
      facts.symbols.add(module);
    }
  }
}

/** Exact module id, else its longest leading part cut at `.` or `/` (`os.path` → `os`). */
function lookupModule(rules: ReadonlyMap<string, readonly FeatureKey[]>, id: string): readonly FeatureKey[] | undefined {
  for (let end = id.length; end > 0; ) {
    const hit = rules.get(end === id.length ? id : id.slice(0, end));
    if (hit) return hit;
    const dot = id.lastIndexOf('.', end - 1);
    const slash = id.lastIndexOf('/', end - 1);
    end = Math.max(dot, slash);
  }
  return undefined;
}

/**
 * Most specific rule for a dotted symbol: its multi-part suffixes (longest first), then its
 * `prefix.*` wildcards (longest first), and only then the bare last name, so that `os.path.split`
 * is path manipulation (os.path.*) rather than string manipulation (split). Keys ending in `()`
 * match bare names only.
 */
function lookupSymbol(rules: ReadonlyMap<string, readonly FeatureKey[]>, symbol: string): readonly FeatureKey[] | undefined {
  const lastDot = symbol.lastIndexOf('.');
  // `name()` keys match only a bare function, never a method: `print()` but not `x.print()`.
  if (lastDot < 0) return rules.get(symbol) ?? rules.get(`${symbol}()`);
  for (let start = 0; start <= lastDot; ) {
    const hit = rules.get(start === 0 ? symbol : symbol.slice(start));
    if (hit) return hit;
    const dot = symbol.indexOf('.', start);
    if (dot >= lastDot) break;
    start = dot + 1;
  }
  for (let end = lastDot; end > 0; end = symbol.lastIndexOf('.', end - 1)) {
    const hit = rules.get(`${symbol.slice(0, end)}.*`);
    if (hit) return hit;
  }
  return rules.get(symbol.slice(lastDot + 1));
}

function resolve(symbol: string, bindings: ReadonlyMap<string, string>): string {
  const dot = symbol.indexOf('.');
  const head = dot < 0 ? symbol : symbol.slice(0, dot);
  const target = bindings.get(head);
  return target === undefined ? symbol : dot < 0 ? target : target + symbol.slice(dot);
}

export function resolveSymbols(facts: Facts, grammar: Grammar): void {
  const { keys } = facts;
  for (const raw of facts.symbols) {
    const symbol = resolve(raw, facts.bindings);
    const hit = lookupSymbol(grammar.symbols, symbol);
    if (hit) for (const key of hit) keys.add(key);
    const dot = symbol.lastIndexOf('.');
    if (dot > 0) {
      // `logger.info(...)`, `self.log.error(...)`: a logging framework at that level.
      const receiver = symbol.slice(symbol.lastIndexOf('.', dot - 1) + 1, dot);
      const level = LOG_LEVELS.get(symbol.slice(dot + 1).toLowerCase());
      if (level && LOGGER_RECEIVER.test(receiver)) keys.add(level);
    }
  }
}
