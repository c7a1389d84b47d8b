// The `treesynth` command.
import { stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { createCodeEmbedder, createLabelEmbedder } from '../embeddings/index.js';
import type { Embedder } from '../embeddings/embedder.js';
import { DEFAULT_LEVEL_MIX, DEFAULT_LEVELS } from '../processors/sample-subtrees.js';
import { LANGUAGES } from '../schemas/languages.js';
import { runLocal, type RunSummary, type TreeKeyMode } from '../topology/run-local.js';
import { breadth, bytes, choice, decimal, featurePath, integer, levelMix, upweight } from './options.js';
import { createProgress } from './progress.js';
import { renderTree } from './render-tree.js';
import { countInput } from './count-input.js';
import type { LevelShape, Upweight } from '../processors/sample-subtrees.js';
import type { TaskLevel } from '../schemas/contract.js';
import { readFile } from 'node:fs/promises';
import type { NestedNode } from '../stores/tree-store.js';

/** An error the user can fix: printed as one line, exit code 2. */
export class UsageError extends Error {}

interface RunOptions {
  input: string;
  out: string;
  gitRef?: string;
  seed: number;
  tasks: number;
  maxFiles?: number;
  maxBytes: number;
  similarity: number;
  nearDuplicateRadius: number;
  temperature: number;
  topN: number;
  coverageBoost: number;
  breadthFunction: number[];
  breadthFile: number[];
  breadthMultiFile: number[];
  levels: Record<TaskLevel, number>;
  targetLanguage: string;
  treeKey: TreeKeyMode;
  upweight?: Upweight[];
  require?: string[][];
  embeddings: 'lexical' | 'openai';
  embeddingModel?: string;
  embeddingsUrl?: string;
  window: number;
  quiet: boolean;
}

function embedders(options: RunOptions): { labels: Embedder; files: Embedder } {
  if (options.embeddings === 'lexical') return { labels: createLabelEmbedder({ kind: 'lexical' }), files: createCodeEmbedder({ kind: 'lexical' }) };
  if (!options.embeddingModel) throw new UsageError('--embeddings openai needs --embedding-model (e.g. text-embedding-3-small)');
  const remote = { kind: 'openai' as const, model: options.embeddingModel, ...(options.embeddingsUrl ? { baseURL: options.embeddingsUrl } : {}) };
  // Whole files are embedded lexically even then: near-duplicate checks need no model.
  return { labels: createLabelEmbedder(remote), files: createCodeEmbedder({ kind: 'lexical' }) };
}

async function run(options: RunOptions): Promise<RunSummary> {
  const input = resolve(options.input);
  const info = await stat(input).catch(() => null);
  if (!info) throw new UsageError(`input not found: ${options.input}`);
  if (options.gitRef && !info.isDirectory()) throw new UsageError(`--git-ref needs a git work tree as --input, not a file: ${options.input}`);
  const outInfo = await stat(options.out).catch(() => null);
  if (outInfo && !outInfo.isDirectory()) throw new UsageError(`--out is a file, not a directory: ${options.out}`);

  const levels: Record<TaskLevel, LevelShape> = {
    function: { ...DEFAULT_LEVELS.function, breadth: options.breadthFunction },
    file: { ...DEFAULT_LEVELS.file, breadth: options.breadthFile },
    multi_file: { ...DEFAULT_LEVELS.multi_file, breadth: options.breadthMultiFile },
  };
  const { labels, files } = embedders(options);
  const tty = Boolean(process.stderr.isTTY) && !process.env['CI'];
  const total = tty ? await countInput(input, info.isDirectory() && !options.gitRef, options.maxFiles) : null;
  const progress = createProgress({ total: total?.total ?? null, unit: total?.unit ?? 'files', tty, quiet: options.quiet });
  try {
    return await runLocal({
      input, out: options.out, gitRef: options.gitRef, seed: options.seed, tasks: options.tasks, maxFiles: options.maxFiles,
      maxBytes: options.maxBytes, similarity: options.similarity, nearDuplicateRadius: options.nearDuplicateRadius,
      temperature: options.temperature, topN: options.topN, coverageBoost: options.coverageBoost, levels,
      levelMix: options.levels, targetLanguage: options.targetLanguage, treeKey: options.treeKey,
      upweights: options.upweight, required: options.require, window: options.window,
      labelEmbedder: labels, codeEmbedder: files, onProgress: (p) => progress.update(p),
    });
  } finally {
    progress.stop();
  }
}

export function buildProgram(): Command {
  const program = new Command('treesynth')
    .description('Turns real source code into a feature tree and synthesis tasks for instruction-tuning data (EpiCoder method).')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('run')
    .description('Run the pipeline locally: a directory, git tree or JSONL corpus in, tree.json, tasks.jsonl, rejected.jsonl and summary.json out.')
    .requiredOption('-i, --input <path>', 'a directory of source code, a git work tree (with --git-ref), or a JSONL corpus (one {"path","content","language"} per line, .jsonl or .jsonl.gz)')
    .requiredOption('-o, --out <dir>', 'output directory (created if missing)')
    .option('--git-ref <ref>', 'read the files of this commit or branch of the git repository at --input instead of its work tree')
    .option('--seed <n>', 'random seed: the same seed and corpus give the same tasks', integer(0, 2 ** 32 - 1), 42)
    .option('--tasks <n>', 'synthesis tasks to sample from the tree', integer(0), 100)
    .option('--max-files <n>', 'stop after reading this many files', integer(1))
    .option('--max-bytes <size>', 'reject files larger than this', bytes, 1024 * 1024)
    .option('--similarity <x>', 'cosine similarity at which a label merges into an existing sibling', decimal(0, 1, true), 0.85)
    .option('--near-duplicate-radius <x>', 'cosine distance within which a file is a near-duplicate of an accepted one (0 turns the check off)', decimal(0, 1), 0.05)
    .option('--temperature <x>', 'sampling temperature T: p ∝ exp(log(f)/T); 1 follows the data, larger is more uniform', decimal(0, Infinity, true), 1)
    .option('--top-n <n>', 'children of a node that sampling considers (the most frequent)', integer(1), 50)
    .option('--coverage-boost <x>', 'up-weighting of nodes sampled less than their share (0 turns it off)', decimal(0, 1000), 1)
    .option('--breadth-function <k,...>', 'children drawn per depth for function-level tasks', breadth, DEFAULT_LEVELS.function.breadth)
    .option('--breadth-file <k,...>', 'children drawn per depth for file-level tasks', breadth, DEFAULT_LEVELS.file.breadth)
    .option('--breadth-multi-file <k,...>', 'children drawn per depth for multi-file tasks', breadth, DEFAULT_LEVELS.multi_file.breadth)
    .option('--levels <mix>', 'task level mix, e.g. function=0.6,file=0.3,multi_file=0.1', levelMix, { ...DEFAULT_LEVEL_MIX })
    .addOption(new Option('--target-language <lang>', 'language the tasks ask for').choices([...LANGUAGES]).default('python'))
    .addOption(new Option('--tree-key <mode>', 'one tree for the corpus, or one per language').argParser(choice(['all', 'language'] as const)).default('all'))
    .option('--upweight <path=factor>', 'sample a feature more often, e.g. "error handling=3" (repeatable)', upweight)
    .option('--require <path>', 'a feature every task must use, e.g. "logging" (repeatable)', featurePath)
    .addOption(new Option('--embeddings <kind>', 'label embeddings: offline lexical, or an OpenAI-compatible endpoint').argParser(choice(['lexical', 'openai'] as const)).default('lexical'))
    .option('--embedding-model <name>', 'embedding model for --embeddings openai')
    .option('--embeddings-url <url>', 'base URL of the embeddings endpoint (default: OPENAI_BASE_URL)')
    .option('--window <n>', 'files in flight at once; bounds memory', integer(1, 100_000), 64)
    .option('-q, --quiet', 'no progress output', false)
    .action(async (options: RunOptions) => {
      const summary = await run(options);
      const treeText = renderTree(JSON.parse(await readFile(join(options.out, 'tree.json'), 'utf8')) as NestedNode, { width: 8, depth: 2 });
      await writeFile(join(options.out, 'tree.txt'), treeText);
      if (!options.quiet) {
        process.stdout.write(
          `${summary.files.read} files read: ${summary.files.accepted} accepted, ${summary.files.rejected} rejected` +
            ` (${summary.exactDuplicates} duplicates, ${summary.nearDuplicates} near-duplicates); ${summary.nodes} tree nodes` +
            ` from ${summary.labels.seen} labels (${summary.labels.merged} merged by similarity); ${summary.tasks.written} tasks.\n` +
            `Wrote ${['tree.json', 'tree.txt', 'tasks.jsonl', 'rejected.jsonl', 'summary.json', 'tree.changelog.jsonl'].map((f) => join(options.out, f)).join(', ')}\n`,
        );
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its one-line message already.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`treesynth: ${error.message}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`treesynth: ${message.split('\n')[0]}\n`);
    if (process.env['TREESYNTH_DEBUG']) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
    return 1;
  }
}
