// The status page inside workerd against a real local D1 seeded with the status scenario (scripts/seed-status.ts):
// one bar per window, flagged windows marked, merged bars for long ranges, hostile names escaped, deliveries without
// secrets, and the STATUS_TOKEN gate.
import { env } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { statusScenario } from '../../scripts/seed-status';
import { createApp } from '../../src/app';
import type { Env } from '../../src/config';
import type { ModelMetadata } from '../../src/serving/metadata';
import { registry } from '../../src/serving/registry';
import { reportModelDefect, trackIncident } from '../../src/incidents/track';
import { storeVerdict } from '../../src/db/verdicts';
import { detectorSettings, emptyCounts, explain, explainModelDefect, judgeWindow, modelDefect, type Incident, type MonitorState } from '../../src/monitor';
import { clock } from '../../src/format';
import { recorded } from './contract';

const XSS_LABEL = '<img src=x onerror=alert(1)>';
const XSS_MODEL = '<script>alert(1)</script>';
const HISTORY = 50;

const penguins = registry.metadata('penguins')!;
/** Not served here (the e2e test serves it from test/fixtures/models): rendered from its stored windows alone. */
const xss: ModelMetadata = {
  ...penguins,
  name: 'xss-label',
  labels: penguins.labels.map((l, i) => (i === 1 ? XSS_LABEL : l)),
  training: {
    ...penguins.training,
    label_counts: Object.fromEntries(penguins.labels.map((l, i) => [i === 1 ? XSS_LABEL : l, penguins.training.label_counts[l]])),
  },
};

const worker = recorded(exports.default);
const get = (path: string, init?: RequestInit) => worker.fetch(`http://status.test${path}`, init);

/** The HTML of one model's card (or section), by its data-model attribute. */
function card(html: string, model: string): string {
  const parts = html.split('<article class="card model"');
  const found = parts.find((p) => p.startsWith(` data-model="${model}"`));
  if (!found) throw new Error(`no card for ${model}`);
  return found.split('</article>')[0];
}
const count = (html: string, needle: string) => html.split(needle).length - 1;

/** The minute the scenario was written in: the page's ranges end at the current minute, which may have moved on. */
let seededMinute = 0;

beforeAll(async () => {
  seededMinute = Math.floor(Date.now() / 60_000);
  const statements = statusScenario([penguins, xss], { now: Math.floor(Date.now() / 1000), windows: HISTORY, olderWindows: 10 });
  statements.push(
    `INSERT INTO windows (model, version, start, length, n, closed, verdict) VALUES ('${XSS_MODEL}', '1', ${Math.floor(Date.now() / 60_000) * 60 - 120}, 60, 0, 1, 'no_traffic');`,
  );
  await env.DB.batch(statements.map((s) => env.DB.prepare(s)));
});

