// The sandbox: stages a sample's files in a throwaway directory, runs their tests under
// bubblewrap through the harness, with limits, and says why it ended: a pass is the harness's
// report breaking no rule (sandbox/report.ts), not an exit code. One Sandbox per run; it bounds
// how many samples run at once, gives each concurrent run a uid of its own, and where the
// machine allows, a cgroup of its own.
import { createHash, randomBytes } from 'node:crypto';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type TypeScript from 'typescript';
import { bwrapArgs, findHostTools, resolveNode, resolvePython, type BwrapSpec, type HostTools, type Runtime } from './bwrap.js';
import { Cgroups, type CgroupUsage, type RunCgroup } from './cgroup.js';
import { classify, isLocal, oneLine, type Verdict } from './classify.js';
import { checkPackages, defaultPythonPackagesDir, installProblem, loadAllowList, type PackageAllowList } from './packages.js';
import { HARNESS_DIR, PYTHON_PACKAGES_DIR, PlanError, SOURCE_DIR, WORK_DIR, checkFiles, makePlan, sandboxLanguage, type RunPlan, type StagedFile } from './plan.js';
import { runCaptured, type ProcessOutcome } from './process.js';
import { countTests, parseReport } from './report.js';
import { seccompProgram } from './seccomp.js';
import { DEFAULT_LIMITS, SandboxUnavailableError, type RunOptions, type SampleRunner, type SandboxFile, type SandboxLimits, type SandboxResult } from './types.js';

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
  /** As root: the first uid samples run as; slot i runs as uidBase + i. */
  uidBase?: number;
  /** A cgroup per run where the machine allows (default true); false keeps the per-process limits only. */
  cgroups?: boolean;
  /** Share of the machine's memory all slots together may be given (default 0.75). */
  memoryShare?: number;
  /** The Python packages samples may use. Default: sandbox/python-packages.txt. */
  allowList?: PackageAllowList;
  /** Where ./setup.sh installed them. Default: .treesynth/python-packages under the package root. */
  pythonPackagesDir?: string;
}

/** The report channel's cap: far above what any honest run writes. */
const REPORT_BYTES = 4 * 1024 * 1024;

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

const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

export class Sandbox implements SampleRunner {
  readonly limits: SandboxLimits;
  readonly concurrency: number;
  /** Why fewer slots run at once than asked for, or null. */
  readonly concurrencyNote: string | null;
  private readonly slots: Slots;
  private readonly uidBase: number;
  private readonly seccomp: Buffer | null;
  private pythonRuntime: Promise<Runtime> | undefined;
  private nodeRuntime: Promise<Runtime> | undefined;
  private typescript: Promise<Ts | null> | undefined;
  private packagesState: Promise<string | null> | undefined;
  /** Why the allow-listed Python packages cannot be used here (not installed), or null. */
  private packagesNote: string | null = null;
  /** The Python packages samples may use; every other package is refused before a run. */
  readonly allowList: PackageAllowList;
  /** Where the allow-listed Python packages are installed on the host. */
  readonly pythonPackagesDir: string;
  /** The modules those packages provide, as a sample imports them. */
  private readonly allowedModules: ReadonlySet<string>;

