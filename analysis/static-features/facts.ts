// What one pass over the query matches gathers about a file, before any of it becomes a label
// path. Shared by the collector and by the steps that resolve, name and classify those facts.
import type { FeaturePath } from '../../schemas/categories.js';
import type { FeatureKey } from '../tree-sitter/categories.js';
import type { SyntaxNode } from '../tree-sitter/grammars.js';

export interface Definition {
  name: string;
  node: SyntaxNode;
  receiver: string | null;
}

export interface Facts {
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
