// The schema registry started by `npm run stack:up`, seen through the client treesynth uses:
// @confluentinc/schemaregistry's REST client and Avro serde against Apicurio's Confluent-
// compatible API. Plus a check, needing no services, that docker/compose.yml and the
// script describe the same stack.
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AvroDeserializer,
  AvroSerializer,
  Compatibility,
  SchemaRegistryClient,
  SerdeType,
  TopicNameStrategy,
} from '@confluentinc/schemaregistry';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeKafka, kafkaStack } from './stack-env.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const registryUrl = kafkaStack.registry;

const run = randomUUID().slice(0, 8);
const topic = `stack-${run}-files`;
const subject = `${topic}-value`; // TopicNameStrategy, named explicitly: the default first asks for Confluent "associations", which Apicurio does not serve and sometimes leaves unanswered

const v1 = {
  type: 'record',
  name: 'SourceFile',
  namespace: 'dev.treesynth.test',
  fields: [
    { name: 'path', type: 'string' },
    { name: 'size', type: 'long' },
  ],
};
// BACKWARD-compatible: a new field with a default (new readers can read old records).
const v2 = { ...v1, fields: [...v1.fields, { name: 'language', type: ['null', 'string'], default: null }] };
// Not BACKWARD-compatible: a new field without a default.
const v3Incompatible = { ...v1, fields: [...v1.fields, { name: 'sha256', type: 'string' }] };

const schemaInfo = (schema: object) => ({ schemaType: 'AVRO', schema: JSON.stringify(schema) });

describeKafka('@confluentinc/schemaregistry 1.10.1 against the stack registry (needs SCHEMA_REGISTRY_URL)', () => {
  let client: SchemaRegistryClient;
  let v1Id: number;

  beforeAll(() => {
    // A request timeout and retries, as the product's own client has (connectors/kafka/serde.ts):
    // axios waits forever by default, and under load the registry occasionally leaves a request
    // unanswered.
    client = new SchemaRegistryClient({ baseURLs: [registryUrl!], maxRetries: 3, retriesWaitMs: 300, retriesMaxWaitMs: 3000, createAxiosDefaults: { timeout: 10_000 } });
  });

  afterAll(async () => {
    if (!client) return;
    await client.deleteSubject(subject, false).catch(() => {});
    await client.deleteSubject(subject, true).catch(() => {});
    client.close();
  });

  it('answers the Confluent REST API: subjects list and default config', async () => {
    const res = await fetch(`${registryUrl}/subjects`);
    expect(res.status).toBe(200);
    expect(Array.isArray(await res.json())).toBe(true);
    expect(Object.values(Compatibility)).toContain(await client.getDefaultCompatibility());
  });

  it('registers a subject with BACKWARD compatibility', async () => {
    await client.updateConfig(subject, { compatibility: Compatibility.BACKWARD });
    v1Id = await client.register(subject, schemaInfo(v1));
    expect(v1Id).toBeGreaterThan(0);
    expect(await client.getCompatibility(subject)).toBe(Compatibility.BACKWARD);
    // Asked by name: a registry that has lived through many runs lists its subjects a page at a time.
    expect(await client.getAllVersions(subject)).toEqual([1]);
    // Registering the same schema again returns the same id.
    expect(await client.register(subject, schemaInfo(v1))).toBe(v1Id);
  });

  it('serializes to the Confluent wire format and deserializes back', async () => {
    const serializer = new AvroSerializer(client, SerdeType.VALUE, { autoRegisterSchemas: false, useLatestVersion: true, subjectNameStrategy: TopicNameStrategy });
    const deserializer = new AvroDeserializer(client, SerdeType.VALUE, { subjectNameStrategy: TopicNameStrategy });
    const record = { path: 'src/main.py', size: 1234 };
    const bytes = await serializer.serialize(topic, record);

    expect(bytes[0]).toBe(0); // magic byte
    expect(bytes.readUInt32BE(1)).toBe(v1Id); // schema id, big-endian
    // The body is plain Avro binary of the registered schema, readable without the serde.
    expect(avro.Type.forSchema(v1 as avro.Schema).fromBuffer(bytes.subarray(5))).toEqual(record);
    // The id resolves through the endpoint stock clients (kcat, Java) use.
    const byId = (await (await fetch(`${registryUrl}/schemas/ids/${v1Id}`)).json()) as { schema: string };
    expect(JSON.parse(byId.schema)).toMatchObject({ name: 'SourceFile' });

    expect(await deserializer.deserialize(topic, bytes)).toEqual(record);
  });

  it('accepts a backward-compatible change and still reads records written with v1', async () => {
    expect(await client.testSubjectCompatibility(subject, schemaInfo(v2))).toBe(true);
    const v2Id = await client.register(subject, schemaInfo(v2));
    expect(v2Id).not.toBe(v1Id);
    expect(await client.getAllVersions(subject)).toEqual([1, 2]);

    const serializer = new AvroSerializer(client, SerdeType.VALUE, { useSchemaId: v1Id, subjectNameStrategy: TopicNameStrategy });
    const oldBytes = await serializer.serialize(topic, { path: 'a.go', size: 1 });
    const deserializer = new AvroDeserializer(client, SerdeType.VALUE, { subjectNameStrategy: TopicNameStrategy });
    expect(await deserializer.deserialize(topic, oldBytes)).toEqual({ path: 'a.go', size: 1 });
  });

  it('refuses an incompatible change with HTTP 409', async () => {
    expect(await client.testSubjectCompatibility(subject, schemaInfo(v3Incompatible))).toBe(false);
    const error = await client.register(subject, schemaInfo(v3Incompatible)).then(
      () => undefined,
      (e: unknown) => e as { status?: number; message?: string },
    );
    expect(error, 'the registry must refuse the schema').toBeDefined();
    expect(error?.status).toBe(409);
    expect(await client.getAllVersions(subject)).toEqual([1, 2]);
  });

  it('refuses bytes that are not in the wire format', async () => {
    const deserializer = new AvroDeserializer(client, SerdeType.VALUE, { subjectNameStrategy: TopicNameStrategy });
    await expect(deserializer.deserialize(topic, Buffer.from([7, 0, 0, 0, 1, 2]))).rejects.toThrow();
  });
});

