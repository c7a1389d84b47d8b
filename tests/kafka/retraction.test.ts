// Kafka mode over a corpus that changes: a changed file retracts its previous version's
// contribution to the tree, a deleted file is a tombstone that does the same, a node no live
// file mentions is retired (frequency 0, marked), the compacted topics keep one live record per
// path, and after every round of changes the Kafka tree equals a local run over the corpus as
// it is then. Three partitions, so a file's old and new versions travel different partitions.
// A file suppressed as a near-duplicate comes back when what it duplicated goes or changes.
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NestedNode } from '../../stores/tree-store.js';
import { TOPICS, TestCluster, bin, cliEnv, drained, startStages, target, treesynth } from './harness.js';
import { describeKafka } from './stack-env.js';
import { kafkaTree, live, localTree, sourceFiles, spelledAs } from './trees.js';

const CHAIN: Array<[string, string]> = [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features']];

function find(tree: NestedNode, path: string[]): NestedNode | undefined {
  let node: NestedNode | undefined = tree;
  for (const label of path) node = node?.children.find((c) => c.label === label);
  return node;
}

describeKafka('Kafka mode retracts what changed and deleted files added (needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL)', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await TestCluster.open('retraction-test');
    dir = mkdtempSync(join(tmpdir(), 'treesynth-retraction-'));
  });
  afterAll(async () => {
    await cluster?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('after every round of changes, deletions and re-additions the Kafka tree is the local tree of the corpus as it stands', async () => {
    const prefix = cluster.prefix('rt');
    const corpus = join(dir, 'corpus');
    const files = sourceFiles(26);
    const rel = (f: string) => join('js', f.split('/kafkajs/src/')[1]!);
    const put = (f: string) => {
      mkdirSync(dirname(join(corpus, rel(f))), { recursive: true });
      copyFileSync(f, join(corpus, rel(f)));
    };
    for (const f of files.slice(0, 20)) put(f);
    // The only file that imports zlib: its node retires when the file goes.
    writeFileSync(join(corpus, 'squeeze.py'), 'import zlib\n\n\ndef squeeze_payload(blob):\n    """Compress a payload."""\n    return zlib.compress(blob, 9)\n');

    const run = startStages(['--topic-prefix', prefix, '--stages', 'filter,extract,canonicalize', '--near-duplicate-radius', '0'], dir);
    cluster.children.push(run.child);
    await run.ready;
    const ingest = async () => {
      const r = await treesynth(['ingest', corpus, ...target(prefix), '--state', join(dir, 'state')], dir);
      expect(r.code, r.stderr).toBe(0);
      await drained(cluster.admin, prefix, CHAIN, 90_000);
      return r.stdout;
    };
    const compare = async (round: string) => {
      const want = await localTree(corpus, join(dir, `local-${round}`), dir);
      const got = await kafkaTree(cluster, prefix);
      expect(live(spelledAs(got, want)), `round ${round}`).toEqual(live(want));
      return got;
    };

    await ingest();
    const first = await compare('1');
    expect(find(first, ['dependency relations', 'zlib'])?.frequency).toBe(1);

    // Round 2: five files change, three go (squeeze.py among them), two arrive, and one file's
    // content appears a second time under another path.
    const changed = files.slice(1, 6).map(rel);
    changed.forEach((f, i) => appendFileSync(join(corpus, f), `\nfunction extra${i}(items) {\n  try {\n    return items.map((x) => x * ${i + 2})\n  } catch (error) {\n    console.error(error)\n    return []\n  }\n}\n`));
    for (const f of [files[6]!, files[7]!].map(rel)) rmSync(join(corpus, f));
    rmSync(join(corpus, 'squeeze.py'));
    for (const f of files.slice(20, 22)) put(f);
    mkdirSync(join(corpus, 'copy'), { recursive: true });
    copyFileSync(join(corpus, rel(files[0]!)), join(corpus, 'copy', 'same.js'));
    expect(await ingest()).toMatch(/: 8 sent to .*, 3 deleted \(tombstones\)/);
    const second = await compare('2');
    // No live file mentions zlib: the node stays, retired at frequency 0, and is marked so.
    expect(find(second, ['dependency relations', 'zlib'])).toMatchObject({ frequency: 0, retired: true });

    // Round 3: the original of the copy goes (its content stays, under the copy's path), a
    // changed file goes back to what it was, another changes again, a deleted file returns.
    rmSync(join(corpus, rel(files[0]!)));
    copyFileSync(files[1]!, join(corpus, changed[0]!));
    appendFileSync(join(corpus, changed[1]!), '\nexport const again = 1\n');
    put(files[6]!);
    put(files[22]!);
    expect(await ingest()).toMatch(/: 4 sent to .*, 1 deleted \(tombstones\)/);
    await compare('3');

    // The compacted topics hold one live record per path: exactly the corpus as it stands.
    const onDisk = (readdirSync(corpus, { recursive: true }) as string[]).filter((f) => statSync(join(corpus, f)).isFile()).sort();
    expect([...(await cluster.latest(prefix, TOPICS.files)).keys()].sort()).toEqual(onDisk);
    const paths = await cluster.latest(prefix, TOPICS.paths);
    expect([...paths.keys()].sort()).toEqual(onDisk);
    // The copy and nothing else shares a content; the tree counted it once (the local tree agrees).
    expect(paths.get('copy/same.js')?.fileId).toBeDefined();
    const configs = await cluster.admin.describeConfigs({
      includeSynonyms: false,
      resources: [TOPICS.files, TOPICS.paths, TOPICS.contributions].map((t) => ({ type: 2, name: `${prefix}${t.name}`, configNames: ['cleanup.policy'] })),
    });
    expect(configs.resources.map((r) => r.configEntries[0]?.configValue)).toEqual(['compact', 'compact', 'compact']);
    // A tombstone is a retraction, never a dead letter.
    const dead = (await cluster.records(prefix, TOPICS.deadLetters)).map((r) => r.value);
    expect(dead.filter((d) => d.reason !== 'duplicate')).toEqual([]);

    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  }, 400_000);

  it('a near-duplicate comes back when the file it duplicated goes or changes, across a restart, as a local run over the final corpus has it', async () => {
    const prefix = cluster.prefix('rn');
    const corpus = join(dir, 'corpus-near');
    const files = sourceFiles(10);
    const rel = (f: string) => join('js', f.split('/kafkajs/src/')[1]!);
    const write = (path: string, content: string) => {
      mkdirSync(dirname(join(corpus, path)), { recursive: true });
      writeFileSync(join(corpus, path), content);
    };
    for (const f of files.slice(0, 8)) write(rel(f), readFileSync(f, 'utf8'));
    const original = readFileSync(files[0]!, 'utf8');
    const options = ['--near-duplicate-radius', '0.05', '--embeddings', 'lexical'];
    const stages = () => {
      const s = startStages(['--topic-prefix', prefix, '--stages', 'filter,extract,canonicalize', ...options], dir);
      cluster.children.push(s.child);
      return s;
    };
    let run = stages();
    await run.ready;
    const ingest = async () => {
      const r = await treesynth(['ingest', corpus, ...target(prefix), '--state', join(dir, 'state-near')], dir);
      expect(r.code, r.stderr).toBe(0);
      await drained(cluster.admin, prefix, CHAIN, 90_000);
    };
    const compare = async (round: string) => {
      const want = await localTree(corpus, join(dir, `local-near-${round}`), dir, options);
      expect(live(spelledAs(await kafkaTree(cluster, prefix), want)), `round ${round}`).toEqual(live(want));
    };
    const suppressed = async () => [...(await cluster.latest(prefix, TOPICS.suppressed)).values()].map((s) => s.path).sort();
    await ingest();
    await compare('1');

    // Round 2: two near-duplicates of the first file arrive, and an exact copy of one of them.
    write('nd/b.js', `${original}\n// one more comment\n`);
    write('nd/c.js', `${original}\n// another comment, longer than the first\n`);
    write('nd/e.js', `${original}\n// one more comment\n`);
    await ingest();
    await compare('2');
    expect(await suppressed()).toEqual(['nd/b.js', 'nd/c.js', 'nd/e.js']);

    // The suppressed files survive a restart: the store comes back from filter.suppressed.
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    run = stages();
    await run.ready;

    // Round 3: the original goes. b is admitted (first in path order), c is b's near-duplicate, e b's copy.
    rmSync(join(corpus, rel(files[0]!)));
    await ingest();
    await compare('3');
    expect(await suppressed()).toEqual(['nd/c.js']);
    expect((await cluster.latest(prefix, TOPICS.paths)).get('nd/e.js')?.fileId).toBe((await cluster.latest(prefix, TOPICS.paths)).get('nd/b.js')?.fileId);

    // Round 4: b and its copy change into other files: c resembles nothing live and is admitted.
    write('nd/b.js', readFileSync(files[8]!, 'utf8'));
    write('nd/e.js', readFileSync(files[9]!, 'utf8'));
    await ingest();
    await compare('4');
    expect(await suppressed()).toEqual([]);
    const dead = (await cluster.records(prefix, TOPICS.deadLetters)).map((r) => r.value);
    expect(dead.filter((d) => d.reason !== 'duplicate' && d.reason !== 'near-duplicate')).toEqual([]);

    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  }, 400_000);

  it('--watch follows file-system events: changes, deletions and new directories arrive without waiting for a rescan', async () => {
    const prefix = cluster.prefix('rw');
    const corpus = join(dir, 'corpus-watch');
    const files = sourceFiles(12);
    const rel = (f: string) => join('js', f.split('/kafkajs/src/')[1]!);
    for (const f of files.slice(0, 8)) {
      mkdirSync(dirname(join(corpus, rel(f))), { recursive: true });
      copyFileSync(f, join(corpus, rel(f)));
    }
    const run = startStages(['--topic-prefix', prefix, '--stages', 'filter,extract,canonicalize', '--near-duplicate-radius', '0'], dir);
    cluster.children.push(run.child);
    // A rescan only every ten minutes: whatever arrives within the test came through events.
    const watcher = spawn('node', [bin, 'ingest', corpus, ...target(prefix), '--state', join(dir, 'state-watch'), '--watch', '--interval', '600000'], { cwd: dir, env: cliEnv() });
    cluster.children.push(watcher);
    let out = '';
    let err = '';
    watcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
    watcher.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => watcher.on('close', (code) => resolve(code)));
    // Start-up, topics, schemas and the first pass: slow on a busy machine.
    await expect.poll(() => out, { timeout: 90_000, message: `ingest --watch said: ${err}` }).toContain('watching');
    await run.ready;

    appendFileSync(join(corpus, rel(files[0]!)), '\nexport const edited = () => [1, 2, 3].map((x) => x * 2)\n');
    rmSync(join(corpus, rel(files[1]!)));
    mkdirSync(join(corpus, 'later', 'deeper'), { recursive: true });
    copyFileSync(files[9]!, join(corpus, 'later', 'deeper', 'arrived.js'));
    const onDisk = () => (readdirSync(corpus, { recursive: true }) as string[]).filter((f) => statSync(join(corpus, f)).isFile()).sort();
    await expect.poll(async () => [...(await cluster.latest(prefix, TOPICS.files)).keys()].sort(), { timeout: 60_000, interval: 1_000 }).toEqual(onDisk());
    expect(out).toMatch(/1 deleted \(tombstones\)/);

    watcher.kill('SIGTERM');
    expect(await exited, out).toBe(0);
    await drained(cluster.admin, prefix, CHAIN, 90_000);
    const want = await localTree(corpus, join(dir, 'local-watch'), dir);
    expect(live(spelledAs(await kafkaTree(cluster, prefix), want))).toEqual(live(want));
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  }, 240_000);
});
