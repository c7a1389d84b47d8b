import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportFile } from '../cli/commands/export.js';
import { toTrainingRecord } from '../connectors/training-formats.js';
import type { GeneratedSample } from '../schemas/contract.js';

const sample = (id: string, passed: boolean | null): GeneratedSample => ({
  sampleId: id, taskId: 't', treeKey: 'all', level: 'file', language: 'python',
  instruction: 'Write `add(a, b)`.', analysis: 'Add them.',
  files: [
    { path: 'add.py', role: 'solution', content: 'def add(a, b):\n    return a + b\n' },
    { path: 'test_add.py', role: 'test', content: 'from add import add\nassert add(1, 2) == 3\n' },
  ],
  features: [], provenance: { model: 'm', endpointHost: 'h', promptVersion: 'v', seed: 1 },
  usage: { promptTokens: 1, completionTokens: 1, requests: 1 }, elapsedMs: 1,
  validation: passed === null ? null : { passed, turns: 0, reason: passed ? null : 'test-failure', attempts: [], tests: null, mutation: null }, createdAt: 0,
});

const dir = mkdtempSync(join(tmpdir(), 'treesynth-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('training formats', () => {
  it('chat: the instruction as the user turn, analysis and solution files as the assistant turn', () => {
    const record = toTrainingRecord(sample('s1', true), 'chat', { includeTests: false, system: 'You are a coder.' });
    expect(record['messages']).toEqual([
      { role: 'system', content: 'You are a coder.' },
      { role: 'user', content: 'Write `add(a, b)`.' },
      { role: 'assistant', content: 'Add them.\n\n`add.py`\n```python\ndef add(a, b):\n    return a + b\n```' },
    ]);
  });

  it('instruction/output, with the tests when asked', () => {
    const record = toTrainingRecord(sample('s1', true), 'instruction', { includeTests: true });
    expect(record).toMatchObject({ instruction: 'Write `add(a, b)`.', input: '' });
    expect(record['output']).toContain('`test_add.py`');
  });

  it('carries the sample\'s lineage beside the training fields (source files, node ids, models), unless asked not to', () => {
    const withLineage: GeneratedSample = {
      ...sample('s1', true),
      features: [{ nodeId: 'n1', path: ['algorithm', 'sorting'], frequency: 2, mandatory: true }],
      lineage: {
        treeSeq: 9, taskSeed: 1, taskIndex: 0, steps: [{ step: 'solution', model: 'm', promptVersion: 'solution-v1', cached: false, promptTokens: 1, completionTokens: 1 }],
        sources: [{ fileId: 'f'.repeat(64), path: 'src/sort.py', repository: 'https://github.com/acme/sort', license: 'BSD-3-Clause', nodeIds: ['n1'] }],
      },
    };
    for (const format of ['chat', 'instruction'] as const) {
      expect(toTrainingRecord(withLineage, format, { includeTests: false })['lineage']).toEqual({
        treeKey: 'all', features: [{ nodeId: 'n1', path: ['algorithm', 'sorting'] }], treeSeq: 9,
        sources: [{ fileId: 'f'.repeat(64), path: 'src/sort.py', repository: 'https://github.com/acme/sort', license: 'BSD-3-Clause', nodeIds: ['n1'] }],
        steps: [{ step: 'solution', model: 'm', promptVersion: 'solution-v1' }],
      });
      expect(toTrainingRecord(withLineage, format, { includeTests: false, lineage: false })).not.toHaveProperty('lineage');
    }
    // A sample from before lineage: what it has, and no files.
    expect(toTrainingRecord(sample('s2', true), 'chat', { includeTests: false })['lineage']).toMatchObject({ sources: [], treeSeq: null, steps: [] });
  });

  it('exports a samples file, skipping unvalidated samples on request and reporting bad lines', async () => {
    const input = join(dir, 'samples.jsonl');
    writeFileSync(input, [JSON.stringify(sample('a', true)), 'not json', JSON.stringify(sample('b', false)), JSON.stringify({ sampleId: 'x' }), ''].join('\n'));
    const warnings: string[] = [];
    const counts = await exportFile(input, join(dir, 'out.jsonl'), { format: 'chat', includeTests: false, validatedOnly: true }, (w) => warnings.push(w));
    expect(counts).toEqual({ read: 4, written: 1, skipped: 1, invalid: 2 });
    expect(warnings.map((w) => w.split(': skipped')[0])).toEqual([`${input}:2`, `${input}:4`]);
    const lines = readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!).id).toBe('a');
  });
});
