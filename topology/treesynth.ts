// The treesynth topology: which stage reads which topic and writes which. One definition for
// local mode (in-memory transport, `wireTopology`, topology/run-local.ts) and Kafka mode (one
// consumer group per stage, each batch in one transaction, topology/run-kafka.ts); the
// operators come from topology/build.ts. Reads like the flow in DESIGN.md:
//
//   code.files ─► filter (checks, exact dedup, near-duplicates) ─► code.accepted
//   code.accepted ─► extract features ─► features
//   features ─► canonicalize labels ─► tree.nodes (changelog), and tree.evolve every N files
//   tree.evolve ─► evolve tree (LLM) ─► tree.nodes
//   tasks.requests ─► sample subtrees ─► tasks
//   tasks ─► generate (LLM) ─► samples.generated
//   samples.generated ─► decontaminate + validate (sandbox, debugging turns) ─► samples
//   samples ─► student model solves, the teacher's tests judge ─► student.attempts (sample reads them)
//   every stage ─► dead.letters
import { map, mergeMap, share, tap, type Observable, type OperatorFunction } from 'rxjs';
import type { CanonicalizedFile } from '../processors/canonicalize.js';
import type { EvolutionResult } from '../processors/evolve.js';
import type { CodeFile, EvolutionRequest, FeatureSet, GeneratedSample, RecordName, Records, SourceFile, StudentAttempt, SynthesisTask, TaskRequest } from '../schemas/contract.js';
import { accept, type Outcome } from '../schemas/outcome.js';
import { TOPICS, type TopicSpec } from '../schemas/topics.js';
import { ROOT_ID } from '../stores/tree-store.js';
import type { Transport } from '../connectors/transport.js';
import { roundDue } from './evolution.js';
import { splitOutcomes } from './route-rejections.js';
import type { PipelineSettings } from './settings.js';

/** The operator of every deployed stage: each input yields one outcome (generate: none while prompts are only recorded). */
export interface Stages {
  filter: OperatorFunction<SourceFile, Outcome<CodeFile>>;
  extract: OperatorFunction<CodeFile, Outcome<FeatureSet>>;
  canonicalize: OperatorFunction<FeatureSet, Outcome<CanonicalizedFile>>;
  evolve: OperatorFunction<EvolutionRequest, Outcome<EvolutionResult>>;
  sample: OperatorFunction<TaskRequest, Outcome<SynthesisTask>>;
  generate: OperatorFunction<SynthesisTask, Outcome<GeneratedSample>>;
  /** Decontamination and the sandbox; absent, generated samples pass as they are (validation null). */
  validate?: OperatorFunction<GeneratedSample, Outcome<GeneratedSample>>;
  /** A student model solves validated tasks against their tests; absent, there is no student. */
  student?: OperatorFunction<GeneratedSample, Outcome<StudentAttempt>>;
}

/** Records a stage writes to another topic than its output, from the same value, in the same batch. */
export interface SideOutput<V = unknown> {
  readonly topic: TopicSpec<RecordName>;
  readonly records: (value: V) => unknown[];
}

/** A deployable stage: its consumer group reads `input` and writes `output`, side outputs and dead letters. */
export interface StageSpec<I extends RecordName = RecordName, O extends RecordName = RecordName, V = unknown> {
  readonly name: DeployedStage;
  readonly input: TopicSpec<I>;
  readonly output: TopicSpec<O>;
  readonly operator: OperatorFunction<Records[I], Outcome<V>>;
  /** The output records of one value (a canonicalized file is many tree changes). */
  readonly records: (value: V) => Array<Records[O]>;
  readonly sideOutputs: ReadonlyArray<SideOutput<V>>;
  /**
   * State the stage keeps in stores: it runs as a single writer per tree key and rebuilds its
   * store from a topic on start (the tree from tree.nodes, seen hashes from code.accepted).
   */
  readonly stateful: boolean;
}

export const DEPLOYED_STAGES = ['filter', 'extract', 'canonicalize', 'evolve', 'sample', 'generate', 'validate', 'student'] as const;
export type DeployedStage = (typeof DEPLOYED_STAGES)[number];

const spec = <I extends RecordName, O extends RecordName, V>(s: StageSpec<I, O, V>): StageSpec => s as unknown as StageSpec;
const side = <N extends RecordName, V>(topic: TopicSpec<N>, records: (value: V) => Array<Records[N]>): SideOutput<V> => ({ topic: topic as unknown as TopicSpec<RecordName>, records });

