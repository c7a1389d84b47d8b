// LLM answers already paid for, on disk, so a second run over the same corpus sends no request
// and a run killed at any moment resumes without paying twice.
//
// Layout: an append-only JSONL log, one line per successful answer, `{"key":…,"model":…,
// "usage":…,"at":…,"value":…}`. An answer is written and fsync'd before the call that produced
// it returns, so whatever a caller has seen is on disk. Writes that arrive together share one
// write and one fsync (group commit). A kill mid-write leaves at most one torn last line; on
// open it is dropped (or kept, if it happens to be complete JSON) and the log is cut back to a
// line boundary, so the next append starts clean.
//
// Memory: the Map built at open holds key → (offset, length) in the log, not the answers;
// values are read back from the file on a hit. So the index stays small (about a hundred bytes
// an entry) however large the answers are.
//
// One writer per file: two processes appending to the same log would not corrupt it (each line
// is one O_APPEND write), but neither would see the other's new entries until it reopens, and
// offsets would drift; give each process its own file.
import { createHash } from 'node:crypto';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TokenUsage } from '../schemas/generated.js';

export interface CachedResponse {
  /** `responseCacheKey(...)` of the request. */
  key: string;
  /** The validated JSON answer. */
  value: unknown;
  /** The model that answered (as the endpoint named it). */
  model: string;
  /** What the original call cost, repairs and retries included. */
  usage: TokenUsage;
  /** When it was stored, epoch ms. */
  at: number;
}

export interface ResponseCacheOptions {
  /**
   * `fsync` (default): each batch of answers is fsync'd before `put` resolves, so it survives a
   * power cut. `flush`: written to the OS before `put` resolves, so it survives a killed
   * process but perhaps not a crashed machine; faster on slow disks.
   */
  durability?: 'fsync' | 'flush';
}

export interface ResponseCacheStats {
  entries: number;
  hits: number;
  misses: number;
  writes: number;
  /** Lines skipped at open or on read because they were not valid entries. */
  badLines: number;
  /** Bytes of a torn last line cut off at open. */
  truncatedBytes: number;
}

interface Location {
  offset: number;
  length: number;
}

/** JSON with object keys sorted at every level, so equal values always hash the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/**
 * canonicalJson(parts), where the values named in `given` are passed already as their canonical
 * JSON (a request's schema, the same on every call, is serialised once instead of per request).
 */
