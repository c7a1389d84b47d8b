// From how a run ended and what it printed to a reason. What the sandbox enforced is known
// for certain (our wall clock, our output budget, a signal); what the sample ran into inside
// (a refused connection, a read-only file system, an allocation that failed) is only visible in
// its error output, so it is read from there. Root causes win over symptoms: a fork bomb killed
// by the wall clock is a process-limit case, a test that could not reach the network is a
// sandbox violation even though its assertion failed too.
import type { CgroupUsage } from './cgroup.js';
import type { ProcessOutcome } from './process.js';
import { judgeReport, type ReportVerdict, type TestReport } from './report.js';
import type { ValidationReason } from './types.js';

export interface Verdict {
  reason: ValidationReason;
  detail: string;
}

const MEMORY = [
  /\bMemoryError\b/,
  /JavaScript heap out of memory/,
  /Fatal process out of memory|Fatal process OOM/,
  /Array buffer allocation failed/,
  /Reached heap limit/,
  /Cannot allocate memory|\bENOMEM\b/,
  /std::bad_alloc/,
];

const PROCESS_LIMIT = [
  /BlockingIOError: \[Errno 11\] Resource temporarily unavailable/,
  /can't start new thread/,
  /fork: (?:retry: )?Resource temporarily unavailable|Cannot fork/,
  /\bspawn\b[^\n]{0,200}\bEAGAIN\b/,
  /pthread_create[^\n]{0,80}(?:Resource temporarily unavailable|EAGAIN)/,
];

const NETWORK = [
  /Network is unreachable|\bENETUNREACH\b/,
  /\bEAI_AGAIN\b|Temporary failure in name resolution|Name or service not known|\bENOTFOUND\b|No address associated with hostname/,
  /Connection refused|\bECONNREFUSED\b/,
];

const WRITE_OUTSIDE = [/Read-only file system|\bEROFS\b/, /PermissionError|Permission denied|\bEACCES\b/];

/** What the seccomp filter and the dropped capabilities refuse (new namespaces, mounts, keyrings...). */
const REFUSED = [/Operation not permitted|\bEPERM\b/];

/** A file the sample may not change: the tests are read-only mounts, root's, in a sticky directory. */
const TEST_WRITE = /Read-only file system|\bEROFS\b|Device or resource busy|\bEBUSY\b|Operation not permitted|\bEPERM\b|Permission denied|\bEACCES\b/;

const DISK_FULL = [/No space left on device|\bENOSPC\b|Disk quota exceeded|\bEDQUOT\b/];

const FILE_TOO_LARGE = [/File too large|\bEFBIG\b/];

const firstMatch = (text: string, patterns: readonly RegExp[]): RegExpExecArray | null => {
  for (const p of patterns) {
    const m = p.exec(text);
    if (m) return m;
  }
  return null;
};

/** The line around a match, trimmed, for a one-line detail. */
function lineAt(text: string, index: number): string {
  const start = text.lastIndexOf('\n', index) + 1;
  const end = text.indexOf('\n', index);
  return oneLine(text.slice(start, end < 0 ? undefined : end));
}

export function oneLine(text: string, max = 300): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The line that best says why tests failed: the last error or failed assertion, else the last line. */
export function failureLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const patterns = [/^(?:E\s+)?\w*(?:Error|Exception)\b/, /^FAILED\b/, /^not ok \d+/, /^error:/, /\b\d+ failed\b/];
  for (const p of patterns) {
    for (let i = lines.length - 1; i >= 0; i--) if (p.test(lines[i]!)) return oneLine(lines[i]!);
  }
  return oneLine(lines[lines.length - 1] ?? '(no output)');
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The sample's own module, or a near-miss of one ("solutions" for solution.py): a bug, not a package. */
export function isLocal(name: string, localModules: ReadonlySet<string>): boolean {
  if (localModules.has(name)) return true;
  return name.length >= 4 && [...localModules].some((m) => m.length >= 4 && editDistance(name.toLowerCase(), m.toLowerCase()) <= 2);
}

