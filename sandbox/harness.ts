// The test harnesses: trusted code that runs a sample's tests and reports what ran, as JSON lines
// on file descriptor 4 (REPORT_FD). The sandbox first writes a per-run nonce to that descriptor;
// each record carries it back, so text that merely looks like a report (printed, replayed, or
// written to the descriptor by code that never read the nonce) does not count. What a pass means
// is decided outside, from these records (sandbox/report.ts), never from an exit code alone.
//
// Python: pytest, started by this harness (in an environment that is ours alone, no user site)
// before any file of the sample is imported, with our own ini file (`-c`), no conftest.py and
// no plugin auto-loading; every test reports how many checks it
// ran (assert statements in test files, unittest assertions, pytest.raises/warns). Plain test
// scripts run as one test each, as `__main__`, with their asserts rewritten the same way. Of the
// host Python's site-packages only pytest and its own dependencies can be imported: a sample's
// packages come from the allow-list on PYTHONPATH (sandbox/packages.ts).
//
// Node: `node --test` runs each file in a child process and reports to this reporter in the
// parent, where no code of the sample runs. A preload in each child says on stderr when the
// child exits before its tests finished, which node would otherwise count as a passing file.
//
// These are sources as strings (not files beside the module) so the built CLI carries them; the
// sandbox writes them into each run's read-only harness directory.

export const REPORT_FD = 4;
/** Printed by the Node preload when a test process exits before its tests finished. */
export const EARLY_EXIT_MARKER = '[treesynth-harness] early exit';