describe('GET / (status page)', () => {
  it('draws one bar per window of the last hour, and nothing older', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(count(card(html, 'penguins'), '<g class="bar ')).toBe(HISTORY);
    expect(count(card(html, 'xss-label'), '<g class="bar ')).toBe(HISTORY);
  });

  it('marks collapsed, partial-collapse, no-traffic and insufficient-data windows with a lettered marker', async () => {
    const html = card(await (await get('/')).text(), 'penguins');
    const flags = [...html.matchAll(/<span class="flag f-(\w+)"[^>]*aria-label="([^"]+)"[^>]*><b>(.)<\/b>/g)].map((m) => [m[1], m[3], m[2]]);
    // The idle window is drawn (an empty bar) but not flagged: penguins is not configured to expect traffic.
    expect(flags.map(([v, letter]) => `${v}:${letter}`)).toEqual(['insufficient_data:?', 'partial_collapse:P', 'collapsed:C']);
    expect(count(html, 'data-verdict="no_traffic"')).toBe(1);
    expect(html).toContain('Flagged here: 1 insufficient data, 1 partial collapse, 13 collapsed. 1 idle window (no traffic; not flagged).');
    // Thirteen adjacent collapsed windows are one run with one marker.
    expect(flags[2][2]).toMatch(/^collapsed: 13 windows, \d\d:\d\d–\d\d:\d\d UTC$/);
    expect(count(html, 'data-verdict="collapsed"')).toBe(13);
    // The collapse line and its caption follow the open incident (onto Gentoo), not the latest window.
    expect(html).toContain('where the detector calls a collapse onto Gentoo (the incident’s label)');
    // The newest window is still open and has traffic: receiving, not judged yet.
    expect(count(html, 'data-verdict="receiving"')).toBe(1);
  });

  it('fits 7 days to the span that holds data, keeping every prediction and the worst flag', async () => {
    const html = card(await (await get('/?range=7d')).text(), 'penguins');
    const bars = [...html.matchAll(/<g class="bar [^"]*" data-start="(\d+)" data-n="(\d+)" data-verdict="(\w+)"/g)];
    expect(bars.length).toBeGreaterThan(0);
    expect(bars.length).toBeLessThanOrEqual(180);
    const stored = await env.DB.prepare("SELECT sum(n) AS n, min(start) AS first FROM windows WHERE model = 'penguins'").first<{ n: number; first: number }>();
    expect(bars.reduce((s, b) => s + Number(b[2]), 0)).toBe(stored!.n);
    expect(bars.some((b) => b[3] === 'collapsed')).toBe(true);
    // About two hours of data: one bar per window, starting at the first window, not a sliver at the end of a week.
    expect(html).toContain('One bar per 1 min window');
    const from = Number(/data-from="(\d+)"/.exec(html)![1]);
    expect(from).toBeLessThanOrEqual(stored!.first);
    expect(stored!.first - from).toBeLessThan(3_600);
  });

  it('shows 15 minutes too', async () => {
    const html = card(await (await get('/?range=15m')).text(), 'penguins');
    // Fifteen one-minute slots; the current minute has no window yet. Each minute since the scenario was written
    // slides the oldest of its windows out of the range (a run that crosses a minute boundary drew 13).
    const minutesSince = Math.floor(Date.now() / 60_000) - seededMinute;
    expect(count(html, '<g class="bar ')).toBe(14 - minutesSince);
    expect(html).toContain('data-bucket="60"');
  });

  it('never calls a busy bar "no traffic": the worst judged verdict among windows with traffic wins', async () => {
    const minute = Math.floor(Date.now() / 60_000) * 60 - 300;
    const rows: string[] = [];
    // Minute 0: five healthy windows and one idle one. Minute 1: all idle. Minute 2: five 10-s windows with traffic
    // not judged yet, one idle window judged no_traffic.
    for (let k = 0; k < 6; k++) {
      rows.push(`('busy', '1', ${minute + 10 * k}, 10, ${k === 5 ? 0 : 66}, 1, ${k === 5 ? "'no_traffic'" : "'healthy'"})`);
      rows.push(`('busy', '1', ${minute + 60 + 10 * k}, 10, 0, 1, 'no_traffic')`);
      rows.push(`('busy', '1', ${minute + 120 + 10 * k}, 10, ${k === 5 ? 0 : 66}, ${k === 5 ? 1 : 0}, ${k === 5 ? "'no_traffic'" : 'NULL'})`);
    }
    await env.DB.prepare(`INSERT INTO windows (model, version, start, length, n, closed, verdict) VALUES ${rows.join(', ')}`).run();
    const html = card(await (await get('/')).text(), 'busy');
    const verdictAt = (start: number) => new RegExp(`data-start="${start}" data-n="(\\d+)" data-verdict="(\\w+)"`).exec(html)!.slice(1);
    expect(verdictAt(minute)).toEqual(['330', 'healthy']);
    expect(verdictAt(minute + 60)).toEqual(['0', 'no_traffic']);
    expect(verdictAt(minute + 120)).toEqual(['330', 'receiving']);
    // The model's own state: its latest judgement was "no traffic", but predictions arrived since.
    expect(html).toMatch(/<span class="pill p-receiving"><b aria-hidden="true">↗<\/b>receiving, not judged yet<\/span>/);
    expect(html).not.toContain('Flagged here');
  });

  it('lists the resolved incident with its duration, labels, cause and who was paged, on the main and the model page', async () => {
    for (const path of ['/', '/models/penguins']) {
      const html = await (await get(path)).text();
      const history = html.slice(html.indexOf('<ul class="history">'));
      const item = history.slice(history.indexOf('<li class="resolved-incident" data-model="penguins"'), history.indexOf('</li>'));
      expect(item, path).toMatch(/href="\/incidents\/inc-penguins-\d+"/);
      expect(item, path).toMatch(/lasted \d+ min/);
      expect(item, path).toContain('Labels: lost Chinstrap');
      expect(item, path).toContain('nobody was paged');
    }
  });

  it('shows the open incident with its diagnosis, remedy and shares before and after', async () => {
    const html = await (await get('/')).text();
    const incident = html.slice(html.indexOf('<article class="card incident'), html.indexOf('</article>', html.indexOf('<article class="card incident')));
    expect(count(html, '<article class="card incident')).toBe(1); // the earlier, resolved incident is not shown
    expect(incident).toContain('data-model="penguins"');
    expect(incident).toContain('Inputs not scaled as in training');
    expect(incident).toContain('Apply the training scaler');
    expect(incident).toMatch(/Top label <strong>Gentoo<\/strong>: \d+% before → <strong>9\d(\.\d)?%<\/strong> while flagged\./);
  });

  it('says which reference a model is judged against: its own held-out answers, or (weaker) its training labels', async () => {
    const penguinsPage = await (await get('/models/penguins')).text();
    // penguins carries its held-out answers: the legend shows them as "normal", and there is no note.
    expect(penguinsPage).toContain('· normal 43%'); // Adelie: 37 of its 86 held-out answers
    expect(penguinsPage).not.toContain('reference-note');
    // The unweighted seattle package's own answers lack fog and drizzle: it is judged against its training labels.
    const defective = await (await get('/models/seattle-weather-unweighted')).text();
    expect(defective).toContain('reference-note');
    expect(defective).toContain('show a model defect, so it is judged against its training labels');
    expect(defective).toContain('· train 44%'); // rain: 513 of 1169 training rows
  });

  it('shows a drifting model as healthy, drifting: its own bar outline and a key entry, never a flag', async () => {
    const start = Math.floor(Date.now() / 60_000) * 60 - 180;
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO windows (model, version, start, length, n, sum_confidence, sum_entropy, zero_rows, closed, closed_at, verdict) VALUES ('seattle-weather', '1', ?, 60, 100, 90, 30, 0, 1, ?, 'drift')",
      ).bind(start, start + 120),
      env.DB.prepare("INSERT INTO window_labels (model, version, start, label, count) VALUES ('seattle-weather', '1', ?, 'sun', 70), ('seattle-weather', '1', ?, 'rain', 30)").bind(start, start),
    ]);
    const page = await (await get('/models/seattle-weather?range=1h')).text();
    expect(page).toContain('data-verdict="drift"');
    expect(page).toContain('class="pill p-drift"');
    expect(page).toContain('healthy, drifting');
    expect(page).toContain('class="k-drift"');
    expect(page).not.toContain('Flagged here');
  });

  it('lists resolved incidents of the last 7 days by default, another span with ?history=<days>, and refuses a bad one', async () => {
    // The seeded resolved incident is about 40 minutes old: in a day's history, not in a history ending a day ago.
    expect(await (await get('/?history=1')).text()).toContain('Resolved in the last 1 day<');
    expect(await (await get('/models/penguins?history=30')).text()).toContain('Resolved in the last 30 days');
    await env.DB.prepare("UPDATE incidents SET resolved_at = resolved_at - 8 * 86400 WHERE model = 'penguins' AND status = 'resolved'").run();
    try {
      expect(await (await get('/')).text()).toContain('No incident resolved in the last 7 days.');
      expect(await (await get('/?history=9')).text()).toContain('<li class="resolved-incident" data-model="penguins"');
    } finally {
      await env.DB.prepare("UPDATE incidents SET resolved_at = resolved_at + 8 * 86400 WHERE model = 'penguins' AND status = 'resolved'").run();
    }
    for (const bad of ['0', '91', 'x', '1.5']) {
      const res = await get(`/?history=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(await res.json()).toEqual({ error: 'history: expected a whole number of days from 1 to 90' });
    }
  });

  it('says so when no alert channel is configured: incidents page nobody', async () => {
    for (const path of ['/', '/models/penguins']) expect(await (await get(path)).text(), path).toContain('No alert channel is configured: incidents page nobody.');
    const app = createApp();
    const paged = await app.request('http://status.test/', {}, { ...env, PAGERDUTY_ROUTING_KEY: 'k' } as unknown as Env);
    expect(await paged.text()).not.toContain('No alert channel is configured');
  });

  it('escapes hostile model and label names and runs no script', async () => {
    const res = await get('/');
    const html = await res.text();
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('lists deliveries in every state without URLs, payloads or secrets', async () => {
    const html = await (await get('/')).text();
    const table = html.slice(html.indexOf('<table class="deliveries"'));
    for (const status of ['delivered', 'retrying', 'dead', 'pending']) expect(table).toContain(`data-status="${status}"`);
    expect(table).toContain('HTTP 503');
    expect(table).toContain('fetch failed: connect ECONNREFUSED [url]');
    for (const secret of ['never-shown', 'hooks.slack.com', 'hooks.example.test', 'whsec_']) expect(html).not.toContain(secret);
  });

  it('is also at /status, refreshes itself, and rejects an unknown range', async () => {
    const html = await (await get('/status?range=6h')).text();
    expect(html).toContain('<meta http-equiv="refresh" content="60"/>');
    expect(html).toContain('aria-current="page">6h</a>');
    const bad = await get('/?range=2w');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'range: expected one of 15m, 1h, 6h, 24h, 7d' });
  });
});

describe('GET /incidents/{id}', () => {
  const openId = async () =>
    (await env.DB.prepare("SELECT id FROM incidents WHERE model = 'penguins' AND status = 'open'").first<{ id: string }>())!.id;

  it('shows the timeline, the windows chart, shares before and during, diagnosis and remedies', async () => {
    const id = await openId();
    const res = await get(`/incidents/${id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    const timeline = html.slice(html.indexOf('<ol class="timeline">'), html.indexOf('</ol>', html.indexOf('<ol class="timeline">')));
    const kinds = [...timeline.matchAll(/data-kind="(\w+)"/g)].map((m) => m[1]);
    expect(kinds[0]).toBe('window');
    expect(kinds).toContain('opened');
    expect(kinds.filter((k) => k === 'delivery')).toHaveLength(4);
    expect(timeline).toContain('PagerDuty · incident.opened: 3 attempts, last HTTP 503');
    expect(html).toContain('<figure class="chart tall"');
    expect(count(html, 'data-verdict="collapsed"')).toBe(13);
    expect(html).toMatch(/Top label <strong>Gentoo<\/strong>: \d+% before → <strong>9\d(\.\d)?%<\/strong> while flagged\./);
    expect(html).toContain('Inputs not scaled as in training');
    expect(html).toContain('Apply the training scaler');
    for (const secret of ['never-shown', 'hooks.slack.com', 'hooks.example.test', 'whsec_']) expect(html).not.toContain(secret);
  });

  it('says what the first flagged window was judged against, and how to acknowledge or resolve it', async () => {
    const id = await openId();
    const html = await (await get(`/incidents/${id}`)).text();
    // Read back from the window's stored evaluation (its baseline), in the core's words.
    expect(html).toMatch(/First flagged window [^<]*: collapsed onto Gentoo, against (its own recent healthy history|the model’s own answers on held-out rows)/);
    // The admin API is off here: the page says so, and how the incident resolves by itself.
    const act = html.slice(html.indexOf('id="act"'), html.indexOf('id="timeline"'));
    expect(act).toContain('Left alone, it resolves itself after 3 healthy windows in a row.');
    expect(act).toContain('disabled here (no ADMIN_TOKEN)');
    const app = recorded(createApp());
    const withAdmin = await (await app.request(`http://status.test/incidents/${id}`, {}, { ...env, ADMIN_TOKEN: 'adm' } as unknown as Env)).text();
    const commands = withAdmin.slice(withAdmin.indexOf('id="act"'), withAdmin.indexOf('id="timeline"'));
    expect(commands).toContain(`curl -X POST -H &quot;Authorization: Bearer $ADMIN_TOKEN&quot; http://status.test/v1/incidents/${id}/ack`);
    expect(commands).toContain(`http://status.test/v1/incidents/${id}/resolve`);
    expect(commands).not.toContain('adm<');
  });

  it('says when an open incident whose traffic is healthy again resolves by itself', async () => {
    const id = await openId();
    const page = async () => (await get(`/incidents/${id}`)).text();
    expect(await page()).not.toContain('<p class="clearing">');
    const row = (await env.DB.prepare('SELECT state FROM incidents WHERE id = ?').bind(id).first<{ state: string }>())!;
    const state = JSON.parse(row.state) as Incident;
    const since = state.lastWindowStart + 60;
    try {
      await env.DB.prepare('UPDATE incidents SET state = ? WHERE id = ?').bind(JSON.stringify({ ...state, healthyStreak: 1, clearSince: since }), id).run();
      // Here RESOLVE_AFTER_HEALTHY is 3 and RESOLVE_QUIET_MINUTES 0 (vitest.config.ts): two windows after the first clear one.
      const clearing = (await page()).match(/<p class="clearing">([^<]*)<\/p>/)?.[1].replace(/\s+/g, ' ');
      expect(clearing).toBe(
        `Healthy again since the window at ${clock(since)} UTC (“now” is the traffic since): it resolves by itself with a healthy window from ${clock(since + 120)} UTC on, unless a window is flagged before (or resolve it now).`,
      );
    } finally {
      await env.DB.prepare('UPDATE incidents SET state = ? WHERE id = ?').bind(row.state, id).run();
    }
  });

  it('answers 404 for an unknown incident, and is guarded by STATUS_TOKEN', async () => {
    expect((await get('/incidents/inc_nope')).status).toBe(404);
    const app = recorded(createApp());
    const res = await app.request(`http://status.test/incidents/${await openId()}`, {}, { ...env, STATUS_TOKEN: 't0ken' } as unknown as Env);
    expect(res.status).toBe(401);
  });

  it('shows a resolved incident: resolved by the monitor, shares in its flagged windows', async () => {
    const { id } = (await env.DB.prepare("SELECT id FROM incidents WHERE model = 'penguins' AND status = 'resolved'").first<{ id: string }>())!;
    const html = await (await get(`/incidents/${id}`)).text();
    expect(html).toContain('data-kind="resolved"');
    expect(html).toMatch(/Resolved by the monitor after 3 healthy windows in a row/);
    expect(html).toContain('<th scope="col">flagged</th>');
    expect(html).toContain('No retraining webhook is configured');
    expect(html).not.toContain('id="act"');
  });

  it('a model defect says what the package answers on its held-out rows, not "no predictions" and a count of 0 flagged windows', async () => {
    const unscaled = registry.metadata('penguins-unscaled')!;
    const found = modelDefect(unscaled)!;
    const nowMs = Date.now();
    await reportModelDefect(env, { model: unscaled.name, version: unscaled.version, at: Math.floor(nowMs / 1000), ...explainModelDefect(found, unscaled) }, nowMs);
    const { id } = (await env.DB.prepare("SELECT id FROM incidents WHERE model = 'penguins-unscaled' AND kind = 'model_defect'").first<{ id: string }>())!;
    const html = await (await get(`/incidents/${id}`)).text();
    const headline = html.slice(html.indexOf('<p class="headline">'), html.indexOf('</p>', html.indexOf('<p class="headline">')));
    expect(headline).toContain('answers Chinstrap 100% of the time and never or rarely answers Adelie');
    expect(html).not.toContain('No predictions stored for its flagged windows');
    expect(html).not.toContain('0 flagged windows');
    expect(html).toContain('Found in the package’s own held-out answers when v1 was first served');
    const timeline = html.slice(html.indexOf('<ol class="timeline">'), html.indexOf('</ol>', html.indexOf('<ol class="timeline">')));
    expect(timeline).not.toContain('First flagged window');
    expect(timeline).toContain('Model defect found in the package’s own held-out answers');
  });

  it('an escalation onto another label says which label in the timeline, escaped like every label', async () => {
    // A model of its own (stored, not served), with the hostile label: collapsed onto Adelie, then onto that label, as
    // the cron judges, tracks and stores each window (src/evaluate.ts).
    const model = 'xss-escalation';
    const rename = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).map(([l, c]) => [l === 'Chinstrap' ? XSS_LABEL : l, c]));
    const meta: ModelMetadata = { ...xss, name: model, reference: { ...penguins.reference!, label_counts: rename(penguins.reference!.label_counts) } };
    const settings = detectorSettings(meta, { windowSeconds: 60 });
    const first = (Math.floor(Date.now() / 60_000) - 30) * 60;
    let state: MonitorState | null = null;
    const events: string[] = [];
    for (const [k, labelCounts] of ([{ Adelie: 300 }, { Adelie: 300 }, { [XSS_LABEL]: 300 }] as Record<string, number>[]).entries()) {
      const key = { model, version: '1', start: first + 60 * k, length: 60 };
      const counts = { ...emptyCounts(), n: 300, labelCounts };
      const judged = judgeWindow(state, counts, key.start, settings);
      const explanation = explain(judged.evaluation, counts, meta, settings.windowSeconds);
      await env.DB.prepare('INSERT INTO windows (model, version, start, length, n, closed) VALUES (?, ?, ?, 60, 300, 1)').bind(model, '1', key.start).run();
      events.push(...(await trackIncident(env as unknown as Env, { model, version: '1', windowStart: key.start, evaluation: judged.evaluation, ...explanation }, Date.now())).events);
      await storeVerdict(env.DB, key, judged.evaluation, explanation, judged.state, Math.floor(Date.now() / 1000));
      state = judged.state;
    }
    expect(events).toEqual(['opened', 'updated', 'escalated']);
    const { id } = (await env.DB.prepare('SELECT id FROM incidents WHERE model = ?').bind(model).first<{ id: string }>())!;
    const html = await (await get(`/incidents/${id}`)).text();
    const timeline = html.slice(html.indexOf('<ol class="timeline">'), html.indexOf('</ol>', html.indexOf('<ol class="timeline">')));
    expect(timeline).toContain('labelwatch opened the incident (collapsed onto Adelie)');
    expect(timeline).toMatch(/Escalated: collapsed onto &lt;img src=x onerror=alert\(1\)&gt; in window \d\d:\d\d–\d\d:\d\d UTC/);
    expect(html).not.toContain('<img');
  });
});

