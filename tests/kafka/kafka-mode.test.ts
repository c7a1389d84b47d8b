// Kafka mode end to end, against the broker and registry of `npm run stack:up`, with the built
// CLI as a user runs it: `treesynth ingest` feeds a corpus, `treesynth run --kafka` runs the
// stages as child processes, and the records are read back from the topics with
// read_committed and decoded with the schemas the registry holds (not treesynth's serde).
// Every run uses its own topic prefix, so reruns never collide.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import avro from 'avsc';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTopic, type RawRecord } from '../../connectors/kafka/reader.js';
import { createLabelEmbedder } from '../../embeddings/index.js';
import type { CodeFile, EvolutionRequest, FeatureSet, Rejection, SynthesisTask, TreeNodeChange } from '../../schemas/contract.js';
import { FeatureTrees } from '../../stores/feature-trees.js';
import type { NestedNode } from '../../stores/tree-store.js';
import { BAD_FILES, GOOD_FILES, writeCorpus } from '../fixtures/corpus.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai-server.js';
import { scriptedModel } from '../fakes/scripted-model.js';
import { bin, cliEnv as env, drained, lag, root, sleep, startStages, treesynth, type Result, type Stages } from './harness.js';
import { describeKafka, kafkaStack } from './stack-env.js';

const { brokers, registry } = kafkaStack;

const run = randomUUID().slice(0, 6);
const REAL_FILES = ['admin/index.js', 'broker/index.js', 'consumer/runner.js', 'producer/index.js', 'cluster/index.js'];

/** Decodes Confluent wire-format values with the schema the registry returns for their id. */
class RegistryDecoder {
  readonly #types = new Map<number, avro.Type>();
  readonly ids = new Set<number>();
  async decode<T>(value: Buffer | null): Promise<{ name: string; value: T }> {
    if (!value || value[0] !== 0) throw new Error('not in the Confluent wire format');
    const id = value.readUInt32BE(1);
    let type = this.#types.get(id);
    if (!type) {
      const res = await fetch(`${registry}/schemas/ids/${id}`);
      expect(res.status, `schema id ${id}`).toBe(200);
      type = avro.Type.forSchema(JSON.parse(((await res.json()) as { schema: string }).schema) as avro.Schema, { wrapUnions: false });
      this.#types.set(id, type);
    }
    this.ids.add(id);
    return { name: type.name ?? '', value: type.fromBuffer(value.subarray(5)) as T };
  }
}

