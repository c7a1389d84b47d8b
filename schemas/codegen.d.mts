/** Generates schemas/generated.ts text from schemas/avro/*.avsc. */
export function generate(): string;
