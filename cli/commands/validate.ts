// `treesynth validate`: the validate stage alone over samples in treesynth's own format (from
// an earlier run, or edited by hand): passing samples to samples.jsonl, the rest to
// rejected.jsonl with reasons, figures to validation.json. Bad lines are dead letters too.
import { DEFAULT_TIMEOUT_MS } from '../../llm/config.js';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { Subject, concatMap } from 'rxjs';
import type { Command } from 'commander';
import { JsonlSink } from '../../connectors/jsonl-sink.js';
import type { StructuredModel } from '../../llm/model.js';
import { rejection } from '../../schemas/outcome.js';
import { VALIDATE_STAGE, createValidateConfig, validateSamples } from '../../processors/validate.js';
import { DEFAULT_MIN_MUTATION_SCORE, DEFAULT_MUTATION } from '../../quality/mutation.js';
import { ValidationTally, type ValidationSummary } from '../../quality/validation-tally.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { loadContracts, SchemaViolation, type GeneratedSample, type Rejection } from '../../schemas/contract.js';
import { UsageError } from '../errors.js';
import { openLlm } from '../llm-setup.js';
import { bytes, decimal, integer } from '../options.js';

export interface ValidateCommandOptions {
  out: string;
  turns: number;
  timeout: number;
  memory: number;
  processes: number;
  outputLimit: number;
  concurrency: number;
  python?: string;
  /** Mutants per passing sample (0: no mutation testing). */
  mutants: number;
  minMutationScore: number;
  llmBaseUrl?: string;
  model?: string;
  llmTimeout: number;
  llmRetries: number;
  maxRequests?: number;
  maxTokens?: number;
  cache: string | false;
  quiet: boolean;
}

export interface ValidateReport extends ValidationSummary {
  input: string;
  sandbox: string;
  settings: { turns: number; timeoutMs: number; memoryMb: number; maxProcesses: number; outputBytes: number; concurrency: number; mutants: number; minMutationScore: number };
  /** The debugging model, or null when no endpoint was configured. */
  model: string | null;
  elapsedMs: number;
}

interface ModelSetup {
  model: StructuredModel | null;
  name: string | null;
  close(): Promise<void>;
}

async function setupModel(options: ValidateCommandOptions, warn: (line: string) => void): Promise<ModelSetup> {
  const none: ModelSetup = { model: null, name: null, close: async () => {} };
  if (options.turns === 0) return none;
  const opened = await openLlm(options, [VALIDATE_STAGE]);
  if (!opened) {
    warn('no LLM endpoint configured (--llm-base-url and --model, or OPENAI_BASE_URL and TREESYNTH_MODEL): samples are judged as they are, without debugging turns');
    return none;
  }
  const client = opened.clients[VALIDATE_STAGE]!;
  return { model: client, name: client.config.model, close: opened.close };
}

async function* lines(path: string): AsyncGenerator<string> {
  const stream = createReadStream(path);
  const input = path.endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
  yield* createInterface({ input, crlfDelay: Infinity });
}

