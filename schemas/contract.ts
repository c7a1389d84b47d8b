// The contract of every record that crosses a stage. Local mode and Kafka mode both check
// records here, so a record that would not encode on a topic fails the same way in memory.
import avro from 'avsc';
import { avroSchemas, type RecordName, type Records } from './generated.js';

export * from './generated.js';

/** A record that does not match its Avro schema; `problems` names each offending field path. */
export class SchemaViolation extends Error {
  constructor(
    readonly recordName: RecordName,
    readonly problems: string[],
  ) {
    super(`${recordName} does not match its schema: ${problems.slice(0, 5).join('; ')}`);
    this.name = 'SchemaViolation';
  }
}

export interface Contract<N extends RecordName> {
  readonly name: N;
  readonly type: avro.Type;
  /** Throws SchemaViolation unless `value` is a valid N. */
  check(value: unknown): Records[N];
  /** Avro binary, no framing (the Kafka connector adds the Confluent header). */
  encode(value: Records[N]): Buffer;
  decode(buffer: Buffer): Records[N];
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Buffer.isBuffer(value)) return `bytes(${value.length})`;
  const text = JSON.stringify(value);
  return text === undefined ? typeof value : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function makeContract<N extends RecordName>(name: N): Contract<N> {
  const type = avro.Type.forSchema(avroSchemas[name] as avro.Schema, { wrapUnions: false });
  return {
    name,
    type,
    check(value: unknown): Records[N] {
      // The fast path first: naming the offending fields costs a second, slower pass.
      if (type.isValid(value)) return value as Records[N];
      const problems: string[] = [];
      const ok = type.isValid(value, {
        errorHook: (path: string[], v: unknown, t: avro.Type) => {
          problems.push(`${path.join('.') || '(record)'}: expected ${t.typeName}, got ${describe(v)}`);
        },
      });
      if (!ok) throw new SchemaViolation(name, problems.length ? problems : ['invalid']);
      return value as Records[N];
    },
    encode: (value) => type.toBuffer(value),
    decode: (buffer) => type.fromBuffer(buffer) as Records[N],
  };
}

/** One contract per record name; build once and pass around (no module-level cache). */
export type Contracts = { readonly [N in RecordName]: Contract<N> };

export function loadContracts(): Contracts {
  const names = Object.keys(avroSchemas) as RecordName[];
  return Object.fromEntries(names.map((n) => [n, makeContract(n)])) as unknown as Contracts;
}
