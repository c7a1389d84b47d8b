import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generate } from '../schemas/codegen.mjs';
import { loadContracts, SchemaViolation } from '../schemas/contract.js';

describe('schemas', () => {
  it('generated TypeScript types are up to date with the .avsc files', () => {
    expect(readFileSync(new URL('../schemas/generated.ts', import.meta.url), 'utf8')).toBe(generate());
  });

  it('has a contract for every record that crosses a stage or makes up a store changelog', () => {
    expect(Object.keys(loadContracts()).sort()).toEqual(
      ['CodeFile', 'Contribution', 'EvolutionRequest', 'FeatureSet', 'GeneratedSample', 'NodeSources', 'PathEntry', 'Rejection', 'SourceFile', 'StudentAttempt', 'SuppressedFile', 'SynthesisTask', 'TaskRequest', 'TreeNodeChange'].sort(),
    );
  });

  it('names every offending field of an invalid record', () => {
    const { CodeFile } = loadContracts();
    const bad = { id: 'x', path: 3, language: 'python', content: 'x', sizeBytes: 1.5, lines: 1, source: 's' };
    try {
      CodeFile.check(bad);
      expect.unreachable('an invalid record must not pass');
    } catch (error) {
      expect(error).toBeInstanceOf(SchemaViolation);
      const problems = (error as SchemaViolation).problems.join(' | ');
      expect(problems).toContain('path');
      expect(problems).toContain('sizeBytes');
      expect(problems).toContain('treeKey');
    }
  });

  it('round-trips records through Avro binary', () => {
    const { TaskRequest } = loadContracts();
    const request = { treeKey: 'all', index: 3, level: 'file' as const, requestedAt: 1_700_000_000_000 };
    expect(TaskRequest.decode(TaskRequest.encode(TaskRequest.check(request)))).toEqual(request);
  });
});
