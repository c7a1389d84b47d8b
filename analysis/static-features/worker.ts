// A worker thread of the static extractor pool (pool.ts): loads the grammars it is told to,
// then answers each file with exactly what extractFeatures answers on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import type { CodeFile } from '../../schemas/contract.js';
import type { Language } from '../../schemas/languages.js';
import { loadGrammars } from '../tree-sitter/grammars.js';
import type { ExtractStaticOptions } from './config.js';
import { extractFeatures } from './extract.js';

/** The extractor's options without the grammars (each worker has its own) and the pool. */
export type WorkerOptions = ExtractStaticOptions;

export interface WorkerSetup {
  languages: Language[];
}

export type WorkerRequest = { id: number; file: CodeFile; now: number; options: WorkerOptions };
export type WorkerReply = { type: 'ready' } | { type: 'done'; id: number; outcome: ReturnType<typeof extractFeatures> } | { type: 'failed'; id: number; message: string };

if (!parentPort) throw new Error('analysis/static-features/worker.js runs as a worker thread (StaticExtractorPool)');
const port = parentPort;
const setup = workerData as WorkerSetup;
const grammars = await loadGrammars(setup.languages);
port.on('message', ({ id, file, now, options }: WorkerRequest) => {
  try {
    port.postMessage({ type: 'done', id, outcome: extractFeatures(file, { ...options, grammars }, now) } satisfies WorkerReply);
  } catch (error) {
    port.postMessage({ type: 'failed', id, message: error instanceof Error ? error.message : String(error) } satisfies WorkerReply);
  }
});
port.postMessage({ type: 'ready' } satisfies WorkerReply);
