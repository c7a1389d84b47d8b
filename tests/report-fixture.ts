// A hand-made run directory for the report tests: a feature tree with extracted and evolved
// nodes, samples in two languages with validation results, tasks, dead letters of several
// stages (contaminated ones among them) and a summary with token usage. Deterministic.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mixSeed, seededRandom } from '../lib/random.js';
import type { GeneratedSample, Rejection, SynthesisTask, TaskFeature } from '../schemas/contract.js';
import type { NestedNode } from '../stores/tree-store.js';

const CATEGORIES: Record<string, Record<string, string[]>> = {
  'error handling': { 'exception handling': ['retry with backoff', 'custom exceptions', 'cleanup in finally'], 'input validation': ['range checks', 'type checks'] },
  'data structures': { 'hash map': ['counting', 'grouping'], 'priority queue': ['top-k selection'], graph: ['adjacency list', 'topological order'] },
  algorithm: { 'graph traversal': ['breadth-first search', 'depth-first search'], sorting: ['merge sort', 'stable sort'], 'dynamic programming': ['memoization'] },
  'file operation': { 'file reading': ['line by line', 'csv parsing'], 'path manipulation': [] },
  logging: { 'structured logging': [], 'log levels': ['debug output'] },
  'data processing': { 'string manipulation': ['tokenization', 'formatting'], aggregation: ['group by', 'running totals'], 'data validation': [] },
  'implementation style': { functional: ['higher-order functions'], 'object-oriented': ['inheritance', 'composition'] },
};

/** Evolved nodes (origin evolved, estimated frequency) under these paths. */
const EVOLVED: Array<[string[], string]> = [
  [['error handling', 'exception handling'], 'circuit breaker'],
  [['algorithm', 'graph traversal'], "dijkstra's algorithm"],
  [['data structures'], 'trie'],
  [['data processing', 'aggregation'], 'sliding window statistics'],
];

export function fixtureTree(): NestedNode {
  const random = seededRandom(7);
  const node = (label: string, children: NestedNode[], frequency: number): NestedNode => ({ label, frequency, origin: 'extracted', aliases: [], children });
  const categories = Object.entries(CATEGORIES).map(([category, subs]) => {
    const children = Object.entries(subs).map(([sub, leaves]) => node(sub, leaves.map((l) => node(l, [], 1 + Math.floor(random() * 20))), 10 + Math.floor(random() * 40)));
    return node(category, children, 40 + Math.floor(random() * 60));
  });
  const root: NestedNode = { label: 'all', frequency: 0, origin: 'root', aliases: [], children: categories };
  for (const [path, label] of EVOLVED) {
    let at = root;
    for (const p of path) at = at.children.find((c) => c.label === p)!;
    at.children.push({ label, frequency: 6.5, origin: 'evolved', aliases: [], evolutionRound: 1, children: [] });
  }
  root.children[0]!.children[0]!.aliases = ['exception management', 'error catching'];
  return root;
}

/** Every root-to-leaf path of the fixture tree (without the root). */
export function leafPaths(tree: NestedNode): string[][] {
  const out: string[][] = [];
  const walk = (n: NestedNode, path: string[]): void => {
    if (n.children.length === 0 && path.length > 0) out.push(path);
    for (const c of n.children) walk(c, [...path, c.label]);
  };
  walk(tree, []);
  return out;
}

const VERBS = ['Implement', 'Write', 'Build', 'Create', 'Design'];
const THINGS = ['a rate limiter', 'a log parser', 'an inventory tracker', 'a route planner', 'a CSV summariser', 'a task scheduler', 'a word counter', 'a cache with expiry'];

function pythonSolution(i: number): string {
  const branches = Array.from({ length: 1 + (i % 4) }, (_, k) => `    if value > ${k * 10}:\n        total += ${k + 1}\n`).join('');
  return `import math\nimport logging\n\n\ndef score(values):\n    """Score the values."""\n    total = 0\n    for value in values:\n${branches}    return total\n\n\ndef safe_root(x):\n    try:\n        return math.sqrt(x)\n    except ValueError:\n        logging.warning("negative")\n        return 0.0\n`;
}

function tsSolution(i: number): string {
  const cases = Array.from({ length: 1 + (i % 3) }, (_, k) => `    case ${k}: return ${k * 2};\n`).join('');
  return `import { strict as assert } from 'node:assert';\n\nexport function pick(n: number): number {\n  switch (n) {\n${cases}    default: return -1;\n  }\n}\n\nexport const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);\nassert.ok(clamp(1, 0, 2) === 1);\n`;
}

