// A soak bounded in time: `ingest --watch` follows a corpus that a script keeps changing (files
// change, arrive, go, and share content), tasks are requested now and then, and the stages are
// SIGKILLed at random moments (the watcher too, once). At the end the Kafka tree equals a local
// run over the final corpus, and every requested task exists exactly once: those request-tasks
// asked for and those the stages asked for as files came in (--tasks-per-files).
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seededRandom } from '../../lib/random.js';
import { PER_FILE_INDEX_BASE } from '../../topology/run-kafka.js';
import { TOPICS, TestCluster, bin, cliEnv, drained, sleep, startStages, target, treesynth, type Stages } from './harness.js';
import { describeKafka } from './stack-env.js';
import { kafkaTree, live, localTree, sourceFiles, spelledAs } from './trees.js';

const CHAIN: Array<[string, string]> = [['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features'], ['sample', 'tasks.requests']];
/** How long the script changes the corpus. */
const SOAK_MS = 60_000;

describeKafka('soak: a changing corpus, --watch and random SIGKILLs (needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL)', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await TestCluster.open('soak-test');
    dir = mkdtempSync(join(tmpdir(), 'treesynth-soak-'));
  });
  afterAll(async () => {
    await cluster?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ends with the local tree of the final corpus and every requested task once', async () => {
    const seed = Number(process.env['TREESYNTH_SOAK_SEED'] ?? Date.now() % 100_000);
    const random = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const prefix = cluster.prefix('soak');
    const corpus = join(dir, 'corpus');
    const pool = sourceFiles(60);
    const rel = (f: string) => join('js', f.split('/kafkajs/src/')[1]!);
    const put = (f: string) => {
      mkdirSync(dirname(join(corpus, rel(f))), { recursive: true });
      copyFileSync(f, join(corpus, rel(f)));
    };
    const present = () => (readdirSync(corpus, { recursive: true }) as string[]).filter((f) => statSync(join(corpus, f)).isFile()).sort();
    for (const f of pool.slice(0, 30)) put(f);

    const watcher = () => {
      const child = spawn('node', [bin, 'ingest', corpus, ...target(prefix), '--state', join(dir, 'state'), '--watch', '--interval', '3000'], { cwd: dir, env: cliEnv() });
      cluster.children.push(child);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      return { child, exited, output: () => out };
    };
    const stages = (): Stages => {
      const s = startStages(['--topic-prefix', prefix, '--stages', 'filter,extract,canonicalize,sample', '--near-duplicate-radius', '0', '--tasks-per-files', '0.25'], dir);
      cluster.children.push(s.child);
      return s;
    };

    let ingest = watcher();
    let run = stages();
    await run.ready;
    let requested = 0;
    const indexes: number[] = [];
    const log: string[] = [];
    let kills = 0;
    let nextKill = Date.now() + 4_000 + random() * 8_000;
    let ingestKilled = false;
    let version = 0;
    const started = Date.now();
    while (Date.now() - started < SOAK_MS) {
      const files = present();
      const roll = random();
      if (roll < 0.35 && files.length > 0) {
        const f = pick(files);
        appendFileSync(join(corpus, f), `\nexport const v${(version += 1)} = (x) => { try { return x + ${version} } catch (e) { return null } }\n`);
        log.push(`change ${f}`);
      } else if (roll < 0.6) {
        const f = pick(pool);
        put(f);
        log.push(`add ${rel(f)}`);
      } else if (roll < 0.85 && files.length > 10) {
        const f = pick(files);
        rmSync(join(corpus, f));
        log.push(`delete ${f}`);
      } else if (roll < 0.92 && files.length > 0) {
        const f = pick(files);
        mkdirSync(join(corpus, 'copies'), { recursive: true });
        copyFileSync(join(corpus, f), join(corpus, 'copies', `${version += 1}.js`));
        log.push(`copy ${f}`);
      } else {
        const count = 1 + Math.floor(random() * 4);
        const asked = await treesynth(['request-tasks', '--count', String(count), ...target(prefix)], dir);
        expect(asked.code, asked.stderr).toBe(0);
        // Indexes continue after the records already in the topic (the stages' own requests too).
        const [, from, to] = /indexes (\d+)\.\.(\d+)/.exec(asked.stdout)!;
        for (let i = Number(from); i <= Number(to); i++) indexes.push(i);
        requested += count;
        log.push(`request ${count}`);
      }
      if (Date.now() > nextKill) {
        run.child.kill('SIGKILL');
        await run.exited;
        kills += 1;
        log.push('SIGKILL stages');
        if (!ingestKilled && kills === 2) {
          ingest.child.kill('SIGKILL');
          await ingest.exited;
          ingestKilled = true;
          log.push('SIGKILL ingest');
          ingest = watcher();
        }
        await sleep(random() * 1_000);
        run = stages();
        await run.ready;
        nextKill = Date.now() + 3_000 + random() * 9_000;
      }
      await sleep(100 + random() * 400);
    }
    // The watcher catches up (events, then a rescan as the safety net), and stops on SIGTERM.
    await sleep(7_000);
    ingest.child.kill('SIGTERM');
    expect(await ingest.exited, ingest.output()).toBe(0);
    await drained(cluster.admin, prefix, CHAIN, 120_000);
    const context = `seed ${seed}, ${kills} kills, ${requested} tasks requested; ${log.length} steps: ${log.slice(-30).join('; ')}`;
    expect(kills, context).toBeGreaterThanOrEqual(2);
    expect(ingestKilled, context).toBe(true);

    const want = await localTree(corpus, join(dir, 'local'), dir);
    const got = await kafkaTree(cluster, prefix);
    expect(live(spelledAs(got, want)), context).toEqual(live(want));

    // Requested by request-tasks, and by the stages as the tree took files in (a quarter per
    // file, every version counted, however often files changed or went): each exactly once.
    const tasks = (await cluster.records(prefix, TOPICS.tasks)).map((r) => r.value);
    const intake = (await cluster.latest(prefix, TOPICS.contributions)).get('all/#intake')!.intake;
    const perFile = Math.floor(intake * 0.25);
    // The first 30 files and at least one later version.
    expect(intake, context).toBeGreaterThan(30);
    expect(tasks.map((t) => t.index).sort((a, b) => a - b), context).toEqual([
      ...indexes.sort((a, b) => a - b),
      ...Array.from({ length: perFile }, (_, i) => PER_FILE_INDEX_BASE + i),
    ]);
    expect(new Set(tasks.map((t) => t.taskId)).size, context).toBe(tasks.length);
    const dead = (await cluster.records(prefix, TOPICS.deadLetters)).map((r) => r.value);
    expect(dead.filter((d) => d.reason !== 'duplicate'), context).toEqual([]);

    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  }, 420_000);
});
