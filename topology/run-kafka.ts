// Kafka mode: the same StageSpecs as local mode (topology/treesynth.ts), each run as its own
// consumer group `<prefix><stage>` reading read_committed, every batch through the stage
// operator and out in ONE transaction with the group's offsets (connectors/kafka/transactional).
//
// State and the single-writer rule. Stateful stages keep their state in stores and rebuild it
// from topics on start, after taking over their store's transactional id (which ends any open
// transaction of a previous holder, so the rebuild sees everything it committed):
//   - filter: ContentHashStore + FileIndex from code.accepted (only filter writes it);
//     transactional id `<prefix>filter`.
//   - canonicalize and evolve: both write the feature tree, so they share one store and one
//     transactional id `<prefix>tree`, and their batches take turns. The tree is rebuilt from
//     the compacted tree.nodes topic. Run them in ONE process: a second process running either
//     fences the first (which then stops with a clear error) instead of two writers diverging.
//   - sample: reads the tree. In the writer's process it shares the store; alone, it follows
//     tree.nodes as the writer commits. Its coverage counts are rebuilt from the tasks topic.
//     Transactional id `<prefix>sample`.
// Stateless stages (extract, generate) scale out: run as many processes as their input has
// partitions; each input partition has its own transactional id.
//
// Any failure of a batch aborts its transaction and restarts this process's stages from their
// committed state (stores rebuilt), with backoff. Being fenced as a store's writer is final.
import { from, lastValueFrom, toArray, type OperatorFunction } from 'rxjs';
import { loadGrammars } from '../analysis/tree-sitter/grammars.js';
import { openKafkaContext, type KafkaContext } from '../connectors/kafka/context.js';
import { readTopic, type RawRecord, type TopicReader } from '../connectors/kafka/reader.js';
import { SchemaRefusedError } from '../connectors/kafka/serde.js';
import type { TopicSettings } from '../connectors/kafka/topics.js';
import {
  PartitionLanes, SingleWriterLane, isFenced, startStageConsumer,
  type BatchCommitted, type OutMessage, type StageConsumer, type TransactionLane,
} from '../connectors/kafka/transactional.js';
import { SchemaViolation, type CodeFile, type RecordName, type Records, type Rejection, type SynthesisTask, type TreeNodeChange } from '../schemas/contract.js';
import { rejection, type Outcome } from '../schemas/outcome.js';
import { TOPICS, type TopicSpec } from '../schemas/topics.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { replayCoverage } from '../stores/tree-sampling.js';
import { buildStages, createStores, samplerConfig, type StageResources, type StageStores } from './build.js';
import type { LlmStage, PipelineSettings } from './settings.js';
import { DEPLOYED_STAGES, topology, type DeployedStage, type StageSpec } from './treesynth.js';

export interface KafkaRunConfig {
  settings: PipelineSettings;
  /** Embedders, models, prompts without a model, the sandbox; grammars load here when extract runs. */
  resources: Omit<StageResources, 'grammars' | 'tally'>;
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
  /** One line per event worth telling an operator (start, restore, restart, stop). */
  log?: (line: string) => void;
  onCommitted?: (stage: DeployedStage, info: BatchCommitted) => void;
}

export interface KafkaRun {
  /** Resolves after a graceful stop; rejects on a failure that a restart cannot fix. */
  readonly done: Promise<void>;
  /** Graceful stop: no more fetching, the transaction in flight finishes or aborts, clients disconnect. */
  stop(): Promise<void>;
}

/** Stateful stages and the store (and transactional id) each one writes. */
const STORE_OF: Partial<Record<DeployedStage, 'filter' | 'tree' | 'sample'>> = { filter: 'filter', canonicalize: 'tree', evolve: 'tree', sample: 'sample' };

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

interface Session {
  /** Resolves with the first failure of any stage. */
  readonly failure: Promise<{ stage: DeployedStage; error: unknown; lane: TransactionLane }>;
  stop(): Promise<void>;
}

/** Reads a whole topic (to the end offsets at start) as decoded records; undecodable ones are reported and skipped. */
async function readRecords<N extends RecordName>(
  ctx: KafkaContext, spec: TopicSpec<N>, what: string, log: (line: string) => void, each: (record: Records[N]) => void | Promise<void>,
): Promise<number> {
  const topic = ctx.topic(spec);
  let n = 0;
  let bad = 0;
  await readTopic(ctx.kafka, ctx.admin, topic, {
    groupPrefix: `${ctx.prefix}restore.${what}`,
    onRecord: async (raw) => {
      const decoded = await ctx.serde.decode(topic, spec.record, raw.value);
      if (!decoded.ok) {
        bad += 1;
        return;
      }
      n += 1;
      await each(decoded.value);
    },
  });
  if (bad > 0) log(`treesynth: ${what}: skipped ${bad} undecodable records of ${topic} while restoring`);
  return n;
}

