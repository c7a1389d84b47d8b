// Kafka mode: the same StageSpecs as local mode (topology/treesynth.ts), each run as its own
// consumer group `<prefix><stage>` reading read_committed, every batch through the stage
// operator and out in ONE transaction with the group's offsets (connectors/kafka/transactional).
//
// State and the single-writer rule. Stateful stages keep their state in stores and rebuild it
// from topics on start, after taking over their store's transactional id (which ends any open
// transaction of a previous holder, so the rebuild sees everything it committed):
//   - filter: ContentHashStore + FileIndex from code.accepted (only filter writes it; a
//     tombstone there retracted a content), PathStore from filter.paths, SuppressedStore (the
//     near-duplicates it suppressed) from filter.suppressed; transactional id
//     `<prefix>filter`.
//   - canonicalize and evolve: both write the feature tree, so they share one store and one
//     transactional id `<prefix>tree`, and their batches take turns. The tree is rebuilt from
//     the compacted tree.nodes topic, what each file added from tree.contributions (see
//     topology/retraction.ts for tombstones), and the lineage index (the few files behind each
//     node) from those contributions; its changes go to tree.sources. Run them in ONE process: a second process running either
//     fences the first (which then stops with a clear error) instead of two writers diverging.
//   - sample: reads the tree and the lineage index. In the writer's process it shares both;
//     alone, it follows tree.nodes and tree.sources as the writer commits. Its coverage counts are rebuilt from the tasks topic.
//     Transactional id `<prefix>sample`.
//   - validate: its SampleIndex (accepted samples' vectors, for output dedup) is rebuilt from
//     the samples topic on start. It has no single writer: validate scales out like a stateless
//     stage, so each process drops duplicates of what was committed when it started and of what
//     it accepted since, not of what another process accepted meanwhile.
// Stateless stages (extract, generate) scale out: run as many processes as their input has
// partitions; each input partition has its own transactional id.
//
// Restarts. A process's stages form units that restart together: each store's stages (filter;
// canonicalize+evolve; sample) and each stateless stage alone. A failed batch aborts its
// transaction and restarts only its unit from its committed state (its store rebuilt), with
// backoff; a sample stage reading the tree writer's store restarts after that writer. Being
// fenced as a store's writer, or a refused schema, is final. Stopping (SIGINT/SIGTERM) takes a
// few seconds in every state: a batch still in flight after a short grace is abandoned (its
// transaction aborted or never begun) and a unit still starting or backing off is given up.
//
// Task requests. A request that reaches the sample stage before its tree can serve it (no
// features yet, or not the required ones) waits, uncommitted (so it shows as the sample group's
// lag), for up to `requestWaitMs` after it was made, and becomes a dead letter only then. With
// `tasksPerFile`, canonicalize asks for tasks itself as the tree takes in files, in the same
// transaction as the tree changes, so tasks keep flowing while the corpus grows.
import { from, lastValueFrom, toArray, type OperatorFunction } from 'rxjs';
import { openStaticWorkers, type StaticExtractorPool } from '../analysis/static-features/pool.js';
import { loadGrammars, type Grammars } from '../analysis/tree-sitter/grammars.js';
import { abortableSleep } from '../connectors/kafka/client.js';
import { openKafkaContext, type KafkaContext } from '../connectors/kafka/context.js';
import { readTopic, type RawRecord, type TopicReader } from '../connectors/kafka/reader.js';
import { SchemaRefusedError } from '../connectors/kafka/serde.js';
import type { TopicSettings } from '../connectors/kafka/topics.js';
import {
  PartitionLanes, SingleWriterLane, isFenced, settlesWithin, startStageConsumer,
  type BatchCommitted, type OutMessage, type StageConsumer, type TransactionLane,
} from '../connectors/kafka/transactional.js';
import type { CanonicalizedFile } from '../processors/canonicalize.js';
import { SchemaViolation, type CodeFile, type GeneratedSample, type RecordName, type Records, type Rejection, type SynthesisTask, type TaskRequest, type TreeNodeChange } from '../schemas/contract.js';
import { rejection, type Outcome } from '../schemas/outcome.js';
import { sampleVectors } from '../quality/sample-dedup.js';
import { TOPICS, type TopicSpec } from '../schemas/topics.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { replayCoverage } from '../stores/tree-sampling.js';
import { ContributionStore } from '../stores/contribution-store.js';
import { DEFAULT_FILES_PER_NODE, SourceIndex } from '../stores/source-index.js';
import { PathStore } from '../stores/path-store.js';
import { SuppressedStore } from '../stores/suppressed-store.js';
import { canonicalizeRetraction, extractRetraction, filterRetraction, type RetractionHooks } from './retraction.js';
import { buildStages, createStores, samplerConfig, type StageResources, type StageStores } from './build.js';
import type { LlmStage, PipelineSettings } from './settings.js';
import { DEPLOYED_STAGES, topology, type DeployedStage, type SideOutput, type StageSpec } from './treesynth.js';

