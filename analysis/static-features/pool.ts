// Static extraction on worker threads. Parsing with tree-sitter is the extract stage's main CPU
// cost, and on the main thread it competes with what keeps a model endpoint busy (sending the
// next request the moment a slot frees) and with the rest of the pipeline. A pool of workers,
// each with its own grammars, answers exactly what extractFeatures answers; records keep their
// order because the stage waits for them in order (lib/ordered-merge-map).
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CodeFile, FeatureSet } from '../../schemas/contract.js';
import type { Outcome } from '../../schemas/outcome.js';
import { LANGUAGES, type Language } from '../../schemas/languages.js';
import type { WorkerOptions, WorkerReply, WorkerRequest, WorkerSetup } from './worker.js';

/**
 * Workers by default: one per core, at most two (more did not pay off on the files a stage
 * sees). On 2 cores, 2 workers beat 1: the main thread is mostly waiting on I/O, and a second
 * worker parses while the first does (1,000 files: local 3.9-4.8 s against 5.2-5.6 s, Kafka
 * mode 181-200 files/s against 128-147, side by side).
 */
export function defaultStaticWorkers(cores = availableParallelism()): number {
  return Math.max(1, Math.min(2, cores));
}

/**
 * The pool a run parses on: `workers` of them (default defaultStaticWorkers()), none for 0 (the
 * stage's own thread parses). It returns at once: the workers load their grammars while the run
 * reads and filters its first files, and files sent meanwhile wait in the workers' queues.
 */
export function openStaticWorkers(workers: number | undefined, languages: readonly Language[] = LANGUAGES): StaticExtractorPool | undefined {
  const count = workers ?? defaultStaticWorkers();
  return count > 0 ? StaticExtractorPool.start(count, languages) : undefined;
}

// Run from source (vitest), the built worker is used: the tests' global setup builds dist first.
function workerScript(): URL {
  const sibling = new URL('./worker.js', import.meta.url);
  return existsSync(fileURLToPath(sibling)) ? sibling : new URL('../../dist/analysis/static-features/worker.js', import.meta.url);
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (outcome: Outcome<FeatureSet>) => void; reject: (error: Error) => void }>;
}

export class StaticExtractorPool {
  #next = 0;
  #closed = false;
  /** Why the pool cannot parse: a worker that did not start. Every later file fails with it. */
  #broken: Error | undefined;
  /** Resolves once every worker has loaded its grammars; rejects when one did not. */
  readonly ready: Promise<void>;

  private constructor(private readonly slots: Slot[]) {
    this.ready = Promise.all(slots.map((slot) => this.#listen(slot))).then(() => undefined);
    // A caller that never awaits `ready` learns of a failed start from the files it sends.
    this.ready.catch(() => undefined);
  }

  /**
   * Starts `size` workers with the grammars of `languages` and returns without waiting for them:
   * work sent before they are ready waits in their queues.
   */
  static start(size: number, languages: readonly Language[] = LANGUAGES): StaticExtractorPool {
    if (!Number.isInteger(size) || size < 1) throw new Error(`a static extractor pool needs at least one worker, got ${size}`);
    const setup: WorkerSetup = { languages: [...languages] };
    const slots = Array.from({ length: size }, () => {
      const worker = new Worker(workerScript(), { workerData: setup });
      // Idle workers do not keep the process alive (a run that fails need not close the pool
      // to end); a worker with files in flight does (see extract).
      worker.unref();
      return { worker, pending: new Map() };
    });
    return new StaticExtractorPool(slots);
  }

  /** Starts `size` workers and resolves once every one has loaded its grammars. */
  static async open(size: number, languages: readonly Language[] = LANGUAGES): Promise<StaticExtractorPool> {
    const pool = StaticExtractorPool.start(size, languages);
    try {
      await pool.ready;
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Wires a worker's replies and failures; resolves when it has loaded its grammars. */
  #listen(slot: Slot): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let started = false;
      slot.worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          started = true;
          resolve();
          return;
        }
        const call = slot.pending.get(reply.id);
        if (!call) return;
        slot.pending.delete(reply.id);
        if (slot.pending.size === 0) slot.worker.unref();
        if (reply.type === 'done') call.resolve(reply.outcome);
        else call.reject(new Error(`static extraction failed: ${reply.message}`));
      });
      // A worker that dies takes its files with it: they fail loudly, as a crash on the main thread
      // would. One that dies before it is ready breaks the pool: the grammars it could not load are
      // the same for every worker.
      const lost = (why: string) => {
        const error = new Error(started ? `static extractor worker ${why}` : `static extractor worker did not start: ${why}`);
        if (!started) {
          this.#broken ??= error;
          reject(error);
        }
        for (const call of slot.pending.values()) call.reject(error);
        slot.pending.clear();
      };
      slot.worker.on('error', (error) => lost(started ? `failed: ${error.message}` : error.message));
      slot.worker.on('exit', (code) => {
        if (!this.#closed) lost(`exited (${code})`);
        else if (!started) reject(new Error('static extractor pool closed before its workers started'));
      });
    });
  }

  /** The file's static features, as extractFeatures(file, { ...options, grammars }, now) gives them. */
  extract(file: CodeFile, options: WorkerOptions, now: number): Promise<Outcome<FeatureSet>> {
    if (this.#closed) return Promise.reject(new Error('static extractor pool is closed'));
    if (this.#broken) return Promise.reject(this.#broken);
    // The least busy worker: files differ a lot in size.
    let slot = this.slots[this.#next % this.slots.length]!;
    for (const candidate of this.slots) if (candidate.pending.size < slot.pending.size) slot = candidate;
    this.#next += 1;
    const id = this.#next;
    return new Promise((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, file, now, options } satisfies WorkerRequest);
    });
  }

  /** Stops the workers; files still in flight fail. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.slots) {
      for (const call of slot.pending.values()) call.reject(new Error('static extractor pool closed'));
      slot.pending.clear();
    }
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