describe('GET /models/{name}', () => {
  it('shows the bars, features next to training and the flagged windows', async () => {
    const res = await get('/models/penguins');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(count(card(html, 'penguins'), '<g class="bar ')).toBe(HISTORY);
    for (const f of penguins.features) expect(html).toContain(`data-feature="${f.name}"`);
    expect(html).toContain('σ from training');
    expect(html).toContain('Flagged windows');
    expect(html).toMatch(/Gentoo took 9\d(\.\d)?% of \d+ predictions/);
    // Thirteen collapsed windows in a row are one run, listed once; the idle window is not listed.
    expect(html).toMatch(/<li class="run" data-verdict="collapsed" data-windows="13">/);
    expect(count(html, '<li class="run"')).toBe(3);
    // Every bar's numbers are a link away (no hover): the bar links to its row.
    const anchor = /<a href="(#bar-1-\d+)">/.exec(card(html, 'penguins'))![1];
    expect(html).toContain(`<tr id="${anchor.slice(1)}"`);
    // The feature chart: an axis and the training band.
    const feature = html.slice(html.indexOf('data-feature="body_mass_g"'));
    expect(feature).toMatch(/<figure class="fchart"/);
    expect(feature).toMatch(/<rect class="band"/);
    expect(feature).toContain('in standardized units');
  });

  it('escapes a hostile label on the model page', async () => {
    const html = await (await get('/models/xss-label')).text();
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img');
  });

  it('answers 404 for a model neither served nor stored', async () => {
    const res = await get('/models/nope');
    expect(res.status).toBe(404);
  });
});

