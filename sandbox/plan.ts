// How a sample's files become commands: which files to stage, which are tests (read-only), and
// how the harness (sandbox/harness.ts) runs them. Python tests run under pytest through the
// harness, which also checks syntax first; test files written as plain scripts run as one test
// each. JavaScript and TypeScript run under `node --test` with the harness's reporter. Node 20
// cannot run TypeScript, and the sandbox has no network to install a loader, so TypeScript is
// transpiled here, outside the sandbox, by the `typescript` package (a parser and printer:
// nothing of the sample runs on this side).
//
// Files that would let the sample take over interpreter start-up or the test runner are refused
// (FORBIDDEN_RULES); the harness isolates the rest (python -I, its own pytest ini, no conftest).
import { posix } from 'node:path';
import type TypeScript from 'typescript';
import { NODE_PRELOAD, NODE_REPORTER, PYTEST_INI, PYTHON_HARNESS } from './harness.js';
import type { SandboxFile, SandboxLanguage } from './types.js';

/** Inside the sandbox: the sample's files as written (read-only), the harness (read-only), and the writable work directory. */
export const SOURCE_DIR = '/opt/treesynth/src';
export const HARNESS_DIR = '/opt/treesynth/harness';
export const WORK_DIR = '/tmp/work';
/** The allow-listed Python packages (sandbox/packages.ts), read-only, on PYTHONPATH for Python runs. */
export const PYTHON_PACKAGES_DIR = '/opt/treesynth/python-packages';

export interface StagedFile {
  path: string;
  content: string;
}

export interface RunPlan {
  language: SandboxLanguage;
  runtime: 'python' | 'node';
  /** Files the sample may change, copied into WORK_DIR (the sample's, plus transpiled output). */
  files: StagedFile[];
  /** Test files (and their transpiled output), mounted read-only in WORK_DIR and hashed before and after. */
  tests: StagedFile[];
  /** The harness's files for this run, in HARNESS_DIR. */
  harness: StagedFile[];
  /** A syntax problem found here (TypeScript/JavaScript parse), or null. */
  syntaxError: string | null;
  /**
   * Directories of WORK_DIR made read-only and empty: `__pycache__` beside the Python files, so
   * a compiled test module the sample planted there is never loaded in place of the test.
   */
  lockedDirs: string[];
  /** The test command, run in WORK_DIR. */
  test: string[];
  /** The command as a reader (or the model) should see it: what runs the tests, without harness paths. */
  display: string;
  /** Names the sample's own files provide, so a missing one is a bug, not a missing package. */
  localModules: Set<string>;
  env: Record<string, string>;
}

/** A sample the planner refuses, with the reason to report. */
export class PlanError extends Error {
  constructor(
    readonly reason: 'invalid-sample' | 'unsupported-language' | 'sandbox-error' | 'forbidden-file',
    message: string,
  ) {
    super(message);
  }
}

/** Files a sample may not ship, per runtime, and why: each would run before or instead of the tests. */
const FORBIDDEN_RULES: Record<'python' | 'node', Array<[RegExp, string]>> = {
  python: [
    [/(?:^|\/)(?:sitecustomize|usercustomize)\.py$/, 'runs at interpreter start-up'],
    [/\.pth$/, 'a path configuration file runs code at interpreter start-up'],
    [/(?:^|\/)conftest\.py$/, 'a pytest plugin of the sample would run inside the test runner (put fixtures in the test file)'],
  ],
  node: [
    [/(?:^|\/)node_modules(?:\/|$)/, 'packages of the sample would replace the ones the runner resolves (nothing is installed in the sandbox)'],
  ],
};

