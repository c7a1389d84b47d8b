// The sandbox as a specification: correct samples pass, and hostile ones are contained and
// rejected with the right reason, while the machine stays usable. Real bubblewrap, real
// interpreters, small limits so the suite stays quick.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoopbackCanary, type LoopbackCanary } from './fakes/loopback-canary.js';
import { parseMountInfo, parseProcCgroup } from '../sandbox/cgroup.js';
import { judgeReport, parseReport, Sandbox, type SandboxFile, type SandboxResult } from '../sandbox/index.js';

const LIMITS = { wallMs: 4_000, memoryBytes: 256 * 1024 * 1024, maxProcesses: 48, outputBytes: 256 * 1024 };

const py = (solution: string, test: string, testPath = 'test_solution.py'): SandboxFile[] => [
  { path: 'solution.py', role: 'solution', content: solution },
  { path: testPath, role: 'test', content: test },
];

const show = (r: SandboxResult): string => `${r.reason}: ${r.detail}\n${r.output.slice(-1500)}`;

describe('sandbox', () => {
  let sandbox: Sandbox;
  let canary: LoopbackCanary;

  beforeAll(async () => {
    sandbox = await Sandbox.create({ limits: LIMITS, concurrency: 4 });
    canary = await startLoopbackCanary();
  });
  afterAll(() => canary?.close());

  describe('correct samples pass', () => {
    it('Python with pytest', async () => {
      const r = await sandbox.run('python', py('def add(a, b):\n    return a + b\n', 'import pytest\nfrom solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_raises():\n    with pytest.raises(TypeError):\n        add(1, None)\n'));
      expect(r.reason, show(r)).toBe('passed');
      expect(r.passed).toBe(true);
      expect(r.command).toContain('pytest');
      expect(r.output).toMatch(/2 passed/);
    });

    it('Python as a plain script with asserts', async () => {
      const r = await sandbox.run('python', py('def add(a, b):\n    return a + b\n', 'from solution import add\n\nif __name__ == "__main__":\n    assert add(2, 3) == 5\n    print("ok")\n', 'check_add.py'));
      expect(r.reason, show(r)).toBe('passed');
      // A script is one test, run as __main__ under the harness; its assert counts as a check.
      expect(r.tests).toEqual({ total: 1, passed: 1, failed: 0, skipped: 0 });
    });

    it('JavaScript with node:test (CommonJS and ESM)', async () => {
      const r = await sandbox.run('javascript', [
        { path: 'src/math.js', role: 'solution', content: 'function add(a, b) { return a + b; }\nmodule.exports = { add };\n' },
        { path: 'test/math.test.js', role: 'test', content: "const test = require('node:test');\nconst assert = require('node:assert');\nconst { add } = require('../src/math.js');\ntest('adds', () => assert.strictEqual(add(2, 3), 5));\n" },
        { path: 'esm.mjs', role: 'solution', content: 'export const mul = (a, b) => a * b;\n' },
        { path: 'esm.test.mjs', role: 'test', content: "import test from 'node:test';\nimport assert from 'node:assert/strict';\nimport { mul } from './esm.mjs';\ntest('multiplies', () => assert.equal(mul(2, 3), 6));\n" },
      ]);
      expect(r.reason, show(r)).toBe('passed');
      expect(r.output).toMatch(/pass 2/);
    });

    it('TypeScript, transpiled outside and run under node --test', async () => {
      const r = await sandbox.run('typescript', [
        { path: 'stack.ts', role: 'solution', content: 'export class Stack<T> {\n  private items: T[] = [];\n  push(x: T): void { this.items.push(x); }\n  pop(): T | undefined { return this.items.pop(); }\n  get size(): number { return this.items.length; }\n}\n' },
        { path: 'stack.test.ts', role: 'test', content: "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { Stack } from './stack.ts';\n\ntest('push and pop', () => {\n  const s = new Stack<number>();\n  s.push(1); s.push(2);\n  assert.equal(s.pop(), 2);\n  assert.equal(s.size, 1);\n});\n" },
      ]);
      expect(r.reason, show(r)).toBe('passed');
    });
  });

  describe('failures are told apart', () => {
    it('a wrong assertion is a test failure, with the assertion in the output', async () => {
      const r = await sandbox.run('python', py('def add(a, b):\n    return a - b\n', 'from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n'));
      expect(r.reason, show(r)).toBe('test-failure');
      expect(r.output).toMatch(/assert -1 == 5/);
      expect(r.detail).toMatch(/assert|failed/i);
    });

    it('a syntax error in Python is found before the tests run', async () => {
      const r = await sandbox.run('python', py('def add(a, b)\n    return a + b\n', 'from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n'));
      expect(r.reason, show(r)).toBe('syntax-error');
      expect(r.output).toMatch(/solution\.py/);
    });

    it('a syntax error in TypeScript is found by the transpiler', async () => {
      const r = await sandbox.run('typescript', [
        { path: 'a.ts', role: 'solution', content: 'export function f( {\n' },
        { path: 'a.test.ts', role: 'test', content: "import { test } from 'node:test';\nimport { f } from './a';\ntest('x', () => f());\n" },
      ]);
      expect(r.reason, show(r)).toBe('syntax-error');
      expect(r.detail).toMatch(/^a\.ts:\d+:\d+/);
    });

    it('a package outside the allow-list is package-not-allowed, in Python (before the run) and in JavaScript', async () => {
      const p = await sandbox.run('python', py('import numpy_like_pkg_zz as np\n\ndef total(xs):\n    return np.sum(xs)\n', 'from solution import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n'));
      expect(p.reason, show(p)).toBe('package-not-allowed');
      expect(p.detail).toContain('solution.py:1 imports "numpy_like_pkg_zz"');
      const j = await sandbox.run('javascript', [
        { path: 'a.js', role: 'solution', content: "const _ = require('lodash-like-zz/fp');\nmodule.exports = { f: () => _.identity(1) };\n" },
        { path: 'a.test.js', role: 'test', content: "const test = require('node:test');\nconst { f } = require('./a.js');\ntest('x', () => f());\n" },
      ]);
      expect(j.reason, show(j)).toBe('package-not-allowed');
      expect(j.detail).toContain('"lodash-like-zz"');
    });

    it('a misnamed module of the sample itself is a test failure, not a missing package', async () => {
      const r = await sandbox.run('python', py('def add(a, b):\n    return a + b\n', 'from solutions import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n'));
      // "solutions" is a near-miss of the sample's own solution.py: a bug to debug, not a package.
      expect(r.reason, show(r)).toBe('test-failure');
      const member = await sandbox.run('python', py('def add(a, b):\n    return a + b\n', 'from solution import plus\n\n\ndef test_add():\n    assert plus(2, 3) == 5\n'));
      expect(member.reason, show(member)).toBe('test-failure');
    });

    it('files that leave the directory are an invalid sample and never written', async () => {
      const r = await sandbox.run('python', [
        { path: '../escape.py', role: 'solution', content: 'x = 1\n' },
        { path: 'test_x.py', role: 'test', content: 'def test_x():\n    pass\n' },
      ]);
      expect(r.reason).toBe('invalid-sample');
      const unknown = await sandbox.run('cobol', py('x = 1\n', 'def test_x():\n    pass\n'));
      expect(unknown.reason).toBe('unsupported-language');
    });
  });

  describe('hostile samples are contained', () => {
    it('cannot reach a TCP server on the host loopback: no network at all', async () => {
      const r = await sandbox.run('python', py('import socket\n\ndef fetch(port):\n    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:\n        return s.recv(100)\n', `from solution import fetch\n\n\ndef test_fetch():\n    assert fetch(${canary.port}) == b"hello\\n"\n`));
      expect(r.reason, show(r)).toBe('sandbox-violation');
      expect(r.detail).toMatch(/network/);
      expect(canary.connections).toBe(0);
    });

    it('cannot resolve or reach the internet from JavaScript', async () => {
      const r = await sandbox.run('javascript', [
        { path: 'net.js', role: 'solution', content: "const net = require('node:net');\nexports.reach = () => new Promise((resolve, reject) => { const s = net.connect(80, '1.1.1.1', () => resolve(true)); s.on('error', reject); });\n" },
        { path: 'net.test.js', role: 'test', content: "const test = require('node:test');\nconst { reach } = require('./net.js');\ntest('reaches', async () => { await reach(); });\n" },
      ]);
      expect(r.reason, show(r)).toBe('sandbox-violation');
      const dns = await sandbox.run('javascript', [
        { path: 'fetch.test.js', role: 'test', content: `const test = require('node:test');\ntest('fetches', async () => { await fetch('http://example.com/'); await fetch('http://127.0.0.1:${canary.port}/'); });\n` },
      ]);
      expect(dns.reason, show(dns)).toBe('sandbox-violation');
      expect(canary.connections).toBe(0);
    });

    it('cannot write outside its directory; its /tmp is its own', async () => {
      const name = `treesynth-escape-${process.pid}-${Date.now()}`;
      const r = await sandbox.run('python', py(
        'import os\n\ndef save(path):\n    with open(path, "w") as f:\n        f.write("pwned")\n',
        `from solution import save\n\n\ndef test_tmp():\n    save("/tmp/${name}")\n\n\ndef test_var_tmp():\n    save("/var/tmp/${name}")\n\n\ndef test_root():\n    save("/root/${name}")\n`,
      ));
      expect(r.reason, show(r)).toBe('sandbox-violation');
      expect(r.output).toMatch(/Read-only file system|Permission denied/);
      for (const dir of ['/tmp', '/var/tmp', '/root', tmpdir()]) expect(existsSync(`${dir}/${name}`)).toBe(false);
    });

    it('a fork bomb stops at the process limit and leaves nothing behind', async () => {
      const r = await sandbox.run('python', py('import os\n\ndef bomb():\n    while True:\n        os.fork()\n', 'from solution import bomb\n\n\ndef test_bomb():\n    bomb()\n'));
      expect(r.reason, show(r)).toBe('process-limit');
      // No process of this sandbox's uids survives the run.
      const { from, to } = sandbox.uids;
      const left = execFileSync('ps', ['-e', '-o', 'uid='], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number).filter((uid) => uid >= from && uid <= to);
      expect(left).toEqual([]);
    });

    it('endless allocation hits the memory limit, in Python and in JavaScript', async () => {
      const p = await sandbox.run('python', py('def hog():\n    xs = []\n    while True:\n        xs.append(bytearray(10_000_000))\n', 'from solution import hog\n\n\ndef test_hog():\n    hog()\n'));
      expect(p.reason, show(p)).toBe('memory');
      const j = await sandbox.run('javascript', [
        { path: 'hog.js', role: 'solution', content: 'exports.hog = () => { const xs = []; for (;;) xs.push(Buffer.alloc(10_000_000, 1)); };\n' },
        { path: 'hog.test.js', role: 'test', content: "const test = require('node:test');\ntest('hog', () => require('./hog.js').hog());\n" },
      ]);
      expect(j.reason, show(j)).toBe('memory');
      const heap = await sandbox.run('javascript', [
        { path: 'heap.test.js', role: 'test', content: "const test = require('node:test');\ntest('heap', () => { const xs = []; for (let i = 0; ; i++) xs.push(new Array(1_000_000).fill(i)); });\n" },
      ]);
      expect(heap.reason, show(heap)).toBe('memory');
    });

    it('an endless loop is stopped by the time limit, and so is a test that never ends', async () => {
      const started = Date.now();
      const [spin, sleeper] = await Promise.all([
        sandbox.run('python', py('def spin():\n    while True:\n        pass\n', 'from solution import spin\n\n\ndef test_spin():\n    spin()\n')),
        // Sleeping uses no CPU: only the wall clock ends it.
        sandbox.run('javascript', [{ path: 'sleep.test.js', role: 'test', content: "const test = require('node:test');\ntest('sleeps', () => new Promise(() => setInterval(() => {}, 1000)));\n" }]),
      ]);
      expect(spin.reason, show(spin)).toBe('timeout');
      expect(sleeper.reason, show(sleeper)).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(LIMITS.wallMs + 3_000);
    });

    it('printing gigabytes stops at the output limit', async () => {
      const r = await sandbox.run('python', py('import sys\n\ndef shout():\n    while True:\n        sys.stdout.write("x" * 65536)\n', 'from solution import shout\n\nif __name__ == "__main__":\n    shout()\n', 'run_shout.py'));
      expect(r.reason, show(r)).toBe('output-limit');
      expect(r.output.length).toBeLessThan(64 * 1024);
    });

    it('cannot read secrets in home directories or the environment', async () => {
      // A key file in a home directory (/root, or /home/<user>: the sandbox hides both).
      const secretFile = join(process.getuid?.() === 0 ? '/root' : homedir(), `.treesynth-test-secret-${process.pid}`);
      writeFileSync(secretFile, 'sk-file-secret');
      process.env['TREESYNTH_TEST_SECRET'] = 'sk-env-secret';
      try {
        const r = await sandbox.run('python', py(
          `import os\n\ndef look():\n    try:\n        text = open(${JSON.stringify(secretFile)}).read()\n    except OSError as e:\n        text = repr(e)\n    return text, os.environ.get("TREESYNTH_TEST_SECRET"), os.getuid()\n`,
          'from solution import look\n\nif __name__ == "__main__":\n    text, env, uid = look()\n    assert "No such file or directory" in text, text\n    assert env is None and uid != 0\n',
          'look.py',
        ));
        expect(r.reason, show(r)).toBe('passed');
        expect(r.output).not.toMatch(/sk-file-secret|sk-env-secret/);
      } finally {
        delete process.env['TREESYNTH_TEST_SECRET'];
        rmSync(secretFile, { force: true });
      }
    });

    it('removes throwaway directories that killed runs left behind', async () => {
      const root = mkdtempSync(join(tmpdir(), 'treesynth-sandbox-test-'));
      try {
        // A pid that is certainly gone: the first one above ours that no process holds.
        let dead = 4_000_000;
        while (existsSync(`/proc/${dead}`)) dead++;
        mkdirSync(join(root, `treesynth-sandbox-${dead}-abc`, 'sub'), { recursive: true });
        mkdirSync(join(root, `treesynth-sandbox-${process.pid}-def`));
        await Sandbox.create({ tmpDir: root, concurrency: 1 });
        expect(readdirSync(root).sort()).toEqual([`treesynth-sandbox-${process.pid}-def`]);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });

    it('runs samples concurrently and leaves no throwaway directory behind', async () => {
      // Its own parent directory: other suites running at the same time use the shared /tmp.
      const parent = mkdtempSync(join(tmpdir(), 'treesynth-sandbox-test-'));
      try {
        const own = await Sandbox.create({ limits: LIMITS, concurrency: 4, tmpDir: parent });
        const started = Date.now();
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => own.run('python', py(`def f():\n    return ${i}\n`, `from solution import f\n\n\ndef test_f():\n    assert f() == ${i}\n`))),
        );
        expect(results.map((r) => r.reason)).toEqual(Array(6).fill('passed'));
        expect(Date.now() - started).toBeLessThan(20_000);
        expect(readdirSync(parent)).toEqual([]);
      } finally {
        rmSync(parent, { recursive: true, force: true });
      }
    });
  });

  describe('where the machine gives less', () => {
    it('without a cgroup it says so, and still runs with per-process limits', async () => {
      const plain = await Sandbox.create({ limits: LIMITS, concurrency: 1, cgroups: false });
      expect(plain.hasCgroups).toBe(false);
      expect(plain.describe()).toMatch(/NO cgroup \(cgroups turned off\): memory and processes are limited per process only/);
      const r = await plain.run('python', py('def add(a, b):\n    return a + b\n', 'from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n'));
      expect(r.reason, show(r)).toBe('passed');
      expect(r.memoryPeakBytes).toBeNull();
    });

    it('never gives all slots together more memory than three quarters of the machine', async () => {
      const greedy = await Sandbox.create({ limits: { ...LIMITS, memoryBytes: 8 * 1024 ** 3 }, concurrency: 64, cgroups: false });
      expect(greedy.concurrency * 8 * 1024 ** 3).toBeLessThanOrEqual(totalmem() * 0.75);
      expect(greedy.warnings().join('\n')).toMatch(/64 runs at once would exceed/);
    });

    it('finds our cgroup in v2, in a hybrid v1 layout, and in a mount of a subtree', () => {
      const v2 = parseMountInfo('30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n');
      expect(v2).toEqual([{ root: '/', mountPoint: '/sys/fs/cgroup', fsType: 'cgroup2', superOptions: ['rw', 'nsdelegate'] }]);
      const hybrid = parseMountInfo('35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n41 31 0:38 /user.slice /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n');
      expect(hybrid.map((m) => [m.fsType, m.root, m.superOptions.includes('memory')])).toEqual([['cgroup', '/', true], ['cgroup2', '/user.slice', false]]);
      const paths = parseProcCgroup('4:memory:/process_api/abc\n8:pids:/\n0::/user.slice/session-1.scope\n');
      expect(Object.fromEntries(paths)).toEqual({ memory: '/process_api/abc', pids: '/', '': '/user.slice/session-1.scope' });
    });
  });

  describe('the report decides, rule by rule', () => {
    const line = (nonce: string, event: string, fields: Record<string, unknown> = {}) => `${JSON.stringify({ ...fields, event, nonce })}\n`;
    const pytest = (nonce: string, ...tests: Array<[string, string, number]>) =>
      line(nonce, 'start', { runner: 'pytest' }) + tests.map(([id, outcome, checks]) => line(nonce, 'test', { id, outcome, checks })).join('');

    it('passes a complete report with a checked, passing test', () => {
      const r = parseReport(pytest('n', ['t::a', 'passed', 2]) + line('n', 'done', { exitstatus: 0 }), 'n', '/tmp/work');
      expect(judgeReport(r)).toEqual({ rule: null, detail: '1 test passed' });
    });

    it('names the rule each broken report breaks', () => {
      const judge = (text: string) => judgeReport(parseReport(text, 'n', '/tmp/work')).rule;
      expect(judge('')).toBe('incomplete-run');
      expect(judge(pytest('n', ['t::a', 'passed', 1]))).toBe('incomplete-run');
      expect(judge(pytest('n', ['t::a', 'passed', 1]) + line('x', 'done', { exitstatus: 0 }))).toBe('report-invalid');
      // A test that forked, with both processes carrying on: two ends.
      expect(judge(pytest('n', ['t::a', 'passed', 1]) + line('n', 'done', { exitstatus: 0 }) + line('n', 'done', { exitstatus: 0 }))).toBe('report-invalid');
      // ... and when the forked child is killed before its end: its records still give it away,
      // by their pid or by a test reported twice.
      const fromPid = (pid: number, id: string) => line('n', 'test', { id, outcome: 'passed', checks: 1, pid });
      expect(judge(line('n', 'start', { runner: 'pytest', pid: 7 }) + fromPid(7, 't::a') + fromPid(8, 't::b') + line('n', 'done', { exitstatus: 0, pid: 7 }))).toBe('report-invalid');
      expect(judge(pytest('n', ['t::a', 'passed', 1], ['t::b', 'passed', 1], ['t::a', 'passed', 1]) + line('n', 'done', { exitstatus: 0 }))).toBe('report-invalid');
      expect(judge(line('n', 'start', { runner: 'pytest', pid: 7 }) + fromPid(7, 't::a') + fromPid(7, 't::b') + line('n', 'done', { exitstatus: 0, pid: 7 }))).toBe(null);
      expect(judge(pytest('n', ['t::a', 'passed', 1]) + 'not json\n' + line('n', 'done', { exitstatus: 0 }))).toBe('report-invalid');
      expect(judge(pytest('n', ['t::a', 'failed', 0]) + line('n', 'done', { exitstatus: 1 }))).toBe('test-failure');
      expect(judge(pytest('n', ['t::a', 'xpassed', 1]) + line('n', 'done', { exitstatus: 1 }))).toBe('test-failure');
      expect(judge(pytest('n') + line('n', 'done', { exitstatus: 5 }))).toBe('no-tests');
      expect(judge(pytest('n', ['t::a', 'skipped', 0]) + line('n', 'done', { exitstatus: 0 }))).toBe('no-tests');
      expect(judge(pytest('n', ['t::a', 'passed', 3], ['t::b', 'passed', 0]) + line('n', 'done', { exitstatus: 0 }))).toBe('no-assertions');
      // node --test: a file that reported nothing, and a test queued that never ended.
      const node = line('n', 'start', { runner: 'node' });
      expect(judge(node + line('n', 'test', { file: '/tmp/work/a.test.js', name: '/tmp/work/a.test.js', nesting: 0, outcome: 'passed', fileLevel: true }) + line('n', 'done'))).toBe('no-tests');
      expect(judge(node + line('n', 'enqueue', { file: '/tmp/work/a.test.js', name: 'x', nesting: 0 }) + line('n', 'done'))).toBe('incomplete-run');
      expect(judge(node + line('n', 'early-exit', { file: '/tmp/work/a.test.js' }) + line('n', 'done'))).toBe('incomplete-run');
    });
  });
});