export const PYTHON_HARNESS = String.raw`"""treesynth test harness (trusted): runs a sample's tests under pytest, reports to fd 4."""
import ast
import builtins
import functools
import importlib.machinery
import json
import os
import site
import sys
import traceback
import types

REPORT_FD = 4
# What pytest itself may still import from this Python's site-packages once the sample runs.
RUNNER_PACKAGES = {"pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments", "py", "exceptiongroup", "tomli", "colorama"}


def read_nonce():
    data = b""
    while not data.endswith(b"\n") and len(data) < 256:
        chunk = os.read(REPORT_FD, 256 - len(data))
        if not chunk:
            break
        data += chunk
    return data.strip().decode("ascii", "replace")


class Report:
    def __init__(self, nonce):
        self.nonce = nonce

    def emit(self, event, **fields):
        fields["event"] = event
        fields["nonce"] = self.nonce
        # A test that forks leaves two processes reporting; the pid tells their records apart.
        fields["pid"] = os.getpid()
        line = (json.dumps(fields, default=str) + "\n").encode()
        while line:
            line = line[os.write(REPORT_FD, line):]


def syntax_problems(paths):
    problems = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                compile(handle.read(), path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            problems.append("".join(traceback.format_exception_only(type(error), error)))
    return problems


def make_plugin(pytest, sink, config):
    from _pytest.assertion.rewrite import rewrite_asserts

    scripts = set(config["scripts"])
    skipped = (pytest.skip.Exception, pytest.xfail.Exception)

    class ScriptFailed(Exception):
        pass

    class ScriptItem(pytest.Item):
        """A plain test script, run as __main__ with its asserts rewritten and counted."""

        def runtest(self):
            path = str(self.path)
            with open(path, "rb") as handle:
                source = handle.read()
            tree = ast.parse(source, path)
            rewrite_asserts(tree, source, path, self.config)
            code = compile(tree, path, "exec", dont_inherit=True)
            module = types.ModuleType("__main__")
            module.__file__ = path
            module.__builtins__ = builtins
            saved = (sys.modules.get("__main__"), list(sys.argv), list(sys.path))
            sys.modules["__main__"] = module
            sys.argv = [path]
            sys.path.insert(0, os.path.dirname(path))
            try:
                exec(code, module.__dict__)
            except SystemExit as stop:
                if stop.code not in (None, 0, False):
                    raise ScriptFailed("the script exited with status %r" % (stop.code,)) from None
            finally:
                sys.modules["__main__"] = saved[0]
                sys.argv[:] = saved[1]
                sys.path[:] = saved[2]

        def repr_failure(self, excinfo):
            if isinstance(excinfo.value, ScriptFailed):
                return str(excinfo.value)
            return super().repr_failure(excinfo)

        def reportinfo(self):
            return self.path, 0, "%s (run as a script)" % self.path.name

    class ScriptFile(pytest.File):
        def collect(self):
            yield ScriptItem.from_parent(self, name="__main__")

    class Harness:
        def __init__(self):
            self.current = None
            self.checks = {}
            self.outcomes = {}
            self.raised = set()

        def count_check(self):
            if self.current is not None:
                self.checks[self.current] = self.checks.get(self.current, 0) + 1

        def pytest_configure(self, config):
            for name in config_rewrite:
                pytest.register_assert_rewrite(name)

        @pytest.hookimpl(tryfirst=True)
        def pytest_pycollect_makemodule(self, module_path, parent):
            if str(module_path) in scripts:
                return ScriptFile.from_parent(parent, path=module_path)
            return None

        def pytest_collectreport(self, report):
            if report.failed:
                sink.emit("collect-error", id=report.nodeid)

        def pytest_collection_finish(self, session):
            sink.emit("collected", count=len(session.items))

        def pytest_runtest_logstart(self, nodeid, location):
            self.current = nodeid
            self.checks[nodeid] = 0
            self.outcomes[nodeid] = "passed"

        def pytest_assertion_pass(self, item, lineno, orig, expl):
            self.count_check()

        @pytest.hookimpl(hookwrapper=True, tryfirst=True)
        def pytest_runtest_makereport(self, item, call):
            # What the test raised, seen before any report object exists: a sample that patches
            # pytest's reports into "passed" does not change what was raised.
            if call.when == "call" and call.excinfo is not None and not call.excinfo.errisinstance(skipped):
                self.raised.add(item.nodeid)
            yield

        def pytest_runtest_logreport(self, report):
            xfail = hasattr(report, "wasxfail")
            if report.when == "call":
                if xfail:
                    outcome = "xfailed" if report.skipped else "xpassed"
                else:
                    outcome = report.outcome
            elif report.failed:
                outcome = "error"
            elif report.skipped:
                outcome = "xfailed" if xfail else "skipped"
            else:
                return
            if outcome == "passed" and report.when == "call" and report.nodeid in self.raised:
                outcome = "failed"
            if self.outcomes.get(report.nodeid) in (None, "passed"):
                self.outcomes[report.nodeid] = outcome

        def pytest_runtest_logfinish(self, nodeid, location):
            sink.emit("test", id=nodeid, outcome=self.outcomes.get(nodeid, "error"), checks=self.checks.get(nodeid, 0))
            self.current = None

    config_rewrite = list(config["rewrite"])
    return Harness()


class HostPackageGuard:
    """Only the test runner comes from this Python's site-packages: a sample gets the standard
    library, its own files and the allow-listed packages (on PYTHONPATH), never what else the host
    happens to have installed. Imports the sandbox saw before the run were checked there; this
    stops computed ones, as the ModuleNotFoundError an uninstalled package would give."""

    def __init__(self, site_dirs):
        self.site_dirs = tuple(os.path.join(os.path.realpath(d), "") for d in site_dirs)
        self.allowed = RUNNER_PACKAGES | {name.partition(".")[0] for name in list(sys.modules)}

    def find_spec(self, name, path=None, target=None):
        if path is not None or name in self.allowed:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name)
        if spec is None:
            return None
        places = [spec.origin] if spec.origin and spec.has_location else list(spec.submodule_search_locations or [])
        if places and all(os.path.realpath(p).startswith(self.site_dirs) for p in places):
            raise ModuleNotFoundError("No module named %r" % name, name=name)
        return None


def counted(function, harness):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        harness.count_check()
        return function(*args, **kwargs)

    return wrapper


def main():
    report = Report(read_nonce())
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    report.emit("start", runner="pytest", python=sys.version.split()[0])
    problems = syntax_problems(config["compile"])
    if problems:
        sys.stderr.write("".join(problems))
        report.emit("syntax-error", detail=problems[0].strip().splitlines()[-1])
        sys.stderr.flush()
        os._exit(3)

    import unittest

    import pytest

    harness = make_plugin(pytest, report, config)
    # Checks that are not assert statements: unittest's assert* methods and pytest's context managers.
    for name in dir(unittest.TestCase):
        if name.startswith("assert") and callable(getattr(unittest.TestCase, name)):
            setattr(unittest.TestCase, name, counted(getattr(unittest.TestCase, name), harness))
    for name in ("raises", "warns", "deprecated_call"):
        setattr(pytest, name, counted(getattr(pytest, name), harness))
    sys.meta_path.insert(0, HostPackageGuard(site.getsitepackages()))
    # The sample's directories go in front only now: everything the harness needs is imported.
    sys.path[:0] = config["path"]
    status = pytest.main(config["args"], plugins=[harness])
    report.emit("done", exitstatus=int(status))
    sys.stdout.flush()
    sys.stderr.flush()
    # No atexit handler or lingering thread of the sample runs after the report is complete.
    os._exit(int(status))


main()
`;

