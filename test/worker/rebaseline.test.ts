// Resolving an incident with {"rebaseline": true} inside workerd against the real D1: real rows through predict, the
// aggregators and the cron. Traffic that moved for good (here: only Gentoo penguins, which the healthy model answers
// right) opens an incident; resolved by hand it opens the next one at the next window, because a flagged window
// never teaches the baseline; resolved with rebaseline, the cron adopts that traffic before it judges the next
// window, and the same traffic opens nothing; traffic going back to the old mix then opens an incident that names the
// traffic it was judged against.
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import penguinsHoldout from '../fixtures/holdout/penguins.json';
import { createApp } from '../../src/app';
import type { Env } from '../../src/config';
import { detectorSettings, emptyCounts, explain, judgeWindow, recentInputs, unpackState } from '../../src/monitor';
import { trackIncident } from '../../src/incidents/track';
import { windowStart } from '../../src/monitor/window';
import { tick } from '../../src/schedule';
import { config, epochMs, flushAll, interleaved, metadataOf } from './helpers';
import { BASE, predictAt, standardized, tally, type Holdout } from './scenario-traffic';
import { recorded } from './contract';

const L = config.windowSeconds;
const T = windowStart(Date.UTC(2034, 0, 1) / 1000, L);
const penguins = metadataOf('penguins');
const gentoo = (penguinsHoldout as Holdout).rows.filter((r) => r.label === 'Gentoo').map((r) => r.input);
// Every Gentoo row of the held-out set, twice: 62 predictions a window.
const shifted = standardized(penguins, [...gentoo, ...gentoo]);

const TOKEN = 'admin-token-rebaseline-3f2a';
const admin = { ...(env as unknown as Env), ADMIN_TOKEN: TOKEN };
const app = recorded(createApp());

async function call(method: string, path: string, body?: string) {
  const res = await app.request(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body }, admin);
  return { status: res.status, body: (await res.json()) as any };
}

// A window in which the traffic is still moving: every held-out penguin, and the Gentoo rows twice more.
const moving = [...standardized(penguins, (penguinsHoldout as Holdout).rows.map((r) => r.input)), ...shifted];

/** Rows (the shifted traffic unless said) in window slot k, recorded, flushed, closed and judged; returns its verdict. */
async function shiftedWindow(k: number, rows = shifted, base = T): Promise<string> {
  const start = base + k * L;
  const served = tally(await predictAt(penguins, rows, epochMs(start + 10)));
  if (rows === shifted) expect(served).toEqual({ Gentoo: shifted.length });
  await flushAll(penguins, epochMs(start + L + config.flushGraceSeconds));
  const report = await tick(env, epochMs(start + L + config.flushGraceSeconds + config.closeMarginSeconds));
  expect(report.evaluation.failed).toBe(0);
  const row = await env.DB.prepare('SELECT verdict FROM windows WHERE model = ? AND start = ?').bind('penguins', start).first<{ verdict: string }>();
  return row!.verdict;
}

const openIncidents = async () => (await call('GET', '/v1/incidents?status=active&model=penguins')).body.incidents as { id: string; kind: string }[];

