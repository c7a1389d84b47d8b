// Hostile samples, as a user trying to get bad data past validation would write them, in Python
// and in JavaScript: each is rejected, and the reason names the rule it broke. A correct sample
// passes with its mutation score. Afterwards the host is checked: no file written outside the
// sandbox, no socket reached, no process left, memory of every run bounded by its limit.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGrammars, type Grammars } from '../analysis/tree-sitter/grammars.js';
import { validateSample, type ValidateConfig } from '../processors/validate.js';
import { Sandbox, type SandboxFile, type SandboxResult, type ValidationReason } from '../sandbox/index.js';
import type { GeneratedSample } from '../schemas/contract.js';

const LIMITS = { wallMs: 6_000, memoryBytes: 256 * 1024 * 1024, maxProcesses: 48, outputBytes: 256 * 1024, diskBytes: 32 * 1024 * 1024, fileBytes: 8 * 1024 * 1024 };
/** Every path a hostile sample tries to write or reach on the host; none may exist afterwards. */
const MARK = `treesynth-hostile-${process.pid}`;
const HOST_MARKERS = [`/tmp/${MARK}`, `/var/tmp/${MARK}`, `/root/${MARK}`, join(process.cwd(), MARK), join(tmpdir(), MARK)];

const ADD = 'def add(a, b):\n    return a + b\n';
const ADD_JS = 'exports.add = (a, b) => a + b;\n';
const py = (test: string, extra: SandboxFile[] = [], solution = ADD): SandboxFile[] => [{ path: 'solution.py', role: 'solution', content: solution }, { path: 'test_solution.py', role: 'test', content: test }, ...extra];
const js = (test: string, extra: SandboxFile[] = [], solution = ADD_JS): SandboxFile[] => [{ path: 'add.js', role: 'solution', content: solution }, { path: 'add.test.js', role: 'test', content: test }, ...extra];
const NODE_TEST = "const test = require('node:test');\nconst assert = require('node:assert');\nconst { add } = require('./add.js');\n";
const show = (r: SandboxResult): string => `${r.reason}: ${r.detail}\n${r.output.slice(-1200)}`;

/** Processes of this sandbox's uids still alive. */
const processesOf = ({ from, to }: { from: number; to: number }): number[] =>
  execFileSync('ps', ['-e', '-o', 'uid='], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number).filter((uid) => uid >= from && uid <= to);

