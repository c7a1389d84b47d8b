// The validate stage: real sandbox, and debugging turns through the real LLM client over HTTP
// against the fake OpenAI-compatible server.
import { firstValueFrom, from, toArray } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadGrammars, type Grammars } from '../analysis/tree-sitter/grammars.js';
import { LlmClient } from '../llm/client.js';
import type { Outcome } from '../schemas/outcome.js';
import { validateSample, validateSamples, type ValidateConfig } from '../processors/validate.js';
import { ValidationTally } from '../quality/validation-tally.js';
import { Sandbox } from '../sandbox/sandbox.js';
import { loadContracts, type GeneratedSample } from '../schemas/contract.js';
import type { ChatCompletionRequest } from './fakes/fake-openai-server.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';

const KEY = 'sk-validate-test';

function sample(id: string, files: GeneratedSample['files'], language = 'python', level: GeneratedSample['level'] = 'function'): GeneratedSample {
  return {
    sampleId: id, taskId: `task-${id}`, treeKey: 'all', level, language,
    instruction: 'Implement `add(a, b)` returning the sum of two integers. Example: add(2, 3) == 5.',
    analysis: 'One operation.', files, features: [{ nodeId: 'n1', path: ['algorithm', 'arithmetic'], frequency: 3, mandatory: true }],
    provenance: { model: 'gen-model', endpointHost: 'example.test', promptVersion: 'generate-v1', seed: 1 },
    usage: { promptTokens: 100, completionTokens: 50, requests: 1 }, elapsedMs: 10, validation: null, createdAt: 1_700_000_000_000,
  };
}

const TEST_ADD = 'from mathlib import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n';
const wrong = (id: string) => sample(id, [
  { path: 'mathlib.py', role: 'solution', content: 'def add(a, b):\n    return a - b\n' },
  { path: 'test_mathlib.py', role: 'test', content: TEST_ADD },
]);
const right = (id: string) => sample(id, [
  { path: 'mathlib.py', role: 'solution', content: 'def add(a, b):\n    return a + b\n' },
  { path: 'test_mathlib.py', role: 'test', content: TEST_ADD },
]);

const userText = (r: ChatCompletionRequest): string => r.messages.filter((m) => m.role === 'user').map((m) => String(m.content)).join('\n');
const schemaName = (r: ChatCompletionRequest): string => (r.response_format as { json_schema?: { name?: string } } | undefined)?.json_schema?.name ?? '';

