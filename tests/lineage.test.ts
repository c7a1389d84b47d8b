// Every sample names the source files behind its features: `treesynth run` over a git checkout
// with an MIT LICENSE, against the fake OpenAI-compatible server.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GeneratedSample, SynthesisTask } from '../schemas/contract.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/fake-openai-server.js';
import { scriptedModel } from './fakes/scripted-model.js';
import { GOOD_FILES } from './fixtures/corpus.js';

const run = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
const KEY = 'sk-test-secret-123';
const readJsonl = <T>(path: string): T[] => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const MIT = `MIT License

Copyright (c) 2026 Acme

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, subject to the following conditions:
`;

describe('sample lineage in local mode', () => {
  let server: FakeOpenAI;
  let dir: string;
  let corpus: string;
  let samples: GeneratedSample[];
  let tasks: SynthesisTask[];

  beforeAll(async () => {
    server = await startFakeOpenAI({ apiKey: KEY, chat: scriptedModel(), models: ['fake-model'] });
    dir = mkdtempSync(join(tmpdir(), 'treesynth-lineage-'));
    corpus = join(dir, 'corpus');
    for (const [path, content] of Object.entries(GOOD_FILES)) {
      mkdirSync(join(corpus, path, '..'), { recursive: true });
      writeFileSync(join(corpus, path), content);
    }
    writeFileSync(join(corpus, 'LICENSE'), MIT);
    await run('git', ['init', '-q', corpus]);
    // Credentials in a remote URL must never reach a published sample.
    await run('git', ['-C', corpus, 'remote', 'add', 'origin', 'https://bot:ghp_secret@github.com/acme/widgets.git']);
    const out = join(dir, 'out');
    await run('node', [
      bin, 'run', '--input', corpus, '--out', out, '--llm-base-url', server.url, '--model', 'fake-model', '--tasks', '6',
      '--embeddings', 'lexical', '--sample-duplicate-radius', '0', '--no-validate',
      // No evolution: evolved features come from no file; here every feature was counted from files.
      '--llm-stages', 'extract,generate',
    ], { env: { ...process.env, CI: 'true', OPENAI_API_KEY: KEY } });
    samples = readJsonl<GeneratedSample>(join(out, 'samples.jsonl'));
    tasks = readJsonl<SynthesisTask>(join(out, 'tasks.jsonl'));
  }, 180_000);
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names, for every sample, real corpus files whose content hashes match, with the repository and licence of the checkout', () => {
    expect(samples.length).toBeGreaterThan(0);
    for (const s of samples) {
      const sources = s.lineage!.sources!;
      expect(sources.length).toBeGreaterThan(0);
      for (const source of sources) {
        expect(Object.keys(GOOD_FILES)).toContain(source.path);
        expect(source.fileId).toBe(sha256(GOOD_FILES[source.path]!));
        expect(source.repository).toBe('https://github.com/acme/widgets.git');
        expect(source.license).toBe('MIT');
      }
    }
  });

  it('ties each file to features of the sample, at most three files per feature, and every counted feature to a file', () => {
    for (const s of samples) {
      const featureIds = s.features.map((f) => f.nodeId);
      const sources = s.lineage!.sources!;
      for (const source of sources) {
        expect(source.nodeIds.length).toBeGreaterThan(0);
        for (const id of source.nodeIds) expect(featureIds).toContain(id);
      }
      for (const id of featureIds) {
        const files = sources.filter((f) => f.nodeIds.includes(id));
        expect(files.length).toBeLessThanOrEqual(3);
        // Without evolution every feature was counted from files: each names at least one.
        expect(files.length).toBeGreaterThan(0);
      }
    }
  });

  it('carries the task\'s lineage unchanged onto its sample', () => {
    const byTask = new Map(tasks.map((t) => [t.taskId, t]));
    for (const s of samples) expect(s.lineage!.sources).toEqual(byTask.get(s.taskId)!.sources);
  });
});
