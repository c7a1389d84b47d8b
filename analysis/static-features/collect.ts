// Collecting facts from the query matches: one pass over the captures of the language's feature
// query, recording flags, imports, calls, definitions and types, then handing the facts to the
// resolution, definition and style steps and turning the flagged keys into label paths.
import type { CodeFile } from '../../schemas/contract.js';
import type { FeaturePath } from '../../schemas/categories.js';
import { FEATURES } from '../tree-sitter/categories.js';
import type { Grammar, SyntaxNode } from '../tree-sitter/grammars.js';
import { noteDefinitions } from './definitions.js';
import type { Facts } from './facts.js';
import { isEmptyHandler, noteComment } from './issues.js';
import { bindImport, resolveImports, resolveSymbols } from './resolve.js';
import { noteStyle } from './style.js';

const SIMPLE_CHAIN = /^[\w$#]+(?:\.[\w$#]+)*$/;

export function collectFeatures(grammar: Grammar, root: SyntaxNode, file: CodeFile): FeaturePath[] {
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
