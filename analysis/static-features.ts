// Static feature extraction: parse a file with tree-sitter, run its language's feature query
// once, and map what the query found (imports, calls, definitions, constructs) onto label paths
// under the method's fixed categories. No LLM; a pure function of the file.
import { map, type OperatorFunction } from 'rxjs';
import type { CodeFile, Feature, FeatureSet } from '../schemas/contract.js';
import { accept, rejection, type Outcome } from '../schemas/outcome.js';
import { FEATURE_CATEGORIES, FEATURES, type FeatureCategory, type FeatureKey, type FeaturePath } from './tree-sitter/categories.js';
import { ParseFailure, type Grammar, type Grammars, type SyntaxNode, type Tree } from './tree-sitter/grammars.js';

export const EXTRACT_STATIC_STAGE = 'extract-static';

export interface ExtractStaticConfig {
  grammars: Grammars;
  /** Most features kept per category (default 12). */
  maxLabelsPerCategory?: number;
  /** Largest share of the file inside ERROR/MISSING nodes still accepted (default 0.2). */
  maxErrorRatio?: number;
  /** Parse budget per file (default 5000 ms). */
  parseTimeoutMs?: number;
}

export const DEFAULT_MAX_LABELS_PER_CATEGORY = 12;
export const DEFAULT_MAX_ERROR_RATIO = 0.2;
export const DEFAULT_PARSE_TIMEOUT_MS = 5000;

export function extractFeatures(file: CodeFile, config: ExtractStaticConfig, now: number = Date.now()): Outcome<FeatureSet> {
  const grammar = config.grammars.get(file.language);
  if (!grammar) return rejectFile(file, 'unsupported-language', `no tree-sitter grammar loaded for language '${file.language}'`, now);
  const timeoutMs = config.parseTimeoutMs ?? DEFAULT_PARSE_TIMEOUT_MS;
  let tree: Tree;
  try {
    tree = config.grammars.parse(grammar.language, file.content, timeoutMs);
  } catch (err) {
    if (err instanceof ParseFailure) return rejectFile(file, 'unparseable', err.message, now);
    throw err;
  }
  try {
    const root = tree.rootNode;
    if (root.hasError) {
      const ratio = errorRatio(root, file.content.length);
      const max = config.maxErrorRatio ?? DEFAULT_MAX_ERROR_RATIO;
      if (ratio > max) {
        const detail = `${(ratio * 100).toFixed(1)}% of the file is inside syntax errors (limit ${(max * 100).toFixed(1)}%)`;
        return rejectFile(file, 'unparseable', detail, now);
      }
    }
    const paths = collectFeatures(grammar, root, file);
    return accept({
      fileId: file.id,
      path: file.path,
      language: file.language,
      treeKey: file.treeKey,
      extractor: 'static',
      features: finalise(paths, config.maxLabelsPerCategory ?? DEFAULT_MAX_LABELS_PER_CATEGORY),
      summary: null,
      purpose: null,
      scenario: null,
      extractedAt: now,
    });
  } finally {
    tree.delete();
  }
}

/** The stage: one Outcome per CodeFile, in order. */
export function extractStaticFeatures(config: ExtractStaticConfig): OperatorFunction<CodeFile, Outcome<FeatureSet>> {
  return map((file) => extractFeatures(file, config));
}

function rejectFile(file: CodeFile, reason: string, detail: string, now: number): Outcome<FeatureSet> {
  // `rejection` rather than `reject` so the timestamp is `now`, keeping the stage a pure function.
  return {
    ok: false,
    rejection: rejection(
      { stage: EXTRACT_STATIC_STAGE, reason, detail, recordId: file.id, path: file.path, source: file.source, record: file },
      now,
    ),
  };
}

/** Share of the text covered by ERROR nodes; a MISSING node (zero width) counts as one character. */
function errorRatio(root: SyntaxNode, length: number): number {
  if (length === 0) return 0;
  let bad = 0;
  const stack: SyntaxNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.isError) bad += node.endIndex - node.startIndex;
    else if (node.isMissing) bad += 1;
    else if (node.hasError) for (const child of node.children) stack.push(child);
  }
  return Math.min(1, bad / length);
}

// ---------------------------------------------------------------------------------------------
// Collecting facts from the query matches

interface Definition {
  name: string;
  node: SyntaxNode;
  receiver: string | null;
}

