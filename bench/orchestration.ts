// Orchestration: how busy `treesynth run` keeps an LLM endpoint, beside two plain clients against
// the same endpoint in the same run: the peer the issue names (Python's AsyncOpenAI and an
// asyncio.Semaphore, bench/semaphore-client.py) and a stricter one, the same in Node (the `openai`
// package and a semaphore, bench/semaphore-client.ts), which does nothing but send. The endpoint (bench/fake-endpoint.ts) answers after a fixed latency L, in a process
// of its own; with faults, a share of the requests get a 429 or a 503 at random.
//
// `treesynth run` is the real command with its defaults (limiter, window, retries, deadline):
// nothing is pinned. It extracts features from function-sized pieces of the Python standard
// library with `--llm-stages extract`, so every accepted file is one chat completion; label
// embeddings are the lexical ones, so the CPU cost of MiniLM (measured in its own bench part)
// does not stand in for orchestration at L = 200 ms, where C = 64 asks for 320 files/s.
//
// Measured at the endpoint, for both clients alike: successful answers per second over the
// window from the first request's arrival to the last answer (start-up and the pipeline's
// drain are not orchestration), as a fraction of the bound C/L, and the most requests in flight.
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { EndpointCommand, EndpointMessage, EndpointStats } from './fake-endpoint.js';
import type { PythonPeer } from './python-peer.js';

const exec = promisify(execFile);

export interface OrchestrationCase {
  concurrency: number;
  /** Share of chat requests answered with a 429 or a 503. */
  faultRate: number;
}

export interface ClientMeasure {
  /** Successful answers, and all requests the endpoint saw (retries included). */
  ok: number;
  requests: number;
  busySeconds: number;
  okPerSecond: number;
  /** okPerSecond / (C/L). */
  efficiency: number;
  peakInFlight: number;
  /** Calls the client gave up on (failed after its retries). */
  failed: number;
  /** CPU seconds of the client's whole process (start-up included); undefined off Linux. */
  cpuSeconds: number | undefined;
}

export interface OrchestrationRow extends OrchestrationCase {
  bound: number;
  treesynth: ClientMeasure & { limiter: LimiterTrace };
  /** The Node client (bench/semaphore-client.ts). */
  semaphore: ClientMeasure;
  /** treesynth okPerSecond / the Node client's. */
  ratio: number;
  /** The Python peer (bench/semaphore-client.py), when it could be installed. */
  python?: ClientMeasure;
  /** treesynth okPerSecond / the Python peer's. */
  ratioToPython?: number;
}

/** What treesynth's limiter did in the run (from its summary.json). */
export interface LimiterTrace {
  faultCuts: number;
  latencyCuts: number;
  pauses: number;
  /** The limit at the end of the run. */
  limit: number;
}

export interface OrchestrationResult {
  latencyMs: number;
  /** Why the Python peer did not run, when it did not. */
  pythonSkipped?: string;
  rows: OrchestrationRow[];
  /** Chat requests a second `treesynth run` over the same files sent (the response cache). */
  replayRequests: number;
}

export interface OrchestrationOptions {
  stdlib: string;
  cacheDir: string;
  latencyMs: number;
  cases: readonly OrchestrationCase[];
  /** Files per slot of concurrency in each case: C × this files, so every case lasts about this many L at the bound. */
  filesPerSlot: number;
  /** Each client runs this many times per case; the best is kept (the machine is shared). */
  repeats: number;
  /** The Python peer (bench/python-peer.ts), or why there is none. */
  pythonPeer: PythonPeer;
}

/**
 * Function-sized pieces of the standard library (a top-level def or class, 6 to 60 lines), as a
 * JSONL corpus: one piece per request keeps the pipeline's CPU cost per request small.
 */
function writeSnippetCorpus(stdlib: string, target: string, want: number): number {
  if (existsSync(target) && readFileSync(target, 'utf8').split('\n').filter(Boolean).length >= want) return want;
  const lines: string[] = [];
  const split = (path: string): void => {
    const source = readFileSync(path, 'utf8').split('\n');
    let start = -1;
    const flush = (end: number): void => {
      if (start < 0 || end - start < 6 || end - start > 60 || lines.length >= want) return;
      const content = `${source.slice(start, end).join('\n').trimEnd()}\n`;
      lines.push(JSON.stringify({ path: `${path.slice(stdlib.length + 1)}:${start + 1}`, content, language: 'python' }));
    };
    for (let i = 0; i < source.length; i++) {
      if (/^(?:def|class|async def) /.test(source[i]!)) {
        flush(i);
        start = i;
      }
    }
    flush(source.length);
  };
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (lines.length >= want) return;
      const path = join(dir, name);
      const info = statSync(path, { throwIfNoEntry: false });
      if (info?.isDirectory() && !name.startsWith('test') && name !== 'site-packages') walk(path);
      else if (info?.isFile() && name.endsWith('.py')) split(path);
    }
  };
  walk(stdlib);
  writeFileSync(target, `${lines.join('\n')}\n`);
  return lines.length;
}

