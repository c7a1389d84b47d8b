// Builds the quality report of a run: the figures (quality.json, for machines) and one
// self-contained HTML page (for people). `buildReport` takes RunSources, so it works over any
// store of records; `writeReport` is the out-dir form the CLI uses.
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../connectors/atomic-file.js';
import { measure, openOutDir, type MeasureOptions, type QualityFigures, type RunSource } from '../quality/collect.js';
import { ANY_TREE, treeScopes, type NodeHits } from '../quality/diversity.js';
import type { JudgeConfig } from '../quality/judge.js';
import type { FeatureTreeNode } from '../quality/records.js';
import { studentFigures, throughput, tokenFigures, type PricePer1k, type StudentFigures, type Throughput, type TokenFigures } from '../quality/run-figures.js';
import { loadGrammars, type Grammars } from '../analysis/tree-sitter/grammars.js';
import { renderReport } from './html.js';

export const QUALITY_FORMAT = 'treesynth-quality';
export const QUALITY_VERSION = 1;

export interface TreeStats {
  nodes: number;
  leaves: number;
  depth: number;
  categories: number;
  byOrigin: Record<string, number>;
}

/** Everything the report shows, as written to quality.json. */
export interface QualityReport {
  format: typeof QUALITY_FORMAT;
  version: typeof QUALITY_VERSION;
  generatedAt: string;
  run: string;
  figures: QualityFigures;
  tree: TreeStats | null;
  throughput: Throughput;
  tokens: TokenFigures;
  /** With --cumulative: each run alone, and all of them together. */
  cumulative: { runs: Array<{ run: string; figures: QualityFigures }>; total: QualityFigures } | null;
  /** The student model's pass rate per category and how sampling moved toward its weak areas; null without one. */
  student: StudentFigures | null;
  /** Things a reader should know: what was not measured, and why. */
  notes: string[];
}

/** A tree node as the page's script reads it: short keys keep big trees small. */
export interface ClientNode {
  l: string;
  f: number;
  /** r: root, x: extracted, e: evolved. */
  o: 'r' | 'x' | 'e';
  a?: string[];
  r?: number;
  /** Samples and tasks that use the node; -1 for roots (not a feature). */
  s: number;
  t: number;
  c?: ClientNode[];
}

export function clientTree(tree: FeatureTreeNode, hits: { samples: NodeHits; tasks: NodeHits }): ClientNode {
  const convert = (node: FeatureTreeNode, scope: string, path: string[]): ClientNode => {
    const isRoot = node.origin === 'root' || path.length === 0;
    const out: ClientNode = {
      l: node.label,
      f: Math.round(node.frequency * 100) / 100,
      o: isRoot ? 'r' : node.origin === 'evolved' ? 'e' : 'x',
      s: isRoot ? -1 : hits.samples.get(scope, path),
      t: isRoot ? -1 : hits.tasks.get(scope, path),
    };
    if (node.aliases.length > 0) out.a = node.aliases;
    if (node.evolutionRound !== undefined) out.r = node.evolutionRound;
    if (node.children.length > 0) out.c = node.children.map((c) => convert(c, scope, [...path, c.label]));
    return out;
  };
  const scopes = treeScopes(tree);
  if (scopes.length === 1 && scopes[0]!.tree === ANY_TREE) return convert(tree, ANY_TREE, []);
  // One tree per language: the wrapper holds each tree's root, whose children start the paths.
  return {
    l: tree.label, f: tree.frequency, o: 'r', s: -1, t: -1,
    c: scopes.map((s) => convert(s.root, s.tree, [])),
  };
}

export function treeStats(tree: FeatureTreeNode): TreeStats {
  const stats: TreeStats = { nodes: 0, leaves: 0, depth: 0, categories: 0, byOrigin: {} };
  for (const scope of treeScopes(tree)) {
    stats.categories += scope.root.children.length;
    const walk = (node: FeatureTreeNode, depth: number): void => {
      for (const c of node.children) {
        stats.nodes += 1;
        stats.depth = Math.max(stats.depth, depth + 1);
        stats.byOrigin[c.origin] = (stats.byOrigin[c.origin] ?? 0) + 1;
        if (c.children.length === 0) stats.leaves += 1;
        walk(c, depth + 1);
      }
    };
    walk(scope.root, 0);
  }
  return stats;
}

