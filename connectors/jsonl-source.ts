// Reads a JSONL corpus (plain or .gz) line by line as SourceFiles. Each line is one file as public
// code corpora publish them; a bad line becomes a rejection with its line number, never a crash.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { SourceFile } from '../schemas/contract.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';
import { DEFAULT_MAX_READ_BYTES, SOURCE_STAGE, formatBytes, languageHintFor, statInput } from './directory-source.js';
import { MAX_METADATA_CHARS } from './source-metadata.js';

export interface JsonlSourceOptions extends JsonlReadLimits {
  /** Gunzip the file; default: when the name ends in `.gz`. */
  gzip?: boolean;
  /** Called after each line with the bytes read from the file so far (compressed bytes for .gz). */
  onProgress?: (bytesRead: number) => void;
}

/** Field names tried in order; the first with a usable value wins. */
export const CONTENT_FIELDS = ['content', 'text', 'code'] as const;
export const PATH_FIELDS = ['path', 'max_stars_repo_path', 'filepath', 'file_path', 'name'] as const;
export const LANGUAGE_FIELDS = ['language', 'lang'] as const;
/** Where the file came from, as corpora name it (The Stack: max_stars_repo_name, max_stars_repo_licenses). */
export const REPOSITORY_FIELDS = ['repository', 'repo', 'repo_name', 'max_stars_repo_name'] as const;
/** A string, or a list of them (The Stack lists every licence it found), joined with ", ". */
export const LICENSE_FIELDS = ['license', 'licenses', 'max_stars_repo_licenses'] as const;
/** Raw bytes, base64; wins over the text fields so binary files can be represented. */
export const BASE64_CONTENT_FIELD = 'content_base64';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function firstString(record: Record<string, unknown>, fields: readonly string[], nonEmpty: boolean): string | null {
  for (const field of fields) {
    const value = record[field];
    if (typeof value === 'string' && (!nonEmpty || value !== '')) return value;
  }
  return null;
}

/**
 * The first of `fields` the line has (null or absent ones skipped), as a trimmed string; an
 * error message when it is there but not a short string (or, with `lists`, list of strings).
 */
function metadataField(record: Record<string, unknown>, fields: readonly string[], lists: boolean): { value: string | null } | { error: string } {
  for (const field of fields) {
    const raw = record[field];
    if (raw === undefined || raw === null) continue;
    const parts = lists && Array.isArray(raw) ? raw : [raw];
    if (!parts.every((p): p is string => typeof p === 'string')) {
      return { error: `field "${field}" must be a string${lists ? ' or a list of strings' : ''}, not ${JSON.stringify(raw).slice(0, 80)}` };
    }
    const value = parts.map((p) => p.trim()).filter(Boolean).join(', ');
    if (value.length > MAX_METADATA_CHARS) return { error: `field "${field}" is ${value.length} characters, over ${MAX_METADATA_CHARS}` };
    if (value !== '') return { value };
  }
  return { value: null };
}