/** The stages in flow order. Near-duplicate filtering runs inside the filter stage: both guard code.accepted. */
export function topology(stages: Stages, settings: Pick<PipelineSettings, 'evolution' | 'llmStages'>, clock: () => number = Date.now): StageSpec[] {
  const evolves = settings.llmStages.includes('evolve');
  return [
    spec({ name: 'filter', input: TOPICS.files, output: TOPICS.accepted, stateful: true, operator: stages.filter, records: (file: CodeFile) => [file], sideOutputs: [] }),
    spec({ name: 'extract', input: TOPICS.accepted, output: TOPICS.features, stateful: false, operator: stages.extract, records: (f: FeatureSet) => [f], sideOutputs: [] }),
    spec({
      name: 'canonicalize', input: TOPICS.features, output: TOPICS.treeChanges, stateful: true, operator: stages.canonicalize,
      records: (c: CanonicalizedFile) => c.changes,
      // An evolution round falls due as a tree takes in its k·N-th file (topology/evolution.ts).
      sideOutputs: evolves ? [side(TOPICS.evolutionRequests, (c: CanonicalizedFile) => {
        const files = c.intake ?? c.changes.find((change) => change.nodeId === ROOT_ID)?.node?.frequency ?? 0;
        const due = roundDue(c.treeKey, files, settings.evolution.every, clock());
        return due ? [due] : [];
      })] : [],
    }),
    spec({ name: 'evolve', input: TOPICS.evolutionRequests, output: TOPICS.treeChanges, stateful: true, operator: stages.evolve, records: (e: EvolutionResult) => e.changes, sideOutputs: [] }),
    spec({ name: 'sample', input: TOPICS.taskRequests, output: TOPICS.tasks, stateful: true, operator: stages.sample, records: (t: SynthesisTask) => [t], sideOutputs: [] }),
    spec({ name: 'generate', input: TOPICS.tasks, output: TOPICS.generated, stateful: false, operator: stages.generate, records: (s: GeneratedSample) => [s], sideOutputs: [] }),
    spec({
      name: 'validate', input: TOPICS.generated, output: TOPICS.samples, stateful: false,
      operator: stages.validate ?? map((s: GeneratedSample) => accept(s)), records: (s: GeneratedSample) => [s], sideOutputs: [],
    }),
    ...(stages.student
      ? [spec({ name: 'student', input: TOPICS.samples, output: TOPICS.studentAttempts, stateful: false, operator: stages.student, records: (a: StudentAttempt) => [a], sideOutputs: [] })]
      : []),
  ];
}

/** Sees every value a stage emits, before it becomes records (local mode's counters). */
export type StageObserver = (stage: DeployedStage, value: unknown) => void;

/**
 * Wires the stages onto a transport that carries whole streams (local mode): each stage's
 * input topic through its operator; values to its output and side outputs, rejections to the
 * dead letters.
 */
export function wireTopology(transport: Transport, specs: readonly StageSpec[], observe: StageObserver = () => {}): void {
  for (const s of specs) {
    const input = transport.consume(s.input, `treesynth-${s.name}`);
    const { values, rejections } = splitOutcomes(input.pipe(s.operator));
    transport.produce(TOPICS.deadLetters, rejections);
    const observed: Observable<unknown> = values.pipe(tap((v) => observe(s.name, v)));
    const { output, sides } = fanOut(observed, s);
    transport.produce(s.output, output);
    for (const [topic, records] of sides) transport.produce(topic, records as Observable<Records[RecordName]>);
  }
}

/** One subscription to a stage's values, split into its output records and each side output's. */
function fanOut(values: Observable<unknown>, s: StageSpec): { output: Observable<Records[RecordName]>; sides: Array<[TopicSpec<RecordName>, Observable<unknown>]> } {
  if (s.sideOutputs.length === 0) return { output: values.pipe(mergeMap((v) => s.records(v))), sides: [] };
  const tagged = values.pipe(
    mergeMap((v) => [...s.records(v).map((record) => ({ to: -1, record: record as unknown })), ...s.sideOutputs.flatMap((o, i) => o.records(v).map((record) => ({ to: i, record })))]),
    share(),
  );
  return {
    output: tagged.pipe(mergeMap((t) => (t.to === -1 ? [t.record as Records[RecordName]] : []))),
    sides: s.sideOutputs.map((o, i) => [o.topic, tagged.pipe(mergeMap((t) => (t.to === i ? [t.record] : [])))]),
  };
}
