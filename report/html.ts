// The report page: one HTML file with its CSS, script and data inline, so it opens offline,
// from a file:// URL, and can be mailed or archived as it is. Tables and charts are rendered
// here; only the feature tree is drawn in the browser (it is interactive).
import { COMPLEXITY_DIMENSIONS } from '../prompts/judge.js';
import type { QualityFigures } from '../quality/collect.js';
import { SCORE_BUCKETS } from '../quality/mutation-scores.js';
import type { ComplexityGroup } from '../quality/complexity.js';
import type { TreeCoverage } from '../quality/diversity.js';
import type { Distribution } from '../quality/stats.js';
import type { ClientNode, QualityReport } from './build.js';
import { barChart, esc, pointsChart, timelineChart } from './charts.js';
import { SUNBURST_SCRIPT } from './client-script.js';

const int = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : Math.round(n).toLocaleString('en-US'));
const dec = (n: number | null | undefined, digits = 2): string => (n === null || n === undefined ? '—' : n.toFixed(digits));
const pct = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined ? '—' : `${(n * 100).toFixed(digits)}\u00a0%`);
/** Rates: whole numbers when large, a decimal or two when small. */
const rate = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : n >= 100 ? int(n) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const money = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : n < 0.01 && n > 0 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`);

function duration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** JSON inside a <script> element: nothing in it may close the element or break the parser. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>, options: { numeric?: readonly number[]; cls?: string } = {}): string {
  const numeric = new Set(options.numeric ?? []);
  const th = head.map((h, i) => `<th${numeric.has(i) ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.has(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('');
  return `<table class="${options.cls ?? 'data'}"><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

function card(label: string, value: string, sub = ''): string {
  return `<div class="card"><div class="card-label">${esc(label)}</div><div class="card-value">${value}</div>${sub ? `<div class="card-sub">${sub}</div>` : ''}</div>`;
}

const note = (text: string): string => `<p class="note">${text}</p>`;
const section = (id: string, title: string, body: string): string => `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`;

function headline(r: QualityReport): string {
  const f = r.figures;
  const t = r.tree;
  const thr = r.throughput;
  const cards = [
    card('Files read', int(thr.filesRead), thr.filesPerSecond !== null ? `${rate(thr.filesPerSecond)} files/s` : ''),
    card('Tree nodes', int(t?.nodes), t ? `${int(t.byOrigin['extracted'] ?? 0)} extracted · ${int(t.byOrigin['evolved'] ?? 0)} evolved` : 'no tree.json'),
    card('Tasks', int(f.counts.tasks)),
    card('Samples', int(f.counts.samples), f.passRates.notValidated > 0 ? `${int(f.passRates.notValidated)} not validated` : ''),
    card('Pass rate', pct(f.passRates.rate), `${int(f.passRates.passed)} of ${int(f.passRates.validated)} validated`),
    card('Leaf coverage', pct(f.diversity.coverage.bySamples?.leafShare ?? null), f.diversity.coverage.bySamples ? 'by samples' : f.diversity.coverage.byTasks ? `by tasks: ${pct(f.diversity.coverage.byTasks.leafShare)}` : ''),
    card('Rejected', int(f.rejections.total), f.rejections.contaminated > 0 ? `${int(f.rejections.contaminated)} contaminated` : ''),
    card('Tokens', int(r.tokens.total.promptTokens + r.tokens.total.completionTokens), r.tokens.total.cost !== null ? money(r.tokens.total.cost) : r.tokens.recorded ? 'no price given' : 'no LLM calls'),
  ];
  return `<div class="cards">${cards.join('')}</div>`;
}

function coverageLine(c: TreeCoverage | null, what: string): string {
  if (!c) return `no ${what}`;
  return `${what}: ${pct(c.share)} of nodes, ${pct(c.leafShare)} of leaves (${int(c.coveredLeaves)} of ${int(c.leaves)})`;
}

function treeSection(r: QualityReport, picture: ClientNode | null): string {
  if (!picture) return section('tree', 'Feature tree', note('No tree.json in this run: nothing to draw.'));
  const cov = r.figures.diversity.coverage;
  const samples = r.figures.counts.samples > 0;
  const tasks = r.figures.counts.tasks > 0;
  const buttons = [
    `<button type="button" data-colour-mode="origin" aria-pressed="true">Origin</button>`,
    `<button type="button" data-colour-mode="samples" aria-pressed="false"${samples ? '' : ' disabled title="no samples in this run"'}>Coverage by samples</button>`,
    `<button type="button" data-colour-mode="tasks" aria-pressed="false"${tasks ? '' : ' disabled title="no tasks in this run"'}>Coverage by tasks</button>`,
  ].join('');
  const t = r.tree!;
  return section(
    'tree',
    'Feature tree',
    `<p class="lead">${int(t.nodes)} nodes in ${int(t.categories)} categories, ${int(t.leaves)} leaves, depth ${t.depth}. ` +
      `Angles share each parent among its children by frequency; hover for details, click to zoom in, click the centre to go back.</p>` +
      `<div class="toolbar"><span class="toolbar-label">Colour by</span><span class="segmented">${buttons}</span></div>` +
      `<div id="tree-crumbs" class="crumbs"></div>` +
      `<div class="tree-wrap"><div id="sunburst" class="sunburst"><div id="tree-tip" class="tip" hidden></div></div>` +
      `<div class="tree-side"><div id="tree-legend" class="legend"></div>` +
      `<p class="note">${esc(coverageLine(cov.bySamples, 'samples'))}<br>${esc(coverageLine(cov.byTasks, 'tasks'))}</p></div></div>`,
  );
}

/** The student's pass rate per category, the up-weight it earned, and the category's share of tasks, first round against last. */
function studentSection(r: QualityReport): string {
  const s = r.student;
  if (!s) return '';
  const bar = (share: number) => `<span class="bar" style="display:inline-block;height:0.7em;width:${Math.round(share * 120)}px;background:currentColor;opacity:0.5"></span> ${pct(share)}`;
  const rows = s.byCategory.map((c) => [esc(c.category), int(c.attempts), pct(c.passRate), `${c.factor.toFixed(2)}×`, bar(c.firstRoundShare), bar(c.lastRoundShare)]);
  return section(
    'student',
    'Student',
    `<p class="lead">${esc(s.model ?? 'The student model')} answered ${int(s.attempts)} validated tasks and passed the teacher's tests on ${int(s.passed)} (${pct(s.attempts === 0 ? null : s.passed / s.attempts)}), over ${int(s.rounds)} rounds of tasks.</p>` +
      table(['Category', 'Attempts', 'Student pass rate', 'Sampling up-weight', 'Share of tasks, first round', 'Share of tasks, last round'], rows, { numeric: [1, 2, 3] }) +
      note('Categories where the student fails more often than overall weigh more when later tasks are sampled (at most --student-max-factor); the first round was sampled before the student had answered anything.'),
  );
}

