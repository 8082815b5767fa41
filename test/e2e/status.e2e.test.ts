// The status page as a person sees it: a real `wrangler dev` (own port, own --persist-to state) seeded with a week of
// windows and the status scenario (scripts/seed-status.ts), opened in real headless Chromium at 1440, 390 and 375 px.
// The fixture models in test/fixtures/models are built into the served bundle: xss-label (its label is an HTML
// injection), penguins-10s (10-second windows, seeded with a 13-window collapse) and penguins-live (5-second windows,
// fed by a real replay of a collapse and its recovery while the cron is fired by hand, with a verifying webhook
// receiver on 127.0.0.1). The registry without them is regenerated right after the build and again in afterAll.
// A second, short-lived server on a copy of the seeded state runs with STATUS_TOKEN, as production does: what an
// alert's link opens in a browser without the cookie (the token form), and an unknown incident.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startReceiver, type Receiver } from '../../scripts/demo/receiver';
import { replay } from '../../scripts/replay/run';
import { parseFault } from '../../scripts/replay/data';
import { historyStatements, statusScenario } from '../../scripts/seed-status';
import type { ModelMetadata } from '../../src/serving/metadata';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = join(root, 'test/artifacts');
const state = join(artifacts, 'e2e-state');
const build = join(artifacts, 'e2e-build');
const PORT = 8795;
const INSPECTOR_PORT = 8796;
const BASE = `http://127.0.0.1:${PORT}`;
/** A second server on a copy of the seeded state, with STATUS_TOKEN set: the page as production serves it. */
const GUARDED_PORT = 8805;
const GUARDED_INSPECTOR_PORT = 8806;
const GUARDED = `http://127.0.0.1:${GUARDED_PORT}`;
const guardedState = join(artifacts, 'e2e-state-guarded');
const STATUS_TOKEN = `status-${randomBytes(12).toString('hex')}`;
const XSS_LABEL = '<img src=x onerror=alert(1)>';
/** Labels as long as metadata allows, without a space: snake_case class names that no browser breaks by itself. */
const LONG_LABELS = ['Adelie', 'Chinstrap', 'Gentoo'].map((l) => `${l}_${'very_long_snake_case_class_name_'.repeat(6)}`.slice(0, 200));
const LONG_MODEL = 'long-labels';
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

/** The penguins package with LONG_LABELS for its labels. */
function longLabelled(m: ModelMetadata): ModelMetadata {
  const rename = <T,>(byLabel: Record<string, T>) => Object.fromEntries(Object.entries(byLabel).map(([l, v]) => [LONG_LABELS[m.labels.indexOf(l)]!, v]));
  return {
    ...m,
    name: LONG_MODEL,
    labels: LONG_LABELS,
    training: { ...m.training, label_counts: rename(m.training.label_counts), ...(m.training.class_weight ? { class_weight: rename(m.training.class_weight) } : {}) },
    ...(m.reference ? { reference: { ...m.reference, label_counts: rename(m.reference.label_counts) } } : {}),
    probes: m.probes.map((p) => ({ ...p, label: LONG_LABELS[m.labels.indexOf(p.label)]! })),
  };
}

let server: ChildProcess | undefined;
let browser: Browser;
let receiver: Receiver;
const secrets = {
  alert: `whsec_${randomBytes(24).toString('base64')}`,
  retrain: `whsec_${randomBytes(24).toString('base64')}`,
  pagerDutyRoutingKey: 'unused',
};
/** Seeded windows of an unserved model: one minute of five busy 10-s windows and one idle one. */
let busyMinute = 0;
/** Models with their own seeding (not the week of one-minute history). */
const OWN_SEED = ['xss-label', 'penguins-10s', 'penguins-live', LONG_MODEL];
/** Starts of every seeded window of each model (all models get the same one-minute grid). */
let seededStarts: number[] = [];