export interface KafkaRunConfig {
  settings: PipelineSettings;
  /** Embedders, models, prompts without a model, the sandbox; grammars load here when extract runs. */
  resources: Omit<StageResources, 'grammars' | 'staticWorkers' | 'tally'>;
  /** Worker threads that parse for extract (0: its own thread parses); default defaultStaticWorkers(). */
  staticWorkers?: number;
  brokers: string[];
  registryUrl: string;
  /** Prefix of every topic, group and transactional id. */
  prefix: string;
  stages: readonly DeployedStage[];
  topics: TopicSettings;
  clientId?: string;
  /** Records per transaction at most (default 500; LLM stages: 4 × concurrency). */
  maxRecordsPerTransaction?: number;
  /** Consumer-group session timeout (default 10 s; the broker's minimum is 6 s). */
  sessionTimeoutMs?: number;
  connectScheduleMs?: readonly number[];
  /** Tasks canonicalize requests per file the tree takes in (0.5: one every two files); 0 or absent: none. */
  tasksPerFile?: number;
  /** How long a task request may wait for its tree to serve it, from its requestedAt (default DEFAULT_REQUEST_WAIT_MS). */
  requestWaitMs?: number;
  /** Aborting it gives up starting (SIGTERM while the broker or registry does not answer); once started, use stop(). */
  signal?: AbortSignal;
  /** One line per event worth telling an operator (start, restore, restart, stop). */
  log?: (line: string) => void;
  onCommitted?: (stage: DeployedStage, info: BatchCommitted) => void;
  /** Task requests the sample stage holds until its tree can serve them (0 when none wait). */
  onWaiting?: (stage: DeployedStage, requests: number) => void;
}

export interface KafkaRun {
  /** Resolves after a graceful stop; rejects on a failure that a restart cannot fix. */
  readonly done: Promise<void>;
  /** Stop: no more fetching, the transaction in flight finishes (or is abandoned after a short grace), clients disconnect. */
  stop(): Promise<void>;
}

/** Ten minutes: long enough for a corpus to start arriving after the first requests. */
export const DEFAULT_REQUEST_WAIT_MS = 10 * 60_000;

/**
 * Requests canonicalize makes as files arrive are numbered from here (the tree's k-th at
 * base + k), far above the indexes `request-tasks` gives (from 0, after the requests already
 * in the topic): the two never share an index, and so never a draw.
 */
export const PER_FILE_INDEX_BASE = 2 ** 40;

/** The sample stage's rejections that a growing tree cures: requests with these wait instead. */
const NOT_YET = new Set(['empty-tree', 'required-feature-missing']);

/** How long a stopping consumer lets its batch in flight finish before abandoning it. */
const STOP_GRACE_MS = 1_500;

type StoreName = 'filter' | 'tree' | 'sample';

/** Stateful stages and the store (and transactional id) each one writes. */
const STORE_OF: Partial<Record<DeployedStage, StoreName>> = { filter: 'filter', canonicalize: 'tree', evolve: 'tree', sample: 'sample' };

const oneLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

/** An input record that did not decode, as a dead letter: where it was, why, and its bytes. */
export function undecodable(stage: string, raw: RawRecord, reason: string, detail: string, at: number): Rejection {
  return rejection(
    {
      stage, reason, detail: `${raw.topic}[${raw.partition}]@${raw.offset}: ${detail}`,
      recordId: `${raw.topic}/${raw.partition}@${raw.offset}`, path: raw.key?.toString('utf8') ?? null,
      source: raw.topic, position: Number(raw.offset),
      record: { topic: raw.topic, partition: raw.partition, offset: raw.offset, key: raw.key?.toString('utf8') ?? null, value: raw.value ?? null },
    },
    at,
  );
}

/** Stages that restart together: a store's stages, or one stateless stage. */
interface UnitSpec {
  name: string;
  stages: DeployedStage[];
  store: StoreName | null;
  /** The unit whose store this one reads in this process (sample reads the tree writer's): it (re)starts after that one. */
  after: string | null;
}

