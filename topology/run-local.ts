// Local mode: the topology over the in-memory transport, a directory / git tree / JSONL
// corpus in, files out. No broker, no model. Every file read is either accepted (its
// features reach the tree) or rejected with a reason, and the summary says so.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Subject, defaultIfEmpty, lastValueFrom, map, pipe, range, tap, type Observable } from 'rxjs';
import { readDirectory } from '../connectors/directory-source.js';
import { readGitTree } from '../connectors/git-tree-source.js';
import { readJsonl } from '../connectors/jsonl-source.js';
import { writeFileAtomic } from '../connectors/atomic-file.js';
import { JsonlSink, writeTo } from '../connectors/jsonl-sink.js';
import { MemoryTransport } from '../connectors/memory-transport.js';
import { pacedSource } from '../connectors/paced-source.js';
import { canonicalizeLabels, type LabelCounts } from '../processors/canonicalize.js';
import { extractStaticFeatures } from '../analysis/static-features/index.js';
import { filterFiles } from '../processors/filter.js';
import { filterNearDuplicates } from '../processors/filter-near-duplicates.js';
import { evolveTree } from '../processors/evolve.js';
import { extractLlmFeatures } from '../processors/extract.js';
import { generateSamples } from '../processors/generate.js';
import type { ModelAccess, PendingPrompt, StructuredModel } from '../llm/model.js';
import { DECONTAMINATE_STAGE, type DecontaminateConfig } from '../quality/contamination.js';
import { VALIDATE_STAGE, ValidationTally, type ValidationSummary, type ValidateConfig } from '../processors/validate.js';
import { checkSamples } from '../processors/check-samples.js';
import type { Outcome } from '../schemas/outcome.js';
import { sampleSubtrees } from '../processors/sample.js';
import { loadGrammars } from '../analysis/tree-sitter/grammars.js';
import { loadContracts, type EvolutionRequest, type GeneratedSample, type Rejection, type SourceFile, type SynthesisTask, type TreeNodeChange } from '../schemas/contract.js';
import { ContentHashStore } from '../stores/content-hash-store.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { FileIndex } from '../stores/file-index.js';
import { splitOutcomes } from './route-rejections.js';
import type { PipelineSettings, TreeKeyMode } from './settings.js';
import { TOPICS } from '../schemas/topics.js';
import { wireTopology } from './treesynth.js';

export type { TreeKeyMode };

export interface LocalRunConfig extends PipelineSettings {
  input: string;
  out: string;
  gitRef?: string;
  tasks: number;
  maxFiles?: number;
  /** Files in flight at once; bounds memory. */
  window?: number;
  /** The LLM stages; absent means no endpoint: their prompts go to pending.jsonl instead. */
  llm?: LocalLlmConfig;
  /** The sandbox stage for generated samples; absent, samples pass unvalidated (validation null). */
  validation?: ValidateConfig;
  /** Benchmark overlap checks for generated samples; absent, none. */
  decontamination?: DecontaminateConfig;
  /** Called as files settle, for a progress bar or log counters. */
  onProgress?: (progress: RunProgress) => void;
  clock?: () => number;
}

export type LlmStage = 'extract' | 'evolve' | 'generate';

export interface LocalLlmConfig {
  /** Models per stage; a stage without one records its prompts in pending.jsonl. */
  models: Partial<Record<LlmStage, StructuredModel>>;
  /** Stages that use a model at all (others run without: static extraction, no evolution, no generation). */
  stages: readonly LlmStage[];
  /** Characters of a file sent for extraction. */
  maxChars: number;
  /** Records in flight per LLM stage. */
  concurrency: number;
  /** Evolve after every N accepted files (0: never during the corpus). */
  evolveEvery: number;
  /** Evolution rounds after the corpus, before tasks are sampled. */
  evolveRounds: number;
  evolveBreadth: number[];
  evolveTemperature: number;
  minSiblings: number;
  /** Token and request totals by stage, for the summary. */
  usage?: () => Record<string, unknown>;
  endpoint?: string;
}

export interface RunProgress {
  read: number;
  accepted: number;
  rejected: number;
  nodes: number;
  tasks: number;
  samples: number;
  phase: 'files' | 'evolve' | 'tasks' | 'done';
  /** Bytes consumed of a JSONL input, when known. */
  bytesRead?: number;
}