function throughputSection(r: QualityReport): string {
  const t = r.throughput;
  const rows: string[][] = [
    ['Started', esc(t.startedAt ?? 'not recorded')],
    ['Elapsed', esc(duration(t.elapsedMs))],
    ['Files read', int(t.filesRead)],
    ['Files per second (whole run)', t.filesPerSecond === null ? 'not recorded' : rate(t.filesPerSecond)],
    ['Samples per minute (whole run)', t.samplesPerMinute === null ? 'not recorded' : rate(t.samplesPerMinute)],
  ];
  const timeline = r.figures.timeline;
  const overTime = timeline && timeline.buckets > 0 ? timelineChart(timeline) : '';
  const recordedLag = timeline ? pointsChart(timeline.recorded) : '';
  const lag = t.lag
    ? table(['Stage', 'Consumer lag (records)'], Object.entries(t.lag).map(([s, v]) => [esc(s), int(v)]), { numeric: [1] })
    : '';
  return section(
    'throughput',
    'Throughput and lag',
    table(['', ''], rows, { numeric: [1], cls: 'kv' }) +
      `<h3>Records over time</h3>` +
      (overTime
        ? overTime + note('From the timestamps the records carry: samples and tasks when created, rejections when rejected.')
        : note('Not recorded: the records carry no timestamps.')) +
      `<h3>Consumer lag</h3>` +
      (recordedLag || lag || note('Not recorded: a local run has no consumer groups; Kafka mode records lag per stage.')),
  );
}

