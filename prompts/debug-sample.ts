// Debugging turn: a sample whose tests failed in the sandbox goes back to the model with the
// error output; the model answers the whole corrected sample in the generation shape.
import type { LlmMessage } from '../llm/structured.js';
import type { GeneratedSample } from '../schemas/contract.js';
import type { PackageAllowList } from '../sandbox/packages.js';
import { GENERATE_SCHEMA, packagesInstruction, type GenerateAnswer } from './generate-sample.js';

// v2: the answer lists its packages (the sandbox's allow-list is in the prompt).
export const DEBUG_PROMPT_VERSION = 'debug-v2';

/** The generation answer's shape under its own name, so logs and fake servers can tell the prompts apart. */
export const DEBUG_SCHEMA = { name: 'code_sample_fix', jsonSchema: GENERATE_SCHEMA.jsonSchema };

export type DebugAnswer = GenerateAnswer;

export interface DebugContext {
  /** The files that failed (the sample's, or the previous turn's). */
  files: GeneratedSample['files'];
  /** The packages they declared. */
  packages: readonly string[];
  /** What the sandbox has installed for samples. */
  allowList: PackageAllowList;
  instruction: string;
  reason: string;
  detail: string;
  /** The end of the failing run's output. */
  output: string;
  /** The command that ran the tests, as the sandbox shows it. */
  command: string;
  turn: number;
  maxTurns: number;
}

const RUNNERS: Record<string, string> = {
  python: 'python3 (pytest when the tests use it, otherwise the test file as a script)',
  javascript: "node --test (node:test and node:assert); Node's built-in modules only",
  typescript: "node --test after transpiling each .ts file to CommonJS .js (no type checking); Node's built-in modules only",
};

/**
 * Output with run-to-run noise (timings) masked, so the same failure asks the same question:
 * a replayed run hits the response cache instead of paying again.
 */
export function stableOutput(output: string, maxChars: number): string {
  const masked = output
    .replace(/\b\d+(?:\.\d+)?\s?ms\b/g, '…ms')
    .replace(/\bin \d+(?:\.\d+)?s\b/g, 'in …s')
    .replace(/(duration_ms:?\s*)\d+(?:\.\d+)?/g, '$1…')
    .replace(/\bpid \d+\b/g, 'pid …');
  return masked.length > maxChars ? `…${masked.slice(masked.length - maxChars)}` : masked;
}

const fence = (text: string): string => {
  const ticks = /`{3,}/.test(text) ? '~~~~' : '```';
  return `${ticks}\n${text.endsWith('\n') ? text : `${text}\n`}${ticks}`;
};

export function debugMessages(sample: Pick<GeneratedSample, 'language' | 'level'>, context: DebugContext, outputChars = 4_000): LlmMessage[] {
  const files = context.files.map((f) => `--- ${f.path} (${f.role})\n${fence(f.content)}`).join('\n\n');
  return [
    {
      role: 'system',
      content: [
        `You fix ${sample.language} programming exercises whose tests fail in a sandbox.`,
        `The sandbox runs the tests with ${RUNNERS[sample.language] ?? 'the standard toolchain'}.`,
        'It has no network, installs nothing, lets code write only inside its own working directory',
        '(and /tmp), and limits time, memory, processes and output.',
        packagesInstruction(sample.language, context.allowList),
        'Answer the complete corrected sample: the instruction (the same task; change it only where it',
        'was itself wrong), the analysis, and every file (solutions and tests) in full, with the same',
        'paths unless a path was the problem, and the packages the files import. Fix the solution, or a test that contradicts the',
        'instruction; never weaken the tests until they pass trivially.',
      ].join('\n'),
    },
    {
      role: 'user',
      content: [
        `Instruction:\n${context.instruction}`,
        `Files:\n${files}`,
        `Packages: ${context.packages.length > 0 ? context.packages.join(', ') : '(none)'}`,
        `Command: ${context.command || '(none)'}`,
        `The run ended with ${context.reason}: ${context.detail}`,
        `End of its output:\n${fence(stableOutput(context.output, outputChars) || '(no output)')}`,
        `Debugging turn ${context.turn} of ${context.maxTurns}.`,
      ].join('\n\n'),
    },
  ];
}