export function forbiddenFile(runtime: 'python' | 'node', files: readonly SandboxFile[]): string | null {
  for (const f of files) {
    for (const [pattern, why] of FORBIDDEN_RULES[runtime]) if (pattern.test(f.path)) return `"${f.path}" is not allowed: ${why}`;
    // pytest loads the plugins a test module names, inside the runner.
    if (runtime === 'python' && f.path.endsWith('.py') && /^pytest_plugins\s*[:=]/m.test(f.content)) return `"${f.path}" is not allowed to set pytest_plugins: a plugin of the sample would run inside the test runner`;
  }
  return null;
}

const LANGUAGE_ALIASES: Record<string, SandboxLanguage> = {
  python: 'python', python3: 'python', py: 'python',
  javascript: 'javascript', js: 'javascript', node: 'javascript', jsx: 'javascript',
  typescript: 'typescript', ts: 'typescript', tsx: 'typescript',
};

export function sandboxLanguage(language: string): SandboxLanguage | null {
  return LANGUAGE_ALIASES[language.trim().toLowerCase()] ?? null;
}

/** A relative path that stays inside the directory, normalised; null when it would leave it. */
export function safeRelativePath(path: string): string | null {
  if (path === '' || path.includes('\0') || path.includes('\\') || path.startsWith('/')) return null;
  const normal = posix.normalize(path);
  if (normal === '.' || normal === '..' || normal.startsWith('../') || normal.endsWith('/')) return null;
  return normal;
}

export function checkFiles(files: readonly SandboxFile[], maxBytes: number): SandboxFile[] {
  if (files.length === 0) throw new PlanError('invalid-sample', 'the sample has no files');
  const seen = new Set<string>();
  let bytes = 0;
  const out: SandboxFile[] = [];
  for (const f of files) {
    const path = safeRelativePath(f.path);
    if (path === null) throw new PlanError('invalid-sample', `path "${f.path.slice(0, 120)}" leaves the sample's directory`);
    if (seen.has(path)) throw new PlanError('invalid-sample', `path "${path}" appears twice`);
    // A file that is also a directory of another file cannot be written.
    for (const other of seen) if (other.startsWith(`${path}/`) || path.startsWith(`${other}/`)) throw new PlanError('invalid-sample', `"${path}" and "${other}" collide`);
    seen.add(path);
    bytes += Buffer.byteLength(f.content);
    out.push({ path, role: f.role, content: f.content });
  }
  if (bytes > maxBytes) throw new PlanError('invalid-sample', `the files hold ${bytes} bytes, more than the ${maxBytes} allowed`);
  if (!out.some((f) => f.role === 'test')) throw new PlanError('invalid-sample', 'no file has role "test"');
  return out;
}

const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
const stem = (path: string): string => baseName(path).replace(/\.[^.]*$/, '');

// ---------------------------------------------------------------- Python

