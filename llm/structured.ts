// Structured outputs: the request asks for a JSON-schema answer (`response_format`,
// strict), and the answer is still checked here, because not every OpenAI-compatible server
// enforces the schema (some ignore `response_format`, others stop at the token limit mid-JSON).
// A bad answer gets one repair turn that quotes what was wrong.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { LlmConfigError } from './errors.js';

/** Plain text chat messages: enough for every stage, and stable to hash for the cache. */
export interface LlmMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface JsonSchemaSpec {
  /** Sent as `json_schema.name`: letters, digits, `_` and `-`, up to 64 characters. */
  name: string;
  /** The JSON schema of the answer (draft 2020-12 as validated here; OpenAI's strict subset as sent). */
  jsonSchema: Record<string, unknown>;
  /** Sent as `json_schema.description`. */
  description?: string;
}

/** Why an answer was not accepted. */
export type AnswerProblem = 'empty' | 'truncated' | 'invalid-json' | 'off-schema' | 'refusal';

/** What the model sent back, as far as checking it goes. */
export interface RawAnswer {
  content: string | null;
  finishReason: string | null;
  refusal: string | null;
}

export type AnswerCheck =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly problem: AnswerProblem; readonly errors: readonly string[] };

/** Extra, caller-side checks after the schema passed; returns problems, empty when fine. */
export type ExtraValidation<T> = (value: T) => readonly string[];

const MAX_ERRORS = 10;

function formatError(error: ErrorObject): string {
  const where = error.instancePath || '(root)';
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties' && typeof params['additionalProperty'] === 'string') {
    return `${where}: unexpected property "${params['additionalProperty']}"`;
  }
  if (error.keyword === 'enum' && Array.isArray(params['allowedValues'])) {
    return `${where}: must be one of ${JSON.stringify(params['allowedValues'])}`;
  }
  return `${where}: ${error.message ?? error.keyword}`;
}

/**
 * Compiles each schema once (keyed by its JSON text) and validates answers against it. One per
 * client: ajv keeps compiled code and schema ids per instance, so nothing leaks between runs.
 */
export class SchemaValidator {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false, logger: false });
  private readonly compiled = new Map<string, ValidateFunction>();
  /** The same, by schema object: schemas are constants, and their JSON text cost a stringify per call. */
  private readonly byObject = new WeakMap<object, ValidateFunction>();

  /** Problems of `value` against `schema`, empty when it conforms. Throws LlmConfigError for a schema that does not compile. */
  check(schema: JsonSchemaSpec, value: unknown): string[] {
    const validate = this.compile(schema);
    if (validate(value)) return [];
    const errors = (validate.errors ?? []).map(formatError);
    const unique = [...new Set(errors)];
    return unique.length > MAX_ERRORS ? [...unique.slice(0, MAX_ERRORS), `… and ${unique.length - MAX_ERRORS} more`] : unique;
  }

  /** Compiles the schema now, so a broken one fails before any request is paid for. */
  prepare(schema: JsonSchemaSpec): void {
    this.compile(schema);
  }

  private compile(schema: JsonSchemaSpec): ValidateFunction {
    const known = this.byObject.get(schema.jsonSchema);
    if (known) return known;
    const text = JSON.stringify(schema.jsonSchema);
    let validate = this.compiled.get(text);
    if (!validate) {
      try {
        // Drop `$id`/`$schema` so two schemas with the same id do not collide inside ajv.
        const { $id: _id, $schema: _schema, ...rest } = schema.jsonSchema;
        validate = this.ajv.compile(rest);
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        throw new LlmConfigError(`JSON schema "${schema.name}" does not compile: ${why}`);
      }
      this.compiled.set(text, validate);
    }
    this.byObject.set(schema.jsonSchema, validate);
    return validate;
  }
}

/** A lone fenced block (```json … ```), as models without structured-output support often send. */
const FENCED = /^```[a-zA-Z0-9_-]*\s*\n([\s\S]*?)\n?```$/;

