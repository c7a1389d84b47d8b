// The treesynth topology: which stage reads which topic and writes which. One definition for
// local mode (in-memory transport) and Kafka mode. Reads like the flow in DESIGN.md:
//
//   code.files ─► filter+dedup ─► near-duplicates ─► code.accepted
//   code.accepted ─► extract features ─► features
//   features ─► canonicalize labels ─► tree.nodes (changelog)
//   tree.evolve ─► evolve tree (LLM) ─► tree.nodes
//   tasks.requests ─► sample subtrees ─► tasks
//   tasks ─► generate (LLM) ─► samples
//   every stage ─► dead.letters
import { mergeMap, tap, type Observable, type OperatorFunction } from 'rxjs';
import type { CodeFile, EvolutionRequest, FeatureSet, GeneratedSample, SourceFile, SynthesisTask, TaskRequest } from '../schemas/contract.js';
import type { EvolutionResult } from '../processors/evolve-tree.js';
import type { CanonicalizedFile } from '../processors/canonicalize-labels.js';
import type { Outcome } from '../processors/outcome.js';
import { splitOutcomes } from './route-rejections.js';
import { TOPICS } from './topics.js';
import type { Transport } from './transport.js';

export interface Stages {
  filter: OperatorFunction<SourceFile, Outcome<CodeFile>>;
  nearDuplicates: OperatorFunction<CodeFile, Outcome<CodeFile>>;
  extract: OperatorFunction<CodeFile, Outcome<FeatureSet>>;
  canonicalize: OperatorFunction<FeatureSet, Outcome<CanonicalizedFile>>;
  evolve: OperatorFunction<EvolutionRequest, Outcome<EvolutionResult>>;
  sample: OperatorFunction<TaskRequest, Outcome<SynthesisTask>>;
  generate: OperatorFunction<SynthesisTask, Outcome<GeneratedSample>>;
}

export type StageName = keyof Stages;

export const STAGE_NAMES: readonly StageName[] = ['filter', 'nearDuplicates', 'extract', 'canonicalize', 'evolve', 'sample', 'generate'];

/** Observers for counters and pacing; they see records, they never change them. */
export interface TopologyHooks {
  canonicalized?(file: CanonicalizedFile): void;
  /** Every file has been canonicalized (or rejected before): the corpus is in the tree. */
  canonicalizeDone?(): void;
  evolved?(result: EvolutionResult): void;
}

/** Runs `stage` over `input`, sends its rejections to the dead letters, returns its values. */
function stage<I, O>(transport: Transport, input: Observable<I>, operator: OperatorFunction<I, Outcome<O>>): Observable<O> {
  const { values, rejections } = splitOutcomes(input.pipe(operator));
  transport.produce(TOPICS.deadLetters, rejections);
  return values;
}

/** Wires the chosen stages (all by default) onto the transport. */
export function wireTopology(
  transport: Transport,
  stages: Stages,
  hooks: TopologyHooks = {},
  only: readonly StageName[] = STAGE_NAMES,
): void {
  const runs = (name: StageName) => only.includes(name);

  if (runs('filter') || runs('nearDuplicates')) {
    const files = transport.consume(TOPICS.files, 'treesynth-filter');
    const unique = stage(transport, files, stages.filter);
    transport.produce(TOPICS.accepted, stage(transport, unique, stages.nearDuplicates));
  }

  if (runs('extract')) {
    const accepted = transport.consume(TOPICS.accepted, 'treesynth-extract');
    transport.produce(TOPICS.features, stage(transport, accepted, stages.extract));
  }

  if (runs('canonicalize')) {
    const features = transport.consume(TOPICS.features, 'treesynth-canonicalize');
    const canonical = stage(transport, features, stages.canonicalize).pipe(
      tap({ next: (c) => hooks.canonicalized?.(c), complete: () => hooks.canonicalizeDone?.() }),
    );
    transport.produce(TOPICS.treeChanges, canonical.pipe(mergeMap((c) => c.changes)));
  }

  if (runs('evolve')) {
    const requests = transport.consume(TOPICS.evolutionRequests, 'treesynth-evolve');
    const evolved = stage(transport, requests, stages.evolve).pipe(tap((e) => hooks.evolved?.(e)));
    transport.produce(TOPICS.treeChanges, evolved.pipe(mergeMap((e) => e.changes)));
  }

  if (runs('sample')) {
    const requests = transport.consume(TOPICS.taskRequests, 'treesynth-sample');
    transport.produce(TOPICS.tasks, stage(transport, requests, stages.sample));
  }

  if (runs('generate')) {
    const tasks = transport.consume(TOPICS.tasks, 'treesynth-generate');
    transport.produce(TOPICS.samples, stage(transport, tasks, stages.generate));
  }
}
