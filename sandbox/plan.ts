// How a sample's files become commands: which files to stage, how to check their syntax, how
// to run their tests. Python runs with pytest when the tests are written for it, otherwise as
// plain scripts; JavaScript and TypeScript run under `node --test`. Node 20 cannot run
// TypeScript, and the sandbox has no network to install a loader, so TypeScript is transpiled
// here, outside the sandbox, by the `typescript` package (a parser and printer: nothing of the
// sample runs on this side).
import { posix } from 'node:path';
import type TypeScript from 'typescript';
import type { SandboxFile, SandboxLanguage } from './types.js';

/** Where the sample lives inside the sandbox: a read-only copy as written, and a writable work directory. */
export const SOURCE_DIR = '/tmp/.src';
export const WORK_DIR = '/tmp/work';

export interface StagedFile {
  path: string;
  content: string;
}

export interface RunPlan {
  language: SandboxLanguage;
  runtime: 'python' | 'node';
  /** Files to write into the staging directory (the sample's, plus transpiled output). */
  files: StagedFile[];
  /** A syntax problem found here (TypeScript/JavaScript parse), or null. */
  syntaxError: string | null;
  /** Syntax check to run inside the sandbox over SOURCE_DIR (Python), or null. */
  check: string[] | null;
  /** The test command, run in WORK_DIR. */
  test: string[];
  /** Names the sample's own files provide, so a missing one is a bug, not a missing package. */
  localModules: Set<string>;
  env: Record<string, string>;
}

/** A sample the planner refuses, with the reason to report. */
export class PlanError extends Error {
  constructor(
    readonly reason: 'invalid-sample' | 'unsupported-language' | 'sandbox-error',
    message: string,
  ) {
    super(message);
  }
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

const PY_CHECK = [
  'import sys, traceback',
  'bad = 0',
  'for f in sys.argv[1:]:',
  '    try:',
  "        with open(f, 'rb') as h: compile(h.read(), f, 'exec', dont_inherit=True)",
  '    except (SyntaxError, ValueError) as e:',
  "        sys.stderr.write(''.join(traceback.format_exception_only(type(e), e))); bad = 1",
  'sys.exit(bad)',
].join('\n');

/** Tests written for pytest: they import it, or define bare test functions/classes without a main block. */
export function usesPytest(content: string): boolean {
  if (/^\s*(?:import\s+pytest\b|from\s+pytest\b)/m.test(content)) return true;
  const hasTests = /^def\s+test\w*\s*\(/m.test(content) || /^class\s+Test\w*/m.test(content);
  return hasTests && !/__name__\s*==\s*['"]__main__['"]/.test(content);
}

function pythonPlan(files: SandboxFile[], python: string): RunPlan {
  const py = files.filter((f) => f.path.endsWith('.py'));
  const tests = py.filter((f) => f.role === 'test' && !['conftest.py', '__init__.py'].includes(baseName(f.path)));
  if (tests.length === 0) throw new PlanError('invalid-sample', 'no Python test file (role "test", .py)');
  const localModules = new Set<string>();
  const dirs = new Set<string>([WORK_DIR]);
  for (const f of files) {
    localModules.add(f.path.split('/')[0]!.replace(/\.py$/, ''));
    if (f.path.endsWith('.py')) localModules.add(stem(f.path));
    if (f.path.includes('/')) dirs.add(`${WORK_DIR}/${posix.dirname(f.path)}`);
  }
  let test: string[];
  if (tests.some((f) => usesPytest(f.content))) {
    const named = tests.filter((f) => /^test_.*\.py$|_test\.py$/.test(baseName(f.path)));
    test = [python, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-o', 'addopts=', '--color=no', ...(named.length ? named : tests).map((f) => f.path)];
  } else if (tests.length === 1) {
    test = [python, tests[0]!.path];
  } else {
    // Each script in turn; the first that fails ends the run with its status.
    test = ['/bin/sh', '-c', 'for f in "$@"; do "$0" "$f" || exit $?; done', python, ...tests.map((f) => f.path)];
  }
  return {
    language: 'python',
    runtime: 'python',
    files: files.map((f) => ({ path: f.path, content: f.content })),
    syntaxError: null,
    check: [python, '-c', PY_CHECK, ...py.map((f) => f.path)],
    test,
    localModules,
    // Tests import their solution from the work directory or from the solution's own folder.
    env: { PYTHONPATH: [...dirs].join(':'), PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', PYTHONNOUSERSITE: '1', PYTHONHASHSEED: '0' },
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
  const staged: StagedFile[] = files.map((f) => ({ path: f.path, content: f.content }));
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
      staged.push({ path: out, content: output });
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
    syntaxError: problems.length > 0 ? problems.slice(0, 5).join('\n') : null,
    check: null,
    // --test-force-exit: a test that leaves a server or timer open still ends; two files at a
    // time keeps node's threads (they count as processes) well under the process limit; the
    // spec reporter prints an error's cause (ECONNREFUSED under "fetch failed"), TAP does not.
    test: [node, '--test', '--test-force-exit', '--test-concurrency=2', '--test-reporter=spec', ...tests],
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
