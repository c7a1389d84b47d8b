// Orchestration: with a fake LLM of fixed latency L and concurrency C, how close the pipeline
// comes to the bound of C/L requests per second, and how many requests a replay sends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LexicalCodeEmbedder, LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { LlmClientFactory } from '../llm/index.js';
import { ResponseCache } from '../llm/response-cache.js';
import { startFakeOpenAI } from '../tests/fakes/fake-openai-server.js';
import { scriptedModel } from '../tests/fakes/scripted-model.js';
import { runLocal } from '../topology/run-local.js';
import { MERGE_SIMILARITY, pipelineSettings } from '../topology/settings.js';

export interface OrchestrationResult {
  latencyMs: number;
  concurrency: number;
  requests: number;
  /** From the first request's arrival to the last answer. */
  seconds: number;
  /** The whole run, start-up included. */
  wallSeconds: number;
  requestsPerSecond: number;
  bound: number;
  fraction: number;
  replayRequests: number;
}

export async function orchestration(input: string, maxFiles: number, latencyMs: number, concurrency: number): Promise<OrchestrationResult> {
  // Arrival times of requests, to measure the rate over the window the LLM stage is busy
  // (start-up, grammar loading and the drain after the last file are not orchestration).
  const arrivals: number[] = [];
  const answer = scriptedModel();
  const server = await startFakeOpenAI({ latencyMs, models: ['bench-model'], chat: (request) => (arrivals.push(performance.now()), answer(request)) });
  const dir = mkdtempSync(join(tmpdir(), 'treesynth-bench-'));
  const chat = () => server.requests.filter((r) => r.path === '/v1/chat/completions').length;
  try {
    const once = async (out: string) => {
      const cache = await ResponseCache.open(join(dir, 'cache.jsonl'), { durability: 'flush' });
      const factory = new LlmClientFactory({
        defaults: { baseURL: server.url, apiKey: 'bench', model: 'bench-model', timeoutMs: 30_000, maxRetries: 2 },
        // Fixed at C: the bound C/L is what the orchestration must reach.
        concurrency: { initial: concurrency, min: concurrency, max: concurrency },
        cache,
      });
      const started = performance.now();
      const before = chat();
      arrivals.length = 0;
      await runLocal({
        input, out: join(dir, out), tasks: 0, maxFiles, window: concurrency * 8,
        // Only extraction uses the model; no tasks are sampled, so the seed draws nothing.
        settings: pipelineSettings({ llmStages: ['extract'], maxChars: 8000, concurrency: concurrency * 2, similarity: MERGE_SIMILARITY.lexical }),
        labelEmbedder: new LexicalLabelEmbedder(), codeEmbedder: new LexicalCodeEmbedder(),
        llm: { models: { extract: factory.forStage('extract') } },
      });
      await cache.close();
      const busy = arrivals.length > 0 ? (arrivals[arrivals.length - 1]! + latencyMs - arrivals[0]!) / 1000 : 0;
      return { requests: chat() - before, seconds: (performance.now() - started) / 1000, busy };
    };
    const first = await once('first');
    const replay = await once('replay');
    const requestsPerSecond = first.requests / first.busy;
    const bound = concurrency / (latencyMs / 1000);
    return {
      latencyMs, concurrency, requests: first.requests, seconds: +first.busy.toFixed(2), wallSeconds: +first.seconds.toFixed(2),
      requestsPerSecond: +requestsPerSecond.toFixed(1), bound, fraction: +(requestsPerSecond / bound).toFixed(3), replayRequests: replay.requests,
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