  private constructor(
    readonly tools: HostTools,
    /** The cgroups runs get, or why they get none. */
    private readonly cgroups: Cgroups | string,
    private readonly options: SandboxOptions,
  ) {
    // CPU time a little above the wall time: a busy loop meets the wall clock first (a clear
    // "timeout"); the CPU limit still stops threads that burn several cores at once.
    this.limits = { ...DEFAULT_LIMITS, cpuSeconds: Math.ceil((options.limits?.wallMs ?? DEFAULT_LIMITS.wallMs) / 1000) + 1, ...options.limits };
    const asked = Math.max(1, Math.min(MAX_SLOTS, options.concurrency ?? availableParallelism()));
    // Every slot may fill its memory limit at once: together they stay within a share of the machine.
    const budget = Math.floor(totalmem() * (options.memoryShare ?? 0.75));
    const fits = Math.max(1, Math.floor(budget / this.limits.memoryBytes));
    this.concurrency = Math.min(asked, fits);
    this.concurrencyNote = fits < asked ? `${asked} runs at once would exceed ${Math.round(budget / 1048576)} MB of the machine's memory at ${Math.round(this.limits.memoryBytes / 1048576)} MB each; running ${this.concurrency}` : null;
    this.slots = new Slots(this.concurrency);
    // Unused uids far above real accounts; two treesynth processes on one host get different ones.
    this.uidBase = options.uidBase ?? 0x1000_0000 + (process.pid % 0x10_0000) * MAX_SLOTS;
    this.seccomp = seccompProgram();
    this.allowList = options.allowList ?? loadAllowList();
    this.allowedModules = new Set(this.allowList.packages.flatMap((p) => p.imports));
    this.pythonPackagesDir = options.pythonPackagesDir ?? defaultPythonPackagesDir();
  }