function tokensSection(r: QualityReport): string {
  const t = r.tokens;
  if (!t.recorded && t.byStage.length === 0) return section('tokens', 'Tokens and cost', note('No LLM usage recorded: no endpoint was configured for this run.'));
  const priced = t.price !== null;
  const rows = t.byStage.map((s) => [esc(s.stage), int(s.calls), int(s.requests), int(s.cacheHits), int(s.promptTokens), int(s.completionTokens), int(s.cachedTokens), priced ? money(s.cost) : '—']);
  rows.push(['<b>total</b>', int(t.total.calls), int(t.total.requests), int(t.total.cacheHits), int(t.total.promptTokens), int(t.total.completionTokens), int(t.total.cachedTokens), priced ? `<b>${money(t.total.cost)}</b>` : '—']);
  return section(
    'tokens',
    'Tokens and cost per stage',
    table(['Stage', 'Calls', 'Requests', 'Cache hits', 'Prompt tokens', 'Completion tokens', 'Saved by cache', 'Cost'], rows, { numeric: [1, 2, 3, 4, 5, 6, 7] }) +
      note(
        priced
          ? `Cost at ${money(t.price!.input)} per 1k prompt tokens and ${money(t.price!.output)} per 1k completion tokens.`
          : 'No price given: pass <code>--price-per-1k INPUT/OUTPUT</code> (per 1,000 prompt / completion tokens) to see cost.',
      ),
  );
}

function passSection(f: QualityFigures): string {
  const p = f.passRates;
  if (p.validated === 0) {
    return section(
      'pass-rates',
      'Pass rates',
      note(f.counts.samples === 0 ? 'No samples in this run (no generation endpoint configured, or none generated yet).' : `None of the ${int(f.counts.samples)} samples has been validated yet (run <code>treesynth validate</code>).`),
    );
  }
  const levels = Object.entries(p.byLevel);
  const byLevel = barChart(levels.map(([l, v]) => ({ label: l, value: v.rate, note: `${pct(v.rate)} (${int(v.passed)}/${int(v.validated)})` })), { max: 1, format: (v) => pct(v), colour: '#2f9e6a' });
  const byTurn = table(
    ['Debugging turns', 'Passed at this turn', 'Passed within', 'Cumulative pass rate'],
    p.byTurn.map((t) => [t.turn === 0 ? '0 (as generated)' : String(t.turn), int(t.passed), int(t.cumulativePassed), pct(t.cumulativeRate)]),
    { numeric: [1, 2, 3] },
  );
  const failures = Object.entries(p.failuresByReason).sort((a, b) => b[1] - a[1]);
  return section(
    'pass-rates',
    'Pass rates',
    `<p class="lead">${pct(p.rate)} of ${int(p.validated)} validated samples pass (${int(p.failed)} fail${p.notValidated > 0 ? `; ${int(p.notValidated)} not validated` : ''}).</p>` +
      `<div class="two"><div><h3>By level</h3>${byLevel}</div><div><h3>By debugging turn</h3>${byTurn}</div></div>` +
      (failures.length > 0 ? `<h3>Why samples failed</h3>${table(['Final reason', 'Samples'], failures.map(([r, n]) => [esc(r), int(n)]), { numeric: [1] })}` : ''),
  );
}

