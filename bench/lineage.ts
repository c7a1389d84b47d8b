// Lineage's cost in the tree writer (stores/source-index.ts): recording every file under the
// nodes it mentions, the index's size (bounded per node, so it grows with nodes, not files), and
// what a retraction costs: one that removes a kept file of a full list refills it by scanning
// every live contribution of the tree; most retractions touch no full list's kept file.
import { createHash } from 'node:crypto';
import { seededRandom } from '../lib/random.js';
import { ContributionStore } from '../stores/contribution-store.js';
import { SourceIndex } from '../stores/source-index.js';

export interface LineageResult {
  files: number;
  nodesPerFile: number;
  indexedNodes: number;
  /** Files kept over all nodes: at most cap × nodes whatever the corpus size. */
  keptFiles: number;
  addMicrosPerFile: number;
  /** Retracting a kept file of the most mentioned node: a full scan of the contributions. */
  refillRetractionMs: number;
  /** Retracting files at random: most need no scan. */
  randomRetractionMs: number;
}

export function lineageBench(files: number, nodes = 5_000, nodesPerFile = 30): LineageResult {
  const random = seededRandom(7);
  const contributions = new ContributionStore();
  const index = new SourceIndex(5, true);
  const ids: string[] = [];
  const plans: string[][] = [];
  for (let i = 0; i < files; i++) {
    ids.push(createHash('sha256').update(String(i)).digest('hex'));
    // Skewed like a feature tree: a few nodes are mentioned by most files.
    const mentioned = new Set<string>();
    while (mentioned.size < nodesPerFile) mentioned.add(`n${Math.floor(nodes * random() ** 3)}`);
    plans.push([...mentioned]);
  }
  const source = { repository: 'https://example.org/big.git', license: 'MIT' };
  let t = performance.now();
  for (let i = 0; i < files; i++) {
    contributions.add('all', ids[i]!, plans[i]!, { path: `src/f${i}.py`, ...source });
    index.add('all', { fileId: ids[i]!, path: `src/f${i}.py`, ...source }, plans[i]!);
  }
  index.flush();
  const addMs = performance.now() - t;
  let kept = 0;
  for (let n = 0; n < nodes; n++) kept += index.get('all', `n${n}`).length;
  const retract = (fileId: string): number => {
    const c = contributions.remove(fileId);
    if (!c) return 0;
    const started = performance.now();
    index.remove('all', fileId, c.nodeIds, () => contributions.sources('all'));
    return performance.now() - started;
  };
  const hot = index.get('all', 'n0').slice(0, 3).map((f) => f.fileId);
  const refill = hot.reduce((sum, id) => sum + retract(id), 0) / hot.length;
  const sample = ids.filter((id) => !hot.includes(id)).slice(0, 200);
  t = sample.reduce((sum, id) => sum + retract(id), 0) / sample.length;
  return {
    files, nodesPerFile, indexedNodes: index.size, keptFiles: kept, addMicrosPerFile: +((addMs * 1000) / files).toFixed(1),
    refillRetractionMs: +refill.toFixed(1), randomRetractionMs: +t.toFixed(2),
  };
}