describeKafka('Kafka mode (needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let dir: string;
  const decoder = new RegistryDecoder();
  const prefixes: string[] = [];
  const children: ChildProcess[] = [];

  /** Every committed record of a topic, decoded with the registry's schema. */
  async function readAll<T>(topic: string, keep: (raw: RawRecord) => boolean = () => true): Promise<Array<{ raw: RawRecord; name: string; value: T }>> {
    const raws: RawRecord[] = [];
    await readTopic(kafka, admin, topic, { groupPrefix: `test-${run}.read`, onRecord: (r) => void (keep(r) && raws.push(r)), timeoutMs: 30_000 });
    return Promise.all(raws.map(async (raw) => ({ raw, ...(await decoder.decode<T>(raw.value)) })));
  }

  beforeAll(async () => {
    kafka = new Kafka({ clientId: `test-${run}`, brokers: brokers!.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    dir = mkdtempSync(join(tmpdir(), 'treesynth-kafka-'));
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (admin) {
      const topics = (await admin.listTopics()).filter((t) => prefixes.some((p) => t.startsWith(p)));
      await admin.deleteTopics({ topics }).catch(() => {});
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => prefixes.some((p) => g.startsWith(p)));
      await admin.deleteGroups(groups).catch(() => {});
      await admin.disconnect();
    }
    for (const prefix of prefixes) {
      const subjects = ((await (await fetch(`${registry}/subjects`)).json()) as string[]).filter((s) => s.startsWith(prefix));
      for (const s of subjects) {
        await fetch(`${registry}/subjects/${s}`, { method: 'DELETE' }).catch(() => {});
        await fetch(`${registry}/subjects/${s}?permanent=true`, { method: 'DELETE' }).catch(() => {});
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('a corpus in through ingest, tree changes and tasks out', () => {
    const prefix = `t${run}a.`;
    let stages: Stages;
    let corpus: string;
    let ingested: Result;

    beforeAll(async () => {
      prefixes.push(prefix);
      corpus = join(dir, 'corpus');
      writeCorpus(corpus);
      // Some real code too, so the tree has depth: kafkajs's own admin and broker modules.
      for (const name of REAL_FILES) {
        mkdirSync(join(corpus, 'real', dirname(name)), { recursive: true });
        copyFileSync(join(root, 'node_modules/kafkajs/src', name), join(corpus, 'real', name));
      }
      ingested = await treesynth(['ingest', corpus, '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--partitions', '1', '--state', join(dir, 'state')], dir);
      // One partition: the stages see the files in the order local mode reads them, so the
      // tree must come out exactly as local mode's (label merging depends on arrival order).
      stages = startStages(['--topic-prefix', prefix, '--max-bytes', '64k', '--evolve-every', '4', '--partitions', '1'], dir);
      children.push(stages.child);
      await stages.ready;
      await drained(admin, prefix, [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features'], ['evolve', 'tree.evolve']]);
    }, 120_000);

    it('ingest sends every file once and says how many', async () => {
      // Good, bad and real files, and the .gitignore (the filter rejects it, not the source).
      const files = Object.keys(GOOD_FILES).length + Object.keys(BAD_FILES).length + REAL_FILES.length + 1;
      expect(ingested.code, ingested.stderr).toBe(0);
      expect(ingested.stdout).toContain(`${files} files read: ${files} sent to ${prefix}code.files`);
      // Nothing changed: nothing is sent again.
      const again = await treesynth(['ingest', corpus, '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--state', join(dir, 'state')], dir);
      expect(again.stdout).toContain(`${files} files read: 0 sent to ${prefix}code.files`);
      expect(again.stdout).toContain(`${files} unchanged`);
      const records = await readAll(`${prefix}code.files`);
      expect(records).toHaveLength(files);
      expect(records.every((r) => r.name === 'treesynth.SourceFile')).toBe(true);
      expect(new Set(records.map((r) => r.raw.key?.toString()))).toEqual(new Set(records.map((r) => (r.value as { path: string }).path)));
    });

    it('registers every subject with BACKWARD compatibility, and the records decode with the registered schemas', async () => {
      for (const topic of ['code.files', 'code.accepted', 'features', 'tree.nodes', 'tree.evolve', 'tasks.requests', 'tasks', 'samples', 'dead.letters']) {
        // Asked by name: a registry that has lived through many runs lists its subjects a page at a time.
        const versions = await fetch(`${registry}/subjects/${prefix}${topic}-value/versions`);
        expect(versions.status, `${prefix}${topic}-value`).toBe(200);
        expect(((await versions.json()) as number[]).length).toBeGreaterThan(0);
        const config = (await (await fetch(`${registry}/config/${prefix}${topic}-value`)).json()) as { compatibilityLevel?: string };
        expect(config.compatibilityLevel).toBe('BACKWARD');
      }
      const accepted = await readAll<CodeFile>(`${prefix}code.accepted`);
      // The filter passes the good files and the unparseable one (extraction rejects that).
      expect(accepted.map((r) => r.value.path).sort()).toEqual([...Object.keys(GOOD_FILES), 'app/broken.py', ...REAL_FILES.map((f) => `real/${f}`)].sort());
      for (const r of accepted) expect(r.raw.key?.toString()).toBe(r.value.id);
      const features = await readAll<FeatureSet>(`${prefix}features`);
      expect(features.map((r) => r.value.path).sort()).toEqual(accepted.map((r) => r.value.path).filter((p) => p !== 'app/broken.py').sort());
      for (const r of features) expect(r.raw.key?.toString()).toBe(r.value.fileId);
      const dead = await readAll<Rejection>(`${prefix}dead.letters`);
      const reasons = Object.fromEntries(dead.map((r) => [r.value.path, r.value.reason]));
      for (const [path, { reason }] of Object.entries(BAD_FILES)) expect(reasons[path], path).toBe(reason);
      // The changelog's topic is compacted, and keyed by tree key and node id.
      const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: `${prefix}tree.nodes`, configNames: ['cleanup.policy'] }] });
      expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('compact');
    });

    it('rebuilds from tree.nodes the same tree as local mode over the same corpus', async () => {
      const changes = await readAll<TreeNodeChange>(`${prefix}tree.nodes`);
      for (const c of changes) expect(c.raw.key?.toString()).toBe(`${c.value.treeKey}/${c.value.nodeId}`);
      const restored = await FeatureTrees.restore(changes.map((c) => c.value), createLabelEmbedder({ kind: 'lexical' }));
      const local = await treesynth(['run', '--input', corpus, '--out', join(dir, 'local'), '--tasks', '0', '--max-bytes', '64k', '-q'], dir);
      expect(local.code, local.stderr).toBe(0);
      const expected = JSON.parse(readFileSync(join(dir, 'local', 'tree.json'), 'utf8')) as NestedNode;
      expect(restored.keys()).toEqual(['all']);
      expect(restored.get('all').tree.toNested()).toEqual(expected);
      // canonicalize asked for an evolution round every 4 files.
      const requests = await readAll<EvolutionRequest>(`${prefix}tree.evolve`);
      const accepted = restored.get('all').tree.root.frequency;
      expect(requests.map((r) => r.value.round)).toEqual(Array.from({ length: Math.floor(accepted / 4) }, (_, i) => i + 1));
    });

    it('samples tasks on request from the tree it follows', async () => {
      const requested = await treesynth(['request-tasks', '--count', '5', '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix], dir);
      expect(requested.code, requested.stderr).toBe(0);
      expect(requested.stdout).toContain(`requested 5 tasks (indexes 0..4) on ${prefix}tasks.requests`);
      await drained(admin, prefix, [['sample', 'tasks.requests'], ['generate', 'tasks']]);
      const tasks = await readAll<SynthesisTask>(`${prefix}tasks`);
      expect(tasks.map((t) => t.value.index).sort()).toEqual([0, 1, 2, 3, 4]);
      for (const t of tasks) {
        expect(t.name).toBe('treesynth.SynthesisTask');
        expect(t.raw.key?.toString()).toBe(t.value.taskId);
        expect(t.value.features.length).toBeGreaterThan(0);
      }
    });

    it('turns undecodable records into dead letters with the reason and goes on', async () => {
      const producer = kafka.producer();
      await producer.connect();
      const topic = `${prefix}code.files`;
      const id = Number((await (await fetch(`${registry}/subjects/${topic}-value/versions/latest`)).json() as { id: number }).id);
      const header = (schemaId: number) => Buffer.from([0, (schemaId >>> 24) & 0xff, (schemaId >>> 16) & 0xff, (schemaId >>> 8) & 0xff, schemaId & 0xff]);
      await producer.send({
        topic,
        messages: [
          { key: 'bad/magic.py', value: Buffer.from('{"path": "json, not avro"}') },
          { key: 'bad/corrupt.py', value: Buffer.concat([header(id), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2])]) },
          { key: 'bad/unknown-id.py', value: Buffer.concat([header(2_000_000_000), Buffer.from([2, 0x61])]) },
        ],
      });
      await producer.disconnect();
      // A good file after them still flows.
      writeFileSync(join(corpus, 'late.py'), 'def late_arrival(x):\n    """Arrives after the bad records."""\n    return sorted(x, reverse=True)\n');
      const more = await treesynth(['ingest', corpus, '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--state', join(dir, 'state')], dir);
      expect(more.stdout).toMatch(/: 1 sent to /);
      await drained(admin, prefix, [['filter', 'code.files'], ['extract', 'code.accepted']]);
      const dead = (await readAll<Rejection>(`${prefix}dead.letters`)).map((r) => r.value).filter((r) => r.path?.startsWith('bad/'));
      expect(Object.fromEntries(dead.map((r) => [r.path, r.reason]))).toEqual({
        'bad/magic.py': 'wrong-magic-byte', 'bad/corrupt.py': 'corrupt-avro', 'bad/unknown-id.py': 'unknown-schema-id',
      });
      for (const r of dead) {
        expect(r.stage).toBe('filter');
        expect(r.detail).toContain(`${topic}[0]@`);
        expect(r.record).toContain('"value"');
      }
      const accepted = await readAll<CodeFile>(`${prefix}code.accepted`);
      expect(accepted.map((r) => r.value.path)).toContain('late.py');
    });

    it('ingest --watch sends new and changed files as they appear, until SIGINT', async () => {
      const child = spawn('node', [bin, 'ingest', corpus, '--watch', '--interval', '500', '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--state', join(dir, 'state')], { cwd: dir, env: env() });
      children.push(child);
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await expect.poll(() => stdout, { timeout: 20_000 }).toContain('watching');
      expect(stdout).toMatch(/: 0 sent to /);
      mkdirSync(join(corpus, 'watch'));
      writeFileSync(join(corpus, 'watch', 'fresh.go'), 'package watch\n\nfunc Fresh(xs []int) int {\n\tsum := 0\n\tfor _, x := range xs {\n\t\tsum += x\n\t}\n\treturn sum\n}\n');
      writeFileSync(join(corpus, 'late.py'), 'def late_arrival(x):\n    """Changed after it was sent."""\n    return sorted(x)\n');
      // One rescan or two, depending on when the watcher fires: two files in all.
      const sent = () => (stdout.match(/\d+ new or changed files sent/g) ?? []).reduce((n, line) => n + Number(line.split(' ')[0]), 0);
      await expect.poll(sent, { timeout: 20_000, interval: 200 }).toBe(2);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stdout).toContain('stopped: 2 files sent in all');
      // The records the bad-record test wrote are not in the wire format: leave them out.
      const files = (await readAll<{ path: string }>(`${prefix}code.files`, (r) => !r.key?.toString().startsWith('bad/'))).map((r) => r.value.path);
      expect(files.filter((p) => p === 'watch/fresh.go')).toHaveLength(1);
      expect(files.filter((p) => p === 'late.py')).toHaveLength(2);
    });

    it('stops on SIGINT with exit code 0', async () => {
      stages.child.kill('SIGINT');
      const result = await stages.exited;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('treesynth: stopped');
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });
  });

  describe('the same corpus and seed through both runners, with a model evolving the tree', () => {
    const prefix = `t${run}e.`;
    let server: FakeOpenAI;

    beforeAll(async () => {
      prefixes.push(prefix);
      server = await startFakeOpenAI({ chat: scriptedModel(), models: ['fake-model'] });
    });
    afterAll(async () => server?.close());

    it('evolves the same tree and samples the same task ids in local mode and Kafka mode', async () => {
      const corpus = join(dir, 'corpus-evolve');
      writeCorpus(corpus);
      const model = ['--model', 'fake-model', '--llm-base-url', server.url, '--llm-stages', 'evolve', '--no-cache', '--seed', '7', '--max-bytes', '64k'];
      const local = await treesynth(['run', '--input', corpus, '--out', join(dir, 'local-evolve'), '--tasks', '6', '--evolve-rounds', '2', '-q', ...model], dir);
      expect(local.code, local.stderr).toBe(0);
      const localSummary = JSON.parse(readFileSync(join(dir, 'local-evolve', 'summary.json'), 'utf8')) as { evolution: { rounds: number; added: number } };
      expect(localSummary.evolution.rounds).toBe(2);
      expect(localSummary.evolution.added).toBeGreaterThan(0);

      // One partition: the stages see the files in the order local mode reads them.
      const ingested = await treesynth(['ingest', corpus, '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--partitions', '1', '--state', join(dir, 'state-evolve')], dir);
      expect(ingested.code, ingested.stderr).toBe(0);
      const stages = startStages(['--topic-prefix', prefix, '--partitions', '1', ...model], dir);
      children.push(stages.child);
      await stages.ready;
      await drained(admin, prefix, [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features']]);
      // The end-of-corpus rounds of local mode, asked for as a Kafka user asks: numbered 1 and 2.
      const evolved = await treesynth(['request-evolution', '--rounds', '2', '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix], dir);
      expect(evolved.code, evolved.stderr).toBe(0);
      await drained(admin, prefix, [['evolve', 'tree.evolve']]);
      const requested = await treesynth(['request-tasks', '--count', '6', '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix], dir);
      expect(requested.code, requested.stderr).toBe(0);
      await drained(admin, prefix, [['sample', 'tasks.requests']]);
      stages.child.kill('SIGINT');
      expect((await stages.exited).code).toBe(0);

      const rounds = await readAll<EvolutionRequest>(`${prefix}tree.evolve`);
      expect(rounds.map((r) => r.value.round)).toEqual([1, 2]);
      const changes = await readAll<TreeNodeChange>(`${prefix}tree.nodes`);
      const restored = await FeatureTrees.restore(changes.map((c) => c.value), createLabelEmbedder({ kind: 'lexical' }));
      const expected = JSON.parse(readFileSync(join(dir, 'local-evolve', 'tree.json'), 'utf8')) as NestedNode;
      expect(JSON.stringify(expected)).toContain('"origin":"evolved"');
      expect(restored.get('all').tree.toNested()).toEqual(expected);
      const kafkaTasks = (await readAll<SynthesisTask>(`${prefix}tasks`)).map((t) => t.value).sort((a, b) => a.index - b.index);
      const localTasks = readFileSync(join(dir, 'local-evolve', 'tasks.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SynthesisTask);
      expect(kafkaTasks.map((t) => t.taskId)).toEqual(localTasks.map((t) => t.taskId));
      expect(kafkaTasks.map((t) => t.features.map((f) => f.nodeId))).toEqual(localTasks.map((t) => t.features.map((f) => f.nodeId)));
    }, 150_000);
  });

  describe('bad services and schemas', () => {
    it('an unreachable broker is one line with the retry schedule and exit 1', async () => {
      const result = await treesynth(['ingest', dir, '--kafka', '127.0.0.1:59998', '--registry', registry!, '--topic-prefix', `t${run}x.`], dir);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe('treesynth: cannot reach Kafka at 127.0.0.1:59998 (ECONNREFUSED); 3 attempts over 0.6 s (waits 0.2, 0.4 s). Is the broker running? (npm run -s stack:up prints its address)');
    });

    it('an unreachable registry is one line with the retry schedule and exit 1', async () => {
      const result = await treesynth(['run', '--kafka', brokers!, '--registry', 'http://127.0.0.1:59999/apis/ccompat/v7', '--topic-prefix', `t${run}x.`, '-q'], dir);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([
        'treesynth: cannot reach the schema registry at http://127.0.0.1:59999/apis/ccompat/v7 (ECONNREFUSED); 3 attempts over 0.6 s (waits 0.2, 0.4 s). Is the registry running? (npm run -s stack:up prints its URL)',
      ]);
    });

    it('an incompatible schema change is refused by the registry and reported in one line', async () => {
      const prefix = `t${run}s.`;
      prefixes.push(prefix);
      const subject = `${prefix}code.files-value`;
      // An older SourceFile without `readAt`: ours adds it without a default, which BACKWARD refuses.
      const older = {
        type: 'record', name: 'SourceFile', namespace: 'treesynth',
        fields: [{ name: 'path', type: 'string' }, { name: 'content', type: 'bytes' }, { name: 'languageHint', type: ['null', 'string'], default: null }, { name: 'source', type: 'string' }, { name: 'position', type: 'long' }],
      };
      const put = await fetch(`${registry}/subjects/${subject}/versions`, {
        method: 'POST', headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify({ schema: JSON.stringify(older) }),
      });
      expect(put.status).toBe(200);
      const result = await treesynth(['ingest', join(dir, 'corpus'), '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--state', join(dir, 'state-s')], dir);
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^treesynth: the schema registry refused SourceFile for subject ${prefix.replace('.', '\\.')}code\\.files-value: not BACKWARD-compatible`));
    });
  });

  describe('filter, extract and canonicalize killed with SIGKILL mid-stream and restarted', () => {
    const clean = `t${run}c.`;
    const crashed = `t${run}k.`;
    const chain: Array<[string, string]> = [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features']];
    // Three partitions and small transactions: many commits to land between or inside.
    // Near-duplicate filtering off: which of two near-duplicates wins depends on the order
    // partitions interleave, which differs between any two runs, crashed or not. Lexical label
    // embeddings for the same reason: by meaning (MiniLM) similarity is not transitive, so which
    // node a label joins ("decode error": "decode response" or "decode partition error") depends
    // on which arrived first; by spelling, merges here do not.
    const stageArgs = (prefix: string) => ['--topic-prefix', prefix, '--stages', 'filter,extract,canonicalize', '--near-duplicate-radius', '0', '--embeddings', 'lexical', '--batch-records', '8', '--partitions', '3'];
    let corpus: string;

    beforeAll(async () => {
      prefixes.push(clean, crashed);
      corpus = join(dir, 'crash-corpus');
      const src = join(root, 'node_modules/kafkajs/src');
      const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.js') && !f.includes('spec') && statSync(join(src, f)).isFile()).sort().slice(0, 200);
      for (const f of files) {
        mkdirSync(join(corpus, dirname(f)), { recursive: true });
        copyFileSync(join(src, f), join(corpus, f));
      }
      // Exact duplicates under other paths: the same content hash, whichever path wins.
      copyFileSync(join(src, files[0]!), join(corpus, 'copy-a.js'));
      copyFileSync(join(src, files[1]!), join(corpus, 'copy-b.js'));
      for (const prefix of [clean, crashed]) {
        const r = await treesynth(['ingest', corpus, '--kafka', brokers!, '--registry', registry!, '--topic-prefix', prefix, '--partitions', '3', '--state', join(dir, `state-${prefix}`), '-q'], dir);
        expect(r.code, r.stderr).toBe(0);
      }
    }, 60_000);

    /** What a run wrote: accepted keys, feature keys, dead letters, and the compacted tree. */
    async function outputs(prefix: string) {
      const accepted = (await readAll<CodeFile>(`${prefix}code.accepted`)).map((r) => r.raw.key!.toString());
      const features = (await readAll<FeatureSet>(`${prefix}features`)).map((r) => r.raw.key!.toString());
      const dead = (await readAll<Rejection>(`${prefix}dead.letters`)).map(({ value: r }) => `${r.stage}|${r.reason}|${r.recordId ?? r.path}`);
      const latest = new Map<string, TreeNodeChange>();
      for (const c of await readAll<TreeNodeChange>(`${prefix}tree.nodes`)) latest.set(c.raw.key!.toString(), c.value);
      const trees = await FeatureTrees.restore(latest.values(), createLabelEmbedder({ kind: 'lexical' }));
      return { accepted, features, dead, tree: trees.get('all').tree };
    }

    // Labels merge by similarity; which spelling becomes a node's label is the first to arrive,
    // and arrival order across partitions differs between any two runs. So nodes compare by
    // all their spellings, with their frequencies and children.
    interface Canon { names: string[]; frequency: number; children: Canon[] }
    const canon = (n: NestedNode): Canon => ({
      names: [n.label, ...n.aliases].sort(),
      frequency: n.frequency,
      children: n.children.map(canon).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
    });
    const sorted = (xs: string[]) => [...xs].sort();

    it('writes the same records as a clean run: none lost, none duplicated', async () => {
      const started = Date.now();
      const trace = (what: string) => process.env.TREESYNTH_TEST_TRACE && console.log(`[crash] ${((Date.now() - started) / 1000).toFixed(1)} s ${what}`);
      const reference = startStages(stageArgs(clean), dir);
      children.push(reference.child);
      await reference.ready;
      trace('clean ready');
      await drained(admin, clean, chain);
      trace('clean drained');
      reference.child.kill('SIGINT');
      expect((await reference.exited).code).toBe(0);
      const cleanMs = Date.now() - started;

      // Kill at a random moment once this incarnation is committing: before, inside or
      // between transactions, with work left.
      const committedSoFar = async () => {
        let n = 0;
        for (const [stage, topic] of chain) {
          const [entry] = await admin.fetchOffsets({ groupId: `${crashed}${stage}`, topics: [`${crashed}${topic}`] });
          for (const p of entry?.partitions ?? []) n += Math.max(0, Number(p.offset));
        }
        return n;
      };
      const kills: Array<{ afterMs: number; lag: number }> = [];
      for (let i = 0; i < 3; i++) {
        const before = await committedSoFar();
        const victim = startStages(stageArgs(crashed), dir);
        children.push(victim.child);
        await victim.ready;
        trace(`victim ${i} ready`);
        const deadline = Date.now() + 30_000;
        while ((await committedSoFar()) === before && Date.now() < deadline) await sleep(50);
        const afterMs = Math.floor(Math.random() * 300);
        await sleep(afterMs);
        trace(`victim ${i} killed`);
        victim.child.kill('SIGKILL');
        const killed = await victim.exited;
        expect(killed.signal).toBe('SIGKILL');
        let lagNow = 0;
        for (const [stage, topic] of chain) lagNow += await lag(admin, `${crashed}${stage}`, `${crashed}${topic}`);
        kills.push({ afterMs, lag: lagNow });
      }
      const last = startStages(stageArgs(crashed), dir);
      children.push(last.child);
      await last.ready;
      trace('last ready');
      await drained(admin, crashed, chain, 90_000);
      trace('crashed drained');
      last.child.kill('SIGINT');
      const end = await last.exited;
      expect(end.code, end.stderr).toBe(0);
      // The kills happened mid-stream: there was work left after each.
      expect(kills.every((k) => k.lag > 0), JSON.stringify({ kills, cleanMs })).toBe(true);

      const want = await outputs(clean);
      trace('outputs read');
      const got = await outputs(crashed);
      expect(new Set(got.accepted).size, 'duplicated code.accepted records').toBe(got.accepted.length);
      expect(new Set(got.features).size, 'duplicated features records').toBe(got.features.length);
      expect(sorted(got.accepted)).toEqual(sorted(want.accepted));
      expect(sorted(got.features)).toEqual(sorted(want.features));
      expect(sorted(got.dead)).toEqual(sorted(want.dead));
      expect(want.accepted.length).toBeGreaterThan(150);
      // Every feature set counted exactly once: the root counts files.
      expect(got.tree.root.frequency).toBe(got.features.length);
      expect(canon(got.tree.toNested())).toEqual(canon(want.tree.toNested()));
    }, 170_000);
  });
});