function adequacySection(f: QualityFigures): string {
  const m = f.mutation;
  if (m.scored === 0) {
    return section('adequacy', 'Test adequacy', note(m.unscored > 0 ? `${int(m.unscored)} validated samples had no code to mutate.` : 'No mutation scores recorded (samples validated before mutation testing, or run with <code>--mutants 0</code>).'));
  }
  const levels = Object.entries(m.byLevel);
  const byLevel = barChart(levels.map(([l, d]) => ({ label: l, value: d.mean ?? 0, note: `${dec(d.mean)} mean · ${dec(d.median)} median (${int(d.count)})` })), { max: 1, format: (v) => dec(v), colour: '#6a5acd' });
  const buckets = SCORE_BUCKETS.map((b, i) => `${i === 0 ? '0' : SCORE_BUCKETS[i - 1]!.toFixed(1)}–${b.toFixed(1)}`);
  const histogram = table(['Level', ...buckets], [...levels, ['all', m.overall] as const].map(([l, d]) => [esc(l), ...d.histogram.map((n) => int(n))]), { numeric: buckets.map((_, i) => i + 1) });
  return section(
    'adequacy',
    'Test adequacy (mutation score)',
    `<p class="lead">Mean mutation score ${dec(m.overall.mean)} (median ${dec(m.overall.median)}) over ${int(m.scored)} samples: the share of mutants of each solution that its own tests catch.` +
      `${m.belowMinimum > 0 ? ` ${int(m.belowMinimum)} samples were rejected below the minimum.` : ''}</p>` +
      `<div class="two"><div><h3>Mean score by level</h3>${byLevel}</div><div><h3>Samples by score</h3>${histogram}</div></div>`,
  );
}

function mean(d: Distribution, digits = 1): string {
  return dec(d.mean, digits);
}

function complexityRows(groups: Record<string, ComplexityGroup>): string[][] {
  return Object.entries(groups).map(([name, g]) => [
    esc(name), int(g.samples), mean(g.files), mean(g.lines), dec(g.lines.median, 0), dec(g.lines.p90, 0), mean(g.cyclomatic), mean(g.maxCyclomatic), mean(g.functions), mean(g.imports), mean(g.testLines),
  ]);
}

function complexitySection(f: QualityFigures): string {
  const c = f.complexity;
  if (c.all.samples === 0) return section('complexity', 'Complexity of the solutions', note('No samples to measure.'));
  const head = ['', 'Samples', 'Files', 'Lines (mean)', 'Lines (median)', 'Lines (p90)', 'Cyclomatic', 'Max per function', 'Functions', 'Imports', 'Test lines'];
  const numeric = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  return section(
    'complexity',
    'Complexity of the solutions',
    `<h3>By language</h3>${table(head, [...complexityRows(c.byLanguage), ...complexityRows({ all: c.all }).map((r) => r.map((x, i) => (i === 0 ? '<b>all</b>' : x)))], { numeric })}` +
      `<h3>By level</h3>${table(head, complexityRows(c.byLevel), { numeric })}` +
      note(
        'Means per sample over its solution files. Lines: non-blank, non-comment. Cyclomatic: McCabe, 1 + decision points per function, summed; ' +
          '“max per function” is the most complex function. Measured on tree-sitter syntax trees' +
          (c.all.byTokens > 0 ? `; ${int(c.all.byTokens)} samples in languages without a grammar by counting tokens.` : '.'),
      ),
  );
}