describeKafka('docker/stack.sh status (needs both addresses)', () => {
  it('prints the same two lines the environment was given', () => {
    const out = execFileSync('bash', [join(root, 'docker/stack.sh'), 'status'], { encoding: 'utf8' });
    expect(out).toBe(`KAFKA_BROKERS=${kafkaStack.brokers}\nSCHEMA_REGISTRY_URL=${registryUrl}\n`);
  });
});

describe('docker/compose.yml and docker/stack.sh describe the same stack', () => {
  const script = readFileSync(join(root, 'docker/stack.sh'), 'utf8');
  const compose = readFileSync(join(root, 'docker/compose.yml'), 'utf8');
  const properties = readFileSync(join(root, 'docker/kafka/server.properties'), 'utf8');
  const scriptDefault = (name: string) => script.match(new RegExp(`^${name}=\\$\\{TREESYNTH_\\w+:-([^}]+)\\}`, 'm'))?.[1];

  it('pins the same Kafka and Apicurio versions', () => {
    expect(compose).toContain(`image: apache/kafka:${scriptDefault('KAFKA_VERSION')}`);
    expect(compose).toContain(`image: apicurio/apicurio-registry:${script.match(/^APICURIO_DEFAULT=(\S+)/m)?.[1]}`);
  });

  it('publishes the same ports', () => {
    expect(compose).toContain(`"127.0.0.1:${scriptDefault('KAFKA_PORT')}:9092"`);
    expect(compose).toContain(`"127.0.0.1:${scriptDefault('REGISTRY_PORT')}:8080"`);
  });

  it('sets every broker property of server.properties as a KAFKA_ variable', () => {
    const settings = properties
      .split('\n')
      .filter((line) => /^[a-z]/.test(line))
      .map((line) => line.split('=', 2) as [string, string]);
    // Listeners differ by design (compose adds one for the container network); all else matches.
    const addressKeys = new Set([
      'controller.quorum.voters',
      'listeners',
      'advertised.listeners',
      'listener.security.protocol.map',
    ]);
    for (const [key, value] of settings) {
      if (addressKeys.has(key)) continue;
      const envName = `KAFKA_${key.toUpperCase().replace(/\./g, '_')}`;
      expect(compose, `${key}=${value}`).toMatch(new RegExp(`${envName}: "${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
    }
  });
});