describe('hostile samples', () => {
  let sandbox: Sandbox;
  let grammars: Grammars;
  let tcp: Server;
  let unix: Server;
  let tcpPort = 0;
  let socketDir: string;
  let socketPath: string;
  let reached = 0;
  const peaks: number[] = [];
  const run = async (language: string, files: SandboxFile[]): Promise<SandboxResult> => {
    const r = await sandbox.run(language, files);
    if (r.memoryPeakBytes != null) peaks.push(r.memoryPeakBytes);
    return r;
  };

  beforeAll(async () => {
    sandbox = await Sandbox.create({ limits: LIMITS, concurrency: 2 });
    grammars = await loadGrammars(['python', 'javascript']);
    tcp = createServer((s) => {
      reached++;
      s.end('hello\n');
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    tcpPort = (tcp.address() as { port: number }).port;
    // A Unix socket outside /tmp, where the old sandbox (the host mounted read-only) let samples connect.
    socketDir = mkdtempSync(join(process.cwd(), '.treesynth-socket-'));
    socketPath = join(socketDir, 'x.sock');
    unix = createServer((s) => {
      reached++;
      s.end('hello\n');
    });
    await new Promise<void>((resolve) => unix.listen(socketPath, resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    await new Promise<void>((resolve) => unix.close(() => resolve()));
    rmSync(socketDir, { recursive: true, force: true });
    grammars.delete();
  });

  describe('a pass is a test report', () => {
    const cases: Array<[string, string, SandboxFile[], ValidationReason, RegExp?]> = [
      ['Python: os._exit(0) before the asserts', 'python', py('import os\nfrom solution import add\n\n\ndef test_add():\n    os._exit(0)\n    assert add(2, 3) == 6\n'), 'incomplete-run', /did not finish on its own/],
      ['Python: os._exit(0) when the test file is imported', 'python', py('import os\nos._exit(0)\n\n\ndef test_add():\n    assert False\n'), 'incomplete-run'],
      ['Python: sys.exit(0) inside a test is a failing test', 'python', py('import sys\n\n\ndef test_add():\n    sys.exit(0)\n'), 'test-failure'],
      ['Python: a test script with no asserts', 'python', [{ path: 'solution.py', role: 'solution', content: ADD }, { path: 'check.py', role: 'test', content: 'from solution import add\n\nif __name__ == "__main__":\n    add(2, 3)\n    print("ok")\n' }], 'no-assertions', /check\.py.*no assertion ran/],
      ['Python: a pytest test that asserts nothing', 'python', py('from solution import add\n\n\ndef test_add():\n    add(2, 3)\n'), 'no-assertions', /test_add passed without checking anything/],
      ['Python: a test file with no test in it', 'python', py('from solution import add\n\n\ndef helper():\n    assert add(2, 3) == 5\n\nimport pytest\n'), 'no-tests'],
      ['Python: every test skipped', 'python', py('import pytest\n\n\n@pytest.mark.skip("later")\ndef test_add():\n    assert False\n'), 'no-tests', /no test passed/],
      ['Python: conftest.py forcing every test to pass', 'python', py('def test_add():\n    assert False\n', [{ path: 'conftest.py', role: 'solution', content: 'import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n    out = yield\n    out.get_result().outcome = "passed"\n' }]), 'forbidden-file', /conftest\.py/],
      ['Python: sitecustomize.py taking over start-up', 'python', py('def test_add():\n    assert False\n', [{ path: 'sitecustomize.py', role: 'solution', content: 'import os\nos._exit(0)\n' }]), 'forbidden-file', /interpreter start-up/],
      ['Python: a .pth file', 'python', py('def test_add():\n    assert False\n', [{ path: 'evil.pth', role: 'solution', content: 'import os; os._exit(0)\n' }]), 'forbidden-file'],
      ['Python: a test module loading a plugin of the sample', 'python', py('pytest_plugins = ["helper"]\n\n\ndef test_add():\n    assert False\n', [{ path: 'helper.py', role: 'solution', content: 'import pytest\n\n@pytest.hookimpl(tryfirst=True)\ndef pytest_pyfunc_call(pyfuncitem):\n    return True\n' }]), 'forbidden-file', /pytest_plugins/],
      ['Python: the solution writes a conftest.py when imported', 'python', py('from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 6\n', [], 'open("conftest.py", "w").write("import pytest\\n@pytest.hookimpl(hookwrapper=True)\\ndef pytest_runtest_makereport(item, call):\\n    out = yield\\n    out.get_result().outcome = \\"passed\\"\\n")\n\ndef add(a, b):\n    return a + b\n'), 'test-failure'],
      ['Python: the solution rewrites the test file', 'python', py('from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 6\n', [], 'import os\nwith open(os.path.join(os.path.dirname(__file__), "test_solution.py"), "w") as f:\n    f.write("def test_add():\\n    assert True\\n")\n\ndef add(a, b):\n    return a + b\n'), 'tests-modified', /test_solution\.py/],
      ['Python: the solution replaces the test file by renaming over it', 'python', py('from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 6\n', [], 'import os\nopen("fake.py", "w").write("def test_add():\\n    assert True\\n")\nos.replace("fake.py", "test_solution.py")\n\ndef add(a, b):\n    return a + b\n'), 'tests-modified'],
      ['Python: a forged report written to the report descriptor', 'python', py('import os\n\n\ndef test_add():\n    os.write(4, b\'{"event": "test", "id": "x", "outcome": "passed", "checks": 9}\\n{"event": "done", "exitstatus": 0}\\n\')\n    os._exit(0)\n'), 'report-invalid', /nonce/],
      ['Python: a printed pytest summary, then exit 0', 'python', py('import os, sys\n\n\ndef test_add():\n    sys.__stdout__.write("1 passed in 0.01s\\n")\n    os._exit(0)\n'), 'incomplete-run'],
      ['Python: pytest\'s reports patched to say "passed"', 'python', py('from _pytest.reports import TestReport\n\n_init = TestReport.__init__\n\n\ndef _passed(self, *a, **k):\n    _init(self, *a, **k)\n    self.outcome = "passed"\n\n\nTestReport.__init__ = _passed\n\n\ndef test_add():\n    assert True\n    assert 1 == 2\n'), 'test-failure'],
      ['Python: pytest.exit(returncode=0) before the last test', 'python', py('import pytest\nfrom solution import add\n\n\ndef test_a():\n    assert add(2, 3) == 5\n\n\ndef test_b():\n    pytest.exit("enough", returncode=0)\n\n\ndef test_c():\n    assert add(1, 1) == 3\n'), 'incomplete-run', /only 1 of the 3 collected tests/],
      ['Python: a test forks and both processes carry on reporting', 'python', py('import os\n\n\ndef test_a():\n    os.fork()\n    assert True\n\n\ndef test_b():\n    assert 1 + 1 == 2\n'), 'report-invalid'],
      ['Python: roles swapped (the "test" is the solution, no asserts)', 'python', [{ path: 'solution.py', role: 'test', content: ADD }, { path: 'test_solution.py', role: 'solution', content: 'from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n' }], 'no-assertions'],
      ['Node: process.exit(0) before the tests', 'javascript', js(`${NODE_TEST}process.exit(0);\ntest('add', () => assert.strictEqual(add(2, 3), 6));\n`), 'incomplete-run', /exited before its tests finished/],
      ['Node: process.exit(0) inside a test', 'javascript', js(`${NODE_TEST}test('first', () => assert.strictEqual(add(2, 3), 5));\ntest('second', () => { process.exit(0); });\ntest('third', () => assert.strictEqual(add(2, 3), 6));\n`), 'incomplete-run'],
      ['Node: process.exit(0) inside a test, after silencing the harness', 'javascript', js(`${NODE_TEST}test('first', () => assert.strictEqual(add(2, 3), 5));\ntest('second', async () => { process.removeAllListeners('exit'); await new Promise((r) => setTimeout(r, 50)); process.reallyExit(0); });\ntest('third', () => assert.strictEqual(add(2, 3), 6));\n`), 'incomplete-run', /second|third|started and never finished|did not finish/],
      ['Node: a test file with no tests', 'javascript', js(`${NODE_TEST}console.log(add(2, 3));\n`), 'no-tests', /add\.test\.js reported no test/],
      ['Node: every test skipped', 'javascript', js(`${NODE_TEST}test.skip('add', () => assert.strictEqual(add(2, 3), 6));\n`), 'no-tests'],
      ['Node: node_modules shipped with the sample', 'javascript', js(`${NODE_TEST}test('add', () => assert.strictEqual(add(2, 3), 6));\n`, [{ path: 'node_modules/assert/index.js', role: 'solution', content: 'module.exports = () => {};\n' }]), 'forbidden-file', /node_modules/],
      ['Node: the solution rewrites the test file', 'javascript', js(`${NODE_TEST}test('add', () => assert.strictEqual(add(2, 3), 6));\n`, [], "require('node:fs').writeFileSync(__dirname + '/add.test.js', \"require('node:test')('add', () => {});\\n\");\nexports.add = (a, b) => a + b;\n"), 'tests-modified', /add\.test\.js/],
      ['Node: an exit code forced to 0 after a failure', 'javascript', js(`${NODE_TEST}process.on('exit', () => { process.exitCode = 0; });\ntest('add', () => assert.strictEqual(add(2, 3), 6));\n`), 'test-failure'],
      ['Node: a forged report written to fd 4', 'javascript', js(`${NODE_TEST}test('add', () => { require('node:fs').writeSync(4, '{"event":"done"}\\n'); });\n`), 'test-failure', /EBADF|bad file descriptor/i],
    ];
    for (const [name, language, files, reason, detail] of cases) {
      it(`${name} → ${reason}`, async () => {
        const r = await run(language, files);
        expect(r.reason, show(r)).toBe(reason);
        expect(r.passed).toBe(false);
        if (detail) expect(r.detail, show(r)).toMatch(detail);
      });
    }
  });

  describe('test adequacy: tests that pass without testing are caught by their mutants', () => {
    const sample = (id: string, language: string, files: SandboxFile[]): GeneratedSample => ({
      sampleId: id, taskId: id, treeKey: 'all', level: 'function', language, instruction: 'Clamp x into [lo, hi].', analysis: '', files, features: [],
      provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 }, usage: { promptTokens: 0, completionTokens: 0, requests: 0 }, elapsedMs: 0, validation: null, createdAt: 0,
    });
    const CLAMP_PY = 'def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n';
    const CLAMP_JS = 'function clamp(x, lo, hi) {\n  if (x < lo) return lo;\n  if (x > hi) return hi;\n  return x;\n}\nmodule.exports = { clamp };\n';
    const config = (): ValidateConfig => ({ runner: sandbox, turns: 0, concurrency: 2, mutation: { grammars, maxMutants: 6, seed: 7, minScore: 0.5 } });

    it('Python: `assert True` is a check, but it catches no mutant → low-mutation-score', async () => {
      const o = await validateSample(sample('py-vacuous', 'python', [{ path: 'clamp.py', role: 'solution', content: CLAMP_PY }, { path: 'test_clamp.py', role: 'test', content: 'from clamp import clamp\n\n\ndef test_clamp():\n    clamp(5, 0, 10)\n    assert True\n' }]), config());
      expect(o.ok).toBe(false);
      if (!o.ok) expect(o.rejection, JSON.stringify(o.rejection).slice(0, 2000)).toMatchObject({ reason: 'low-mutation-score', detail: expect.stringMatching(/caught [01] of \d+ mutants/) });
    });

    it('Node: a test that asserts nothing → low-mutation-score', async () => {
      const o = await validateSample(sample('js-vacuous', 'javascript', [{ path: 'clamp.js', role: 'solution', content: CLAMP_JS }, { path: 'clamp.test.js', role: 'test', content: "const test = require('node:test');\nconst { clamp } = require('./clamp.js');\ntest('clamp', () => { clamp(5, 0, 10); });\n" }]), config());
      expect(o.ok).toBe(false);
      if (!o.ok) expect(o.rejection.reason).toBe('low-mutation-score');
    });

    it('a correct sample passes, in Python and in Node, with its mutation score', async () => {
      const [p, j] = await Promise.all([
        validateSample(sample('py-good', 'python', [{ path: 'clamp.py', role: 'solution', content: CLAMP_PY }, { path: 'test_clamp.py', role: 'test', content: 'from clamp import clamp\n\n\ndef test_clamp():\n    assert clamp(-1, 0, 10) == 0\n    assert clamp(5, 0, 10) == 5\n    assert clamp(11, 0, 10) == 10\n' }]), config()),
        validateSample(sample('js-good', 'javascript', [{ path: 'clamp.js', role: 'solution', content: CLAMP_JS }, { path: 'clamp.test.js', role: 'test', content: "const test = require('node:test');\nconst assert = require('node:assert');\nconst { clamp } = require('./clamp.js');\ntest('clamp', () => {\n  assert.strictEqual(clamp(-1, 0, 10), 0);\n  assert.strictEqual(clamp(5, 0, 10), 5);\n  assert.strictEqual(clamp(11, 0, 10), 10);\n});\n" }]), config()),
      ]);
      for (const o of [p, j]) {
        expect(o.ok, JSON.stringify(o)).toBe(true);
        if (!o.ok) continue;
        expect(o.value.validation!.mutation!.score).toBeGreaterThanOrEqual(0.5);
        expect(o.value.validation!.tests).toMatchObject({ passed: 1, failed: 0 });
      }
    });
  });

  describe('a sandbox that holds', () => {
    it('no network: a TCP listener on the host loopback is not reached, from Python or Node', async () => {
      const [p, j] = await Promise.all([
        run('python', py(`import socket\n\n\ndef test_net():\n    socket.create_connection(("127.0.0.1", ${tcpPort}), timeout=2).recv(10)\n`)),
        run('javascript', js(`${NODE_TEST}test('net', async () => { await fetch('http://127.0.0.1:${tcpPort}/'); });\n`)),
      ]);
      expect(p.reason, show(p)).toBe('sandbox-violation');
      expect(j.reason, show(j)).toBe('sandbox-violation');
    });

    it('no host Unix socket is reachable, even outside /tmp (the listener is in the project directory)', async () => {
      const [p, j] = await Promise.all([
        run('python', py(`import socket\n\n\ndef test_unix():\n    s = socket.socket(socket.AF_UNIX)\n    s.connect(${JSON.stringify(socketPath)})\n    assert s.recv(10) == b"hello\\n"\n`)),
        run('javascript', js(`${NODE_TEST}const net = require('node:net');\ntest('unix', () => new Promise((resolve, reject) => { const s = net.connect(${JSON.stringify(socketPath)}, resolve); s.on('error', reject); }));\n`)),
      ]);
      expect(p.passed, show(p)).toBe(false);
      expect(j.passed, show(j)).toBe(false);
      expect(p.output).toMatch(/No such file or directory/);
      expect(j.output).toMatch(/ENOENT/);
    });

    it('nothing of the host is visible but the runtime: no project, no /etc/passwd, no home, no /var or /run', async () => {
      // Host files that exist here (a home directory may still appear as the path to the runtime).
      const paths = [join(process.cwd(), 'package.json'), '/etc/passwd', '/etc/hostname', join(homedir(), '.bashrc'), '/var/tmp', '/run', '/home', '/sys'].filter((p) => existsSync(p));
      expect(paths.length).toBeGreaterThan(3);
      const r = await run('python', py(`import os\n\n\ndef test_host():\n    seen = [p for p in ${JSON.stringify(paths)} if os.path.exists(p)]\n    assert seen == [], seen\n    assert os.path.exists("/usr/bin/env")\n`));
      expect(r.reason, show(r)).toBe('passed');
    });

    it('no nested user namespaces, from Python (libc unshare) or Node (the unshare tool)', async () => {
      const [p, j] = await Promise.all([
        run('python', py('import ctypes, os\n\n\ndef test_userns():\n    libc = ctypes.CDLL(None, use_errno=True)\n    assert libc.unshare(0x10000000) == 0, os.strerror(ctypes.get_errno())\n')),
        run('javascript', js(`${NODE_TEST}test('userns', () => { require('node:child_process').execFileSync('unshare', ['-Ur', 'true'], { stdio: 'pipe' }); });\n`)),
      ]);
      expect(p.reason, show(p)).toBe('sandbox-violation');
      expect(p.output).toMatch(/Operation not permitted/);
      expect(j.reason, show(j)).toBe('sandbox-violation');
    });

    it('no write outside: not to the host, not to /usr; the disk it has is capped', async () => {
      const targets = HOST_MARKERS.map((m) => JSON.stringify(m)).join(', ');
      const [outside, usr, full, big] = await Promise.all([
        run('python', py(`def test_write():\n    for p in [${targets}]:\n        try:\n            open(p, "w").write("x")\n        except OSError:\n            pass\n    open("/usr/${MARK}", "w").write("x")\n`)),
        run('javascript', js(`${NODE_TEST}test('usr', () => require('node:fs').writeFileSync('/usr/lib/${MARK}', 'x'));\n`)),
        run('python', py('def test_fill():\n    for i in range(100):\n        with open(f"/tmp/fill{i}", "wb") as f:\n            f.write(b"x" * (4 << 20))\n')),
        run('javascript', js(`${NODE_TEST}test('big', () => require('node:fs').writeFileSync('big.bin', Buffer.alloc(64 << 20, 1)));\n`)),
      ]);
      expect(outside.reason, show(outside)).toBe('sandbox-violation');
      expect(usr.reason, show(usr)).toBe('sandbox-violation');
      expect(full.reason, show(full)).toBe('output-limit');
      expect(full.detail).toMatch(/disk limit of 32 MB/);
      expect(big.reason, show(big)).toBe('output-limit');
    });

    it('fork bombs stop at the process limit, in Python and in Node', async () => {
      const [p, j] = await Promise.all([
        run('python', py('import os\n\n\ndef test_bomb():\n    while True:\n        os.fork()\n')),
        run('javascript', js(`${NODE_TEST}const { spawn } = require('node:child_process');\ntest('bomb', async () => { for (;;) { spawn('sleep', ['30']); await new Promise((r) => setImmediate(r)); } });\n`)),
      ]);
      expect(p.reason, show(p)).toBe('process-limit');
      expect(j.reason, show(j)).toBe('process-limit');
    });

    it('endless output and endless sleep end at their limits, in Python and in Node', async () => {
      const [out, sleep] = await Promise.all([
        run('javascript', js(`${NODE_TEST}test('shout', () => { for (;;) process.stdout.write('x'.repeat(65536)); });\n`)),
        run('python', py('import time\n\n\ndef test_sleep():\n    time.sleep(3600)\n')),
      ]);
      const [pyOut, jsSleep] = await Promise.all([
        run('python', py('import sys\n\n\ndef test_shout():\n    while True:\n        sys.__stdout__.write("x" * 65536)\n')),
        run('javascript', js(`${NODE_TEST}test('sleeps', () => new Promise(() => setInterval(() => {}, 1000)));\n`)),
      ]);
      expect(out.reason, show(out)).toBe('output-limit');
      expect(pyOut.reason, show(pyOut)).toBe('output-limit');
      expect(sleep.reason, show(sleep)).toBe('timeout');
      expect(jsSleep.reason, show(jsSleep)).toBe('timeout');
    });

    it("memory is capped for the whole run, not per process: many processes, or a shared mapping, stay within it", async () => {
      // Eight processes of 100 MB each (each under the per-process limit), and 1 GiB of shared
      // anonymous memory (which RLIMIT_DATA does not count at all).
      const [procs, shared, node] = await Promise.all([
        run('python', py('import os, time\n\n\ndef test_many():\n    kids = []\n    for _ in range(8):\n        pid = os.fork()\n        if pid == 0:\n            b = bytearray(100 << 20)\n            for i in range(0, len(b), 4096):\n                b[i] = 1\n            time.sleep(5)\n            os._exit(0)\n        kids.append(pid)\n    assert all(os.waitpid(k, 0)[1] == 0 for k in kids)\n')),
        run('python', py('import mmap\n\n\ndef test_shared():\n    m = mmap.mmap(-1, 1 << 30)\n    for i in range(0, len(m), 4096):\n        m[i] = 1\n    assert m[0] == 1\n')),
        // Node's threads count as processes: two children of 150 MB each, within the process limit.
        run('javascript', js(`${NODE_TEST}const { spawn } = require('node:child_process');\ntest('many', async () => {\n  const kids = Array.from({ length: 2 }, () => spawn(process.execPath, ['-e', 'const b = Buffer.alloc(150 << 20, 1); setTimeout(() => b, 5000);']));\n  const codes = await Promise.all(kids.map((k) => new Promise((r) => k.on('exit', (c, s) => r(s || c)))));\n  assert.deepStrictEqual(codes, [0, 0]);\n});\n`)),
      ]);
      if (sandbox.hasCgroups) {
        expect(procs.reason, show(procs)).toBe('memory');
        expect(shared.reason, show(shared)).toBe('memory');
        expect(node.reason, show(node)).toBe('memory');
      } else {
        // Without a writable cgroup the sandbox cannot hold this, and says so.
        expect(sandbox.warnings().join('\n')).toMatch(/no writable cgroup/);
      }
    });
  });

  describe('the host afterwards', () => {
    it('has no file written, no socket reached, no process left, and every run within its memory limit', async () => {
      for (const path of HOST_MARKERS) expect(existsSync(path), path).toBe(false);
      expect(existsSync(`/usr/${MARK}`) || existsSync(`/usr/lib/${MARK}`)).toBe(false);
      expect(reached).toBe(0);
      expect(processesOf(sandbox.uids)).toEqual([]);
      if (sandbox.hasCgroups) {
        expect(peaks.length).toBeGreaterThan(0);
        for (const peak of peaks) expect(peak).toBeLessThanOrEqual(LIMITS.memoryBytes);
        // Every run's cgroup is gone.
        expect(execFileSync('find', ['/sys/fs/cgroup', '-maxdepth', '5', '-name', `treesynth-${process.pid}-*`], { encoding: 'utf8' }).trim()).toBe('');
      }
    });
  });
});
