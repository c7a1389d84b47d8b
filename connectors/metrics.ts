// Prometheus metrics of a running treesynth process, served over HTTP at /metrics: records in
// and out and rejections per stage, stage latency per batch, consumer lag per group and topic,
// LLM requests and tokens per stage. One registry per process, passed around (no globals).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class StageMetrics {
  readonly registry = new Registry();
  readonly recordsIn: Counter<'stage'>;
  readonly recordsOut: Counter<'stage' | 'topic'>;
  readonly rejected: Counter<'stage' | 'reason'>;
  readonly batchSeconds: Histogram<'stage'>;
  readonly lag: Gauge<'group' | 'topic'>;
  readonly waiting: Gauge<'stage'>;
  readonly llmRequests: Gauge<'stage'>;
  readonly llmTokens: Gauge<'stage' | 'kind'>;

  constructor(prefix = 'treesynth_') {
    collectDefaultMetrics({ register: this.registry, prefix });
    const registers = [this.registry];
    this.recordsIn = new Counter({ name: `${prefix}records_in_total`, help: 'Records a stage read from its input topic.', labelNames: ['stage'], registers });
    this.recordsOut = new Counter({ name: `${prefix}records_out_total`, help: 'Records a stage wrote, by topic.', labelNames: ['stage', 'topic'], registers });
    this.rejected = new Counter({ name: `${prefix}rejected_total`, help: 'Dead letters a stage wrote, by reason.', labelNames: ['stage', 'reason'], registers });
    this.batchSeconds = new Histogram({
      name: `${prefix}stage_batch_seconds`, help: 'Time to process one input batch, transaction included.', labelNames: ['stage'],
      buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers,
    });
    this.lag = new Gauge({ name: `${prefix}consumer_lag`, help: 'Records not yet consumed, by consumer group and topic.', labelNames: ['group', 'topic'], registers });
    this.waiting = new Gauge({ name: `${prefix}requests_waiting`, help: 'Task requests a stage holds until its tree can serve them.', labelNames: ['stage'], registers });
    this.llmRequests = new Gauge({ name: `${prefix}llm_requests`, help: 'LLM requests sent so far, by stage.', labelNames: ['stage'], registers });
    this.llmTokens = new Gauge({ name: `${prefix}llm_tokens`, help: 'LLM tokens so far, by stage and kind (prompt, completion).', labelNames: ['stage', 'kind'], registers });
  }

  /** One committed transaction of a stage: its input records, output messages and latency. */
  committed(stage: string, batch: { records: number; messages: number; elapsedMs: number }): void {
    this.recordsIn.inc({ stage }, batch.records);
    this.recordsOut.inc({ stage, topic: 'all' }, batch.messages);
    this.batchSeconds.observe({ stage }, batch.elapsedMs / 1000);
  }

  /** LLM totals by stage, as the client's usage meter reports them. */
  llmUsage(byStage: Record<string, { requests: number; promptTokens: number; completionTokens: number }>): void {
    for (const [stage, u] of Object.entries(byStage)) {
      this.llmRequests.set({ stage }, u.requests);
      this.llmTokens.set({ stage, kind: 'prompt' }, u.promptTokens);
      this.llmTokens.set({ stage, kind: 'completion' }, u.completionTokens);
    }
  }

  /** Serves /metrics on 127.0.0.1:`port` (0 picks a free port); resolves with the bound port. */
  async serve(port: number, host = '127.0.0.1'): Promise<{ port: number; close: () => Promise<void> }> {
    const server: Server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('not found: try /metrics\n');
        return;
      }
      this.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text))
        .catch((error: Error) => res.writeHead(500).end(`${error.message}\n`));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}
