// `npm run bench embeddings`: the MiniLM label embedder beside the lexical one.
//  1. merge precision and recall on the labelled pairs (tests/fixtures/label-pairs.json), each
//     embedder at its default threshold and at its own F1-best one
//  2. raw labels/s: distinct labels in one call, and in per-file calls as the stage makes them
//  3. the canonicalize stage over the label streams of real files (static extraction), as in a
//     run: lexical, MiniLM without a cache, MiniLM behind the per-run cache (CachedEmbedder,
//     cold at the start). DESIGN.md's 20,000 labels/s target was set with the lexical embedder.
// Beside wall-clock rates, labels per CPU-second (all threads of this process): on a shared
// machine the wall clock measures the neighbours too; the load average is printed with them.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { extractFeatures } from '../analysis/static-features/index.js';
import { loadGrammars } from '../analysis/tree-sitter/grammars.js';
import { CachedEmbedder } from '../embeddings/cached.js';
import type { Embedder } from '../embeddings/embedder.js';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { bestThreshold, mergeQuality, parseLabelPairs, scorePairs, type MergeQuality } from '../embeddings/merge-quality.js';
import { MiniLmEmbedder } from '../embeddings/minilm.js';
import { canonicalizeFeatureSet } from '../processors/canonicalize.js';
import type { FeatureSet } from '../schemas/contract.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { MERGE_SIMILARITY } from '../topology/settings.js';
import { benchCorpus } from './corpus.js';

const now = () => performance.now();
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const round3 = (x: number) => +x.toFixed(3);
const quality = (q: MergeQuality) => ({ threshold: q.threshold, precision: round3(q.precision), recall: round3(q.recall), f1: round3(q.f1), wrongMerges: q.wrongMerges.length });

/** Static feature sets of real files: the label stream a run without a model canonicalizes. */
async function featureSets(perLanguage: number, cacheDir: string): Promise<FeatureSet[]> {
  const grammars = await loadGrammars();
  const sets: FeatureSet[] = [];
  for (const [i, f] of benchCorpus(perLanguage, cacheDir).entries()) {
    const outcome = extractFeatures({
      id: String(i), path: f.path, language: f.language, content: f.content, sizeBytes: Buffer.byteLength(f.content),
      lines: f.content.split('\n').length, source: 'bench', treeKey: 'all',
    }, { grammars });
    if (outcome.ok) sets.push(outcome.value);
  }
  return sets;
}

async function stage(sets: readonly FeatureSet[], embedder: Embedder, threshold: number) {
  const trees = new FeatureTrees();
  let seen = 0;
  let merged = 0;
  const t = now();
  const cpu = cpuSeconds();
  for (const set of sets) {
    const { labels } = await canonicalizeFeatureSet(set, { trees, embedder, threshold });
    seen += labels.seen;
    merged += labels.merged;
  }
  const seconds = (now() - t) / 1000;
  return { labels: seen, merged, seconds: +seconds.toFixed(2), labelsPerSecond: Math.round(seen / seconds), labelsPerCpuSecond: Math.round(seen / (cpuSeconds() - cpu)) };
}

async function labelsPerSecond(embedder: Embedder, labels: readonly string[], perCall: number): Promise<{ wall: number; cpu: number }> {
  const t = now();
  const cpu = cpuSeconds();
  for (let i = 0; i < labels.length; i += perCall) await embedder.embed(labels.slice(i, i + perCall));
  return { wall: Math.round(labels.length / ((now() - t) / 1000)), cpu: Math.round(labels.length / (cpuSeconds() - cpu)) };
}

export async function embeddingsBench(cacheDir: string): Promise<Record<string, unknown>> {
  const minilm = await MiniLmEmbedder.open();
  const lexical = new LexicalLabelEmbedder();

  const pairs = parseLabelPairs(JSON.parse(readFileSync(new URL('../../tests/fixtures/label-pairs.json', import.meta.url), 'utf8')));
  const neuralPairs = await scorePairs(minilm, pairs);
  const lexicalPairs = await scorePairs(lexical, pairs);
  const merge = {
    pairs: { same: pairs.filter((p) => p.same).length, different: pairs.filter((p) => !p.same).length },
    minilm: { atDefault: quality(mergeQuality(neuralPairs, MERGE_SIMILARITY.minilm)), best: quality(bestThreshold(neuralPairs)) },
    lexical: { atDefault: quality(mergeQuality(lexicalPairs, MERGE_SIMILARITY.lexical)), best: quality(bestThreshold(lexicalPairs)) },
  };
  const line = (name: string, q: ReturnType<typeof quality>) => `${name} at ${q.threshold}: precision ${q.precision}, recall ${q.recall}, F1 ${q.f1}`;
  console.log(`embeddings: merge on ${pairs.length} labelled pairs: ${line('minilm', merge.minilm.atDefault)}; ${line('lexical', merge.lexical.atDefault)} (F1-best: minilm ${merge.minilm.best.threshold}, lexical ${merge.lexical.best.threshold} with precision ${merge.lexical.best.precision})`);

  const sets = await featureSets(Number(process.env['BENCH_EMBED_FILES_PER_LANGUAGE'] ?? 60), cacheDir);
  const occurrences = sets.flatMap((s) => s.features.flatMap((f) => [f.category, ...f.labels]));
  const distinct = [...new Set(occurrences)];
  // Warm both up once (model load, first-run allocations), on labels the timed runs do not use.
  await minilm.embed(['warm up', 'the model']);

  const raw = {
    distinctLabels: distinct.length,
    minilmOneCall: await labelsPerSecond(minilm, distinct, distinct.length),
    minilmPerFile: await labelsPerSecond(minilm, distinct, 12),
    lexicalOneCall: await labelsPerSecond(new LexicalLabelEmbedder(), distinct, distinct.length),
  };
  const load = loadavg().map((l) => l.toFixed(1)).join(' ');
  const rate = (r: { wall: number; cpu: number }) => `${r.wall} labels/s (${r.cpu} per CPU-second)`;
  console.log(`embeddings: ${distinct.length} distinct labels: minilm ${rate(raw.minilmOneCall)} in one call, ${rate(raw.minilmPerFile)} in calls of 12; lexical ${rate(raw.lexicalOneCall)} (load average ${load})`);

  const stages = {
    files: sets.length, labelOccurrences: occurrences.length, distinctLabels: distinct.length,
    lexical: await stage(sets, new LexicalLabelEmbedder(), MERGE_SIMILARITY.lexical),
    minilmUncached: await stage(sets, minilm, MERGE_SIMILARITY.minilm),
    minilmCached: await stage(sets, new CachedEmbedder(minilm), MERGE_SIMILARITY.minilm),
  };
  console.log(
    `embeddings: canonicalize stage over ${sets.length} files' static labels (${occurrences.length} occurrences, ${distinct.length} distinct): ` +
      `lexical ${stages.lexical.labelsPerSecond} labels/s; minilm ${stages.minilmUncached.labelsPerSecond} labels/s uncached (${stages.minilmUncached.labelsPerCpuSecond} per CPU-second), ` +
      `${stages.minilmCached.labelsPerSecond} with the per-run cache (${stages.minilmCached.labelsPerCpuSecond} per CPU-second) ` +
      `(DESIGN.md target 20000, set with the lexical embedder); merged by similarity: lexical ${stages.lexical.merged}, minilm ${stages.minilmCached.merged} (load average ${loadavg()[0]!.toFixed(1)})`,
  );
  return { merge, raw, stage: { ...stages, target: '≥ 20000 labels/s (lexical)' }, loadAverage: loadavg() };
}
