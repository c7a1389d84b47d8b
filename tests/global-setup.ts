// Before the suites: build the CLI (the CLI tests run the built `treesynth` command) and make
// sure the Kafka suites have a broker and a schema registry. A failed build is reported here
// and then fails the CLI tests themselves.
//
// Kafka and the registry, handed to the suites as `kafkaStack` (provide/inject; see
// tests/kafka/stack-env.ts):
//   TREESYNTH_TEST_KAFKA=off  the Kafka suites are skipped (one line says so);
//   KAFKA_BROKERS set         used as is with SCHEMA_REGISTRY_URL (CI may export both), nothing started;
//   otherwise                 `docker/stack.sh status`: a stack already running is used and left
//                             running; else `docker/stack.sh up` starts one, stopped again in the
//                             teardown. If it cannot start, the Kafka suites fail with its error.
//
// Test runs on one checkout share the stack (one data folder, fixed ports): a second `vitest`
// finds the first one's stack running and uses it. So each run holds a lease on it
// (<stack dir>/test-runs/lease-<pid>), a stack started by a test run is recorded with its
// pids (owner.json), and the last run to leave stops it, but only if its processes are still
// the ones a test run started. These decisions are made under a lock (flock, which
// docker/stack.sh needs too), so a teardown cannot stop the stack while another run takes it.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import type { KafkaStack } from './kafka/stack-env.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stackScript = join(root, 'docker', 'stack.sh');
// docker/stack.sh's own default; the same variable moves both.
const stackEnvDir = process.env['TREESYNTH_STACK_DIR'];
const stackDir = stackEnvDir ? (isAbsolute(stackEnvDir) ? stackEnvDir : resolve(root, stackEnvDir)) : join(root, '.treesynth', 'stack');
const runsDir = join(stackDir, 'test-runs');
const ownerFile = join(runsDir, 'owner.json');
const leaseFile = join(runsDir, `lease-${process.pid}`);
const say = (line: string) => process.stderr.write(`[global-setup] ${line}\n`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs docker/stack.sh; its stderr (progress) is shown live when `show`, and kept either way. */
function stack(args: string[], show: boolean): Promise<Run> {
  return new Promise((done) => {
    const child = spawn('bash', [stackScript, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (show) process.stderr.write(d);
    });
    child.on('error', (error) => done({ code: null, stdout, stderr: `${stderr}${error.message}\n` }));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** The two KEY=VALUE lines of `up` and `status`. */
function addresses(stdout: string): { brokers: string; registry: string } | null {
  const value = (key: string) => new RegExp(`^${key}=(.+)$`, 'm').exec(stdout)?.[1]?.trim();
  const brokers = value('KAFKA_BROKERS');
  const registry = value('SCHEMA_REGISTRY_URL');
  return brokers && registry ? { brokers, registry } : null;
}

/**
 * Holds an exclusive flock on `file` until the returned function is called. The lock belongs to
 * a `flock … cat` child reading our stdin: if this process dies, the pipe closes and the lock
 * goes with it. Without flock (docker/stack.sh would refuse to start anyway) runs unlocked.
 */
async function lock(file: string): Promise<() => Promise<void>> {
  const child = spawn('flock', ['-w', '1800', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((done) => child.on('close', () => done()));
  const locked = await new Promise<boolean>((done) => {
    child.stdout.once('data', () => done(true));
    child.on('error', () => done(false));
    child.on('close', () => done(false));
  });
  if (!locked) {
    say(`could not lock ${file} (flock missing or timed out); going on without it`);
    return async () => {};
  }
  return async () => {
    child.stdin.end();
    await exited;
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Other test runs holding a lease (leases of runs that died are removed). */
function otherLeases(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync(runsDir)) {
    const pid = Number(/^lease-(\d+)$/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    if (alive(pid)) pids.push(pid);
    else rmSync(join(runsDir, name), { force: true });
  }
  return pids;
}

/** The pids docker/stack.sh recorded for its two services ('' when not running). */
function servicePids(): { kafka: string; registry: string } {
  const read = (name: string) => {
    try {
      return readFileSync(join(stackDir, 'data', `${name}.pid`), 'utf8').trim();
    } catch {
      return '';
    }
  };
  return { kafka: read('kafka'), registry: read('registry') };
}

/**
 * Whether this run includes a Kafka suite. Only a run given file filters (`vitest run
 * tests/progress.test.ts`) can exclude them; the filters are read from a vitest internal, and
 * when they are not where expected the answer is "yes" (start the stack, as for a full run).
 */
async function runsKafkaSuites(project: TestProject): Promise<boolean> {
  const filters = (project.vitest as unknown as { filenamePattern?: unknown }).filenamePattern;
  if (!Array.isArray(filters) || filters.length === 0) return true;
  try {
    const { testFiles } = await project.globTestFiles(filters as string[]);
    return testFiles.some((file) => file.replaceAll('\\', '/').includes('/tests/kafka/'));
  } catch {
    return true;
  }
}

function failure(what: string, run: Run): KafkaStack {
  const lines = run.stderr.trim().split('\n');
  const reason = lines.filter((l) => l.startsWith('stack: error:')).at(-1) ?? lines.at(-1) ?? '(no output)';
  const tail = lines.slice(-30);
  const detail = tail.length > 1 ? `\n--- its last output ---\n${tail.join('\n')}` : '';
  say(`${what} failed (exit ${run.code}): ${reason}`);
  return { state: 'failed', error: `${what} failed (exit ${run.code}): ${reason}${detail}` };
}

/** Finds or starts the stack; `leased` says whether the teardown has a lease to give back. */
async function provideStack(project: TestProject): Promise<{ stack: KafkaStack; leased: boolean }> {
  if (process.env['TREESYNTH_TEST_KAFKA'] === 'off') {
    say('Kafka suites skipped: TREESYNTH_TEST_KAFKA=off');
    return { stack: { state: 'off', reason: 'TREESYNTH_TEST_KAFKA=off' }, leased: false };
  }
  const brokers = process.env['KAFKA_BROKERS'];
  if (brokers) {
    const registry = process.env['SCHEMA_REGISTRY_URL'];
    if (!registry) {
      return { stack: { state: 'failed', error: 'KAFKA_BROKERS is set but SCHEMA_REGISTRY_URL is not: export both, or neither to let the tests start docker/stack.sh' }, leased: false };
    }
    return { stack: { state: 'ready', brokers, registry, source: 'environment' }, leased: false };
  }
  if (!(await runsKafkaSuites(project))) {
    return { stack: { state: 'failed', error: 'the Kafka stack was not started: the file filters of this run selected no tests/kafka suite when vitest started' }, leased: false };
  }

  mkdirSync(runsDir, { recursive: true });
  const unlock = await lock(join(runsDir, '.lock'));
  try {
    writeFileSync(leaseFile, `${process.pid}\n`);
    const status = await stack(['status'], false);
    const running = status.code === 0 ? addresses(status.stdout) : null;
    if (running) {
      const others = otherLeases();
      const note = ownedByTestRuns()
        ? `started by a test run${others.length > 0 ? ` and used by ${others.length} other(s)` : ''}; the last run out stops it`
        : 'not started by a test run, so it is left running';
      say(`Kafka suites use the stack already running (${running.brokers}, ${running.registry}): ${note}`);
      return { stack: { state: 'ready', ...running, source: 'running' }, leased: true };
    }

    say('starting the Kafka stack for the Kafka suites: bash docker/stack.sh up (TREESYNTH_TEST_KAFKA=off skips them)');
    const t0 = Date.now();
    const up = await stack(['up'], true);
    // `up` is idempotent: a service that was already running (status failed on the other one)
    // is not a test run's to stop, and `down` cannot stop just one, so then nobody owns it.
    // Otherwise this run owns what `up` started, even when it failed half-way.
    if (/already running/.test(up.stderr)) rmSync(ownerFile, { force: true });
    else writeFileSync(ownerFile, `${JSON.stringify(servicePids())}\n`);
    const started = addresses(up.stdout);
    if (up.code !== 0 || !started) return { stack: failure('docker/stack.sh up', up), leased: true };
    const partial = /already running/.test(up.stderr) ? '; part of it was already running, so it is left running afterwards' : '';
    say(`Kafka stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s${partial}`);
    return { stack: { state: 'ready', ...started, source: 'started' }, leased: true };
  } finally {
    await unlock();
  }
}

/**
 * Whether the running services are the processes a test run started (owner.json); a record
 * that no longer matches (stopped, or restarted by someone else) is dropped.
 */
function ownedByTestRuns(): boolean {
  let owner: { kafka: string; registry: string };
  try {
    owner = JSON.parse(readFileSync(ownerFile, 'utf8')) as { kafka: string; registry: string };
  } catch {
    return false;
  }
  const now = servicePids();
  if ((now.kafka || now.registry) && now.kafka === owner.kafka && now.registry === owner.registry) return true;
  rmSync(ownerFile, { force: true });
  return false;
}

/** Gives the lease back; the last test run out stops a stack that a test run started. */
async function releaseStack(): Promise<void> {
  const unlock = await lock(join(runsDir, '.lock'));
  try {
    rmSync(leaseFile, { force: true });
    const others = otherLeases();
    if (!ownedByTestRuns()) return; // the developer's stack (or gone): left as it is
    if (others.length > 0) {
      say(`the Kafka stack stays up for ${others.length} other test run(s) using it (pid ${others.join(', ')}); the last one stops it`);
      return;
    }
    // Plain `down`, not --clean: the data folder (KRaft log, registry database, service logs)
    // may predate this run (a developer's earlier `up`/`down`), and its logs are what explains
    // a failed suite. Only the processes are the test runs'; CI's .ci/run cleans up fully.
    say('stopping the Kafka stack a test run started: bash docker/stack.sh down');
    const down = await stack(['down'], true);
    if (down.code === 0) rmSync(ownerFile, { force: true });
    else say(`docker/stack.sh down failed (exit ${down.code}); stop it by hand`);
  } finally {
    await unlock();
  }
}

async function build(): Promise<void> {
  try {
    await promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const out = (error as { stdout?: string }).stdout ?? '';
    process.stderr.write(`[global-setup] build failed; CLI tests will fail:\n${out.slice(0, 4000)}\n`);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The build and the JVMs' start overlap.
  const [, { stack: kafkaStack, leased }] = await Promise.all([build(), provideStack(project)]);
  project.provide('kafkaStack', kafkaStack);
  return async () => {
    if (leased) await releaseStack();
  };
}