function unitsOf(stages: readonly DeployedStage[]): UnitSpec[] {
  const selected = new Set(stages);
  const units: UnitSpec[] = [];
  if (selected.has('filter')) units.push({ name: 'filter', stages: ['filter'], store: 'filter', after: null });
  if (selected.has('extract')) units.push({ name: 'extract', stages: ['extract'], store: null, after: null });
  const writers = (['canonicalize', 'evolve'] as const).filter((s) => selected.has(s));
  if (writers.length > 0) units.push({ name: 'tree', stages: [...writers], store: 'tree', after: null });
  if (selected.has('sample')) units.push({ name: 'sample', stages: ['sample'], store: 'sample', after: writers.length > 0 ? 'tree' : null });
  for (const s of ['generate', 'validate', 'student'] as const) if (selected.has(s)) units.push({ name: s, stages: [s], store: null, after: null });
  return units;
}

interface Failure {
  stage: DeployedStage;
  error: unknown;
  lane: TransactionLane;
}

interface RunningUnit {
  /** Resolves with the first failure of any of the unit's stages. */
  readonly failure: Promise<Failure>;
  stop(): Promise<void>;
}

/** What a process's units share: the tree writer's current store (for a sample beside it) and the grammars, loaded once. */
interface Shared {
  trees: FeatureTrees | null;
  /** The tree writer's lineage index, read by a sample stage beside it. */
  sources: SourceIndex | null;
  grammars: Promise<Grammars> | null;
  /** Worker threads that parse for extract, started with the first extract unit and kept across its restarts. */
  staticWorkers: StaticExtractorPool | undefined | null;
}

/** Reads a whole topic (to the end offsets at start) as decoded records; undecodable ones are reported and skipped. */
async function readRecords<N extends RecordName>(
  ctx: KafkaContext, spec: TopicSpec<N>, what: string, log: (line: string) => void, each: (record: Records[N], key: string) => void | Promise<void>,
  tombstone: (key: string) => void | Promise<void> = () => {},
): Promise<number> {
  const topic = ctx.topic(spec);
  let n = 0;
  let bad = 0;
  await readTopic(ctx.kafka, ctx.admin, topic, {
    groupPrefix: `${ctx.prefix}restore.${what}`,
    onRecord: async (raw) => {
      const key = raw.key?.toString('utf8') ?? '';
      if (raw.value === null) {
        await tombstone(key);
        return;
      }
      const decoded = await ctx.serde.decode(topic, spec.record, raw.value);
      if (!decoded.ok) {
        bad += 1;
        return;
      }
      n += 1;
      await each(decoded.value, key);
    },
  });
  if (bad > 0) log(`treesynth: ${what}: skipped ${bad} undecodable records of ${topic} while restoring`);
  return n;
}

/** The filter's stores: the accepted contents (a tombstone retracted one), and which content each live path holds. */
async function restoreFilter(ctx: KafkaContext, config: KafkaRunConfig, stores: StageStores, paths: PathStore, log: (line: string) => void): Promise<number> {
  // Embed in chunks: one request per file would dominate the restore with a remote embedder.
  let pending: CodeFile[] = [];
  const flush = async () => {
    const files = pending;
    pending = [];
    if (config.settings.nearDuplicateRadius <= 0 || files.length === 0) return;
    const vectors = await config.resources.codeEmbedder.embed(files.map((f) => f.content));
    files.forEach((f, i) => stores.index.add({ fileId: f.id, path: f.path }, vectors[i]!));
  };
  await readRecords(
    ctx, TOPICS.accepted, 'filter', log,
    async (file) => {
      stores.seen.add(file.id, file.path);
      pending.push(file);
      if (pending.length >= 64) await flush();
    },
    async (id) => {
      await flush(); // in order: a content may be retracted and accepted again
      stores.seen.delete(id);
      stores.index.remove(id);
    },
  );
  await flush();
  await readRecords(ctx, TOPICS.paths, 'filter.paths', log, (entry) => paths.set(entry), (path) => void paths.delete(path));
  await readRecords(ctx, TOPICS.suppressed, 'filter.suppressed', log, (entry) => stores.suppressed!.set(entry), (path) => void stores.suppressed!.delete(path));
  // Dedup names a live path holding the content (the first one may have gone).
  for (const [id, path] of [...stores.seen.entries()]) if (paths.get(path)?.fileId !== id) stores.seen.repoint(id, paths.holders(id)[0] ?? path);
  return stores.seen.size;
}

/** The validate stage's accepted-sample vectors from the samples it committed (chunks of 32 per embedding call). */
async function restoreSamples(ctx: KafkaContext, config: KafkaRunConfig, stores: StageStores, log: (line: string) => void): Promise<number> {
  if (config.settings.sampleDuplicateRadius <= 0) return 0;
  const embedder = config.resources.sampleEmbedder ?? config.resources.codeEmbedder;
  let pending: GeneratedSample[] = [];
  const flush = async () => {
    const samples = pending;
    pending = [];
    if (samples.length === 0) return;
    const vectors = await sampleVectors(embedder, samples);
    samples.forEach((s, i) => stores.samples.add(s.sampleId, vectors[i]!));
  };
  const n = await readRecords(ctx, TOPICS.samples, 'validate', log, async (sample) => {
    pending.push(sample);
    if (pending.length >= 32) await flush();
  });
  await flush();
  return n;
}