export interface RunSummary {
  input: string;
  files: { read: number; accepted: number; rejected: number };
  rejectedByReason: Record<string, number>;
  rejectedByStage: Record<string, number>;
  exactDuplicates: number;
  nearDuplicates: number;
  labels: LabelCounts;
  nodes: number;
  trees: Record<string, { nodes: number; depth: number; categories: number }>;
  tasks: { requested: number; written: number; rejected: number; byLevel: Record<string, number> };
  evolution: { rounds: number; added: number; known: number; skipped: number; depth: number; breadth: number };
  samples: { generated: number; written: number; rejected: number; contaminated: number; byLevel: Record<string, number>; validation: ValidationSummary | null };
  llm: { endpoint: string | null; stages: string[]; pendingPrompts: number; usage: Record<string, unknown> };
  coverage: { nodesSampled: number; nodes: number; share: number };
  embedders: { labels: string; files: string };
  settings: Record<string, unknown>;
  startedAt: string;
  elapsedMs: number;
  filesPerSecond: number;
}

const FILE_STAGES = new Set(['source', 'filter', 'near-duplicate', 'extract-static', 'extract-llm', 'canonicalize']);
const SAMPLE_STAGES = new Set(['generate', DECONTAMINATE_STAGE, VALIDATE_STAGE]);


function isJsonl(path: string): boolean {
  return /\.(jsonl|ndjson)(\.gz)?$/i.test(path);
}

async function* limit<T>(source: AsyncIterable<T>, max: number | undefined): AsyncIterable<T> {
  if (max === undefined) return yield* source;
  let n = 0;
  for await (const item of source) {
    yield item;
    if (++n >= max) return;
  }
}

function openSource(config: LocalRunConfig, onBytes: (n: number) => void): AsyncIterable<Outcome<SourceFile>> {
  if (config.gitRef) return readGitTree(config.input, config.gitRef, { maxReadBytes: Math.max(config.maxBytes * 4, 1 << 20) });
  if (isJsonl(config.input)) return readJsonl(config.input, { onProgress: onBytes });
  return readDirectory(config.input, { maxReadBytes: Math.max(config.maxBytes * 4, 1 << 20) });
}

