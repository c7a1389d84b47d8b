// `npm run bench`: the numbers DESIGN.md holds us to, each measured side by side in one run.
//  1. static extraction time vs bare tree-sitter parse time of the same files (target ≤ 2x)
//  2. canonicalization throughput, insert + query (target ≥ 20,000 labels/s), and recall@1
//     of the HNSW label index against brute force (target ≥ 0.95)
//  3. peak resident memory of a local run at 1,000 and at 10,000 files (target: flat)
//  4. orchestration: `treesynth run` beside plain clients against one fake endpoint of latency L,
//     at C = 16 and 64, with and without 25 % of 429/5xx: answers/s as a fraction of C/L and of the
//     Python peer's, AsyncOpenAI + a semaphore (targets ≥ 0.9 at C = 16, ≥ 1.0 at C = 64 and under
//     faults), and of the same in Node, which only sends (reported); requests on a replay (target 0)
//  5. Kafka ingest (Avro, wire format) beside raw produce of the same payloads, when the stack runs;
//     and Kafka mode's files/s beside local mode's on the same corpus (target ≥ 0.7) (bench/kafka-throughput.ts)
//  6. label embeddings: MiniLM beside lexical, merge precision/recall and labels/s (bench/embeddings.ts)
//  7. sampling: max |z| of realised inclusion vs the exact expectation, defaults (target ≤ 4) (bench/sampling.ts)
//  8. validation cost: samples/s of the bare test run, of the same tests through the sandbox, and of
//     the mutation step (bench/validation.ts)
//  9. lineage: the source index's cost per file, its size, and a retraction's refill (bench/lineage.ts)
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cosine } from '../embeddings/embedder.js';
import { LexicalLabelEmbedder } from '../embeddings/lexical.js';
import { canonicalizeFeatureSet } from '../processors/canonicalize.js';
import { extractFeatures } from '../analysis/static-features/index.js';
import { loadGrammars } from '../analysis/tree-sitter/grammars.js';
import type { FeatureSet } from '../schemas/contract.js';
import { FeatureTrees } from '../stores/feature-trees.js';
import { GrowableHnsw } from '../stores/hnsw-index.js';
import { MERGE_SIMILARITY } from '../topology/settings.js';
import { benchCorpus, pythonStdlib, writeJsonlCorpus } from './corpus.js';
import { orchestration } from './orchestration.js';
import { ensurePythonPeer, type PythonPeer } from './python-peer.js';
import { ingestBench } from './ingest.js';
import { kafkaThroughputBench, type KafkaThroughputBench } from './kafka-throughput.js';
import { samplingBench } from './sampling.js';
import { embeddingsBench } from './embeddings.js';
import { validationBench } from './validation.js';
import { lineageBench } from './lineage.js';

const cacheDir = join(process.cwd(), '.treesynth', 'bench');
mkdirSync(cacheDir, { recursive: true });
const results: Record<string, unknown> = {};
const now = () => performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function extraction(): Promise<void> {
  const files = benchCorpus(Number(process.env['BENCH_FILES_PER_LANGUAGE'] ?? 200), cacheDir);
  const grammars = await loadGrammars();
  const codeFiles = files.map((f, i) => ({
    id: String(i), path: f.path, language: f.language, content: f.content, sizeBytes: Buffer.byteLength(f.content),
    lines: f.content.split('\n').length, source: 'bench', treeKey: 'all',
  }));
  const parseAll = () => {
    const t = now();
    for (const f of codeFiles) grammars.parse(f.language, f.content).delete();
    return now() - t;
  };
  const extractAll = () => {
    const t = now();
    for (const f of codeFiles) extractFeatures(f, { grammars });
    return now() - t;
  };
  parseAll();
  extractAll(); // warm up both
  const parse: number[] = [];
  const extract: number[] = [];
  for (let round = 0; round < 5; round++) {
    parse.push(parseAll());
    extract.push(extractAll());
  }
  const mb = codeFiles.reduce((a, f) => a + f.sizeBytes, 0) / 1e6;
  const byLanguage: Record<string, number> = {};
  for (const f of codeFiles) byLanguage[f.language] = (byLanguage[f.language] ?? 0) + 1;
  results['extraction'] = {
    files: codeFiles.length, megabytes: +mb.toFixed(2), byLanguage,
    bareParseMs: +median(parse).toFixed(1), extractionMs: +median(extract).toFixed(1),
    ratio: +(median(extract) / median(parse)).toFixed(2), target: '≤ 2.0',
  };
  console.log(`extraction: ${codeFiles.length} files (${mb.toFixed(1)} MB): bare parse ${median(parse).toFixed(0)} ms, extraction ${median(extract).toFixed(0)} ms, ratio ${(median(extract) / median(parse)).toFixed(2)} (target ≤ 2)`);
}