function diversitySection(f: QualityFigures): string {
  const d = f.diversity;
  const cov = d.coverage;
  const depthRows: string[][] = [];
  const depths = new Set<number>([...(cov.bySamples?.byDepth ?? []), ...(cov.byTasks?.byDepth ?? [])].map((x) => x.depth));
  for (const depth of [...depths].sort((a, b) => a - b)) {
    const s = cov.bySamples?.byDepth.find((x) => x.depth === depth);
    const t = cov.byTasks?.byDepth.find((x) => x.depth === depth);
    depthRows.push([depth === 1 ? '1 (categories)' : String(depth), int(s?.nodes ?? t?.nodes), s ? `${pct(s.share)} (${int(s.covered)})` : '—', t ? `${pct(t.share)} (${int(t.covered)})` : '—']);
  }
  if (cov.bySamples || cov.byTasks) {
    const s = cov.bySamples;
    const t = cov.byTasks;
    depthRows.push(['<b>leaves</b>', int(s?.leaves ?? t?.leaves), s ? `${pct(s.leafShare)} (${int(s.coveredLeaves)})` : '—', t ? `${pct(t.leafShare)} (${int(t.coveredLeaves)})` : '—']);
    depthRows.push(['<b>all nodes</b>', int(s?.nodes ?? t?.nodes), s ? `${pct(s.share)} (${int(s.covered)})` : '—', t ? `${pct(t.share)} (${int(t.covered)})` : '—']);
    for (const origin of ['extracted', 'evolved']) {
      const so = s?.byOrigin[origin];
      const to = t?.byOrigin[origin];
      if (so || to) depthRows.push([`${origin} nodes`, int(so?.nodes ?? to?.nodes), so ? `${pct(so.share)} (${int(so.covered)})` : '—', to ? `${pct(to.share)} (${int(to.covered)})` : '—']);
    }
  }
  const e = d.featureEntropy;
  const entropyRows = [
    ['Feature paths', int(e.features.distinct), int(e.features.occurrences), dec(e.features.entropyBits), dec(e.features.maxEntropyBits), dec(e.features.evenness), dec(e.features.perplexity, 1)],
    ['Categories', int(e.categories.distinct), int(e.categories.occurrences), dec(e.categories.entropyBits), dec(e.categories.maxEntropyBits), dec(e.categories.evenness), dec(e.categories.perplexity, 1)],
  ];
  const ngramRows = d.distinctNgrams.map((g) => [`distinct-${g.n}`, dec(g.ratio, 3), int(g.distinct), int(g.total)]);
  const emb = d.embeddingDistance;
  return section(
    'diversity',
    'Diversity',
    `<h3>Feature-tree coverage</h3>` +
      (depthRows.length > 0
        ? table(['Depth', 'Nodes', 'Used by samples', 'Used by tasks'], depthRows, { numeric: [1, 2, 3] }) +
          note('A node counts as used when a sample’s (or task’s) feature path passes through it.')
        : note('No tree, or nothing sampled from it.')) +
      `<div class="two"><div><h3>Entropy of sampled features</h3>` +
      (e.features.occurrences > 0
        ? table(['', 'Distinct', 'Uses', 'Entropy (bits)', 'Max', 'Evenness', 'Perplexity'], entropyRows, { numeric: [1, 2, 3, 4, 5, 6] }) +
          note('Over the features of the samples. Evenness = entropy / log2(distinct): 1 when every feature is used equally often.')
        : note('No samples.')) +
      `</div><div><h3>Instructions</h3>` +
      (ngramRows.length > 0 && f.counts.samples > 0
        ? table(['', 'Ratio', 'Distinct', 'Total'], ngramRows, { numeric: [1, 2, 3] }) +
          `<p class="lead">Mean pairwise cosine distance of instruction embeddings: <b>${dec(emb.mean, 3)}</b></p>` +
          note(
            `${emb.embedder} embeddings of ${int(emb.instructions)} instructions${emb.instructions < emb.instructionsSeen ? ` (a random ${int(emb.instructions)} of ${int(emb.instructionsSeen)})` : ''}; ` +
              `${int(emb.pairs)} pairs${emb.exhaustive ? ' (all)' : ' (random)'}. 0 = identical wording, 1 = nothing in common. distinct-n: distinct word n-grams / all n-grams.`,
          )
        : note('No samples.')) +
      `</div></div>`,
  );
}