/** Coverage from the tasks written so far: their draws, and what the formula expected of them. */
async function restoreCoverage(ctx: KafkaContext, settings: PipelineSettings, stores: StageStores, log: (line: string) => void): Promise<number> {
  const sampling = samplerConfig(settings, stores);
  return readRecords(ctx, TOPICS.tasks, 'sample', log, (task: SynthesisTask) => {
    replayCoverage(stores.trees.get(task.treeKey).tree, task, settings.levels[task.level], sampling);
  });
}

/** Requests canonicalize makes as a tree takes in files: floor(files × perFile) in all, numbered after PER_FILE_INDEX_BASE. */
function taskFlow(perFile: number, clock: () => number): SideOutput<CanonicalizedFile> {
  const upTo = (files: number) => Math.floor(files * perFile + 1e-9);
  return {
    topic: TOPICS.taskRequests as unknown as TopicSpec<RecordName>,
    records: (c: CanonicalizedFile): TaskRequest[] => {
      // The tree's intake counts every file it took in and never goes down (a retraction does
      // not lower it); it is restored with the tree: a restart or a change repeats no request.
      const files = c.retracted ? 0 : (c.intake ?? 0);
      if (files <= 0) return [];
      const requests: TaskRequest[] = [];
      for (let k = upTo(files - 1); k < upTo(files); k++) requests.push({ treeKey: c.treeKey, index: PER_FILE_INDEX_BASE + k, level: null, requestedAt: clock() });
      return requests;
    },
  };
}

/** The messages one batch of a stage writes: outputs, extra requests and dead letters. */
function batchProcessor(
  ctx: KafkaContext, spec: StageSpec, config: KafkaRunConfig, log: (line: string) => void, hooksOf: (encode: (change: TreeNodeChange) => OutMessage) => RetractionHooks | null,
): (records: RawRecord[], signal: AbortSignal) => Promise<OutMessage[]> {
  const clock = config.resources.clock ?? Date.now;
  const inputTopic = ctx.topic(spec.input);
  const deadLetter = (r: Rejection): OutMessage => ctx.message(TOPICS.deadLetters, r);
  // A record the stage made that breaks its contract is a bug, but one record's bug must not
  // stop the stage: it becomes a dead letter naming the violation.
  const encode = <N extends RecordName>(topic: TopicSpec<N>, record: Records[N]): OutMessage => {
    try {
      return ctx.message(topic, record);
    } catch (error) {
      if (!(error instanceof SchemaViolation)) throw error;
      return deadLetter(rejection({ stage: spec.name, reason: 'schema-violation', detail: error.message, recordId: topic.key(record), record }, clock()));
    }
  };
  // Operators are re-instantiable: a fresh subscription per batch; state lives in the stores.
  const run = async (inputs: unknown[]): Promise<Array<Outcome<unknown>>> =>
    inputs.length === 0 ? [] : lastValueFrom(from(inputs as Array<Records[RecordName]>).pipe(spec.operator as OperatorFunction<unknown, Outcome<unknown>>, toArray()));
  const outcomesOf = spec.name === 'sample' ? whenServable(run, config, log) : (inputs: unknown[]) => run(inputs);
  const hooks = hooksOf((change) => encode(TOPICS.treeChanges, change));
  const emit = (out: OutMessage[], outcome: Outcome<unknown>) => {
    if (!outcome.ok) {
      out.push(deadLetter(outcome.rejection));
      return;
    }
    for (const record of spec.records(outcome.value)) out.push(encode(spec.output, record));
    for (const side of spec.sideOutputs) for (const record of side.records(outcome.value)) out.push(encode(side.topic, record as Records[RecordName]));
  };
  return async (raws, signal) => {
    const out: OutMessage[] = [];
    // Records between tombstones go through the operator together; a tombstone's messages come
    // after those of the records before it, so one key's records stay in order downstream.
    let segment: unknown[] = [];
    const flush = async () => {
      if (segment.length === 0) return;
      const inputs = segment;
      segment = [];
      for (const outcome of await outcomesOf(inputs, signal)) emit(out, outcome);
    };
    // The stage's store follows each record's outcome: one record at a time.
    const one = async (record: unknown, around: NonNullable<RetractionHooks['around']>) => {
      out.push(...around.before(record));
      const [outcome] = await outcomesOf([record], signal);
      // The store first: side outputs read it (the tree's intake numbers per-file requests).
      out.push(...around.after(record, outcome));
      if (outcome) emit(out, outcome);
    };
    // Records the last one put back into play (the filter's near-duplicates of a content that
    // left), each through the stage in turn, in the same transaction.
    const again = async () => {
      for (let records = hooks?.again?.() ?? []; records.length > 0; records = hooks!.again!()) {
        for (const record of records) await one(record, hooks!.around!);
      }
    };
    for (const raw of raws) {
      if (raw.value === null) {
        // A tombstone is a retraction, never a dead letter; topics that carry none ignore it.
        await flush();
        if (hooks && raw.key !== null) out.push(...hooks.tombstone(raw.key.toString('utf8')));
        await again();
        continue;
      }
      const decoded = await ctx.serde.decode(inputTopic, spec.input.record, raw.value);
      if (!decoded.ok) {
        out.push(deadLetter(undecodable(spec.name, raw, decoded.reason, decoded.detail, clock())));
        continue;
      }
      if (!hooks?.around) {
        segment.push(decoded.value);
        continue;
      }
      await flush();
      await one(decoded.value, hooks.around);
      await again();
    }
    await flush();
    return out;
  };
}