/** Tests written for pytest: they import it, or define bare test functions/classes without a main block. */
export function usesPytest(content: string): boolean {
  if (/^\s*(?:import\s+pytest\b|from\s+pytest\b)/m.test(content)) return true;
  const hasTests = /^def\s+test\w*\s*\(/m.test(content) || /^class\s+Test\w*/m.test(content);
  return hasTests && !/__name__\s*==\s*['"]__main__['"]/.test(content);
}

/** A dotted module name for a .py path, as a test would import it from the work directory. */
const moduleName = (path: string): string => path.replace(/\.py$/, '').replace(/\/__init__$/, '').split('/').join('.');

function pythonPlan(files: SandboxFile[], python: string): RunPlan {
  const forbidden = forbiddenFile('python', files);
  if (forbidden) throw new PlanError('forbidden-file', forbidden);
  const py = files.filter((f) => f.path.endsWith('.py'));
  const tests = py.filter((f) => f.role === 'test' && baseName(f.path) !== '__init__.py');
  if (tests.length === 0) throw new PlanError('invalid-sample', 'no Python test file (role "test", .py)');
  const localModules = new Set<string>();
  const dirs = new Set<string>([WORK_DIR]);
  for (const f of files) {
    localModules.add(f.path.split('/')[0]!.replace(/\.py$/, ''));
    if (f.path.endsWith('.py')) localModules.add(stem(f.path));
    if (f.path.includes('/')) dirs.add(`${WORK_DIR}/${posix.dirname(f.path)}`);
  }
  const scripts = tests.filter((f) => !usesPytest(f.content)).map((f) => `${WORK_DIR}/${f.path}`);
  const config = {
    compile: py.map((f) => f.path),
    scripts,
    path: [...dirs],
    // Asserts in every test-role module count as checks, not only in the files pytest collects.
    rewrite: files.filter((f) => f.role === 'test' && f.path.endsWith('.py')).map((f) => moduleName(f.path)),
    args: ['-q', '-p', 'no:cacheprovider', '--noconftest', '-c', `${HARNESS_DIR}/pytest.ini`, '--rootdir', WORK_DIR, '--color=no', ...tests.map((f) => `${WORK_DIR}/${f.path}`)],
  };
  return {
    language: 'python',
    runtime: 'python',
    files: files.filter((f) => f.role !== 'test').map((f) => ({ path: f.path, content: f.content })),
    tests: files.filter((f) => f.role === 'test').map((f) => ({ path: f.path, content: f.content })),
    lockedDirs: [...new Set(py.map((f) => posix.join(posix.dirname(f.path), '__pycache__')))],
    harness: [
      { path: 'harness.py', content: PYTHON_HARNESS },
      { path: 'pytest.ini', content: PYTEST_INI },
      { path: 'config.json', content: JSON.stringify(config) },
    ],
    syntaxError: null,
    // The environment is ours alone (PYTHONPATH only for the read-only allow-listed packages the
    // sandbox adds), -s: no user site, so no file of the sample is imported before the harness has pytest loaded; -u: output up to a timeout is not lost in a
    // buffer. (No .pyc the sample writes is read for a test file: see pycacheDirs.)
    test: [python, '-s', '-B', '-u', `${HARNESS_DIR}/harness.py`, `${HARNESS_DIR}/config.json`],
    display: `python3 -m pytest -q ${tests.map((f) => f.path).join(' ')}`,
    localModules,
    // One BLAS thread: numpy would start one per core of the host, each counted against the process limit.
    env: { PYTHONHASHSEED: '0', PYTHONDONTWRITEBYTECODE: '1', PYTEST_DISABLE_PLUGIN_AUTOLOAD: '1', USER: 'sandbox', LOGNAME: 'sandbox', OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
  };
}

// ---------------------------------------------------------------- JavaScript / TypeScript

type Ts = typeof TypeScript;

const JS_EXT = /\.(?:js|mjs|cjs|jsx)$/;
const TS_EXT = /\.(?:ts|mts|cts|tsx)$/;

function describeDiagnostic(ts: Ts, path: string, diagnostic: TypeScript.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
  if (diagnostic.file && diagnostic.start !== undefined) {
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    return `${path}:${line + 1}:${character + 1}: ${message}`;
  }
  return `${path}: ${message}`;
}

/** Syntax errors of one file as the TypeScript parser sees them (it parses JavaScript too). */
function syntaxProblems(ts: Ts, path: string, content: string, options: TypeScript.CompilerOptions): { output: string; problems: string[] } {
  const result = ts.transpileModule(content, { fileName: baseName(path), reportDiagnostics: true, compilerOptions: options });
  const problems = (result.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error).map((d) => describeDiagnostic(ts, path, d));
  return { output: result.outputText, problems };
}

function transpiledPath(path: string): string {
  return path.replace(/\.mts$/, '.mjs').replace(/\.cts$/, '.cjs').replace(/\.tsx?$/, '.js');
}

function nodePlan(language: SandboxLanguage, files: SandboxFile[], node: string, ts: Ts | null, memoryBytes: number): RunPlan {
  const forbidden = forbiddenFile('node', files);
  if (forbidden) throw new PlanError('forbidden-file', forbidden);
  const staged: StagedFile[] = files.filter((f) => f.role !== 'test').map((f) => ({ path: f.path, content: f.content }));
  const testFiles: StagedFile[] = files.filter((f) => f.role === 'test').map((f) => ({ path: f.path, content: f.content }));
  const problems: string[] = [];
  const runnable = new Map<string, string>(); // sample path -> path node runs
  for (const f of files) {
    if (JS_EXT.test(f.path)) {
      runnable.set(f.path, f.path);
      if (ts) problems.push(...syntaxProblems(ts, f.path, f.content, { allowJs: true, jsx: ts.JsxEmit.Preserve }).problems);
    } else if (TS_EXT.test(f.path) && !f.path.endsWith('.d.ts')) {
      if (!ts) throw new PlanError('sandbox-error', 'TypeScript samples need the `typescript` package, which is not installed');
      // CommonJS resolves extensionless and .js specifiers alike; .ts specifiers are rewritten.
      const { output, problems: found } = syntaxProblems(ts, f.path, f.content, {
        module: f.path.endsWith('.mts') ? ts.ModuleKind.ESNext : ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        rewriteRelativeImportExtensions: true,
        allowImportingTsExtensions: true,
        jsx: ts.JsxEmit.ReactJSX,
        sourceMap: false,
      });
      problems.push(...found);
      const out = transpiledPath(f.path);
      if (files.some((g) => g.path === out)) throw new PlanError('invalid-sample', `"${f.path}" and "${out}" would both be ${out}`);
      (f.role === 'test' ? testFiles : staged).push({ path: out, content: output });
      runnable.set(f.path, out);
    }
  }
  const tests = files.filter((f) => f.role === 'test' && runnable.has(f.path)).map((f) => runnable.get(f.path)!);
  if (tests.length === 0) throw new PlanError('invalid-sample', `no ${language} test file (role "test")`);
  // A package.json of the sample could switch .js to ESM and break the transpiled CommonJS.
  if (language === 'typescript' && !files.some((f) => f.path === 'package.json')) staged.push({ path: 'package.json', content: '{"type":"commonjs"}\n' });
  const heapMb = Math.max(32, Math.floor((memoryBytes / 1024 / 1024) * 0.75));
  return {
    language,
    runtime: 'node',
    files: staged,
    tests: testFiles,
    lockedDirs: [],
    harness: [
      { path: 'preload.cjs', content: NODE_PRELOAD },
      { path: 'reporter.mjs', content: NODE_REPORTER },
    ],
    syntaxError: problems.length > 0 ? problems.slice(0, 5).join('\n') : null,
    // --require: the preload reaches each file's process (node passes its options on) and ends
    // it once its tests are done; two files at a time keeps node's threads (they count as
    // processes) well under the process limit; the spec reporter prints an error's cause
    // (ECONNREFUSED under "fetch failed"), TAP does not; the harness's reporter writes the
    // report to its own descriptor and prints nothing.
    test: [
      node, '--require', `${HARNESS_DIR}/preload.cjs`, '--test', '--test-concurrency=2',
      '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${HARNESS_DIR}/reporter.mjs`, '--test-reporter-destination=stderr',
      ...tests,
    ],
    display: `node --test ${tests.join(' ')}`,
    localModules: new Set(files.map((f) => stem(f.path))),
    // The heap limit under the memory limit, so running out is V8's clear message, not a crash.
    env: { NODE_OPTIONS: `--max-old-space-size=${heapMb}`, UV_THREADPOOL_SIZE: '2', NODE_DISABLE_COLORS: '1' },
  };
}

export interface PlanTools {
  python: string;
  node: string;
  typescript: Ts | null;
  memoryBytes: number;
}

export function makePlan(language: SandboxLanguage, files: SandboxFile[], tools: PlanTools): RunPlan {
  return language === 'python' ? pythonPlan(files, tools.python) : nodePlan(language, files, tools.node, tools.typescript, tools.memoryBytes);
}
