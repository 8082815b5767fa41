// Incidents inside workerd with the real D1: trackIncident writes the incident and its outbox rows together and
// enqueues them; the admin API (auth, listing, detail, ack, manual resolve, delivery retry); the outbox sweep.
// The queue is a recording fake here (the real consumer is exercised end to end in test/node/alerts.test.ts).
import { createExecutionContext, env as testEnv, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { trackIncident } from '../../src/incidents/track';
import { tick } from '../../src/schedule';
import { SWEEP_GRACE_SECONDS, sweepOutbox } from '../../src/incidents/outbox';
import { createApp } from '../../src/app';
import type { Env } from '../../src/config';
import { detectorSettings, emptyCounts, explain, judgeWindow, type EvaluatedWindow, type MonitorState } from '../../src/monitor';
import { registry } from '../../src/serving/registry';
import { recorded } from './contract';
import { config, interleaved } from './helpers';

const TOKEN = 'admin-token-4d1f9a7c';
const SECRETS = ['whsec_YWxlcnQtc2VjcmV0LWZvci10ZXN0cw==', 'whsec_cmV0cmFpbi1zZWNyZXQtZm9yLXRlc3Rz', 'R0UTINGKEY0123456789abcdefABCDEF', 'slack-secret-path'];
const weather = registry.metadata('seattle-weather')!;
const app = recorded(createApp());

/** A queue that records what it is asked to send, or fails like an unavailable Queues service. */
class RecordingQueue {
  sent: { deliveryId: string }[] = [];
  failing = false;
  async send(body: { deliveryId: string }) {
    await this.sendBatch([{ body }]);
  }
  async sendBatch(messages: { body: { deliveryId: string } }[]) {
    if (this.failing) throw new Error('queue unavailable');
    this.sent.push(...messages.map((m) => m.body));
  }
}

let queue: RecordingQueue;
/** A fresh env object per test (config is cached per env object) with every channel configured. */
let env: Env;
beforeEach(async () => {
  queue = new RecordingQueue();
  env = {
    ...(testEnv as unknown as Env),
    DELIVERIES: queue as unknown as Queue,
    ADMIN_TOKEN: TOKEN,
    PUBLIC_URL: 'https://labelwatch.example.test',
    ALERT_WEBHOOK_URL: 'https://alerts.example.test/hook',
    ALERT_WEBHOOK_SECRET: SECRETS[0],
    RETRAIN_WEBHOOK_URL: 'https://train.example.test/retrain',
    RETRAIN_WEBHOOK_SECRET: SECRETS[1],
    PAGERDUTY_ROUTING_KEY: SECRETS[2],
    SLACK_WEBHOOK_URL: `https://hooks.slack.test/services/${SECRETS[3]}`,
  };
  await testEnv.DB.batch(
    ['DELETE FROM deliveries', 'DELETE FROM incidents', 'DELETE FROM window_labels', 'DELETE FROM windows', 'DELETE FROM rebaselines'].map((s) => testEnv.DB.prepare(s)),
  );
});

const NOW = Math.floor(Date.now() / 60_000) * 60_000;
const START = NOW / 1000 - 3600;
const at = (k: number) => START + 60 * k;

const countsOf = (labelCounts: Record<string, number>) => {
  const counts = emptyCounts();
  Object.assign(counts.labelCounts, labelCounts);
  counts.n = Object.values(labelCounts).reduce((s, c) => s + c, 0);
  return counts;
};
/** The detector's state after half an hour of healthy traffic at the model's own held-out mix: a model with a history. */
const settings = detectorSettings(weather, { windowSeconds: 60 });
const warm = Array.from({ length: 30 }, () => countsOf(weather.reference!.label_counts)).reduce<MonitorState | null>(
  (state, counts, i) => judgeWindow(state, counts, at(-100 + i), settings).state,
  null,
);
/** A window judged by the real detector after that history, with its diagnosis when flagged. */
function judged(labelCounts: Record<string, number>, k: number, model = weather.name): EvaluatedWindow {
  const counts = countsOf(labelCounts);
  const { evaluation } = judgeWindow(warm, counts, at(k), settings);
  return { model, version: weather.version, windowStart: at(k), evaluation, ...explain(evaluation, counts, weather, settings.windowSeconds) };
}
const collapsed = (k: number, model?: string) => judged({ rain: 300 }, k, model);
const partial = (k: number) => judged({ rain: 150, sun: 150, snow: 4 }, k);
const healthy = (k: number) => judged({ drizzle: 15, fog: 49, rain: 96, snow: 20, sun: 112 }, k);
const few = (k: number) => judged({ rain: 3 }, k);

interface DeliveryRow {
  id: string;
  incident_id: string;
  channel: string;
  event: string;
  escalation_window: number;
  status: string;
  attempts: number;
  enqueued_at: number | null;
  payload: string;
}
const deliveries = async () =>
  (await testEnv.DB.prepare('SELECT * FROM deliveries ORDER BY id').all<DeliveryRow>()).results;
const events = async () => (await deliveries()).map((d) => `${d.channel}:${d.event}`);

async function call(method: string, path: string, token: string | null = TOKEN, e: Env = env) {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  const res = await app.fetch(new Request(`http://labelwatch.test${path}`, { method, headers }), e, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  // No response ever carries a channel URL or secret.
  for (const secret of [...SECRETS, 'alerts.example.test', 'train.example.test', 'hooks.slack.test']) expect(text).not.toContain(secret);
  return { status: res.status, body: JSON.parse(text), headers: res.headers };
}

describe('trackIncident', () => {
  it('opens an incident and writes one delivery per configured channel with it, then enqueues them', async () => {
    const t = await trackIncident(env, collapsed(0), NOW);
    expect(t.events).toEqual(['opened']);
    expect(t.incident!.id).toMatch(/^inc_[0-9A-Z]{26}$/);
    const rows = await deliveries();
    expect(rows.map((d) => `${d.channel}:${d.event}`).sort()).toEqual([
      'alert:incident.opened',
      'pagerduty:incident.opened',
      'retrain:retrain.requested',
      'slack:incident.opened',
    ]);
    for (const d of rows) {
      expect(d).toMatchObject({ incident_id: t.incident!.id, status: 'pending', attempts: 0, enqueued_at: NOW / 1000 });
      expect(d.id).toMatch(/^msg_[0-9A-Z]{26}$/);
      for (const secret of SECRETS) expect(d.payload).not.toContain(secret);
    }
    expect(queue.sent.map((m) => m.deliveryId).sort()).toEqual(rows.map((d) => d.id).sort());
    const stored = await testEnv.DB.prepare('SELECT * FROM incidents').all<Record<string, unknown>>();
    expect(stored.results).toHaveLength(1);
    expect(stored.results[0]).toMatchObject({ id: t.incident!.id, model: 'seattle-weather', status: 'open', kind: 'collapsed', flagged_windows: 1 });
  });

  it('100 flagged windows in a row: one incident, one page per channel; recovery: one resolve', async () => {
    for (let k = 0; k < 100; k++) await trackIncident(env, collapsed(k), NOW);
    expect(await events()).toHaveLength(4);
    // Too few predictions say nothing; two healthy windows are not yet a recovery.
    for (const w of [healthy(100), few(101), healthy(102)]) expect((await trackIncident(env, w, NOW)).events).toEqual([]);
    expect((await trackIncident(env, healthy(103), NOW)).events).toEqual(['resolved']);
    expect((await trackIncident(env, healthy(104), NOW)).events).toEqual([]);
    expect((await events()).filter((e) => e.endsWith('resolved')).sort()).toEqual(['alert:incident.resolved', 'pagerduty:incident.resolved', 'slack:incident.resolved']);
    const incident = await testEnv.DB.prepare('SELECT * FROM incidents').first<Record<string, unknown>>();
    expect(incident).toMatchObject({ status: 'resolved', flagged_windows: 100, healthy_streak: 3, resolved_by: 'monitor' });
    expect(queue.sent).toHaveLength(7);
  });

  it('escalation pages again (incident.updated); replays change nothing; a new collapse after recovery is a new incident', async () => {
    const opened = await trackIncident(env, partial(0), NOW);
    expect((await trackIncident(env, partial(1), NOW)).events).toEqual(['updated']);
    expect(await events()).toHaveLength(4);
    expect((await trackIncident(env, collapsed(2), NOW)).events).toEqual(['escalated']);
    expect((await trackIncident(env, collapsed(2), NOW)).events).toEqual([]);
    expect((await trackIncident(env, collapsed(1), NOW)).events).toEqual([]);
    expect((await events()).filter((e) => e.endsWith('updated')).sort()).toEqual(['alert:incident.updated', 'pagerduty:incident.updated', 'slack:incident.updated']);
    for (let k = 3; k < 6; k++) await trackIncident(env, healthy(k), NOW);
    const reopened = await trackIncident(env, collapsed(6), NOW);
    expect(reopened.events).toEqual(['opened']);
    expect(reopened.incident!.id).not.toBe(opened.incident!.id);
    expect((await events()).filter((e) => e === 'retrain:retrain.requested')).toHaveLength(2);
  });

  it('every escalation pages: partial → collapsed onto rain → collapsed onto sun is two incident.updated per channel, each told in order; replays add nothing', async () => {
    const sun = (k: number) => judged({ sun: 300 }, k);
    const opened = await trackIncident(env, partial(0), NOW);
    expect((await trackIncident(env, collapsed(1), NOW + 60_000)).events).toEqual(['escalated']);
    expect((await trackIncident(env, sun(2), NOW + 120_000)).events).toEqual(['escalated']);
    // A replay of either escalation's window (a tick that failed after the incident write) changes nothing.
    expect((await trackIncident(env, sun(2), NOW + 180_000)).events).toEqual([]);
    expect((await trackIncident(env, collapsed(1), NOW + 180_000)).events).toEqual([]);
    const updates = (await deliveries()).filter((d) => d.event === 'incident.updated');
    expect(updates.map((d) => d.channel).sort()).toEqual(['alert', 'alert', 'pagerduty', 'pagerduty', 'slack', 'slack']);
    // Keyed by the window that escalated; the events an incident has once keep the key 0.
    expect(updates.map((d) => [d.channel, d.escalation_window])).toEqual(
      [at(1), at(2)].flatMap((start) => ['alert', 'pagerduty', 'slack'].map((c) => [c, start])),
    );
    expect((await deliveries()).filter((d) => d.event !== 'incident.updated').every((d) => d.escalation_window === 0)).toBe(true);
    // Each escalation's own news: the alert webhook hears rain, then sun.
    const alerts = updates.filter((d) => d.channel === 'alert').map((d) => JSON.parse(d.payload).data.latest_flagged_window);
    expect(alerts.map((w) => [w.start, w.dominant_label])).toEqual([
      [new Date(at(1) * 1000).toISOString(), 'rain'],
      [new Date(at(2) * 1000).toISOString(), 'sun'],
    ]);
    // Every delivery was enqueued once, and its id (the webhook-id) is its own.
    expect(queue.sent.map((m) => m.deliveryId).sort()).toEqual((await deliveries()).map((d) => d.id).sort());
    expect(new Set((await deliveries()).map((d) => d.id)).size).toBe(10);
    for (let k = 3; k <= 5; k++) await trackIncident(env, healthy(k), NOW + 240_000);
    // In id order (the order a channel hears them), PagerDuty gets trigger, trigger, trigger, resolve.
    const pagerDuty = (await deliveries()).filter((d) => d.channel === 'pagerduty' && d.incident_id === opened.incident!.id);
    expect(pagerDuty.map((d) => d.event)).toEqual(['incident.opened', 'incident.updated', 'incident.updated', 'incident.resolved']);
    expect(pagerDuty.map((d) => JSON.parse(d.payload).event_action)).toEqual(['trigger', 'trigger', 'trigger', 'resolve']);
  });

  it('a tick racing another over the same escalation stores nothing of it: the outbox key refuses the second copy', async () => {
    const sun = (k: number) => judged({ sun: 300 }, k);
    await trackIncident(env, partial(0), NOW);
    await trackIncident(env, collapsed(1), NOW);
    // Both ticks read the incident before either wrote window 2's escalation.
    const racing = { ...env, DB: interleaved(testEnv.DB, /^\s*(insert|update)\b/i, () => trackIncident(env, sun(2), NOW)) };
    await expect(trackIncident(racing, sun(2), NOW)).rejects.toThrow(/UNIQUE constraint failed: deliveries/);
    expect((await deliveries()).filter((d) => d.event === 'incident.updated').map((d) => d.channel).sort()).toEqual([
      'alert',
      'alert',
      'pagerduty',
      'pagerduty',
      'slack',
      'slack',
    ]);
    // Tracked again, the window is a replay.
    expect((await trackIncident(env, sun(2), NOW)).events).toEqual([]);
  });

  it('ack without PagerDuty configured sends nothing', async () => {
    const noPd = { ...env, PAGERDUTY_ROUTING_KEY: '' };
    const id = (await trackIncident(noPd, collapsed(0), NOW)).incident!.id;
    queue.sent = [];
    expect((await call('POST', `/v1/incidents/${id}/ack`, TOKEN, noPd)).status).toBe(200);
    expect(queue.sent).toEqual([]);
    expect((await events()).filter((e) => e.endsWith('acknowledged'))).toEqual([]);
  });

  it('with no channel configured, the incident is still tracked and nothing is enqueued', async () => {
    const bare = { ...env, ALERT_WEBHOOK_URL: '', RETRAIN_WEBHOOK_URL: '', PAGERDUTY_ROUTING_KEY: '', SLACK_WEBHOOK_URL: '' };
    expect((await trackIncident(bare, collapsed(0), NOW)).events).toEqual(['opened']);
    expect(await deliveries()).toEqual([]);
    expect(queue.sent).toEqual([]);
  });

  it('when the queue is down, the rows stay and the sweep enqueues them once they are stale', async () => {
    queue.failing = true;
    await trackIncident(env, collapsed(0), NOW);
    const rows = await deliveries();
    expect(rows).toHaveLength(4);
    expect(rows.every((d) => d.enqueued_at === null && d.status === 'pending')).toBe(true);
    queue.failing = false;
    expect(await sweepOutbox(env, NOW + (SWEEP_GRACE_SECONDS - 1) * 1000)).toBe(0);
    expect(queue.sent).toEqual([]);
    expect(await sweepOutbox(env, NOW + SWEEP_GRACE_SECONDS * 1000)).toBe(4);
    expect(queue.sent.map((m) => m.deliveryId).sort()).toEqual(rows.map((d) => d.id).sort());
    // Claimed: the next sweep leaves them alone until they are stale again.
    expect(await sweepOutbox(env, NOW + SWEEP_GRACE_SECONDS * 1000)).toBe(0);
    // Delivered and dead rows are never swept.
    await testEnv.DB.prepare("UPDATE deliveries SET status = CASE WHEN channel = 'slack' THEN 'dead' ELSE 'delivered' END").run();
    expect(await sweepOutbox(env, NOW + 100 * SWEEP_GRACE_SECONDS * 1000)).toBe(0);
  });

  it('the sweep keeps each channel in event order: a resolve waits for its trigger', async () => {
    queue.failing = true;
    await trackIncident(env, collapsed(0), NOW);
    for (let k = 1; k <= 3; k++) await trackIncident(env, healthy(k), NOW);
    expect(await deliveries()).toHaveLength(7);
    queue.failing = false;
    expect(await sweepOutbox(env, NOW + SWEEP_GRACE_SECONDS * 1000)).toBe(4);
    const sent = new Set(queue.sent.map((m) => m.deliveryId));
    expect((await deliveries()).filter((d) => sent.has(d.id)).map((d) => d.event).sort()).toEqual([
      'incident.opened',
      'incident.opened',
      'incident.opened',
      'retrain.requested',
    ]);
    // Once the triggers are out, the resolves are first in line and stale: the next sweep sends them.
    await testEnv.DB.prepare("UPDATE deliveries SET status = 'delivered' WHERE event <> 'incident.resolved'").run();
    queue.sent = [];
    expect(await sweepOutbox(env, NOW + SWEEP_GRACE_SECONDS * 1000)).toBe(3);
  });

  it('a retrying delivery is swept only once it is overdue by the grace period', async () => {
    await trackIncident(env, collapsed(0), NOW);
    const due = NOW / 1000 + 600;
    await testEnv.DB.prepare("UPDATE deliveries SET status = 'retrying', attempts = 2, next_attempt_at = ? WHERE channel = 'pagerduty'").bind(due).run();
    await testEnv.DB.prepare("UPDATE deliveries SET status = 'delivered' WHERE channel <> 'pagerduty'").run();
    queue.sent = [];
    expect(await sweepOutbox(env, (due + SWEEP_GRACE_SECONDS - 1) * 1000)).toBe(0);
    expect(await sweepOutbox(env, (due + SWEEP_GRACE_SECONDS) * 1000)).toBe(1);
    expect(queue.sent).toHaveLength(1);
  });
});

describe('through the cron', () => {
  it('an incident escalating a second time gets its verdicts: the escalation pages, and the windows after it are judged', async () => {
    // The version's history in D1, as the aggregator leaves it: closed windows without a verdict, half an hour of
    // traffic at the model's held-out mix, then a partial collapse, a collapse onto rain, one onto sun, and recovery.
    const mixes = [
      ...Array.from({ length: 30 }, () => weather.reference!.label_counts),
      { rain: 150, sun: 150, snow: 4 },
      { rain: 300 },
      { sun: 300 },
      { sun: 300 },
      ...Array.from({ length: 4 }, () => weather.reference!.label_counts),
    ];
    const first = at(0);
    // The tick after the last window may close: nothing left to fill with zero traffic.
    const tickMs = (first + 60 * mixes.length + config.flushGraceSeconds + config.closeMarginSeconds) * 1000;
    const statements = mixes.flatMap((labels, k) => [
      testEnv.DB.prepare('INSERT INTO windows (model, version, start, length, n, closed, closed_at) VALUES (?, ?, ?, 60, ?, 1, ?)').bind(
        weather.name,
        weather.version,
        first + 60 * k,
        Object.values(labels).reduce((s, c) => s + c, 0),
        tickMs / 1000,
      ),
      ...Object.entries(labels).map(([label, count]) =>
        testEnv.DB.prepare('INSERT INTO window_labels (model, version, start, label, count) VALUES (?, ?, ?, ?, ?)').bind(weather.name, weather.version, first + 60 * k, label, count),
      ),
    ]);
    await testEnv.DB.batch([testEnv.DB.prepare('DELETE FROM monitor_states'), ...statements]);
    const report = await tick(env, tickMs);
    expect(report.evaluation).toMatchObject({ failed: 0 });
    const verdicts = await testEnv.DB.prepare('SELECT verdict FROM windows WHERE model = ? ORDER BY start').bind(weather.name).all<{ verdict: string | null }>();
    expect(verdicts.results).toHaveLength(mixes.length);
    expect(verdicts.results.map((w) => w.verdict).slice(29)).toEqual(['healthy', 'partial_collapse', 'collapsed', 'collapsed', 'collapsed', 'healthy', 'healthy', 'healthy', 'healthy']);
    const incident = await testEnv.DB.prepare("SELECT id, status FROM incidents WHERE model = ? AND kind <> 'model_defect'").bind(weather.name).first<{ id: string; status: string }>();
    expect(incident!.status).toBe('resolved');
    const told = (await deliveries()).filter((d) => d.incident_id === incident!.id && d.channel === 'pagerduty').map((d) => d.event);
    expect(told).toEqual(['incident.opened', 'incident.updated', 'incident.updated', 'incident.resolved']);
  });
});

describe('admin API auth', () => {
  const paths: [string, string][] = [
    ['GET', '/v1/incidents'],
    ['GET', '/v1/incidents?status=active'],
    ['GET', '/v1/incidents/inc_unknown'],
    ['POST', '/v1/incidents/inc_unknown/ack'],
    ['POST', '/v1/incidents/inc_unknown/resolve'],
    ['POST', '/v1/deliveries/msg_unknown/retry'],
  ];

  it.each(paths)('%s %s: 401 without the admin token or with a wrong one', async (method, path) => {
    for (const token of [null, '', 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const res = await call(method, path, token);
      expect(res.status, `token ${token}`).toBe(401);
      expect(res.body).toEqual({ error: 'authorization: a valid "Authorization: Bearer <admin token>" header is required' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
    }
  });

  it.each(paths)('%s %s: 403 when ADMIN_TOKEN is not set, whatever is presented', async (method, path) => {
    for (const token of [null, TOKEN, 'anything']) {
      const res = await call(method, path, token, { ...env, ADMIN_TOKEN: '' });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'admin API disabled: set ADMIN_TOKEN' });
    }
  });

  it('a resolve body over 1 MiB is a 413, declared or streamed, and resolves nothing', async () => {
    const id = (await trackIncident(env, collapsed(0), NOW)).incident!.id;
    const big = `{"rebaseline": false, "pad": "${'x'.repeat(1024 * 1024)}"}`;
    for (const body of [big, new Blob([big]).stream()]) {
      const ctx = createExecutionContext();
      const init = { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body };
      const res = await app.fetch(new Request(`http://labelwatch.test/v1/incidents/${id}/resolve`, init), env, ctx);
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({ error: 'body: larger than the limit of 1048576 bytes (1 MiB); a resolve body is {"rebaseline": true} or nothing' });
    }
    expect((await call('GET', `/v1/incidents/${id}`)).body.status).toBe('open');
  });

  it('unknown ids are 404 JSON with the token', async () => {
    for (const [method, path] of paths.slice(2)) {
      const res = await call(method, path);
      expect(res.status, path).toBe(404);
      expect(res.body.error).toMatch(/not found/);
    }
  });
});

describe('admin API', () => {
  async function seedWindows(model: string, from: number, to: number, labels: Record<string, number>, verdict: string) {
    const n = Object.values(labels).reduce((s, c) => s + c, 0);
    const statements = [];
    for (let k = from; k <= to; k++) {
      statements.push(testEnv.DB.prepare('INSERT INTO windows (model, version, start, length, n, closed, verdict) VALUES (?, ?, ?, 60, ?, 1, ?)').bind(model, '1', at(k), n, verdict));
      for (const [label, count] of Object.entries(labels))
        statements.push(testEnv.DB.prepare('INSERT INTO window_labels (model, version, start, label, count) VALUES (?, ?, ?, ?, ?)').bind(model, '1', at(k), label, count));
    }
    await testEnv.DB.batch(statements);
  }

  it('lists incidents newest first, filtered by status and model', async () => {
    const a = (await trackIncident(env, collapsed(0), NOW)).incident!;
    for (let k = 1; k <= 3; k++) await trackIncident(env, healthy(k), NOW);
    const b = (await trackIncident(env, collapsed(10), NOW + 60_000)).incident!;
    const c = (await trackIncident(env, collapsed(10, 'penguins'), NOW + 120_000)).incident!;
    const ids = async (query: string) => (await call('GET', `/v1/incidents${query}`)).body.incidents.map((i: { id: string }) => i.id);
    expect(await ids('')).toEqual([c.id, b.id, a.id]);
    expect(await ids('?status=resolved')).toEqual([a.id]);
    expect(await ids('?status=open')).toEqual([c.id, b.id]);
    expect(await ids('?status=active&model=seattle-weather')).toEqual([b.id]);
    expect(await ids('?model=nope')).toEqual([]);
    expect(await ids('?limit=1')).toEqual([c.id]);
    const res = await call('GET', '/v1/incidents?status=closed');
    expect(res).toMatchObject({ status: 400, body: { error: 'status: expected one of open, acknowledged, resolved, active' } });
    expect((await call('GET', '/v1/incidents?limit=0')).status).toBe(400);
    const listed = (await call('GET', '/v1/incidents')).body.incidents[1];
    expect(listed).toMatchObject({
      id: b.id,
      model: 'seattle-weather',
      version: '1',
      kind: 'collapsed',
      status: 'open',
      flagged_windows: 1,
      first_window_start: new Date(at(10) * 1000).toISOString(),
      resolved_at: null,
      status_url: `https://labelwatch.example.test/incidents/${b.id}`,
      latest: { verdict: 'collapsed', top_label: 'rain', window_start: new Date(at(10) * 1000).toISOString() },
    });
  });

  it('lists two incidents opened in the same second newest first by id, whatever their first windows', async () => {
    // Opened in one second, the later one about an earlier window (a version whose backlog the cron is still
    // working through): only the id, which sorts by creation, tells them apart. Ordered by first window, the earlier
    // opened would come first.
    const earlier = (await trackIncident(env, collapsed(10), NOW + 200)).incident!;
    const later = (await trackIncident(env, collapsed(5, 'penguins'), NOW + 700)).incident!;
    expect(later.id > earlier.id).toBe(true);
    expect(later.firstWindowStart).toBeLessThan(earlier.firstWindowStart);
    const listed = (await call('GET', '/v1/incidents')).body.incidents as { id: string; opened_at: string }[];
    expect(listed.map((i) => i.opened_at)).toEqual([new Date(NOW).toISOString(), new Date(NOW).toISOString()]);
    expect(listed.map((i) => i.id)).toEqual([later.id, earlier.id]);
  });

  it('shows one incident with its windows (verdicts included), diagnosis, remedies and deliveries, never payloads', async () => {
    await seedWindows('seattle-weather', 0, 4, { rain: 300 }, 'collapsed');
    await seedWindows('seattle-weather', 5, 6, { rain: 105, sun: 105 }, 'healthy');
    let id = '';
    for (let k = 0; k < 5; k++) id = (await trackIncident(env, collapsed(k), NOW)).incident!.id;
    await testEnv.DB.prepare("UPDATE deliveries SET status = 'dead', attempts = 8, last_status_code = 503, last_error = 'HTTP 503 (gave up after 8 attempts)' WHERE channel = 'slack'").run();
    const { status, body } = await call('GET', `/v1/incidents/${id}`);
    expect(status).toBe(200);
    expect(body.windows.map((w: { start: string; verdict: string; counts: object }) => [w.start, w.verdict, w.counts])).toEqual(
      [4, 3, 2, 1, 0].map((k) => [new Date(at(k) * 1000).toISOString(), 'collapsed', { rain: 300 }]),
    );
    expect(body.diagnoses.map((d: { kind: string }) => d.kind)).toEqual(['insufficient_data', 'class_imbalance']);
    // The model already trained with class weights: the imbalance remedy is resampling, not class weights again.
    expect(body.remedies.map((r: { kind: string }) => r.kind)).toContain('resample');
    expect(body.remedies.map((r: { kind: string }) => r.kind)).not.toContain('class_weight');
    // In the wire's names (snake_case), the same shape as the retraining webhook's; label-keyed maps keep the labels.
    const imbalance = body.diagnoses.find((d: { kind: string }) => d.kind === 'class_imbalance');
    expect(Object.keys(imbalance.evidence).sort()).toEqual(
      ['class_weight_used', 'dominant_label', 'imbalance_ratio', 'inputs_look_like_training', 'majority_label', 'training_counts', 'vanished_labels'],
    );
    expect(imbalance.evidence).toMatchObject({ class_weight_used: true, dominant_label: 'rain', training_counts: weather.training.label_counts });
    const insufficient = body.diagnoses.find((d: { kind: string }) => d.kind === 'insufficient_data');
    expect(Object.keys(insufficient.evidence).sort()).toEqual(['features', 'required_per_label', 'rule', 'short_labels']);
    const resample = body.remedies.find((r: { kind: string }) => r.kind === 'resample');
    expect(resample).toMatchObject({ diagnosis: 'class_imbalance', strategy: 'oversample', target_per_label: Math.max(...Object.values(weather.training.label_counts)) });
    expect(Object.keys(resample.add_per_label).sort()).toEqual([...weather.labels].sort());
    expect(Object.keys(body.latest).sort()).toEqual(['dominant_label', 'n', 'reason', 'top_label', 'top_share', 'vanished_labels', 'verdict', 'window_start']);
    expect(body.deliveries).toHaveLength(4);
    const slack = body.deliveries.find((d: { channel: string }) => d.channel === 'slack');
    expect(slack).toMatchObject({ event: 'incident.opened', status: 'dead', attempts: 8, last_status_code: 503, last_error: 'HTTP 503 (gave up after 8 attempts)' });
    for (const d of body.deliveries) expect(Object.keys(d)).not.toContain('payload');
  });

  it('ack: acknowledged, PagerDuty hears acknowledge once with the dedup key; later windows keep it acknowledged; ack of a resolved incident is 409', async () => {
    const id = (await trackIncident(env, collapsed(0), NOW)).incident!.id;
    queue.sent = [];
    const res = await call('POST', `/v1/incidents/${id}/ack`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'acknowledged' });
    expect(res.body.acknowledged_at).not.toBeNull();
    expect((await call('POST', `/v1/incidents/${id}/ack`)).status).toBe(200);
    // PagerDuty's acknowledge event, exactly once however often the operator acknowledges; nobody else is paged.
    const ack = (await deliveries()).filter((d) => d.event === 'incident.acknowledged');
    expect(ack.map((d) => d.channel)).toEqual(['pagerduty']);
    expect(JSON.parse(ack[0].payload)).toEqual({ event_action: 'acknowledge', dedup_key: id });
    expect(queue.sent).toEqual([{ deliveryId: ack[0].id }]);
    expect(await events()).toHaveLength(5);
    await trackIncident(env, collapsed(1), NOW);
    expect((await call('GET', `/v1/incidents/${id}`)).body).toMatchObject({ status: 'acknowledged', flagged_windows: 2 });
    for (let k = 2; k <= 4; k++) await trackIncident(env, healthy(k), NOW);
    expect((await call('GET', `/v1/incidents/${id}`)).body.status).toBe('resolved');
    expect((await call('POST', `/v1/incidents/${id}/ack`)).status).toBe(409);
  });

  it('manual resolve sends the resolve notifications once; the next flagged window opens a new incident', async () => {
    const id = (await trackIncident(env, collapsed(0), NOW)).incident!.id;
    queue.sent = [];
    const res = await call('POST', `/v1/incidents/${id}/resolve`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'resolved', resolved_by: 'admin', resolved_now: true });
    const resolves = res.body.deliveries.filter((d: { event: string }) => d.event === 'incident.resolved');
    expect(resolves.map((d: { channel: string }) => d.channel).sort()).toEqual(['alert', 'pagerduty', 'slack']);
    expect(queue.sent.map((m) => m.deliveryId).sort()).toEqual(resolves.map((d: { id: string }) => d.id).sort());
    const again = await call('POST', `/v1/incidents/${id}/resolve`);
    expect(again.body).toMatchObject({ status: 'resolved', resolved_now: false });
    expect(queue.sent).toHaveLength(3);
    const next = await trackIncident(env, collapsed(1), NOW);
    expect(next.events).toEqual(['opened']);
    expect(next.incident!.id).not.toBe(id);
  });

  it('rebaseline is refused (409, nothing recorded, nothing resolved) where there is no traffic of this incident to adopt', async () => {
    const resolveWithRebaseline = async (id: string) => {
      const ctx = createExecutionContext();
      const init = { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"rebaseline": true}' };
      const res = await app.fetch(new Request(`http://labelwatch.test/v1/incidents/${id}/resolve`, init), env, ctx);
      await waitOnExecutionContext(ctx);
      return { status: res.status, body: (await res.json()) as { error?: string } };
    };
    const rebaselineRows = async () => (await testEnv.DB.prepare('SELECT incident_id FROM rebaselines').all()).results.length;
    const before = await rebaselineRows();
    // Resolved by the monitor: the traffic came back.
    const recovered = (await trackIncident(env, collapsed(0), NOW)).incident!.id;
    for (let k = 1; k <= 3; k++) await trackIncident(env, healthy(k), NOW);
    const byMonitor = await resolveWithRebaseline(recovered);
    expect(byMonitor.status).toBe(409);
    expect(byMonitor.body.error).toContain('was resolved by the monitor when its traffic was healthy again');
    // An older incident than the version's latest: adopting now would declare the later one's traffic normal.
    const later = (await trackIncident(env, collapsed(4), NOW)).incident!.id;
    expect(later).not.toBe(recovered);
    // A version no longer served: no window of it is judged again.
    const retired = (await trackIncident(env, { ...collapsed(5), version: 'retired-0' }, NOW)).incident!.id;
    const old = await resolveWithRebaseline(retired);
    expect(old.status).toBe(409);
    expect(old.body.error).toContain(`is of seattle-weather vretired-0, which is no longer served (v${weather.version} is)`);
    expect((await call('GET', `/v1/incidents/${retired}`)).body.status).toBe('open');
    // The latest, open incident of the served version: accepted.
    const accepted = await resolveWithRebaseline(later);
    expect(accepted.status).toBe(200);
    expect(await rebaselineRows()).toBe(before + 1);
    // Now an older one again: `later` is the latest (opened by a tick that applied its rebaseline first).
    await trackIncident(env, collapsed(6), NOW, [later]);
    const superseded = await resolveWithRebaseline(later);
    expect(superseded.status).toBe(409);
    expect(superseded.body.error).toMatch(/is not seattle-weather's latest incident \(inc_\w+ began since\)/);
    expect(await rebaselineRows()).toBe(before + 1);
  });

  it('an incident names the traffic declared normal it was judged against: the newest rebaseline of its version that adopted traffic before its first window was judged', async () => {
    const nowSec = NOW / 1000;
    const earlier = (await trackIncident(env, collapsed(0), NOW)).incident!;
    const ctx = createExecutionContext();
    const init = { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"rebaseline": true}' };
    const resolved = await app.fetch(new Request(`http://labelwatch.test/v1/incidents/${earlier.id}/resolve`, init), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(resolved.status).toBe(200);
    // The next incident opens a minute later, in the tick that judged window 5 (after applying the rebaseline).
    const later = (await trackIncident(env, collapsed(5), NOW + 60_000, [earlier.id])).incident!;
    const adopted = async (id: string) => (await call('GET', `/v1/incidents/${id}`)).body.adopted_baseline;
    // What the cron writes when it applies the rebaseline (evaluate.ts, storeVerdict), at `appliedAt`, adopting
    // `predictions` of windows 0 to `latest`, the latest window judged when it applied it.
    const apply = (appliedAt: number | null, predictions: number | null, latest = at(1)) =>
      testEnv.DB.prepare('UPDATE rebaselines SET applied_at = ?, adopted_from = ?, adopted_to = ?, adopted_predictions = ? WHERE incident_id = ?')
        .bind(appliedAt, predictions === null ? null : at(0), predictions === null ? null : latest, predictions, earlier.id)
        .run();
    // Asked for, not applied yet: later windows were not judged against it.
    expect(await adopted(later.id)).toBeNull();
    await apply(nowSec + 30, 300);
    expect(await adopted(later.id)).toEqual({
      incident_id: earlier.id,
      status_url: `https://labelwatch.example.test/incidents/${earlier.id}`,
      applied_at: new Date((nowSec + 30) * 1000).toISOString(),
      first_window_start: new Date(at(0) * 1000).toISOString(),
      last_window_start: new Date(at(1) * 1000).toISOString(),
      predictions: 300,
    });
    // Applied in the very tick that opened it: the cron applies a rebaseline before it judges the window.
    await apply(nowSec + 60, 300);
    expect((await adopted(later.id)).applied_at).toBe(new Date((nowSec + 60) * 1000).toISOString());
    // Marked applied after it opened, by the tick after the one that opened it (which stored the incident, then failed
    // to store the verdict): the same stored state, the same windows adopted, and window 5 was judged with it.
    await apply(nowSec + 120, 300);
    expect((await adopted(later.id)).applied_at).toBe(new Date((nowSec + 120) * 1000).toISOString());
    // Applied after its first window was judged (it adopted window 5 itself), or with no traffic to adopt (only the
    // evidence restarted): not its baseline.
    await apply(nowSec + 120, 300, at(5));
    expect(await adopted(later.id)).toBeNull();
    await apply(nowSec + 30, null);
    expect(await adopted(later.id)).toBeNull();
    // Its own rebaseline is never an incident's baseline, even applied within the second it opened (a clock's tie);
    // nor another model's; and a model defect has none.
    await apply(nowSec, 300);
    expect(await adopted(earlier.id)).toBeNull();
    expect(await adopted(later.id)).toMatchObject({ incident_id: earlier.id });
    const penguins = (await trackIncident(env, collapsed(6, 'penguins'), NOW + 120_000)).incident!;
    expect(await adopted(penguins.id)).toBeNull();
    await testEnv.DB.prepare("UPDATE incidents SET kind = 'model_defect' WHERE id = ?").bind(later.id).run();
    expect(await adopted(later.id)).toBeNull();
  });

  it('retry re-queues a dead delivery with a fresh budget; anything else is 409', async () => {
    await trackIncident(env, collapsed(0), NOW);
    const [dead, pending] = await deliveries();
    await testEnv.DB.prepare("UPDATE deliveries SET status = 'dead', attempts = 8, last_error = 'HTTP 503 (gave up after 8 attempts)' WHERE id = ?").bind(dead.id).run();
    queue.sent = [];
    const res = await call('POST', `/v1/deliveries/${dead.id}/retry`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: dead.id, status: 'pending', attempts: 0 });
    expect(queue.sent).toEqual([{ deliveryId: dead.id }]);
    const conflict = await call('POST', `/v1/deliveries/${pending.id}/retry`);
    expect(conflict).toMatchObject({ status: 409, body: { error: `delivery: "${pending.id}" is pending; only a dead delivery can be retried` } });
    expect((await call('POST', `/v1/deliveries/${dead.id}/retry`)).status).toBe(409);
  });
});

describe('races between the cron and the admin API', () => {
  /** POST /v1/incidents/{id}/resolve with `body`, its D1 interleaved with `step` just before its first write. */
  async function resolveRacing(id: string, body: string, step: () => Promise<unknown>, e: Env = env, via: { fetch: typeof app.fetch } = app) {
    const racing = { ...e, DB: interleaved(testEnv.DB, /^\s*(insert|update)\b/i, step) };
    const ctx = createExecutionContext();
    const init = { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body };
    const res = await via.fetch(new Request(`http://labelwatch.test/v1/incidents/${id}/resolve`, init), racing, ctx);
    await waitOnExecutionContext(ctx);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }
  const rebaselineRow = (id: string) => testEnv.DB.prepare('SELECT * FROM rebaselines WHERE incident_id = ?').bind(id).first();
  const resolvePayloads = async () =>
    (await deliveries()).filter((d) => d.event === 'incident.resolved' && d.channel === 'alert').map((d) => JSON.parse(d.payload).data.incident);
  const bare = () => ({ ...env, ALERT_WEBHOOK_URL: '', RETRAIN_WEBHOOK_URL: '', PAGERDUTY_ROUTING_KEY: '', SLACK_WEBHOOK_URL: '' });

  it.each([
    ['every channel', () => env],
    ['no channel', bare],
  ])('the monitor resolving the incident between the checks and the write (%s): a rebaseline is refused as if asked after it, with nothing recorded or sent; a plain resolve says it did not resolve it', async (_, configured) => {
    const e = configured();
    const monitorResolves = async () => {
      for (let k = 1; k <= 3; k++) await trackIncident(e, healthy(k), NOW);
    };
    const recovered = (await trackIncident(e, collapsed(0), NOW)).incident!.id;
    const sentBefore = queue.sent.length;
    const refused = await resolveRacing(recovered, '{"rebaseline": true}', monitorResolves, e);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toContain('was resolved by the monitor when its traffic was healthy again');
    expect(await rebaselineRow(recovered)).toBeNull();
    expect((await call('GET', `/v1/incidents/${recovered}`, TOKEN, e)).body).toMatchObject({ status: 'resolved', resolved_by: 'monitor', rebaseline: 'none' });
    // The monitor's resolve notifications, and nobody told that the traffic was declared normal.
    expect((await resolvePayloads()).map((i) => i.resolved_with_rebaseline)).toEqual(e === env ? [false] : []);
    expect(queue.sent.length - sentBefore).toBe(e === env ? 3 : 0);

    const plainly = (await trackIncident(e, collapsed(4), NOW)).incident!.id;
    const plain = await resolveRacing(plainly, '', async () => {
      for (let k = 5; k <= 7; k++) await trackIncident(e, healthy(k), NOW);
    }, e);
    expect(plain.status).toBe(200);
    expect(plain.body).toMatchObject({ status: 'resolved', resolved_by: 'monitor', resolved_now: false, rebaseline: 'none' });
  });

  it('a resolve with rebaseline whose rebaselines row D1 refuses resolves nothing and tells nobody; asked again, all of it happens', async () => {
    const id = (await trackIncident(env, collapsed(0), NOW)).incident!.id;
    queue.sent = [];
    await testEnv.DB.prepare("CREATE TRIGGER rebaselines_down BEFORE INSERT ON rebaselines BEGIN SELECT RAISE(ABORT, 'rebaselines down'); END").run();
    try {
      // D1 failing is a 500, which the API's contract does not describe: not a recorded exchange.
      const failed = await resolveRacing(id, '{"rebaseline": true}', async () => {}, env, createApp());
      expect(failed.status).toBe(500);
    } finally {
      await testEnv.DB.prepare('DROP TRIGGER rebaselines_down').run();
    }
    expect((await call('GET', `/v1/incidents/${id}`)).body).toMatchObject({ status: 'open', rebaseline: 'none' });
    expect(await resolvePayloads()).toEqual([]);
    expect(queue.sent).toEqual([]);
    const retried = await resolveRacing(id, '{"rebaseline": true}', async () => {});
    expect(retried.body).toMatchObject({ status: 'resolved', resolved_by: 'admin', resolved_now: true, rebaseline: 'waiting' });
    expect((await resolvePayloads()).map((i) => i.resolved_with_rebaseline)).toEqual([true]);
    expect(queue.sent).toHaveLength(3);
  });

  it('a rebaseline asked for an incident already resolved by hand is refused when the cron opened a later one between the checks and the write', async () => {
    const earlier = (await trackIncident(env, collapsed(0), NOW)).incident!.id;
    expect((await call('POST', `/v1/incidents/${earlier}/resolve`)).body).toMatchObject({ resolved_now: true, rebaseline: 'none' });
    let later = '';
    const res = await resolveRacing(earlier, '{"rebaseline": true}', async () => {
      later = (await trackIncident(env, collapsed(1), NOW)).incident!.id;
    });
    expect(later).toMatch(/^inc_/);
    expect(res.status).toBe(409);
    expect(res.body.error).toContain(`is not seattle-weather's latest incident (${later} began since)`);
    expect(await rebaselineRow(earlier)).toBeNull();
    // With nothing in between, it is recorded, and notifies nobody again.
    const again = (await trackIncident(env, collapsed(2), NOW)).incident!.id;
    expect(again).toBe(later);
    for (let k = 3; k <= 5; k++) await trackIncident(env, healthy(k), NOW);
    const byHand = (await trackIncident(env, collapsed(6), NOW)).incident!.id;
    expect((await call('POST', `/v1/incidents/${byHand}/resolve`)).status).toBe(200);
    queue.sent = [];
    const accepted = await resolveRacing(byHand, '{"rebaseline": true}', async () => {});
    expect(accepted.body).toMatchObject({ status: 'resolved', resolved_now: false, rebaseline: 'waiting' });
    expect(queue.sent).toEqual([]);
  });

  it('a window the cron judged while an operator resolved its incident pages nobody about that incident: nothing of its change is stored, and it is tracked again', async () => {
    const id = (await trackIncident(env, partial(0), NOW)).incident!.id;
    queue.sent = [];
    // The tick read the open incident; the operator resolves it before the tick writes the escalation.
    const racing = { ...env, DB: interleaved(testEnv.DB, /^\s*(insert|update)\b/i, () => call('POST', `/v1/incidents/${id}/resolve`)) };
    await expect(trackIncident(racing, collapsed(1), NOW)).rejects.toThrow(/resolved/);
    // No incident.updated (PagerDuty: a trigger, which would re-open the alert just resolved) after its resolve.
    expect((await events()).filter((e) => !e.endsWith('opened') && e !== 'retrain:retrain.requested').sort()).toEqual([
      'alert:incident.resolved',
      'pagerduty:incident.resolved',
      'slack:incident.resolved',
    ]);
    expect((await call('GET', `/v1/incidents/${id}`)).body).toMatchObject({ status: 'resolved', resolved_by: 'admin', flagged_windows: 1 });
    // Tracked again (the cron's next tick), the window opens the next incident.
    const next = await trackIncident(env, collapsed(1), NOW);
    expect(next.events).toEqual(['opened']);
    expect(next.incident!.id).not.toBe(id);
  });

  it("a resolve that a tick's escalation overtook between its read and its write keeps what the tick wrote", async () => {
    const id = (await trackIncident(env, partial(0), NOW)).incident!.id;
    const res = await resolveRacing(id, '', () => trackIncident(env, collapsed(1), NOW));
    expect(res.body).toMatchObject({ status: 'resolved', resolved_by: 'admin', resolved_now: true, kind: 'collapsed', flagged_windows: 2 });
    expect(res.body.latest).toMatchObject({ verdict: 'collapsed', window_start: new Date(at(1) * 1000).toISOString() });
    expect((await events()).filter((e) => e.startsWith('pagerduty:')).sort()).toEqual(['pagerduty:incident.opened', 'pagerduty:incident.resolved', 'pagerduty:incident.updated']);
  });
});
