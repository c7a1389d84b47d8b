// Trees of a changing corpus, compared across modes: the local tree of a corpus, the Kafka tree
// from its compacted changelog, and their live parts (retired nodes left out), for the
// retraction and soak suites.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createLabelEmbedder } from '../../embeddings/index.js';
import { FeatureTrees } from '../../stores/feature-trees.js';
import type { NestedNode } from '../../stores/tree-store.js';
import { TOPICS, root, treesynth, type TestCluster } from './harness.js';

/** Real JavaScript files, each with its own content. */
export function sourceFiles(count: number): string[] {
  const src = join(root, 'node_modules/kafkajs/src');
  return (readdirSync(src, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.js') && !f.includes('spec') && !f.includes('testHelpers') && statSync(join(src, f)).isFile())
    .sort()
    .slice(0, count)
    .map((f) => join(src, f));
}

/** The live part of a tree, children by label: what a corpus's files add up to, spelled by node label. */
export interface Live {
  label: string;
  frequency: number;
  children: Live[];
}
export const live = (n: NestedNode): Live => ({
  label: n.label,
  frequency: n.frequency,
  children: n.children.filter((c) => !c.retired).map(live).sort((a, b) => (a.label < b.label ? -1 : 1)),
});

/**
 * `got` with each node spelled as its counterpart in `want` is (the child of the counterpart
 * parent whose label is one of the node's spellings). Which spelling names a merged node is the
 * first to arrive, and arrival order differs between the modes (partitions, and versions since
 * retracted): the comparison is of what the tree counts, not of which spelling came first.
 */
export function spelledAs(got: NestedNode, want: NestedNode): NestedNode {
  return {
    ...got,
    children: got.children.map((c) => {
      const match = want.children.find((w) => w.label === c.label || c.aliases.includes(w.label));
      return match ? spelledAs({ ...c, label: match.label }, match) : c;
    }),
  };
}

/** The tree `run --input` writes for `corpus`, live nodes only (a local run has no others); near-duplicate filtering off unless `args` says. */
export async function localTree(corpus: string, out: string, cwd: string, args: string[] = ['--near-duplicate-radius', '0']): Promise<NestedNode> {
  const local = await treesynth(['run', '--input', corpus, '--out', out, '--tasks', '0', ...args, '-q'], cwd);
  expect(local.code, local.stderr).toBe(0);
  return JSON.parse(readFileSync(join(out, 'tree.json'), 'utf8')) as NestedNode;
}

/** The Kafka tree as the compacted tree.nodes topic holds it. */
export async function kafkaTree(cluster: TestCluster, prefix: string): Promise<NestedNode> {
  const changes = await cluster.latest(prefix, TOPICS.treeChanges);
  const trees = await FeatureTrees.restore(changes.values(), createLabelEmbedder({ kind: 'lexical' }));
  return trees.get('all').tree.toNested();
}

