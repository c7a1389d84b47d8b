// Lineage's store: which files mentioned each tree node, bounded per node, the same whatever the
// order files came in, following retractions (a changed or deleted file is never named again)
// and merges (a merged node's files are its survivor's), and rebuilt from its changelog.
import { Type, types, type Schema } from 'avsc';
import { describe, expect, it } from 'vitest';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { canonicalizeFeatureSet, retractContribution, type CanonicalizeConfig } from '../processors/canonicalize.js';
import { sampleTask, type SamplerConfig } from '../processors/sample.js';
import { loadContracts, type FeatureSet, type SourceRef } from '../schemas/contract.js';
import { ContributionStore } from '../stores/contribution-store.js';
import { CoverageStore } from '../stores/coverage-store.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { SourceIndex } from '../stores/source-index.js';

type RecordType = types.RecordType;
type UnwrappedUnionType = types.UnwrappedUnionType;

const clock = () => 1_700_000_000_000;
/** A 64-hex content hash whose order follows `n`. */
const hash = (n: number) => n.toString(16).padStart(64, '0');
const ref = (n: number): SourceRef => ({ fileId: hash(n), path: `f${n}.py`, repository: 'https://example.org/r.git', license: 'MIT' });

function featureSet(n: number, features: Array<[string, ...string[]]>, path = `f${n}.py`): FeatureSet {
  return {
    fileId: hash(n), path, language: 'python', treeKey: 'all', extractor: 'static',
    features: features.map(([category, ...labels]) => ({ category, labels })),
    summary: null, purpose: null, scenario: null, extractedAt: 0, repository: 'https://example.org/r.git', license: 'MIT',
  };
}

/** Canonicalize as the Kafka tree writer does: the tree, the contributions and the source index together. */
function writer(cap = 3) {
  const sources = new SourceIndex(cap, true);
  const config: CanonicalizeConfig = { trees: new FeatureTrees(clock), embedder: new LexicalLabelEmbedder(), threshold: 0.85, sources };
  const contributions = new ContributionStore();
  return {
    config, sources, contributions,
    async add(set: FeatureSet) {
      const file = await canonicalizeFeatureSet(set, config);
      contributions.add(file.treeKey, file.fileId, file.nodeIds, { path: set.path, repository: set.repository ?? null, license: set.license ?? null });
      return file;
    },
    retract(fileId: string) {
      const contribution = contributions.remove(fileId)!;
      return retractContribution(config.trees, contribution, { sources, remaining: () => contributions.sources(contribution.treeKey) });
    },
    node: (path: string[]) => config.trees.get('all').tree.findByPath(path)!,
    filesOf(path: string[]) {
      const tree = config.trees.get('all').tree;
      return sources.filesOf(tree, tree.findByPath(path)!.id).map((f) => f.fileId);
    },
  };
}

