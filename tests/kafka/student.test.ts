// The student in Kafka mode: the student stage writes one attempt per validated sample to
// student.attempts, and that topic is the student store's changelog: a restarted sample stage
// replays it before it samples again.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai-server.js';
import { studentWeakAt, teacherNamingFeatures } from '../fakes/student-fakes.js';
import { GOOD_FILES } from '../fixtures/corpus.js';
import { TOPICS, TestCluster, drained, startStages, target, treesynth, type Stages } from './harness.js';
import { describeKafka } from './stack-env.js';


describeKafka('the student in Kafka mode (needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL)', () => {
  let cluster: TestCluster;
  let dir: string;
  let teacher: FakeOpenAI;
  let student: FakeOpenAI;

  beforeAll(async () => {
    cluster = await TestCluster.open('student-test');
    dir = mkdtempSync(join(tmpdir(), 'treesynth-kafka-student-'));
    mkdirSync(join(dir, 'corpus'));
    writeFileSync(join(dir, 'corpus', 'a.py'), GOOD_FILES['app/loader.py']!);
    teacher = await startFakeOpenAI({ models: ['teacher'], chat: teacherNamingFeatures() });
    // Wrong on file operations, right on everything else.
    student = await startFakeOpenAI({ models: ['student'], chat: studentWeakAt('file operation') });
  });
  afterAll(async () => {
    await cluster?.close();
    await teacher?.close();
    await student?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const args = () => [
    '--partitions', '1', '--llm-base-url', teacher.url, '--llm-stages', 'generate', '--student', student.url, '--no-cache',
    '--levels', 'function=1', '--breadth-function', '1,1', '--min-mutation-score', '0', '--sample-duplicate-radius', '0',
  ];

  it('judges every validated sample once on student.attempts, and a restarted sampler replays them', async () => {
    const prefix = cluster.prefix('st');
    let run: Stages = startStages(['--topic-prefix', prefix, ...args()], dir);
    cluster.children.push(run.child);
    await run.ready;
    expect(run.stderr()).toMatch(/student model student at/);
    expect((await treesynth(['ingest', join(dir, 'corpus'), ...target(prefix), '--partitions', '1', '--state', join(dir, 'state')], dir)).code).toBe(0);
    expect((await treesynth(['request-tasks', '--count', '6', ...target(prefix)], dir)).code).toBe(0);
    await drained(cluster.admin, prefix, [
      ['filter', 'code.files'], ['extract', 'code.accepted'], ['canonicalize', 'features'], ['sample', 'tasks.requests'],
      ['generate', 'tasks'], ['validate', 'samples.generated'], ['student', 'samples'],
    ], 150_000);

    const samples = await cluster.records(prefix, TOPICS.samples);
    const attempts = await cluster.records(prefix, TOPICS.studentAttempts);
    expect(samples.length).toBeGreaterThan(0);
    expect(attempts.map((a) => a.value.sampleId).sort()).toEqual(samples.map((s) => s.value.sampleId).sort());
    for (const { value } of attempts) {
      expect(value.model).toBe('student');
      expect(value.passed).toBe(!value.paths.some((p) => p[0] === 'file operation'));
    }

    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    run = startStages(['--topic-prefix', prefix, ...args()], dir);
    cluster.children.push(run.child);
    await run.ready;
    expect(run.stderr()).toContain(`following ${prefix}student.attempts: ${attempts.length} student attempts so far`);
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  }, 240_000);
});
