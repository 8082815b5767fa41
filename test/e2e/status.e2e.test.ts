// The status page as a person sees it: a real `wrangler dev` (own port, own --persist-to state) seeded with a week of
// windows and the status scenario (scripts/seed-status.ts), opened in real headless Chromium at 1440 and 375 px.
// The fixture model test/fixtures/models/xss-label (its label is an HTML injection) is built into the served bundle;
// the registry without it is regenerated right after the build and again in afterAll.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyStatements, statusScenario } from '../../scripts/seed-status';
import type { ModelMetadata } from '../../src/serving/metadata';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = join(root, 'test/artifacts');
const state = join(artifacts, 'e2e-state');
const build = join(artifacts, 'e2e-build');
const PORT = 8795;
const INSPECTOR_PORT = 8796;
const BASE = `http://127.0.0.1:${PORT}`;
const XSS_LABEL = '<img src=x onerror=alert(1)>';
/** Windows of the detailed scenario per model; a week of healthy history continues right behind them. */
const SCENARIO_WINDOWS = 57;
const WEEK = 7 * 1440;
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const quiet = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };
const exec = promisify(execFile);
const run = (command: string, args: string[], env: NodeJS.ProcessEnv = quiet) =>
  exec(command, args, { cwd: root, env, maxBuffer: 64 * 1024 * 1024 });
const bin = (name: string) => join(root, 'node_modules/.bin', name);
const wrangler = (...args: string[]) => run(bin('wrangler'), args);
const restoreRegistry = () => run(bin('tsx'), ['scripts/generate-registry.ts'], { ...quiet, LABELWATCH_EXTRA_MODELS: '' });

function metadataIn(dir: string): ModelMetadata[] {
  return readdirSync(dir)
    .filter((e) => statSync(join(dir, e)).isDirectory())
    .map((e) => JSON.parse(readFileSync(join(dir, e, 'metadata.json'), 'utf8')) as ModelMetadata);
}

let server: ChildProcess | undefined;
let browser: Browser;
/** Starts of every seeded window of each model (all models get the same one-minute grid). */
let seededStarts: number[] = [];

/** Seeded windows inside the range the page says it drew: what the bar count must be. */
async function windowsInChart(chart: Locator): Promise<number> {
  const from = Number(await chart.getAttribute('data-from'));
  const to = Number(await chart.getAttribute('data-to'));
  return seededStarts.filter((s) => s >= from && s < to).length;
}

