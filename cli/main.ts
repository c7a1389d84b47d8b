// The `treesynth` command: one file per command in cli/commands/, registered here.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { LlmError } from '../llm/index.js';
import { registerDecontaminateCommand } from './commands/decontaminate.js';
import { registerExportCommand } from './commands/export.js';
import { registerIngestCommand } from './commands/ingest.js';
import { registerLagCommand } from './commands/lag.js';
import { registerReportCommand } from './commands/report.js';
import { registerRequestEvolutionCommand } from './commands/request-evolution.js';
import { registerRequestTasksCommand } from './commands/request-tasks.js';
import { registerRunCommand } from './commands/run.js';
import { registerServeModelCommand } from './commands/serve-model.js';
import { registerValidateCommand } from './commands/validate.js';
import { UsageError } from './errors.js';

export { UsageError };

/** The package's version, from the package.json next to the built CLI's sources. */
function version(): string {
  for (const path of ['../../package.json', '../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // dist/cli/main.js sits two levels below package.json; cli/main.ts (under vitest) one.
    }
  }
  return 'unknown';
}

export function buildProgram(): Command {
  const program = new Command('treesynth')
    .description('Turns real source code into a feature tree and synthesis tasks for instruction-tuning data (EpiCoder method).')
    .version(version(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRunCommand(program);
  registerIngestCommand(program);
  registerRequestTasksCommand(program);
  registerRequestEvolutionCommand(program);
  registerExportCommand(program);
  registerValidateCommand(program);
  registerReportCommand(program);
  registerDecontaminateCommand(program);
  registerLagCommand(program);
  registerServeModelCommand(program);
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
    if (error instanceof UsageError || error instanceof LlmError) {
      process.stderr.write(`treesynth: ${error.message}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`treesynth: ${message.split('\n')[0]}\n`);
    if (process.env['TREESYNTH_DEBUG']) process.stderr.write(`${error instanceof Error ? error.stack : ''}\n`);
    return 1;
  }
}
