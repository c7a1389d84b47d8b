// A text picture of the feature tree: the most frequent branches with frequency bars, so a
// person can see what the corpus is about at a glance (tree.txt, and the end of `run`).
import type { NestedNode } from '../stores/tree-store.js';

export interface RenderOptions {
  /** Children shown per node. */
  width: number;
  /** Levels below the root. */
  depth: number;
  /** Characters of the longest bar. */
  barChars?: number;
}

export function renderTree(root: NestedNode, options: RenderOptions): string {
  const bar = options.barChars ?? 20;
  const scale = Math.max(1, root.frequency);
  const lines = [`${root.label} (${formatFrequency(root.frequency)} files)`];
  const walk = (node: NestedNode, prefix: string, level: number) => {
    if (level > options.depth) return;
    const shown = node.children.slice(0, options.width);
    const hidden = node.children.length - shown.length;
    shown.forEach((child, i) => {
      const last = i === shown.length - 1 && hidden === 0;
      const filled = Math.max(1, Math.round((child.frequency / scale) * bar));
      const marker = child.origin === 'evolved' ? ' *' : '';
      const aliases = child.aliases.length ? `  (also: ${child.aliases.slice(0, 3).join(', ')}${child.aliases.length > 3 ? ', …' : ''})` : '';
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${child.label}${marker}  ${'█'.repeat(filled)} ${formatFrequency(child.frequency)}${aliases}`);
      walk(child, `${prefix}${last ? '   ' : '│  '}`, level + 1);
    });
    if (hidden > 0) lines.push(`${prefix}└─ … ${hidden} more`);
  };
  walk(root, '', 1);
  return `${lines.join('\n')}\n`;
}

function formatFrequency(f: number): string {
  return Number.isInteger(f) ? String(f) : f.toFixed(1);
}
