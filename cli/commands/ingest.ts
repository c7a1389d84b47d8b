// `treesynth ingest`: a directory, git tree or JSONL corpus into the code.files topic
// (topology/ingest.ts); unchanged files are not sent again; --watch keeps sending until ^C.
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { IngestOptions, KafkaTarget } from '../../topology/ingest.js';
import { UsageError } from '../errors.js';
import { addKafkaOptions, brokersOf, registryOf, topicSettings, type KafkaCommandOptions } from '../kafka-options.js';
import { integer } from '../options.js';

/** The ingest flags: where to (the Kafka options) and what and how (ingest's own). */
type IngestCommandOptions = KafkaCommandOptions & Omit<IngestOptions, keyof KafkaTarget | 'signal'>;

export function registerIngestCommand(program: Command): void {
  addKafkaOptions(
    program
      .command('ingest')
      .description('Feed a directory, git tree or JSONL corpus into the code.files topic; unchanged files are not sent again. With --watch, keep sending new, changed and deleted (tombstone) files until ^C.')
      .argument('<input>', 'a directory of source code, a git work tree (with --git-ref), or a JSONL corpus (.jsonl, .jsonl.gz)'),
  )
    .option('--git-ref <ref>', 'send the files of this commit or branch instead of the work tree')
    .option('--watch', 'follow file-system events under the input: send new and changed files, and a tombstone for each deleted one, as they happen', false)
    .option('--interval <ms>', 'with --watch: also rescan the whole input at least this often (the safety net for missed events)', integer(100), 30_000)
    .option('--max-read-bytes <n>', 'files larger than this are not read (a too-large dead letter instead)', integer(1), 4 * 1024 * 1024)
    .option('--state <dir>', 'where ingest remembers the content hash sent for each path, per cluster (its id) and topic', '.treesynth/ingest')
    .option('--resend', 'send every file again, even unchanged ones', false)
    .action(async (input: string, options: IngestCommandOptions) => {
      const info = await stat(input).catch(() => null);
      if (!info) throw new UsageError(`input not found: ${input}`);
      if (options.gitRef && !info.isDirectory()) throw new UsageError(`--git-ref needs a git work tree, not a file: ${input}`);
      // Loaded here, not at start-up: the registry client alone costs seconds of CPU to load.
      const { ingest } = await import('../../topology/ingest.js');
      await ingest(input, { ...options, brokers: brokersOf(options.kafka), registryUrl: registryOf(options.registry), topics: topicSettings(options) });
      // A --watch stopped while the broker was out of reach may leave its client retrying: leave anyway.
      if (options.watch) setTimeout(() => process.exit(), 1_000).unref();
    });
}
