// Retraction's stores and steps without Kafka: which content each live path holds, when a
// content leaves dedup and the near-duplicate index, what a file's contribution takes back,
// and that retired nodes are marked and never sampled.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { contentIdOf } from '../analysis/file-checks.js';
import { LexicalCodeEmbedder, LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { seededRandom } from '../lib/random.js';
import { canonicalizeFeatureSet, retractContribution, type CanonicalizeConfig } from '../processors/canonicalize.js';
import { filterStage, releasePath, type LiveCorpus } from '../processors/filter.js';
import type { FeatureSet, SourceFile } from '../schemas/contract.js';
import { ContentHashStore } from '../stores/content-hash-store.js';
import { ContributionStore, INTAKE_ID } from '../stores/contribution-store.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { FileIndex } from '../stores/file-index.js';
import { PathStore } from '../stores/path-store.js';
import { SuppressedStore } from '../stores/suppressed-store.js';
import { sampleSubtree } from '../stores/tree-sampling.js';
import { isRetired, type NestedNode } from '../stores/tree-store.js';

const clock = () => 1_700_000_000_000;

function featureSet(fileId: string, features: Array<[string, ...string[]]>): FeatureSet {
  return {
    fileId, path: `${fileId}.py`, language: 'python', treeKey: 'all', extractor: 'static',
    features: features.map(([category, ...labels]) => ({ category, labels })),
    summary: null, purpose: null, scenario: null, extractedAt: 0,
  };
}

const config = (): CanonicalizeConfig => ({ trees: new FeatureTrees(clock), embedder: new LexicalLabelEmbedder(), threshold: 0.85 });

/** Labels and frequencies, retired nodes marked: what a tree counts. */
const shape = (n: NestedNode): unknown => ({ [n.label]: n.retired ? 'retired' : n.frequency, children: n.children.map(shape) });

function corpus(dimension = 3): LiveCorpus {
  return { paths: new PathStore(), seen: new ContentHashStore(), index: new FileIndex(dimension), suppressed: new SuppressedStore() };
}

describe('the filter over a changing corpus', () => {
  it('retracts a content only when the last live path holding it lets go', () => {
    const live = corpus();
    live.seen.add('h1', 'a.py');
    live.index.add({ fileId: 'h1', path: 'a.py' }, new Float32Array([1, 0, 0]));
    live.paths.set({ path: 'a.py', fileId: 'h1', treeKey: 'all' });
    live.paths.set({ path: 'copy/a.py', fileId: 'h1', treeKey: 'all' });
    expect(live.paths.holders('h1')).toEqual(['a.py', 'copy/a.py']);

    expect(releasePath('a.py', live)).toEqual({ fileId: 'h1', retract: false, refilter: [] });
    expect(live.seen.has('h1')).toBe('copy/a.py');
    expect(live.index.nearest(new Float32Array([1, 0, 0]))?.fileId).toBe('h1');

    expect(releasePath('copy/a.py', live)).toEqual({ fileId: 'h1', retract: true, refilter: [] });
    expect(live.seen.has('h1')).toBeUndefined();
    // Gone from the near-duplicate index too: an edit is never a near-duplicate of what it replaced.
    expect(live.index.nearest(new Float32Array([1, 0, 0]))).toBeNull();
    expect(live.index.size).toBe(0);
    expect(releasePath('copy/a.py', live)).toBeNull();
  });

  it('keeps one entry per path: a path that changes content moves between holders', () => {
    const paths = new PathStore();
    paths.set({ path: 'a.py', fileId: 'h1', treeKey: 'all' });
    paths.set({ path: 'a.py', fileId: 'h2', treeKey: 'all' });
    expect(paths.size).toBe(1);
    expect(paths.holders('h1')).toEqual([]);
    expect(paths.holders('h2')).toEqual(['a.py']);
  });
});

describe('near-duplicates over a changing corpus', () => {
  const kafkajs = join(import.meta.dirname, '..', 'node_modules', 'kafkajs', 'src');
  const text = (f: string) => readFileSync(join(kafkajs, f), 'utf8');
  const original = text('producer/index.js');
  const source = (path: string, content: string): SourceFile => ({ path, content: Buffer.from(content), languageHint: null, source: 'test', position: 0, readAt: 0 });
  const embedder = new LexicalCodeEmbedder();

  /**
   * The filter stage over one live corpus, with the bookkeeping Kafka mode's hooks do around it
   * (topology/retraction.ts): accepted and duplicate paths hold their content, and a path that
   * goes releases it and puts what it suppressed through the stage again, in the order given.
   */
  function filterOver(live: LiveCorpus) {
    const stage = filterStage({
      files: { seen: live.seen, treeKey: () => 'all' },
      nearDuplicates: { index: live.index, embedder, radius: 0.05, suppressed: live.suppressed },
    });
    const put = async (files: SourceFile[]) => {
      for (const file of files) {
        const [outcome] = await lastValueFrom(from([file]).pipe(stage, toArray()));
        if (outcome!.ok) live.paths.set({ path: file.path, fileId: outcome!.value.id, treeKey: 'all' });
        else if (outcome!.rejection.reason === 'duplicate') live.paths.set({ path: file.path, fileId: contentIdOf(file.content), treeKey: 'all' });
      }
    };
    return {
      put,
      remove: async (path: string) => put(releasePath(path, live)?.refilter ?? []),
      /** What the tree counts: the live accepted contents, by the paths holding them. */
      counted: () => [...live.seen.entries()].map(([id]) => live.paths.holders(id)).sort(),
    };
  }

  /** A fresh run over `files` in path order (how a local run reads a directory): what it counts. */
  async function fresh(files: SourceFile[]) {
    const run = filterOver(corpus(embedder.dimension));
    await run.put([...files].sort((a, b) => (a.path < b.path ? -1 : 1)));
    return run.counted();
  }

  it('a near-duplicate comes back when what it duplicated goes or changes, as a run over the final corpus has it', async () => {
    const files = {
      a: source('a.js', original),
      b: source('b.js', `${original}\n// one more comment\n`),
      c: source('c.js', `${original}\n// another comment, longer than the first\n`),
      d: source('d.js', text('consumer/index.js')),
      // An exact copy of b while b is suppressed: a near-duplicate too, not a duplicate of content the tree never counted.
      e: source('e.js', `${original}\n// one more comment\n`),
    };
    const live = corpus(embedder.dimension);
    const run = filterOver(live);
    await run.put([files.a, files.b, files.c, files.d, files.e]);
    expect(run.counted()).toEqual([['a.js'], ['d.js']]);
    expect([...['b.js', 'c.js', 'e.js'].map((p) => live.suppressed.get(p)?.of)]).toEqual(Array(3).fill(contentIdOf(files.a.content)));

    // a goes: b is admitted (first in path order), c is b's near-duplicate now, e b's copy.
    await run.remove('a.js');
    expect(run.counted()).toEqual([['b.js', 'e.js'], ['d.js']]);
    expect(run.counted()).toEqual(await fresh([files.b, files.c, files.d, files.e]));
    expect(live.suppressed.get('c.js')?.of).toBe(contentIdOf(files.b.content));
    expect(live.suppressed.size).toBe(1);

    // b and its copy change into something else: c resembles nothing live any more.
    const b2 = source('b.js', text('admin/index.js'));
    const e2 = source('e.js', text('cluster/index.js'));
    for (const changed of [b2, e2]) {
      const released = releasePath(changed.path, live);
      await run.put([changed, ...(released?.refilter ?? [])]);
    }
    expect(run.counted()).toEqual(await fresh([b2, files.c, files.d, e2]));
    expect(run.counted()).toContainEqual(['c.js']);
    expect(live.suppressed.size).toBe(0);
  });
});

describe('contributions', () => {
  it('retracting a file leaves the tree counting the other files alone; nodes nobody mentions retire', async () => {
    const both = config();
    const a = await canonicalizeFeatureSet(featureSet('a', [['error handling', 'try except'], ['dependency relations', 'zlib']]), both);
    await canonicalizeFeatureSet(featureSet('b', [['error handling', 'try except'], ['data processing', 'sorting']]), both);
    const retracted = retractContribution(both.trees, a);
    expect(retracted.retracted).toBe(true);
    expect(retracted.changes.every((c) => c.cause === 'retract:a')).toBe(true);

    const onlyB = config();
    await canonicalizeFeatureSet(featureSet('b', [['error handling', 'try except'], ['data processing', 'sorting']]), onlyB);
    const { tree } = both.trees.get('all');
    const zlib = tree.findByPath(['dependency relations', 'zlib'])!;
    expect(zlib.frequency).toBe(0);
    expect(isRetired(zlib)).toBe(true);
    expect(tree.root.frequency).toBe(1);
    const liveOnly = (n: NestedNode): NestedNode => ({ ...n, children: n.children.filter((c) => !c.retired).map(liveOnly) });
    expect(shape(liveOnly(tree.toNested()))).toEqual(shape(onlyB.trees.get('all').tree.toNested()));
    expect(tree.toNested().children.find((c) => c.label === 'dependency relations')).toMatchObject({ frequency: 0, retired: true });

  });

  it('a count never goes below zero (a store retracts each contribution once; the tree does not go negative even if not)', async () => {
    const c = config();
    const a = await canonicalizeFeatureSet(featureSet('a', [['error handling', 'try except']]), c);
    retractContribution(c.trees, a);
    retractContribution(c.trees, a);
    expect([...c.trees.get('all').tree.all()].map((n) => n.frequency)).toEqual([0, 0, 0]);
  });

  it('never samples a retired node', async () => {
    const c = config();
    const gone = await canonicalizeFeatureSet(featureSet('gone', [['dependency relations', 'zlib']]), c);
    await canonicalizeFeatureSet(featureSet('stays', [['data processing', 'sorting']]), c);
    retractContribution(c.trees, gone);
    const { tree } = c.trees.get('all');
    const random = seededRandom(7);
    for (let i = 0; i < 50; i++) {
      for (const frequency of ['files', 'leaf-sum'] as const) {
        const picked = sampleSubtree(tree, { breadth: [2, 2], mandatory: 1 }, random, { coverage: new CoverageStore(), temperature: 1, topN: 10, coverageBoost: 0, frequency });
        expect(picked.length).toBeGreaterThan(0);
        expect(picked.map((p) => tree.pathOf(p.node.id)[0]).filter((c) => c !== 'data processing')).toEqual([]);
      }
    }
  });

  it('the intake counts every file taken in and survives a restore, tombstones included', () => {
    const store = new ContributionStore();
    const changelog = new Map<string, ReturnType<ContributionStore['add']> | null>();
    for (const id of ['a', 'b', 'c']) {
      changelog.set(`all/${id}`, store.add('all', id, ['root', `n-${id}`]));
      changelog.set(`all/${INTAKE_ID}`, store.intakeRecord('all'));
    }
    expect(store.remove('c')?.nodeIds).toEqual(['root', 'n-c']);
    changelog.set('all/c', null);
    expect(store.intake('all')).toBe(3);

    // Compaction keeps the latest record per key: the counter's own record keeps the count.
    const restored = new ContributionStore();
    for (const [key, record] of changelog) restored.apply(key, record);
    expect(restored.intake('all')).toBe(3);
    expect(restored.get('c')).toBeUndefined();
    expect(restored.get('a')?.intake).toBe(1);
    expect(restored.add('all', 'd', ['root']).intake).toBe(4);
  });
});
