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

const get = (path: string, init?: RequestInit) => exports.default.fetch(`http://status.test${path}`, init);

/** The HTML of one model's card (or section), by its data-model attribute. */
function card(html: string, model: string): string {
  const parts = html.split('<article class="card model"');
  const found = parts.find((p) => p.startsWith(` data-model="${model}"`));
  if (!found) throw new Error(`no card for ${model}`);
  return found.split('</article>')[0];
}
const count = (html: string, needle: string) => html.split(needle).length - 1;

beforeAll(async () => {
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
    expect(flags.map(([v, letter]) => `${v}:${letter}`)).toEqual([
      'insufficient_data:?',
      'no_traffic:0',
      'partial_collapse:P',
      'collapsed:C',
    ]);
    // Thirteen adjacent collapsed windows are one run with one marker.
    expect(flags[3][2]).toMatch(/^collapsed: 13 windows, \d\d:\d\d–\d\d:\d\d UTC$/);
    expect(count(html, 'data-verdict="collapsed"')).toBe(13);
    expect(count(html, 'data-verdict="open"')).toBe(1);
  });

  it('merges windows into at most 180 bars for 7 days, keeping every prediction and the worst flag', async () => {
    const html = card(await (await get('/?range=7d')).text(), 'penguins');
    const bars = [...html.matchAll(/<g class="bar [^"]*" data-start="(\d+)" data-n="(\d+)" data-verdict="(\w+)"/g)];
    expect(bars.length).toBeGreaterThan(0);
    expect(bars.length).toBeLessThanOrEqual(180);
    const stored = await env.DB.prepare("SELECT sum(n) AS n FROM windows WHERE model = 'penguins'").first<{ n: number }>();
    expect(bars.reduce((s, b) => s + Number(b[2]), 0)).toBe(stored!.n);
    expect(bars.some((b) => b[3] === 'collapsed')).toBe(true);
    expect(html).toContain('One bar per 1 h (60 windows)');
  });

  it('shows the open incident with its diagnosis, remedy and shares before and after', async () => {
    const html = await (await get('/')).text();
    const incident = html.slice(html.indexOf('<article class="card incident'), html.indexOf('</article>', html.indexOf('<article class="card incident')));
    expect(count(html, '<article class="card incident')).toBe(1); // the earlier, resolved incident is not shown
    expect(incident).toContain('data-model="penguins"');
    expect(incident).toContain('Inputs not scaled as in training');
    expect(incident).toContain('Apply the training scaler');
    expect(incident).toMatch(/Top label <strong>Gentoo<\/strong>: \d+% before → <strong>9\d(\.\d)?%<\/strong>/);
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
    expect(await bad.json()).toEqual({ error: 'range: expected one of 1h, 6h, 24h, 7d' });
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

describe('STATUS_TOKEN', () => {
  const token = 'status-token-for-tests';
  const app = createApp();
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