/** Seeded windows inside the range the page says it drew: what the bar count must be. */
async function windowsInChart(chart: Locator): Promise<number> {
  const from = Number(await chart.getAttribute('data-from'));
  const to = Number(await chart.getAttribute('data-to'));
  return seededStarts.filter((s) => s >= from && s < to).length;
}

/** `wrangler dev` of the built bundle on `port`, with its own state and vars (an env file, like the demo's: it also
 * keeps a developer's .dev.vars out of the run), logged to test/artifacts/<name>.log. */
function startServer(name: string, port: number, inspectorPort: number, persistTo: string, vars: Record<string, string>): ChildProcess {
  const envFile = join(artifacts, `${name}.env`);
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  const log = createWriteStream(join(artifacts, `${name}.log`));
  const child = spawn(
    bin('wrangler'),
    [
      'dev',
      join(build, 'index.js'),
      '--no-bundle',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspectorPort),
      '--persist-to',
      persistTo,
      '--env-file',
      envFile,
    ],
    { cwd: root, env: quiet, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

async function waitForServer(child: ChildProcess, base: string, name: string, deadline: number) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}); see test/artifacts/${name}.log`);
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`wrangler dev did not answer /health in time; see test/artifacts/${name}.log`);
}

/** wrangler runs workerd as a child: end the whole process group it leads. */
function stopServer(child: ChildProcess | undefined) {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
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

  const fixtures = metadataIn(join(root, 'test/fixtures/models'));
  const models = [...metadataIn(join(root, 'models')), ...fixtures.filter((m) => m.name === 'xss-label')];
  const byName = (name: string) => fixtures.find((m) => m.name === name)!;
  const now = Math.floor(Date.now() / 1000);
  seededStarts = Array.from({ length: WEEK }, (_, k) => (Math.floor(now / 60) - (k + 1)) * 60);
  busyMinute = Math.floor(now / 60) * 60 - 240;
  const busy = Array.from({ length: 6 }, (_, k) =>
    k < 5 ? `('busy', '1', ${busyMinute + 10 * k}, 10, 66, 1, 'healthy')` : `('busy', '1', ${busyMinute + 50}, 10, 0, 1, 'no_traffic')`,
  );
  const seed = join(artifacts, 'e2e-seed.sql');
  writeFileSync(
    seed,
    [
      ...statusScenario(models.filter((m) => m.name !== 'xss-label'), { now, windows: SCENARIO_WINDOWS }),
      // The injected label collapses too (its partial collapse loses the injected label), so it is on every new page.
      ...statusScenario([byName('xss-label')], { now, windows: SCENARIO_WINDOWS, seed: 7 }),
      ...statusScenario([byName('penguins-10s')], { now, windows: SCENARIO_WINDOWS, windowSeconds: 10, seed: 9 }),
      // Windows and a collapse of a model with long labels (stored only, not served), for the narrow screens.
      ...statusScenario([longLabelled(models.find((m) => m.name === 'penguins')!)], { now, windows: SCENARIO_WINDOWS, seed: 11 }),
      ...historyStatements(models, { now, fromWindow: SCENARIO_WINDOWS + 1, toWindow: WEEK }),
      `INSERT INTO windows (model, version, start, length, n, closed, verdict) VALUES ${busy.join(', ')};`,
    ].join('\n'),
  );
  await wrangler('d1', 'execute', 'labelwatch', '--local', '--persist-to', state, '--file', seed);
  // Copied before any server opens it: the guarded server starts from the same seeded data.
  rmSync(guardedState, { recursive: true, force: true });
  cpSync(state, guardedState, { recursive: true });

  receiver = await startReceiver(secrets);
  const vars = {
    PUBLIC_URL: BASE,
    ALERT_WEBHOOK_URL: `${receiver.url}/alert`,
    ALERT_WEBHOOK_SECRET: secrets.alert,
    RETRAIN_WEBHOOK_URL: `${receiver.url}/retrain`,
    RETRAIN_WEBHOOK_SECRET: secrets.retrain,
    // Windows are judged a few seconds after they end (the cron is fired by hand), as in the demo.
    FLUSH_GRACE_SECONDS: '1',
    CLOSE_MARGIN_SECONDS: '4',
    DELIVERY_BACKOFF_BASE_SECONDS: '1',
    // The replayed recovery resolves its incident within the test, as in the demo: no quiet period (production: 3 h).
    RESOLVE_QUIET_MINUTES: '0',
  };
  server = startServer('e2e-wrangler', PORT, INSPECTOR_PORT, state, vars);
  await waitForServer(server, BASE, 'e2e-wrangler', Date.now() + 120_000);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  stopServer(server);
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
  // Five agents share two cores here: a page may take a while, which is logged below, not asserted.
  page.setDefaultNavigationTimeout(120_000);
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
    for (const flag of ['f-partial_collapse', 'f-insufficient_data'])
      expect(await penguins(page).locator(`.flag.${flag}`).isVisible(), flag).toBe(true);
    // The idle window is drawn, not flagged (penguins is not configured to expect traffic).
    expect(await penguins(page).locator('.flag.f-no_traffic').count()).toBe(0);
    expect(await penguins(page).locator('svg g.bar[data-verdict="no_traffic"]').count()).toBe(1);

    const incident = page.locator('article.incident[data-model="penguins"]');
    expect(await incident.isVisible()).toBe(true);
    expect(await incident.textContent()).toContain('Inputs not scaled as in training');
    expect(await incident.textContent()).toContain('Apply the training scaler');
    expect(await incident.locator('.headline').textContent()).toMatch(/Top label Gentoo: \d+% before → 9\d(\.\d)?% while flagged\./);

    // Hovering a bar tells its window, n and shares.
    const title = await penguins(page).locator('svg g.bar[data-verdict="collapsed"] title').first().textContent();
    expect(title).toMatch(/UTC · 1 window · n=\d+\n.+: [\d.]+% \(\d+\)/);

    for (const status of ['delivered', 'retrying', 'dead', 'pending'])
      expect(await page.locator(`table.deliveries tr[data-status="${status}"]`).count(), status).toBeGreaterThanOrEqual(1);
    expect(dialogs).toEqual([]);

    await page.screenshot({ path: join(artifacts, 'status-1440.png'), fullPage: true });
    await page.close();
  });

  it('the incident page: timeline, windows, shares, diagnosis and the retraining request (the README picture)', async () => {
    const { page: main } = await open('/', 1440);
    const href = await penguins(main).locator('a.pill[href^="/incidents/"]').getAttribute('href');
    await main.close();
    const { page, dialogs } = await open(href!, 1440);
    expect(await page.locator('article.incident[data-model="penguins"]').isVisible()).toBe(true);
    const kinds = await page.locator('ol.timeline li').evaluateAll((items) => items.map((li) => (li as any).dataset.kind));
    expect(kinds[0]).toBe('window');
    expect(kinds).toContain('opened');
    expect(kinds.filter((k: string) => k === 'delivery')).toHaveLength(4);
    expect(await page.locator('figure.chart.tall svg g.bar[data-verdict="collapsed"]').count()).toBe(13);
    expect(await page.locator('article.incident').textContent()).toContain('Apply the training scaler');
    expect(dialogs).toEqual([]);
    await page.screenshot({ path: join(artifacts, 'incident-1440.png'), fullPage: true });
    // The README's picture: the incident as on-call lands on it, down to its windows chart.
    const chart = (await page.locator('article.model').boundingBox())!;
    // Written under test/artifacts/ on every run; UPDATE_README_SCREENSHOT=1 also replaces docs/status-page.png.
    const readmeShot = join(root, process.env.UPDATE_README_SCREENSHOT ? 'docs/status-page.png' : 'test/artifacts/status-page.png');
    await page.screenshot({ path: readmeShot, fullPage: true, clip: { x: 0, y: 0, width: 1440, height: Math.ceil(chart.y + chart.height + 16) } });
    expect(statSync(readmeShot).size).toBeLessThan(400 * 1024);
    await page.close();
  });

  it('a busy bar with one idle window is never shown as "no traffic"', async () => {
    const { page } = await open('/', 1440);
    const busy = page.locator('article.model[data-model="busy"]');
    // One bar for the minute: five windows with 66 predictions each and one idle window, all judged.
    const bar = busy.locator(`svg g.bar[data-start="${busyMinute}"]`);
    expect(await bar.getAttribute('data-n')).toBe('330');
    expect(await bar.getAttribute('data-verdict')).toBe('healthy');
    expect(await bar.locator('title').textContent()).toMatch(/6 windows · n=330\n[\s\S]*healthy$/);
    const state = await busy.locator('.model-head .pill').first().textContent();
    expect(state).toContain('healthy');
    expect(state).not.toContain('no traffic');
    await page.close();
  });

  it('13 ten-second flagged windows show as one run, to the second', async () => {
    const { page } = await open('/models/penguins-10s', 1440);
    const runs = page.locator('li.run');
    const run = page.locator('li.run[data-verdict="collapsed"]');
    expect(await run.count()).toBe(1);
    expect(await run.getAttribute('data-windows')).toBe('13');
    expect(await run.locator('strong').first().textContent()).toMatch(/^\d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC$/);
    expect(await runs.count()).toBe(3); // the collapse, the partial collapse, the insufficient-data window
    const marker = page.locator('article.model[data-model="penguins-10s"] .flag.f-collapsed');
    expect(await marker.getAttribute('aria-label')).toMatch(/^collapsed: 13 windows, \d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC$/);
    await page.screenshot({ path: join(artifacts, 'model-10s-1440.png'), fullPage: true });
    await page.close();
  });

  it('the feature chart has an axis and the reference band', async () => {
    const { page } = await open('/models/seattle-weather', 1440);
    const feature = page.locator('.feature[data-feature="temp_max"]');
    const axis = feature.locator('.fchart .yaxis span');
    expect(await axis.count()).toBeGreaterThanOrEqual(2);
    for (const tick of await axis.all()) expect(await tick.textContent()).toMatch(/^-?[\d,.]+$/);
    expect(await feature.locator('.fchart .yaxis').getAttribute('aria-label')).toMatch(/^axis in /);
    const band = (await feature.locator('.fchart rect.band').boundingBox())!;
    const plot = (await feature.locator('.fchart .plot').boundingBox())!;
    // mean ± std of training fills a visible part of the plot, not a hairline, and the window means are drawn.
    expect(band.height).toBeGreaterThan(10);
    expect(band.height).toBeLessThan(plot.height);
    expect(await feature.locator('.fchart path.mean').count()).toBe(1);
    expect(await feature.textContent()).toContain('in standardized units');
    expect(await page.locator('.key', { hasText: 'training mean ± std (reference)' }).isVisible()).toBe(true);
    await page.close();
  });

  it('says when a package is judged against its training labels (it carries no held-out answers of its model)', async () => {
    const { page } = await open('/models/xss-label', 1440);
    const note = page.locator('article.card.model[data-model="xss-label"] .reference-note');
    expect(await note.isVisible()).toBe(true);
    expect(await note.textContent()).toContain('Judged against its training labels');
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

  it('an injected label is still inert on the new pages: history and incident pages', async () => {
    const { page: main } = await open('/models/xss-label', 1440);
    // The resolved partial collapse lost the injected label: the history names it.
    const resolved = main.locator('li.resolved-incident[data-model="xss-label"]');
    expect(await resolved.textContent()).toContain(`lost ${XSS_LABEL}`);
    const pages = [
      await resolved.locator('a[href^="/incidents/"]').getAttribute('href'),
      await main.locator('article.model a.pill[href^="/incidents/"]').getAttribute('href'),
    ];
    await main.close();
    for (const path of pages) {
      const { page, dialogs } = await open(path!, 1440);
      expect(await page.locator('img').count(), path!).toBe(0);
      expect(await page.locator('table.shift th', { hasText: XSS_LABEL }).first().isVisible(), path!).toBe(true);
      await page.waitForTimeout(300);
      expect(dialogs).toEqual([]);
      await page.close();
    }
  });

  it('at 390 px: no horizontal scroll on any page, every bar a tap away from its numbers', async () => {
    const { page: main } = await open('/', 1440);
    const incident = await penguins(main).locator('a.pill[href^="/incidents/"]').getAttribute('href');
    await main.close();
    for (const path of ['/', '/?range=15m', '/models/penguins-10s', incident!]) {
      const { page } = await open(path, 390);
      const { scrollWidth, innerWidth } = await page.evaluate(pageWidths);
      expect(scrollWidth, path).toBeLessThanOrEqual(innerWidth);
      // Markers never overlap: the letters of each chart's flags are apart.
      for (const chart of await page.locator('figure.chart').all()) {
        const boxes = (await Promise.all((await chart.locator('.flag b').all()).map((b) => b.boundingBox()))).filter((b) => b !== null);
        boxes.sort((a, b) => a.x - b.x);
        for (let k = 1; k < boxes.length; k++) expect(boxes[k].x, path).toBeGreaterThanOrEqual(boxes[k - 1].x + boxes[k - 1].width);
      }
      await page.screenshot({ path: join(artifacts, `390-${path.replace(/[^a-z0-9]+/gi, '_')}.png`), fullPage: true });
      await page.close();
    }
    // No hover on a phone: a tap on a bar opens its row of numbers (a link and <details>, no script).
    const { page } = await open('/models/penguins', 390);
    const bar = penguins(page).locator('svg a').last();
    const target = (await bar.getAttribute('href'))!;
    await bar.click();
    const row = page.locator(`tr${target.replace(/^#/, '#')}`);
    expect(await row.isVisible()).toBe(true);
    expect(await row.textContent()).toMatch(/\d+%/);
    await page.close();
  }, 240_000);

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

  it('long labels without a space wrap: no horizontal scroll at 375 or 1440 px on the main, model and incident pages', async () => {
    const { page: main } = await open(`/models/${LONG_MODEL}`, 1440);
    const incident = await main.locator('article.model a.pill[href^="/incidents/"]').getAttribute('href');
    expect(incident).not.toBeNull();
    await main.close();
    for (const width of [375, 1440])
      for (const path of ['/', `/models/${LONG_MODEL}`, incident!]) {
        const { page } = await open(path, width);
        expect(await page.locator('.legend li', { hasText: LONG_LABELS[2]! }).first().isVisible(), path).toBe(true);
        const { scrollWidth, innerWidth } = await page.evaluate(pageWidths);
        expect(scrollWidth, `${path} @${width}px`).toBeLessThanOrEqual(innerWidth);
        if (path === incident) await page.screenshot({ path: join(artifacts, `long-labels-incident-${width}.png`), fullPage: true });
        await page.close();
      }
  }, 240_000);

  it('merges a week of one-minute windows into at most 180 bars a model', async () => {
    const { page } = await open('/?range=7d', 1440);
    for (const model of await page.locator('article.model').all()) {
      // Models seeded with only minutes of data are fitted to their data instead.
      if ([...OWN_SEED, 'busy'].includes((await model.getAttribute('data-model'))!) && (await model.getAttribute('data-model')) !== 'xss-label') continue;
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

  // Last: the cron fired here also closes and judges the seeded models' newest windows.
  let opened: { statusUrl: string; id: string } | undefined;

  it('a replayed collapse, then recovery, leaves a resolved incident on the main page and on the model page', async () => {
    const cron = setInterval(() => void fetch(`${BASE}/cdn-cgi/handler/scheduled`).catch(() => {}), 2_000);
    const stop = new AbortController();
    const about = (a: { body: any }) => a.body?.data?.incident?.model === 'penguins-live';
    const send = (fault?: string) =>
      replay(
        { url: BASE, model: 'penguins-live', rate: 20, batch: 1, durationSeconds: 120, seed: 1, timeoutMs: 10_000, fault: fault ? parseFault(fault) : undefined },
        { signal: stop.signal },
      );
    const within = <T,>(ms: number, what: string, p: Promise<T>) =>
      Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms))]);
    try {
      let sending = send('unscale');
      const openedArrival = await within(90_000, 'incident.opened', receiver.waitFor((a) => a.channel === 'alert' && a.type === 'incident.opened' && about(a), stop.signal));
      stop.abort();
      await sending;
      opened = { statusUrl: openedArrival.body.data.status_url, id: openedArrival.body.data.incident.id };
      const healthy = new AbortController();
      sending = replay({ url: BASE, model: 'penguins-live', rate: 20, batch: 1, durationSeconds: 150, seed: 2, timeoutMs: 10_000 }, { signal: healthy.signal });
      await within(150_000, 'incident.resolved', receiver.waitFor((a) => a.channel === 'alert' && a.type === 'incident.resolved' && about(a), healthy.signal));
      healthy.abort();
      await sending;
    } finally {
      stop.abort();
      clearInterval(cron);
    }
    for (const path of ['/', '/models/penguins-live']) {
      const { page } = await open(path, 1440);
      const item = page.locator(`li.resolved-incident[data-incident="${opened!.id}"]`);
      expect(await item.isVisible(), path).toBe(true);
      expect(await item.textContent(), path).toMatch(/lasted \d+ (s|min)/);
      expect(await item.textContent(), path).toContain('paged alert webhook ✓ delivered');
      expect(await item.textContent(), path).toContain('Inputs not scaled as in training');
      await page.screenshot({ path: join(artifacts, `resolved-${path === '/' ? 'main' : 'model'}-1440.png`), fullPage: true });
      await page.close();
    }
  }, 360_000);

  it("the incident page opens from the webhook's status_url", async () => {
    expect(opened, 'the replay test ran first').toBeDefined();
    expect(opened!.statusUrl).toBe(`${BASE}/incidents/${opened!.id}`);
    const { page, dialogs } = await open(opened!.statusUrl.slice(BASE.length), 1440);
    expect(await page.locator('h2#incident-title').textContent()).toMatch(/^Incident resolved/);
    const timeline = (await page.locator('ol.timeline').textContent())!;
    expect(timeline).toMatch(/alert webhook · incident\.opened: attempt 1: HTTP 20\d/);
    expect(timeline).toContain('Resolved by the monitor after 3 healthy windows in a row');
    expect(await page.locator('li[data-kind="attempt"] .state.s-delivered').count()).toBeGreaterThanOrEqual(3);
    // The retraining request as it was sent, with the scaler remedy's numbers.
    const request = (await page.locator('pre.payload').textContent())!;
    expect(JSON.parse(request)).toMatchObject({ type: 'retrain.requested', data: { model: 'penguins-live', incident_id: opened!.id } });
    expect(request).not.toContain(secrets.retrain);
    expect(await page.locator('table.shift th', { hasText: 'flagged' }).count()).toBe(1);
    expect(dialogs).toEqual([]);
    await page.screenshot({ path: join(artifacts, 'incident-live-1440.png'), fullPage: true });
    await page.close();
  });
});