  /** Finds bubblewrap and checks that a sandbox really starts here; throws SandboxUnavailableError. */
  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    let tools: HostTools;
    try {
      tools = await findHostTools();
    } catch (error) {
      throw new SandboxUnavailableError((error as Error).message);
    }
    const cgroups = options.cgroups === false ? 'cgroups turned off' : await Cgroups.detect();
    const sandbox = new Sandbox(tools, cgroups, options);
    await sandbox.removeStaleDirs();
    await sandbox.selfTest();
    // Said once at start-up; samples that need the packages are refused with the same words.
    sandbox.packagesNote = await sandbox.packagesProblem().catch(() => null);
    return sandbox;
  }

  /** The uids this sandbox's runs use (as root), so a caller can look for processes left behind. */
  get uids(): { from: number; to: number } {
    return { from: this.uidBase, to: this.uidBase + this.concurrency - 1 };
  }

  /** Whether each run gets a cgroup of its own (memory and processes capped for the whole run). */
  get hasCgroups(): boolean {
    return typeof this.cgroups !== 'string';
  }

  /** Throwaway directories and cgroups of treesynth processes that were killed before they could clean up. */
  private async removeStaleDirs(): Promise<void> {
    // Only when the owner is certainly gone (a live process of another user answers EPERM).
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code !== 'ESRCH';
      }
    };
    const root = this.options.tmpDir ?? tmpdir();
    const entries = await readdir(root).catch(() => [] as string[]);
    for (const name of entries) {
      const pid = Number(/^treesynth-sandbox-(\d+)-/.exec(name)?.[1] ?? NaN);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) await rm(join(root, name), { recursive: true, force: true });
    }
    if (typeof this.cgroups !== 'string') await this.cgroups.removeStale(alive);
  }

  /** One line for logs and reports: what isolates a sample here, and what does not. */
  describe(): string {
    const who = this.tools.root ? `an unprivileged uid per slot (from ${this.uidBase})` : 'a user namespace';
    const l = this.limits;
    const whole = typeof this.cgroups === 'string'
      ? `NO cgroup (${this.cgroups}): memory and processes are limited per process only`
      : `${this.cgroups.describe()}: ${Math.round(l.memoryBytes / 1048576)} MB and ${l.maxProcesses} processes for the whole run`;
    const seccomp = this.seccomp ? 'no new user namespaces (seccomp)' : `NO seccomp filter on ${process.arch}: nested user namespaces are not refused`;
    return `${this.tools.bwrapVersion}: no network, only /usr, the runtime and the sample visible (read-only), tests read-only, ${who}, ${seccomp}; ${whole}; ` +
      `limits ${l.wallMs} ms wall, ${l.cpuSeconds} s CPU, ${Math.round(l.memoryBytes / 1048576)} MB memory per process, ${l.outputBytes} bytes output; ${this.concurrency} at once${this.concurrencyNote ? ` (${this.concurrencyNote})` : ''}`;
  }

  /** Lines a user must see: where this machine gives a weaker sandbox than asked for. */
  warnings(): string[] {
    const out: string[] = [];
    if (typeof this.cgroups === 'string' && this.options.cgroups !== false) out.push(`sandbox: no writable cgroup here (${this.cgroups}); memory and processes are limited per process, not per sample run`);
    if (!this.seccomp) out.push(`sandbox: no seccomp filter for ${process.arch}; samples may create nested user namespaces`);
    if (this.concurrencyNote) out.push(`sandbox: ${this.concurrencyNote}`);
    if (this.packagesNote) out.push(`sandbox: ${this.packagesNote}; Python samples that use them are rejected`);
    return out;
  }

  private async selfTest(): Promise<void> {
    const dir = await this.makeDir();
    let cgroup: RunCgroup | null = null;
    try {
      await mkdir(join(dir, 'src'), { mode: 0o755 });
      cgroup = typeof this.cgroups === 'string' ? null : await this.cgroups.create({ memoryBytes: this.limits.memoryBytes, maxProcesses: this.limits.maxProcesses });
      const argv = bwrapArgs({
        tools: this.tools, limits: this.limits, runtimeRoots: [], binds: [{ host: join(dir, 'src'), at: SOURCE_DIR }], copyFrom: SOURCE_DIR, workDirs: [], readOnlyFiles: [], lockedDirs: [],
        uid: this.uidBase, env: { PATH: '/usr/bin:/bin' }, seccomp: this.seccomp !== null, command: ['/bin/true'],
      });
      const outcome = await runCaptured(cgroup ? cgroup.wrap(argv) : argv, { wallMs: 15_000, outputBytes: 65_536 }, undefined, { seccomp: this.seccomp });
      if (outcome.exitCode !== 0) {
        const why = outcome.spawnError ?? (oneLine(outcome.output) || `exit ${outcome.exitCode}`);
        throw new SandboxUnavailableError(`the sandbox (bubblewrap) does not start here: ${why}`);
      }
    } finally {
      await cgroup?.remove().catch(() => {});
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

  /** Whether the allow-list is installed for this Python (null) or why not; checked once. */
  private packagesProblem(): Promise<string | null> {
    this.packagesState ??= this.python().then((py) => installProblem(this.pythonPackagesDir, this.allowList, py.abi));
    return this.packagesState;
  }

  private node(): Promise<Runtime> {
    this.nodeRuntime ??= resolveNode(this.options.node ?? process.execPath);
    return this.nodeRuntime;
  }

  private ts(): Promise<Ts | null> {
    this.typescript ??= import('typescript').then((m) => m.default, () => null);
    return this.typescript;
  }

  /** Writes staged files under `root` (directories 0755, files 0644: readable by the sample's uid through the mount). */
  private async write(root: string, files: readonly StagedFile[]): Promise<void> {
    await mkdir(root, { recursive: true, mode: 0o755 });
    for (const f of files) {
      const target = join(root, f.path);
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await writeFile(target, f.content, { mode: 0o644 });
    }
  }

  async run(language: string, files: readonly SandboxFile[], options: RunOptions = {}): Promise<SandboxResult> {
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
      tests: null,
      memoryPeakBytes: null,
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
    let cgroup: RunCgroup | null = null;
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
      // Packages before anything runs: what the sample declares and imports must be allowed.
      const local = plan.localModules;
      const packages = checkPackages({ language: lang, files: checked, declared: options.packages ?? [], allowList: this.allowList, stdlib: runtime.stdlib, isLocal: (name) => isLocal(name, local) });
      if (!packages.ok) return done({ reason: 'package-not-allowed', detail: oneLine(packages.detail) });
      const installed = lang === 'python' ? await this.packagesProblem() === null : false;
      if (lang === 'python' && !installed && packages.packages.length > 0) {
        return done({ reason: 'missing-package', detail: oneLine(`needs ${packages.packages.join(', ')}, but ${await this.packagesProblem()}`) }, { packages: packages.packages });
      }

      dir = await this.makeDir();
      await this.write(join(dir, 'src'), plan.files);
      await this.write(join(dir, 'tests'), plan.tests);
      await this.write(join(dir, 'harness'), plan.harness);
      const testHashes = plan.tests.map((t) => ({ path: t.path, hash: sha256(t.content) }));
      // Every directory of the sample's tree exists before the read-only test files are mounted
      // into it, writable by the sample, so its own files can be copied beside them.
      const workDirs = new Set<string>();
      for (const f of [...plan.files, ...plan.tests]) {
        for (let d = posix.dirname(f.path); d !== '.'; d = posix.dirname(d)) workDirs.add(d);
      }
      const env: Record<string, string> = {
        PATH: `${dirname(runtime.executable)}:/usr/local/bin:/usr/bin:/bin`,
        HOME: '/tmp', TMPDIR: '/tmp', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', NO_COLOR: '1', TERM: 'dumb',
        ...plan.env,
        // The allow-listed packages, read-only; after the sample's own directories (the harness puts those first).
        ...(installed ? { PYTHONPATH: PYTHON_PACKAGES_DIR } : {}),
      };
      const spec: BwrapSpec = {
        tools: this.tools, limits: this.limits, runtimeRoots: runtime.roots,
        binds: [
          { host: join(dir, 'harness'), at: HARNESS_DIR }, { host: join(dir, 'src'), at: SOURCE_DIR },
          ...(installed ? [{ host: this.pythonPackagesDir, at: PYTHON_PACKAGES_DIR }] : []),
        ],
        copyFrom: SOURCE_DIR, workDirs: [...workDirs].sort(), readOnlyFiles: plan.tests.map((t) => ({ host: join(dir!, 'tests', t.path), at: `${WORK_DIR}/${t.path}` })), lockedDirs: plan.lockedDirs,
        uid: this.uidBase + slot, env, seccomp: this.seccomp !== null, command: plan.test,
      };
      const wallMs = Math.min(this.limits.wallMs, options.wallMs ?? Number.POSITIVE_INFINITY);
      if (typeof this.cgroups !== 'string') cgroup = await this.cgroups.create({ memoryBytes: this.limits.memoryBytes, maxProcesses: this.limits.maxProcesses });
      const argv = bwrapArgs(spec);
      const nonce = randomBytes(16).toString('hex');
      const outcome: ProcessOutcome = await runCaptured(cgroup ? cgroup.wrap(argv) : argv, { wallMs, outputBytes: this.limits.outputBytes }, options.signal, {
        seccomp: this.seccomp,
        report: { nonce, maxBytes: REPORT_BYTES },
      });
      const usage: CgroupUsage | null = cgroup ? await cgroup.usage() : null;
      const testsModified: string[] = [];
      for (const t of testHashes) {
        const now = await readFile(join(dir, 'tests', t.path)).then(sha256, () => 'missing');
        if (now !== t.hash) testsModified.push(t.path);
      }
      const report = parseReport(outcome.report, nonce, WORK_DIR);
      const verdict = classify({
        outcome, report, cgroup: usage, limits: { ...this.limits, wallMs }, localModules: plan.localModules, testsModified,
        testPaths: plan.tests.map((t) => t.path), diskBytes: this.limits.diskBytes,
        allowedModules: lang === 'python' ? this.allowedModules : new Set(), stdlib: runtime.stdlib,
      });
      return done(verdict, {
        output: outcome.output, exitCode: outcome.exitCode, signal: outcome.signal, outputBytes: outcome.outputBytes, command: plan.display,
        tests: report.runner ? countTests(report) : null, memoryPeakBytes: usage?.memoryPeakBytes ?? null, packages: packages.packages,
      });
    } finally {
      this.slots.release(slot);
      await cgroup?.remove();
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }
}
