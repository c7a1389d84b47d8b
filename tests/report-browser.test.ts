// The report page in headless Chromium (Debian's `chromium`, driven by playwright-core): it loads
// from a file with no console errors and no network, the sunburst renders, hovering shows the
// tooltip, the colour toggle and zoom work. TREESYNTH_REPORT_SCREENSHOT=<file.png> keeps a picture.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../report/build.js';
import { writeFixtureRun } from './report-fixture.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let dir: string;
let browser: Browser;
let page: Page;
const problems: string[] = [];
const fetched: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium), or set CHROMIUM_PATH`);
  dir = mkdtempSync(join(tmpdir(), 'treesynth-browser-'));
  writeFixtureRun(join(dir, 'run'), { samples: 40 });
  const { html } = await writeReport(join(dir, 'run'), { price: { input: 0.15, output: 0.6 } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) fetched.push(r.url());
  });
  await page.goto(`file://${html}`, { waitUntil: 'load' });
});

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('report page in Chromium', () => {
  it('loads with no console errors and fetches nothing from the network', () => {
    expect(problems).toEqual([]);
    expect(fetched).toEqual([]);
  });

  it('draws the feature tree as many sunburst segments', async () => {
    const segments = await page.locator('#sunburst path.seg').count();
    // 7 categories, their children and grandchildren of the fixture tree (4 rings shown).
    expect(segments).toBeGreaterThan(50);
    expect(Number(await page.locator('#sunburst svg').getAttribute('data-segments'))).toBe(segments);
    expect(await page.locator('#sunburst text.seg-label').count()).toBeGreaterThan(5);
  });

  it('hovering a segment shows its label, frequency and origin in the tooltip', async () => {
    const tip = page.locator('#tree-tip');
    expect(await tip.isHidden()).toBe(true);
    await page.locator('#sunburst path.seg').first().hover();
    await expect.poll(() => tip.isVisible()).toBe(true);
    const text = await tip.innerText();
    expect(text).toMatch(/frequency/);
    expect(text).toMatch(/origin\s+(extracted|evolved)/);
    expect(text).toMatch(/samples\s+\d+/);
    // The first category of the fixture has aliases.
    expect(text).toContain('error handling');
    await page.mouse.move(5, 5);
    await expect.poll(() => tip.isHidden()).toBe(true);
  });

  it('colours by origin, then by coverage when toggled', async () => {
    const fills = () => page.locator('#sunburst path.seg').evaluateAll((els) => els.map((e) => e.getAttribute('fill') ?? ''));
    const byOrigin = await fills();
    expect(byOrigin.some((f) => f.startsWith('hsl(27,'))).toBe(true); // evolved
    expect(byOrigin.some((f) => f.startsWith('hsl(213,'))).toBe(true); // extracted
    await page.click('[data-colour-mode="samples"]');
    const byCoverage = await fills();
    expect(byCoverage.some((f) => f.startsWith('hsl(152,'))).toBe(true); // used by samples
    expect(byCoverage.some((f) => f === '#e4e6eb')).toBe(true); // used by none
    expect(await page.locator('[data-colour-mode="samples"]').getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('#tree-legend').innerText()).toMatch(/used by no sample/);
  });

  it('zooms into a segment on click and back out from the centre', async () => {
    const before = await page.locator('#sunburst path.seg').count();
    await page.locator('#sunburst path.seg.has-kids').first().click();
    await expect.poll(() => page.locator('#tree-crumbs .crumb').count()).toBe(2);
    expect(await page.locator('#sunburst path.seg').count()).toBeLessThan(before);
    await page.locator('#sunburst circle.centre').click();
    await expect.poll(() => page.locator('#tree-crumbs .crumb').count()).toBe(1);
    expect(problems).toEqual([]);
  });

  it('shows the figures a person looks for', async () => {
    const text = await page.locator('main').innerText();
    for (const heading of ['Feature tree', 'Throughput and lag', 'Tokens and cost per stage', 'Pass rates', 'Complexity of the solutions', 'Diversity', 'LLM judge', 'Top rejected reasons']) {
      expect(text).toContain(heading);
    }
    await page.evaluate('window.scrollTo(0, 0)');
    const shot = process.env['TREESYNTH_REPORT_SCREENSHOT'];
    if (shot) await page.screenshot({ path: shot, fullPage: true });
  });
});