/** A module the sample imports that is neither its own nor installed; null when none is named. */
export function missingModule(output: string, localModules: ReadonlySet<string>): { name: string; local: boolean; python: boolean } | null {
  const py = /No module named '([^']+)'|No module named ([A-Za-z_][\w.]*)/.exec(output);
  if (py) {
    const name = (py[1] ?? py[2] ?? '').split('.')[0]!;
    return { name, local: isLocal(name, localModules), python: true };
  }
  const js = /Cannot find (?:module|package) '([^']+)'/.exec(output);
  if (js) {
    const spec = js[1]!;
    if (spec.startsWith('.') || spec.startsWith('/')) return { name: spec, local: true, python: false };
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    return { name, local: isLocal(name, localModules), python: false };
  }
  return null;
}

/**
 * A module the run could not import, found only at run time (a computed import name): the same
 * reason the static check gives (sandbox/packages.ts) when it is outside the allow-list;
 * missing-package when it is allowed but this machine lacks it.
 */
function missingVerdict(missing: { name: string; python: boolean }, allowed: ReadonlySet<string> = new Set(), stdlib: ReadonlySet<string> = new Set()): Verdict {
  if (!missing.python) return { reason: 'package-not-allowed', detail: `needs package "${missing.name}": only Node's built-in modules are available (nothing is installed in the sandbox)` };
  if (allowed.has(missing.name)) return { reason: 'missing-package', detail: `needs "${missing.name}", which is allow-listed but not installed here: run ./setup.sh` };
  if (stdlib.has(missing.name)) return { reason: 'missing-package', detail: `needs "${missing.name}", a standard library module this Python was built without` };
  return { reason: 'package-not-allowed', detail: `imports "${missing.name}", which is not on the allow-list of packages (sandbox/python-packages.txt; nothing is installed in the sandbox)` };
}

export interface ClassifyInput {
  outcome: ProcessOutcome;
  /** What the harness reported (null: the run had no report channel). */
  report: TestReport | null;
  /** What the run's cgroup counted (null: no cgroup). */
  cgroup: CgroupUsage | null;
  limits: { wallMs: number; outputBytes: number; cpuSeconds: number; maxProcesses: number };
  localModules: ReadonlySet<string>;
  /** Test files whose content differs after the run. */
  testsModified: readonly string[];
  /** The sample's test file paths, to tell an attempt on a test from any other refused write. */
  testPaths?: readonly string[];
  /** Size of the writable work directory and of /tmp, for the message when they fill up. */
  diskBytes?: number;
  /** Python modules the allow-list provides (a missing one means the packages are not installed here). */
  allowedModules?: ReadonlySet<string>;
  /** Python's standard library modules (a missing one means this Python was built without it). */
  stdlib?: ReadonlySet<string>;
}

/**
 * A pass needs a clean exit and a report that breaks no rule (sandbox/report.ts). Otherwise the
 * root cause wins: what the sandbox enforced (limits, the network, the read-only host) before
 * what the report says about the tests.
 */