describe('resolve with rebaseline', () => {
  it('without it, shifted traffic opens the next incident at once; with it, the cron adopts the traffic, the same traffic opens nothing, and the old mix opens one that names the adopted traffic', async () => {
    expect(gentoo.length).toBe(31);
    // Two windows of it: an incident, collapsed onto Gentoo.
    expect(await shiftedWindow(0)).toBe('collapsed');
    expect(await shiftedWindow(1)).toBe('collapsed');
    const [first] = await openIncidents();
    expect(first).toMatchObject({ kind: 'collapsed' });

    // Resolved by hand alone: the traffic has not changed, so the next window opens a new incident.
    const plain = await call('POST', `/v1/incidents/${first!.id}/resolve`);
    expect(plain.status).toBe(200);
    expect(plain.body).toMatchObject({ status: 'resolved', resolved_now: true, rebaseline: 'none' });
    // The next window opens a new incident: here one where the traffic is still moving, then the shifted traffic.
    expect(await shiftedWindow(2, moving)).toMatch(/collapse/);
    const [second] = await openIncidents();
    expect(second!.id).not.toBe(first!.id);
    expect(await shiftedWindow(3)).toBe('collapsed');

    // Resolved with rebaseline: recorded now, applied by the cron before the next window.
    const rebased = await call('POST', `/v1/incidents/${second!.id}/resolve`, JSON.stringify({ rebaseline: true }));
    expect(rebased.status).toBe(200);
    expect(rebased.body).toMatchObject({ id: second!.id, status: 'resolved', resolved_now: true, rebaseline: 'waiting' });
    const verdict = await shiftedWindow(4);
    expect(['collapsed', 'partial_collapse']).not.toContain(verdict);
    expect(await openIncidents()).toEqual([]);
    // Applied once, with that window's verdict; asking again changes nothing and notifies nobody.
    const again = await call('POST', `/v1/incidents/${second!.id}/resolve`, '{"rebaseline": true}');
    expect(again.body).toMatchObject({ resolved_now: false, rebaseline: 'applied' });
    // The incident itself says so too, for a client that polls it.
    expect((await call('GET', `/v1/incidents/${second!.id}`)).body).toMatchObject({ status: 'resolved', rebaseline: 'applied' });
    expect((await call('GET', `/v1/incidents/${first!.id}`)).body).toMatchObject({ rebaseline: 'none' });
    // The incident page, where a page's link lands, says the baseline moved.
    const page = await app.request(`${BASE}/incidents/${second!.id}`, {}, admin);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Rebaseline asked');
    expect(html).toContain('Rebaseline applied: later windows are judged against this traffic');
    expect(await shiftedWindow(5)).not.toMatch(/collapse/);
    expect(await openIncidents()).toEqual([]);
    const state = await env.DB.prepare('SELECT state FROM monitor_states WHERE model = ?').bind('penguins').first<{ state: string }>();
    const stored = await unpackState(state!.state);
    const { up, total, trailing, adopted } = stored;
    // What was adopted is the traffic as it is now: window 3, not the moving window 2 where the incident began.
    expect(adopted).toEqual([0, 0, shifted.length]);
    // The trailing baseline is Gentoo's now (label order: Adelie, Chinstrap, Gentoo), and no evidence builds up.
    expect(penguins.labels).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(trailing[2]).toBeGreaterThan(100 * (trailing[0]! + trailing[1]! + 1));
    expect(Math.max(...up, ...total)).toBeLessThan(1);
    // The recent inputs, which a later page's diagnosis measures a move from, are the adopted window's Gentoo rows and
    // the two healthy windows' after it (every window before was flagged and taught nothing): 3 × 62 rows, barely
    // decayed over three minutes, at the Gentoo rows' own means.
    const recent = recentInputs(stored, penguins.features.map((f) => f.name));
    for (const [j, f] of penguins.features.entries()) {
      expect(recent[f.name]!.rows).toBeCloseTo(3 * shifted.length, 0);
      expect(recent[f.name]!.mean).toBeCloseTo(shifted.reduce((s, row) => s + row[j]!, 0) / shifted.length, 4);
    }


    // The traffic goes back to the old mix (every held-out penguin): against the adopted Gentoo baseline that is a
    // change, and the next incident says "collapsed onto Adelie". Its page and GET /v1/incidents/{id} name the traffic
    // it was judged against, so on-call sees that the old mix was declared outdated, and by which incident.
    const oldMix = standardized(penguins, (penguinsHoldout as Holdout).rows.map((r) => r.input));
    expect(await shiftedWindow(6, oldMix)).toBe('collapsed');
    const [third] = await openIncidents();
    const applied = await env.DB.prepare('SELECT applied_at, adopted_from, adopted_to, adopted_predictions FROM rebaselines WHERE incident_id = ?')
      .bind(second!.id)
      .first<{ applied_at: number; adopted_from: number; adopted_to: number; adopted_predictions: number }>();
    // Applied by the tick that judged window 4, adopting window 3 alone.
    expect(applied).toMatchObject({ adopted_from: T + 3 * L, adopted_to: T + 3 * L, adopted_predictions: shifted.length });
    const detail = (await call('GET', `/v1/incidents/${third!.id}`)).body;
    expect(detail).toMatchObject({ status: 'open', kind: 'collapsed', latest: { dominant_label: 'Adelie' } });
    // And why: the inputs left the adopted Gentoo traffic (back to the training year's mean, so measured from training
    // alone they did not move), and the model still answers its probes.
    const [cause] = detail.diagnoses as { kind: string; evidence: { features: { name: string; from: string; shift: number; recent_shift: number }[] } }[];
    expect(cause!.kind).toBe('input_shift');
    const flipper = cause!.evidence.features.find((f) => f.name === 'flipper_length_mm')!;
    expect(flipper.from).toBe('recent');
    expect(Math.abs(flipper.shift)).toBeLessThan(0.5);
    expect(flipper.recent_shift).toBeLessThan(-1);
    const iso = (s: number) => new Date(s * 1000).toISOString();
    expect(detail.adopted_baseline).toEqual({
      incident_id: second!.id,
      status_url: `/incidents/${second!.id}`,
      applied_at: iso(applied!.applied_at),
      first_window_start: iso(T + 3 * L),
      last_window_start: iso(T + 3 * L),
      predictions: shifted.length,
    });
    // The incidents before it were judged against the package's reference and the healthy history: none adopted.
    for (const earlier of [first!, second!]) expect((await call('GET', `/v1/incidents/${earlier.id}`)).body.adopted_baseline, earlier.id).toBeNull();
    const thirdPage = await (await app.request(`${BASE}/incidents/${third!.id}`, {}, admin)).text();
    expect(thirdPage).toContain(
      `Judged against traffic declared normal: incident <a href="/incidents/${second!.id}">${second!.id}</a> was resolved with a rebaseline`,
    );
    expect(thirdPage).toContain('(62 predictions, window Jan 1 00:03–00:04 UTC). The label mix before it was declared outdated');
    expect(html).not.toContain('Judged against traffic declared normal');
  });

  it('a body that is not {"rebaseline": boolean} is a 400 naming what is wrong, and resolves nothing', async () => {
    // An open incident of its own, in 2035 (after everything above).
    const counts = { ...emptyCounts(), n: 300, labelCounts: { Adelie: 300 } };
    const settings = detectorSettings(penguins, { windowSeconds: L });
    const start = windowStart(Date.UTC(2035, 0, 1) / 1000, L);
    const { evaluation } = judgeWindow(null, counts, start, settings);
    expect(evaluation.verdict).toBe('collapsed');
    const opened = await trackIncident(admin, { model: 'penguins', version: penguins.version, windowStart: start, evaluation, ...explain(evaluation, counts, penguins, L) }, epochMs(start + 2 * L));
    const id = opened.incident!.id;
    for (const [body, error] of [
      ['{"rebaseline": "yes"}', 'body.rebaseline: expected true or false'],
      ['{"rebase": true}', 'body.rebase'],
      ['[true]', 'body'],
      ['{"rebaseline": tru', 'body: malformed JSON'],
    ] as const) {
      const res = await call('POST', `/v1/incidents/${id}/resolve`, body);
      expect(res.status, body).toBe(400);
      expect(res.body.error, body).toContain(error);
    }
    // Nothing happened: still open, no rebaseline recorded.
    const after = await call('GET', `/v1/incidents/${id}`);
    expect(after.body.status).toBe('open');
    expect(await env.DB.prepare('SELECT 1 FROM rebaselines WHERE incident_id = ?').bind(id).first()).toBeNull();
    // An empty body is a plain resolve.
    expect((await call('POST', `/v1/incidents/${id}/resolve`, '')).body).toMatchObject({ status: 'resolved', rebaseline: 'none' });
    expect((await call('POST', '/v1/incidents/inc_unknown/resolve', '{"rebaseline": true}')).status).toBe(404);
  });
});

