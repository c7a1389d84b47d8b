// The packages a sample may use besides the standard library. For Python: the allow-list in
// sandbox/python-packages.txt, the one source of truth (./setup.sh installs exactly those lines
// into .treesynth/python-packages, which the sandbox mounts read-only). For JavaScript and
// TypeScript: none (Node's built-in modules only). Before a sample runs, what it declares and
// what its files import (sandbox/python-imports.ts) are checked against the list; anything else
// is `package-not-allowed`, naming the package.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../lib/package-root.js';
import { pythonImports, topLevel } from './python-imports.js';
import type { SandboxFile, SandboxLanguage } from './types.js';

export interface AllowedPackage {
  /** The distribution name as pip knows it, normalised (PEP 503): `pyyaml`, `python-dateutil`. */
  name: string;
  version: string;
  /** Top-level modules it provides, as a sample imports them: `yaml`. */
  imports: string[];
}

export interface PackageAllowList {
  /** The requirements file it was read from. */
  file: string;
  /** sha256 of that file, as `sha256sum` prints it: ./setup.sh's install marker names it. */
  digest: string;
  packages: AllowedPackage[];
}

/** Modules the test runner (and the interpreter, for `__main__`) provide to Python tests. */
const PYTHON_RUNNER_MODULES = ['pytest', '_pytest', '__main__'];

export const defaultAllowListPath = (): string => join(packageRoot(), 'sandbox', 'python-packages.txt');

/** Where ./setup.sh installs the allow-listed packages. */
export const defaultPythonPackagesDir = (): string => join(packageRoot(), '.treesynth', 'python-packages');

/** PEP 503 normalisation: `PyYAML`, `python_dateutil` -> `pyyaml`, `python-dateutil`. */
export const normalizePackageName = (name: string): string => name.trim().toLowerCase().replace(/[-_.]+/g, '-');

/** Parses the requirements file; a line that is not `name==version --hash=... # import: module` is an error. */
export function parseAllowList(text: string, file: string): PackageAllowList {
  const packages: AllowedPackage[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s#]+)(?:\s+--hash=sha256:[0-9a-f]{64})+\s+#\s*import:\s*([\w ,]+)$/.exec(line);
    if (!m) throw new Error(`${file}:${index + 1}: expected "name==version --hash=sha256:... # import: module", got "${line.slice(0, 120)}"`);
    packages.push({ name: normalizePackageName(m[1]!), version: m[2]!, imports: m[3]!.split(/[\s,]+/).filter(Boolean) });
  });
  return { file, digest: createHash('sha256').update(text).digest('hex'), packages };
}

/** Reads the allow-list (the committed requirements file, by default). */
export function loadAllowList(path: string = defaultAllowListPath()): PackageAllowList {
  return parseAllowList(readFileSync(path, 'utf8'), path);
}

/** The marker ./setup.sh writes into the packages folder once every package is installed. */
export const installMarker = (list: PackageAllowList, pythonVersion: string): string => `${list.digest} python${pythonVersion}`;

/** null when the folder holds this list installed for this Python (`3.11`); otherwise why not, saying what to run. */
export async function installProblem(dir: string, list: PackageAllowList, pythonVersion: string): Promise<string | null> {
  const marker = await readFile(join(dir, '.installed'), 'utf8').then((t) => t.trim(), () => null);
  if (marker === null) return `the allow-listed Python packages are not installed (${dir} is missing or incomplete): run ./setup.sh`;
  if (marker !== installMarker(list, pythonVersion)) return `the Python packages in ${dir} were installed for another allow-list or Python (${marker.split(' ')[1] ?? '?'}, need python${pythonVersion}): run ./setup.sh`;
  return null;
}

export interface PackageCheckInput {
  language: SandboxLanguage;
  files: readonly SandboxFile[];
  /** What the sample declares (its `packages`), as the model wrote them. */
  declared: readonly string[];
  allowList: PackageAllowList;
  /** Python's standard library modules (sys.stdlib_module_names). */
  stdlib: ReadonlySet<string>;
  /** Whether a name is the sample's own module (or a near-miss of one, which is a bug to fail on, not a package). */
  isLocal: (name: string) => boolean;
}

export type PackageCheck =
  | { ok: true; /** Allow-listed packages the sample declares or imports, sorted. */ packages: string[] }
  | { ok: false; detail: string; /** The offending package or module. */ name: string };

/** The allow-list for the prompts: `numpy, pyyaml (import yaml), ...`. */
export const describeAllowList = (list: PackageAllowList): string =>
  list.packages.map((p) => (p.imports.length === 1 && p.imports[0] === p.name ? p.name : `${p.name} (import ${p.imports.join(', ')})`)).join(', ');

/**
 * Declared packages must be on the allow-list (by distribution or import name; a version
 * specifier is ignored); for Python, every module the files import must be the standard
 * library, the test runner, an allow-listed package or the sample's own. Allowed packages that
 * are imported but not declared are added: the sandbox has them, so the sample is fine, and its
 * record says what it needs.
 */
export function checkPackages(input: PackageCheckInput): PackageCheck {
  const byImport = new Map<string, AllowedPackage>();
  const byName = new Map<string, AllowedPackage>();
  const python = input.language === 'python';
  if (python) {
    for (const p of input.allowList.packages) {
      byName.set(p.name, p);
      for (const m of p.imports) byImport.set(m, p);
    }
  }
  const where = python ? `not on the allow-list (${describeAllowList(input.allowList)}; see sandbox/python-packages.txt)` : `not allowed: ${input.language} samples may use Node's built-in modules only`;
  const used = new Set<string>();
  for (const raw of input.declared) {
    const name = normalizePackageName(raw.split(/[\s<>=!~;[(@]/)[0] ?? '');
    if (name === '') continue;
    const p = byName.get(name) ?? byImport.get(raw.trim());
    if (!p) return { ok: false, name: raw.trim(), detail: `declares package "${raw.trim().slice(0, 80)}", which is ${where}` };
    used.add(p.name);
  }
  if (python) {
    for (const f of input.files) {
      if (!f.path.endsWith('.py')) continue;
      for (const imp of pythonImports(f.content)) {
        const top = topLevel(imp.module);
        if (input.stdlib.has(top) || PYTHON_RUNNER_MODULES.includes(top) || input.isLocal(top)) continue;
        const p = byImport.get(top);
        if (!p) return { ok: false, name: top, detail: `${f.path}:${imp.line} imports "${top}", which is not the standard library, the sample's own module or an allow-listed package (${describeAllowList(input.allowList)})` };
        used.add(p.name);
      }
    }
  }
  return { ok: true, packages: [...used].sort() };
}