interface Facts {
  keys: Set<FeatureKey>;
  /** Other paths (dependencies, functionality, named algorithms), in discovery order. */
  paths: FeaturePath[];
  imports: string[];
  /** Local name → what it refers to (`np` → `numpy`, `deque` → `collections.deque`). */
  bindings: Map<string, string>;
  /** Callees, constructed types, references and decorators, as written. */
  symbols: Set<string>;
  /** Callee's last name → call sites, for recursion. */
  callSites: Map<string, { text: string; start: number }[]>;
  defs: Definition[];
  typeNames: string[];
  pkg: string | null;
  hasClasses: boolean;
}

const SIMPLE_CHAIN = /^[\w$#]+(?:\.[\w$#]+)*$/;
const LOGGER_RECEIVER = /^_*(?:log|logger|slog)_*$/i;
const LOG_LEVELS: ReadonlyMap<string, FeatureKey> = new Map(
  Object.entries({
    debug: 'debugLevel', trace: 'debugLevel', fine: 'debugLevel', finer: 'debugLevel', finest: 'debugLevel',
    info: 'infoLevel', config: 'infoLevel', warn: 'warningLevel', warning: 'warningLevel', error: 'errorLevel',
    exception: 'errorLevel', severe: 'errorLevel', critical: 'criticalLevel', fatal: 'criticalLevel',
    log: 'loggingFramework',
  } as const),
);
const NOTABLE_COMMENT = /TODO|FIXME|XXX|HACK|noqa|type:\s*ignore|eslint-disable|ts-ignore|ts-expect-error|nolint|NOSONAR|deprecated/i;

function collectFeatures(grammar: Grammar, root: SyntaxNode, file: CodeFile): FeaturePath[] {
  const content = file.content;
  const text = (node: SyntaxNode): string => content.slice(node.startIndex, node.endIndex);
  const facts: Facts = {
    keys: new Set(),
    paths: [['programming language', file.language]],
    imports: [],
    bindings: new Map(),
    symbols: new Set(),
    callSites: new Map(),
    defs: [],
    typeNames: [],
    pkg: null,
    hasClasses: false,
  };
  const { keys } = facts;
  const { spec } = grammar;
  const isPython = grammar.language === 'python';

  for (const match of grammar.query.matches(root)) {
    const captures = match.captures;
    if (captures.length === 1) {
      // Most matches are a single presence flag: the cheapest path first.
      const capture = captures[0]!;
      const flag = grammar.flags.get(capture.name);
      if (flag !== undefined) {
        keys.add(flag);
        continue;
      }
    }
    let importFrom: string | null = null;
    let importName: string | null = null;
    let importAlias: string | null = null;
    let callObject: string | null = null;
    let callNode: SyntaxNode | null = null;
    let defNode: SyntaxNode | null = null;
    let defName: string | null = null;
    let defReceiver: string | null = null;
    for (const { name, node } of captures) {
      switch (name) {
        case 'import':
          facts.imports.push(text(node));
          break;
        case 'import.from':
          importFrom = text(node);
          break;
        case 'import.name':
          importName = text(node);
          break;
        case 'import.alias':
          importAlias = text(node);
          break;
        case 'call':
          callNode = node;
          break;
        case 'call.object':
          callObject = text(node);
          break;
        case 'new':
        case 'ref':
        case 'decorator':
          facts.symbols.add(stripTypeArguments(text(node)));
          break;
        case 'def':
          defNode = node;
          break;
        case 'def.name':
          defName = text(node);
          break;
        case 'def.receiver':
          defReceiver = text(node);
          break;
        case 'class.name':
          facts.hasClasses = true;
          facts.typeNames.push(text(node));
          break;
        case 'class.super': {
          const superName = stripTypeArguments(text(node));
          keys.add('inheritance');
          facts.symbols.add(superName);
          if (/(?:Error|Exception)$/.test(superName)) keys.add('customExceptions');
          break;
        }
        case 'class.iface':
          keys.add('interfaces');
          facts.symbols.add(stripTypeArguments(text(node)));
          break;
        case 'iface.name':
          keys.add('interfaces');
          facts.typeNames.push(text(node));
          break;
        case 'struct.name':
          keys.add('struct');
          facts.typeNames.push(text(node));
          break;
        case 'guard':
          if (text(node) === '__name__') keys.add('entryPoint');
          break;
        case 'package':
          facts.pkg = text(node);
          break;
        case 'errcheck':
          if (/err/i.test(text(node))) keys.add('errorChecking');
          break;
        case 'comment':
          noteComment(text(node), keys);
          break;
        case 'catch.body':
          if (node.endIndex - node.startIndex < 200 && isEmptyHandler(text(node), isPython)) keys.add('swallowedExceptions');
          break;
        default: {
          const flag = grammar.flags.get(name);
          if (flag !== undefined) keys.add(flag);
        }
      }
    }
    if (callNode) noteCall(facts, callNode, callObject, content, grammar);
    if (defNode && defName) facts.defs.push({ name: defName, node: defNode, receiver: defReceiver });
    if (importFrom !== null) bindImport(facts, spec, importFrom, importName, importAlias);
  }

  resolveImports(facts, grammar);
  resolveSymbols(facts, grammar);
  noteDefinitions(facts, grammar, content);
  noteStyle(facts);
  const paths: FeaturePath[] = [];
  for (const key of keys) paths.push(FEATURES[key]);
  return [...facts.paths, ...paths];
}

function stripTypeArguments(type: string): string {
  const lt = type.indexOf('<');
  const bracket = type.indexOf('[');
  const cut = lt < 0 ? bracket : bracket < 0 ? lt : Math.min(lt, bracket);
  return (cut < 0 ? type : type.slice(0, cut)).replace(/^@/, '').trim();
}

function noteComment(comment: string, keys: Set<FeatureKey>): void {
  if (!NOTABLE_COMMENT.test(comment)) return;
  if (/\b(?:TODO|FIXME|XXX|HACK)\b/.test(comment)) keys.add('todoComments');
  if (/noqa|type:\s*ignore|eslint-disable|ts-ignore|ts-expect-error|nolint|NOSONAR/i.test(comment)) keys.add('suppressedWarnings');
  if (/@deprecated|\bdeprecated\b/i.test(comment)) keys.add('deprecation');
}

function isEmptyHandler(body: string, python: boolean): boolean {
  if (python) return /^(?:pass|\.\.\.|continue)$/.test(body.replace(/#.*$/gm, '').trim());
  return /^\{\s*\}$/.test(body.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ''));
}

function noteCall(facts: Facts, node: SyntaxNode, object: string | null, content: string, grammar: Grammar): void {
  const end = node.endIndex;
  const name = content.slice(node.startIndex, end);
  let callee = object === null ? name : `${object}.${name}`;
  if (callee.includes('?.')) callee = callee.replaceAll('?.', '.');
  let last: string;
  if (SIMPLE_CHAIN.test(callee)) {
    facts.symbols.add(callee);
    last = callee.slice(callee.lastIndexOf('.') + 1);
  } else {
    // A method of a computed receiver (`foo().bar`, `"x".join`): only the method name is known.
    last = callee.slice(callee.lastIndexOf('.') + 1);
    if (!SIMPLE_CHAIN.test(last)) return;
    // `()` stands for the unknown receiver: a method, so `name()` rules for bare functions don't apply.
    facts.symbols.add(`().${last}`);
    if (/^["'`]/.test(callee)) facts.keys.add('stringManipulation');
  }
  let sites = facts.callSites.get(last);
  if (!sites) facts.callSites.set(last, (sites = []));
  sites.push({ text: callee, start: node.startIndex });
  const refine = grammar.spec.callFeatures;
  if (refine && (last === 'open' || last === 'openSync' || last === 'OpenFile')) {
    const extra = refine(callee, content.slice(end, end + 400));
    if (extra) for (const key of extra) facts.keys.add(key);
  }
}

function bindImport(facts: Facts, spec: Grammar['spec'], from: string, name: string | null, alias: string | null): void {
  const target = spec.bindingTarget ? spec.bindingTarget(from) : spec.moduleId(from);
  if (name !== null) {
    const qualified = `${target}.${name}`;
    facts.bindings.set(alias ?? name, qualified);
    facts.symbols.add(qualified);
  } else if (alias !== null) {
    facts.bindings.set(alias, target);
  }
}

function resolveImports(facts: Facts, grammar: Grammar): void {
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

function resolveSymbols(facts: Facts, grammar: Grammar): void {
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

// ---------------------------------------------------------------------------------------------
// Definitions: recursion, functionality from names, name-based algorithm and structure hints

const SELF_RECEIVERS = new Set(['self', 'this', 'cls']);

function isRecursive(def: Definition, facts: Facts): boolean {
  const sites = facts.callSites.get(def.name);
  if (!sites) return false;
  let start = -1;
  let end = -1;
  for (const site of sites) {
    const dot = site.text.lastIndexOf('.');
    if (dot >= 0) {
      const receiver = site.text.slice(0, dot);
      if (!SELF_RECEIVERS.has(receiver) && receiver !== def.receiver) continue;
    }
    if (start < 0) {
      start = def.node.startIndex;
      end = def.node.endIndex;
    }
    if (site.start > start && site.start < end) return true;
  }
  return false;
}

function noteDefinitions(facts: Facts, grammar: Grammar, content: string): void {
  const { keys } = facts;
  const seen = new Set<string>();
  for (const def of facts.defs) {
    if (!keys.has('recursion') && isRecursive(def, facts)) keys.add('recursion');
    const name = def.name;
    if (TRIVIAL.has(name)) continue;
    if (grammar.language === 'python' && name.startsWith('__') && name.endsWith('__')) {
      const dunder = DUNDER_FEATURES.get(name);
      if (dunder) keys.add(dunder);
      continue;
    }
    if (name === 'main') {
      const before = content.slice(def.node.startIndex, def.node.startIndex + 200);
      if ((grammar.language === 'go' && facts.pkg === 'main') || (grammar.language === 'java' && /\bstatic\b/.test(before))) {
        keys.add('entryPoint');
      }
      continue;
    }
    if (/^test/i.test(name)) {
      if (/^(?:test_|Test[A-Z_]|test[A-Z])/.test(name)) keys.add('unitTesting');
      continue;
    }
    if (/^Benchmark[A-Z_]/.test(name)) {
      keys.add('benchmarking');
      continue;
    }
    if (seen.has(name)) continue;
    seen.add(name);
    const words = splitName(name);
    noteNameHints(words, facts);
    const path = functionality(words);
    if (path) facts.paths.push(path);
  }
  for (const typeName of facts.typeNames) noteNameHints(splitName(typeName), facts);
}

const DUNDER_FEATURES: ReadonlyMap<string, FeatureKey> = new Map(Object.entries({
  __add__: 'operatorOverloading', __sub__: 'operatorOverloading', __mul__: 'operatorOverloading',
  __truediv__: 'operatorOverloading', __floordiv__: 'operatorOverloading', __mod__: 'operatorOverloading',
  __pow__: 'operatorOverloading', __eq__: 'operatorOverloading', __lt__: 'operatorOverloading',
  __le__: 'operatorOverloading', __gt__: 'operatorOverloading', __ge__: 'operatorOverloading',
  __ne__: 'operatorOverloading', __neg__: 'operatorOverloading', __and__: 'operatorOverloading',
  __or__: 'operatorOverloading', __matmul__: 'operatorOverloading', __getitem__: 'operatorOverloading',
  __setitem__: 'operatorOverloading', __contains__: 'operatorOverloading', __len__: 'operatorOverloading',
  __enter__: 'contextManagers', __exit__: 'contextManagers', __aenter__: 'contextManagers', __aexit__: 'contextManagers',
  __iter__: 'generators', __next__: 'generators', __aiter__: 'generators',
  __getattr__: 'metaprogramming', __getattribute__: 'metaprogramming', __setattr__: 'metaprogramming',
  __new__: 'metaprogramming', __init_subclass__: 'metaprogramming', __class_getitem__: 'metaprogramming',
  __set_name__: 'metaprogramming', __get__: 'metaprogramming', __set__: 'metaprogramming',
  __call__: 'higherOrderFunctions', __hash__: 'hashing',
} as const));

/** Lowercase words of an identifier: `parseHTTPResponse_v2` → parse, http, response, v2. */
export function splitName(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_$#-]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

interface NameHint {
  pattern: RegExp;
  key: FeatureKey;
  /** Adds a third label naming the variant, e.g. `merge sort`. */
  variant?: (m: RegExpExecArray) => string;
}

const NAME_HINTS: readonly NameHint[] = [
  { pattern: /\b(quick|merge|heap|bubble|insertion|selection|radix|counting|shell|bucket|tim|cocktail|gnome) ?sort/, key: 'sorting', variant: (m) => `${m[1]} sort` },
  { pattern: /\btopo(?:logical)? ?sort/, key: 'topologicalSort' },
  { pattern: /\bsort(?:ed|ing|er)?\b/, key: 'sorting' },
  { pattern: /\bbinary search\b|\bbsearch\b|\bbisect/, key: 'binarySearch' },
  { pattern: /\b(?:bfs|breadth first)\b/, key: 'breadthFirstSearch' },
  { pattern: /\b(?:dfs|depth first)\b/, key: 'depthFirstSearch' },
  { pattern: /\b(?:dijkstra|bellman ford|floyd warshall|a ?star|shortest path)\b/, key: 'shortestPath' },
  { pattern: /\b(?:knapsack|memo|memoize|memoized|dp|lcs|longest common|edit distance|levenshtein|coin change|longest increasing)\b/, key: 'dynamicProgramming' },
  { pattern: /\b(?:permutations?|permute|combinations?|subsets|power set|n ?choose ?k)\b/, key: 'combinatorics' },
  { pattern: /\bbacktrack/, key: 'backtracking' },
  { pattern: /\b(?:is prime|primes|sieve)\b/, key: 'primeNumbers' },
  { pattern: /\b(?:gcd|lcm)\b/, key: 'gcd' },
  { pattern: /\bhash(?:ing|er)?\b|\bdigest\b/, key: 'hashing' },
  { pattern: /\btrie\b/, key: 'trie' },
  { pattern: /\b(?:bst|binary search tree)\b/, key: 'binarySearchTree' },
  { pattern: /\btree\b/, key: 'tree' },
  { pattern: /\b(?:linked list|list node)\b/, key: 'linkedList' },
  { pattern: /\b(?:graph|adjacency)\b/, key: 'graph' },
  { pattern: /\bpriority queue\b/, key: 'priorityQueue' },
  { pattern: /\bheap\b(?! sort)/, key: 'heap' },
  { pattern: /\bdeque\b/, key: 'deque' },
  { pattern: /(?<!priority )\bqueue\b/, key: 'queue' },
  { pattern: /\bstack\b/, key: 'stack' },
  { pattern: /\b(?:cache|lru)\b/, key: 'cache' },
  { pattern: /\bmatrix\b/, key: 'matrix' },
];

function noteNameHints(words: readonly string[], facts: Facts): void {
  if (words.length === 0) return;
  const phrase = words.join(' ');
  let sorted = false;
  for (const hint of NAME_HINTS) {
    const m = hint.pattern.exec(phrase);
    if (!m) continue;
    if (hint.key === 'sorting' || hint.key === 'topologicalSort') {
      if (sorted) continue;
      sorted = true;
    }
    if (hint.variant) facts.paths.push([...FEATURES[hint.key], hint.variant(m)] as FeaturePath);
    else facts.keys.add(hint.key);
  }
}

// Verbs that start a function name describing what the code does; other names are skipped.
const VERBS = new Set(
  (
    'accept add aggregate align allocate analyze analyse append apply archive assign authenticate authorize await ' +
    'backup balance batch bind blur broadcast build bundle cache calculate call cancel capture cast check ' +
    'classify clean cleanup clear clip clone close cluster collect combine commit compare compile complete ' +
    'compose compress compute concat configure confirm connect consume contain convert copy count crawl create ' +
    'crop decode decompress decrypt deduplicate delete deploy deserialize destroy detect determine diff disable ' +
    'dispatch display divide download draw drop dump edit emit enable encode encrypt enqueue ensure enumerate ' +
    'escape estimate evaluate execute expand export extract fetch fill filter finalize find flatten flip flush ' +
    'fold format forward generate get group handle hash highlight import increment index infer initialize ' +
    'inject insert inspect install interpolate invert invoke iterate join launch lint list listen load lock log ' +
    'login logout lookup make mark mask match measure merge migrate minify mock modify monitor mount move ' +
    'multiply navigate normalize notify open optimize order pack pad paginate parse partition patch pause ' +
    'persist pick ping plot poll pop populate post predict prepare preprocess print process produce profile ' +
    'project prompt prune publish pull push put query queue quote rank read rebuild receive reconcile record ' +
    'redirect reduce refresh register reload remove rename render reorder repair replace reply report request ' +
    'require reset resize resolve restart restore resume retry return reverse rewrite rotate round route run ' +
    'sample sanitize save scale scan schedule scrape search seed select send serialize serve set setup shift ' +
    'show shuffle shutdown sign simulate skip slice slugify solve sort split start stop store stream strip ' +
    'submit subscribe subtract sum summarize swap sync tag tokenize toggle track train transform translate ' +
    'transpose traverse trim truncate unlock unpack unregister unsubscribe unwrap update upgrade upload upsert ' +
    'validate verify visit wait walk warn watch wrap write zip'
  ).split(' '),
);
const VERB_ALIASES: ReadonlyMap<string, string> = new Map(Object.entries({
  calc: 'calculate', init: 'initialize', gen: 'generate', del: 'delete', rm: 'remove', mk: 'make', eval: 'evaluate',
  exec: 'execute', fmt: 'format', conv: 'convert', cmp: 'compare', analyse: 'analyze',
  is: 'check', has: 'check', can: 'check', should: 'check', to: 'convert', on: 'handle',
}));
// One-word names too generic to say anything about the file.
const GENERIC_SINGLE = new Set([
  'run', 'call', 'get', 'set', 'handle', 'execute', 'process', 'apply', 'invoke', 'make', 'start', 'stop', 'initialize',
  'setup', 'close', 'open', 'reset', 'clear', 'update', 'wait', 'check', 'convert', 'return', 'add', 'remove', 'create',
  'build', 'render', 'load', 'show', 'list', 'log', 'print', 'write', 'read',
]);
const TRIVIAL = new Set([
  'constructor', 'setUp', 'tearDown', 'setUpClass', 'tearDownClass', 'toString', 'equals', 'hashCode', 'compareTo',
  'clone', 'finalize', 'String', 'Error', 'Len', 'Less', 'Swap', 'init', 'valueOf', 'toJSON', 'get', 'set',
]);

const PREDICATE_PREFIXES = new Set(['is', 'has', 'can', 'should']);
const FILLER_PREFIXES = new Set(['do', 'perform', 'try', 'internal']);

/** `parseConfigFile` → ["functionality", "parse", "parse config file"]; null unless it starts with a verb. */
function functionality(allWords: readonly string[]): FeaturePath | null {
  // doSort / performLookup / trySend: the verb is the second word.
  const words = allWords.length > 1 && FILLER_PREFIXES.has(allWords[0]!) ? allWords.slice(1) : allWords;
  const first = words[0];
  if (first === undefined) return null;
  const verb = VERB_ALIASES.get(first) ?? first;
  if (!VERBS.has(verb)) return null;
  if (words.length === 1) return GENERIC_SINGLE.has(verb) ? null : ['functionality', verb];
  // getName / set_value: plain accessors.
  if ((verb === 'get' || verb === 'set') && words.length === 2) return null;
  let phrase: string;
  if (PREDICATE_PREFIXES.has(first)) phrase = words.slice(0, 4).join(' ');
  else if (first === 'to') phrase = ['convert', ...words.slice(0, 4)].join(' ');
  else phrase = [verb, ...words.slice(1, 4)].join(' ');
  return ['functionality', verb, phrase];
}

function noteStyle(facts: Facts): void {
  const { keys } = facts;
  if (facts.hasClasses) keys.add('objectOriented');
  const objectOriented = facts.hasClasses || keys.has('objectOriented') || keys.has('interfaces') || keys.has('methods');
  if (!objectOriented && facts.defs.length > 0) keys.add('procedural');
}

// ---------------------------------------------------------------------------------------------
// Normalising the label paths

function finalise(paths: readonly FeaturePath[], maxPerCategory: number): Feature[] {
  const unique = new Map<string, [FeatureCategory, string[]]>();
  for (const [category, ...rawLabels] of paths) {
    const labels: string[] = [];
    for (const raw of rawLabels) {
      const label = raw.trim().toLowerCase().replace(/\s+/g, ' ');
      if (label && labels[labels.length - 1] !== label) labels.push(label);
      if (labels.length === 3) break;
    }
    if (labels.length === 0) continue;
    const key = `${category}\u0000${labels.join('\u0000')}`;
    if (!unique.has(key)) unique.set(key, [category, labels]);
  }
  // A path that another one extends says nothing more: keep only the deepest.
  const prefixes = new Set<string>();
  for (const [category, labels] of unique.values()) {
    for (let i = 1; i < labels.length; i++) prefixes.add(`${category}\u0000${labels.slice(0, i).join('\u0000')}`);
  }
  const byCategory = new Map<FeatureCategory, Feature[]>();
  for (const [key, [category, labels]] of unique) {
    if (prefixes.has(key)) continue;
    let list = byCategory.get(category);
    if (!list) byCategory.set(category, (list = []));
    if (list.length < maxPerCategory) list.push({ category, labels });
  }
  const features: Feature[] = [];
  for (const category of FEATURE_CATEGORIES) features.push(...(byCategory.get(category) ?? []));
  return features;
}
