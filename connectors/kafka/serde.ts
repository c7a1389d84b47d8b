// Avro values in the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro
// binary), with the schemas registered in a Confluent-compatible registry under
// `<topic>-value` (TopicNameStrategy) with BACKWARD compatibility. So kcat, the Java
// deserializers and any stock client read treesynth's topics knowing nothing of treesynth.
//
// The registry client is @confluentinc/schemaregistry's; the Avro codec is avsc with the
// contracts of schemas/, so encoding and the local-mode checks are one and the same code.
// Records written under an older registered schema are read through an avsc resolver.
import { Compatibility, SchemaRegistryClient } from '@confluentinc/schemaregistry';
import avro from 'avsc';
import { avroSchemas, type Contracts, type RecordName, type Records } from '../../schemas/contract.js';
import { ServiceUnavailableError, connectSchedule, withConnectRetries } from './client.js';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

/** Why a value could not be decoded; the dead letter's reason. */
export type DecodeFailure =
  | 'empty-value'
  | 'not-wire-format'
  | 'wrong-magic-byte'
  | 'unknown-schema-id'
  | 'incompatible-schema'
  | 'corrupt-avro'
  | 'schema-violation';

export type Decoded<T> = { ok: true; value: T; schemaId: number } | { ok: false; reason: DecodeFailure; detail: string };

/** The registry refused a schema (an incompatible change): printed as one line, exit code 1. */
/**
 * Sets a subject's compatibility to BACKWARD. Two processes starting on a fresh prefix (stages
 * and ingest) race to create the subject's rule, and the loser gets 409 "rule already exists"
 * (Apicurio's ccompat API): the rule is there then, so setting it again updates it.
 */
async function setBackward(client: SchemaRegistryClient, subject: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.updateConfig(subject, { compatibility: Compatibility.BACKWARD });
      return;
    } catch (error) {
      if (status(error) !== 409 || !/already exists/i.test(oneLine(error)) || attempt >= 4) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
    }
  }
}

export class SchemaRefusedError extends Error {
  override readonly name = 'SchemaRefusedError';
}

export const subjectOf = (topic: string): string => `${topic}-value`;

/**
 * Checks the registry answers (on the retry schedule), then returns its client. An
 * unreachable registry is a ServiceUnavailableError with one clear line.
 */
export async function connectRegistry(url: string, schedule: readonly number[] = connectSchedule(), signal?: AbortSignal): Promise<SchemaRegistryClient> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--registry expects a URL such as http://127.0.0.1:8081/apis/ccompat/v7, got "${url}"`);
  }
  const base = parsed.toString().replace(/\/+$/, '');
  await withConnectRetries(`the schema registry at ${base}`, schedule, async () => {
    const res = await fetch(`${base}/subjects`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`GET /subjects answered HTTP ${res.status}`);
    const body: unknown = await res.json();
    if (!Array.isArray(body)) throw new Error('GET /subjects did not answer a JSON list: is this a Confluent-compatible registry URL (Apicurio: .../apis/ccompat/v7)?');
  }, 'Is the registry running? (npm run -s stack:up prints its URL)', signal);
  // A request timeout: axios has none by default, and a registry call that never answers would
  // stall a stage's batch forever instead of failing it (and restarting the stages).
  return new SchemaRegistryClient({ baseURLs: [base], maxRetries: 3, retriesWaitMs: 300, retriesMaxWaitMs: 3000, createAxiosDefaults: { timeout: 15_000 } });
}

const status = (error: unknown): number | undefined => (error as { status?: number } | null)?.status;
const oneLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

export interface TopicRecord {
  /** Full topic name, prefix included. */
  topic: string;
  record: RecordName;
}

interface Reader {
  type: avro.Type;
  resolver: avro.Resolver | null;
}

export class AvroSerde {
  /** Registered schema id per topic: what encode writes. */
  readonly #writerIds = new Map<string, number>();
  readonly #recordOf = new Map<string, RecordName>();
  /** Readers by `${topic}\0${schemaId}`: resolvers for records written under other schemas. */
  readonly #readers = new Map<string, Reader>();

  private constructor(
    readonly client: SchemaRegistryClient,
    private readonly contracts: Contracts,
  ) {}