/** Distinct multi-word labels in the style of the feature tree, with spelling variants as queries. */
function labelVocabulary(n: number): { labels: string[]; queries: string[] } {
  const verbs = ['read', 'write', 'parse', 'validate', 'serialize', 'compress', 'encrypt', 'sort', 'merge', 'filter', 'render', 'schedule', 'retry', 'cache', 'index', 'stream', 'upload', 'download', 'hash', 'normalize', 'tokenize', 'format', 'convert', 'query', 'aggregate', 'log', 'monitor', 'route', 'authenticate', 'paginate'];
  const objects = ['file', 'json document', 'config', 'http request', 'database row', 'user input', 'image', 'matrix', 'graph', 'tree', 'queue', 'socket', 'csv record', 'xml node', 'token', 'session', 'cookie', 'url', 'timestamp', 'directory', 'archive', 'log entry', 'metric', 'event', 'message', 'template', 'schema', 'buffer', 'checksum', 'certificate'];
  const qualifiers = ['', 'in parallel', 'with retry', 'incrementally', 'in batches', 'lazily', 'asynchronously', 'with timeout', 'from disk', 'over network', 'in memory', 'with cache', 'recursively', 'by key', 'with lock'];
  const labels: string[] = [];
  const queries: string[] = [];
  outer: for (const q of qualifiers)
    for (const v of verbs)
      for (const o of objects) {
        labels.push(`${v} ${o}${q ? ` ${q}` : ''}`.trim());
        // A variant spelling: gerund and plural, as another extractor would write it.
        queries.push(`${v.endsWith('e') ? v.slice(0, -1) : v}ing ${o}s${q ? ` ${q}` : ''}`.trim());
        if (labels.length >= n) break outer;
      }
  return { labels, queries };
}

