// The checks of the filter stage, pure: a raw SourceFile becomes a CodeFile (valid UTF-8 text
// in a supported language, not generated or minified) or a rejection with a stable reason.
// The stage (processors/filter.ts) adds exact and near-duplicate dedup against its stores.
import { createHash } from 'node:crypto';
import type { CodeFile, SourceFile } from '../schemas/contract.js';
import { languageFromExtension, languageFromShebang, normaliseLanguage, type Language } from '../schemas/languages.js';
import { accept, reject, type Outcome } from '../schemas/outcome.js';

export const FILTER_STAGE = 'filter';
export const DEFAULT_FILTER_MAX_BYTES = 1024 * 1024;

export const FILTER_REASONS = [
  'empty',
  'too-large',
  'binary',
  'invalid-utf8',
  'unknown-language',
  'generated',
  'minified',
  'duplicate',
] as const;
export type FilterReason = (typeof FILTER_REASONS)[number];

export interface FilterOptions {
  /** Larger files are rejected as 'too-large'; default DEFAULT_FILTER_MAX_BYTES. */
  maxBytes?: number;
  /** The feature tree a file feeds: fixed, or chosen by language; default: the language. */
  treeKey?: string | ((language: Language) => string);
}

/** Bytes inspected by the binary check, like git's heuristic. */
const BINARY_SAMPLE_BYTES = 8192;
/** Share of control characters in the sample above which a file is binary. */
const MAX_CONTROL_SHARE = 0.1;
/** Lines inspected for a "generated" header. */
const HEADER_LINES = 5;
const MINIFIED_AVERAGE_LINE = 300;
const MINIFIED_LONG_LINE = 5000;

const SCRIPT_LANGUAGES: ReadonlySet<Language> = new Set<Language>(['javascript', 'typescript', 'tsx']);

const GENERATED_NAMES: ReadonlyArray<[RegExp, string]> = [
  [/_pb2(_grpc)?\.pyi?$/, 'protobuf (Python)'],
  [/\.pb(\.gw)?\.go$/, 'protobuf (Go)'],
  [/_(grpc_)?pb\.(js|ts|d\.ts)$/, 'protobuf (JS/TS)'],
];

const GENERATED_HEADERS: readonly RegExp[] = [
  /@generated\b/,
  /\bCode generated\b.*\bDO NOT EDIT\b/,
  /\bDO NOT EDIT\b/,
  /\bauto-?generated\b/i,
  /\bautomatically generated\b/i,
];

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Why `bytes` look binary (a NUL byte, or many control characters near the start), or null. */
export function binaryReason(bytes: Uint8Array): string | null {
  const sample = bytes.subarray(0, BINARY_SAMPLE_BYTES);
  let control = 0;
  for (let i = 0; i < sample.length; i++) {
    const b = sample[i]!;
    if (b === 0) return `NUL byte at offset ${i}`;
    // Tab, LF, VT, FF, CR and ESC (ANSI colours) occur in text; other C0 controls and DEL do not.
    if ((b < 0x20 && (b < 0x09 || b > 0x0d) && b !== 0x1b) || b === 0x7f) control += 1;
  }
  const share = sample.length === 0 ? 0 : control / sample.length;
  return share > MAX_CONTROL_SHARE
    ? `${(share * 100).toFixed(0)}% control characters in the first ${sample.length} bytes`
    : null;
}

function firstLine(content: string): string {
  const newline = content.indexOf('\n');
  return newline < 0 ? content : content.slice(0, newline);
}

/** The language from the source's hint, else the extension, else a `#!` line. */
export function detectLanguage(path: string, hint: string | null, content: string): Language | null {
  const fromHint = hint === null ? null : normaliseLanguage(hint);
  const fromExtension = languageFromExtension(path);
  // Corpora label .tsx files "TypeScript"; they need the TSX grammar.
  if (fromHint === 'typescript' && fromExtension === 'tsx') return 'tsx';
  if (fromHint !== null) return fromHint;
  if (fromExtension !== null) return fromExtension;
  return content.startsWith('#!') ? languageFromShebang(firstLine(content)) : null;
}

export interface LineStats {
  lines: number;
  longest: number;
}

/** Line count as an editor shows it (a final newline does not start a line) and the longest line. */
export function lineStats(content: string): LineStats {
  let lines = 0;
  let longest = 0;
  let start = 0;
  while (start < content.length) {
    const newline = content.indexOf('\n', start);
    const end = newline < 0 ? content.length : newline;
    longest = Math.max(longest, end - start);
    lines += 1;
    start = end + 1;
  }
  return { lines, longest };
}