export const PYTEST_INI = '[pytest]\nenable_assertion_pass_hook = true\naddopts =\nxfail_strict = true\n';

export const NODE_PRELOAD = `'use strict';
// treesynth test harness (trusted), loaded into each test file's process by node --test: says on
// stderr when the process exits before its tests finished (node itself would count the file as passed).
if (!process.execArgv.includes('--test')) {
  // Writes wait for the runner to read them instead of queueing in this process's memory: endless
  // output then reaches the output limit rather than the heap limit first.
  for (const stream of [process.stdout, process.stderr]) stream._handle?.setBlocking?.(true);
  const { after } = require('node:test');
  let finished = false;
  // --test-force-exit for the file's process only (given to the runner, it would exit before its
  // reporters finish): a test that leaves a server or timer open still ends, a second after the
  // tests did, once node has reported them.
  after(() => {
    finished = true;
    setTimeout(() => process.exit(), 1000).unref();
  });
  process.on('exit', (code) => {
    if (!finished) process.stderr.write('\\n${EARLY_EXIT_MARKER}: exited with code ' + code + ' before its tests finished\\n');
  });
}
`;

export const NODE_REPORTER = `// treesynth test harness (trusted): a node --test reporter, in the runner's process, writing what
// ran to fd ${REPORT_FD} as JSON lines.
import { readSync, writeSync } from 'node:fs';

const FD = ${REPORT_FD};
const MARKER = ${JSON.stringify(EARLY_EXIT_MARKER)};

function readNonce() {
  const buffer = Buffer.alloc(256);
  let text = '';
  while (!text.includes('\\n') && text.length < 256) {
    const n = readSync(FD, buffer, 0, buffer.length, null);
    if (n === 0) break;
    text += buffer.toString('utf8', 0, n);
  }
  return text.trim();
}

export default async function* treesynthReporter(source) {
  const nonce = readNonce();
  const emit = (event, fields) => writeSync(FD, JSON.stringify({ ...fields, event, nonce }) + '\\n');
  emit('start', { runner: 'node', node: process.version });
  let done = false;
  for await (const { type, data = {} } of source) {
    // node reports a file whose process reported no test as one passing test named after the file.
    const fileLevel = data.nesting === 0 && data.name === data.file;
    if (type === 'test:enqueue' && !fileLevel) emit('enqueue', { file: data.file, name: data.name, nesting: data.nesting });
    else if (type === 'test:pass' || type === 'test:fail') {
      const outcome = type === 'test:fail' ? 'failed' : data.skip !== undefined || data.todo !== undefined ? 'skipped' : 'passed';
      emit('test', { file: data.file, name: data.name, nesting: data.nesting, outcome, suite: data.details?.type === 'suite', fileLevel });
    } else if (type === 'test:stderr' && typeof data.message === 'string' && data.message.includes(MARKER)) emit('early-exit', { file: data.file });
    else if (type === 'test:diagnostic' && data.nesting === 0 && data.file === undefined && !done && /^duration_ms /.test(data.message)) {
      // The runner's closing summary (events a file's process sends always name the file): every test has ended.
      done = true;
      emit('done', {});
    }
  }
}
`;
