// What the harness reported (sandbox/harness.ts), read back and judged. A run passes only when
// the report is the harness's own (every record carries the run's nonce), complete (the runner
// reached its end), at least one test passed, none failed or errored, none started without
// finishing, and every passing test checked something (where the runner can count checks).
// Each failed rule has its own reason, so a rejection says which rule it broke.

export type TestOutcome = 'passed' | 'failed' | 'error' | 'skipped' | 'xfailed' | 'xpassed';

export interface ReportedTest {
  id: string;
  outcome: TestOutcome;
  /** Checks the test ran (asserts and the like); null where the runner cannot count them (Node). */
  checks: number | null;
}

export interface TestReport {
  runner: string | null;
  /** The runner reached its end and said so. */
  done: boolean;
  /** pytest's exit status from the harness's last record. */
  exitStatus: number | null;
  /** Tests pytest collected; each must report an outcome. */
  collected: number | null;
  syntaxError: string | null;
  collectErrors: string[];
  tests: ReportedTest[];
  /** Node: test files whose process reported no test at all. */
  silentFiles: string[];
  /** Node: test files whose process exited before its tests finished. */
  earlyExits: string[];
  /** Tests that were queued or started and never reported an outcome. */
  unfinished: string[];
  /** Lines that are not the harness's: wrong nonce, not JSON, after the end, a second end. */
  invalid: string[];
}

export interface TestCounts {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
}

export type ReportRule = 'report-invalid' | 'syntax-error' | 'incomplete-run' | 'test-failure' | 'no-tests' | 'no-assertions';

export interface ReportVerdict {
  /** null: every rule holds. */
  rule: ReportRule | null;
  detail: string;
}

const OUTCOMES: ReadonlySet<string> = new Set(['passed', 'failed', 'error', 'skipped', 'xfailed', 'xpassed']);
const MAX_KEPT = 50;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const short = (s: string): string => (s.length > 160 ? `${s.slice(0, 159)}…` : s);

/** The sample's own path of a file the runner names by its absolute path in the sandbox. */
const relative = (file: string | null, workDir: string): string => (file && file.startsWith(`${workDir}/`) ? file.slice(workDir.length + 1) : (file ?? '?'));

export function parseReport(text: string, nonce: string, workDir: string): TestReport {
  const report: TestReport = { runner: null, done: false, exitStatus: null, collected: null, syntaxError: null, collectErrors: [], tests: [], silentFiles: [], earlyExits: [], unfinished: [], invalid: [] };
  const queued = new Map<string, number>();
  // pytest's records carry the pid that wrote them: the runner's, unless a test forked.
  let runnerPid: number | null = null;
  const pytestIds = new Set<string>();
  const bad = (why: string): void => {
    if (report.invalid.length < MAX_KEPT) report.invalid.push(why);
  };
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line === '' && index === lines.length - 1) return;
    let record: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      record = parsed as Record<string, unknown>;
    } catch {
      return bad(`line ${index + 1} is not a report record`);
    }
    if (record['nonce'] !== nonce) return bad(`line ${index + 1} does not carry this run's nonce`);
    if (report.done) return bad(`line ${index + 1} comes after the runner's end`);
    const pid = typeof record['pid'] === 'number' ? record['pid'] : null;
    if (pid !== null) {
      runnerPid ??= pid;
      if (pid !== runnerPid) return bad(`line ${index + 1} comes from another process (pid ${pid}, the runner is ${runnerPid}): a test forked`);
    }
    const event = str(record['event']);
    switch (event) {
      case 'start':
        if (report.runner !== null) return bad('the runner started twice');
        report.runner = str(record['runner']);
        return;
      case 'syntax-error':
        report.syntaxError = str(record['detail']) ?? 'syntax error';
        return;
      case 'collected':
        if (typeof record['count'] === 'number' && Number.isInteger(record['count'])) report.collected = record['count'];
        return;
      case 'collect-error':
        if (report.collectErrors.length < MAX_KEPT) report.collectErrors.push(str(record['id']) ?? '?');
        return;
      case 'enqueue': {
        const key = `${str(record['file'])}\0${String(record['nesting'])}\0${str(record['name'])}`;
        queued.set(key, (queued.get(key) ?? 0) + 1);
        return;
      }
      case 'early-exit':
        report.earlyExits.push(relative(str(record['file']), workDir));
        return;
      case 'test': {
        const outcome = str(record['outcome']);
        if (!outcome || !OUTCOMES.has(outcome)) return bad(`line ${index + 1} has no test outcome`);
        if ('file' in record) {
          // node --test: a queued test is settled by its outcome; suites and file-level entries are not tests.
          const key = `${str(record['file'])}\0${String(record['nesting'])}\0${str(record['name'])}`;
          const left = queued.get(key);
          if (left !== undefined) left > 1 ? queued.set(key, left - 1) : queued.delete(key);
          const file = relative(str(record['file']), workDir);
          if (record['fileLevel'] === true) {
            if (outcome === 'passed') report.silentFiles.push(file);
            else report.tests.push({ id: file, outcome: outcome as TestOutcome, checks: null });
            return;
          }
          if (record['suite'] === true && outcome !== 'failed') return;
          report.tests.push({ id: `${file} > ${str(record['name']) ?? '?'}`, outcome: outcome as TestOutcome, checks: null });
          return;
        }
        const checks = record['checks'];
        const id = str(record['id']) ?? '?';
        if (pytestIds.has(id)) return bad(`test ${short(id)} is reported twice`);
        pytestIds.add(id);
        report.tests.push({ id, outcome: outcome as TestOutcome, checks: typeof checks === 'number' && Number.isInteger(checks) && checks >= 0 ? checks : 0 });
        return;
      }
      case 'done':
        report.done = true;
        report.exitStatus = typeof record['exitstatus'] === 'number' ? record['exitstatus'] : null;
        return;
      default:
        return bad(`line ${index + 1} has an unknown event`);
    }
  });
  for (const key of queued.keys()) {
    const [file, , name] = key.split('\0');
    if (report.unfinished.length < MAX_KEPT) report.unfinished.push(`${relative(file ?? null, workDir)} > ${name}`);
  }
  return report;
}

