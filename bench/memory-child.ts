// One local run in its own process, so its peak resident memory is its own.
import { rmSync } from 'node:fs';
import { LexicalCodeEmbedder, LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { runLocal } from '../topology/run-local.js';
import { MERGE_SIMILARITY, pipelineSettings } from '../topology/settings.js';

const [input, out, maxFiles] = process.argv.slice(2);
rmSync(out!, { recursive: true, force: true });
const started = Date.now();
// The live JS heap, sampled after a full collection (the child runs with --expose-gc): what the
// run really holds, apart from garbage not yet collected and from native memory.
const gc = (globalThis as { gc?: () => void }).gc;
let peakHeap = 0;
const sampler = setInterval(() => {
  gc?.();
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
}, 500);
const summary = await runLocal({
  input: input!, out: out!, tasks: 100, maxFiles: Number(maxFiles), settings: pipelineSettings({ seed: 1, similarity: MERGE_SIMILARITY.lexical }),
  labelEmbedder: new LexicalLabelEmbedder(), codeEmbedder: new LexicalCodeEmbedder(),
});
clearInterval(sampler);
console.log(JSON.stringify({
  maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), peakHeapMb: Math.round(peakHeap / 1e6), read: summary.files.read, accepted: summary.files.accepted,
  nodes: summary.nodes, seconds: +((Date.now() - started) / 1000).toFixed(1),
}));