function judgeSection(r: QualityReport): string {
  const j = r.figures.judge;
  if (!j) return section('judge', 'LLM judge', note(esc(r.notes.find((n) => n.startsWith('LLM judge')) ?? 'Not run.')));
  const bars = barChart(
    COMPLEXITY_DIMENSIONS.map((d) => ({ label: d.replace(/_/g, ' '), value: j.scores[d].mean })),
    { max: 10, format: (v) => `${v.toFixed(1)} / 10`, colour: '#8a5cc2', labelWidth: 190 },
  );
  const levelRows = Object.entries(j.byLevel).map(([level, row]) => [esc(level), int(row.samples), ...COMPLEXITY_DIMENSIONS.map((d) => dec(row[d], 1))]);
  const examples = j.samples.slice(0, 5).map((s) => [esc(s.sampleId), esc(s.level), ...COMPLEXITY_DIMENSIONS.slice(0, 2).map((d) => `${s.scores[d]}: ${esc(s.reasons[d])}`)]);
  return section(
    'judge',
    'LLM judge',
    `<p class="lead">${int(j.judged)} of ${int(j.requested)} random samples judged by ${esc(j.model ?? 'the model')} (prompt ${esc(j.promptVersion)}); mean score ${dec(j.overall.mean, 1)} / 10.` +
      `${j.failed > 0 ? ` ${int(j.failed)} not judged: ${esc(Object.entries(j.failures).map(([k, v]) => `${k} ×${v}`).join(', '))}.` : ''}</p>` +
      `<div class="two"><div><h3>Complexity, mean score per dimension</h3>${bars}</div>` +
      `<div><h3>Diversity as the judge sees it</h3>` +
      table(['', ''], [
        ['Distinct features', int(j.diversity.distinctFeatures)],
        ['Features per sample (mean)', dec(j.diversity.featuresPerSample.mean, 1)],
        ['Categories used', int(Object.keys(j.diversity.distinctByCategory).length)],
      ], { numeric: [1], cls: 'kv' }) +
      `</div></div>` +
      (levelRows.length > 0 ? `<h3>By level</h3>${table(['Level', 'Samples', ...COMPLEXITY_DIMENSIONS.map((d) => d.replace(/_/g, ' '))], levelRows, { numeric: [1, 2, 3, 4, 5, 6, 7] })}` : '') +
      (examples.length > 0 ? `<h3>Some reasons</h3>${table(['Sample', 'Level', 'Error handling', 'Modularity'], examples, { cls: 'data wrap' })}` : ''),
  );
}

function rejectionSection(f: QualityFigures): string {
  const r = f.rejections;
  if (r.total === 0) return section('rejections', 'Rejected records', note('Nothing was rejected.'));
  const top = r.byReason.slice(0, 15);
  const rows = top.map((x) => [`<code>${esc(x.reason)}</code>`, esc(x.stages.join(', ')), int(x.count), pct(x.share), `<span class="detail">${esc(x.example.length > 180 ? `${x.example.slice(0, 177)}…` : x.example)}</span>`]);
  return section(
    'rejections',
    'Top rejected reasons',
    `<p class="lead">${int(r.total)} records rejected in ${int(r.byReason.length)} reasons; ${int(r.contaminated)} sample${r.contaminated === 1 ? '' : 's'} rejected as contaminated by a benchmark.</p>` +
      table(['Reason', 'Stage', 'Count', 'Share', 'Example'], rows, { numeric: [2, 3], cls: 'data wrap' }) +
      (r.byReason.length > top.length ? note(`${r.byReason.length - top.length} more reasons in quality.json.`) : ''),
  );
}

function lineageSection(f: QualityFigures): string {
  const l = f.lineage;
  if (f.counts.samples === 0) return section('lineage', 'Source lineage', note('No samples.'));
  if (l.files === 0) return section('lineage', 'Source lineage', note('No sample names its source files (samples generated before lineage was recorded, or only evolved features).'));
  return section(
    'lineage',
    'Source lineage',
    `<p class="lead">${int(l.samplesWithSources)} of ${int(f.counts.samples)} samples name the source files behind their features: ${int(l.files)} distinct files from ${int(l.repositories)} known repositor${l.repositories === 1 ? 'y' : 'ies'}.</p>` +
      table(['Licence', 'Files'], l.byLicense.map((x) => [x.license === null ? '<span class="muted">unknown</span>' : `<code>${esc(x.license)}</code>`, int(x.files)]), { numeric: [1] }) +
      note('Each sample’s files, with path, content hash, repository and licence, are in its <code>lineage.sources</code>.'),
  );
}