/**
 * The sample stage's outcomes, one request at a time in order: a request its tree cannot serve
 * yet is tried again every half second (the tree grows as the writer commits) until it can, or
 * until `requestWaitMs` after it was made, when its rejection stands. A rejection of that kind
 * changes no store, so trying again is safe. Stopping the consumer ends the wait (the batch is
 * abandoned, nothing committed).
 */
function whenServable(run: (inputs: unknown[]) => Promise<Array<Outcome<unknown>>>, config: KafkaRunConfig, log: (line: string) => void) {
  const waitMs = config.requestWaitMs ?? DEFAULT_REQUEST_WAIT_MS;
  return async (inputs: unknown[], signal: AbortSignal): Promise<Array<Outcome<unknown>>> => {
    const outcomes: Array<Outcome<unknown>> = [];
    let waitingSince: number | null = null;
    for (let i = 0; i < inputs.length; i++) {
      const request = inputs[i] as TaskRequest;
      for (;;) {
        const [outcome] = await run([request]);
        if (!outcome || outcome.ok || !NOT_YET.has(outcome.rejection.reason)) {
          if (outcome) outcomes.push(outcome);
          break;
        }
        const left = request.requestedAt + waitMs - Date.now();
        if (left <= 0) {
          const waited = waitingSince === null ? '' : ` (waited ${((Date.now() - waitingSince) / 1000).toFixed(0)} s for the tree)`;
          outcomes.push({ ok: false, rejection: { ...outcome.rejection, detail: `${outcome.rejection.detail}${waited}` } });
          break;
        }
        if (waitingSince === null) {
          waitingSince = Date.now();
          log(`treesynth: sample: ${inputs.length - i} task request(s) wait for tree ${request.treeKey} (${outcome.rejection.detail}), each up to ${waitMs / 1000} s after it was made`);
        }
        config.onWaiting?.('sample', inputs.length - i);
        await abortableSleep(Math.min(500, left), signal);
      }
    }
    if (waitingSince !== null) {
      config.onWaiting?.('sample', 0);
      log(`treesynth: sample: served the waiting task requests after ${((Date.now() - waitingSince) / 1000).toFixed(1)} s`);
    }
    return outcomes;
  };
}