export function classify({ outcome, report, cgroup, limits, localModules, testsModified, testPaths = [], diskBytes, allowedModules, stdlib }: ClassifyInput): Verdict {
  const out = outcome.output;
  if (outcome.spawnError) return { reason: 'sandbox-error', detail: oneLine(`cannot start the sandbox: ${outcome.spawnError}`) };
  // bwrap's own complaints (it prints "bwrap: ..." and exits 1 before running anything).
  if (outcome.exitCode === 1 && /^bwrap: /m.test(out) && !outcome.timedOut && report?.runner == null) return { reason: 'sandbox-error', detail: oneLine(out.split('\n').find((l) => l.startsWith('bwrap: ')) ?? out) };
  if (testsModified.length > 0) return { reason: 'tests-modified', detail: `test file${testsModified.length === 1 ? '' : 's'} changed during the run: ${testsModified.slice(0, 3).join(', ')}` };

  const judged: ReportVerdict = report ? judgeReport(report) : { rule: 'incomplete-run', detail: 'the run produced no test report' };
  const clean = outcome.exitCode === 0 && !outcome.timedOut && !outcome.outputExceeded && !outcome.aborted && !outcome.reportExceeded;
  if (clean && judged.rule === null) return { reason: 'passed', detail: judged.detail };

  if (outcome.aborted) return { reason: 'sandbox-error', detail: 'run aborted' };
  const forks = firstMatch(out, PROCESS_LIMIT);
  if (cgroup?.processLimitHit || forks) return { reason: 'process-limit', detail: `process limit of ${limits.maxProcesses} reached: ${forks ? lineAt(out, forks.index) : 'the kernel refused a fork'}` };
  const memory = firstMatch(out, MEMORY);
  if (cgroup?.memoryLimitHit || memory) return { reason: 'memory', detail: `memory limit reached: ${memory ? lineAt(out, memory.index) : 'the kernel killed a process of the run for memory'}` };
  if (outcome.outputExceeded) return { reason: 'output-limit', detail: `more than ${limits.outputBytes} bytes of output` };
  if (outcome.reportExceeded) return { reason: 'report-invalid', detail: 'the test report grew past its size limit (something other than the harness wrote to it)' };
  const tooLarge = firstMatch(out, FILE_TOO_LARGE);
  if (tooLarge || outcome.signal === 'SIGXFSZ') return { reason: 'output-limit', detail: 'wrote a file larger than the file size limit' };
  const full = firstMatch(out, DISK_FULL);
  if (full) return { reason: 'output-limit', detail: `the disk limit${diskBytes ? ` of ${Math.round(diskBytes / 1048576)} MB` : ''} was reached: ${lineAt(out, full.index)}` };
  // The test file as the operand of the refused call ('…/test_x.py' in quotes), not merely named
  // on the same line (pytest's "FAILED test_x.py::test - …" summary).
  const quoted = testPaths.map((p) => new RegExp(`['"](?:[^'"]*/)?${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}['"]`));
  const testWrite = out.split('\n').find((l) => TEST_WRITE.test(l) && quoted.some((q) => q.test(l)));
  if (testWrite) return { reason: 'tests-modified', detail: `tried to change a test file (tests are read-only): ${oneLine(testWrite)}` };
  const net = firstMatch(out, NETWORK);
  if (net) return { reason: 'sandbox-violation', detail: `network access attempted (the sandbox has none): ${lineAt(out, net.index)}` };
  const write = firstMatch(out, WRITE_OUTSIDE);
  if (write) return { reason: 'sandbox-violation', detail: `write outside the sample's directory attempted: ${lineAt(out, write.index)}` };
  const refused = firstMatch(out, REFUSED);
  if (refused) return { reason: 'sandbox-violation', detail: `an operation the sandbox forbids was refused (new namespaces, mounts, privileged calls): ${lineAt(out, refused.index)}` };
  if (outcome.timedOut) return { reason: 'timeout', detail: `wall time limit of ${limits.wallMs} ms reached` };
  if (outcome.signal === 'SIGXCPU') return { reason: 'timeout', detail: `CPU time limit of ${limits.cpuSeconds} s reached` };

  if (judged.rule === 'syntax-error') return { reason: 'syntax-error', detail: oneLine(judged.detail) };
  const missing = missingModule(out, localModules);
  if (missing && !missing.local) return missingVerdict(missing, allowedModules, stdlib);
  if (judged.rule === 'report-invalid') return { reason: 'report-invalid', detail: judged.detail };
  if (outcome.signal === 'SIGKILL') return { reason: 'timeout', detail: 'killed (SIGKILL): CPU time limit reached' };
  if (judged.rule === 'test-failure') return { reason: 'test-failure', detail: failureLine(out) };
  if (judged.rule !== null) return { reason: judged.rule, detail: judged.detail };
  if (outcome.signal && outcome.signal !== 'SIGABRT') return { reason: 'incomplete-run', detail: `the test process died of ${outcome.signal}` };
  return { reason: 'incomplete-run', detail: `the runner reported success but the process exited with code ${outcome.exitCode}` };
}
