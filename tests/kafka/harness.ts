// What the Kafka suites share: the built CLI as a child process, `run --kafka` with a readiness
// signal, lag and drain checks through the admin client, committed records read back decoded,
// and the clean-up of every topic, group and subject under the prefixes a suite used.
import { topicLag } from '../../connectors/kafka/lag.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { readTopic, type RawRecord } from '../../connectors/kafka/reader.js';
import { AvroSerde, connectRegistry } from '../../connectors/kafka/serde.js';
import { loadContracts, type RecordName, type Records } from '../../schemas/contract.js';
import { TOPICS, type TopicSpec } from '../../schemas/topics.js';
import { kafkaStack } from './stack-env.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bin = join(root, 'bin', 'treesynth.js');

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export const cliEnv = (): NodeJS.ProcessEnv => ({ ...process.env, CI: 'true', KAFKAJS_NO_PARTITIONER_WARNING: '1', TREESYNTH_CONNECT_SCHEDULE_MS: '200,400' });

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the CLI to completion. */
export function treesynth(args: string[], cwd: string, env: NodeJS.ProcessEnv = cliEnv()): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('node', [bin, ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The options that point a Kafka command at the test stack. */
export const target = (prefix: string, brokers = kafkaStack.brokers) => ['--kafka', brokers, '--registry', kafkaStack.registry, '--topic-prefix', prefix];

export interface Stages {
  child: ChildProcess;
  /** Resolves once the stages consume (stderr says "running"). */
  ready: Promise<void>;
  exited: Promise<Result>;
  stderr(): string;
}

/** `treesynth run --kafka` as a child process (session timeout at the broker's minimum). */
export function startStages(args: string[], cwd: string, options: { brokers?: string; env?: NodeJS.ProcessEnv } = {}): Stages {
  const brokers = options.brokers ?? kafkaStack.brokers;
  const child = spawn('node', [bin, 'run', '--kafka', brokers, '--registry', kafkaStack.registry, '--session-timeout', '6000', ...args], { cwd, env: options.env ?? cliEnv() });
  let stdout = '';
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (/treesynth: running /.test(stderr)) markReady();
  });
  const exited = new Promise<Result>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, ready: Promise.race([ready, exited.then((r) => Promise.reject(new Error(`stages exited early (${r.code}): ${r.stderr}`)))]), exited, stderr: () => stderr };
}

/** End offset minus committed offset (from the log start when none), summed over the partitions of `topic`. */
export const lag = topicLag;

/** Waits until each (stage, topic) in turn has no lag: upstream done before downstream is checked. */
export async function drained(admin: Admin, prefix: string, chain: Array<[stage: string, topic: string]>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const [stage, topic] of chain) {
    for (;;) {
      if ((await lag(admin, `${prefix}${stage}`, `${prefix}${topic}`)) === 0) break;
      if (Date.now() > deadline) throw new Error(`${prefix}${stage} did not drain ${prefix}${topic}`);
      await sleep(250);
    }
  }
}

/** A kafkajs client and admin on the test stack, and treesynth's serde to read its topics. */
export class TestCluster {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly prefixes: string[] = [];
  readonly children: ChildProcess[] = [];
  #serde: AvroSerde | null = null;
  #registryClose: (() => void) | null = null;

  private constructor(kafka: Kafka, admin: Admin) {
    this.kafka = kafka;
    this.admin = admin;
  }

  static async open(clientId: string): Promise<TestCluster> {
    const kafka = new Kafka({ clientId, brokers: kafkaStack.brokers.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    return new TestCluster(kafka, admin);
  }

  /** A fresh prefix, cleaned up by close(). */
  prefix(stem: string): string {
    const prefix = `${stem}${Math.random().toString(36).slice(2, 8)}.`;
    this.prefixes.push(prefix);
    return prefix;
  }

  /** Every committed record of a topic under `prefix`, decoded (undecodable ones are left out). */
  async records<N extends RecordName>(prefix: string, spec: TopicSpec<N>): Promise<Array<{ raw: RawRecord; value: Records[N] }>> {
    if (!this.#serde) {
      const registry = await connectRegistry(kafkaStack.registry);
      this.#registryClose = () => registry.close();
      this.#serde = await AvroSerde.register(registry, loadContracts(), []);
    }
    const topic = `${prefix}${spec.name}`;
    const raws: RawRecord[] = [];
    await readTopic(this.kafka, this.admin, topic, { groupPrefix: `test.read.${prefix}`, onRecord: (r) => void raws.push(r), timeoutMs: 30_000 });
    const out: Array<{ raw: RawRecord; value: Records[N] }> = [];
    for (const raw of raws) {
      const decoded = await this.#serde.decode(topic, spec.record, raw.value);
      if (decoded.ok) out.push({ raw, value: decoded.value });
    }
    return out;
  }

  /** The latest record under every key of a (compacted) topic; keys whose latest record is a tombstone are left out. */
  async latest<N extends RecordName>(prefix: string, spec: TopicSpec<N>): Promise<Map<string, Records[N]>> {
    const records = await this.records(prefix, spec);
    const decoded = new Map(records.map((r) => [`${r.raw.partition}@${r.raw.offset}`, r.value]));
    const byKey = new Map<string, Records[N] | null>();
    await readTopic(this.kafka, this.admin, `${prefix}${spec.name}`, {
      groupPrefix: `test.latest.${prefix}`, timeoutMs: 30_000,
      onRecord: (r) => void byKey.set(r.key!.toString(), r.value === null ? null : (decoded.get(`${r.partition}@${r.offset}`) ?? null)),
    });
    return new Map([...byKey].filter((e): e is [string, Records[N]] => e[1] !== null));
  }

  /** Deletes the topics under `prefix` and waits until the broker no longer lists them. */
  async deleteTopics(prefix: string): Promise<void> {
    const topics = (await this.admin.listTopics()).filter((t) => t.startsWith(prefix));
    await this.admin.deleteTopics({ topics, timeout: 30_000 });
    for (let i = 0; i < 120 && (await this.admin.listTopics()).some((t) => t.startsWith(prefix)); i++) await sleep(250);
  }

  async close(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const topics = (await this.admin.listTopics()).filter((t) => this.prefixes.some((p) => t.startsWith(p)));
    await this.admin.deleteTopics({ topics }).catch(() => {});
    const groups = (await this.admin.listGroups()).groups.map((g) => g.groupId).filter((g) => this.prefixes.some((p) => g.startsWith(p)));
    await this.admin.deleteGroups(groups).catch(() => {});
    await this.admin.disconnect();
    this.#registryClose?.();
    for (const prefix of this.prefixes) {
      const subjects = ((await (await fetch(`${kafkaStack.registry}/subjects`)).json()) as string[]).filter((s) => s.startsWith(prefix));
      for (const s of subjects) {
        await fetch(`${kafkaStack.registry}/subjects/${s}`, { method: 'DELETE' }).catch(() => {});
        await fetch(`${kafkaStack.registry}/subjects/${s}?permanent=true`, { method: 'DELETE' }).catch(() => {});
      }
    }
  }
}

export { TOPICS };