async function canonicalization(): Promise<void> {
  const embedder = new LexicalLabelEmbedder();
  const n = Number(process.env['BENCH_LABELS'] ?? 6000);
  const { labels, queries } = labelVocabulary(n);

  // (a) The canonicalize stage end to end: files of 12 labels over 18 categories, every
  // label a query against its would-be siblings and then an insert (or a merge).
  const trees = new FeatureTrees();
  const categories = ['algorithm', 'data processing', 'file operation', 'functionality', 'error handling', 'logging', 'security', 'resource usage', 'data structures', 'implementation logic', 'workflow', 'user interaction', 'computation operation', 'advanced techniques', 'dependency relations', 'implementation style', 'issues & bugs', 'programming language'];
  const sets: FeatureSet[] = [];
  const stream = [...labels, ...queries];
  for (let i = 0; i < stream.length; i += 12) {
    sets.push({
      fileId: `f${i}`, path: `f${i}`, language: 'python', treeKey: 'all', extractor: 'static',
      features: stream.slice(i, i + 12).map((l, j) => ({ category: categories[(i + j) % categories.length]!, labels: [l] })),
      summary: null, purpose: null, scenario: null, extractedAt: 0,
    });
  }
  let resolved = 0;
  const t0 = now();
  for (const set of sets) resolved += (await canonicalizeFeatureSet(set, { trees, embedder, threshold: MERGE_SIMILARITY.lexical })).labels.seen;
  const stageSeconds = (now() - t0) / 1000;

  // (b) The index alone, worst case: every label under one parent, then recall@1 of HNSW
  // against brute force for the variant spellings.
  const vectors = await embedder.embed(labels);
  const hnsw = new GrowableHnsw(embedder.dimension, { initialCapacity: 8, m: 12, efConstruction: 40, ef: 24 });
  const t1 = now();
  for (let i = 0; i < vectors.length; i++) {
    hnsw.nearest(vectors[i]!, 1);
    hnsw.add(vectors[i]!);
  }
  const indexSeconds = (now() - t1) / 1000;
  const queryVectors = await embedder.embed(queries.slice(0, 1000));
  let agree = 0;
  for (const q of queryVectors) {
    const got = hnsw.nearest(q, 1)[0]!;
    let best = -Infinity;
    for (const v of vectors) best = Math.max(best, cosine(q, v));
    // Ties count as agreement: any label at the best similarity is a correct answer.
    if (Math.abs(got.similarity - best) < 1e-5) agree += 1;
  }
  const recall = agree / queryVectors.length;
  results['canonicalization'] = {
    labelsThroughStage: resolved, stageLabelsPerSecond: Math.round(resolved / stageSeconds),
    indexLabels: vectors.length, indexInsertPlusQueryPerSecond: Math.round(vectors.length / indexSeconds),
    recallAt1: +recall.toFixed(4), targets: { labelsPerSecond: '≥ 20000', recallAt1: '≥ 0.95' },
  };
  console.log(`canonicalization: stage ${Math.round(resolved / stageSeconds)} labels/s (${resolved} labels incl. embedding); index alone ${Math.round(vectors.length / indexSeconds)} insert+query/s over ${vectors.length} labels under one parent; recall@1 vs brute force ${recall.toFixed(4)} (targets ≥ 20000/s, ≥ 0.95)`);
}