async function restoreFilter(ctx: KafkaContext, config: KafkaRunConfig, stores: StageStores, log: (line: string) => void): Promise<number> {
  // Embed in chunks: one request per file would dominate the restore with a remote embedder.
  let pending: CodeFile[] = [];
  const flush = async () => {
    const files = pending;
    pending = [];
    if (config.settings.nearDuplicateRadius <= 0 || files.length === 0) return;
    const vectors = await config.resources.codeEmbedder.embed(files.map((f) => f.content));
    files.forEach((f, i) => stores.index.add({ fileId: f.id, path: f.path }, vectors[i]!));
  };
  const n = await readRecords(ctx, TOPICS.accepted, 'filter', log, async (file) => {
    stores.seen.add(file.id, file.path);
    pending.push(file);
    if (pending.length >= 64) await flush();
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

/** The messages one batch of a stage writes: outputs, extra requests and dead letters. */
function batchProcessor(ctx: KafkaContext, spec: StageSpec, config: KafkaRunConfig): (records: RawRecord[]) => Promise<OutMessage[]> {
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
  return async (raws) => {
    const out: OutMessage[] = [];
    const inputs: unknown[] = [];
    for (const raw of raws) {
      const decoded = await ctx.serde.decode(inputTopic, spec.input.record, raw.value);
      if (decoded.ok) inputs.push(decoded.value);
      else out.push(deadLetter(undecodable(spec.name, raw, decoded.reason, decoded.detail, clock())));
    }
    // Operators are re-instantiable: a fresh subscription per batch; state lives in the stores.
    const outcomes: Array<Outcome<unknown>> =
      inputs.length === 0 ? [] : await lastValueFrom(from(inputs as Array<Records[RecordName]>).pipe(spec.operator as OperatorFunction<unknown, Outcome<unknown>>, toArray()));
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        out.push(deadLetter(outcome.rejection));
        continue;
      }
      for (const record of spec.records(outcome.value)) out.push(encode(spec.output, record));
      for (const side of spec.sideOutputs) for (const record of side.records(outcome.value)) out.push(encode(side.topic, record as Records[RecordName]));
    }
    return out;
  };
}

async function startSession(ctx: KafkaContext, config: KafkaRunConfig, log: (line: string) => void): Promise<Session> {
  const selected = new Set(config.stages);
  const stores = createStores(config.resources);
  const lanes = new Map<string, TransactionLane>();
  const consumers: StageConsumer[] = [];
  let follower: TopicReader | null = null;
  let reportFailure!: (f: { stage: DeployedStage; error: unknown; lane: TransactionLane }) => void;
  const failure = new Promise<{ stage: DeployedStage; error: unknown; lane: TransactionLane }>((resolve) => (reportFailure = resolve));

  const stop = async () => {
    // Consumers first: each finishes (or aborts) its transaction in flight, then leaves its group.
    await Promise.all(consumers.map((c) => c.stop()));
    await follower?.stop();
    await Promise.all([...lanes.values()].map((l) => l.close()));
  };

  try {
    // 1. Take over each store's writer id before reading the store's topic.
    const storeNames = new Set([...selected].map((s) => STORE_OF[s]).filter((s): s is 'filter' | 'tree' | 'sample' => s !== undefined));
    for (const store of storeNames) lanes.set(store, await SingleWriterLane.open(ctx.kafka, `${ctx.prefix}${store}`));

    // 2. Rebuild the stores from their topics.
    const started = Date.now();
    if (storeNames.has('tree')) {
      const changes: TreeNodeChange[] = [];
      const n = await readRecords(ctx, TOPICS.treeChanges, 'tree', log, (c) => void changes.push(c));
      stores.trees = await FeatureTrees.restore(changes, config.resources.labelEmbedder, config.resources.clock);
      log(`treesynth: tree restored from ${n} changes of ${ctx.topic(TOPICS.treeChanges)}: ${stores.trees.nodeCount} nodes in ${stores.trees.keys().length} trees (${Date.now() - started} ms)`);
    } else if (selected.has('sample')) {
      // The writer is another process: follow its committed changes, starting caught up.
      const topic = ctx.topic(TOPICS.treeChanges);
      follower = await readTopic(ctx.kafka, ctx.admin, topic, {
        groupPrefix: `${ctx.prefix}follow.tree`, follow: true,
        onRecord: async (raw) => {
          const decoded = await ctx.serde.decode(topic, 'TreeNodeChange', raw.value);
          if (decoded.ok) stores.trees.get(decoded.value.treeKey).tree.apply(decoded.value);
        },
      });
      await follower.caughtUp;
      log(`treesynth: following ${topic}: ${stores.trees.nodeCount} nodes so far`);
    }
    if (selected.has('sample')) await restoreCoverage(ctx, config.settings, stores, log);
    if (selected.has('filter')) {
      const n = await restoreFilter(ctx, config, stores, log);
      log(`treesynth: filter restored ${n} accepted files from ${ctx.topic(TOPICS.accepted)}`);
    }

    // 3. The stages over the restored stores, one consumer group each.
    // Only extraction parses code: other processes skip loading the grammars (the extract
    // operators built for them are never subscribed).
    const grammars = selected.has('extract') ? await loadGrammars() : null;
    const stages = buildStages(config.settings, stores, { ...config.resources, grammars });
    const specs = topology(stages, config.settings, config.resources.clock).filter((s) => selected.has(s.name));
    for (const spec of specs) {
      const inputTopic = ctx.topic(spec.input);
      const store = STORE_OF[spec.name];
      const lane = store ? lanes.get(store)! : new PartitionLanes(ctx.kafka, (p) => `${ctx.prefix}${spec.name}-${inputTopic}-${p}`);
      if (!store) lanes.set(spec.name, lane);
      const llmStage = spec.name === 'extract' || spec.name === 'generate' || spec.name === 'evolve' || spec.name === 'validate';
      consumers.push(
        await startStageConsumer({
          kafka: ctx.kafka, admin: ctx.admin, groupId: `${ctx.prefix}${spec.name}`, topic: inputTopic, lane,
          maxRecordsPerTransaction: config.maxRecordsPerTransaction ?? (llmStage && config.resources.models[spec.name as LlmStage] ? Math.max(4, config.settings.concurrency * 4) : 500),
          process: batchProcessor(ctx, spec, config),
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

const sleep = (ms: number, wake: Promise<void>) => Promise.race([new Promise<void>((r) => setTimeout(r, ms)), wake]);

/** Fails that restarting cannot fix: a refused schema, or another process took over a store. */
function fatal(failure: { stage: DeployedStage; error: unknown; lane: TransactionLane }, prefix: string): Error | null {
  if (failure.error instanceof SchemaRefusedError) return failure.error;
  if (failure.lane.singleWriter && isFenced(failure.error)) {
    return new Error(
      `another process took over the ${STORE_OF[failure.stage]} store (transactional id ${failure.lane.transactionalIdOf(0)}); ` +
        `stage ${failure.stage} stops here. Run each stateful store (filter; canonicalize+evolve; sample) in one process only (prefix ${prefix}).`,
    );
  }
  return null;
}

/**
 * Runs the selected stages until `stop()`. Connecting, creating topics and registering
 * schemas happen before this resolves, so an unreachable service or a refused schema is an
 * error here, in one line.
 */
export async function startKafkaRun(config: KafkaRunConfig): Promise<KafkaRun> {
  const log = config.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const s of config.stages) if (!(DEPLOYED_STAGES as readonly string[]).includes(s)) throw new Error(`unknown stage "${s}" (expected some of ${DEPLOYED_STAGES.join(', ')})`);
  const ctx = await openKafkaContext({
    brokers: config.brokers, registryUrl: config.registryUrl, prefix: config.prefix, clientId: config.clientId ?? `${config.prefix}${config.stages.join('+')}`,
    topics: config.topics, ...(config.connectScheduleMs ? { connectScheduleMs: config.connectScheduleMs } : {}),
  });
  if (ctx.created.length > 0) log(`treesynth: created topics ${ctx.created.join(', ')}`);
  let session: Session;
  try {
    session = await startSession(ctx, config, log);
  } catch (error) {
    await ctx.close();
    throw error;
  }
  log(`treesynth: running ${config.stages.join(', ')} on ${config.brokers.join(',')} (topics ${config.prefix}*)`);

  let stopping = false;
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  const done = (async () => {
    let backoff = 1000;
    try {
      for (;;) {
        const since = Date.now();
        const outcome = await Promise.race([session.failure, woken.then(() => null)]);
        await session.stop();
        if (outcome === null || stopping) return;
        const final = fatal(outcome, config.prefix);
        if (final) throw final;
        // A session that ran a while was healthy: start the backoff over.
        if (Date.now() - since > 60_000) backoff = 1000;
        for (;;) {
          log(`treesynth: ${outcome.stage}: ${oneLine(outcome.error)}; restarting the stages from their committed state in ${backoff / 1000} s`);
          await sleep(backoff, woken);
          if (stopping) return;
          backoff = Math.min(backoff * 2, 30_000);
          try {
            session = await startSession(ctx, config, log);
            break;
          } catch (error) {
            outcome.error = error;
          }
        }
      }
    } finally {
      await ctx.close();
    }
  })();
  done.catch(() => {});
  return {
    done,
    stop: async () => {
      stopping = true;
      wake();
      await done.catch(() => {});
    },
  };
}