export interface BuildOptions {
  /** Tree-sitter grammars for the complexity figures; loaded when absent, null to count tokens. */
  grammars?: Grammars | null;
  seed?: number;
  price?: PricePer1k | null;
  /** The LLM judge over this many random samples of the run; absent: not run. */
  judge?: { config: JudgeConfig; samples: number; model: string } | null;
  /** Why the judge was not run, for the page (e.g. no endpoint configured). */
  judgeSkipped?: string;
  now?: () => Date;
  measure?: Pick<MeasureOptions, 'maxInstructions' | 'maxPairs' | 'ngrams' | 'embedder'>;
}

/**
 * Measures `run` (and, with `others`, every run alone and all together) and renders the page.
 * The records may come from an out-dir or any other RunSource; nothing is written here.
 */
export async function buildReport(
  run: RunSource,
  others: readonly RunSource[],
  options: BuildOptions = {},
  reopen?: (source: RunSource) => Promise<RunSource>,
): Promise<{ report: QualityReport; html: string }> {
  const ownGrammars = options.grammars === undefined ? await loadGrammars() : null;
  const grammars = options.grammars === undefined ? ownGrammars : options.grammars;
  try {
    const base: MeasureOptions = { grammars, ...(options.seed !== undefined ? { seed: options.seed } : {}), ...options.measure };
    const measured = await measure([run], { ...base, judge: options.judge ? { config: options.judge.config, samples: options.judge.samples } : null });
    let cumulative: QualityReport['cumulative'] = null;
    if (others.length > 0) {
      // Sources are read once each; the union needs a second pass, so they are opened again.
      if (!reopen) throw new Error('cumulative figures need a way to reopen the sources');
      const runs = [{ run: run.label, figures: measured.figures }];
      for (const other of others) runs.push({ run: other.label, figures: (await measure([other], base)).figures });
      const all = await Promise.all([run, ...others].map(reopen));
      cumulative = { runs, total: (await measure(all, base)).figures };
    }
    const judgeUsage: Parameters<typeof tokenFigures>[2] = measured.figures.judge ? { judge: measured.figures.judge.usage } : {};
    const notes: string[] = [];
    if (!options.judge) notes.push(options.judgeSkipped ?? 'LLM judge not run (pass --judge with an endpoint configured).');
    if (run.tree === null) notes.push('No tree.json: the feature tree and coverage are not shown.');
    const report: QualityReport = {
      format: QUALITY_FORMAT,
      version: QUALITY_VERSION,
      generatedAt: (options.now?.() ?? new Date()).toISOString(),
      run: run.label,
      figures: measured.figures,
      tree: run.tree ? treeStats(run.tree) : null,
      throughput: throughput(run.summary),
      tokens: tokenFigures(run.summary, options.price ?? null, judgeUsage),
      cumulative,
      student: studentFigures(run.summary),
      notes,
    };
    const picture = measured.tree ? clientTree(measured.tree, measured.hits) : null;
    return { report, html: renderReport(report, picture) };
  } finally {
    ownGrammars?.delete();
  }
}


export interface WriteReportOptions extends BuildOptions {
  /** The HTML file; default `<outDir>/report.html`. quality.json goes next to it. */
  output?: string;
  /** More out-dirs for the cumulative figures. */
  cumulative?: readonly string[];
}

/** The report of an out-dir: writes report.html and quality.json, returns their paths and the figures. */
export async function writeReport(outDir: string, options: WriteReportOptions = {}): Promise<{ html: string; quality: string; report: QualityReport }> {
  const run = await openOutDir(outDir);
  const others = await Promise.all((options.cumulative ?? []).map(openOutDir));
  return writeReportOf(run, others, options.output ?? join(outDir, 'report.html'), options, (s) => openOutDir(s.label));
}

/** The report of any run source (an out-dir, the topics of a Kafka deployment) into `htmlPath`. */
export async function writeReportOf(
  run: RunSource,
  others: readonly RunSource[],
  htmlPath: string,
  options: BuildOptions,
  reopen: (s: RunSource) => Promise<RunSource>,
): Promise<{ html: string; quality: string; report: QualityReport }> {
  const { report, html } = await buildReport(run, others, options, reopen);
  const qualityPath = join(dirname(htmlPath), 'quality.json');
  await writeFileAtomic(htmlPath, html);
  await writeFileAtomic(qualityPath, `${JSON.stringify(report, null, 2)}\n`);
  return { html: htmlPath, quality: qualityPath, report };
}
