// Evolution control, the same in both runners: when a round is due, how it is numbered and how
// it is seeded. Rounds are numbered per tree, 1, 2, 3 ...:
//   - while files arrive, round k is due when the tree has taken in k·N files (N = evolve every),
//     counted by the tree's intake in Kafka mode (every version of a file, never going down
//     when files change or go; restored with the tree) and by the root's frequency in local
//     mode (the same there): a restart neither repeats nor skips a round;
//   - rounds asked for after that (end of corpus in local mode, `request-evolution` in Kafka
//     mode) continue after the highest round already requested for the tree.
// A round's subtree is drawn with a seed made of the run's seed and the round number only,
// so the same corpus, seed and rounds evolve the same tree in either runner.
import { mixSeed } from '../lib/random.js';
import type { EvolutionRequest } from '../schemas/contract.js';

/** Tells apart the evolution draw from the task draws that share the run's seed. */
const EVOLUTION_STREAM = 0xe401;

/** The seed of round `round`'s subtree draw. */
export function evolutionSeed(seed: number, round: number): number {
  return mixSeed(seed, round, EVOLUTION_STREAM);
}

/**
 * The round due now that a tree holds `files` files, or null. `every` is N; 0 turns rounds
 * during the corpus off.
 */
export function roundDue(treeKey: string, files: number, every: number, at: number): EvolutionRequest | null {
  if (every <= 0 || files <= 0 || files % every !== 0) return null;
  return { treeKey, round: files / every, reason: 'every-n-files', requestedAt: at };
}

/** The rounds that follow the highest one requested so far for a tree (0 when none was). */
export function nextRounds(treeKey: string, highest: number, count: number, reason: string, at: number): EvolutionRequest[] {
  return Array.from({ length: Math.max(0, count) }, (_, i) => ({ treeKey, round: highest + i + 1, reason, requestedAt: at }));
}

/** The highest round per tree among requests already made (e.g. read back from tree.evolve). */
export function highestRounds(requests: Iterable<Pick<EvolutionRequest, 'treeKey' | 'round'>>): Map<string, number> {
  const highest = new Map<string, number>();
  for (const r of requests) highest.set(r.treeKey, Math.max(highest.get(r.treeKey) ?? 0, r.round));
  return highest;
}

/** The highest round requested while a corpus of `files` files went in with a round every `every`. */
export function roundsDuringCorpus(files: number, every: number): number {
  return every > 0 ? Math.floor(files / every) : 0;
}