function cumulativeSection(r: QualityReport): string {
  const c = r.cumulative;
  if (!c) return '';
  const row = (name: string, f: QualityFigures): string[] => [
    name, int(f.counts.samples), int(f.counts.tasks), pct(f.passRates.rate), pct(f.diversity.coverage.bySamples?.leafShare ?? null),
    dec(f.diversity.distinctNgrams.find((g) => g.n === 2)?.ratio ?? null, 3), dec(f.diversity.embeddingDistance.mean, 3), dec(f.complexity.all.lines.mean, 1), dec(f.complexity.all.cyclomatic.mean, 1), int(f.rejections.contaminated),
  ];
  return section(
    'cumulative',
    'Cumulative',
    table(
      ['Run', 'Samples', 'Tasks', 'Pass rate', 'Leaf coverage', 'distinct-2', 'Embedding distance', 'Lines', 'Cyclomatic', 'Contaminated'],
      [...c.runs.map((x) => row(`<code>${esc(x.run)}</code>`, x.figures)), row('<b>all runs</b>', c.total)],
      { numeric: [1, 2, 3, 4, 5, 6, 7, 8, 9] },
    ) + note('“All runs” counts each sample and task once by id; coverage is against this run’s tree.'),
  );
}

const CSS = `
:root { --fg:#1f2430; --muted:#667085; --line:#e4e7ec; --bg:#f6f7f9; --card:#fff; --accent:#3b6fb6; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:var(--fg); background:var(--bg); }
header { background:#1f2a44; color:#fff; padding:20px 32px; }
header h1 { margin:0 0 4px; font-size:20px; font-weight:600; }
header .meta { color:#c7cfe0; font-size:13px; }
header code { color:#fff; background:rgba(255,255,255,.14); }
nav { background:#fff; border-bottom:1px solid var(--line); padding:8px 32px; position:sticky; top:0; z-index:5; }
nav a { color:var(--accent); text-decoration:none; margin-right:16px; font-size:13px; }
main { max-width:1180px; margin:0 auto; padding:20px 32px 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:18px 22px; margin:18px 0; }
h2 { font-size:17px; margin:0 0 10px; }
h3 { font-size:14px; margin:16px 0 8px; color:#344054; }
.lead { margin:4px 0 10px; }
.note { color:var(--muted); font-size:12.5px; margin:6px 0; }
.muted { color:var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12.5px; background:#f2f4f7; padding:1px 4px; border-radius:3px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(120px, 1fr)); gap:12px; margin-top:4px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card-label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card-value { font-size:24px; font-weight:600; margin-top:2px; }
.card-sub { color:var(--muted); font-size:12px; }
table.data, table.kv { border-collapse:collapse; width:100%; margin:4px 0 8px; }
table.kv { width:auto; min-width:360px; }
table.data th, table.data td, table.kv td, table.kv th { border-bottom:1px solid var(--line); padding:5px 8px; text-align:left; vertical-align:top; }
table.data th { background:#f9fafb; font-weight:600; font-size:12.5px; color:#475467; }
table.kv thead { display:none; }
table td.num, table th.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
table code { white-space:nowrap; }
table.wrap td { white-space:normal; }
.detail { color:#475467; font-size:12.5px; }
.two { display:grid; grid-template-columns: 1fr 1fr; gap:24px; }
@media (max-width: 900px) { .two { grid-template-columns:1fr; } }
.chart { max-width:100%; height:auto; }
.chart-label { font-size:12px; fill:#344054; }
.chart-value { font-size:12px; fill:#344054; font-variant-numeric: tabular-nums; }
.chart-track { fill:#f2f4f7; }
.axis { stroke:#c9ced6; }
.legend { display:flex; flex-wrap:wrap; gap:6px 14px; align-items:center; font-size:12.5px; margin:4px 0 8px; }
.legend-item { display:inline-flex; align-items:center; }
.swatch { display:inline-block; width:12px; height:12px; border-radius:2px; margin-right:5px; vertical-align:-1px; border:1px solid rgba(0,0,0,.08); }
.toolbar { display:flex; align-items:center; gap:10px; margin:8px 0; }
.toolbar-label { color:var(--muted); font-size:12.5px; }
.segmented button { border:1px solid #c9ced6; background:#fff; padding:5px 12px; font:inherit; font-size:13px; cursor:pointer; margin-left:-1px; }
.segmented button:first-child { border-radius:6px 0 0 6px; margin-left:0; }
.segmented button:last-child { border-radius:0 6px 6px 0; }
.segmented button[aria-pressed="true"] { background:var(--accent); color:#fff; border-color:var(--accent); }
.segmented button:disabled { color:#98a2b3; cursor:not-allowed; }
.crumbs { font-size:13px; min-height:22px; }
.crumb { border:0; background:none; color:var(--accent); cursor:pointer; padding:0 2px; font:inherit; }
.crumb:last-child { color:var(--fg); font-weight:600; }
.tree-wrap { display:flex; gap:24px; align-items:flex-start; flex-wrap:wrap; }
.sunburst { position:relative; width:620px; max-width:100%; }
.sunburst-svg { width:100%; height:auto; display:block; }
.sunburst .seg { stroke:#fff; stroke-width:1; cursor:default; }
.sunburst .seg.has-kids { cursor:zoom-in; }
.sunburst .seg:hover { stroke:#1f2430; stroke-width:1.5; }
.sunburst .centre { cursor:zoom-out; stroke:#fff; }
.seg-label { font-size:10.5px; fill:#fff; paint-order:stroke; stroke:rgba(0,0,0,.25); stroke-width:2px; }
.seg-label.on-light { fill:#1f2430; stroke:none; }
.centre-label { font-size:13px; font-weight:600; fill:#fff; paint-order:stroke; stroke:rgba(0,0,0,.35); stroke-width:2.5px; }
.tree-side { flex:1; min-width:240px; }
.tip { position:absolute; z-index:10; pointer-events:none; background:#fff; border:1px solid #c9ced6; border-radius:6px; box-shadow:0 4px 14px rgba(16,24,40,.14); padding:8px 10px; width:270px; font-size:12.5px; }
.tip-path { color:var(--muted); font-size:11.5px; }
.tip-label { font-weight:600; margin:2px 0 4px; }
.tip table { border-collapse:collapse; }
.tip th { text-align:left; color:var(--muted); font-weight:normal; padding:1px 10px 1px 0; vertical-align:top; }
footer { color:var(--muted); font-size:12.5px; padding:0 0 30px; }
`;