describe('the source index', () => {
  it('keeps, per node, the files with the lowest content hashes, whatever order they came in', () => {
    const forward = new SourceIndex(3);
    const backward = new SourceIndex(3);
    const files = [7, 2, 9, 4, 1, 8, 3];
    for (const n of files) forward.add('all', ref(n), ['sorting']);
    for (const n of [...files].reverse()) backward.add('all', ref(n), ['sorting']);
    expect(forward.get('all', 'sorting').map((f) => f.fileId)).toEqual([hash(1), hash(2), hash(3)]);
    expect(backward.get('all', 'sorting')).toEqual(forward.get('all', 'sorting'));
    // The root is every file's: it is not kept.
    forward.add('all', ref(5), ['root']);
    expect(forward.get('all', 'root')).toEqual([]);
  });

  it('forgets a retracted file and refills the node with the next-lowest live one', async () => {
    const w = writer(3);
    for (const n of [5, 1, 4, 2, 3]) await w.add(featureSet(n, [['algorithm', 'sorting']]));
    expect(w.filesOf(['algorithm', 'sorting'])).toEqual([hash(1), hash(2), hash(3)]);
    w.retract(hash(2));
    expect(w.filesOf(['algorithm', 'sorting'])).toEqual([hash(1), hash(3), hash(4)]);
    // The same as an index that never saw the retracted file.
    const fresh = writer(3);
    for (const n of [1, 3, 4, 5]) await fresh.add(featureSet(n, [['algorithm', 'sorting']]));
    expect(w.filesOf(['algorithm', 'sorting'])).toEqual(fresh.filesOf(['algorithm', 'sorting']));
    w.retract(hash(1));
    w.retract(hash(3));
    w.retract(hash(4));
    w.retract(hash(5));
    expect(w.filesOf(['algorithm', 'sorting'])).toEqual([]);
  });

  it('names a changed file by its new content only, and a task sampled after never names the old one', async () => {
    const w = writer(3);
    await w.add(featureSet(1, [['algorithm', 'sorting']], 'sort.py'));
    await w.add(featureSet(6, [['algorithm', 'sorting']], 'other.py'));
    // sort.py changed: its old content is retracted, its new content (hash 9) comes in.
    w.retract(hash(1));
    await w.add(featureSet(9, [['algorithm', 'sorting']], 'sort.py'));
    const sampler: SamplerConfig = {
      trees: w.config.trees, coverage: new CoverageStore(), seed: 1, temperature: 1,
      levels: { function: { breadth: [1, 1], mandatory: 1 }, file: { breadth: [1, 1], mandatory: 1 }, multi_file: { breadth: [1, 1], mandatory: 1 } },
      levelMix: { function: 1, file: 0, multi_file: 0 }, targetLanguage: 'python', topN: 50, coverageBoost: 0, sources: w.sources,
    };
    const outcome = sampleTask({ treeKey: 'all', index: 0, level: null, requestedAt: 0 }, sampler);
    expect(outcome.ok).toBe(true);
    const task = (outcome as { ok: true; value: import('../schemas/contract.js').SynthesisTask }).value;
    const named = task.sources!.map((s) => s.fileId);
    expect(named).not.toContain(hash(1));
    expect(named).toEqual([hash(6), hash(9)]);
    expect(task.sources!.find((s) => s.fileId === hash(9))).toMatchObject({ path: 'sort.py', repository: 'https://example.org/r.git', license: 'MIT' });
    const sortingId = w.node(['algorithm', 'sorting']).id;
    for (const s of task.sources!) expect(s.nodeIds).toContain(sortingId);
    expect(() => loadContracts().SynthesisTask.check(task)).not.toThrow();
  });

  it('gives a node the files of every node merged into it, and forgets them when they are retracted', async () => {
    const w = writer(3);
    await w.add(featureSet(3, [['data processing', 'parsing', 'csv reader']]));
    // The same feature placed under another parent: merged into the first (TreeStore.mergeInto).
    const second = await w.add(featureSet(1, [['data processing', 'input output', 'csv reader']]));
    const tree = w.config.trees.get('all').tree;
    expect(tree.merges().size).toBe(1);
    const [mergedId] = [...tree.merges().keys()];
    expect(second.nodeIds).toContain(mergedId);
    expect(w.filesOf(['data processing', 'parsing', 'csv reader'])).toEqual([hash(1), hash(3)]);
    w.retract(hash(1));
    expect(w.filesOf(['data processing', 'parsing', 'csv reader'])).toEqual([hash(3)]);
  });

  it('rebuilds from its changelog (what a sample stage in another process follows) to the same lineage', async () => {
    const w = writer(2);
    for (const n of [4, 1, 3, 2]) await w.add(featureSet(n, [['algorithm', 'sorting'], ['logging', 'debug level']]));
    const changelog = new Map<string, ReturnType<SourceIndex['flush']>[number]>();
    const record = () => {
      for (const r of w.sources.flush()) changelog.set(`${r.treeKey}/${r.nodeId}`, r);
    };
    record();
    w.retract(hash(1));
    record();
    const follower = new SourceIndex(2);
    for (const r of changelog.values()) follower.apply(loadContracts().NodeSources.decode(loadContracts().NodeSources.encode(r)));
    const tree = w.config.trees.get('all').tree;
    for (const path of [['algorithm', 'sorting'], ['logging', 'debug level']]) {
      const id = tree.findByPath(path)!.id;
      expect(follower.filesOf(tree, id)).toEqual(w.sources.filesOf(tree, id));
      expect(follower.filesOf(tree, id).map((f) => f.fileId)).toEqual([hash(2), hash(3)]);
    }
  });
});

describe('lineage in the record contract', () => {
  /** The schema as it was before lineage named files: the same without `sources` fields. */
  const strip = (schema: unknown): unknown =>
    Array.isArray(schema) ? schema.map(strip)
      : schema && typeof schema === 'object'
        ? Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'fields' && Array.isArray(v) ? v.filter((f: { name: string }) => f.name !== 'sources').map(strip) : strip(v)]))
        : schema;
  const decodesOld = (current: Type, record: object): Record<string, unknown> => {
    const old = Type.forSchema(strip(current.schema()) as Schema, { wrapUnions: false });
    expect(JSON.stringify(old.schema())).not.toContain('"sources"');
    return current.fromBuffer(old.toBuffer(record), current.createResolver(old)) as Record<string, unknown>;
  };

  it('decodes tasks and sample lineage written before lineage named files, with no sources', () => {
    const contracts = loadContracts();
    const task = {
      taskId: 't', treeKey: 'all', level: 'function', targetLanguage: 'python', seed: 1, index: 0,
      features: [{ nodeId: 'n', path: ['a'], frequency: 1, mandatory: true }], treeSeq: 3, createdAt: 0,
    };
    expect(decodesOld(contracts.SynthesisTask.type, task)['sources']).toEqual([]);
    const lineageType = (contracts.GeneratedSample.type as RecordType).field('lineage').type as UnwrappedUnionType;
    const sampleLineage = lineageType.types.find((t) => t.typeName === 'record')!;
    expect(decodesOld(sampleLineage, { treeSeq: 3, taskSeed: 1, taskIndex: 0, steps: [] })['sources']).toEqual([]);
  });
});
