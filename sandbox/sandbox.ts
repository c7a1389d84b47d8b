// The sandbox: stages a sample's files in a throwaway directory, checks their syntax, runs their
// tests under bubblewrap with limits, and says why it ended. One Sandbox per run; it bounds how
// many samples run at once and gives each concurrent run a uid of its own.
import { availableParallelism, tmpdir } from 'node:os';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type TypeScript from 'typescript';
import { bwrapArgs, findHostTools, resolveNode, resolvePython, type HostTools, type Runtime } from './bwrap.js';
import { classify, oneLine, type Verdict } from './classify.js';
import { PlanError, checkFiles, makePlan, sandboxLanguage, type RunPlan } from './plan.js';
import { runCaptured, type ProcessOutcome } from './process.js';
import { DEFAULT_LIMITS, SandboxUnavailableError, type SampleRunner, type SandboxFile, type SandboxLimits, type SandboxResult } from './types.js';

export interface SandboxOptions {
  limits?: Partial<SandboxLimits>;
  /** Samples running at once. Default: the number of cores. */
  concurrency?: number;
  /** Python on the host, by name or path. Default `python3`. */
  python?: string;
  /** Node on the host. Default: the Node running treesynth. */
  node?: string;
  /** Where throwaway directories are made. Default: the OS temp directory. */
  tmpDir?: string;
  /** Directories hidden from samples (replaced by empty tmpfs). Default /root and /home. */
  hide?: readonly string[];
  /** As root: the first uid samples run as; slot i runs as uidBase + i. */
  uidBase?: number;
}

/** A counting semaphore that hands out slot numbers, so each concurrent run has its own uid. */
class Slots {
  private readonly free: number[];
  private readonly waiting: Array<(slot: number) => void> = [];

  constructor(size: number) {
    this.free = Array.from({ length: size }, (_, i) => i);
  }

  acquire(): Promise<number> {
    const slot = this.free.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(slot: number): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }
}

type Ts = typeof TypeScript;

const MAX_SLOTS = 256;

export class Sandbox implements SampleRunner {
  readonly limits: SandboxLimits;
  readonly concurrency: number;
  private readonly slots: Slots;
  private readonly uidBase: number;
  private pythonRuntime: Promise<Runtime> | undefined;
  private nodeRuntime: Promise<Runtime> | undefined;
  private typescript: Promise<Ts | null> | undefined;

  private constructor(
    readonly tools: HostTools,
    private readonly hidden: readonly string[],
    private readonly options: SandboxOptions,
  ) {
    // CPU time a little above the wall time: a busy loop meets the wall clock first (a clear
    // "timeout"); the CPU limit still stops threads that burn several cores at once.
    this.limits = { ...DEFAULT_LIMITS, cpuSeconds: Math.ceil((options.limits?.wallMs ?? DEFAULT_LIMITS.wallMs) / 1000) + 1, ...options.limits };
    this.concurrency = Math.max(1, Math.min(MAX_SLOTS, options.concurrency ?? availableParallelism()));
    this.slots = new Slots(this.concurrency);
    // Unused uids far above real accounts; two treesynth processes on one host get different ones.
    this.uidBase = options.uidBase ?? 0x1000_0000 + (process.pid % 0x10_0000) * MAX_SLOTS;
  }