/** The page. `picture` is the tree for the sunburst (null: no tree.json). */
export function renderReport(r: QualityReport, picture: ClientNode | null): string {
  const f = r.figures;
  const navItems: Array<[string, string]> = [
    ['tree', 'Tree'], ['throughput', 'Throughput'], ['tokens', 'Tokens'], ['pass-rates', 'Pass rates'], ['adequacy', 'Test adequacy'], ['complexity', 'Complexity'],
    ['diversity', 'Diversity'], ['judge', 'Judge'], ...(r.student ? [['student', 'Student'] as [string, string]] : []), ['rejections', 'Rejections'], ['lineage', 'Lineage'], ...(r.cumulative ? [['cumulative', 'Cumulative'] as [string, string]] : []),
  ];
  const problems = f.counts.unreadable > 0 ? note(`${int(f.counts.unreadable)} lines of the run’s files were not valid records and were skipped.`) : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>treesynth report · ${esc(r.run)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>treesynth quality report</h1><div class="meta">Run <code>${esc(r.run)}</code> · started ${esc(r.throughput.startedAt ?? 'at an unrecorded time')} · report written ${esc(r.generatedAt)}</div></header>
<nav>${navItems.map(([id, label]) => `<a href="#${id}">${esc(label)}</a>`).join('')}</nav>
<main>
${headline(r)}
${problems}
${treeSection(r, picture)}
${throughputSection(r)}
${tokensSection(r)}
${passSection(f)}
${adequacySection(f)}
${complexitySection(f)}
${diversitySection(f)}
${judgeSection(r)}
${studentSection(r)}
${rejectionSection(f)}
${lineageSection(f)}
${cumulativeSection(r)}
<footer>${r.notes.map((n) => esc(n)).join('<br>')}${r.notes.length > 0 ? '<br>' : ''}Every figure on this page is in <code>quality.json</code> next to it.</footer>
</main>
<script type="application/json" id="treesynth-data">${scriptJson({ tree: picture })}</script>
<script>${SUNBURST_SCRIPT}</script>
</body>
</html>
`;
}