/** The SourceFile of one non-blank line, or the reason it is not one. Pure apart from `readAt`. */
export function parseJsonlLine(line: string, file: string, lineNumber: number, readAt: number = Date.now()): Outcome<SourceFile> {
  const bad = (reason: string, detail: string): Outcome<SourceFile> =>
    reject({ stage: SOURCE_STAGE, reason, detail, path: `${file}:${lineNumber}`, source: file, position: lineNumber, record: line });

  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    return bad('invalid-json', `line ${lineNumber} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return bad('invalid-json', `line ${lineNumber} is JSON but not an object`);
  }
  const record = parsed as Record<string, unknown>;

  let content: Buffer;
  const base64 = record[BASE64_CONTENT_FIELD];
  if (typeof base64 === 'string') {
    const compact = base64.replace(/\s+/g, '');
    if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
      return bad('missing-content', `line ${lineNumber}: ${BASE64_CONTENT_FIELD} is not valid base64`);
    }
    content = Buffer.from(compact, 'base64');
  } else {
    const text = firstString(record, CONTENT_FIELDS, false);
    if (text === null) {
      return bad('missing-content', `line ${lineNumber} has no string field ${[...CONTENT_FIELDS, BASE64_CONTENT_FIELD].join(' | ')}`);
    }
    content = Buffer.from(text, 'utf8');
  }

  const path = firstString(record, PATH_FIELDS, true) ?? `${file}:${lineNumber}`;
  const language = firstString(record, LANGUAGE_FIELDS, true);
  // Lineage metadata is published with samples: a value that is not a name is refused here, with the line.
  const repository = metadataField(record, REPOSITORY_FIELDS, false);
  if ('error' in repository) return bad('invalid-metadata', `line ${lineNumber}: ${repository.error}`);
  const license = metadataField(record, LICENSE_FIELDS, true);
  if ('error' in license) return bad('invalid-metadata', `line ${lineNumber}: ${license.error}`);
  return accept({
    path,
    content,
    // The raw corpus name ("Python", "golang"...); the filter stage normalises it.
    languageHint: language ?? languageHintFor(path, content),
    source: file,
    position: lineNumber,
    readAt,
    repository: repository.value,
    license: license.value,
  });
}

/** Longest line parsed; a longer one is skipped without being held whole, as a 'too-large' rejection. */
export const DEFAULT_MAX_LINE_BYTES = DEFAULT_MAX_READ_BYTES;
/** Default cap on what a .gz may inflate to: this many times its compressed size... */
export const DEFAULT_MAX_GZIP_RATIO = 100;
/** ...but never below this. Code JSONL inflates 3-10x; a bomb inflates up to ~1000x. */
export const MIN_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** The default decompressed-size cap for a gzip file of `compressedBytes`. */
export const defaultMaxDecompressedBytes = (compressedBytes: number): number =>
  Math.max(MIN_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_GZIP_RATIO * compressedBytes);

/** Rejection reasons that mean the rest of the input file was not read. */
export const INPUT_CUT_SHORT_REASONS = ['truncated', 'corrupt', 'read-error', 'decompression-limit'] as const;

/** A non-empty line: its text, or (over the line limit) its length and first characters. */
type Line = { readonly number: number } & ({ readonly text: string } | { readonly tooLong: number; readonly head: string });

const HEAD_BYTES = 1024;

/**
 * Splits a byte stream into numbered lines (LF, a CR before it dropped), leaving out empty ones,
 * without ever holding more than `maxLineBytes` of one line: a longer line is counted and
 * skipped. Yields the lines each chunk completes, together (one await per chunk, not per line).
 * Stops, after the lines so far, once more than `maxTotalBytes` have come in.
 */
async function* splitLines(
  input: AsyncIterable<Buffer>,
  maxLineBytes: number,
  maxTotalBytes: number,
  overTotal: (lastLine: number) => void,
): AsyncGenerator<Line[]> {
  let parts: Buffer[] = [];
  let length = 0;
  let head: string | null = null; // set when the line is over the limit: its start, for the rejection
  let total = 0;
  let number = 0;
  const finish = (): Line | null => {
    number += 1;
    const line: Line | null =
      head !== null ? { number, tooLong: length, head } : length === 0 ? null : { number, text: decode(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length)) };
    parts = [];
    length = 0;
    head = null;
    return line;
  };
  const add = (piece: Buffer): void => {
    if (head === null && length + piece.length > maxLineBytes) {
      head = Buffer.concat([...parts, piece]).subarray(0, HEAD_BYTES).toString('utf8');
      parts = [];
    }
    if (head === null) parts.push(piece);
    length += piece.length;
  };
  for await (const chunk of input) {
    total += chunk.length;
    if (total > maxTotalBytes) {
      overTotal(number);
      return;
    }
    const batch: Line[] = [];
    let from = 0;
    for (let at = chunk.indexOf(0x0a); at >= 0; at = chunk.indexOf(0x0a, from)) {
      if (at > from) add(chunk.subarray(from, at));
      from = at + 1;
      const line = finish();
      if (line !== null) batch.push(line);
      // Empty lines only advance the count, in a tight loop: a stream of newlines costs nothing else.
      while (from < chunk.length && chunk[from] === 0x0a) {
        number += 1;
        from += 1;
      }
    }
    if (from < chunk.length) add(chunk.subarray(from));
    if (batch.length > 0) yield batch;
  }
  if (length > 0) {
    const line = finish();
    if (line !== null) yield [line];
  }
}

/**
 * The chunks of a stream, then its error if it fails. Unlike the stream's own async iterator,
 * which drops what is buffered once the stream errors, every chunk that came before the error
 * is delivered: a truncated .gz gives up every line it holds.
 */
async function* chunksThenError(stream: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: { error: unknown } | null = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const resume = wake;
    wake = null;
    resume?.();
  };
  const onData = (chunk: Buffer): void => {
    queue.push(chunk);
    if (queue.length >= 16) stream.pause(); // backpressure: at most a few chunks held
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (error: unknown): void => {
    failure ??= { error };
    onEnd();
  };
  stream.on('data', onData);
  stream.once('end', onEnd);
  stream.once('close', onEnd);
  stream.once('error', onError);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        if (queue.length === 0 && stream.isPaused()) stream.resume();
        yield chunk;
      } else if (ended) {
        break;
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
      }
    }
    if (failure !== null) throw (failure as { error: unknown }).error;
  } finally {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onEnd);
    stream.off('error', onError);
  }
}

function decode(bytes: Buffer): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return bytes.toString('utf8', 0, end);
}

export interface JsonlReadLimits {
  /** Longest line parsed (default DEFAULT_MAX_LINE_BYTES); longer lines become 'too-large' rejections. */
  maxLineBytes?: number;
  /** Most bytes a .gz may inflate to (default defaultMaxDecompressedBytes of its size); the rest is one 'decompression-limit' rejection. */
  maxDecompressedBytes?: number;
}

/** Why reading stopped part-way: the reason recorded for the rest of the file. */
function cutShortReason(error: unknown): { reason: (typeof INPUT_CUT_SHORT_REASONS)[number]; message: string } {
  const e = error as NodeJS.ErrnoException | null;
  const message = e instanceof Error ? e.message : String(error);
  // zlib: Z_BUF_ERROR is input that ends inside the stream; the others are bytes that do not inflate.
  if (e?.code === 'Z_BUF_ERROR') return { reason: 'truncated', message: `${message} (the file is truncated)` };
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) return { reason: 'corrupt', message };
  return { reason: 'read-error', message: e?.code ?? message };
}

/**
 * The lines of a JSONL file as SourceFiles, position = line number (blank lines are skipped but
 * still numbered, so positions match an editor). Throws `input not found: <file>` on the first
 * pull when the file does not exist, and a one-line error when not one byte of it can be read
 * (not gzip at all, say). A file that breaks off later (truncated or corrupt gzip, a read
 * error, more than maxDecompressedBytes inflated) ends with one rejection for the rest of it,
 * after every line read before: the work done on those is kept.
 */
export async function* readJsonl(file: string, options: JsonlSourceOptions = {}): AsyncGenerator<Outcome<SourceFile>> {
  const stats = await statInput(file);
  if (stats.isDirectory()) throw new Error(`input is a directory, not a JSONL file: ${file}`);
  const gzip = options.gzip ?? file.endsWith('.gz');
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const maxDecompressed = gzip ? (options.maxDecompressedBytes ?? defaultMaxDecompressedBytes(stats.size)) : Infinity;
  const raw = createReadStream(file);
  let input: Readable = raw;
  if (gzip) {
    const gunzip = createGunzip();
    raw.on('error', (error) => gunzip.destroy(error));
    input = raw.pipe(gunzip);
  }
  let lineNumber = 0; // the last line read
  let overLimitAfter: number | null = null;
  let lines: AsyncGenerator<Line[]> | undefined;
  const cutShort = (reason: string, detail: string): Outcome<SourceFile> =>
    reject({ stage: SOURCE_STAGE, reason, detail, path: `${file}:${lineNumber + 1}`, source: file, position: lineNumber + 1 });
  try {
    lines = splitLines(chunksThenError(input), maxLineBytes, maxDecompressed, (last) => (overLimitAfter = last));
    for (;;) {
      let next: IteratorResult<Line[]>;
      try {
        next = await lines.next();
      } catch (error) {
        const { reason, message } = cutShortReason(error);
        if (lineNumber === 0) throw new Error(`cannot read ${file}: ${message}`);
        yield cutShort(reason, `reading stopped after line ${lineNumber}: ${message}; the rest of the file is not read`);
        return;
      }
      if (next.done) break;
      for (const line of next.value) {
        lineNumber = line.number;
        if ('tooLong' in line) {
          yield reject({
            stage: SOURCE_STAGE,
            reason: 'too-large',
            detail: `line ${lineNumber} is ${formatBytes(line.tooLong)}, over the ${formatBytes(maxLineBytes)} line limit: not parsed`,
            path: `${file}:${lineNumber}`,
            source: file,
            position: lineNumber,
            record: `${line.head}…`,
          });
        } else {
          // A UTF-8 BOM that editors leave at the start of the file is not part of the JSON.
          const text = lineNumber === 1 && line.text.startsWith('\uFEFF') ? line.text.slice(1) : line.text;
          if (text.trim() !== '') yield parseJsonlLine(text, file, lineNumber);
        }
        options.onProgress?.(raw.bytesRead);
      }
    }
    if (overLimitAfter !== null) {
      lineNumber = overLimitAfter;
      yield cutShort(
        'decompression-limit',
        `inflated past ${formatBytes(maxDecompressed)} after ${lineNumber} lines (a gzip bomb?); the rest of the file is not read`,
      );
    }
  } finally {
    await lines?.return(undefined).catch(() => undefined);
    input.destroy();
    raw.destroy();
  }
}

/** Size of the file on disk, the total for a progress bar fed by `onProgress`. */
export async function countJsonlBytes(file: string): Promise<number> {
  return (await statInput(file)).size;
}
