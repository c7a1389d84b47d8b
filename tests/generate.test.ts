// Generation in three structured calls: question, analysis, then solution and tests from both.
import { describe, expect, it } from 'vitest';
import { generateSample } from '../processors/generate.js';
import { describeAllowList, loadAllowList } from '../sandbox/packages.js';
import type { CompleteRequest, LlmResult } from '../llm/client.js';
import type { PendingPrompt, StructuredModel } from '../llm/model.js';
import { loadContracts, type GeneratedSample, type SynthesisTask } from '../schemas/contract.js';

const task: SynthesisTask = {
  taskId: 'task-1', treeKey: 'all', level: 'function', targetLanguage: 'python', seed: 7, index: 3, treeSeq: 120, createdAt: 0,
  features: [
    { nodeId: 'n-sort', path: ['algorithm', 'sorting'], frequency: 4, mandatory: true },
    { nodeId: 'n-csv', path: ['data processing', 'csv parsing'], frequency: 2, mandatory: false },
    { nodeId: 'n-log', path: ['logging', 'debug level'], frequency: 1, mandatory: false },
  ],
  sources: [
    { fileId: 'a'.repeat(64), path: 'stock/rank.py', repository: 'https://github.com/acme/stock', license: 'MIT', nodeIds: ['n-sort', 'n-csv'] },
    { fileId: 'b'.repeat(64), path: 'log/setup.py', repository: null, license: null, nodeIds: ['n-log'] },
  ],
};

const answers: Record<string, unknown> = {
  code_question: {
    features: [1, 2], scenario: 'A warehouse ranks its stock rows by quantity.',
    task: 'Read CSV rows of item,quantity and return the item names sorted by quantity, highest first; ties keep input order.',
    instruction: 'Rank warehouse items by quantity.', signature: 'def rank_items(csv_text: str) -> list[str]',
    examples: [{ input: 'rank_items("a,1\\nb,3")', output: "['b', 'a']" }],
  },
  code_analysis: {
    understanding: 'Parse each row, then sort stably by quantity descending.', boundaryCases: ['empty input', 'equal quantities'],
    prerequisites: 'csv module, sorted with a key.', extraTests: [{ input: 'rank_items("")', expected: '[]', reason: 'no rows' }],
  },
  code_solution: {
    files: [
      { path: 'rank.py', role: 'solution', content: 'def rank_items(csv_text):\n    return []\n' },
      { path: 'test_rank.py', role: 'test', content: 'from rank import rank_items\n\n\ndef test_empty():\n    assert rank_items("") == []\n' },
    ],
    packages: ['PyYAML', 'numpy', 'numpy'],
  },
};

/** A model that answers by schema name, runs the caller's checks like the client does, and keeps every request. */
function scripted(overrides: Record<string, unknown> = {}): StructuredModel & { requests: CompleteRequest<unknown>[] } {
  const requests: CompleteRequest<unknown>[] = [];
  return {
    requests,
    async complete<T>(request: CompleteRequest<T>): Promise<LlmResult<T>> {
      requests.push(request as CompleteRequest<unknown>);
      const value = (overrides[request.schema.name] ?? answers[request.schema.name]) as T;
      const info = {
        usage: { promptTokens: 100, completionTokens: 10, requests: 1 }, model: 'm1', elapsedMs: 5, stage: 'generate',
        provenance: { model: 'm1', endpointHost: 'h', promptVersion: request.promptVersion ?? '', seed: 1 },
      };
      const problems = request.validate?.(value) ?? [];
      if (problems.length > 0) return { ...info, ok: false, reason: 'off-schema', detail: problems.join('; '), cached: false };
      return { ...info, ok: true, value, cached: false, repaired: false };
    },
  };
}

