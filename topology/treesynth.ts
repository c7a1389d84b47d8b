// The treesynth topology: which stage reads which topic and writes which. One definition for
// local mode (in-memory transport, `wireTopology`) and Kafka mode (one consumer group per
// stage, each batch in one transaction). Reads like the flow in DESIGN.md:
//
//   code.files ─► filter+dedup ─► near-duplicates ─► code.accepted
//   code.accepted ─► extract features ─► features
//   features ─► canonicalize labels ─► tree.nodes (changelog)
//   tree.evolve ─► evolve tree (LLM) ─► tree.nodes
//   tasks.requests ─► sample subtrees ─► tasks
//   tasks ─► generate (LLM) ─► samples.generated
//   samples.generated ─► decontaminate + validate (sandbox, debugging turns) ─► samples
//   every stage ─► dead.letters
import { concatMap, map, mergeMap, of, pipe, tap, type Observable, type OperatorFunction } from 'rxjs';
import type { CodeFile, EvolutionRequest, FeatureSet, GeneratedSample, RecordName, Records, SourceFile, SynthesisTask, TaskRequest } from '../schemas/contract.js';
import type { EvolutionResult } from '../processors/evolve.js';
import type { CanonicalizedFile } from '../processors/canonicalize.js';
import { accept, type Outcome } from '../schemas/outcome.js';
import { splitOutcomes } from './route-rejections.js';
import { TOPICS, type TopicSpec } from '../schemas/topics.js';
import type { Transport } from '../connectors/transport.js';

/** The operator of every stage: each input yields one outcome (generate: none while prompts are only recorded). */
export interface Stages {
  filter: OperatorFunction<SourceFile, Outcome<CodeFile>>;
  nearDuplicates: OperatorFunction<CodeFile, Outcome<CodeFile>>;
  extract: OperatorFunction<CodeFile, Outcome<FeatureSet>>;
  canonicalize: OperatorFunction<FeatureSet, Outcome<CanonicalizedFile>>;
  evolve: OperatorFunction<EvolutionRequest, Outcome<EvolutionResult>>;
  sample: OperatorFunction<TaskRequest, Outcome<SynthesisTask>>;
  generate: OperatorFunction<SynthesisTask, Outcome<GeneratedSample>>;
  /** Decontamination and the sandbox; absent, generated samples pass as they are (validation null). */
  validate?: OperatorFunction<GeneratedSample, Outcome<GeneratedSample>>;
}

/** A deployable stage: its consumer group reads `input` and writes `output` (and dead letters). */
export interface StageSpec<I extends RecordName = RecordName, O extends RecordName = RecordName, V = unknown> {
  readonly name: DeployedStage;
  readonly input: TopicSpec<I>;
  readonly output: TopicSpec<O>;
  readonly operator: OperatorFunction<Records[I], Outcome<V>>;
  /** The output records of one value (a canonicalized file is many tree changes). */
  readonly records: (value: V) => Array<Records[O]>;
  /**
   * State the stage keeps in stores: it runs as a single writer per tree key and rebuilds its
   * store from a topic on start (the tree from tree.nodes, seen hashes from code.accepted).
   */
  readonly stateful: boolean;
}

export const DEPLOYED_STAGES = ['filter', 'extract', 'canonicalize', 'evolve', 'sample', 'generate', 'validate'] as const;
export type DeployedStage = (typeof DEPLOYED_STAGES)[number];

const spec = <I extends RecordName, O extends RecordName, V>(s: StageSpec<I, O, V>): StageSpec => s as unknown as StageSpec;

/** The stages in flow order. Near-duplicate filtering runs inside the filter stage: both guard code.accepted. */
export function topology(stages: Stages): StageSpec[] {
  return [
    spec({
      name: 'filter', input: TOPICS.files, output: TOPICS.accepted, stateful: true,
      // One file at a time through both checks, so two near-duplicates cannot pass together.
      operator: pipe(stages.filter, concatMap((o: Outcome<CodeFile>) => (o.ok ? of(o.value).pipe(stages.nearDuplicates) : of(o)))),
      records: (file: CodeFile) => [file],
    }),
    spec({ name: 'extract', input: TOPICS.accepted, output: TOPICS.features, stateful: false, operator: stages.extract, records: (f: FeatureSet) => [f] }),
    spec({ name: 'canonicalize', input: TOPICS.features, output: TOPICS.treeChanges, stateful: true, operator: stages.canonicalize, records: (c: CanonicalizedFile) => c.changes }),
    spec({ name: 'evolve', input: TOPICS.evolutionRequests, output: TOPICS.treeChanges, stateful: true, operator: stages.evolve, records: (e: EvolutionResult) => e.changes }),
    spec({ name: 'sample', input: TOPICS.taskRequests, output: TOPICS.tasks, stateful: true, operator: stages.sample, records: (t: SynthesisTask) => [t] }),
    spec({ name: 'generate', input: TOPICS.tasks, output: TOPICS.generated, stateful: false, operator: stages.generate, records: (s: GeneratedSample) => [s] }),
    spec({
      name: 'validate', input: TOPICS.generated, output: TOPICS.samples, stateful: false,
      operator: stages.validate ?? map((s: GeneratedSample) => accept(s)), records: (s: GeneratedSample) => [s],
    }),
  ];
}

/** Observers for counters and pacing; they see records, they never change them. */
export interface TopologyHooks {
  canonicalized?(file: CanonicalizedFile): void;
  /** Every file has been canonicalized (or rejected before): the corpus is in the tree. */
  canonicalizeDone?(): void;
  evolved?(result: EvolutionResult): void;
}

/** Runs `operator` over `input`, sends its rejections to the dead letters, returns its values. */
function stage<I, O>(transport: Transport, input: Observable<I>, operator: OperatorFunction<I, Outcome<O>>): Observable<O> {
  const { values, rejections } = splitOutcomes(input.pipe(operator));
  transport.produce(TOPICS.deadLetters, rejections);
  return values;
}

/** Wires the stages onto a transport that carries whole streams (local mode). */
export function wireTopology(transport: Transport, stages: Stages, hooks: TopologyHooks = {}): void {
  const withHooks: Stages = {
    ...stages,
    canonicalize: pipe(stages.canonicalize, tap({ next: (o) => o.ok && hooks.canonicalized?.(o.value), complete: () => hooks.canonicalizeDone?.() })),
    evolve: pipe(stages.evolve, tap((o) => o.ok && hooks.evolved?.(o.value))),
  };
  for (const s of topology(withHooks)) {
    const input = transport.consume(s.input, `treesynth-${s.name}`);
    transport.produce(s.output, stage(transport, input, s.operator).pipe(mergeMap((v) => s.records(v))));
  }
}
