// The package allow-list as a specification: one requirements file that ./setup.sh installs and
// the sandbox enforces; Python samples may use exactly those packages (installed, offline,
// read-only), and a sample that declares or imports anything else is rejected with the reason
// package-not-allowed, naming the package, before it runs. Real bubblewrap and the packages
// ./setup.sh installed: CI runs ./setup.sh before the tests, so a missing folder fails here.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoopbackCanary, type LoopbackCanary } from './fakes/loopback-canary.js';
import { validateSample } from '../processors/validate.js';
import { checkPackages, defaultAllowListPath, defaultPythonPackagesDir, describeAllowList, installProblem, loadAllowList, parseAllowList } from '../sandbox/packages.js';
import { Sandbox, type SandboxFile, type SandboxResult } from '../sandbox/index.js';
import type { GeneratedSample } from '../schemas/contract.js';

const LIMITS = { wallMs: 8_000, memoryBytes: 512 * 1024 * 1024, maxProcesses: 48 };
const show = (r: SandboxResult): string => `${r.reason}: ${r.detail}\n${r.output.slice(-1500)}`;
const allowList = loadAllowList();
const pythonAbi = execFileSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' }).trim();

const USES_PACKAGES: SandboxFile[] = [
  {
    path: 'stats.py', role: 'solution',
    content: 'import numpy as np\nimport pandas as pd\nimport yaml\n\n\ndef summary(text):\n    values = yaml.safe_load(text)["values"]\n    return float(np.mean(values)), int(pd.Series(values).sum())\n',
  },
  { path: 'test_stats.py', role: 'test', content: 'from stats import summary\n\n\ndef test_summary():\n    assert summary("values: [1, 2, 3]") == (2.0, 6)\n' },
];
const withTest = (test: string): SandboxFile[] => [
  { path: 'calc.py', role: 'solution', content: 'def double(x):\n    return 2 * x\n' },
  { path: 'test_calc.py', role: 'test', content: test },
];

describe('the allow-list file', () => {
  it('pins each package to one version with hashes and says what a sample imports', () => {
    expect(allowList.packages.map((p) => p.name)).toEqual(expect.arrayContaining(['numpy', 'pandas', 'pyyaml']));
    for (const p of allowList.packages) expect(p.version).toMatch(/^\d+(\.\d+)+(\.post\d+)?$/);
    expect(allowList.packages.find((p) => p.name === 'pyyaml')?.imports).toEqual(['yaml']);
    expect(allowList.packages.find((p) => p.name === 'python-dateutil')?.imports).toEqual(['dateutil']);
    expect(describeAllowList(allowList)).toContain('pyyaml (import yaml)');
  });

  it('is the file ./setup.sh installs, hash-checked, into the folder the sandbox mounts', () => {
    const setup = readFileSync(join(import.meta.dirname, '..', 'setup.sh'), 'utf8');
    expect(defaultAllowListPath()).toBe(join(import.meta.dirname, '..', 'sandbox', 'python-packages.txt'));
    expect(setup).toContain('--require-hashes');
    expect(setup).toMatch(/-r sandbox\/python-packages\.txt/);
    expect(setup).toContain('pypkgs=.treesynth/python-packages');
    expect(defaultPythonPackagesDir()).toBe(join(import.meta.dirname, '..', '.treesynth', 'python-packages'));
  });

  it('refuses a line without a pinned version, a hash or its import name', () => {
    expect(() => parseAllowList('numpy>=2 --hash=sha256:' + 'a'.repeat(64) + '  # import: numpy\n', 'x.txt')).toThrow(/x\.txt:1/);
    expect(() => parseAllowList('numpy==2.2.6  # import: numpy\n', 'x.txt')).toThrow(/expected/);
    expect(() => parseAllowList('numpy==2.2.6 --hash=sha256:' + 'a'.repeat(64) + '\n', 'x.txt')).toThrow(/import: module/);
  });

  it('is installed here for this Python (CI runs ./setup.sh first)', async () => {
    // Not a skip condition: without the folder the sandbox tests below would prove nothing.
    expect(await installProblem(defaultPythonPackagesDir(), allowList, pythonAbi)).toBeNull();
    expect(await installProblem(join(tmpdir(), 'treesynth-no-such-dir'), allowList, pythonAbi)).toMatch(/run \.\/setup\.sh/);
    expect(await installProblem(defaultPythonPackagesDir(), { ...allowList, digest: '0'.repeat(64) }, pythonAbi)).toMatch(/another allow-list.*run \.\/setup\.sh/);
  });
});

