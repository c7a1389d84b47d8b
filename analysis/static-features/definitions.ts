// Definitions: recursion from call sites inside a definition's own span, entry points, tests and
// benchmarks, Python dunder methods, and for every other name the hints and functionality labels
// its words give (see names.ts).
import type { FeatureKey } from '../tree-sitter/categories.js';
import type { Grammar } from '../tree-sitter/grammars.js';
import type { Definition, Facts } from './facts.js';
import { functionality, noteNameHints, splitName } from './names.js';

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

export function noteDefinitions(facts: Facts, grammar: Grammar, content: string): void {
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

const TRIVIAL = new Set([
  'constructor', 'setUp', 'tearDown', 'setUpClass', 'tearDownClass', 'toString', 'equals', 'hashCode', 'compareTo',
  'clone', 'finalize', 'String', 'Error', 'Len', 'Less', 'Swap', 'init', 'valueOf', 'toJSON', 'get', 'set',
]);