export function countTests(report: TestReport): TestCounts {
  const count = (...o: TestOutcome[]): number => report.tests.filter((t) => o.includes(t.outcome)).length;
  return { total: report.tests.length, passed: count('passed'), failed: count('failed', 'error', 'xpassed'), skipped: count('skipped', 'xfailed') };
}

const list = (items: readonly string[], max = 3): string => items.slice(0, max).map(short).join(', ') + (items.length > max ? ` and ${items.length - max} more` : '');

/** The first rule the report breaks, in the order a reader would ask about them. */
export function judgeReport(report: TestReport): ReportVerdict {
  if (report.invalid.length > 0) return { rule: 'report-invalid', detail: `the test report was tampered with: ${report.invalid[0]}` };
  if (report.syntaxError) return { rule: 'syntax-error', detail: report.syntaxError };
  if (report.runner === null) return { rule: 'incomplete-run', detail: 'the test runner never started (the process ended before it)' };
  if (report.earlyExits.length > 0) return { rule: 'incomplete-run', detail: `the test process of ${list(report.earlyExits)} exited before its tests finished` };
  if (report.unfinished.length > 0) return { rule: 'incomplete-run', detail: `${list(report.unfinished)} started and never finished` };
  if (!report.done) {
    const last = report.tests[report.tests.length - 1];
    return { rule: 'incomplete-run', detail: `the test runner did not finish on its own${last ? ` (the last test reported was ${short(last.id)})` : ''}` };
  }
  // pytest.exit(returncode=0) in a test ends the session "successfully" with tests never run.
  if (report.collected !== null && report.tests.length < report.collected) {
    return { rule: 'incomplete-run', detail: `only ${report.tests.length} of the ${report.collected} collected tests reported an outcome (the run was cut short)` };
  }
  const failed = report.tests.filter((t) => t.outcome === 'failed' || t.outcome === 'error' || t.outcome === 'xpassed');
  if (failed.length > 0 || report.collectErrors.length > 0) {
    const names = [...report.collectErrors.map((id) => `${id} (collection)`), ...failed.map((t) => t.id)];
    return { rule: 'test-failure', detail: `${names.length} test${names.length === 1 ? '' : 's'} failed: ${list(names)}` };
  }
  if (report.silentFiles.length > 0) return { rule: 'no-tests', detail: `${list(report.silentFiles)} reported no test` };
  const passed = report.tests.filter((t) => t.outcome === 'passed');
  if (passed.length === 0) return { rule: 'no-tests', detail: report.tests.length > 0 ? `no test passed (${report.tests.length} skipped or expected to fail)` : 'no test ran' };
  const unchecked = passed.filter((t) => t.checks === 0);
  if (unchecked.length > 0) return { rule: 'no-assertions', detail: `${list(unchecked.map((t) => t.id))} passed without checking anything (no assertion ran)` };
  if (report.exitStatus !== null && report.exitStatus !== 0) return { rule: 'test-failure', detail: `the test runner ended with status ${report.exitStatus} although every test passed` };
  return { rule: null, detail: `${passed.length} test${passed.length === 1 ? '' : 's'} passed` };
}
