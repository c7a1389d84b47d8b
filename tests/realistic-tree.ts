// Test helper: a feature tree shaped like the ones real corpora give — the method's categories
// (two of them excluded by default), Zipf-like frequencies at every level, 2 to 6 children per
// node, four levels deep — built from a seed, so every run sees the same tree.
import { FEATURE_CATEGORIES } from '../schemas/categories.js';
import { seededRandom } from '../lib/random.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { ROOT_ID, type TreeStore } from '../stores/tree-store.js';

export function realisticTree(seed = 1, clock = () => 1_700_000_000_000): { trees: FeatureTrees; tree: TreeStore } {
  const trees = new FeatureTrees(clock);
  const { tree } = trees.get('all');
  const random = seededRandom(seed);
  const grow = (parentId: string, depth: number, parentFrequency: number) => {
    if (depth > 4) return;
    const width = 2 + Math.floor(random() * 5);
    for (let j = 0; j < width; j++) {
      // Zipf-like within the siblings, scaled to the parent, at least one file.
      const frequency = Math.max(1, Math.round(parentFrequency / (j + 1) ** (0.8 + random())));
      const child = tree.addNode({ parentId, label: `d${depth}-${j}`, origin: 'extracted', frequency });
      grow(child.id, depth + 1, frequency);
    }
  };
  FEATURE_CATEGORIES.forEach((category, i) => {
    const frequency = Math.round(600 / (i + 1) ** 0.9);
    const node = tree.addNode({ parentId: ROOT_ID, label: category, origin: 'extracted', frequency });
    grow(node.id, 2, frequency);
  });
  return { trees, tree };
}
