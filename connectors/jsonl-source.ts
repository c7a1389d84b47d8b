// Reads a JSONL corpus (plain or .gz) line by line as SourceFiles. Each line is one file as public
// code corpora publish them; a bad line becomes a rejection with its line number, never a crash.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { SourceFile } from '../schemas/contract.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';
import { SOURCE_STAGE, languageHintFor, statInput } from './directory-source.js';

export interface JsonlSourceOptions {
  /** Gunzip the file; default: when the name ends in `.gz`. */
  gzip?: boolean;
  /** Called after each line with the bytes read from the file so far (compressed bytes for .gz). */
  onProgress?: (bytesRead: number) => void;
}

/** Field names tried in order; the first with a usable value wins. */
export const CONTENT_FIELDS = ['content', 'text', 'code'] as const;
export const PATH_FIELDS = ['path', 'max_stars_repo_path', 'filepath', 'file_path', 'name'] as const;
export const LANGUAGE_FIELDS = ['language', 'lang'] as const;
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
  return accept({
    path,
    content,
    // The raw corpus name ("Python", "golang"...); the filter stage normalises it.
    languageHint: language ?? languageHintFor(path, content),
    source: file,
    position: lineNumber,
    readAt,
  });
}

/**
 * The lines of a JSONL file as SourceFiles, position = line number (blank lines are skipped but
 * still numbered, so positions match an editor). Throws `input not found: <file>` on the first
 * pull when the file does not exist, and on a read or gunzip error.
 */
export async function* readJsonl(file: string, options: JsonlSourceOptions = {}): AsyncGenerator<Outcome<SourceFile>> {
  const stats = await statInput(file);
  if (stats.isDirectory()) throw new Error(`input is a directory, not a JSONL file: ${file}`);
  const raw = createReadStream(file);
  let input: Readable = raw;
  if (options.gzip ?? file.endsWith('.gz')) {
    const gunzip = createGunzip();
    raw.on('error', (error) => gunzip.destroy(error));
    input = raw.pipe(gunzip);
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber += 1;
      // A UTF-8 BOM that editors leave at the start of the file is not part of the JSON.
      const text = lineNumber === 1 && line.startsWith('\uFEFF') ? line.slice(1) : line;
      if (text.trim() !== '') yield parseJsonlLine(text, file, lineNumber);
      options.onProgress?.(raw.bytesRead);
    }
  } catch (error) {
    throw new Error(`cannot read ${file} after line ${lineNumber}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    lines.close();
    input.destroy();
    raw.destroy();
  }
}

/** Size of the file on disk, the total for a progress bar fed by `onProgress`. */
export async function countJsonlBytes(file: string): Promise<number> {
  return (await statInput(file)).size;
}