/** Parses an answer's JSON, tolerating surrounding whitespace and a single markdown fence. */
export function parseJsonAnswer(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const trimmed = text.trim();
  const inner = FENCED.exec(trimmed)?.[1] ?? trimmed;
  try {
    return { ok: true, value: JSON.parse(inner) as unknown };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Checks one answer: refusal, emptiness, JSON, schema, then the caller's own checks. */
export function checkAnswer<T>(answer: RawAnswer, schema: JsonSchemaSpec, validator: SchemaValidator, extra?: ExtraValidation<T>): AnswerCheck {
  if (answer.refusal || answer.finishReason === 'content_filter') {
    return { ok: false, problem: 'refusal', errors: [answer.refusal ? `the model refused: ${answer.refusal}` : 'the answer was stopped by a content filter'] };
  }
  const check = checkContent(answer.content ?? '', schema, validator, extra);
  // Cut off at the token limit: if the JSON happens to be whole and valid, keep it; otherwise
  // call it truncated, since the fix is a shorter answer rather than a corrected one.
  if (!check.ok && answer.finishReason === 'length') {
    return { ok: false, problem: 'truncated', errors: ['the answer was cut off at the output token limit before the JSON was complete'] };
  }
  return check;
}

function checkContent<T>(content: string, schema: JsonSchemaSpec, validator: SchemaValidator, extra?: ExtraValidation<T>): AnswerCheck {
  if (content.trim() === '') return { ok: false, problem: 'empty', errors: ['the answer was empty'] };
  const parsed = parseJsonAnswer(content);
  if (!parsed.ok) return { ok: false, problem: 'invalid-json', errors: [`the answer is not valid JSON: ${parsed.error}`] };
  const errors = validator.check(schema, parsed.value);
  if (errors.length > 0) return { ok: false, problem: 'off-schema', errors };
  if (extra) {
    const more = extra(parsed.value as T);
    if (more.length > 0) return { ok: false, problem: 'off-schema', errors: more.slice(0, MAX_ERRORS) };
  }
  return { ok: true, value: parsed.value };
}

/** Longest bad answer quoted back in a repair turn; past it the answer is cut (the errors still say what is wrong). */
const MAX_QUOTED_CHARS = 24_000;

/** The conversation for the one repair attempt: the original messages, the bad answer, and what was wrong with it. */
export function repairMessages(original: readonly LlmMessage[], answer: RawAnswer, check: Extract<AnswerCheck, { ok: false }>, schema: JsonSchemaSpec): LlmMessage[] {
  const rules = `Reply with only a JSON value that conforms to the JSON schema "${schema.name}": no prose, no markdown fences.`;
  if (check.problem === 'truncated') {
    // Quoting a cut-off answer would spend the output budget again; ask for a shorter one instead.
    return [
      ...original,
      { role: 'user', content: `Your previous answer was cut off at the output token limit before the JSON was complete. Answer again, more concisely (fewer and shorter items), so the whole JSON fits. ${rules}` },
    ];
  }
  if (check.problem === 'empty') {
    return [...original, { role: 'user', content: `Your previous answer was empty. ${rules}` }];
  }
  const content = answer.content ?? '';
  const quoted = content.length > MAX_QUOTED_CHARS ? `${content.slice(0, MAX_QUOTED_CHARS)}…` : content;
  const problems = check.errors.map((e) => `- ${e}`).join('\n');
  return [
    ...original,
    { role: 'assistant', content: quoted },
    { role: 'user', content: `Your previous answer is not acceptable:\n${problems}\nCorrect it. ${rules}` },
  ];
}

/** The `response_format` body for a schema. */
export function responseFormat(schema: JsonSchemaSpec): {
  type: 'json_schema';
  json_schema: { name: string; schema: Record<string, unknown>; strict: true; description?: string };
} {
  return {
    type: 'json_schema',
    json_schema: { name: schema.name, schema: schema.jsonSchema, strict: true, ...(schema.description !== undefined ? { description: schema.description } : {}) },
  };
}