/** Why a script looks minified (name, or line lengths no human writes), or null. */
export function minifiedReason(path: string, language: Language, content: string, stats: LineStats): string | null {
  if (!SCRIPT_LANGUAGES.has(language)) return null;
  if (/[.-]min\.[cm]?js$/i.test(path)) return 'name marks a minified bundle';
  const average = content.length / Math.max(1, stats.lines);
  if (average > MINIFIED_AVERAGE_LINE) return `average line length ${Math.round(average)} > ${MINIFIED_AVERAGE_LINE}`;
  if (stats.longest > MINIFIED_LONG_LINE && stats.longest * 2 > content.length) {
    return `one line of ${stats.longest} characters holds most of the file`;
  }
  return null;
}

/** Why a file looks machine-generated (a generator's file name or header), or null. */
export function generatedReason(path: string, content: string): string | null {
  const name = path.slice(path.lastIndexOf('/') + 1);
  for (const [pattern, what] of GENERATED_NAMES) if (pattern.test(name)) return `file name marks ${what} output`;
  let start = 0;
  for (let n = 1; n <= HEADER_LINES && start < content.length; n++) {
    const newline = content.indexOf('\n', start);
    const end = newline < 0 ? content.length : newline;
    const line = content.slice(start, end);
    for (const pattern of GENERATED_HEADERS) {
      const match = pattern.exec(line);
      if (match) return `header line ${n} says "${match[0]}"`;
    }
    start = end + 1;
  }
  return null;
}

const describeHint = (file: SourceFile): string => {
  const dot = file.path.lastIndexOf('.');
  const extension = dot > file.path.lastIndexOf('/') ? file.path.slice(dot) : '(none)';
  return `hint ${file.languageHint === null ? '(none)' : JSON.stringify(file.languageHint)}, extension ${extension}`;
};

const withoutBom = (raw: Uint8Array): Uint8Array => (raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.subarray(3) : raw);

/** The id checkFile gives a file's content (its CodeFile.id when accepted), without running the checks. */
export const contentIdOf = (raw: Uint8Array): string => sha256Hex(withoutBom(raw));

/**
 * Decides whether one file becomes a CodeFile, without dedup. Pure: same input, same outcome
 * (apart from the rejection timestamp). The id is the sha256 of the content after BOM removal,
 * i.e. of CodeFile.content as UTF-8, so it can be recomputed from the record.
 */
export function checkFile(file: SourceFile, options: FilterOptions = {}): Outcome<CodeFile> {
  const maxBytes = options.maxBytes ?? DEFAULT_FILTER_MAX_BYTES;
  const bad = (reason: FilterReason, detail: string, recordId: string | null = null): Outcome<CodeFile> =>
    reject({
      stage: FILTER_STAGE,
      reason,
      detail,
      recordId,
      path: file.path,
      source: file.source,
      position: file.position,
      // Metadata only: the content is recoverable from source + path/position.
      record: { path: file.path, languageHint: file.languageHint, sizeBytes: file.content.length },
    });

  const raw = file.content;
  if (raw.length === 0) return bad('empty', 'file is empty (0 bytes)');
  if (raw.length > maxBytes) return bad('too-large', `${raw.length} bytes is over the ${maxBytes}-byte limit`);

  const bytes = withoutBom(raw);
  const id = sha256Hex(bytes);
  const binary = binaryReason(bytes);
  if (binary !== null) return bad('binary', `binary content: ${binary}`, id);

  let content: string;
  try {
    // ignoreBOM: the BOM is already gone from `bytes`; keep any further U+FEFF as content.
    content = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return bad('invalid-utf8', 'content is not valid UTF-8', id);
  }
  if (content.trim() === '') return bad('empty', `file holds only whitespace (${raw.length} bytes)`, id);

  const language = detectLanguage(file.path, file.languageHint, content);
  if (language === null) return bad('unknown-language', `no supported language: ${describeHint(file)}`, id);

  const generated = generatedReason(file.path, content);
  if (generated !== null) return bad('generated', `generated code: ${generated}`, id);

  const stats = lineStats(content);
  const minified = minifiedReason(file.path, language, content, stats);
  if (minified !== null) return bad('minified', `minified ${language}: ${minified}`, id);

  const treeKey = options.treeKey ?? ((l: Language) => l);
  return accept({
    id,
    path: file.path,
    language,
    content,
    sizeBytes: bytes.length,
    lines: stats.lines,
    source: file.source,
    treeKey: typeof treeKey === 'string' ? treeKey : treeKey(language),
    repository: file.repository ?? null,
    license: file.license ?? null,
  });
}