export interface FixtureCounts {
  samples: number;
  passed: number;
  validateFailures: number;
  contaminated: number;
  rejections: number;
  tasks: number;
  promptTokens: { extract: number; generate: number };
  completionTokens: { extract: number; generate: number };
}

/** Writes the run into `dir`; `prefix` keeps ids of two fixture runs apart, `overlap` shares some samples. */
export function writeFixtureRun(dir: string, options: { samples?: number; prefix?: string; start?: number; shareWith?: string } = {}): FixtureCounts {
  mkdirSync(dir, { recursive: true });
  const n = options.samples ?? 40;
  const prefix = options.prefix ?? 'r1';
  const start = options.start ?? Date.UTC(2026, 0, 5, 9, 0, 0);
  const random = seededRandom(mixSeed(11, prefix.length));
  const tree = fixtureTree();
  // Samples leave one category and the evolved nodes unused, so coverage is partial.
  const evolved = new Set(EVOLVED.map(([, label]) => label));
  const leaves = leafPaths(tree).filter((p) => p[0] !== 'implementation style' && !evolved.has(p[p.length - 1]!));
  const levels = ['function', 'file', 'multi_file'] as const;
  const samples: GeneratedSample[] = [];
  const tasks: SynthesisTask[] = [];
  let passed = 0;
  for (let i = 0; i < n; i++) {
    const level = levels[i % 3]!;
    const language = i % 4 === 3 ? 'typescript' : 'python';
    const features: TaskFeature[] = Array.from({ length: 2 + (i % 3) }, (_, k) => {
      const path = leaves[Math.floor(random() * leaves.length)]!;
      return { nodeId: `${prefix}-${i}-${k}`, path, frequency: 3, mandatory: k === 0 };
    });
    const taskId = `${options.shareWith && i < 5 ? options.shareWith : prefix}-task-${i}`;
    tasks.push({ taskId, treeKey: 'all', level, targetLanguage: language, seed: 42, index: i, features, treeSeq: 100, createdAt: start + 60_000 + i * 500 });
    const ext = language === 'python' ? 'py' : 'ts';
    const solution = language === 'python' ? pythonSolution(i) : tsSolution(i);
    const files = [
      { path: `solution.${ext}`, role: 'solution' as const, content: solution },
      ...(level === 'multi_file' ? [{ path: `helpers.${ext}`, role: 'solution' as const, content: language === 'python' ? 'from solution import score\n\n\ndef double(xs):\n    return 2 * score(xs)\n' : "import { pick } from './solution';\nexport function twice(n: number): number {\n  return 2 * pick(n);\n}\n" }] : []),
      { path: `test_solution.${ext}`, role: 'test' as const, content: language === 'python' ? 'from solution import score\n\n\ndef test_score():\n    assert score([]) == 0\n' : "import { pick } from './solution';\nif (pick(0) !== 0) throw new Error('bad');\n" },
    ];
    const ok = i % 7 !== 6;
    const turns = i % 5 === 4 ? 1 : i % 11 === 10 ? 2 : 0;
    const sample: GeneratedSample = {
      sampleId: `${options.shareWith && i < 5 ? options.shareWith : prefix}-sample-${i}`,
      taskId, treeKey: 'all', level, language,
      instruction: `${VERBS[i % VERBS.length]} ${THINGS[(i * 3) % THINGS.length]} that uses ${features.map((f) => f.path[f.path.length - 1]).join(' and ')}. Example: call it with ${i} items and return the summary.`,
      analysis: 'Break the work into small functions.',
      files, features,
      provenance: { model: 'fake-model', endpointHost: '127.0.0.1:1', promptVersion: 'generate-v1', seed: 42 },
      usage: { promptTokens: 900, completionTokens: 400, requests: 1 },
      elapsedMs: 1200,
      validation: {
        passed: ok, turns, reason: ok ? null : 'test-failure',
        // One sandbox run as generated, then one per debugging turn; only the last passes.
        attempts: Array.from({ length: turns + 1 }, (_, t) => ({
          turn: t, reason: ok && t === turns ? 'passed' : 'test-failure', detail: ok && t === turns ? '1 passed' : '1 failed',
          errorTail: ok && t === turns ? '' : 'AssertionError', durationMs: 300, promptTokens: t === 0 ? 0 : 800, completionTokens: t === 0 ? 0 : 300,
        })),
        tests: { total: 3, passed: ok ? 3 : 2, failed: ok ? 0 : 1, skipped: 0 },
        // Passing samples carry a mutation score: 10 mutants, 0 to 3 of them surviving.
        mutation: ok ? { score: (10 - (i % 4)) / 10, killed: 10 - (i % 4), survived: i % 4, unviable: 0, survivors: [] } : null,
      },
      createdAt: start + 70_000 + i * 1500,
      // Every fifth sample predates lineage; the others name a file every sample shares and one of four others.
      ...(i % 5 === 4 ? {} : {
        lineage: {
          treeSeq: 100, taskSeed: 42, taskIndex: i, steps: [],
          sources: [
            { fileId: 'a'.repeat(64), path: 'src/shared.py', repository: 'https://example.org/r.git', license: 'MIT', nodeIds: [features[0]!.nodeId] },
            { fileId: String(i % 4).repeat(64), path: `src/m${i % 4}.py`, repository: null, license: i % 4 < 2 ? 'Apache-2.0' : null, nodeIds: [features[1]!.nodeId] },
          ],
        },
      }),
    };
    if (ok) {
      samples.push(sample);
      passed += 1;
    } else {
      samples.push({ ...sample, validation: null });
    }
  }
  // Failures leave samples.jsonl and become validate dead letters, with the sample as record.
  const kept = samples.filter((s) => s.validation !== null);
  const failed = samples.filter((s) => s.validation === null).map((s) => ({ ...s, validation: { passed: false, turns: 2, reason: 'test-failure', attempts: [] } }));
  const at = (k: number) => start + 5_000 + k * 300;
  const rejections: Rejection[] = [
    ...Array.from({ length: 6 }, (_, k): Rejection => ({ stage: 'filter', reason: 'unknown-language', detail: `no supported language: hint (none), extension .md (file ${k})`, recordId: `${prefix}-file-${k}`, path: `docs/${k}.md`, source: dir, position: null, record: null, at: at(k) })),
    ...Array.from({ length: 2 }, (_, k): Rejection => ({ stage: 'filter', reason: 'binary', detail: 'binary content (NUL byte at 12)', recordId: `${prefix}-bin-${k}`, path: `img/${k}.png`, source: dir, position: null, record: null, at: at(10 + k) })),
    { stage: 'generate', reason: 'llm-invalid-json', detail: 'the answer is not valid JSON: Unexpected token I', recordId: `${prefix}-task-x`, path: null, source: null, position: null, record: null, at: start + 80_000 },
    ...failed.map((s, k): Rejection => ({ stage: 'validate', reason: 'test-failure', detail: `AssertionError in test_solution (sample ${s.sampleId})`, recordId: s.sampleId, path: null, source: null, position: null, record: JSON.stringify(s), at: start + 90_000 + k * 800 })),
    ...Array.from({ length: 2 }, (_, k): Rejection => ({ stage: 'decontaminate', reason: 'contaminated', detail: `instruction shares 3 13-grams (40 % of its n-grams) with benchmark item HumanEval/${k} (bench.jsonl line ${k + 1}), e.g. "…"`, recordId: `${prefix}-cont-${k}`, path: null, source: 'bench.jsonl', position: k + 1, record: null, at: start + 95_000 + k * 100 })),
  ];
  const write = (name: string, records: unknown[]) => writeFileSync(join(dir, name), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  write('samples.jsonl', kept);
  write('tasks.jsonl', tasks);
  write('rejected.jsonl', rejections);
  writeFileSync(join(dir, 'tree.json'), JSON.stringify(tree, null, 2));
  const usage = {
    extract: { calls: 40, ok: 39, failed: 1, errors: 0, cacheHits: 4, requests: 37, retries: 1, repairs: 0, promptTokens: 52_000, completionTokens: 9_000, cachedPromptTokens: 5_000, cachedCompletionTokens: 1_000, failures: {} },
    generate: { calls: n, ok: n, failed: 0, errors: 0, cacheHits: 0, requests: n, retries: 0, repairs: 0, promptTokens: 36_000, completionTokens: 16_000, cachedPromptTokens: 0, cachedCompletionTokens: 0, failures: {} },
  };
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({
    input: '/corpus', files: { read: 48, accepted: 40, rejected: 8 }, rejectedByReason: { 'unknown-language': 6, binary: 2 },
    samples: { written: kept.length, rejected: failed.length, byLevel: {} }, llm: { endpoint: '127.0.0.1:1', stages: ['extract', 'generate'], pendingPrompts: 0, usage: { byStage: usage } },
    startedAt: new Date(start).toISOString(), elapsedMs: 120_000, filesPerSecond: 0.4,
  }, null, 2));
  return {
    samples: kept.length, passed, validateFailures: failed.length, contaminated: 2, rejections: rejections.length, tasks: tasks.length,
    promptTokens: { extract: 52_000, generate: 36_000 }, completionTokens: { extract: 9_000, generate: 16_000 },
  };
}