export async function validateFile(input: string, options: ValidateCommandOptions, warn: (line: string) => void): Promise<ValidateReport> {
  const started = performance.now();
  const info = await stat(input).catch(() => null);
  if (!info) throw new UsageError(`input not found: ${input}`);
  if (!info.isFile()) throw new UsageError(`input is not a file: ${input}`);
  const outInfo = await stat(options.out).catch(() => null);
  if (outInfo && !outInfo.isDirectory()) throw new UsageError(`--out is a file, not a directory: ${options.out}`);

  // The sandbox first: if bubblewrap cannot run here nothing is read and nothing is paid for.
  const config = await createValidateConfig({
    timeoutMs: options.timeout, memoryMb: options.memory, maxProcesses: options.processes, outputBytes: options.outputLimit,
    turns: options.turns, concurrency: options.concurrency, ...(options.python ? { python: options.python } : {}),
    mutants: options.mutants, minMutationScore: options.minMutationScore,
  });
  // Where this machine gives a weaker sandbox than the defaults promise, the user hears it first.
  for (const line of config.warnings ?? []) warn(line);
  const llm = await setupModel(options, warn);
  config.model = llm.model;
  await mkdir(options.out, { recursive: true });
  const samples = new JsonlSink<GeneratedSample>(join(options.out, 'samples.jsonl'), { mode: 'overwrite' });
  const rejected = new JsonlSink<Rejection>(join(options.out, 'rejected.jsonl'), { mode: 'overwrite' });
  const tally = new ValidationTally();
  const contract = loadContracts().GeneratedSample;

  try {
    // Samples are pushed one at a time and at most `window` are in flight, so a large file
    // streams through in bounded memory.
    const window = Math.max(1, config.concurrency);
    const queue = new Subject<GeneratedSample>();
    let inFlight = 0;
    let wake: (() => void) | undefined;
    const finished = new Promise<void>((resolveDone, rejectDone) => {
      queue
        .pipe(
          validateSamples(config),
          concatMap(async (outcome) => {
            tally.add(outcome);
            if (outcome.ok) await samples.write(outcome.value);
            else await rejected.write(outcome.rejection);
          }),
        )
        .subscribe({
          next: () => {
            inFlight--;
            wake?.();
          },
          error: rejectDone,
          complete: resolveDone,
        });
    });
    // A failing stage (e.g. an unreachable endpoint) must not leave the reader waiting.
    let failure: unknown;
    finished.catch((error: unknown) => {
      failure = error;
      wake?.();
    });

    let lineNo = 0;
    for await (const line of lines(input)) {
      lineNo++;
      if (failure) break;
      if (line.trim() === '') continue;
      const bad = (reason: string, detail: string): Promise<void> => {
        tally.addInvalid(reason);
        return rejected.write(rejection({ stage: VALIDATE_STAGE, reason, detail: `line ${lineNo}: ${detail}`, source: input, position: lineNo, record: line }));
      };
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        await bad('invalid-json', 'not valid JSON');
        continue;
      }
      let sample: GeneratedSample;
      try {
        // Clone fills fields added to the schema since the file was written with their defaults.
        sample = contract.type.clone(contract.check(value)) as GeneratedSample;
      } catch (error) {
        await bad('invalid-record', error instanceof SchemaViolation ? error.message : 'not a GeneratedSample');
        continue;
      }
      while (inFlight >= window && !failure) await new Promise<void>((r) => (wake = r));
      if (failure) break;
      inFlight++;
      queue.next(sample);
    }
    queue.complete();
    await finished;
  } finally {
    await Promise.allSettled([samples.close(), rejected.close(), llm.close()]);
  }

  const report: ValidateReport = {
    input,
    sandbox: config.runner instanceof Sandbox ? config.runner.describe() : 'custom runner',
    settings: {
      turns: llm.model ? options.turns : 0, timeoutMs: options.timeout, memoryMb: options.memory, maxProcesses: options.processes, outputBytes: options.outputLimit,
      concurrency: config.runner instanceof Sandbox ? config.runner.concurrency : options.concurrency, mutants: options.mutants, minMutationScore: options.minMutationScore,
    },
    model: llm.name,
    ...tally.summary(),
    elapsedMs: Math.round(performance.now() - started),
  };
  await writeFile(join(options.out, 'validation.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('Run the tests of generated samples in a sandbox (no network, read-only host, limits), with debugging turns when a model is configured: passing samples to <out>/samples.jsonl, the rest to <out>/rejected.jsonl, figures to <out>/validation.json.')
    .argument('<samples>', 'samples.jsonl (or .jsonl.gz) written by `treesynth run`, or by hand in the same format')
    .requiredOption('-o, --out <dir>', 'output directory (created if missing)')
    .option('--turns <n>', 'debugging turns for a failing sample (needs a model)', integer(0, 20), 2)
    .option('--timeout <ms>', 'wall time limit of one test run', integer(100, 3_600_000), 10_000)
    .option('--memory <MB>', 'memory limit per process of a test run', integer(64, 1_048_576), 512)
    .option('--processes <n>', 'processes and threads a test run may have', integer(8, 100_000), 64)
    .option('--output-limit <size>', 'output a test run may print before it is stopped', bytes, 1024 * 1024)
    .option('--concurrency <n>', 'test runs at once (default: the number of cores)', integer(1, 256))
    .option('--python <cmd>', 'Python interpreter for Python samples', 'python3')
    .option('--mutants <n>', 'mutants of each passing solution run against its tests (0: no mutation testing)', integer(0, 50), DEFAULT_MUTATION.maxMutants)
    .option('--min-mutation-score <x>', 'reject samples whose tests catch a smaller share of the mutants (0: record the score only)', decimal(0, 1), DEFAULT_MIN_MUTATION_SCORE)
    .option('--llm-base-url <url>', 'OpenAI-compatible endpoint for debugging turns (default: OPENAI_BASE_URL; the key is read from OPENAI_API_KEY)')
    .option('--model <name>', 'model for debugging turns (default: TREESYNTH_VALIDATE_MODEL, else TREESYNTH_MODEL)')
    .option('--llm-timeout <ms>', 'deadline of one LLM request, headers and body; retried like any timeout (at most twice)', integer(1000), DEFAULT_TIMEOUT_MS)
    .option('--llm-retries <n>', 'retries of one LLM request on 429, 5xx, timeouts and connection errors', integer(0, 20), 5)
    .option('--max-requests <n>', 'stop debugging after this many LLM requests', integer(1))
    .option('--max-tokens <n>', 'stop debugging after this many LLM tokens in all', integer(1))
    .option('--cache <file>', 'LLM response cache', '.treesynth/cache/llm-responses.jsonl')
    .option('--no-cache', 'do not read or write the LLM response cache')
    .option('-q, --quiet', 'no summary on stdout', false)
    .action(async (input: string, raw: Omit<ValidateCommandOptions, 'concurrency'> & { concurrency?: number }) => {
      const options: ValidateCommandOptions = { ...raw, concurrency: raw.concurrency ?? availableParallelism() };
      const warn = (line: string): void => {
        if (!options.quiet) process.stderr.write(`treesynth: ${line}\n`);
      };
      const report = await validateFile(input, options, warn);
      if (!options.quiet) {
        const reasons = Object.entries(report.byReason).filter(([r]) => r !== 'passed').map(([r, n]) => `${n} ${r}`).join(', ');
        const pct = report.passRate === null ? '' : ` (${(report.passRate * 100).toFixed(1)} %)`;
        const m = report.mutation.overall;
        const adequacy = m.count > 0 ? `; mutation score ${m.mean!.toFixed(2)} mean, ${m.median!.toFixed(2)} median over ${m.count} samples` : '';
        process.stdout.write(
          `${report.total} read: ${report.passed} passed${pct}, ${report.rejected} rejected${reasons ? ` (${reasons})` : ''}${adequacy}` +
            `${report.model ? `; ${report.debugTokens.promptTokens + report.debugTokens.completionTokens} tokens on debugging turns` : ''}.\n` +
            `Wrote ${['samples.jsonl', 'rejected.jsonl', 'validation.json'].map((f) => join(options.out, f)).join(', ')}\n`,
        );
      }
    });
}
