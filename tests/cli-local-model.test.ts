// `treesynth run` with no endpoint configured: it starts the tiny local model (./setup.sh
// installs it) and writes samples the model produced, passed or rejected with the reason.
// One task, no debugging turns: three generations, so the test stays within a few minutes on
// two busy cores.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_MODEL_ID } from '../llm/local-model.js';
import type { GeneratedSample, Rejection } from '../schemas/contract.js';
import { GOOD_FILES } from './fixtures/corpus.js';

const run = promisify(execFile);
const bin = new URL('../bin/treesynth.js', import.meta.url).pathname;
const readJsonl = <T>(path: string): T[] => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

// No endpoint anywhere, and the local model not turned off (vitest.config.ts turns it off for the other suites).
const NO_ENDPOINT: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries({ ...process.env, CI: 'true' }).filter(([name]) => !/^(OPENAI_|TREESYNTH_.*(BASE_URL|API_KEY|MODEL)$|TREESYNTH_LOCAL_MODEL$)/.test(name)),
);

describe('treesynth run with no endpoint configured', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-local-model-'));
  const corpus = join(dir, 'corpus');
  beforeAll(() => {
    for (const path of ['app/loader.py', 'app/server.js', 'web/store.ts']) {
      mkdirSync(join(corpus, path, '..'), { recursive: true });
      writeFileSync(join(corpus, path), GOOD_FILES[path]!);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the tiny local model, says so, and writes its samples: passed, or rejected with the reason', async () => {
    const out = join(dir, 'out');
    const { stderr } = await run('node', [bin, 'run', '--input', corpus, '--out', out, '--tasks', '1', '--turns', '0', '--no-cache', '--embeddings', 'lexical'], {
      env: NO_ENDPOINT, timeout: 420_000, killSignal: 'SIGKILL',
    });
    expect(stderr).toMatch(new RegExp(`no LLM endpoint configured: using the tiny local model ${LOCAL_MODEL_ID} .* at http://127\\.0\\.0\\.1:\\d+/v1 for generate, 1 task\\. Expect most samples to be rejected`));

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      tasks: { written: number };
      samples: { written: number; rejected: number };
      llm: { usage: { byStage: Record<string, { requests: number; completionTokens: number }> } };
    };
    expect(summary.tasks.written).toBe(1);
    // The one task became one sample, kept or rejected: nothing is lost.
    expect(summary.samples.written + summary.samples.rejected).toBe(1);
    // Answers came from the model: real requests, real tokens.
    expect(summary.llm.usage.byStage['generate']!.requests).toBeGreaterThanOrEqual(1);
    expect(summary.llm.usage.byStage['generate']!.completionTokens).toBeGreaterThan(10);

    const samples = readJsonl<GeneratedSample>(join(out, 'samples.jsonl'));
    const rejected = readJsonl<Rejection>(join(out, 'rejected.jsonl')).filter((r) => r.stage === 'generate' || r.stage === 'validate');
    expect(samples.length + rejected.length).toBe(1);
    for (const sample of samples) {
      expect(sample.provenance.model).toBe(LOCAL_MODEL_ID);
      expect(sample.files.length).toBeGreaterThanOrEqual(2);
    }
    for (const rejection of rejected) {
      expect(rejection.reason).toMatch(/^[a-z-]+$/);
      expect(rejection.detail.length).toBeGreaterThan(0);
      // What the model wrote is kept with the rejection: a generate step's answer, or the sample the sandbox ran.
      expect(rejection.record ?? '').toMatch(new RegExp(rejection.stage === 'validate' ? LOCAL_MODEL_ID : '"answer"'));
    }
  }, 480_000);

  it('with --no-local-model runs without a model, as with no model installed, and says why', async () => {
    const out = join(dir, 'out-none');
    const { stderr } = await run('node', [bin, 'run', '--input', corpus, '--out', out, '--tasks', '1', '--no-local-model', '--embeddings', 'lexical'], { env: NO_ENDPOINT, timeout: 120_000 });
    expect(stderr).toMatch(/no LLM endpoint configured .* \(no local model: --no-local-model\)/);
    expect(stderr).not.toMatch(/tiny local model/);
    expect(readJsonl<{ stage: string }>(join(out, 'pending.jsonl')).map((p) => p.stage)).toContain('generate');
    expect(readFileSync(join(out, 'samples.jsonl'), 'utf8')).toBe('');
  }, 180_000);
});

describe('treesynth serve-model', () => {
  it('prints its base URL, serves the one model there, and stops on SIGTERM', async () => {
    const child = spawn('node', [bin, 'serve-model', '--port', '0', '--quiet'], { env: NO_ENDPOINT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const baseURL = await new Promise<string>((resolve, reject) => {
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /^OPENAI_BASE_URL=(http:\/\/127\.0\.0\.1:\d+\/v1)$/m.exec(stdout);
          if (match) resolve(match[1]!);
        });
        child.on('exit', () => reject(new Error(`serve-model exited: ${stderr}`)));
      });
      expect(stderr).toMatch(/serving the tiny local model SmolLM2-135M-Instruct-Q4_1/);
      const models = (await (await fetch(`${baseURL}/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual([LOCAL_MODEL_ID]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/SIGTERM: stopping/);
  }, 120_000);
});
