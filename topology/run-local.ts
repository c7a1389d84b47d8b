// Local mode: the topology over the in-memory transport, a directory / git tree / JSONL
// corpus in, files out. No broker, no model. Every file read is either accepted (its
// features reach the tree) or rejected with a reason, and the summary says so.
import { join, resolve } from 'node:path';
import { Subject, defaultIfEmpty, lastValueFrom, map, range, tap, type Observable } from 'rxjs';
import { openStaticWorkers } from '../analysis/static-features/pool.js';
import { loadGrammars } from '../analysis/tree-sitter/grammars.js';
import { writeFileAtomic } from '../connectors/atomic-file.js';
import { readDirectory } from '../connectors/directory-source.js';
import { readGitTree } from '../connectors/git-tree-source.js';
import { JsonlSink, writeTo } from '../connectors/jsonl-sink.js';
import { readJsonl } from '../connectors/jsonl-source.js';
import { MemoryTransport } from '../connectors/memory-transport.js';
import { ensureDirectory } from '../connectors/out-dir.js';
import { pacedSource } from '../connectors/paced-source.js';
import type { Embedder } from '../embeddings/embedder.js';
import type { PendingPrompt, StructuredModel } from '../llm/model.js';
import type { CanonicalizedFile, LabelCounts } from '../processors/canonicalize.js';
import type { EvolutionResult } from '../processors/evolve.js';
import type { ValidateConfig } from '../processors/validate.js';
import type { DecontaminateConfig } from '../quality/contamination.js';
import { ValidationTally, type ValidationSummary } from '../quality/validation-tally.js';
import { loadContracts, type EvolutionRequest, type GeneratedSample, type Rejection, type SourceFile, type StudentAttempt, type SynthesisTask, type TaskRequest, type TreeNodeChange } from '../schemas/contract.js';
import type { Outcome } from '../schemas/outcome.js';
import { TOPICS } from '../schemas/topics.js';
import { buildStages, createStores, type StageResources } from './build.js';
import { StudentLedger, type StudentSummary } from './student-ledger.js';
import { highestRounds, nextRounds } from './evolution.js';
import { splitOutcomes } from './route-rejections.js';
import type { LlmStage, PipelineSettings } from './settings.js';
import { topology, wireTopology } from './treesynth.js';

export interface LocalRunConfig {
  input: string;
  out: string;
  gitRef?: string;
  settings: PipelineSettings;
  tasks: number;
  maxFiles?: number;
  /** Files in flight at once; bounds memory. */
  window?: number;
  labelEmbedder: Embedder;
  codeEmbedder: Embedder;
  /** Embeds generated samples for output dedup; absent, the code embedder. */
  sampleEmbedder?: Embedder;
  /** The LLM stages' models; absent means no endpoint: their prompts go to pending.jsonl instead. */
  llm?: LocalLlmConfig;
  /** The sandbox stage for generated samples; absent, samples pass unvalidated (validation null). */
  validation?: ValidateConfig;
  /** Benchmark overlap checks for generated samples; absent, none. */
  decontamination?: DecontaminateConfig;
  /** A student model that solves validated tasks; its failures steer later rounds of tasks (settings.student). */
  student?: StageResources['student'];
  /** Worker threads that parse files for static extraction (0: the main thread parses); default defaultStaticWorkers(). */
  staticWorkers?: number;
  /** Called as files settle, for a progress bar or log counters. */
  onProgress?: (progress: RunProgress) => void;
  clock?: () => number;
  /**
   * Stops the run early: no more files are read, the files in flight settle, no evolution
   * rounds or tasks are started after it (tasks already requested finish), and the outputs so
   * far are written, with `interrupted` saying why (the signal's reason).
   */
  signal?: AbortSignal;
  /** Most bytes a .jsonl.gz input may inflate to (default: the JSONL source's, from the file size). */
  maxDecompressedBytes?: number;
  /**
   * Folders a directory input never enters, besides `out` itself: where the caller keeps
   * outputs (a final --out whose staging folder is `out`). Each with its `<name>.partial-*` siblings.
   */
  outputDirs?: readonly string[];
}