/** What Chromium sends for a navigation: text/html listed, with a weighted catch-all. */
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
/** Clients that keep today's JSON errors: curl, an API client, and none at all. */
const NOT_BROWSERS: Record<string, string>[] = [{ accept: '*/*' }, { accept: 'application/json' }, {}];

describe('errors: a page for a browser, the JSON error for every other client', () => {
  const cases: { path: string; status: number; error: string; page: string[] }[] = [
    {
      path: '/incidents/inc_nope',
      status: 404,
      error: 'incident: "inc_nope" not found',
      page: ['No such incident', 'There is no incident &quot;inc_nope&quot; here.', 'on <a href="/">the overview</a>', 'href="/?history=90"'],
    },
    {
      path: '/models/nope',
      status: 404,
      error: 'model "nope" is not served and has no windows in the last 1h',
      page: ['No such model', 'No model &quot;nope&quot; is served here', '<a href="/">the overview</a>', 'href="/models/nope?range=7d"'],
    },
    {
      path: '/?range=2w',
      status: 400,
      error: 'range: expected one of 15m, 1h, 6h, 24h, 7d',
      page: ['Unknown time range', 'The range &quot;2w&quot; is not one', ...['15m', '1h', '6h', '24h', '7d'].map((r) => `<a href="/?range=${r}">${r}</a>`)],
    },
    {
      path: '/models/penguins?history=0',
      status: 400,
      error: 'history: expected a whole number of days from 1 to 90',
      page: ['Unknown history span', 'a whole number of days from 1 to 90', '<a href="/models/penguins?history=7">7 days</a>', '<a href="/models/penguins?history=90">'],
    },
  ];

  it.each(cases)('$path: a browser gets the page with status $status', async ({ path, status, page }) => {
    const res = await get(path, { headers: { accept: BROWSER } });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    // The same URL answers JSON to other clients: a shared cache must key on Accept.
    expect(res.headers.get('vary')).toBe('Accept');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('content-security-policy')).toContain("form-action 'none'");
    const html = await res.text();
    for (const part of page) expect(html).toContain(part);
    // In the status page's layout, and still: a page that only reloads itself would not fix the link.
    expect(html).toContain('labelwatch <span class="muted">status</span>');
    expect(html).not.toContain('http-equiv="refresh"');
  });

  it.each(cases)('$path: every other client gets the JSON error, as before', async ({ path, status, error }) => {
    for (const headers of NOT_BROWSERS) {
      const res = await get(path, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('vary')).toBe('Accept');
      expect(await res.json()).toEqual({ error });
    }
  });

  it('renders hostile ids, names and query values as text', async () => {
    for (const path of [
      `/incidents/${encodeURIComponent(XSS_MODEL)}`,
      `/models/${encodeURIComponent(XSS_LABEL)}`,
      `/?range=${encodeURIComponent(XSS_MODEL)}`,
      `/models/penguins?history=${encodeURIComponent(XSS_LABEL)}`,
    ]) {
      const res = await get(path, { headers: { accept: BROWSER } });
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html, path).not.toContain('<script');
      expect(html, path).not.toContain('<img');
      expect(html, path).toMatch(/&lt;(script|img)/);
    }
  });
});