describe('validate stage', () => {
  let server: FakeOpenAI;
  let sandbox: Sandbox;
  let client: LlmClient;
  /** What the fake model answers to a debugging request: the fixed file, or a still-broken one. */
  let fix: 'good' | 'still-wrong' | 'garbage' = 'good';
  const prompts: string[] = [];

  beforeAll(async () => {
    sandbox = await Sandbox.create({ limits: { wallMs: 4_000, memoryBytes: 256 * 1024 * 1024 }, concurrency: 2 });
    server = await startFakeOpenAI({
      apiKey: KEY,
      models: ['fake-model'],
      chat: (request) => {
        if (schemaName(request) !== 'code_sample_fix') return '{}';
        prompts.push(userText(request));
        if (fix === 'garbage') return 'Sorry, I cannot help with that file.';
        const body = fix === 'good' ? 'def add(a, b):\n    return a + b\n' : 'def add(a, b):\n    return a * b\n';
        return {
          content: JSON.stringify({
            instruction: 'Implement `add(a, b)` returning the sum of two integers. Example: add(2, 3) == 5.',
            analysis: 'The subtraction was the bug; add the operands.',
            files: [{ path: 'mathlib.py', role: 'solution', content: body }, { path: 'test_mathlib.py', role: 'test', content: TEST_ADD }],
            packages: [],
          }),
          usage: { prompt_tokens: 321, completion_tokens: 54 },
        };
      },
    });
    client = new LlmClient({ baseURL: server.url, apiKey: KEY, model: 'fake-model', stage: 'validate', timeoutMs: 5_000, maxRetries: 0 });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    fix = 'good';
    prompts.length = 0;
    server.reset();
  });

  const run = (config: ValidateConfig, samples: GeneratedSample[]): Promise<Outcome<GeneratedSample>[]> => firstValueFrom(from(samples).pipe(validateSamples(config), toArray()));
  const chats = (): number => server.requests.filter((r) => r.path === '/v1/chat/completions').length;

  it('passes a correct sample as it is, with the run recorded', async () => {
    const [outcome] = await run({ runner: sandbox, turns: 2, model: client, concurrency: 2 }, [right('ok1')]);
    expect(outcome?.ok).toBe(true);
    if (!outcome?.ok) return;
    expect(outcome.value.validation).toMatchObject({ passed: true, turns: 0, reason: null });
    expect(outcome.value.validation?.attempts).toEqual([expect.objectContaining({ turn: 0, reason: 'passed', errorTail: '', promptTokens: 0 })]);
    expect(chats()).toBe(0);
    // Still a valid record of the contract.
    expect(() => loadContracts().GeneratedSample.check(outcome.value)).not.toThrow();
  });

  it('sends a failing sample back with its error output and passes it when the fix comes back', async () => {
    const [outcome] = await run({ runner: sandbox, turns: 2, model: client, concurrency: 2 }, [wrong('fix1')]);
    expect(outcome?.ok, JSON.stringify(outcome)).toBe(true);
    if (!outcome?.ok) return;
    const v = outcome.value.validation!;
    expect(v).toMatchObject({ passed: true, turns: 1, reason: null });
    expect(v.attempts).toHaveLength(2);
    expect(v.attempts[0]).toMatchObject({ turn: 0, reason: 'test-failure', promptTokens: 0 });
    expect(v.attempts[0]!.errorTail).toMatch(/assert -1 == 5/);
    expect(v.attempts[1]).toMatchObject({ turn: 1, reason: 'passed', promptTokens: 321, completionTokens: 54 });
    expect(outcome.value.files.find((f) => f.path === 'mathlib.py')?.content).toContain('a + b');
    // The model saw the failing code and the assertion.
    expect(chats()).toBe(1);
    expect(prompts[0]).toContain('return a - b');
    expect(prompts[0]).toMatch(/assert -1 == 5/);
    expect(prompts[0]).toContain('test-failure');
    // It hears what the sample declared; the system message offers the allow-list.
    expect(prompts[0]).toContain('Packages: (none)');
  });

  it('rejects with the final reason after the turns run out, every run recorded', async () => {
    fix = 'still-wrong';
    const [outcome] = await run({ runner: sandbox, turns: 2, model: client, concurrency: 2 }, [wrong('fix2')]);
    expect(outcome?.ok).toBe(false);
    if (outcome?.ok !== false) return;
    expect(outcome.rejection).toMatchObject({ stage: 'validate', reason: 'test-failure', recordId: 'fix2' });
    expect(outcome.rejection.detail).toMatch(/after 2 debugging turns/);
    const record = JSON.parse(outcome.rejection.record!) as GeneratedSample;
    expect(record.validation).toMatchObject({ passed: false, turns: 2, reason: 'test-failure' });
    expect(record.validation!.attempts.map((a) => [a.turn, a.reason])).toEqual([[0, 'test-failure'], [1, 'test-failure'], [2, 'test-failure']]);
    expect(chats()).toBe(2);
  });

  it('stops debugging when the model answers garbage, and says so', async () => {
    fix = 'garbage';
    const [outcome] = await run({ runner: sandbox, turns: 2, model: client, concurrency: 2 }, [wrong('fix3')]);
    expect(outcome?.ok).toBe(false);
    if (outcome?.ok !== false) return;
    expect(outcome.rejection.reason).toBe('test-failure');
    expect(outcome.rejection.detail).toMatch(/debugging stopped: llm-/);
  });

  it('gives no debugging turn to a sandbox violation, and none without a model', async () => {
    const hostile = sample('net1', [
      { path: 'grab.py', role: 'solution', content: 'import urllib.request\n\ndef grab():\n    return urllib.request.urlopen("http://example.com", timeout=2).read()\n' },
      { path: 'test_grab.py', role: 'test', content: 'from grab import grab\n\n\ndef test_grab():\n    assert grab()\n' },
    ]);
    const [violation] = await run({ runner: sandbox, turns: 2, model: client, concurrency: 2 }, [hostile]);
    expect(violation?.ok).toBe(false);
    if (violation?.ok === false) expect(violation.rejection.reason).toBe('sandbox-violation');
    expect(chats()).toBe(0);

    const [plain] = await run({ runner: sandbox, turns: 2, model: null, concurrency: 2 }, [wrong('nomodel')]);
    expect(plain?.ok).toBe(false);
    if (plain?.ok === false) {
      expect(plain.rejection.reason).toBe('test-failure');
      expect((JSON.parse(plain.rejection.record!) as GeneratedSample).validation).toMatchObject({ turns: 0 });
    }
    expect(chats()).toBe(0);
  });

  it('runs many samples concurrently, one outcome each, and tallies them by reason, level and turn', async () => {
    const samples = [right('a'), wrong('b'), right('c'), { ...right('d'), level: 'file' as const }, sample('e', [{ path: 'x.go', role: 'test', content: 'package x' }], 'go')];
    const outcomes = await run({ runner: sandbox, turns: 1, model: client, concurrency: 4 }, samples);
    expect(outcomes).toHaveLength(5);
    const tally = new ValidationTally();
    outcomes.forEach((o) => tally.add(o));
    tally.addInvalid('invalid-json');
    const s = tally.summary();
    expect(s).toMatchObject({ total: 6, validated: 5, invalid: 1, passed: 4, rejected: 2, passRate: 0.8 });
    expect(s.byReason).toEqual({ passed: 4, 'invalid-json': 1, 'unsupported-language': 1 });
    expect(s.byLevel['function']).toEqual({ validated: 4, passed: 3, rate: 0.75 });
    expect(s.byLevel['file']).toEqual({ validated: 1, passed: 1, rate: 1 });
    expect(s.byTurn).toEqual([
      { turn: 0, passed: 3, cumulativePassed: 3, cumulativeRate: 0.6 },
      { turn: 1, passed: 1, cumulativePassed: 4, cumulativeRate: 0.8 },
    ]);
    expect(s.runsByReason).toMatchObject({ passed: 4, 'test-failure': 1, 'unsupported-language': 1 });
    expect(s.debugTokens).toEqual({ promptTokens: 321, completionTokens: 54 });
  });

  describe('test adequacy (mutation score)', () => {
    let grammars: Grammars;
    beforeAll(async () => {
      grammars = await loadGrammars(['python', 'javascript', 'typescript', 'tsx']);
    });
    afterAll(() => grammars.delete());

    const CLAMP = 'def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n';
    const clampSample = (id: string, test: string) => sample(id, [
      { path: 'clamp.py', role: 'solution', content: CLAMP },
      { path: 'test_clamp.py', role: 'test', content: `from clamp import clamp\n\n\ndef test_clamp():\n${test}` },
    ]);
    // Both edges and the middle: every mutant of clamp fails one of these.
    const STRONG = '    assert clamp(-1, 0, 10) == 0\n    assert clamp(0, 0, 10) == 0\n    assert clamp(5, 0, 10) == 5\n    assert clamp(10, 0, 10) == 10\n    assert clamp(11, 0, 10) == 10\n';
    // Only the middle: a mutant of either bound goes unnoticed.
    const WEAK = '    assert clamp(5, 0, 10) == 5\n';

    it('records the score of a sample whose tests catch its mutants, and passes it', async () => {
      const outcome = await validateSample(clampSample('strong', STRONG), { runner: sandbox, turns: 0, concurrency: 2, mutation: { grammars, maxMutants: 8, seed: 7, minScore: 0.5 } });
      expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
      if (!outcome.ok) return;
      const m = outcome.value.validation!.mutation!;
      // All six sites: two comparisons, one early return, three returns dropped. The boundary
      // mutants (`<` → `<=` on `return lo`) are equivalent: no test can catch them.
      expect(m).toMatchObject({ killed: 4, survived: 2, unviable: 0, score: 0.6667 });
      expect(m.survivors.map((x) => x.description).sort()).toEqual(['`<` → `<=`', '`>` → `>=`']);
      expect(outcome.value.validation!.tests).toEqual({ total: 1, passed: 1, failed: 0, skipped: 0 });
      expect(() => loadContracts().GeneratedSample.check(outcome.value)).not.toThrow();
    });

    it('rejects a sample whose tests let most mutants through, naming them, and the model sees them on its turn', async () => {
      const weak = clampSample('weak', WEAK);
      const outcome = await validateSample(weak, { runner: sandbox, turns: 0, concurrency: 2, mutation: { grammars, maxMutants: 8, seed: 7, minScore: 0.5 } });
      expect(outcome.ok).toBe(false);
      if (outcome.ok) return;
      expect(outcome.rejection.reason).toBe('low-mutation-score');
      expect(outcome.rejection.detail).toMatch(/the tests caught \d of \d mutants .*at least 0\.50 needed/);
      const record = JSON.parse(outcome.rejection.record!) as GeneratedSample;
      expect(record.validation!.mutation!.score).toBeLessThan(0.5);
      expect(record.validation!.mutation!.survivors.length).toBe(record.validation!.mutation!.survived);
      expect(record.validation!.attempts[0]).toMatchObject({ reason: 'low-mutation-score' });
      expect(record.validation!.attempts[0]!.errorTail).toMatch(/clamp\.py:\d+ \(\w[\w-]*\): /);

      // With a model, the surviving mutants are the output of the failed run it is shown.
      fix = 'good';
      await validateSample(weak, { runner: sandbox, turns: 1, model: client, concurrency: 2, mutation: { grammars, maxMutants: 8, seed: 7, minScore: 0.5 } });
      expect(prompts[0]).toContain('low-mutation-score');
      expect(prompts[0]).toMatch(/Strengthen the tests/);

      // A minimum of 0 records the score and rejects nothing.
      const recorded = await validateSample(weak, { runner: sandbox, turns: 0, concurrency: 2, mutation: { grammars, maxMutants: 8, seed: 7, minScore: 0 } });
      expect(recorded.ok).toBe(true);
      if (recorded.ok) expect(recorded.value.validation!.mutation!.score).toBe(record.validation!.mutation!.score);
    });
  });
});
