// Small static charts as inline SVG, drawn when the report is written: they need no script at
// view time and print as they look.
import type { Timeline } from '../quality/run-figures.js';

export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Bar {
  label: string;
  value: number | null;
  /** Shown right of the bar instead of the formatted value. */
  note?: string;
}

/** Horizontal bars, one per row, on a shared scale from 0 to `max`. */
export function barChart(bars: readonly Bar[], options: { max: number; format: (v: number) => string; colour?: string; labelWidth?: number }): string {
  if (bars.length === 0) return '';
  const labelWidth = options.labelWidth ?? 150;
  const barWidth = 300;
  const row = 24;
  const width = labelWidth + barWidth + 120;
  const height = bars.length * row + 4;
  const colour = options.colour ?? '#3b6fb6';
  const parts = bars.map((b, i) => {
    const y = i * row + 2;
    const w = b.value === null || options.max <= 0 ? 0 : Math.max(b.value > 0 ? 1 : 0, Math.round((Math.min(b.value, options.max) / options.max) * barWidth));
    const text = b.note ?? (b.value === null ? 'n/a' : options.format(b.value));
    return (
      `<text x="${labelWidth - 8}" y="${y + row / 2}" text-anchor="end" dominant-baseline="central" class="chart-label">${esc(b.label)}</text>` +
      `<rect x="${labelWidth}" y="${y + 4}" width="${barWidth}" height="${row - 8}" class="chart-track"/>` +
      `<rect x="${labelWidth}" y="${y + 4}" width="${w}" height="${row - 8}" fill="${colour}" rx="2"/>` +
      `<text x="${labelWidth + barWidth + 8}" y="${y + row / 2}" dominant-baseline="central" class="chart-value">${esc(text)}</text>`
    );
  });
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${parts.join('')}</svg>`;
}

const SERIES_COLOURS = ['#3b6fb6', '#e07b24', '#c23b3b', '#2f9e6a', '#8a5cc2', '#6b7280'];

/** A span in the largest unit that keeps it readable, rounded to at most one decimal. */
function duration(ms: number): string {
  const round = (x: number) => String(Math.round(x * 10) / 10);
  if (ms < 1000) return `${round(ms)} ms`;
  if (ms < 60_000) return `${round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${round(ms / 60_000)} min`;
  return `${round(ms / 3_600_000)} h`;
}

/** Records per time bucket as lines, one per series, with the time span along the bottom. */
export function timelineChart(t: Timeline): string {
  const names = Object.keys(t.series).filter((n) => t.series[n]!.some((v) => v > 0));
  if (names.length === 0 || t.buckets === 0) return '';
  const width = 640;
  const height = 200;
  const left = 48;
  const bottom = 28;
  const plotW = width - left - 12;
  const plotH = height - bottom - 10;
  let max = 1;
  for (const n of names) for (const v of t.series[n]!) max = Math.max(max, v);
  const x = (i: number) => left + (t.buckets === 1 ? plotW / 2 : (i / (t.buckets - 1)) * plotW);
  const y = (v: number) => 10 + plotH - (v / max) * plotH;
  const lines = names.map((n, k) => {
    const pts = t.series[n]!.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const colour = SERIES_COLOURS[k % SERIES_COLOURS.length]!;
    return t.buckets === 1
      ? `<circle cx="${x(0)}" cy="${y(t.series[n]![0]!)}" r="4" fill="${colour}"/>`
      : `<polyline points="${pts}" fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round"/>`;
  });
  const legend = names
    .map((n, k) => `<span class="legend-item"><span class="swatch" style="background:${SERIES_COLOURS[k % SERIES_COLOURS.length]}"></span>${esc(n)} per ${esc(duration(t.bucketMs))}</span>`)
    .join('');
  const startText = new Date(t.start).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const endText = `+${duration(t.bucketMs * t.buckets)}`;
  return (
    `<div class="legend">${legend}</div>` +
    `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">` +
    `<line x1="${left}" y1="${10 + plotH}" x2="${left + plotW}" y2="${10 + plotH}" class="axis"/>` +
    `<line x1="${left}" y1="10" x2="${left}" y2="${10 + plotH}" class="axis"/>` +
    `<text x="${left - 6}" y="14" text-anchor="end" class="chart-label">${max}</text>` +
    `<text x="${left - 6}" y="${10 + plotH}" text-anchor="end" class="chart-label">0</text>` +
    `<text x="${left}" y="${height - 8}" class="chart-label">${esc(startText)}</text>` +
    `<text x="${left + plotW}" y="${height - 8}" text-anchor="end" class="chart-label">${esc(endText)}</text>` +
    lines.join('') +
    `</svg>`
  );
}

/** Series sampled at points in time (Kafka mode's lag), as lines on one chart. */
export function pointsChart(series: Record<string, Array<[number, number]>>): string {
  const names = Object.keys(series).filter((n) => series[n]!.length > 0);
  if (names.length === 0) return '';
  let t0 = Infinity;
  let t1 = -Infinity;
  let max = 1;
  for (const n of names) {
    for (const [t, v] of series[n]!) {
      t0 = Math.min(t0, t);
      t1 = Math.max(t1, t);
      max = Math.max(max, v);
    }
  }
  const width = 640;
  const height = 200;
  const left = 56;
  const plotW = width - left - 12;
  const plotH = height - 38;
  const x = (t: number) => left + (t1 === t0 ? plotW / 2 : ((t - t0) / (t1 - t0)) * plotW);
  const y = (v: number) => 10 + plotH - (v / max) * plotH;
  const lines = names.map((n, k) => {
    const pts = [...series[n]!].sort((a, b) => a[0] - b[0]).map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    return `<polyline points="${pts}" fill="none" stroke="${SERIES_COLOURS[k % SERIES_COLOURS.length]}" stroke-width="2"/>`;
  });
  const legend = names.map((n, k) => `<span class="legend-item"><span class="swatch" style="background:${SERIES_COLOURS[k % SERIES_COLOURS.length]}"></span>${esc(n)}</span>`).join('');
  return (
    `<div class="legend">${legend}</div><svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">` +
    `<line x1="${left}" y1="${10 + plotH}" x2="${left + plotW}" y2="${10 + plotH}" class="axis"/>` +
    `<text x="${left - 6}" y="14" text-anchor="end" class="chart-label">${max}</text>` +
    `<text x="${left}" y="${height - 8}" class="chart-label">${esc(new Date(t0).toISOString())}</text>` +
    lines.join('') +
    `</svg>`
  );
}