function memory(): void {
  // Real code of several languages as one JSONL stream, so both runs read the same corpus.
  const corpus = join(cacheDir, 'corpus-mixed.jsonl');
  const lines = writeJsonlCorpus(corpus, 4000, cacheDir);
  if (lines < 10_000) console.log(`memory: only ${lines} real files on this machine; the large run reads them all`);
  const peak = (maxFiles: number) => {
    const out = join(cacheDir, `memory-${maxFiles}`);
    const child = new URL('./memory-child.js', import.meta.url).pathname;
    const text = execFileSync('node', ['--expose-gc', child, corpus, out, String(maxFiles)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    return JSON.parse(text.trim().split('\n').pop()!) as { maxRssMb: number; peakHeapMb: number; read: number; accepted: number; nodes: number; seconds: number };
  };
  const small = peak(1000);
  const large = peak(10_000);
  results['memory'] = { at1000: small, at10000: large, ratio: +(large.maxRssMb / small.maxRssMb).toFixed(2), target: 'flat (ratio near 1)' };
  console.log(`memory: peak RSS ${small.maxRssMb} MB at ${small.read} files, ${large.maxRssMb} MB at ${large.read} files: ratio ${(large.maxRssMb / small.maxRssMb).toFixed(2)}; live JS heap peak ${small.peakHeapMb} MB vs ${large.peakHeapMb} MB (target flat); ${large.read} files in ${large.seconds} s`);
}

async function llmOrchestration(): Promise<void> {
  const stdlib = pythonStdlib();
  if (!stdlib) {
    console.log('orchestration: skipped (no Python standard library on this machine to stream)');
    return;
  }
  const latencyMs = Number(process.env['BENCH_LATENCY_MS'] ?? 200);
  // BENCH_LLM_CASES=64:0,64:0.25 runs only those cases (C:fault rate), to repeat one on its own.
  const cases = process.env['BENCH_LLM_CASES']
    ? process.env['BENCH_LLM_CASES'].split(',').map((c) => ({ concurrency: Number(c.split(':')[0]), faultRate: Number(c.split(':')[1] ?? 0) }))
    : [16, 64].flatMap((concurrency) => [0, 0.25].map((faultRate) => ({ concurrency, faultRate })));
  const pythonPeer: PythonPeer = process.env['BENCH_PYTHON_PEER'] === '0' ? { skipped: 'BENCH_PYTHON_PEER=0' } : await ensurePythonPeer(cacheDir, console.log);
  const r = await orchestration({
    stdlib, cacheDir, latencyMs, cases, filesPerSlot: Number(process.env['BENCH_LLM_FILES_PER_SLOT'] ?? 40), repeats: Number(process.env['BENCH_LLM_REPEATS'] ?? 2), pythonPeer,
  });
  const target = (c: number, f: number) => (c <= 16 && f === 0 ? 0.9 : 1.0);
  results['orchestration'] = { ...r, targets: { ratioToPythonPeerAtC16: '≥ 0.9', ratioToPythonPeerAtC64AndUnderFaults: '≥ 1.0', ratioToNodeClient: '(reported)', replayRequests: 0 } };
  console.log(`orchestration: fake endpoint L = ${latencyMs} ms in its own process; faults = 429/503 at random, no retry-after; treesynth run --llm-stages extract --embeddings lexical over function-sized stdlib files, its defaults otherwise; best of ${Number(process.env['BENCH_LLM_REPEATS'] ?? 2)}`);
  if (r.pythonSkipped) console.log(`orchestration: Python peer skipped: ${r.pythonSkipped}`);
  const cell = (m: { okPerSecond: number; efficiency: number; peakInFlight: number; requests: number; failed: number; cpuSeconds: number | undefined }) =>
    `${m.okPerSecond.toFixed(1).padStart(6)} (${m.efficiency.toFixed(2)})  ${String(m.peakInFlight).padStart(3)}  ${String(m.requests).padStart(5)}${m.failed ? ` (${m.failed} failed)` : ''}  ${m.cpuSeconds === undefined ? '-' : m.cpuSeconds.toFixed(1)}`;
  console.log('   C  faults | treesynth run: answers/s (of C/L), peak in flight, requests, limiter cuts, CPU s | Python AsyncOpenAI + semaphore (the peer): the same but cuts | ratio (target) | Node openai + semaphore (sends only): the same | ratio');
  for (const row of r.rows) {
    const cuts = row.treesynth.limiter.faultCuts + row.treesynth.limiter.latencyCuts;
    const peer = row.python && row.ratioToPython !== undefined ? `${cell(row.python)} | ${row.ratioToPython.toFixed(2)} (≥ ${target(row.concurrency, row.faultRate).toFixed(1)})` : '- | -';
    console.log(
      `  ${String(row.concurrency).padStart(2)}  ${row.faultRate === 0 ? ' none ' : `${Math.round(row.faultRate * 100)} %  `} | ${cell(row.treesynth)}  cuts ${cuts} | ${peer} | ${cell(row.semaphore)} | ${row.ratio.toFixed(2)}`,
    );
  }
  console.log(`  replay of the same files sent ${r.replayRequests} requests (target 0)`);
}

async function kafkaIngest(): Promise<void> {
  const brokers = process.env['KAFKA_BROKERS'];
  const registry = process.env['SCHEMA_REGISTRY_URL'];
  if (!brokers || !registry) {
    console.log('ingest: skipped (start the stack first: export $(npm run -s stack:up))');
    return;
  }
  const corpus = join(cacheDir, 'corpus-mixed.jsonl');
  writeJsonlCorpus(corpus, 4000, cacheDir);
  const r = await ingestBench(corpus, Number(process.env['BENCH_INGEST_FILES'] ?? 5000), brokers, registry);
  results['ingest'] = r;
  console.log(`ingest: ${r.files} files (${r.megabytes} MB): treesynth ingest ${r.ingest.megabytesPerSecond} MB/s (${r.ingest.filesPerSecond} files/s), topics and schemas already in place; raw produce of the same payloads ${r.raw.megabytesPerSecond} MB/s (${r.raw.recordsPerSecond} records/s): ratio ${r.ratio}`);
}

async function kafkaThroughput(): Promise<void> {
  const brokers = process.env['KAFKA_BROKERS'];
  const registry = process.env['SCHEMA_REGISTRY_URL'];
  if (!brokers || !registry) {
    console.log('kafka throughput: skipped (start the stack first: export $(npm run -s stack:up))');
    return;
  }
  const corpus = join(cacheDir, 'corpus-mixed.jsonl');
  writeJsonlCorpus(corpus, 4000, cacheDir);
  // One pair says little on a shared 2-core machine: several, each local run beside its Kafka
  // run, every ratio reported, the first included (the broker's JIT still cold).
  const pairs = Number(process.env['BENCH_KAFKA_RUNS'] ?? 3);
  const runs: KafkaThroughputBench[] = [];
  for (let i = 0; i < pairs; i++) {
    const r = await kafkaThroughputBench(corpus, Number(process.env['BENCH_KAFKA_FILES'] ?? 1000), brokers, registry);
    runs.push(r);
    console.log(`kafka throughput ${i + 1}/${pairs}: ${r.files} files: local mode ${r.local.filesPerSecond} files/s (${r.local.seconds} s), Kafka mode ${r.kafka.filesPerSecond} files/s (${r.kafka.seconds} s from ingest to the last canonicalized file): ratio ${r.ratio}`);
  }
  const ratios = runs.map((r) => r.ratio).sort((a, b) => a - b);
  const median = ratios[Math.floor((ratios.length - 1) / 2)]!;
  results['kafkaThroughput'] = { runs, ratios: runs.map((r) => r.ratio), median, min: ratios[0], target: '≥ 0.7' };
  console.log(`kafka throughput: ratio median ${median}, lowest ${ratios[0]} over ${pairs} pairs (target ≥ 0.7)`);
}

const only = process.argv[2];
if (!only || only === 'extraction') await extraction();
if (!only || only === 'canonicalization') await canonicalization();
if (!only || only === 'memory') memory();
if (!only || only === 'orchestration') await llmOrchestration();
if (!only || only === 'ingest') await kafkaIngest();
if (!only || only === 'kafka-throughput') await kafkaThroughput();
if (!only || only === 'embeddings') results['embeddings'] = await embeddingsBench(cacheDir);
if (!only || only === 'sampling') {
  const files = benchCorpus(Number(process.env['BENCH_SAMPLING_FILES'] ?? 400), cacheDir).filter((f) => f.language === 'python');
  const r = await samplingBench(files, await loadGrammars(), Number(process.env['BENCH_SAMPLING_TASKS'] ?? 20_000));
  results['sampling'] = r;
  const depths = Object.entries(r.byDepth).map(([d, v]) => `depth ${d}: ${v.maxZ} over ${v.nodes} nodes`).join(', ');
  console.log(`sampling: ${r.tasks} tasks from a tree of ${r.nodes} nodes (${r.files} stdlib files), defaults: max |z| ${r.maxZ} vs the exact expectation (target ≤ 4; ${depths}); formula alone (boost 0): ${r.formulaAloneMaxZ}; ${r.tasksPerSecond} tasks/s`);
}
if (!only || only === 'lineage') {
  const r = lineageBench(Number(process.env['BENCH_LINEAGE_FILES'] ?? 100_000));
  results['lineage'] = r;
  console.log(`lineage: ${r.files} files: ${r.addMicrosPerFile} µs/file, ${r.keptFiles} files kept over ${r.indexedNodes} nodes; retraction ${r.randomRetractionMs} ms (refilling a hot node: ${r.refillRetractionMs} ms)`);
}
if (!only || only === 'validation') {
  const r = await validationBench(cacheDir, Number(process.env['BENCH_VALIDATION_SAMPLES'] ?? 24));
  results['validation'] = r;
  console.log(`validation: ${r.samples.python} Python (HumanEval) + ${r.samples.javascript} JavaScript samples, ${r.concurrency} at once: bare test run ${r.bare.samplesPerSecond} samples/s; through the sandbox ${r.sandboxed.samplesPerSecond} samples/s (${r.sandboxed.slowdown}x the bare run); mutation step ${r.mutation.samplesPerSecond} samples/s (${r.mutation.mutants} mutants, ${r.mutation.mutantsPerSecond}/s, mean score ${r.mutation.meanScore}); tests + mutants ${r.endToEndSlowdown}x the bare run`);
}
writeFileSync(join(cacheDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`results: ${join(cacheDir, 'results.json')}`);