describe('STATUS_TOKEN', () => {
  const token = 'status-token-for-tests';
  const app = recorded(createApp());
  const withToken = { ...env, STATUS_TOKEN: token } as unknown as Env;
  const request = (path: string, headers: Record<string, string> = {}) =>
    app.request(`http://status.test${path}`, { headers, redirect: 'manual' }, withToken);

  it('refuses without, or with a wrong, token', async () => {
    for (const [path, headers] of [
      ['/', {}],
      ['/status', { authorization: 'Bearer wrong' }],
      ['/models/penguins', {}],
      ['/?token=wrong', {}],
      ['/', { cookie: 'labelwatch_status=forged' }],
    ] as const) {
      const res = await request(path, headers);
      expect(res.status, path).toBe(401);
      expect(await res.text()).not.toContain(token);
    }
    const html = await request('/', { accept: 'text/html' });
    expect(html.status).toBe(401);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
  });

  /** The token form of a 401 page: where it submits and the name and value of each input. */
  function formOf(html: string) {
    const form = /<form method="get" action="([^"]*)">([\s\S]*?)<\/form>/.exec(html);
    if (!form) throw new Error('no form');
    const inputs = [...form[2].matchAll(/<input type="(\w+)"(?: id="\w+")? name="([^"]*)"(?: value="([^"]*)")?/g)].map((m) => ({ type: m[1], name: m[2], value: m[3] }));
    return { action: form[1], inputs };
  }

  it('asks a browser for the token with a form that keeps the query, and opens the page from it', async () => {
    const res = await request('/incidents/inc_nope?range=6h', { accept: BROWSER });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="labelwatch status"');
    expect(res.headers.get('cache-control')).toBe('no-store');
    // The form may submit, to this origin only; still no script.
    expect(res.headers.get('content-security-policy')).toContain("form-action 'self'");
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('This status page needs its token');
    expect(html).toContain('<code>STATUS_TOKEN</code> secret');
    expect(html).not.toContain('not accepted');
    expect(html).not.toContain(token);
    const form = formOf(html);
    expect(form).toEqual({
      action: '/incidents/inc_nope',
      inputs: [
        { type: 'hidden', name: 'range', value: '6h' },
        { type: 'password', name: 'token', value: undefined },
      ],
    });
    // Submitting it (a GET of the fields) is the ?token= that trades the token for the cookie.
    const submitted = new URLSearchParams([...form.inputs.filter((i) => i.type === 'hidden').map((i) => [i.name, i.value!]), ['token', token]]);
    const opened = await request(`${form.action}?${submitted}`, { accept: BROWSER });
    expect(opened.status).toBe(303);
    expect(opened.headers.get('location')).toBe('/incidents/inc_nope?range=6h');
    expect(opened.headers.get('set-cookie')).toMatch(/^labelwatch_status=/);
  });

  it('sends a browser on without a wrong token, to the form again saying only that it was not accepted', async () => {
    const res = await request(`/models/penguins?history=30&token=wrong`, { accept: BROWSER });
    // The near-miss leaves the address bar and history: a redirect without it, and a mark that opens nothing.
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/models/penguins?history=30');
    const mark = res.headers.get('set-cookie')!;
    expect(mark).toMatch(/^labelwatch_status_rejected=1; Max-Age=60; Path=\/; HttpOnly; SameSite=Strict/);
    expect(mark).not.toContain('labelwatch_status=');
    const back = await request('/models/penguins?history=30', { accept: BROWSER, cookie: 'labelwatch_status_rejected=1' });
    expect(back.status).toBe(401);
    expect(back.headers.get('set-cookie')).toMatch(/^labelwatch_status_rejected=; Max-Age=0; Path=\//);
    const html = await back.text();
    expect(html).toContain('That token was not accepted.');
    expect(html).not.toContain('wrong');
    expect(formOf(html).inputs.map((i) => i.name)).toEqual(['history', 'token']);
    // Without the mark (a reload after it was cleared), the plain form.
    expect(await (await request('/models/penguins?history=30', { accept: BROWSER })).text()).not.toContain('not accepted');
    // Hidden inputs carry client-chosen values: escaped like any other text.
    const hostile = await (await request(`/?range=${encodeURIComponent('"><script>alert(1)</script>')}`, { accept: BROWSER })).text();
    expect(hostile).not.toContain('<script');
    expect(hostile).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
  });

  it('answers every other client with the JSON error, as before', async () => {
    for (const headers of [...NOT_BROWSERS, { accept: 'application/json', authorization: 'Bearer wrong' }]) {
      for (const path of ['/incidents/inc_nope', '/?token=wrong']) {
        const res = await request(path, headers);
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="labelwatch status"');
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(await res.json()).toEqual({ error: 'authorization: a valid status token is required' });
      }
    }
  });

  it('accepts the bearer token', async () => {
    expect((await request('/models/penguins', { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it('trades ?token= for an HttpOnly, SameSite=Strict cookie and a redirect without the token', async () => {
    const res = await request(`/?range=6h&token=${token}`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/?range=6h');
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(token);
    const follow = await request('/?range=6h', { cookie: cookie.split(';')[0] });
    expect(follow.status).toBe(200);
  });

  it('guards only the status page', async () => {
    expect((await request('/health')).status).toBe(200);
  });
});
