import { describe, expect, it } from 'vitest';
import { StageMetrics } from '../connectors/metrics.js';

describe('StageMetrics', () => {
  it('serves Prometheus text with stage counters, lag and LLM usage', async () => {
    const metrics = new StageMetrics();
    metrics.recordsIn.inc({ stage: 'extract' }, 5);
    metrics.recordsOut.inc({ stage: 'extract', topic: 'features' }, 4);
    metrics.rejected.inc({ stage: 'extract', reason: 'unparseable' });
    metrics.batchSeconds.observe({ stage: 'extract' }, 0.12);
    metrics.lag.set({ group: 'treesynth.extract', topic: 'treesynth.code.accepted' }, 17);
    metrics.llmTokens.set({ stage: 'generate', kind: 'prompt' }, 1234);
    const server = await metrics.serve(0);
    try {
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(text).toContain('treesynth_records_in_total{stage="extract"} 5');
      expect(text).toContain('treesynth_records_out_total{stage="extract",topic="features"} 4');
      expect(text).toContain('treesynth_rejected_total{stage="extract",reason="unparseable"} 1');
      expect(text).toContain('treesynth_consumer_lag{group="treesynth.extract",topic="treesynth.code.accepted"} 17');
      expect(text).toContain('treesynth_llm_tokens{stage="generate",kind="prompt"} 1234');
      expect(text).toMatch(/treesynth_stage_batch_seconds_count\{stage="extract"\} 1/);
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
