// What the sandbox takes and what it answers. The runner knows nothing of samples as records:
// it runs files with roles, so the stage, the CLI and tests can all drive it.

/** Why a run ended the way it did; `passed` is the only success. */
export const VALIDATION_REASONS = [
  'passed',
  /** Tests ran and failed or errored. */
  'test-failure',
  /** No test ran (none defined, all skipped, or a test file reported none). */
  'no-tests',
  /** A test passed without checking anything: no assertion ran in it. */
  'no-assertions',
  /** The runner did not finish on its own: the process exited or was ended mid-run. */
  'incomplete-run',
  /** The test report was not the harness's own (written over, forged, or duplicated by a fork). */
  'report-invalid',
  /** A test file changed during the run. */
  'tests-modified',
  /** A file that would take over interpreter start-up or the test runner (conftest.py, sitecustomize.py, .pth, node_modules). */
  'forbidden-file',
  /** The tests pass, but catch too few of the solution's mutants (--min-mutation-score). */
  'low-mutation-score',
  /** A file does not parse. */
  'syntax-error',
  /** Wall time or CPU time limit. */
  'timeout',
  /** The memory limit (allocation failed, heap limit, MemoryError). */
  'memory',
  /** The process limit stopped a fork or a thread (fork bombs end here). */
  'process-limit',
  /** An allowed module that this machine lacks (allow-list not installed: run ./setup.sh; or a standard module this Python was built without). */
  'missing-package',
  /** A package outside the allow-list (sandbox/python-packages.txt; none for JavaScript/TypeScript), declared or imported; nothing is installed from inside. */
  'package-not-allowed',
  /** Network or a write outside the sample's directory was attempted. */
  'sandbox-violation',
  /** More output than allowed, or a file larger than allowed. */
  'output-limit',
  /** Paths that leave the directory, no test file, too large. */
  'invalid-sample',
  /** No runner for the sample's language. */
  'unsupported-language',
  /** The sandbox itself failed (not the sample's fault). */
  'sandbox-error',
] as const;

export type ValidationReason = (typeof VALIDATION_REASONS)[number];

export type SandboxLanguage = 'python' | 'javascript' | 'typescript';

export interface SandboxFile {
  path: string;
  role: 'solution' | 'test';
  content: string;
}

export interface SandboxLimits {
  /** Wall time of one run, ms; the whole process tree is killed past it. */
  wallMs: number;
  /** CPU seconds per process (RLIMIT_CPU). */
  cpuSeconds: number;
  /** Memory of the whole run (its cgroup's limit, where the machine has cgroups) and writable data per process (RLIMIT_DATA), bytes. */
  memoryBytes: number;
  /** Processes and threads of the sample together (the run's cgroup pids.max, and RLIMIT_NPROC for its own uid). */
  maxProcesses: number;
  /** stdout + stderr together, bytes; the run is killed past it. */
  outputBytes: number;
  /** Largest file the sample may write (RLIMIT_FSIZE), bytes. */
  fileBytes: number;
  /** Size of the sample's writable directory and of its /tmp (each a tmpfs), bytes. */
  diskBytes: number;
  /** Sum of the sample's file sizes, bytes; larger samples are not run. */
  sampleBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  wallMs: 10_000,
  cpuSeconds: 11,
  memoryBytes: 512 * 1024 * 1024,
  maxProcesses: 64,
  outputBytes: 1024 * 1024,
  fileBytes: 16 * 1024 * 1024,
  diskBytes: 64 * 1024 * 1024,
  sampleBytes: 2 * 1024 * 1024,
};

export interface SandboxResult {
  reason: ValidationReason;
  passed: boolean;
  /** One line for a dead letter. */
  detail: string;
  /** The end of stdout+stderr (with its start when the middle was cut), for a debugging turn. */
  output: string;
  exitCode: number | null;
  /** Signal that ended the run, when one did (e.g. SIGKILL after the wall time). */
  signal: string | null;
  durationMs: number;
  /** Output bytes seen (stops growing once the limit is hit). */
  outputBytes: number;
  /** The command that ran the tests, for the record (paths inside the sandbox). */
  command: string;
  /** Tests the harness reported, when it got that far. */
  tests?: { total: number; passed: number; failed: number; skipped: number } | null;
  /** Highest memory use of the whole run, where a cgroup measured it. */
  memoryPeakBytes?: number | null;
  /** Allow-listed packages the sample declared or imports (normalised names), once the check got that far. */
  packages?: string[];
}

export interface RunOptions {
  signal?: AbortSignal;
  /** A shorter wall time for this run (mutants: a surviving loop should not cost the full limit). */
  wallMs?: number;
  /** Packages the sample declares; each must be on the allow-list (none for JavaScript/TypeScript). */
  packages?: readonly string[];
}

/** What the validate stage needs from a sandbox; tests may substitute their own. */
export interface SampleRunner {
  run(language: string, files: readonly SandboxFile[], options?: RunOptions): Promise<SandboxResult>;
}

/** The sandbox cannot run at all here (bubblewrap missing, namespaces refused). */
export class SandboxUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxUnavailableError';
  }
}