async function waitForServer(deadline: number) {
  while (Date.now() < deadline) {
    if (server?.exitCode !== null && server?.exitCode !== undefined) throw new Error(`wrangler dev exited (${server.exitCode}); see test/artifacts/e2e-wrangler.log`);
    try {
      if ((await fetch(`${BASE}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('wrangler dev did not answer /health in time; see test/artifacts/e2e-wrangler.log');
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  rmSync(state, { recursive: true, force: true });
  // Build once with the fixture model in the registry, then put the normal registry back at once: the served
  // bundle is fixed for the run, so neither the fixture leaks into others' runs nor their edits into this one.
  rmSync(build, { recursive: true, force: true });
  try {
    await run(bin('tsx'), ['scripts/generate-registry.ts'], { ...quiet, LABELWATCH_EXTRA_MODELS: 'test/fixtures/models' });
    await wrangler('deploy', '--dry-run', '--outdir', build);
  } finally {
    await restoreRegistry();
  }
  await wrangler('d1', 'migrations', 'apply', 'labelwatch', '--local', '--persist-to', state);

  const models = [...metadataIn(join(root, 'models')), ...metadataIn(join(root, 'test/fixtures/models'))];
  const now = Math.floor(Date.now() / 1000);
  seededStarts = Array.from({ length: WEEK }, (_, k) => (Math.floor(now / 60) - (k + 1)) * 60);
  const seed = join(artifacts, 'e2e-seed.sql');
  writeFileSync(
    seed,
    [
      ...statusScenario(models, { now, windows: SCENARIO_WINDOWS }),
      ...historyStatements(models, { now, fromWindow: SCENARIO_WINDOWS + 1, toWindow: WEEK }),
    ].join('\n'),
  );
  await wrangler('d1', 'execute', 'labelwatch', '--local', '--persist-to', state, '--file', seed);

  const log = createWriteStream(join(artifacts, 'e2e-wrangler.log'));
  server = spawn(
    bin('wrangler'),
    ['dev', join(build, 'index.js'), '--no-bundle', '--ip', '127.0.0.1', '--port', String(PORT), '--inspector-port', String(INSPECTOR_PORT), '--persist-to', state],
    { cwd: root, env: quiet, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout!.pipe(log);
  server.stderr!.pipe(log);
  await waitForServer(Date.now() + 120_000);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
});

afterAll(async () => {
  await browser?.close();
  // wrangler runs workerd as a child: end the whole process group it leads.
  if (server?.pid) {
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await restoreRegistry();
});

// These two run inside the page. The project compiles without the DOM library (a Worker has no DOM), hence `any`.
function navigationTiming(): { ttfb: number; load: number; bytes: number } {
  const nav = (globalThis as any).performance.getEntriesByType('navigation')[0];
  return { ttfb: Math.round(nav.responseStart - nav.requestStart), load: Math.round(nav.loadEventEnd - nav.startTime), bytes: nav.transferSize };
}
function pageWidths(): { scrollWidth: number; innerWidth: number } {
  const page = globalThis as any;
  return { scrollWidth: page.document.scrollingElement.scrollWidth, innerWidth: page.innerWidth };
}

/** Opens a page at a width and logs how long the server and the browser took (logged, not asserted). */
async function open(path: string, width: number): Promise<{ page: Page; dialogs: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const started = Date.now();
  const response = await page.goto(`${BASE}${path}`, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  const timing = await page.evaluate(navigationTiming);
  console.log(
    `${path} @${width}px: ${Date.now() - started} ms to load (server ${response?.headers()['server-timing']}, ttfb ${timing.ttfb} ms, ` +
      `load event ${timing.load} ms, ${timing.bytes} bytes)`,
  );
  return { page, dialogs };
}

const penguins = (page: Page) => page.locator('article.model[data-model="penguins"]');

describe('status page in Chromium', () => {
  it('at 1440 px: one bar per window, the collapse marked, the incident explained', async () => {
    const { page, dialogs } = await open('/', 1440);
    const bars = await penguins(page).locator('svg g.bar').count();
    expect(bars).toBe(await windowsInChart(penguins(page).locator('figure.chart')));
    expect(bars).toBeGreaterThanOrEqual(SCENARIO_WINDOWS);

    const marker = penguins(page).locator('.flag.f-collapsed');
    expect(await marker.isVisible()).toBe(true);
    expect((await marker.textContent())?.trim()).toBe('C');
    expect(await marker.getAttribute('aria-label')).toMatch(/^collapsed: 13 windows/);
    for (const flag of ['f-partial_collapse', 'f-no_traffic', 'f-insufficient_data'])
      expect(await penguins(page).locator(`.flag.${flag}`).isVisible(), flag).toBe(true);

    const incident = page.locator('article.incident[data-model="penguins"]');
    expect(await incident.isVisible()).toBe(true);
    expect(await incident.textContent()).toContain('Inputs not scaled as in training');
    expect(await incident.textContent()).toContain('Apply the training scaler');
    expect(await incident.locator('.headline').textContent()).toMatch(/Top label Gentoo: \d+% before → 9\d(\.\d)?% since/);

    // Hovering a bar tells its window, n and shares.
    const title = await penguins(page).locator('svg g.bar[data-verdict="collapsed"] title').first().textContent();
    expect(title).toMatch(/UTC · 1 window · n=\d+\n.+: [\d.]+% \(\d+\)/);

    for (const status of ['delivered', 'retrying', 'dead', 'pending'])
      expect(await page.locator(`table.deliveries tr[data-status="${status}"]`).count(), status).toBe(1);
    expect(dialogs).toEqual([]);

    await page.screenshot({ path: join(artifacts, 'status-1440.png'), fullPage: true });
    // The README's picture: the banner, the incident and the first row of charts with the collapse.
    const firstCard = (await page.locator('article.model').first().boundingBox())!;
    // Written under test/artifacts/ on every run; UPDATE_README_SCREENSHOT=1 also replaces docs/status-page.png.
    const readmeShot = join(root, process.env.UPDATE_README_SCREENSHOT ? 'docs/status-page.png' : 'test/artifacts/status-page.png');
    await page.screenshot({
      path: readmeShot,
      fullPage: true,
      clip: { x: 0, y: 0, width: 1440, height: Math.ceil(firstCard.y + firstCard.height + 16) },
    });
    expect(statSync(readmeShot).size).toBeLessThan(300 * 1024);
    await page.close();
  });

  it('shows an injected label as inert text', async () => {
    for (const path of ['/', '/models/xss-label']) {
      const { page, dialogs } = await open(path, 1440);
      expect(await page.locator('img').count()).toBe(0);
      // The legend entry (bar <title>s carry it too, but they are never drawn).
      const label = page.locator('.legend li', { hasText: XSS_LABEL }).first();
      expect(await label.isVisible()).toBe(true);
      // Give a would-be onerror handler its chance to fire.
      await page.waitForTimeout(300);
      expect(dialogs).toEqual([]);
      await page.close();
    }
  });

  it('at 375 px: no horizontal scroll, markers still there', async () => {
    for (const path of ['/', '/?range=7d', '/models/penguins']) {
      const { page } = await open(path, 375);
      const { scrollWidth, innerWidth } = await page.evaluate(pageWidths);
      expect(scrollWidth, path).toBeLessThanOrEqual(innerWidth);
      expect(await penguins(page).locator('.flag.f-collapsed').isVisible(), path).toBe(true);
      const name = path === '/' ? 'status-375' : path === '/?range=7d' ? 'status-7d-375' : 'model-375';
      await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
      await page.close();
    }
  });

  it('merges a week of one-minute windows into at most 180 bars a model', async () => {
    const { page } = await open('/?range=7d', 1440);
    for (const model of await page.locator('article.model').all()) {
      const bars = await model.locator('svg g.bar').count();
      expect(bars).toBeGreaterThan(150);
      expect(bars).toBeLessThanOrEqual(180);
    }
    expect(await penguins(page).locator('svg g.bar[data-verdict="collapsed"]').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(artifacts, 'status-7d-1440.png'), fullPage: true });
    await page.close();
  });

  it('shows one model with its inputs against training', async () => {
    const { page } = await open('/models/penguins', 1440);
    expect(await penguins(page).locator('svg g.bar').count()).toBe(await windowsInChart(penguins(page).locator('figure.chart')));
    expect(await page.locator('.feature').count()).toBe(4);
    expect(await page.locator('.feature[data-feature="body_mass_g"] .shifted').first().textContent()).toMatch(/σ from training/);
    await page.screenshot({ path: join(artifacts, 'model-1440.png'), fullPage: true });
    await page.close();
  });
});
