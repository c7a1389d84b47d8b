// `treesynth export`: samples into training formats.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { UsageError } from './errors.js';
import { JsonlSink } from '../connectors/jsonl-sink.js';
import { TRAINING_FORMATS, toTrainingRecord, type TrainingFormat } from '../connectors/training-formats.js';
import { loadContracts, SchemaViolation, type GeneratedSample } from '../schemas/contract.js';

export interface ExportCounts {
  read: number;
  written: number;
  skipped: number;
  invalid: number;
}

export interface ExportOptions {
  format: TrainingFormat;
  includeTests: boolean;
  system?: string;
  /** Only samples whose validation passed. */
  validatedOnly: boolean;
}

/** Exports samples from a samples.jsonl file; lines that are not samples are counted and reported, not fatal. */
export async function exportFile(input: string, out: string, options: ExportOptions, warn: (line: string) => void): Promise<ExportCounts> {
  const contract = loadContracts().GeneratedSample;
  const sink = new JsonlSink<Record<string, unknown>>(out, { mode: 'overwrite' });
  const counts: ExportCounts = { read: 0, written: 0, skipped: 0, invalid: 0 };
  const lines = createInterface({ input: createReadStream(input, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo += 1;
    if (line.trim() === '') continue;
    counts.read += 1;
    let sample: GeneratedSample;
    try {
      sample = contract.check(JSON.parse(line));
    } catch (error) {
      counts.invalid += 1;
      const why = error instanceof SchemaViolation ? error.message : 'not valid JSON';
      warn(`${input}:${lineNo}: skipped: ${why}`);
      continue;
    }
    if (options.validatedOnly && !sample.validation?.passed) {
      counts.skipped += 1;
      continue;
    }
    await sink.write(toTrainingRecord(sample, options.format, { includeTests: options.includeTests, ...(options.system ? { system: options.system } : {}) }));
    counts.written += 1;
  }
  await sink.close();
  return counts;
}

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('Write generated samples in a training format: chat messages or instruction/output.')
    .requiredOption('-i, --input <samples.jsonl>', 'samples written by `treesynth run` or `treesynth validate`')
    .requiredOption('-o, --out <file>', 'output JSONL file')
    .addOption(new Option('--format <format>', 'chat: {"messages":[{role,content}]}; instruction: {"instruction","input","output"}').choices([...TRAINING_FORMATS]).default('chat'))
    .option('--include-tests', 'put the test files in the answer too', false)
    .option('--system <text>', 'system message for the chat format')
    .option('--validated-only', 'only samples whose validation passed', false)
    .action(async (options: { input: string; out: string; format: TrainingFormat; includeTests: boolean; system?: string; validatedOnly: boolean }) => {
      const info = await stat(options.input).catch(() => null);
      if (!info?.isFile()) throw new UsageError(`input not found: ${options.input}`);
      const counts = await exportFile(options.input, options.out, options, (l) => process.stderr.write(`treesynth: ${l}\n`));
      process.stdout.write(`${counts.written} samples written to ${options.out} as ${options.format} (${counts.read} read, ${counts.skipped} not validated, ${counts.invalid} invalid)\n`);
    });
}