describe('behind STATUS_TOKEN, in Chromium: what an alert link opens', () => {
  let guarded: ChildProcess | undefined;
  /** The seeded open incident of penguins, as its alert's status_url names it. */
  let incidentPath = '';

  beforeAll(async () => {
    guarded = startServer('e2e-wrangler-guarded', GUARDED_PORT, GUARDED_INSPECTOR_PORT, guardedState, { PUBLIC_URL: GUARDED, STATUS_TOKEN });
    await waitForServer(guarded, GUARDED, 'e2e-wrangler-guarded', Date.now() + 120_000);
    const overview = await (await fetch(`${GUARDED}/`, { headers: { authorization: `Bearer ${STATUS_TOKEN}` } })).text();
    incidentPath = /<article class="card incident[^>]*data-model="penguins"[\s\S]*?href="(\/incidents\/[^"]+)"/.exec(overview)![1]!;
  });

  afterAll(() => stopServer(guarded));

  /** A browser of its own: no cookie from another test. */
  async function freshPage(width: number): Promise<{ page: Page; dialogs: string[] }> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    page.setDefaultNavigationTimeout(120_000);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    return { page, dialogs };
  }

  it('without the cookie: a form asks for the token, a wrong one is refused, the right one opens the incident without token= in the address bar', async () => {
    // A phone at 3 a.m.
    const { page, dialogs } = await freshPage(390);
    const first = await page.goto(`${GUARDED}${incidentPath}`);
    expect(first?.status()).toBe(401);
    expect(await page.locator('h2#problem').textContent()).toBe('This status page needs its token');
    expect(await page.locator('.problem').textContent()).toContain('STATUS_TOKEN');
    const input = page.locator('input[name="token"]');
    expect(await input.getAttribute('type')).toBe('password');
    expect(await page.locator('.banner.bad').count()).toBe(0);
    const { scrollWidth, innerWidth } = await page.evaluate(pageWidths);
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
    await page.screenshot({ path: join(artifacts, 'token-form-390.png'), fullPage: true });

    await input.fill('not-the-token');
    const refused = page.waitForResponse((r) => new URL(r.url()).pathname === incidentPath && r.status() === 401);
    await page.getByRole('button', { name: 'Open the page' }).click();
    await refused;
    await page.locator('.banner.bad').waitFor();
    expect(await page.locator('.banner.bad').textContent()).toBe('That token was not accepted.');
    // The wrong token does not stay in the address bar (nor, so, in the history).
    expect(page.url()).toBe(`${GUARDED}${incidentPath}`);

    await page.locator('input[name="token"]').fill(STATUS_TOKEN);
    await page.getByRole('button', { name: 'Open the page' }).click();
    await page.waitForURL((url) => url.pathname === incidentPath && !url.search.includes('token'));
    expect(await page.locator('h2#incident-title').isVisible()).toBe(true);
    expect(await page.locator('h2#incident-title').textContent()).toMatch(/^Incident open/);
    expect(page.url()).toBe(`${GUARDED}${incidentPath}`);
    expect(page.url()).not.toContain('token=');
    expect((await page.context().cookies()).map((c) => c.name)).toEqual(['labelwatch_status']);
    expect(dialogs).toEqual([]);
    await page.context().close();
  });

  it('an unknown incident id: a page saying so, with a working link to the overview; a hostile id stays text', async () => {
    const { page, dialogs } = await freshPage(1440);
    // The token once, as a bookmark would carry it: the cookie then opens every page, the overview link too.
    const response = await page.goto(`${GUARDED}/incidents/inc-from-another-deployment?token=${STATUS_TOKEN}`);
    expect(response?.status()).toBe(404);
    expect(page.url()).toBe(`${GUARDED}/incidents/inc-from-another-deployment`);
    expect(await page.locator('h2#problem').textContent()).toBe('No such incident');
    expect(await page.locator('.problem').textContent()).toContain('There is no incident "inc-from-another-deployment" here.');
    await page.screenshot({ path: join(artifacts, 'incident-404-1440.png'), fullPage: true });
    await page.getByRole('link', { name: 'the overview' }).click();
    await page.waitForURL(`${GUARDED}/`);
    expect(await page.locator('h2#incidents').textContent()).toBe('Open incidents');
    expect(await page.locator('article.incident[data-model="penguins"]').isVisible()).toBe(true);

    const hostile = await page.goto(`${GUARDED}/incidents/${encodeURIComponent('<script>alert(1)</script>')}`);
    expect(hostile?.status()).toBe(404);
    expect(await page.locator('.problem p').first().textContent()).toContain('"<script>alert(1)</script>"');
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
    await page.context().close();
  });
});