export interface LocalLlmConfig {
  /** Models per stage; a stage without one records its prompts in pending.jsonl. */
  models: Partial<Record<LlmStage, StructuredModel>>;
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
  /** The student model's record and how it moved sampling; null without a student. */
  student: StudentSummary | null;
  llm: { endpoint: string | null; stages: string[]; pendingPrompts: number; usage: Record<string, unknown> };
  coverage: { nodesSampled: number; nodes: number; share: number };
  embedders: { labels: string; files: string };
  settings: Record<string, unknown>;
  /** Why the run stopped before the end (a signal, an input that failed part-way); null when it finished. */
  interrupted: string | null;
  startedAt: string;
  elapsedMs: number;
  filesPerSecond: number;
}


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
  const maxReadBytes = Math.max(config.settings.maxBytes * 4, 1 << 20);
  if (config.gitRef) return readGitTree(config.input, config.gitRef, { maxReadBytes });
  if (isJsonl(config.input)) {
    return readJsonl(config.input, { onProgress: onBytes, maxLineBytes: maxReadBytes, ...(config.maxDecompressedBytes ? { maxDecompressedBytes: config.maxDecompressedBytes } : {}) });
  }
  // A run whose --out lies inside its input must not read its own outputs (last run's, or the
  // files it is writing): reruns would differ.
  const outputs = [config.out, ...(config.outputDirs ?? [])].map((d) => resolve(d));
  const excludeDir = (dir: string) => {
    const abs = resolve(dir);
    return outputs.some((o) => abs === o || abs.startsWith(`${o}.partial-`));
  };
  return readDirectory(config.input, { maxReadBytes, excludeDir });
}

/** The source until `signal` aborts; a source that fails part-way ends there, its error handed to `failed`. */
async function* untilStopped<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined, failed: (error: unknown) => void): AsyncIterable<T> {
  if (signal?.aborted) return;
  try {
    for await (const item of source) {
      yield item;
      if (signal?.aborted) return;
    }
  } catch (error) {
    failed(error);
  }
}

const writeJsonAtomic = (path: string, value: unknown) => writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);

/**
 * Finished files the extract stage may hold back beyond the window, in windows: at 25 % faults a
 * file's retries can sleep for 10 s or more, while C = 64 answers 300 files a second behind it.
 */