  /** Finds bubblewrap and checks that a sandbox really starts here; throws SandboxUnavailableError. */
  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    let tools: HostTools;
    try {
      tools = await findHostTools();
    } catch (error) {
      throw new SandboxUnavailableError((error as Error).message);
    }
    const hide: string[] = [];
    for (const dir of options.hide ?? ['/root', '/home']) if ((await stat(dir).catch(() => null))?.isDirectory()) hide.push(dir);
    const sandbox = new Sandbox(tools, hide, options);
    await sandbox.removeStaleDirs();
    await sandbox.selfTest();
    return sandbox;
  }

  /** Throwaway directories of treesynth processes that were killed before they could clean up. */
  private async removeStaleDirs(): Promise<void> {
    const root = this.options.tmpDir ?? tmpdir();
    const entries = await readdir(root).catch(() => [] as string[]);
    for (const name of entries) {
      const pid = Number(/^treesynth-sandbox-(\d+)-/.exec(name)?.[1] ?? NaN);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      try {
        process.kill(pid, 0);
      } catch (error) {
        // Only when the owner is certainly gone (a live process of another user answers EPERM).
        if ((error as NodeJS.ErrnoException).code === 'ESRCH') await rm(join(root, name), { recursive: true, force: true });
      }
    }
  }

  /** One line for logs and reports. */
  describe(): string {
    const who = this.tools.root ? `an unprivileged uid per slot (from ${this.uidBase})` : 'a user namespace';
    const l = this.limits;
    return `${this.tools.bwrapVersion}: no network, read-only host, ${who}; limits ${l.wallMs} ms wall, ${l.cpuSeconds} s CPU, ${Math.round(l.memoryBytes / 1048576)} MB memory, ${l.maxProcesses} processes, ${l.outputBytes} bytes output; ${this.concurrency} at once`;
  }

  private async selfTest(): Promise<void> {
    const dir = await this.makeDir();
    try {
      const argv = bwrapArgs({ tools: this.tools, limits: this.limits, hostDir: dir, hidden: this.hidden, runtimeRoots: [], uid: this.uidBase, env: { PATH: '/usr/bin:/bin' }, stage: true, command: ['/bin/true'] });
      const outcome = await runCaptured(argv, { wallMs: 15_000, outputBytes: 65_536 });
      if (outcome.exitCode !== 0) {
        const why = outcome.spawnError ?? (oneLine(outcome.output) || `exit ${outcome.exitCode}`);
        throw new SandboxUnavailableError(`the sandbox (bubblewrap) does not start here: ${why}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async makeDir(): Promise<string> {
    const dir = await mkdtemp(join(this.options.tmpDir ?? tmpdir(), `treesynth-sandbox-${process.pid}-`));
    // Readable by the sample's uid through the read-only mount; nothing else is shared.
    await chmod(dir, 0o755);
    return dir;
  }

  private python(): Promise<Runtime> {
    this.pythonRuntime ??= resolvePython(this.options.python ?? 'python3');
    return this.pythonRuntime;
  }

  private node(): Promise<Runtime> {
    this.nodeRuntime ??= resolveNode(this.options.node ?? process.execPath);
    return this.nodeRuntime;
  }

  private ts(): Promise<Ts | null> {
    this.typescript ??= import('typescript').then((m) => m.default, () => null);
    return this.typescript;
  }

  async run(language: string, files: readonly SandboxFile[], signal?: AbortSignal): Promise<SandboxResult> {
    const started = performance.now();
    const done = (verdict: Verdict, extra: Partial<SandboxResult> = {}): SandboxResult => ({
      reason: verdict.reason,
      passed: verdict.reason === 'passed',
      detail: verdict.detail,
      output: '',
      exitCode: null,
      signal: null,
      outputBytes: 0,
      command: '',
      ...extra,
      durationMs: Math.round(performance.now() - started),
    });
    const lang = sandboxLanguage(language);
    if (!lang) return done({ reason: 'unsupported-language', detail: `no sandbox runner for ${language} (python, javascript and typescript run)` });
    let checked: SandboxFile[];
    try {
      checked = checkFiles(files, this.limits.sampleBytes);
    } catch (error) {
      if (error instanceof PlanError) return done({ reason: error.reason, detail: error.message });
      throw error;
    }

    const slot = await this.slots.acquire();
    let dir: string | undefined;
    try {
      let runtime: Runtime;
      try {
        runtime = lang === 'python' ? await this.python() : await this.node();
      } catch (error) {
        return done({ reason: 'sandbox-error', detail: oneLine(`no ${lang === 'python' ? 'Python' : 'Node'} runtime: ${(error as Error).message}`) });
      }
      let plan: RunPlan;
      try {
        plan = makePlan(lang, checked, { python: runtime.executable, node: runtime.executable, typescript: lang === 'python' ? null : await this.ts(), memoryBytes: this.limits.memoryBytes });
      } catch (error) {
        if (error instanceof PlanError) return done({ reason: error.reason, detail: error.message });
        throw error;
      }
      if (plan.syntaxError) return done({ reason: 'syntax-error', detail: oneLine(plan.syntaxError.split('\n')[0]!) }, { output: plan.syntaxError });

      dir = await this.makeDir();
      for (const f of plan.files) {
        const target = join(dir, f.path);
        await mkdir(dirname(target), { recursive: true, mode: 0o755 });
        await writeFile(target, f.content, { mode: 0o644 });
      }
      const env: Record<string, string> = {
        PATH: `${dirname(runtime.executable)}:/usr/local/bin:/usr/bin:/bin`,
        HOME: '/tmp', TMPDIR: '/tmp', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', NO_COLOR: '1', TERM: 'dumb',
        ...plan.env,
      };
      const spec = { tools: this.tools, limits: this.limits, hostDir: dir, hidden: this.hidden, runtimeRoots: runtime.roots, uid: this.uidBase + slot, env };
      const limits = { wallMs: this.limits.wallMs, outputBytes: this.limits.outputBytes };
      // The command as a reader (or the model) should see it: no host paths of the interpreter.
      const shown = (command: readonly string[]): string => command.map((a) => (a === runtime.executable ? (lang === 'python' ? 'python3' : 'node') : a)).join(' ');
      const report = (verdict: Verdict, outcome: ProcessOutcome, command: readonly string[]): SandboxResult =>
        done(verdict, { output: outcome.output, exitCode: outcome.exitCode, signal: outcome.signal, outputBytes: outcome.outputBytes, command: shown(command) });

      if (plan.check) {
        const outcome = await runCaptured(bwrapArgs({ ...spec, stage: false, command: plan.check }), limits, signal);
        const verdict = classify({ step: 'check', outcome, limits: this.limits, localModules: plan.localModules });
        if (verdict.reason !== 'passed') return report(verdict, outcome, ['python3', '(syntax check)']);
      }
      const outcome = await runCaptured(bwrapArgs({ ...spec, stage: true, command: plan.test }), limits, signal);
      return report(classify({ step: 'test', outcome, limits: this.limits, localModules: plan.localModules }), outcome, plan.test);
    } finally {
      this.slots.release(slot);
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }
}