/** Starts one unit: takes over its store's transactional id, rebuilds the store, starts its stages' consumers. */
async function startUnit(ctx: KafkaContext, config: KafkaRunConfig, unit: UnitSpec, shared: Shared, log: (line: string) => void): Promise<RunningUnit> {
  const clock = config.resources.clock ?? Date.now;
  const stores = createStores(config.resources, config.settings);
  // The corpus changes: near-duplicates wait to be filtered again when what they duplicated goes.
  if (unit.store === 'filter') stores.suppressed = new SuppressedStore();
  const paths = new PathStore();
  const contributions = new ContributionStore();
  const lanes: TransactionLane[] = [];
  const consumers: StageConsumer[] = [];
  const followers: TopicReader[] = [];
  /** Replays a changelog topic into a store and keeps following it; resolves once caught up. */
  const follow = async <N extends RecordName>(spec: TopicSpec<N>, name: string, apply: (record: Records[N]) => void): Promise<void> => {
    const topic = ctx.topic(spec);
    const follower = await readTopic(ctx.kafka, ctx.admin, topic, {
      groupPrefix: `${ctx.prefix}follow.${name}`, follow: true,
      onRecord: async (raw) => {
        const decoded = await ctx.serde.decode(topic, spec.record, raw.value);
        if (decoded.ok) apply(decoded.value);
      },
    });
    followers.push(follower);
    await follower.caughtUp;
  };
  let reportFailure!: (f: Failure) => void;
  const failure = new Promise<Failure>((resolve) => (reportFailure = resolve));

  // Bounded: a broker that does not answer must not hold a stop or a restart.
  const stop = async () => {
    // Consumers first: each finishes (or abandons) its batch in flight, then leaves its group.
    await Promise.all([...consumers.map((c) => c.stop(STOP_GRACE_MS)), ...followers.map((f) => settlesWithin(f.stop(), 1_000))]);
    await settlesWithin(Promise.all(lanes.map((l) => l.close())), 1_000);
    if (unit.name === 'sample') config.onWaiting?.('sample', 0);
  };

  try {
    // 1. Take over the store's writer id before reading the store's topic.
    const storeLane = unit.store ? await SingleWriterLane.open(ctx.kafka, `${ctx.prefix}${unit.store}`) : null;
    if (storeLane) lanes.push(storeLane);

    // 2. Rebuild the store from its topics.
    const started = Date.now();
    if (unit.store === 'tree') {
      const changes: TreeNodeChange[] = [];
      const n = await readRecords(ctx, TOPICS.treeChanges, 'tree', log, (c) => void changes.push(c));
      stores.trees = await FeatureTrees.restore(changes, config.resources.labelEmbedder, config.resources.clock);
      shared.trees = stores.trees;
      await readRecords(ctx, TOPICS.contributions, 'tree.contributions', log, (c, key) => contributions.apply(key, c), (key) => contributions.apply(key, null));
      // The lineage index is a function of the live contributions: rebuilt from them, it is what
      // tree.sources says, without reading that topic.
      stores.sources = new SourceIndex(DEFAULT_FILES_PER_NODE, true);
      for (const key of stores.trees.keys()) for (const c of contributions.sources(key)) stores.sources.add(key, c.file, c.nodeIds);
      stores.sources.flush();
      shared.sources = stores.sources;
      log(
        `treesynth: tree restored from ${n} changes of ${ctx.topic(TOPICS.treeChanges)}: ${stores.trees.nodeCount} nodes in ${stores.trees.keys().length} trees, ` +
          `${contributions.size} files' contributions (${Date.now() - started} ms)`,
      );
    } else if (unit.store === 'sample') {
      if (unit.after === 'tree') {
        if (!shared.trees || !shared.sources) throw new Error('the sample stage started before the tree it reads');
        stores.trees = shared.trees;
        stores.sources = shared.sources;
      } else {
        // The writer is another process: follow its committed changes, starting caught up.
        await follow(TOPICS.treeChanges, 'tree', (change) => stores.trees.get(change.treeKey).tree.apply(change));
        log(`treesynth: following ${ctx.topic(TOPICS.treeChanges)}: ${stores.trees.nodeCount} nodes so far`);
        await follow(TOPICS.sources, 'sources', (sources) => stores.sources.apply(sources));
        log(`treesynth: following ${ctx.topic(TOPICS.sources)}: ${stores.sources.size} nodes with source files so far`);
      }
      if (config.settings.student) {
        // The student's attempts are the student store's changelog: replayed, then followed, so
        // later draws lean toward what the student fails on.
        await follow(TOPICS.studentAttempts, 'student', (attempt) => stores.student.apply(attempt));
        log(`treesynth: following ${ctx.topic(TOPICS.studentAttempts)}: ${stores.student.attempts()} student attempts so far`);
      }
      await restoreCoverage(ctx, config.settings, stores, log);
    } else if (unit.store === 'filter') {
      const n = await restoreFilter(ctx, config, stores, paths, log);
      log(`treesynth: filter restored ${n} live accepted files from ${ctx.topic(TOPICS.accepted)}, ${paths.size} live paths from ${ctx.topic(TOPICS.paths)}, ${stores.suppressed?.size ?? 0} suppressed near-duplicates`);
    } else if (unit.name === 'validate') {
      const n = await restoreSamples(ctx, config, stores, log);
      if (n > 0) log(`treesynth: validate restored ${stores.samples.size} accepted samples from ${ctx.topic(TOPICS.samples)} for output dedup`);
    }

    // 3. The unit's stages over the restored store, one consumer group each.
    // Only extraction parses code: other processes skip loading the grammars (the extract
    // operators built for them are never subscribed).
    let grammars: Grammars | null = null;
    let staticWorkers: StaticExtractorPool | undefined;
    if (unit.stages.includes('extract')) {
      // Workers load their own grammars; this thread loads them only to parse itself.
      staticWorkers = shared.staticWorkers ??= openStaticWorkers(config.staticWorkers);
      // A unit joins its consumer group for seconds anyway: a pool that cannot start fails the unit's start.
      await staticWorkers?.ready;
      if (!staticWorkers) grammars = await (shared.grammars ??= loadGrammars());
    }
    const stages = buildStages(config.settings, stores, { ...config.resources, grammars, ...(staticWorkers ? { staticWorkers } : {}) });
    const perFile = config.tasksPerFile ?? 0;
    const specs = topology(stages, config.settings, clock)
      .filter((s) => unit.stages.includes(s.name))
      .map((s) => (s.name === 'canonicalize' && perFile > 0 ? { ...s, sideOutputs: [...s.sideOutputs, taskFlow(perFile, clock) as SideOutput] } : s));
    const hooksOf = (name: DeployedStage) => (encode: (change: TreeNodeChange) => OutMessage): RetractionHooks | null =>
      name === 'filter' ? filterRetraction(ctx, { paths, seen: stores.seen, index: stores.index, suppressed: stores.suppressed! })
        : name === 'extract' ? extractRetraction(ctx)
          : name === 'canonicalize' ? canonicalizeRetraction(ctx, stores.trees, contributions, stores.sources, encode)
            : null;
    for (const spec of specs) {
      const inputTopic = ctx.topic(spec.input);
      const lane = storeLane ?? new PartitionLanes(ctx.kafka, (p) => `${ctx.prefix}${spec.name}-${inputTopic}-${p}`);
      if (!storeLane) lanes.push(lane);
      const llmStage = spec.name === 'extract' || spec.name === 'generate' || spec.name === 'evolve' || spec.name === 'validate' || spec.name === 'student';
      consumers.push(
        await startStageConsumer({
          kafka: ctx.kafka, admin: ctx.admin, groupId: `${ctx.prefix}${spec.name}`, topic: inputTopic, lane,
          maxRecordsPerTransaction: config.maxRecordsPerTransaction ?? (llmStage && (config.resources.models[spec.name as LlmStage] || (spec.name === 'student' && config.resources.student)) ? Math.max(4, config.settings.concurrency * 4) : 500),
          process: batchProcessor(ctx, spec, config, log, hooksOf(spec.name)),
          onCommitted: (info) => config.onCommitted?.(spec.name, info),
          onFailure: (error) => reportFailure({ stage: spec.name, error, lane }),
          ...(config.sessionTimeoutMs ? { sessionTimeoutMs: config.sessionTimeoutMs } : {}),
        }),
      );
    }
    return { failure, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** Fails that restarting cannot fix: a refused schema, or another process took over a store. */
function fatal(failure: Failure, prefix: string): Error | null {
  if (failure.error instanceof SchemaRefusedError) return failure.error;
  if (failure.lane.singleWriter && isFenced(failure.error)) {
    return new Error(
      `another process took over the ${STORE_OF[failure.stage]} store (transactional id ${failure.lane.transactionalIdOf(0)}); ` +
        `stage ${failure.stage} stops here. Run each stateful store (filter; canonicalize+evolve; sample) in one process only (prefix ${prefix}).`,
    );
  }
  return null;
}

/** A promise that can be fired, and re-armed once fired. */
class Latch {
  #resolve: () => void = () => {};
  #fired = false;
  promise: Promise<void> = this.#arm();
  #arm(): Promise<void> {
    return new Promise<void>((resolve) => (this.#resolve = resolve));
  }
  fire(): void {
    this.#fired = true;
    this.#resolve();
  }
  reset(): void {
    if (!this.#fired) return;
    this.#fired = false;
    this.promise = this.#arm();
  }
}

/**
 * Runs the selected stages until `stop()`. Connecting, creating topics, registering schemas
 * and the first start of every stage happen before this resolves, so an unreachable service
 * or a refused schema is an error here, in one line.
 */
export async function startKafkaRun(config: KafkaRunConfig): Promise<KafkaRun> {
  const log = config.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const s of config.stages) if (!(DEPLOYED_STAGES as readonly string[]).includes(s)) throw new Error(`unknown stage "${s}" (expected some of ${DEPLOYED_STAGES.join(', ')})`);
  const ctx = await openKafkaContext({
    brokers: config.brokers, registryUrl: config.registryUrl, prefix: config.prefix, clientId: config.clientId ?? `${config.prefix}${config.stages.join('+')}`,
    topics: config.topics, ...(config.connectScheduleMs ? { connectScheduleMs: config.connectScheduleMs } : {}),
    ...(config.signal ? { signal: config.signal } : {}),
  });
  if (ctx.created.length > 0) log(`treesynth: created topics ${ctx.created.join(', ')}`);
  if (ctx.compacted.length > 0) log(`treesynth: ${ctx.compacted.join(', ')} now compacted (one live record per key, as retraction needs); they expired records by time before`);

  const shared: Shared = { trees: null, sources: null, grammars: null, staticWorkers: null };
  const closeShared = async () => shared.staticWorkers?.close();
  const units = unitsOf(config.stages);
  const stopping = new AbortController();
  const stopped = new Promise<null>((resolve) => stopping.signal.addEventListener('abort', () => resolve(null), { once: true }));
  /** `work`, or null once stopping: a start still under way is stopped when it finishes. */
  const unlessStopping = async (work: Promise<RunningUnit>): Promise<RunningUnit | null> => {
    const winner = await Promise.race([work, stopped]);
    if (winner === null) void work.then((r) => r.stop()).catch(() => {});
    return winner;
  };

  // The first start: in order (a sample beside the writer after the tree), all or nothing.
  const first = new Map<string, RunningUnit>();
  try {
    const abort = new Promise<never>((_, reject) => {
      config.signal?.throwIfAborted();
      config.signal?.addEventListener('abort', () => reject(config.signal!.reason), { once: true });
    });
    abort.catch(() => {});
    for (const unit of units) {
      const starting = startUnit(ctx, config, unit, shared, log);
      try {
        first.set(unit.name, await Promise.race([starting, abort]));
      } catch (error) {
        void starting.then((r) => r.stop()).catch(() => {});
        throw error;
      }
    }
  } catch (error) {
    await Promise.all([...first.values()].map((r) => r.stop().catch(() => {})));
    await settlesWithin(ctx.close(), 1_000);
    await closeShared();
    throw error;
  }
  log(`treesynth: running ${config.stages.join(', ')} on ${config.brokers.join(',')} (topics ${config.prefix}*)`);

  const up = new Map(units.map((u) => [u.name, new Latch()]));
  const restart = new Map(units.map((u) => [u.name, new Latch()]));
  const dependents = (name: string) => units.filter((u) => u.after === name);
  const describe = (unit: UnitSpec) => (unit.stages.length > 1 ? `${unit.stages.join('+')} (one store)` : unit.stages[0]!);

  /** One unit's life: run, and on a failure restart it alone (and what reads its store), with backoff. */
  const supervise = async (unit: UnitSpec, initial: RunningUnit): Promise<void> => {
    let running: RunningUnit | null = initial;
    let backoff = 1_000;
    const wait = async () => {
      await Promise.race([abortableSleep(backoff, stopping.signal).catch(() => {}), stopped]);
      backoff = Math.min(backoff * 2, 30_000);
    };
    while (!stopping.signal.aborted) {
      if (!running) {
        if (unit.after) await Promise.race([up.get(unit.after)!.promise, stopped]);
        if (stopping.signal.aborted) break;
        restart.get(unit.name)!.reset();
        try {
          running = await unlessStopping(startUnit(ctx, config, unit, shared, log));
        } catch (error) {
          if (stopping.signal.aborted) break;
          log(`treesynth: ${describe(unit)}: could not restart (${oneLine(error)}); trying again in ${backoff / 1000} s`);
          await wait();
          continue;
        }
        if (!running) break;
        log(`treesynth: ${describe(unit)}: running again`);
      }
      up.get(unit.name)!.fire();
      const since = Date.now();
      const outcome = await Promise.race([running.failure, stopped, restart.get(unit.name)!.promise.then(() => 'after' as const)]);
      up.get(unit.name)!.reset();
      // What reads this unit's store must not go on reading what a failed batch left there.
      if (outcome !== null) for (const d of dependents(unit.name)) restart.get(d.name)!.fire();
      await running.stop();
      running = null;
      if (outcome === null) break;
      if (outcome === 'after') {
        log(`treesynth: ${describe(unit)}: restarting with ${unit.after}, whose store it reads`);
        continue;
      }
      const final = fatal(outcome, config.prefix);
      if (final) throw final;
      // A unit that ran a while was healthy: start the backoff over.
      if (Date.now() - since > 60_000) backoff = 1_000;
      log(`treesynth: ${outcome.stage}: ${oneLine(outcome.error)}; restarting ${describe(unit)} from its committed state in ${backoff / 1000} s`);
      await wait();
    }
  };

  const done = (async () => {
    try {
      const results = await Promise.allSettled(
        units.map((u) =>
          supervise(u, first.get(u.name)!).catch((error: unknown) => {
            stopping.abort(); // a final failure stops the other units too
            throw error;
          }),
        ),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      await settlesWithin(ctx.close(), 1_000);
      await closeShared();
    }
  })();
  done.catch(() => {});
  return {
    done,
    stop: async () => {
      stopping.abort();
      await done.catch(() => {});
    },
  };
}