/** The endpoint process, driven over IPC. */
async function startEndpoint(latencyMs: number): Promise<{ url: string; ask: (command: EndpointCommand) => Promise<EndpointMessage>; close: () => Promise<void> }> {
  const child: ChildProcess = fork(new URL('./fake-endpoint.js', import.meta.url).pathname, [String(latencyMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () =>
    new Promise<EndpointMessage>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`fake endpoint exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (message: EndpointMessage) => {
        child.off('exit', onExit);
        resolve(message);
      });
    });
  const listening = await next();
  if (listening.type !== 'listening') throw new Error(`fake endpoint: unexpected ${listening.type}`);
  return {
    url: listening.url,
    ask: (command) => {
      const answer = next();
      child.send(command);
      return answer;
    },
    close: async () => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'close' } satisfies EndpointCommand);
      await exited;
    },
  };
}

/** CPU seconds used by the children this process has waited for (Linux: cutime + cstime), else undefined. */
function childrenCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 (cutime, cstime) in clock ticks of 1/100 s; the slice starts at field 3.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return undefined;
  }
}

/** Runs `child` and adds the CPU time it used. */
async function timed<T extends object>(child: () => Promise<T>): Promise<T & { cpuSeconds: number | undefined }> {
  const before = childrenCpuSeconds();
  const result = await child();
  const after = childrenCpuSeconds();
  return { ...result, cpuSeconds: before === undefined || after === undefined ? undefined : +(after - before).toFixed(2) };
}

function measure(run: { stats: EndpointStats; failed: number; cpuSeconds: number | undefined }, concurrency: number, latencyMs: number): ClientMeasure {
  const { stats } = run;
  const okPerSecond = stats.busySeconds > 0 ? stats.ok / stats.busySeconds : 0;
  return {
    ok: stats.ok, requests: stats.requests, busySeconds: +stats.busySeconds.toFixed(2), okPerSecond: +okPerSecond.toFixed(1),
    efficiency: +(okPerSecond / (concurrency / (latencyMs / 1000))).toFixed(3), peakInFlight: stats.peakInFlight, failed: run.failed, cpuSeconds: run.cpuSeconds,
  };
}

export async function orchestration(options: OrchestrationOptions): Promise<OrchestrationResult> {
  const { latencyMs } = options;
  const mostFiles = Math.max(...options.cases.map((c) => c.concurrency * options.filesPerSlot));
  const corpus = join(options.cacheDir, 'orchestration-snippets.jsonl');
  // Some pieces are rejected (duplicates, near-duplicates): a margin so every case gets its files.
  const pieces = writeSnippetCorpus(options.stdlib, corpus, Math.ceil(mostFiles * 1.25));
  if (pieces < mostFiles) throw new Error(`orchestration: only ${pieces} pieces of code in ${options.stdlib}, ${mostFiles} needed`);
  const bin = new URL('../../bin/treesynth.js', import.meta.url).pathname;
  const baseline = new URL('./semaphore-client.js', import.meta.url).pathname;
  const endpoint = await startEndpoint(latencyMs);
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-bench-orchestration-'));
  const stats = async (): Promise<EndpointStats> => {
    const answer = await endpoint.ask({ type: 'stats' });
    if (answer.type !== 'stats') throw new Error(`fake endpoint: unexpected ${answer.type}`);
    return answer.stats;
  };
  let runs = 0;
  type Run = { stats: EndpointStats; failed: number; cpuSeconds: number | undefined; limiter?: LimiterTrace };
  const treesynth = async (c: OrchestrationCase, cache: string): Promise<Run> => {
    await endpoint.ask({ type: 'reset', faultRate: c.faultRate, seed: c.concurrency });
    const out = join(dir, `out-${runs++}`);
    const { cpuSeconds } = await timed(() => exec('node', [
      bin, 'run', '--input', corpus, '--out', out, '--max-files', String(c.concurrency * options.filesPerSlot), '--tasks', '0',
      '--llm-base-url', endpoint.url, '--model', 'bench-model', '--llm-stages', 'extract', '--concurrency', String(c.concurrency),
      '--embeddings', 'lexical', '--cache', cache, '--quiet',
    ], { env: { ...process.env, CI: 'true', OPENAI_API_KEY: '', OPENAI_BASE_URL: '', TREESYNTH_MODEL: '' }, maxBuffer: 1 << 24 }));
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      rejectedByStage: Record<string, number>;
      llm: { usage: { concurrency?: Record<string, LimiterTrace> } };
    };
    rmSync(out, { recursive: true, force: true });
    const limiter = Object.values(summary.llm.usage.concurrency ?? {})[0];
    // A file whose call failed after every retry is a dead letter of the model's half of extract.
    return {
      stats: await stats(), failed: summary.rejectedByStage['extract-llm'] ?? 0, cpuSeconds,
      ...(limiter ? { limiter: { faultCuts: limiter.faultCuts, latencyCuts: limiter.latencyCuts, pauses: limiter.pauses, limit: limiter.limit } } : {}),
    };
  };
  const semaphore = async (c: OrchestrationCase, count: number): Promise<Run> => {
    await endpoint.ask({ type: 'reset', faultRate: c.faultRate, seed: c.concurrency });
    const { stdout, cpuSeconds } = await timed(() => exec('node', [baseline, JSON.stringify({ baseURL: endpoint.url, model: 'bench-model', concurrency: c.concurrency, maxRetries: 5, timeoutMs: 60_000, corpus, count })]));
    const result = JSON.parse(stdout.trim()) as { ok: number; failed: number };
    return { stats: await stats(), failed: result.failed, cpuSeconds };
  };
  const pythonPeer = async (c: OrchestrationCase, count: number, peer: { python: string; script: string }): Promise<Run> => {
    await endpoint.ask({ type: 'reset', faultRate: c.faultRate, seed: c.concurrency });
    const { stdout, cpuSeconds } = await timed(() => exec(peer.python, [peer.script, JSON.stringify({ baseURL: endpoint.url, model: 'bench-model', concurrency: c.concurrency, maxRetries: 5, timeoutMs: 60_000, corpus, count })]));
    const result = JSON.parse(stdout.trim()) as { ok: number; failed: number };
    return { stats: await stats(), failed: result.failed, cpuSeconds };
  };
  const best = (runs: Run[]) =>
    runs.reduce((a, b) => (b.stats.ok / (b.stats.busySeconds || Infinity) > a.stats.ok / (a.stats.busySeconds || Infinity) ? b : a));
  try {
    const rows: OrchestrationRow[] = [];
    let replayRequests = -1;
    for (const c of options.cases) {
      const ours: Run[] = [];
      const theirs: Run[] = [];
      const pythons: Run[] = [];
      for (let r = 0; r < options.repeats; r++) {
        const cache = join(dir, `cache-${runs}.jsonl`);
        ours.push(await treesynth(c, cache));
        // The plain clients send as many requests as treesynth had answers for.
        const count = ours[ours.length - 1]!.stats.ok;
        theirs.push(await semaphore(c, count));
        if ('python' in options.pythonPeer) pythons.push(await pythonPeer(c, count, options.pythonPeer));
        if (replayRequests < 0 && c.faultRate === 0) replayRequests = (await treesynth(c, cache)).stats.requests;
      }
      const t = best(ours);
      const s = best(theirs);
      const treesynthMeasure = { ...measure(t, c.concurrency, latencyMs), limiter: t.limiter ?? { faultCuts: 0, latencyCuts: 0, pauses: 0, limit: c.concurrency } };
      const semaphoreMeasure = measure(s, c.concurrency, latencyMs);
      const pythonMeasure = pythons.length > 0 ? measure(best(pythons), c.concurrency, latencyMs) : undefined;
      rows.push({
        ...c, bound: c.concurrency / (latencyMs / 1000), treesynth: treesynthMeasure, semaphore: semaphoreMeasure,
        ratio: +(treesynthMeasure.okPerSecond / semaphoreMeasure.okPerSecond).toFixed(3),
        ...(pythonMeasure ? { python: pythonMeasure, ratioToPython: +(treesynthMeasure.okPerSecond / pythonMeasure.okPerSecond).toFixed(3) } : {}),
      });
    }
    return { latencyMs, rows, replayRequests, ...('skipped' in options.pythonPeer ? { pythonSkipped: options.pythonPeer.skipped } : {}) };
  } finally {
    await endpoint.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
