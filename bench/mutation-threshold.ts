// Where the default --min-mutation-score comes from: HumanEval's 164 reference solutions, each
// once with its authors' tests and once with only their first assert, through the real sandbox
// and the real mutation step (10 mutants each, minimum 0 so every score is recorded). Prints the
// two score distributions and, for each candidate minimum, the share of honest samples kept and
// of weak ones rejected; writes them to .treesynth/bench/mutation-threshold.json.
//
//   npm run -s build && node dist/bench/mutation-threshold.js [problems]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadGrammars } from '../analysis/tree-sitter/grammars.js';
import { validateSample, type ValidateConfig } from '../processors/validate.js';
import { DEFAULT_MUTATION } from '../quality/mutation.js';
import { quantile } from '../quality/stats.js';
import { Sandbox } from '../sandbox/sandbox.js';
import type { GeneratedSample } from '../schemas/contract.js';
import { firstAssertOnly, humanEvalSample, loadHumanEval } from './humaneval.js';

interface Row {
  id: string;
  tests: 'full' | 'first-assert';
  reason: string;
  score: number | null;
  mutants: number;
  ms: number;
}

/** Runs `work` over `items`, at most `limit` at once, results in input order. */
export async function pool<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!, i);
      }
    }),
  );
  return out;
}

async function main(): Promise<void> {
  const cacheDir = join(process.cwd(), '.treesynth', 'bench');
  const limit = Number(process.argv[2] ?? 164);
  const problems = loadHumanEval(join(cacheDir, 'humaneval')).slice(0, limit);
  const samples: Array<{ sample: GeneratedSample; tests: Row['tests'] }> = [];
  for (const p of problems) {
    samples.push({ sample: humanEvalSample(p, 'full'), tests: 'full' });
    if (firstAssertOnly(p.test) !== p.test) samples.push({ sample: humanEvalSample(p, 'first-assert'), tests: 'first-assert' });
  }
  const sandbox = await Sandbox.create({});
  process.stderr.write(`${sandbox.describe()}\n${samples.length} samples from ${problems.length} problems\n`);
  const grammars = await loadGrammars(['python']);
  const config: ValidateConfig = { runner: sandbox, turns: 0, concurrency: sandbox.concurrency, mutation: { grammars, maxMutants: DEFAULT_MUTATION.maxMutants, seed: DEFAULT_MUTATION.seed, minScore: 0 } };
  const started = performance.now();
  let done = 0;
  const rows = await pool(samples, sandbox.concurrency, async ({ sample, tests }): Promise<Row> => {
    const t = performance.now();
    const outcome = await validateSample(sample, config);
    const record = outcome.ok ? outcome.value : (JSON.parse(outcome.rejection.record!) as GeneratedSample);
    const m = record.validation?.mutation ?? null;
    done++;
    if (done % 20 === 0) process.stderr.write(`${done}/${samples.length} in ${Math.round((performance.now() - started) / 1000)} s\n`);
    return { id: sample.sampleId, tests, reason: outcome.ok ? 'passed' : outcome.rejection.reason, score: m?.score ?? null, mutants: m ? m.killed + m.survived : 0, ms: Math.round(performance.now() - t) };
  });

  const scores = (tests: Row['tests']) => rows.filter((r) => r.tests === tests && r.reason === 'passed' && r.score !== null).map((r) => r.score!);
  const full = scores('full');
  const weak = scores('first-assert');
  const q = (xs: number[]) => Object.fromEntries([0.05, 0.1, 0.25, 0.5, 0.75].map((p) => [`p${p * 100}`, quantile(xs, p)]));
  const candidates = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8].map((t) => ({
    minimum: t,
    fullKept: full.filter((s) => s >= t).length / full.length,
    weakRejected: weak.filter((s) => s < t).length / weak.length,
  }));
  const result = {
    problems: problems.length,
    samples: samples.length,
    seconds: Math.round((performance.now() - started) / 1000),
    reasons: rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [`${r.tests}:${r.reason}`]: (acc[`${r.tests}:${r.reason}`] ?? 0) + 1 }), {}),
    full: { scored: full.length, mean: full.reduce((a, b) => a + b, 0) / full.length, ...q(full) },
    firstAssert: { scored: weak.length, mean: weak.reduce((a, b) => a + b, 0) / weak.length, ...q(weak) },
    candidates,
    rows,
  };
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(join(cacheDir, 'mutation-threshold.json'), `${JSON.stringify(result, null, 2)}\n`);
  const { rows: _rows, ...shown } = result;
  process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  grammars.delete();
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
