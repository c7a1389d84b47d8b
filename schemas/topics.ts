// The topics of the flow: which record each carries, how it is keyed, how it is kept. Local
// mode names the same topics in memory, so both modes share one contract.
import type { RecordName, Records } from './contract.js';

export interface TopicSpec<N extends RecordName> {
  /** Name without the deployment prefix. */
  readonly name: string;
  readonly record: N;
  /** Kafka key: chosen for ordering and compaction. */
  readonly key: (record: Records[N]) => string;
  readonly cleanupPolicy: 'delete' | 'compact';
}

const topic = <N extends RecordName>(spec: TopicSpec<N>): TopicSpec<N> => spec;

export const TOPICS = {
  /**
   * Raw files from sources; keyed by path so a file's versions stay in order. Compacted: one
   * live record per path, a deleted file is a tombstone (null value) under its path.
   */
  files: topic({ name: 'code.files', record: 'SourceFile', key: (r) => r.path, cleanupPolicy: 'compact' }),
  /** The filter's changelog: the content each live path holds; a tombstone when a path goes. */
  paths: topic({ name: 'filter.paths', record: 'PathEntry', key: (r) => r.path, cleanupPolicy: 'compact' }),
  /** The filter's changelog of the files it suppressed as near-duplicates, to filter again when what they duplicated goes; a tombstone when a path goes, changes or is admitted. */
  suppressed: topic({ name: 'filter.suppressed', record: 'SuppressedFile', key: (r) => r.path, cleanupPolicy: 'compact' }),
  /** Files past filter, dedup and seed diversity; keyed by content hash. A tombstone retracts content no live path holds any more. */
  accepted: topic({ name: 'code.accepted', record: 'CodeFile', key: (r) => r.id, cleanupPolicy: 'delete' }),
  /** Keyed by content hash, as code.accepted: a tombstone there becomes one here, in order. */
  features: topic({ name: 'features', record: 'FeatureSet', key: (r) => r.fileId, cleanupPolicy: 'delete' }),
  /** The tree changelog: compacted, so the latest state of every node survives. */
  treeChanges: topic({ name: 'tree.nodes', record: 'TreeNodeChange', key: (r) => `${r.treeKey}/${r.nodeId}`, cleanupPolicy: 'compact' }),
  /** The tree writer's record of what each file added, so retracting it subtracts exactly that. */
  contributions: topic({ name: 'tree.contributions', record: 'Contribution', key: (r) => `${r.treeKey}/${r.fileId}`, cleanupPolicy: 'compact' }),
  /** Lineage: the few files behind each node (NodeSources), written with the tree changes; the sample stage reads it. */
  sources: topic({ name: 'tree.sources', record: 'NodeSources', key: (r) => `${r.treeKey}/${r.nodeId}`, cleanupPolicy: 'compact' }),
  evolutionRequests: topic({ name: 'tree.evolve', record: 'EvolutionRequest', key: (r) => r.treeKey, cleanupPolicy: 'delete' }),
  taskRequests: topic({ name: 'tasks.requests', record: 'TaskRequest', key: (r) => r.treeKey, cleanupPolicy: 'delete' }),
  tasks: topic({ name: 'tasks', record: 'SynthesisTask', key: (r) => r.taskId, cleanupPolicy: 'delete' }),
  /** Samples as the model wrote them, before decontamination and the sandbox. */
  generated: topic({ name: 'samples.generated', record: 'GeneratedSample', key: (r) => r.sampleId, cleanupPolicy: 'delete' }),
  /** Samples that passed: what downstream training consumes. */
  samples: topic({ name: 'samples', record: 'GeneratedSample', key: (r) => r.sampleId, cleanupPolicy: 'delete' }),
  /** A student model's answers to validated tasks: the weak-area counts the sampler up-weights by. Keyed by tree, in order. */
  studentAttempts: topic({ name: 'student.attempts', record: 'StudentAttempt', key: (r) => r.treeKey, cleanupPolicy: 'delete' }),
  deadLetters: topic({ name: 'dead.letters', record: 'Rejection', key: (r) => r.recordId ?? r.path ?? r.stage, cleanupPolicy: 'delete' }),
} as const;

export type TopicName = keyof typeof TOPICS;