const HELD_PER_WINDOW = 8;

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export async function runLocal(config: LocalRunConfig): Promise<RunSummary> {
  const clock = config.clock ?? Date.now;
  const started = clock();
  const settings = config.settings;
  await ensureDirectory(config.out);
  const transport = new MemoryTransport(loadContracts());
  const llm = config.llm;

  const progress: RunProgress = { read: 0, accepted: 0, rejected: 0, nodes: 0, tasks: 0, samples: 0, phase: 'files' };
  let phaseAtStop: RunProgress['phase'] | undefined = config.signal?.aborted ? progress.phase : undefined;
  config.signal?.addEventListener('abort', () => (phaseAtStop ??= progress.phase), { once: true });
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

  // Output files are this run's: overwrite what an earlier run left.
  const sinks = {
    rejected: new JsonlSink<Rejection>(join(config.out, 'rejected.jsonl'), { mode: 'overwrite' }),
    tasks: new JsonlSink<SynthesisTask>(join(config.out, 'tasks.jsonl'), { mode: 'overwrite' }),
    samples: new JsonlSink<GeneratedSample>(join(config.out, 'samples.jsonl'), { mode: 'overwrite' }),
    pending: new JsonlSink<PendingPrompt>(join(config.out, 'pending.jsonl'), { mode: 'overwrite' }),
  };
  let pendingPrompts = 0;
  const stores = createStores({ codeEmbedder: config.codeEmbedder, clock }, settings);
  const student = settings.student && config.student ? { settings: settings.student, ledger: new StudentLedger(), sink: new JsonlSink<StudentAttempt>(join(config.out, 'student.jsonl'), { mode: 'overwrite' }) } : null;
  // Workers load their grammars while the first files are read and filtered; this thread loads
  // them only to parse itself (--static-workers 0).
  const staticWorkers = openStaticWorkers(config.staticWorkers);
  const grammars = staticWorkers ? null : await loadGrammars();
  // Files extract holds back, finished, behind one still with the model, do not count against the
  // window (up to HELD_PER_WINDOW windows of them: they are feature sets, not file contents).
  const window = config.window ?? 64;
  let held = 0;
  const stages = buildStages(settings, stores, {
    labelEmbedder: config.labelEmbedder, codeEmbedder: config.codeEmbedder, grammars, models: llm?.models ?? {},
    ...(staticWorkers ? { staticWorkers } : {}),
    ...(config.sampleEmbedder ? { sampleEmbedder: config.sampleEmbedder } : {}),
    pending: (prompt) => {
      pendingPrompts += 1;
      return sinks.pending.write(prompt);
    },
    ...(config.validation ? { validation: config.validation } : {}),
    ...(config.decontamination ? { decontamination: config.decontamination } : {}),
    ...(student && config.student ? { student: config.student } : {}),
    tally, clock,
    // Called only once files flow, after `source` below exists.
    heldByExtract: (count) => {
      held = count;
      source.widened();
    },
  });
  const report = () => config.onProgress?.({ ...progress, nodes: stores.trees.nodeCount });

  // A file's outcome by its record id: its path until the filter names it by content hash,
  // then that id. Every file read settles once: canonicalized, or a dead letter.
  let inputError: Error | undefined;
  const source = pacedSource(
    untilStopped(limit(openSource(config, (n) => (progress.bytesRead = n)), config.maxFiles), config.signal, (error) => {
      inputError = error instanceof Error ? error : new Error(String(error));
    }),
    () => window + Math.min(held, HELD_PER_WINDOW * window),
  );
  const stopped = () => config.signal?.aborted === true || inputError !== undefined;
  const openPaths = new Map<string, number>();
  const acceptedPaths = new Map<string, string>();
  let sourceDone = false;
  let filesDone!: () => void;
  const filesFinished = new Promise<void>((resolve) => (filesDone = resolve));
  const settle = (path: string | undefined, outcome: 'accepted' | 'rejected') => {
    if (path !== undefined) {
      const n = openPaths.get(path) ?? 0;
      if (n <= 1) openPaths.delete(path);
      else openPaths.set(path, n - 1);
    }
    progress[outcome] += 1;
    source.settle();
    report();
    if (sourceDone && progress.accepted + progress.rejected === progress.read) filesDone();
  };
  const isFileRecord = (r: Rejection) => (r.path !== null && openPaths.has(r.path)) || (r.recordId !== null && acceptedPaths.has(r.recordId));
  const taskIds = new Set<string>();
  const sampleIds = new Set<string>();
  const requestIds = new Set<string>();
  // With a student, tasks are asked for in rounds: a round's requests are in flight until each
  // ends as a dead letter or a student attempt, and the next round is sampled after that.
  const roundOf = new Map<number, number>();
  let inFlight = 0;
  const idleWaiters: Array<() => void> = [];
  const landed = () => {
    if (!student) return;
    inFlight -= 1;
    if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
  };
  const idle = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)));

  wireTopology(transport, topology(stages, settings, clock), (stage, value) => {
    if (stage === 'canonicalize') {
      const file = value as CanonicalizedFile;
      for (const k of Object.keys(labels) as Array<keyof LabelCounts>) labels[k] += file.labels[k];
      settle(acceptedPaths.get(file.fileId), 'accepted');
    } else if (stage === 'evolve') {
      evolution.rounds += 1;
      for (const k of ['added', 'known', 'skipped', 'depth', 'breadth'] as const) evolution[k] += (value as EvolutionResult)[k];
    }
  });
  // Rounds after the corpus, asked for as `request-evolution` asks in Kafka mode.
  const endOfCorpus = new Subject<EvolutionRequest>();
  transport.produce(TOPICS.evolutionRequests, endOfCorpus);
  const requested: EvolutionRequest[] = [];

  // A stage or sink that fails (disk full, say) fails the run at once, instead of leaving it
  // waiting for records that will never be counted.
  let fail!: (error: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // awaited below through unlessFailed
  const unlessFailed = <T>(step: Promise<T>): Promise<T> => Promise.race([step, failed]);

  // Sinks subscribe before anything flows: the in-memory topics are hot.
  transport.consume(TOPICS.accepted, 'local-count').subscribe({ next: (file) => acceptedPaths.set(file.id, file.path), error: fail });
  transport.consume(TOPICS.evolutionRequests, 'local-count').subscribe({ next: (r) => requested.push(r), error: fail });
  transport.consume(TOPICS.generated, 'local-count').subscribe({
    next: (s) => {
      generated += 1;
      sampleIds.add(s.sampleId);
    },
    error: fail,
  });
  const deadLetters = lastValueFrom(
    transport.consume(TOPICS.deadLetters, 'local-sink').pipe(
      tap((r) => {
        bump(rejectedByReason, r.reason);
        bump(rejectedByStage, r.stage);
        if (isFileRecord(r)) settle(r.path !== null && openPaths.has(r.path) ? r.path : acceptedPaths.get(r.recordId!), 'rejected');
        else if (r.stage === 'student') {
          student?.ledger.unjudged();
          landed();
        } else if (r.recordId !== null && (taskIds.has(r.recordId) || sampleIds.has(r.recordId))) {
          samplesRejected += 1;
          landed();
        } else if (r.recordId !== null && requestIds.has(r.recordId)) {
          tasksRejected += 1;
          landed();
        }
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
  const tasksDone = drain(
    transport.consume(TOPICS.tasks, 'local-sink').pipe(
      tap((t) => {
        taskIds.add(t.taskId);
        student?.ledger.task(roundOf.get(t.index) ?? 0, t);
      }),
    ),
    sinks.tasks, taskLevels, 'tasks',
  );
  const samplesDone = drain(transport.consume(TOPICS.samples, 'local-sink'), sinks.samples, sampleLevels, 'samples');
  // The student's attempts: into the store the sampler reads, and to student.jsonl.
  const attemptsDone = student
    ? lastValueFrom(
        transport.consume(TOPICS.studentAttempts, 'local-sink').pipe(
          tap((a) => {
            stores.student.apply(a);
            student.ledger.attempt(a);
          }),
          writeTo(student.sink),
          tap(() => landed()),
        ),
        { defaultValue: null },
      )
    : Promise.resolve(null);
  for (const done of [deadLetters, treeDone, tasksDone, samplesDone, attemptsDone]) done.catch(fail);

  // Files in: source rejections (unreadable, invalid JSONL) go straight to the dead letters.
  const { values: files, rejections: sourceRejections } = splitOutcomes<SourceFile>(
    source.items.pipe(
      tap({
        next: (o: Outcome<SourceFile>) => {
          const path = o.ok ? o.value.path : o.rejection.path;
          if (path !== null) openPaths.set(path, (openPaths.get(path) ?? 0) + 1);
          progress.read += 1;
        },
        complete: () => {
          sourceDone = true;
          if (progress.accepted + progress.rejected === progress.read) filesDone();
        },
      }),
    ),
  );
  transport.produce(TOPICS.deadLetters, sourceRejections);
  transport.produce(TOPICS.files, files);
  transport.start();
  await unlessFailed(filesFinished);

  // Evolution rounds over the finished corpus, one after another, then the tree is complete.
  progress.phase = 'evolve';
  report();
  const keys = stores.trees.keys();
  if (settings.llmStages.includes('evolve') && !stopped()) {
    const highest = highestRounds(requested);
    for (const key of keys) for (const r of nextRounds(key, highest.get(key) ?? 0, settings.evolution.rounds, 'end-of-corpus', clock())) endOfCorpus.next(r);
  }
  endOfCorpus.complete();
  await unlessFailed(treeDone);

  // Tasks: sampled from the finished tree, spread over the tree keys in turn; generated if a model is there.
  progress.phase = 'tasks';
  const total = keys.length === 0 || stopped() ? 0 : config.tasks;
  const request = (index: number): TaskRequest => {
    requestIds.add(`${keys[index % keys.length]!}#${index}`);
    return { treeKey: keys[index % keys.length]!, index, level: null, requestedAt: clock() };
  };
  if (!student) transport.produce(TOPICS.taskRequests, range(0, total).pipe(map(request)));
  else {
    const requests = new Subject<TaskRequest>();
    transport.produce(TOPICS.taskRequests, requests);
    const rounds = Math.max(1, Math.min(student.settings.rounds, total));
    for (let round = 0; round < rounds && total > 0 && !config.signal?.aborted; round++) {
      for (let index = Math.floor((total * round) / rounds); index < Math.floor((total * (round + 1)) / rounds); index++) {
        roundOf.set(index, round);
        inFlight += 1;
        requests.next(request(index));
      }
      await unlessFailed(idle());
    }
    requests.complete();
  }
  await Promise.all([tasksDone, samplesDone, deadLetters, attemptsDone]);
  await staticWorkers?.close();
  await Promise.all([...Object.values(sinks).map((s) => s.close()), student?.sink.close()]);

  // The tree: nested for people, compacted changelog to restore from.
  const treeFile = keys.length === 1 ? stores.trees.get(keys[0]!).tree.toNested() : { label: 'trees', children: keys.map((k) => stores.trees.get(k).tree.toNested()) };
  await writeJsonAtomic(join(config.out, 'tree.json'), keys.length === 0 ? stores.trees.get('all').tree.toNested() : treeFile);
  const changelog = new JsonlSink<TreeNodeChange>(join(config.out, 'tree.changelog.jsonl'), { mode: 'overwrite' });
  for (const key of keys) for (const change of stores.trees.get(key).tree.snapshot()) await changelog.write(change);
  await changelog.close();

  progress.phase = 'done';
  report();
  const elapsedMs = clock() - started;
  let nodes = 0;
  let sampledNodes = 0;
  const covered = stores.coverage.covered();
  const treeStats: RunSummary['trees'] = {};
  for (const key of keys) {
    const { tree } = stores.trees.get(key);
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
    student: student ? student.ledger.summary(stores.student, keys) : null,
    llm: { endpoint: llm?.endpoint ?? null, stages: [...settings.llmStages], pendingPrompts, usage: llm?.usage?.() ?? {} },
    coverage: { nodesSampled: sampledNodes, nodes, share: nodes === 0 ? 0 : sampledNodes / nodes },
    embedders: { labels: config.labelEmbedder.name, files: config.codeEmbedder.name },
    settings: {
      seed: settings.seed, tasks: config.tasks, maxFiles: config.maxFiles ?? null, maxBytes: settings.maxBytes,
      similarity: settings.similarity, nearDuplicateRadius: settings.nearDuplicateRadius, temperature: settings.temperature,
      topN: settings.topN, coverageBoost: settings.coverageBoost, levels: settings.levels, levelMix: settings.levelMix,
      targetLanguage: settings.targetLanguage, treeKey: settings.treeKey, gitRef: config.gitRef ?? null,
    },
    interrupted: inputError ? `input failed after ${progress.read} files: ${inputError.message}` : config.signal?.aborted ? `${String(config.signal.reason ?? 'stopped')} during ${phaseAtStop ?? progress.phase}` : null,
    startedAt: new Date(started).toISOString(),
    elapsedMs,
    filesPerSecond: elapsedMs > 0 ? Math.round((progress.read * 1000) / elapsedMs) : progress.read,
  };
  await writeJsonAtomic(join(config.out, 'summary.json'), summary);
  // The work done is written above; the caller learns the input did not finish.
  if (inputError) throw inputError;
  return summary;
}
