// The dependency rule (README, "How the code is laid out"): imports only run downward, the two
// runners never import each other, and each CLI command imports shared CLI modules only.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/** Layers, lowest first. A folder may import its own files and any folder of a LOWER layer. */
export const LAYERS: ReadonlyArray<readonly string[]> = [
  ['schemas', 'lib'],
  ['connectors', 'embeddings', 'sandbox'],
  ['analysis', 'llm', 'stores'],
  ['prompts'],
  ['quality'],
  ['processors'],
  ['topology', 'report'],
  ['cli'],
  ['bench'],
];

const layerOf = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank] as const)));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

interface Edge { from: string; to: string }

/** Every relative import (static, dynamic, type-only) of every source file, as repository paths. */
export function importEdges(files: readonly string[]): Edge[] {
  const edges: Edge[] = [];
  for (const from of files) {
    const text = readFileSync(join(ROOT, from), 'utf8');
    for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const to = relative(ROOT, resolve(ROOT, dirname(from), m[1]!)).replace(/\.js$/, '.ts');
      edges.push({ from, to });
    }
  }
  return edges;
}

const top = (path: string) => path.split('/')[0]!;

/** Imports that break the rule, each as "from -> to (why)". */
export function violations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = top(from);
    const b = top(to);
    const ra = layerOf.get(a);
    const rb = layerOf.get(b);
    if (ra === undefined) out.push(`${from}: folder "${a}" has no layer`);
    else if (a === 'bench' && to.startsWith('tests/fakes/')) continue; // the benchmark's peer endpoint is the tests' fake server
    else if (rb === undefined) out.push(`${from} -> ${to}: "${b}" has no layer (tests are not importable)`);
    else if (a !== b && rb >= ra) out.push(`${from} -> ${to}: ${b} is not below ${a}`);
    if (/^topology\/run-(local|kafka)\.ts$/.test(from) && /^topology\/run-(local|kafka)\.ts$/.test(to)) out.push(`${from} -> ${to}: the runners never import each other`);
    if (from.startsWith('cli/commands/') && (to.startsWith('cli/commands/') || to === 'cli/main.ts')) {
      out.push(`${from} -> ${to}: a command imports shared CLI modules, never main.ts or another command`);
    }
    if (a === 'connectors' && !['connectors', 'schemas', 'lib'].includes(b)) out.push(`${from} -> ${to}: sources and sinks import nothing above schemas`);
  }
  return out;
}

describe('how the code is laid out', () => {
  const folders = LAYERS.flat();
  const files = folders.flatMap((f) => sources(f));
  const edges = importEdges(files);

  it('has every source folder in a layer', () => {
    const tops = readdirSync(ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !['node_modules', 'dist', 'tests', 'docker', 'bin'].includes(e.name))
      .filter((e) => sources(e.name).length > 0)
      .map((e) => e.name);
    expect(tops.filter((t) => !layerOf.has(t))).toEqual([]);
  });

  it('reads the imports it checks', () => {
    // A parser that found nothing would pass every rule below.
    expect(edges.length).toBeGreaterThan(200);
    expect(edges).toContainEqual({ from: 'topology/run-local.ts', to: 'topology/build.ts' });
  });

  it('imports only downward: cli -> topology -> stages -> (analysis, prompts, stores, llm, ...) -> schemas', () => {
    expect(violations(edges)).toEqual([]);
  });

  it('catches an import that runs back up, a runner importing the other, and a command importing main', () => {
    expect(violations([{ from: 'stores/tree-store.ts', to: 'processors/sample.ts' }])).toHaveLength(1);
    expect(violations([{ from: 'connectors/jsonl-source.ts', to: 'stores/tree-store.ts' }]).join()).toMatch(/nothing above schemas/);
    expect(violations([{ from: 'topology/run-kafka.ts', to: 'topology/run-local.ts' }]).join()).toMatch(/never import each other/);
    expect(violations([{ from: 'cli/commands/lag.ts', to: 'cli/main.ts' }]).join()).toMatch(/never main.ts/);
    expect(violations([{ from: 'cli/commands/lag.ts', to: 'cli/commands/run.ts' }])).toHaveLength(1);
    expect(violations([{ from: 'analysis/static-features/extract.ts', to: 'llm/model.ts' }]).join()).toMatch(/not below/);
  });

  it('keeps processors/ to the deployed stages, one file each, named as deployed', async () => {
    const { DEPLOYED_STAGES } = await import('../topology/treesynth.js');
    const files = readdirSync(join(ROOT, 'processors')).map((f) => f.replace(/\.ts$/, '')).sort();
    expect(files).toEqual([...DEPLOYED_STAGES].sort());
  });
});
