// What a stage emits for one input: a value to pass on, or a rejection with its reason.
// Stages never drop a record silently; the topology routes rejections to dead letters.
import type { Rejection } from './contract.js';

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly rejection: Rejection };

export const accept = <T>(value: T): Outcome<T> => ({ ok: true, value });

export interface RejectionInput {
  stage: string;
  reason: string;
  detail: string;
  recordId?: string | null;
  path?: string | null;
  source?: string | null;
  position?: number | null;
  record?: unknown;
}

/** Largest JSON copy of an offending record kept in a dead letter. */
export const MAX_DEAD_LETTER_RECORD_CHARS = 16_384;

function serialiseRecord(record: unknown): string | null {
  if (record === undefined || record === null) return null;
  // The replacer sees Buffer#toJSON's output, so look at the holder's raw value instead.
  const text =
    typeof record === 'string'
      ? record
      : JSON.stringify(record, function (this: Record<string, unknown>, key: string, v: unknown) {
          const raw = this[key];
          return Buffer.isBuffer(raw) ? { base64: raw.toString('base64') } : v;
        });
  return text.length > MAX_DEAD_LETTER_RECORD_CHARS ? `${text.slice(0, MAX_DEAD_LETTER_RECORD_CHARS)}…[truncated]` : text;
}

export function rejection(input: RejectionInput, at: number = Date.now()): Rejection {
  return {
    stage: input.stage,
    reason: input.reason,
    detail: input.detail,
    recordId: input.recordId ?? null,
    path: input.path ?? null,
    source: input.source ?? null,
    position: input.position ?? null,
    record: serialiseRecord(input.record),
    at,
  };
}

export const reject = <T>(input: RejectionInput): Outcome<T> => ({ ok: false, rejection: rejection(input) });