describe('generateSample', () => {
  it('asks for the question, then its analysis, then the solution from both, each under its own schema and prompt version', async () => {
    const model = scripted();
    const outcome = await generateSample(task, { access: { model }, concurrency: 1, clock: () => 1 });
    expect(model.requests.map((r) => [r.schema.name, r.promptVersion])).toEqual([
      ['code_question', 'question-v1'], ['code_analysis', 'analysis-v1'], ['code_solution', 'solution-v2'],
    ]);
    const [, analysisRequest, solutionRequest] = model.requests.map((r) => r.messages.map((m) => m.content).join('\n'));
    expect(analysisRequest).toContain('def rank_items(csv_text: str) -> list[str]');
    expect(solutionRequest).toContain('def rank_items(csv_text: str) -> list[str]');
    expect(solutionRequest).toContain('equal quantities');
    // The solution step offers the sandbox's allow-list, from sandbox/python-packages.txt.
    expect(solutionRequest).toContain(`only these are installed: ${describeAllowList(loadAllowList())}`);
    expect(solutionRequest).toContain('pyyaml (import yaml)');
    expect(outcome?.ok).toBe(true);
    const sample = (outcome as { value: GeneratedSample }).value;
    expect(() => loadContracts().GeneratedSample.check(sample)).not.toThrow();
    expect(sample.instruction).toContain('highest first');
    expect(sample.instruction).toContain("['b', 'a']");
    expect(sample.analysis).toContain('2. Boundary cases\n- empty input');
    expect(sample.question).toMatchObject({ selectedNodeIds: ['n-sort', 'n-csv'], instruction: 'Rank warehouse items by quantity.' });
    expect(sample.lineage).toEqual({
      treeSeq: 120, taskSeed: 7, taskIndex: 3,
      steps: ['question', 'analysis', 'solution'].map((step) => ({ step, model: 'm1', promptVersion: `${step}-v${step === 'solution' ? 2 : 1}`, cached: false, promptTokens: 100, completionTokens: 10 })),
      // The task's source files, as the sample stage found them behind its features.
      sources: task.sources,
    });
    expect(sample.usage).toEqual({ promptTokens: 300, completionTokens: 30, requests: 3 });
    expect(sample.files.map((f) => f.path)).toEqual(['rank.py', 'test_rank.py']);
    // As declared, by normalised name and once each; validation checks them against the allow-list.
    expect(sample.packages).toEqual(['pyyaml', 'numpy']);
  });

  it('tells a JavaScript task that no packages are installed', async () => {
    const model = scripted({ code_solution: { files: [{ path: 'rank.js', role: 'solution', content: 'module.exports = {};\n' }, { path: 'rank.test.js', role: 'test', content: "require('node:test');\n" }], packages: [] } });
    await generateSample({ ...task, targetLanguage: 'javascript' }, { access: { model }, concurrency: 1 });
    const solutionRequest = model.requests[2]!.messages.map((m) => m.content).join('\n');
    expect(solutionRequest).toContain(`Packages: none are installed; use Node's built-in modules only and answer "packages": [].`);
    expect(solutionRequest).not.toContain('numpy');
  });

  it('a question that leaves out a mandatory feature is a dead letter naming the step, and nothing more is asked', async () => {
    const model = scripted({ code_question: { ...(answers['code_question'] as object), features: [2, 3] } });
    const outcome = await generateSample(task, { access: { model }, concurrency: 1 });
    expect(model.requests).toHaveLength(1);
    expect(outcome).toMatchObject({ ok: false, rejection: { stage: 'generate', reason: 'llm-off-schema', recordId: 'task-1' } });
    const rejection = (outcome as { rejection: { detail: string } }).rejection;
    expect(rejection.detail).toMatch(/^question step: .*mandatory feature 1 \(algorithm > sorting\) is not selected/);
  });

  it('a question selecting a feature that was not listed, or one twice, is sent back for repair', async () => {
    const model = scripted({ code_question: { ...(answers['code_question'] as object), features: [1, 4, 1] } });
    const outcome = await generateSample(task, { access: { model }, concurrency: 1 });
    const detail = (outcome as { rejection: { detail: string } }).rejection.detail;
    expect(detail).toContain('4 is not a listed feature (1 to 3)');
    expect(detail).toContain('1 is selected twice');
  });

  it('a solution with no tests is a dead letter of the solution step, carrying the question and analysis it was built on', async () => {
    const files = (answers['code_solution'] as { files: unknown[] }).files.slice(0, 1);
    const outcome = await generateSample(task, { access: { model: scripted({ code_solution: { files } }) }, concurrency: 1 });
    const rejection = (outcome as { rejection: { detail: string; record: string } }).rejection;
    expect(rejection.detail).toMatch(/^solution step: .*no file has role "test"/);
    expect(JSON.parse(rejection.record)).toMatchObject({ step: 'solution', question: { signature: 'def rank_items(csv_text: str) -> list[str]' }, analysis: { prerequisites: 'csv module, sorted with a key.' } });
  });

  it('without a model, records the question prompt (the later steps need its answer) and emits nothing', async () => {
    const pending: PendingPrompt[] = [];
    const outcome = await generateSample(task, { access: { pending: async (p) => { pending.push(p); } }, concurrency: 1 });
    expect(outcome).toBeNull();
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ stage: 'generate', recordId: 'task-1', promptVersion: 'question-v1', responseFormat: { name: 'code_question' } });
    expect(pending[0]!.messages.at(-1)!.content).toContain('1. algorithm > sorting  (mandatory)');
  });
});
