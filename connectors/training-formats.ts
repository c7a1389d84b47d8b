// Generated samples in the formats fine-tuning tools read: chat messages
// (`{"messages": [{role, content}]}`, as OpenAI fine-tuning, TRL and axolotl take them) and
// instruction/output (Alpaca style). The prompt is the instruction; the answer is the
// analysis and the solution files, each in a fenced block under its path. Each record also
// carries the sample's lineage (source files, tree node ids, model and prompt versions) under
// `lineage`, unless asked not to: fine-tuning tools read only the fields they know.
import type { GeneratedSample } from '../schemas/contract.js';

export const TRAINING_FORMATS = ['chat', 'instruction'] as const;
export type TrainingFormat = (typeof TRAINING_FORMATS)[number];

export interface FormatOptions {
  /** Also put the test files in the answer. */
  includeTests: boolean;
  /** A system message for the chat format; none when empty. */
  system?: string;
  /** Put the sample's lineage beside the training fields (default true). */
  lineage?: boolean;
}

/** Where a sample came from, as an exported record carries it. */
export interface ExportedLineage {
  treeKey: string;
  features: Array<{ nodeId: string; path: string[] }>;
  /** Source files behind the features: path, content hash, repository and licence where known, the node ids each fed. */
  sources: Array<{ fileId: string; path: string; repository: string | null; license: string | null; nodeIds: string[] }>;
  treeSeq: number | null;
  steps: Array<{ step: string; model: string; promptVersion: string }>;
}

export function exportedLineage(sample: GeneratedSample): ExportedLineage {
  return {
    treeKey: sample.treeKey,
    features: sample.features.map((f) => ({ nodeId: f.nodeId, path: [...f.path] })),
    sources: (sample.lineage?.sources ?? []).map((s) => ({ fileId: s.fileId, path: s.path, repository: s.repository, license: s.license, nodeIds: [...s.nodeIds] })),
    treeSeq: sample.lineage?.treeSeq ?? null,
    steps: (sample.lineage?.steps ?? []).map((s) => ({ step: s.step, model: s.model, promptVersion: s.promptVersion })),
  };
}

const FENCE: Record<string, string> = { python: 'python', javascript: 'javascript', typescript: 'typescript', tsx: 'tsx', java: 'java', go: 'go' };

export function answerText(sample: GeneratedSample, options: FormatOptions): string {
  const files = sample.files.filter((f) => f.role === 'solution' || options.includeTests);
  const fence = FENCE[sample.language] ?? '';
  const blocks = files.map((f) => `\`${f.path}\`\n\`\`\`${fence}\n${f.content.replace(/\n$/, '')}\n\`\`\``);
  return [sample.analysis.trim(), ...blocks].filter(Boolean).join('\n\n');
}

export function toTrainingRecord(sample: GeneratedSample, format: TrainingFormat, options: FormatOptions): Record<string, unknown> {
  const answer = answerText(sample, options);
  const lineage = options.lineage === false ? {} : { lineage: exportedLineage(sample) };
  if (format === 'instruction') return { instruction: sample.instruction, input: '', output: answer, id: sample.sampleId, ...lineage };
  const messages = [
    ...(options.system ? [{ role: 'system', content: options.system }] : []),
    { role: 'user', content: sample.instruction },
    { role: 'assistant', content: answer },
  ];
  return { messages, id: sample.sampleId, ...lineage };
}