describe('resolve with rebaseline while the cron judges', () => {
  // Each case starts penguins afresh, in 2036: no windows (so none is zero-filled before the first), no detector
  // state (so the shifted traffic is a collapse against the package's reference), no incident.
  const LATER = windowStart(Date.UTC(2036, 0, 1) / 1000, L);
  beforeEach(async () => {
    await env.DB.batch(
      ['monitor_states', 'rebaselines', 'incidents', 'deliveries', 'windows', 'window_labels', 'window_features'].map((table) => env.DB.prepare(`DELETE FROM ${table}`)),
    );
  });

  it.each([
    ['after the tick read the incident', /"incidents"\."status" <> \?/],
    ['just before the tick writes the incident', /^\s*(insert into|update) "incidents"/i],
  ])('a resolve with rebaseline landing while a tick judges the next window of that traffic (%s): the window waits for the next tick, which applies the rebaseline first, and no incident opens against the old baseline', async (_, at) => {
    expect(await shiftedWindow(0, shifted, LATER)).toBe('collapsed');
    expect(await shiftedWindow(1, shifted, LATER)).toBe('collapsed');
    const [incident] = await openIncidents();
    // Window 2: the same traffic, and the operator declares it normal while the tick is judging it.
    const start = LATER + 2 * L;
    await predictAt(penguins, shifted, epochMs(start + 10));
    await flushAll(penguins, epochMs(start + L + config.flushGraceSeconds));
    let answer: Awaited<ReturnType<typeof call>> | undefined;
    const racing = { ...env, DB: interleaved(env.DB, at, async () => (answer = await call('POST', `/v1/incidents/${incident!.id}/resolve`, '{"rebaseline": true}'))) };
    const report = await tick(racing, epochMs(start + L + config.flushGraceSeconds + config.closeMarginSeconds));
    expect(answer).toMatchObject({ status: 200, body: { resolved_now: true, rebaseline: 'waiting' } });
    expect(report.evaluation.failed).toBe(1);
    const verdictOf = async (s: number) =>
      (await env.DB.prepare('SELECT verdict FROM windows WHERE model = ? AND start = ?').bind('penguins', s).first<{ verdict: string | null }>())!.verdict;
    expect(await verdictOf(start)).toBeNull();
    expect(await openIncidents()).toEqual([]);
    // The next tick applies the rebaseline, then judges the window against the traffic declared normal.
    const next = await tick(env, epochMs(start + 2 * L + config.flushGraceSeconds + config.closeMarginSeconds));
    expect(next.evaluation.failed).toBe(0);
    expect(await verdictOf(start)).not.toMatch(/collapse/);
    expect(await openIncidents()).toEqual([]);
    expect((await call('GET', `/v1/incidents/${incident!.id}`)).body).toMatchObject({ status: 'resolved', rebaseline: 'applied' });
  });

  const appliedOf = (id: string) =>
    env.DB.prepare('SELECT applied_at, adopted_to, adopted_predictions FROM rebaselines WHERE incident_id = ?')
      .bind(id)
      .first<{ applied_at: number | null; adopted_to: number | null; adopted_predictions: number | null }>();
  /** When the tick that closes window slot k runs (+ `later` ms). */
  const tickAt = (k: number, later = 0) => epochMs(LATER + (k + 1) * L + config.flushGraceSeconds + config.closeMarginSeconds) + later;

  it('an incident opened by the tick that applied a rebaseline names the traffic it adopted, also when storing that verdict failed and the next tick marked it applied', async () => {
    expect(await shiftedWindow(0, shifted, LATER)).toBe('collapsed');
    expect(await shiftedWindow(1, shifted, LATER)).toBe('collapsed');
    const [declared] = await openIncidents();
    expect((await call('POST', `/v1/incidents/${declared!.id}/resolve`, '{"rebaseline": true}')).body).toMatchObject({ rebaseline: 'waiting' });
    // Window 2: the old mix again, a collapse against the Gentoo traffic just adopted. The tick applies the
    // rebaseline, opens the incident, then fails to store the window's verdict (with the state and the applied mark).
    const start = LATER + 2 * L;
    const oldMix = standardized(penguins, (penguinsHoldout as Holdout).rows.map((r) => r.input));
    await predictAt(penguins, [...oldMix, ...oldMix], epochMs(start + 10));
    await flushAll(penguins, epochMs(start + L + config.flushGraceSeconds));
    const failing = { ...env, DB: interleaved(env.DB, /^\s*update "windows" set "verdict"/i, async () => {
      throw new Error('D1 went away');
    }) };
    expect((await tick(failing, tickAt(2))).evaluation.failed).toBe(1);
    const [opened] = await openIncidents();
    expect(opened).toMatchObject({ kind: 'collapsed' });
    expect(await appliedOf(declared!.id)).toMatchObject({ applied_at: null });
    // The next tick applies it again to the same stored state, judges window 2 again (a replay for the incident) and
    // marks it applied now, a minute after the incident opened.
    expect((await tick(env, tickAt(3))).evaluation.failed).toBe(0);
    const applied = await appliedOf(declared!.id);
    expect(applied).toMatchObject({ applied_at: tickAt(3) / 1000, adopted_to: LATER + L, adopted_predictions: shifted.length });
    const detail = (await call('GET', `/v1/incidents/${opened!.id}`)).body;
    expect(Date.parse(detail.opened_at) / 1000).toBe(tickAt(2) / 1000);
    expect(detail.adopted_baseline).toMatchObject({ incident_id: declared!.id, applied_at: new Date(tickAt(3)).toISOString(), predictions: shifted.length });
    const page = await (await app.request(`${BASE}/incidents/${opened!.id}`, {}, admin)).text();
    expect(page).toContain(`Judged against traffic declared normal: incident <a href="/incidents/${declared!.id}">${declared!.id}</a>`);
  });

  it('two ticks that overlap over the window after a rebaseline both apply it; the first to store its verdict says when, the second changes nothing of it', async () => {
    expect(await shiftedWindow(0, shifted, LATER)).toBe('collapsed');
    expect(await shiftedWindow(1, shifted, LATER)).toBe('collapsed');
    const [declared] = await openIncidents();
    await call('POST', `/v1/incidents/${declared!.id}/resolve`, '{"rebaseline": true}');
    const start = LATER + 2 * L;
    await predictAt(penguins, shifted, epochMs(start + 10));
    await flushAll(penguins, epochMs(start + L + config.flushGraceSeconds));
    // Tick A read the state (the rebaseline waiting) and judged window 2; just before it stores the verdict, tick B,
    // half a minute later, does all of that and stores it first.
    let b: Awaited<ReturnType<typeof tick>> | undefined;
    const racing = { ...env, DB: interleaved(env.DB, /^\s*update "windows" set "verdict"/i, async () => (b = await tick(env, tickAt(2, 30_000)))) };
    const a = await tick(racing, tickAt(2));
    expect([a.evaluation, b?.evaluation]).toMatchObject([{ failed: 0 }, { failed: 0 }]);
    expect(await appliedOf(declared!.id)).toMatchObject({ applied_at: tickAt(2, 30_000) / 1000, adopted_to: LATER + L });
    expect(await openIncidents()).toEqual([]);
  });
});