  /**
   * Registers each topic's schema under `<topic>-value` with BACKWARD compatibility and
   * returns a serde for those topics. A schema the registry refuses (not BACKWARD-compatible
   * with what is registered) is a SchemaRefusedError naming subject and record.
   */
  static async register(client: SchemaRegistryClient, contracts: Contracts, topics: readonly TopicRecord[]): Promise<AvroSerde> {
    const serde = new AvroSerde(client, contracts);
    for (const { topic, record } of topics) {
      const subject = subjectOf(topic);
      const schema = { schemaType: 'AVRO', schema: JSON.stringify(avroSchemas[record]) };
      let id: number;
      try {
        await setBackward(client, subject);
        id = await client.register(subject, schema);
      } catch (error) {
        if (status(error) === 409 || status(error) === 422) {
          throw new SchemaRefusedError(
            `the schema registry refused ${record} for subject ${subject}: not BACKWARD-compatible with the version registered there (HTTP ${status(error)}: ${oneLine(error)})`,
          );
        }
        if (status(error) === undefined) throw new ServiceUnavailableError(`schema registry: cannot register ${subject}: ${oneLine(error)}`);
        throw new Error(`schema registry: cannot register ${subject}: HTTP ${status(error)}: ${oneLine(error)}`);
      }
      serde.#writerIds.set(topic, id);
      serde.#recordOf.set(topic, record);
      serde.#readers.set(`${topic}\u0000${id}`, { type: contracts[record].type, resolver: null });
    }
    return serde;
  }

  schemaId(topic: string): number {
    const id = this.#writerIds.get(topic);
    if (id === undefined) throw new Error(`no schema registered for topic ${topic}`);
    return id;
  }

  /** Checks `value` against its contract and frames it in the wire format. */
  encode<N extends RecordName>(topic: string, record: N, value: Records[N]): Buffer {
    const contract = this.contracts[record];
    const body = contract.encode(contract.check(value));
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(MAGIC_BYTE, 0);
    header.writeUInt32BE(this.schemaId(topic), 1);
    return Buffer.concat([header, body]);
  }

  /**
   * Decodes a value read from `topic`, checked against the contract. Bad bytes are an
   * outcome with a reason (they become dead letters); only a registry that cannot be reached
   * throws, since retrying later can fix that.
   */
  async decode<N extends RecordName>(topic: string, record: N, bytes: Buffer | null): Promise<Decoded<Records[N]>> {
    if (!bytes || bytes.length === 0) return { ok: false, reason: 'empty-value', detail: 'the record has no value (null or empty)' };
    if (bytes.length < HEADER_BYTES) {
      return { ok: false, reason: 'not-wire-format', detail: `${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte Confluent wire-format header` };
    }
    if (bytes[0] !== MAGIC_BYTE) {
      return { ok: false, reason: 'wrong-magic-byte', detail: `first byte is 0x${bytes[0]!.toString(16).padStart(2, '0')}, not the Confluent wire format's magic byte 0x00` };
    }
    const id = bytes.readUInt32BE(1);
    const reader = await this.#reader(topic, record, id);
    if ('reason' in reader) return { ok: false, ...reader };
    let value: unknown;
    try {
      value = reader.resolver ? reader.type.fromBuffer(bytes.subarray(HEADER_BYTES), reader.resolver) : reader.type.fromBuffer(bytes.subarray(HEADER_BYTES));
    } catch (error) {
      return { ok: false, reason: 'corrupt-avro', detail: `Avro body (${bytes.length - HEADER_BYTES} bytes, schema id ${id}) does not decode as ${record}: ${oneLine(error)}` };
    }
    try {
      return { ok: true, value: this.contracts[record].check(value), schemaId: id };
    } catch (error) {
      return { ok: false, reason: 'schema-violation', detail: oneLine(error) };
    }
  }

  async #reader(topic: string, record: RecordName, id: number): Promise<Reader | { reason: DecodeFailure; detail: string }> {
    const key = `${topic}\u0000${id}`;
    const cached = this.#readers.get(key);
    if (cached) return cached;
    let info: { schema: string; schemaType?: string };
    try {
      info = await this.client.getBySubjectAndId(subjectOf(topic), id);
    } catch (error) {
      const code = status(error);
      if (code === 404 || code === 422) return { reason: 'unknown-schema-id', detail: `schema id ${id} is not in the registry (HTTP ${code})` };
      throw new ServiceUnavailableError(`schema registry: cannot look up schema id ${id}: ${oneLine(error)}`);
    }
    if (info.schemaType && info.schemaType !== 'AVRO') {
      return { reason: 'incompatible-schema', detail: `schema id ${id} is a ${info.schemaType} schema, not Avro` };
    }
    try {
      const writer = avro.Type.forSchema(JSON.parse(info.schema) as avro.Schema, { wrapUnions: false });
      const type = this.contracts[record].type;
      const entry: Reader = { type, resolver: type.createResolver(writer) };
      this.#readers.set(key, entry);
      return entry;
    } catch (error) {
      return { reason: 'incompatible-schema', detail: `schema id ${id} cannot be read as ${record}: ${oneLine(error)}` };
    }
  }

  /** The record name a topic was registered with. */
  recordOf(topic: string): RecordName | undefined {
    return this.#recordOf.get(topic);
  }
}
