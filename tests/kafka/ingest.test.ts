// `treesynth ingest` remembers what it sent per cluster and topic: unchanged files are not sent
// again to the same topics, but topics that were deleted and recreated (or another prefix, or
// another cluster) get every file again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BAD_FILES, GOOD_FILES, writeCorpus } from '../fixtures/corpus.js';
import { TOPICS, TestCluster, target, treesynth } from './harness.js';
import { describeKafka, kafkaStack } from './stack-env.js';

describeKafka('ingest state per cluster and topic (needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL)', () => {
  let cluster: TestCluster;
  let dir: string;
  let corpus: string;
  // Good and bad files, and the .gitignore (the filter rejects it, not the source).
  const files = Object.keys(GOOD_FILES).length + Object.keys(BAD_FILES).length + 1;

  beforeAll(async () => {
    cluster = await TestCluster.open('ingest-test');
    dir = mkdtempSync(join(tmpdir(), 'treesynth-ingest-'));
    corpus = join(dir, 'corpus');
    writeCorpus(corpus);
  });
  afterAll(async () => {
    await cluster?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ingest = (prefix: string, brokers = kafkaStack.brokers) => treesynth(['ingest', corpus, ...target(prefix, brokers), '--partitions', '2', '--state', join(dir, 'state')], dir);

  it('sends unchanged files once per topic, whatever bootstrap address names the cluster', async () => {
    const prefix = cluster.prefix('ing');
    const first = await ingest(prefix);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`${files} files read: ${files} sent to ${prefix}code.files`);
    // The same cluster through another spelling of its address: the same state.
    const again = await ingest(prefix, `${kafkaStack.brokers},${kafkaStack.brokers}`);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`${files} files read: 0 sent to ${prefix}code.files`);
    // Another prefix is another topic: everything goes there too.
    const other = cluster.prefix('ing');
    const elsewhere = await ingest(other);
    expect(elsewhere.stdout).toContain(`${files} files read: ${files} sent to ${other}code.files`);
  }, 120_000);

  it('sends every file again to topics that were deleted and recreated, and says why', async () => {
    const prefix = cluster.prefix('ing');
    expect((await ingest(prefix)).stdout).toContain(`${files} sent to`);
    await cluster.deleteTopics(prefix);
    const after = await ingest(prefix);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(new RegExp(`${prefix.replace('.', '\\.')}code\\.files partition \\d ends at 0, but ingest had written up to [1-9]\\d* there: the topic was recreated; sending every file again`));
    expect(after.stdout).toContain(`${files} files read: ${files} sent to ${prefix}code.files`);
    // The recreated topic holds each file once.
    const paths = (await cluster.records(prefix, TOPICS.files)).map((r) => r.value.path);
    expect(paths).toHaveLength(files);
    expect(new Set(paths).size).toBe(files);
    // And the state now knows the new topics: nothing more to send.
    expect((await ingest(prefix)).stdout).toContain(`${files} files read: 0 sent to ${prefix}code.files`);
  }, 120_000);
});