const writeJsonAtomic = (path: string, value: unknown) => writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export async function runLocal(config: LocalRunConfig): Promise<RunSummary> {
  const clock = config.clock ?? Date.now;
  const started = clock();
  await mkdir(config.out, { recursive: true });
  const contracts = loadContracts();
  const grammars = await loadGrammars();
  const trees = new FeatureTrees(clock);
  const coverage = new CoverageStore();
  const transport = new MemoryTransport(contracts);
  const llm = config.llm;
  const llmStages = new Set<LlmStage>(llm ? llm.stages : ['extract', 'evolve', 'generate']);

  const progress: RunProgress = { read: 0, accepted: 0, rejected: 0, nodes: 0, tasks: 0, samples: 0, phase: 'files' };
  const labels: LabelCounts = { seen: 0, exact: 0, merged: 0, created: 0 };
  const evolution = { rounds: 0, added: 0, known: 0, skipped: 0, depth: 0, breadth: 0 };
  const rejectedByReason: Record<string, number> = {};
  const rejectedByStage: Record<string, number> = {};
  const taskLevels: Record<string, number> = {};
  const sampleLevels: Record<string, number> = {};
  let tasksRejected = 0;
  let samplesRejected = 0;
  let generated = 0;
  const tally = new ValidationTally();
  const report = () => config.onProgress?.({ ...progress, nodes: trees.nodeCount });

  // Output files are this run's: overwrite what an earlier run left.
  const sinks = {
    rejected: new JsonlSink<Rejection>(join(config.out, 'rejected.jsonl'), { mode: 'overwrite' }),
    tasks: new JsonlSink<SynthesisTask>(join(config.out, 'tasks.jsonl'), { mode: 'overwrite' }),
    samples: new JsonlSink<GeneratedSample>(join(config.out, 'samples.jsonl'), { mode: 'overwrite' }),
    pending: new JsonlSink<PendingPrompt>(join(config.out, 'pending.jsonl'), { mode: 'overwrite' }),
  };
  let pendingPrompts = 0;
  const access = (stage: LlmStage): ModelAccess => {
    const model = llm?.models[stage];
    if (model) return { model };
    return {
      pending: (prompt) => {
        pendingPrompts += 1;
        return sinks.pending.write(prompt);
      },
    };
  };

  const source = pacedSource(limit(openSource(config, (n) => (progress.bytesRead = n)), config.maxFiles), config.window ?? 64);
  const evolutionRequests = new Subject<EvolutionRequest>();
  let round = 0;
  const requestEvolution = (treeKey: string, reason: string) => {
    round += 1;
    evolutionRequests.next({ treeKey, round, reason, requestedAt: clock() });
  };
  let filesDone!: () => void;
  const filesFinished = new Promise<void>((resolve) => (filesDone = resolve));
  const concurrency = llm?.concurrency ?? 16;

  wireTopology(
    transport,
    {
      filter: filterFiles({
        maxBytes: config.maxBytes,
        seen: new ContentHashStore(),
        treeKey: config.treeKey === 'language' ? (language: string) => language : () => 'all',
      }),
      nearDuplicates: filterNearDuplicates({ index: new FileIndex(config.codeEmbedder.dimension), embedder: config.codeEmbedder, radius: config.nearDuplicateRadius }),
      extract: llmStages.has('extract')
        ? extractLlmFeatures({ static: { grammars }, access: access('extract'), maxChars: llm?.maxChars ?? 24_000, concurrency, clock })
        : extractStaticFeatures({ grammars }),
      canonicalize: canonicalizeLabels({ trees, embedder: config.labelEmbedder, threshold: config.similarity }),
      evolve: evolveTree({
        trees, embedder: config.labelEmbedder, access: access('evolve'), threshold: config.similarity, seed: config.seed,
        breadth: llm?.evolveBreadth ?? [4, 2, 2], temperature: llm?.evolveTemperature ?? 2, topN: config.topN, minSiblings: llm?.minSiblings ?? 2,
      }),
      sample: sampleSubtrees({
        trees, coverage, seed: config.seed, temperature: config.temperature, levels: config.levels,
        levelMix: config.levelMix, targetLanguage: config.targetLanguage, topN: config.topN,
        coverageBoost: config.coverageBoost, upweights: config.upweights, required: config.required,
        excludeCategories: ['programming language'], clock,
      }),
      generate: pipe(generateSamples({ access: access('generate'), concurrency, clock }), tap((o) => o.ok && (generated += 1))),
      validate: checkSamples(config.decontamination, config.validation, tally),
    },
    {
      canonicalized: (file) => {
        progress.accepted += 1;
        for (const k of Object.keys(labels) as Array<keyof LabelCounts>) labels[k] += file.labels[k];
        source.settle();
        report();
        const every = llm?.evolveEvery ?? 0;
        if (llmStages.has('evolve') && every > 0 && progress.accepted % every === 0) requestEvolution(file.treeKey, 'every-n-files');
      },
      canonicalizeDone: () => filesDone(),
      evolved: (result) => {
        evolution.rounds += 1;
        for (const k of ['added', 'known', 'skipped', 'depth', 'breadth'] as const) evolution[k] += result[k];
      },
    },
  );
  transport.produce(TOPICS.evolutionRequests, evolutionRequests);

  // Sinks subscribe before anything flows: the in-memory topics are hot.
  const deadLetters = lastValueFrom(
    transport.consume(TOPICS.deadLetters, 'local-sink').pipe(
      tap((r) => {
        bump(rejectedByReason, r.reason);
        bump(rejectedByStage, r.stage);
        if (FILE_STAGES.has(r.stage)) {
          progress.rejected += 1;
          source.settle();
          report();
        } else if (SAMPLE_STAGES.has(r.stage)) samplesRejected += 1;
        else if (r.stage === 'sample') tasksRejected += 1;
      }),
      writeTo(sinks.rejected),
    ),
    { defaultValue: null },
  );
  // Local mode keeps the tree in its store; the changelog file is written compacted at the end.
  const treeDone = lastValueFrom(transport.consume(TOPICS.treeChanges, 'local-sink').pipe(defaultIfEmpty(null)));
  /** Writes a topic to its file, counting records by level as they pass. */
  const drain = <T extends { level: string }>(records: Observable<T>, sink: JsonlSink<T>, byLevel: Record<string, number>, counter: 'tasks' | 'samples') =>
    lastValueFrom(
      records.pipe(
        tap((r) => {
          progress[counter] += 1;
          bump(byLevel, r.level);
          report();
        }),
        writeTo(sink),
      ),
      { defaultValue: null },
    );
  const tasksDone = drain(transport.consume(TOPICS.tasks, 'local-sink'), sinks.tasks, taskLevels, 'tasks');
  const samplesDone = drain(transport.consume(TOPICS.samples, 'local-sink'), sinks.samples, sampleLevels, 'samples');

  // Files in: source rejections (unreadable, invalid JSONL) go straight to the dead letters.
  const { values: files, rejections: sourceRejections } = splitOutcomes<SourceFile>(
    source.items.pipe(tap<Outcome<SourceFile>>(() => (progress.read += 1))),
  );
  transport.produce(TOPICS.deadLetters, sourceRejections);
  transport.produce(TOPICS.files, files);
  transport.start();
  await filesFinished;

  // Evolution rounds over the finished corpus, one after another, then the tree is complete.
  progress.phase = 'evolve';
  report();
  const keys = trees.keys();
  if (llmStages.has('evolve')) for (let r = 0; r < (llm?.evolveRounds ?? 1); r++) for (const key of keys) requestEvolution(key, 'end-of-corpus');
  evolutionRequests.complete();
  await treeDone;

  // Tasks: sampled from the finished tree, spread over the tree keys in turn; generated if a model is there.
  progress.phase = 'tasks';
  const requests = range(0, keys.length === 0 ? 0 : config.tasks).pipe(
    map((index) => ({ treeKey: keys[index % keys.length]!, index, level: null, requestedAt: clock() })),
  );
  transport.produce(TOPICS.taskRequests, requests);
  await Promise.all([tasksDone, samplesDone, deadLetters]);
  await Promise.all(Object.values(sinks).map((s) => s.close()));

  // The tree: nested for people, compacted changelog to restore from.
  const treeFile = keys.length === 1 ? trees.get(keys[0]!).tree.toNested() : { label: 'trees', children: keys.map((k) => trees.get(k).tree.toNested()) };
  await writeJsonAtomic(join(config.out, 'tree.json'), keys.length === 0 ? trees.get('all').tree.toNested() : treeFile);
  const changelog = new JsonlSink<TreeNodeChange>(join(config.out, 'tree.changelog.jsonl'), { mode: 'overwrite' });
  for (const key of keys) for (const change of trees.get(key).tree.snapshot()) await changelog.write(change);
  await changelog.close();

  progress.phase = 'done';
  report();
  const elapsedMs = clock() - started;
  let nodes = 0;
  let sampledNodes = 0;
  const covered = coverage.covered();
  const treeStats: RunSummary['trees'] = {};
  for (const key of keys) {
    const { tree } = trees.get(key);
    let depth = 0;
    for (const node of tree.all()) {
      depth = Math.max(depth, node.depth);
      if (node.parentId !== null) {
        nodes += 1;
        if (covered.has(node.id)) sampledNodes += 1;
      }
    }
    treeStats[key] = { nodes: tree.size - 1, depth, categories: tree.childCount('root') };
  }
  const summary: RunSummary = {
    input: config.input,
    files: { read: progress.read, accepted: progress.accepted, rejected: progress.rejected },
    rejectedByReason,
    rejectedByStage,
    exactDuplicates: rejectedByReason['duplicate'] ?? 0,
    nearDuplicates: rejectedByReason['near-duplicate'] ?? 0,
    labels,
    nodes,
    trees: treeStats,
    tasks: { requested: keys.length === 0 ? 0 : config.tasks, written: progress.tasks, rejected: tasksRejected, byLevel: taskLevels },
    evolution,
    samples: {
      generated, written: progress.samples, rejected: samplesRejected, contaminated: rejectedByReason['contaminated'] ?? 0,
      byLevel: sampleLevels, validation: config.validation ? tally.summary() : null,
    },
    llm: { endpoint: llm?.endpoint ?? null, stages: [...llmStages], pendingPrompts, usage: llm?.usage?.() ?? {} },
    coverage: { nodesSampled: sampledNodes, nodes, share: nodes === 0 ? 0 : sampledNodes / nodes },
    embedders: { labels: config.labelEmbedder.name, files: config.codeEmbedder.name },
    settings: {
      seed: config.seed, tasks: config.tasks, maxFiles: config.maxFiles ?? null, maxBytes: config.maxBytes,
      similarity: config.similarity, nearDuplicateRadius: config.nearDuplicateRadius, temperature: config.temperature,
      topN: config.topN, coverageBoost: config.coverageBoost, levels: config.levels, levelMix: config.levelMix,
      targetLanguage: config.targetLanguage, treeKey: config.treeKey, gitRef: config.gitRef ?? null,
    },
    startedAt: new Date(started).toISOString(),
    elapsedMs,
    filesPerSecond: elapsedMs > 0 ? Math.round((progress.read * 1000) / elapsedMs) : progress.read,
  };
  await writeJsonAtomic(join(config.out, 'summary.json'), summary);
  return summary;
}
