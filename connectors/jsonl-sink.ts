// Writes records as JSON lines, waiting for 'drain' so a fast producer cannot grow the write
// buffer without bound. Bytes (Buffer / Uint8Array) are written as base64 strings.
import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { concatMap, defer, map, type MonoTypeOperatorFunction } from 'rxjs';
import { ensureDirectory } from './out-dir.js';

export interface JsonlSinkOptions {
  /** 'append' (default) adds to an existing file; 'overwrite' truncates it on open. */
  mode?: 'append' | 'overwrite';
}

/** One JSON line (without the newline); bytes become base64 strings. Throws on cycles or BigInt. */
export function serialiseJsonLine(record: unknown): string {
  // `this[key]` is the value before Buffer#toJSON turned it into {type:'Buffer',data:[...]}.
  return JSON.stringify(record, function (this: Record<string, unknown>, key: string, value: unknown): unknown {
    const raw = this[key];
    return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') : value;
  });
}

export class JsonlSink<T> {
  readonly path: string;
  readonly #mode: 'append' | 'overwrite';
  #opening: Promise<WriteStream> | undefined;
  #closing: Promise<void> | undefined;
  #error: Error | undefined;
  #written = 0;
  #drained: Promise<void> | undefined;

  constructor(path: string, options: JsonlSinkOptions = {}) {
    this.path = path;
    this.#mode = options.mode ?? 'append';
  }

  /** Records accepted by write() so far. */
  get written(): number {
    return this.#written;
  }

  // Opened on first use so the constructor stays synchronous and creates nothing.
  #open(): Promise<WriteStream> {
    this.#opening ??= (async () => {
      await ensureDirectory(dirname(this.path));
      const stream = createWriteStream(this.path, { flags: this.#mode === 'append' ? 'a' : 'w' });
      // Always listened to, so a failed write surfaces through write()/close() instead of crashing.
      stream.on('error', (error) => {
        this.#error ??= new Error(`cannot write ${this.path}: ${error.message}`);
      });
      return stream;
    })();
    return this.#opening;
  }

  #check(): void {
    if (this.#error) throw this.#error;
  }

  /** Appends one record; resolves once the stream can take more (after 'drain' when its buffer is full). */
  async write(record: T): Promise<void> {
    if (this.#closing) throw new Error(`cannot write ${this.path}: sink is closed`);
    const line = `${serialiseJsonLine(record)}\n`;
    const stream = await this.#open();
    // Concurrent writers wait for the same 'drain' instead of each adding to the buffer.
    while (this.#drained) await this.#drained;
    this.#check();
    if (stream.destroyed) {
      // Destroyed by a failed write whose 'error' event is still to come (it is emitted on a later
      // tick, before 'close'): wait for it, so the caller learns why (ENOSPC, EACCES...).
      if (!this.#error && !stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
      throw this.#error ?? new Error(`cannot write ${this.path}: stream destroyed`);
    }
    this.#written += 1;
    if (stream.write(line)) return;
    this.#drained = new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('close', done);
        this.#drained = undefined;
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done); // destroyed after an error: no 'drain' will come
    });
    await this.#drained;
    this.#check();
  }


  /** Flushes and closes the file (creating it if nothing was written); idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stream = await this.#open();
      if (!stream.closed) {
        await new Promise<void>((resolve) => {
          stream.once('close', () => resolve());
          stream.end();
        });
      }
      this.#check();
    })();
    return this.#closing;
  }
}

/** Writes each value to `sink` in order, passing it on once written (backpressure per value). */
export function writeTo<T>(sink: JsonlSink<T>): MonoTypeOperatorFunction<T> {
  return concatMap((value: T) => defer(() => sink.write(value)).pipe(map(() => value)));
}