describe('the package check before a run', () => {
  const stdlib = new Set(['os', 'sys', 'json', 'collections', 'importlib', '__future__']);
  const check = (files: SandboxFile[], declared: string[] = [], language: 'python' | 'javascript' = 'python') =>
    checkPackages({ language, files, declared, allowList, stdlib, isLocal: (name) => ['calc', 'helpers', 'stats'].includes(name) });

  it('accepts the standard library, pytest and the sample\'s own modules with no packages', () => {
    expect(check(withTest('from __future__ import annotations\nimport os, sys\nimport pytest\nfrom calc import double\nfrom helpers.io import read\nfrom . import sibling\n'))).toEqual({ ok: true, packages: [] });
  });

  it('adds allowed packages a file imports but the sample did not declare, by distribution name', () => {
    expect(check(USES_PACKAGES, ['numpy'])).toEqual({ ok: true, packages: ['numpy', 'pandas', 'pyyaml'] });
  });

  it('takes a declared package by its import name or with a version, as its distribution name', () => {
    expect(check(withTest('def test_x():\n    assert True\n'), ['yaml', 'PyYAML==6.0.2', 'Python_Dateutil'])).toEqual({ ok: true, packages: ['python-dateutil', 'pyyaml'] });
  });

  it('refuses a declared package outside the allow-list, naming it and the list', () => {
    const r = check(withTest('def test_x():\n    assert True\n'), ['numpy', 'requests']);
    expect(r).toMatchObject({ ok: false, name: 'requests' });
    if (!r.ok) expect(r.detail).toMatch(/declares package "requests", which is not on the allow-list \(numpy, pandas, pyyaml/);
  });

  it('refuses an import outside the allow-list, naming the file, line and module', () => {
    const r = check(withTest('import json\n\nfrom requests.adapters import HTTPAdapter\n'));
    expect(r).toMatchObject({ ok: false, name: 'requests' });
    if (!r.ok) expect(r.detail).toMatch(/^test_calc\.py:3 imports "requests"/);
  });

  it('refuses what only a literal __import__ names, but not words in strings or comments', () => {
    expect(check(withTest('lib = __import__("flask")\n'))).toMatchObject({ ok: false, name: 'flask' });
    expect(check(withTest('# import flask\nNOTE = "import requests"\n'))).toEqual({ ok: true, packages: [] });
  });

  it('allows no packages at all for JavaScript and TypeScript', () => {
    const r = check([{ path: 'a.test.js', role: 'test', content: "require('node:test');\n" }], ['lodash'], 'javascript');
    expect(r).toMatchObject({ ok: false, name: 'lodash' });
    if (!r.ok) expect(r.detail).toMatch(/Node's built-in modules only/);
  });
});

describe('the sandbox with the allow-listed packages', () => {
  let sandbox: Sandbox;
  let canary: LoopbackCanary;

  beforeAll(async () => {
    sandbox = await Sandbox.create({ limits: LIMITS, concurrency: 2 });
    canary = await startLoopbackCanary();
  });
  afterAll(() => canary?.close());

  it('says nothing is missing when ./setup.sh has run', () => {
    expect(sandbox.warnings().filter((w) => w.includes('packages'))).toEqual([]);
  });

  it('passes a sample using numpy, pandas and yaml, and records what it uses', async () => {
    const r = await sandbox.run('python', USES_PACKAGES, { packages: ['numpy'] });
    expect(r.reason, show(r)).toBe('passed');
    expect(r.packages).toEqual(['numpy', 'pandas', 'pyyaml']);
  });

  it('rejects a sample importing requests before running it, naming the package', async () => {
    const r = await sandbox.run('python', withTest('import requests\nfrom calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n'));
    expect(r.reason, show(r)).toBe('package-not-allowed');
    expect(r.detail).toContain('"requests"');
    expect(r.command).toBe('');
  });

  it('rejects a sample declaring a package outside the allow-list, even if it never imports it', async () => {
    const r = await sandbox.run('python', withTest('from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n'), { packages: ['scipy'] });
    expect(r.reason, show(r)).toBe('package-not-allowed');
    expect(r.detail).toContain('"scipy"');
  });

  it('refuses a computed import of a package the host has but the allow-list lacks, with the same reason', async () => {
    // pip is in the host Python's site-packages (./setup.sh makes sure of it); the static check cannot see this name.
    const r = await sandbox.run('python', withTest('import importlib\n\n\ndef test_pip():\n    name = "p" + "ip"\n    assert importlib.import_module(name)\n'));
    expect(r.reason, show(r)).toBe('package-not-allowed');
    expect(r.detail).toContain('"pip"');
  });

  it('still has no network with the packages mounted', async () => {
    const r = await sandbox.run('python', withTest(`import socket\nimport numpy\n\n\ndef test_net():\n    s = socket.create_connection(("127.0.0.1", ${canary.port}), timeout=2)\n    assert s.recv(5) == b"hello"\n`));
    expect(r.reason, show(r)).toBe('sandbox-violation');
    expect(canary.connections).toBe(0);
  });

  it('mounts the packages read-only: a sample cannot change numpy for the next one', async () => {
    const r = await sandbox.run('python', withTest('import os\nimport numpy\n\n\ndef test_write():\n    with open(os.path.join(os.path.dirname(numpy.__file__), "planted.py"), "w") as f:\n        f.write("x = 1\\n")\n'));
    expect(r.reason, show(r)).toBe('sandbox-violation');
    expect(r.detail).toMatch(/Read-only file system/);
  });

  it('rejects a sample that needs them when they are not installed, saying to run ./setup.sh', async () => {
    const missing = mkdtempSync(join(tmpdir(), 'treesynth-no-packages-'));
    try {
      const bare = await Sandbox.create({ limits: LIMITS, concurrency: 1, pythonPackagesDir: join(missing, 'python-packages') });
      expect(bare.warnings().join('\n')).toMatch(/not installed.*run \.\/setup\.sh/);
      const r = await bare.run('python', USES_PACKAGES);
      expect(r.reason, show(r)).toBe('missing-package');
      expect(r.detail).toMatch(/needs numpy, pandas, pyyaml, but .*run \.\/setup\.sh/);
      // The standard library alone still runs.
      const plain = await bare.run('python', withTest('from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n'));
      expect(plain.reason, show(plain)).toBe('passed');
    } finally {
      rmSync(missing, { recursive: true, force: true });
    }
  });

  it('makes the validate stage reject a disallowed package as a dead letter with that reason', async () => {
    const sample: GeneratedSample = {
      sampleId: 's-req', taskId: 't-req', treeKey: 'all', level: 'function', language: 'python',
      instruction: 'Double a number; the tests also fetch a page.', analysis: 'Multiply by two.', files: withTest('import requests\nfrom calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n'),
      features: [], provenance: { model: 'm', endpointHost: 'h', promptVersion: 'solution-v2', seed: 1 },
      usage: { promptTokens: 0, completionTokens: 0, requests: 0 }, elapsedMs: 0, validation: null, createdAt: 1, packages: ['requests'],
    };
    const rejected = await validateSample(sample, { runner: sandbox, turns: 0, concurrency: 1 });
    expect(rejected.ok).toBe(false);
    if (rejected.ok) return;
    expect(rejected.rejection).toMatchObject({ stage: 'validate', reason: 'package-not-allowed', recordId: 's-req' });
    expect(rejected.rejection.detail).toContain('"requests"');

    const accepted = await validateSample({ ...sample, sampleId: 's-np', files: USES_PACKAGES, packages: ['yaml'] }, { runner: sandbox, turns: 0, concurrency: 1 });
    expect(accepted.ok, JSON.stringify(accepted)).toBe(true);
    if (accepted.ok) expect(accepted.value.packages).toEqual(['numpy', 'pandas', 'pyyaml']);
  });
});
