// Mutant generation as a specification: the operators the issue names, one change per mutant,
// every mutant still parses, the same sample and seed always give the same mutants, and code
// that never runs under the tests (a __main__ block) or only prints is left alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGrammars, type Grammars } from '../analysis/tree-sitter/grammars.js';
import { describeSurvivors, generateMutants, scoreMutants, type Mutant } from '../quality/mutation.js';
import type { SampleRunner, SandboxFile, SandboxResult } from '../sandbox/types.js';

const PY_SOLUTION = `"""Clamping."""


def clamp(x, lo, hi):
    """Clamp x into [lo, hi]."""
    if x < lo:
        return lo
    if x > hi and hi is not None:
        return hi
    steps = 0
    steps += 1
    print("clamped", x)
    return x


if __name__ == "__main__":
    assert clamp(5, 0, 3) == 3
`;

const JS_SOLUTION = `function clamp(x, lo, hi) {
  if (x < lo) return lo;
  if (x > hi || hi === undefined) { return hi; }
  let steps = 0;
  steps += 1;
  console.log(steps);
  return x;
}
module.exports = { clamp };
`;

const files = (solution: string, path: string, test: string): SandboxFile[] => [
  { path, role: 'solution', content: solution },
  { path: test, role: 'test', content: 'unchanged test\n' },
];

/** The one place a mutant differs from the original: [offset, removed, inserted]. */
function change(original: string, mutated: string): [number, string, string] {
  let start = 0;
  while (start < original.length && original[start] === mutated[start]) start++;
  let endO = original.length;
  let endM = mutated.length;
  while (endO > start && endM > start && original[endO - 1] === mutated[endM - 1]) {
    endO--;
    endM--;
  }
  return [start, original.slice(start, endO), mutated.slice(start, endM)];
}

describe('mutant generation', () => {
  let grammars: Grammars;
  beforeAll(async () => {
    grammars = await loadGrammars(['python', 'javascript', 'typescript', 'tsx']);
  });
  afterAll(() => grammars.delete());

  it('uses every operator on Python, each mutant one change to the solution only, and each still parses', () => {
    const sample = files(PY_SOLUTION, 'clamp.py', 'test_clamp.py');
    const mutants = generateMutants(sample, grammars, { maxMutants: 20, seed: 7, sampleId: 's1' });
    expect(new Set(mutants.map((m) => m.operator))).toEqual(new Set(['comparison', 'constant', 'logical', 'return-early', 'drop-statement']));
    for (const m of mutants) {
      expect(m.files.find((f) => f.role === 'test')?.content).toBe('unchanged test\n');
      const mutated = m.files.find((f) => f.path === 'clamp.py')!.content;
      expect(mutated).not.toBe(PY_SOLUTION);
      const tree = grammars.parse('python', mutated);
      expect(tree.rootNode.hasError, m.description).toBe(false);
      tree.delete();
    }
    const descriptions = mutants.map((m) => m.description);
    expect(descriptions).toContain('`<` → `<=`');
    expect(descriptions).toContain('`and` → `or`');
    expect(descriptions).toContain('0 → 1');
    expect(descriptions).toContain('drop `steps += 1`');
    // Nothing from the __main__ block, the docstrings or the print call.
    for (const m of mutants) {
      const [at, removed] = change(PY_SOLUTION, m.files[0]!.content);
      expect(at, m.description).toBeLessThan(PY_SOLUTION.indexOf('if __name__'));
      expect(removed).not.toMatch(/print|"""/);
    }
    // Returning early keeps the docstring a docstring and the body indented.
    const early = mutants.find((m) => m.operator === 'return-early')!;
    expect(early.files[0]!.content).toContain('    """Clamp x into [lo, hi]."""\n    return None\n    if x < lo:');
  });

  it('mutates JavaScript and TypeScript the same way, but never an export list or a log call', () => {
    for (const [path, grammar] of [['clamp.js', 'javascript'], ['clamp.ts', 'typescript']] as const) {
      const mutants = generateMutants(files(JS_SOLUTION, path, `clamp.test.${path.split('.')[1]}`), grammars, { maxMutants: 20, seed: 7, sampleId: 's1' });
      expect(new Set(mutants.map((m) => m.operator))).toEqual(new Set(['comparison', 'constant', 'logical', 'return-early', 'drop-statement']));
      for (const m of mutants) {
        const mutated = m.files[0]!.content;
        const [, removed, inserted] = change(JS_SOLUTION, mutated);
        expect(removed + inserted).not.toMatch(/module\.exports|console/);
        const tree = grammars.parse(grammar, mutated);
        expect(tree.rootNode.hasError, m.description).toBe(false);
        tree.delete();
      }
      expect(mutants.map((m) => m.description)).toContain('`===` → `!==`');
    }
  });

  it('is deterministic per sample and seed, bounded, and spread over the operators', () => {
    const sample = files(PY_SOLUTION, 'clamp.py', 'test_clamp.py');
    const key = (ms: Mutant[]) => ms.map((m) => `${m.file}:${m.line}:${m.description}`);
    const a = generateMutants(sample, grammars, { maxMutants: 5, seed: 7, sampleId: 's1' });
    expect(key(generateMutants(sample, grammars, { maxMutants: 5, seed: 7, sampleId: 's1' }))).toEqual(key(a));
    expect(a).toHaveLength(5);
    // Five mutants, five operators that apply: one of each before any repeats.
    expect(new Set(a.map((m) => m.operator)).size).toBe(5);
    const others = [2, 3, 4, 5].map((seed) => key(generateMutants(sample, grammars, { maxMutants: 5, seed, sampleId: 's1' })).join('|'));
    expect(new Set([key(a).join('|'), ...others]).size).toBeGreaterThan(1);
  });

  it('makes no mutant of a file that is not code it knows, or of tests', () => {
    expect(generateMutants([{ path: 'notes.txt', role: 'solution', content: 'x < 1' }, { path: 'test_x.py', role: 'test', content: 'assert 1 < 2\n' }], grammars, { maxMutants: 10, seed: 1, sampleId: 'x' })).toEqual([]);
  });
});

describe('mutation score', () => {
  /** A runner that "kills" the mutants whose description matches. */
  const runner = (kills: RegExp, unviable = /$^/): SampleRunner => ({
    run: async (_language, files) => {
      const content = files[0]!.content;
      const reason = unviable.test(content) ? 'sandbox-error' : kills.test(content) ? 'test-failure' : 'passed';
      return { reason, passed: reason === 'passed', detail: '', output: '', exitCode: 0, signal: null, durationMs: 5, outputBytes: 0, command: '' } satisfies SandboxResult;
    },
  });
  const mutant = (n: number, content: string): Mutant => ({ operator: 'constant', file: 'a.py', line: n, description: `m${n}`, files: [{ path: 'a.py', role: 'solution', content }] });

  it('is killed over killed plus survived; mutants the sandbox could not judge count for neither', async () => {
    const ms = [mutant(1, 'kill'), mutant(2, 'kill'), mutant(3, 'live'), mutant(4, 'broken'), mutant(5, 'kill')];
    const r = await scoreMutants(runner(/kill/, /broken/), 'python', ms, { durationMs: 100 });
    expect(r).toMatchObject({ killed: 3, survived: 1, unviable: 1, score: 0.75 });
    expect(describeSurvivors(r)).toContain('- a.py:3 (constant): m3');
    expect((await scoreMutants(runner(/kill/), 'python', [], { durationMs: 100 })).score).toBeNull();
  });
});