export function canonicalJsonWith(parts: Record<string, unknown>, given: Record<string, string>): string {
  const fields: string[] = [];
  for (const key of [...new Set([...Object.keys(parts), ...Object.keys(given)])].sort()) {
    const text = key in given ? given[key] : canonicalJson(parts[key]);
    // As JSON.stringify does: a property whose value has no JSON (undefined) is left out.
    if (text !== undefined) fields.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${fields.join(',')}}`;
}

/** sha256 (hex) of a canonical JSON text. */
export function hashCanonical(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** sha256 (hex) of the canonical JSON of everything that determines an answer. */
export function responseCacheKey(parts: unknown): string {
  return hashCanonical(canonicalJson(parts));
}

const KEY_PREFIX = Buffer.from('{"key":"');
const HEX64 = /^[0-9a-f]{64}$/;
const NEWLINE = 0x0a;
const CHUNK = 1 << 20;

function isUsage(value: unknown): value is TokenUsage {
  if (typeof value !== 'object' || value === null) return false;
  const u = value as Record<string, unknown>;
  return ['promptTokens', 'completionTokens', 'requests'].every((k) => typeof u[k] === 'number' && Number.isFinite(u[k]) && (u[k] as number) >= 0);
}

/** The entry a log line holds, or undefined when the line is not a valid entry. */
function parseEntry(text: string): CachedResponse | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const e = raw as Record<string, unknown>;
  if (typeof e['key'] !== 'string' || !HEX64.test(e['key']) || typeof e['model'] !== 'string' || !isUsage(e['usage'])) return undefined;
  if (typeof e['at'] !== 'number' || !('value' in e)) return undefined;
  return { key: e['key'], value: e['value'], model: e['model'], usage: e['usage'], at: e['at'] };
}

/** The key of a log line: read from the fixed prefix the writer uses, else by parsing the line. */
function lineKey(line: Buffer): string | undefined {
  if (line.length > KEY_PREFIX.length + 65 && line.subarray(0, KEY_PREFIX.length).equals(KEY_PREFIX) && line[line.length - 1] === 0x7d) {
    const key = line.toString('latin1', KEY_PREFIX.length, KEY_PREFIX.length + 64);
    if (HEX64.test(key) && line[KEY_PREFIX.length + 64] === 0x22) return key;
  }
  return parseEntry(line.toString('utf8'))?.key;
}

interface PendingWrite {
  key: string;
  line: Buffer;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class ResponseCache {
  private readonly index = new Map<string, Location>();
  private readonly pending: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  private size = 0;
  private closed = false;
  /** A failed write leaves the log in an unknown state; later writes refuse rather than glue onto it. */
  private writeError: unknown;
  private readonly counters = { hits: 0, misses: 0, writes: 0, badLines: 0, truncatedBytes: 0 };

  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    private readonly durability: 'fsync' | 'flush',
  ) {}

  /** Opens (creating it and its directory if needed) the log at `path` and indexes it. */
  static async open(path: string, options: ResponseCacheOptions = {}): Promise<ResponseCache> {
    await mkdir(dirname(path), { recursive: true });
    const file = await open(path, 'a+');
    const cache = new ResponseCache(path, file, options.durability ?? 'fsync');
    try {
      await cache.load();
    } catch (error) {
      await file.close();
      throw error;
    }
    return cache;
  }

  private async load(): Promise<void> {
    const { size } = await this.file.stat();
    const chunk = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = 0;
    let position = 0;
    while (position < size) {
      const { bytesRead } = await this.file.read(chunk, 0, Math.min(CHUNK, size - position), position);
      if (bytesRead === 0) break;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      const dataOffset = carry.length > 0 ? carryOffset : position;
      let start = 0;
      for (let nl = data.indexOf(NEWLINE, start); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
        if (nl > start) this.indexLine(data.subarray(start, nl), dataOffset + start);
        start = nl + 1;
      }
      carry = Buffer.from(data.subarray(start));
      carryOffset = dataOffset + start;
      position += bytesRead;
    }
    this.size = position;
    if (carry.length > 0) {
      // The last line has no newline: the process died while writing it. Keep it only if it is
      // a whole entry; either way the log must end at a line boundary before the next append.
      const entry = parseEntry(carry.toString('utf8'));
      if (entry) {
        this.index.set(entry.key, { offset: carryOffset, length: carry.length });
        await this.writeAll(Buffer.from('\n'));
        this.size += 1;
      } else {
        await this.file.truncate(carryOffset);
        this.counters.truncatedBytes += carry.length;
        this.size = carryOffset;
      }
      await this.file.sync();
    }
  }

  private indexLine(line: Buffer, offset: number): void {
    const key = lineKey(line);
    if (key === undefined) {
      this.counters.badLines++;
      return;
    }
    // A key written twice (two identical calls racing) keeps its last answer.
    this.index.set(key, { offset, length: line.length });
  }

  /** Entries in the cache. */
  get entries(): number {
    return this.index.size;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  /** The stored answer for `key`, or undefined. */
  async get(key: string): Promise<CachedResponse | undefined> {
    if (this.closed) throw new Error(`response cache ${this.path} is closed`);
    const at = this.index.get(key);
    if (!at) {
      this.counters.misses++;
      return undefined;
    }
    const buffer = Buffer.alloc(at.length);
    const { bytesRead } = await this.file.read(buffer, 0, at.length, at.offset);
    const entry = bytesRead === at.length ? parseEntry(buffer.toString('utf8')) : undefined;
    if (!entry || entry.key !== key) {
      // Damaged on disk (or another process appended and moved things): forget it, pay again.
      this.index.delete(key);
      this.counters.badLines++;
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return entry;
  }

  /** Appends an answer; resolves once it is on disk (fsync'd, unless durability is `flush`). */
  put(entry: CachedResponse): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`response cache ${this.path} is closed`));
    if (this.writeError !== undefined) return Promise.reject(this.writeError);
    if (!HEX64.test(entry.key)) return Promise.reject(new Error(`response cache: key must be 64 hex digits, got ${JSON.stringify(entry.key)}`));
    // Always appended, even for a known key: the caller replaces an entry it could not use.
    // `key` first: the loader reads it from the line's prefix without parsing the whole line.
    const text = JSON.stringify({ key: entry.key, model: entry.model, usage: entry.usage, at: entry.at, value: entry.value });
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ key: entry.key, line: Buffer.from(`${text}\n`, 'utf8'), resolve, reject });
      this.flushing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Yield once, so `flushing` is assigned before the `finally` below can clear it.
    await null;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0);
        try {
          if (this.writeError !== undefined) throw this.writeError;
          await this.writeAll(Buffer.concat(batch.map((w) => w.line)));
          if (this.durability === 'fsync') await this.file.datasync();
        } catch (error) {
          this.writeError = error;
          for (const w of batch) w.reject(error);
          continue;
        }
        for (const w of batch) {
          this.index.set(w.key, { offset: this.size, length: w.line.length - 1 });
          this.size += w.line.length;
          this.counters.writes++;
          w.resolve();
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeAll(buffer: Buffer): Promise<void> {
    let done = 0;
    while (done < buffer.length) {
      const { bytesWritten } = await this.file.write(buffer, done, buffer.length - done);
      done += bytesWritten;
    }
  }

  /** Waits until every accepted `put` is on disk. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  stats(): ResponseCacheStats {
    return { entries: this.index.size, ...this.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.file.close();
  }
}
