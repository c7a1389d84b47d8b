// Generated samples in the formats fine-tuning tools read: chat messages
// (`{"messages": [{role, content}]}`, as OpenAI fine-tuning, TRL and axolotl take them) and
// instruction/output (Alpaca style). The prompt is the instruction; the answer is the
// analysis and the solution files, each in a fenced block under its path.
import type { GeneratedSample } from '../schemas/contract.js';

export const TRAINING_FORMATS = ['chat', 'instruction'] as const;
export type TrainingFormat = (typeof TRAINING_FORMATS)[number];

export interface FormatOptions {
  /** Also put the test files in the answer. */
  includeTests: boolean;
  /** A system message for the chat format; none when empty. */
  system?: string;
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
  if (format === 'instruction') return { instruction: sample.instruction, input: '', output: answer, id: sample.sampleId };
  const messages = [
    ...(options.system ? [{ role: 'system', content: options.system }] : []),
    { role: 'user', content: sample.instruction },
    { role: 'assistant', content: answer },
  ];
  return { messages, id: sample.sampleId };
}
