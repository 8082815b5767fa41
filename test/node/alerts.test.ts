// Incidents end to end over real HTTP: the real Worker bundle in Miniflare (D1, Queues with a dead-letter queue,
// Durable Objects), windows written to D1 and judged by the minute cron (which closes and evaluates them, then sweeps
// the outbox), and a Node receiver on 127.0.0.1 standing in for the alert webhook, the retraining webhook, PagerDuty
// and Slack. It verifies signatures the way a receiver would (standardwebhooks' Webhook.verify), validates every
// alert and retraining body it gets against the published JSON Schemas (ajv), and processes each webhook-id once.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Miniflare } from 'miniflare';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { webhookJsonSchemas } from '../../src/contract/webhook-json-schema';

const ROOT = join(import.meta.dirname, '..', '..');
const TOKEN = 'admin-token-e2e-93b1';
const ALERT_SECRET = 'whsec_ZTJlLWFsZXJ0LXNpZ25pbmcta2V5LTAx';
const RETRAIN_SECRET = 'whsec_ZTJlLXJldHJhaW4tc2lnbmluZy1rZXk=';
const ROUTING_KEY = 'e2eR0utingKey00000000000000000000';
const MAX_ATTEMPTS = 4;
const CHANNELS = ['alert', 'pagerduty', 'slack', 'retrain'] as const;
type Channel = (typeof CHANNELS)[number];

// ── the receiver ──────────────────────────────────────────────────────────────────────────────────────────────────

interface Received {
  channel: Channel;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}
/** An HTTP answer, or 'hang-up' (the connection is dropped: a network error for the sender). */
type Answer = { status: number; headers?: Record<string, string> } | 'hang-up';

let server: Server;
let receiverUrl: string;
let received: Received[] = [];
/** What each channel answers to its n-th request (1-based, counted since the test began). */
let answer: Record<Channel, (n: number) => Answer>;
/** Accepted arrivals per webhook-id, and the events a receiver processed: each webhook-id once (Standard Webhooks). */
let arrivals: Map<string, number>;
let processed: { id: string; channel: Channel; type: string }[];
const ok = (): Answer => ({ status: 200 });

// The JSON Schemas docs/webhooks.md publishes (converted from src/contract/webhooks.ts), as a receiver would use them.
const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
const schemas = webhookJsonSchemas();
const validators = { alert: ajv.compile(schemas.alert), retrain: ajv.compile(schemas.retrain) };
/** Bodies of the signed webhooks checked against their schema, and what ajv said about the ones that failed. */
let validated: number;
let schemaProblems: string[];
function checkSchema(r: Received): void {
  if (r.channel !== 'alert' && r.channel !== 'retrain') return;
  const validate = validators[r.channel];
  validated++;
  if (!validate(JSON.parse(r.body)))
    for (const e of validate.errors ?? []) schemaProblems.push(`${r.channel} ${r.headers['webhook-id']}: ${e.instancePath || '$'} ${e.message} (${e.schemaPath})`);
}

function verified(r: Received): { type: string; data: Record<string, unknown> } {
  const secret = r.channel === 'alert' ? ALERT_SECRET : RETRAIN_SECRET;
  return new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
}

function startReceiver(): Promise<void> {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const channel = req.url!.slice(1) as Channel;
    const r: Received = { channel, headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() };
    received.push(r);
    checkSchema(r);
    const a = answer[channel](received.filter((x) => x.channel === channel).length);
    if (a === 'hang-up') return req.socket.destroy();
    if (a.status === 200 && (channel === 'alert' || channel === 'retrain')) {
      const event = verified(r);
      const id = req.headers['webhook-id'] as string;
      arrivals.set(id, (arrivals.get(id) ?? 0) + 1);
      if (arrivals.get(id) === 1) processed.push({ id, channel, type: event.type });
    }
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
    res.end(a.status === 202 || a.status === 200 ? '{"status":"success"}' : '{"error":"try later"}');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
}

// ── the Worker ────────────────────────────────────────────────────────────────────────────────────────────────────

let mf: Miniflare;
let db: D1Database;
let buildDir: string;

/** The Worker bundle exactly as `wrangler deploy` would upload it, in a temporary directory (buildDir). */
function build(): void {
  buildDir = mkdtempSync(join(tmpdir(), 'labelwatch-e2e-'));
  const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' };
  execFileSync('npx', ['tsx', 'scripts/generate-registry.ts'], { cwd: ROOT, env, stdio: 'pipe' });
  execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', buildDir], { cwd: ROOT, env, stdio: 'pipe' });
}

const MODULE_TYPES: Record<string, 'ESModule' | 'CompiledWasm' | 'Data'> = { '.js': 'ESModule', '.wasm': 'CompiledWasm', '.bin': 'Data' };

async function startWorker(): Promise<void> {
  build();
  // The bundle is one .js file (the main module, first) plus the wasm and weight files it imports.
  const files = readdirSync(buildDir)
    .filter((f) => MODULE_TYPES[extname(f)])
    .sort((a, b) => Number(extname(b) === '.js') - Number(extname(a) === '.js') || a.localeCompare(b));
  mf = new Miniflare({
    modulesRoot: buildDir,
    modules: files.map((f) => ({ type: MODULE_TYPES[extname(f)], path: join(buildDir, f) })),
    compatibilityDate: '2026-04-01',
    d1Databases: { DB: 'labelwatch-e2e' },
    durableObjects: { AGGREGATOR: { className: 'WindowAggregator', useSQLite: true } },
    queueProducers: {
      DELIVERIES: { queueName: 'labelwatch-deliveries' },
      // Test only: lets the test put a message on the dead-letter queue as the queue does after max_retries.
      DEAD_LETTERS: { queueName: 'labelwatch-deliveries-dlq' },
    },
    queueConsumers: {
      // More queue retries than delivery attempts, as in wrangler.toml: the Worker gives up first and says why.
      'labelwatch-deliveries': { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: MAX_ATTEMPTS + 2, deadLetterQueue: 'labelwatch-deliveries-dlq' },
      'labelwatch-deliveries-dlq': { maxBatchSize: 10, maxBatchTimeout: 1 },
    },
    bindings: {
      ADMIN_TOKEN: TOKEN,
      // Three healthy windows resolve an incident here, without the production quiet period of three hours.
      RESOLVE_QUIET_MINUTES: '0',
      ALERT_WEBHOOK_URL: `${receiverUrl}/alert`,
      ALERT_WEBHOOK_SECRET: ALERT_SECRET,
      RETRAIN_WEBHOOK_URL: `${receiverUrl}/retrain`,
      RETRAIN_WEBHOOK_SECRET: RETRAIN_SECRET,
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: `${receiverUrl}/pagerduty`,
      SLACK_WEBHOOK_URL: `${receiverUrl}/slack`,
      PUBLIC_URL: 'https://labelwatch.example.test',
      DELIVERY_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      DELIVERY_TIMEOUT_MS: '2000',
      // Retries follow each other as fast as the queue batches them (1 s), so the test takes seconds.
      DELIVERY_BACKOFF_BASE_SECONDS: '0',
    },
  });
  db = (await mf.getD1Database('DB')) as unknown as D1Database;
  for (const file of readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql')).sort())
    for (const statement of readFileSync(join(ROOT, 'migrations', file), 'utf8').split('--> statement-breakpoint'))
      if (statement.trim()) await db.prepare(statement).run();
}

beforeAll(async () => {
  await startReceiver();
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await startWorker();
});

afterAll(async () => {
  try {
    await mf?.dispose();
  } finally {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  }
});

beforeEach(() => {
  received = [];
  arrivals = new Map();
  processed = [];
  validated = 0;
  schemaProblems = [];
  answer = { alert: ok, pagerduty: () => ({ status: 202 }), slack: ok, retrain: ok };
});

afterEach(() => {
  // Every alert and retraining body any test received is what docs/webhooks.md documents.
  expect(schemaProblems).toEqual([]);
});

// ── driving it ────────────────────────────────────────────────────────────────────────────────────────────────────

const MINUTE = 60;
const nowMinute = () => Math.floor(Date.now() / 60_000) * MINUTE;

/** Closed-to-be windows of a model with these label counts, one per start. */
async function writeWindows(model: string, starts: number[], labels: Record<string, number>) {
  const n = Object.values(labels).reduce((s, c) => s + c, 0);
  const statements = starts.flatMap((start) => [
    db.prepare('INSERT INTO windows (model, version, start, length, n) VALUES (?, ?, ?, 60, ?)').bind(model, '1', start, n),
    ...Object.entries(labels).map(([label, count]) =>
      db.prepare('INSERT INTO window_labels (model, version, start, label, count) VALUES (?, ?, ?, ?, ?)').bind(model, '1', start, label, count),
    ),
  ]);
  await db.batch(statements);
}

/** Runs the minute cron (at `nowMs`) until every closed window has its verdict. */
async function cron(nowMs = Date.now()) {
  const worker = await mf.getWorker();
  for (let i = 0; i < 10; i++) {
    await worker.scheduled({ scheduledTime: new Date(nowMs), cron: '* * * * *' });
    const left = await db.prepare('SELECT count(*) AS n FROM windows WHERE closed = 1 AND verdict IS NULL').first<{ n: number }>();
    if (left!.n === 0) return;
  }
  throw new Error('windows still waiting for a verdict after 10 ticks: does the tick evaluate closed windows?');
}

interface DeliveryRow {
  id: string;
  incident_id: string;
  channel: Channel;
  event: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
}

/** Deliveries of `model`'s traffic incidents, or (`modelDefect`) of its model-defect incident. */
async function deliveriesOf(model: string, modelDefect = false): Promise<DeliveryRow[]> {
  const { results } = await db
    .prepare(
      `SELECT d.* FROM deliveries d JOIN incidents i ON i.id = d.incident_id WHERE i.model = ? AND i.kind ${modelDefect ? '=' : '<>'} 'model_defect' ORDER BY d.id`,
    )
    .bind(model)
    .all<DeliveryRow>();
  return results;
}

/** Waits until `model`'s deliveries (at least `count`) are all settled (delivered or dead). */
async function settled(model: string, count: number, timeoutMs = 60_000, modelDefect = false): Promise<DeliveryRow[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rows = await deliveriesOf(model, modelDefect);
    if (rows.length >= count && rows.every((d) => d.status === 'delivered' || d.status === 'dead')) return rows;
    if (Date.now() > until) throw new Error(`deliveries of ${model} not settled: ${JSON.stringify(rows.map((d) => [d.channel, d.event, d.status, d.attempts]))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function admin(method: string, path: string, body?: string) {
  const res = await mf.dispatchFetch(`http://labelwatch.test${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` }, body });
  const text = await res.text();
  for (const secret of [ALERT_SECRET, RETRAIN_SECRET, ROUTING_KEY, receiverUrl]) expect(text).not.toContain(secret);
  return { status: res.status, body: JSON.parse(text) };
}

const of = (channel: Channel) => received.filter((r) => r.channel === channel);
const json = (r: Received) => JSON.parse(r.body);

// ── the tests ─────────────────────────────────────────────────────────────────────────────────────────────────────

describe('incidents, end to end', () => {
  it("the packages' own model defects page once, at the first tick, each channel once, never again", async () => {
    // The unweighted seattle model never answers fog or drizzle on its held-out rows, the unscaled penguins model
    // answers one species: two model_defect incidents, four deliveries each (alert, PagerDuty, Slack, retraining).
    await cron();
    const unweighted = await settled('seattle-weather-unweighted', 4, 60_000, true);
    const unscaled = await settled('penguins-unscaled', 4, 60_000, true);
    for (const rows of [unweighted, unscaled])
      expect(rows.map((d) => `${d.channel}:${d.event}:${d.status}`).sort()).toEqual([
        'alert:incident.opened:delivered',
        'pagerduty:incident.opened:delivered',
        'retrain:retrain.requested:delivered',
        'slack:incident.opened:delivered',
      ]);
    const alerts = of('alert').map((r) => verified(r).data as { incident: { model: string; kind: string } });
    expect(alerts.map((a) => [a.incident.model, a.incident.kind]).sort()).toEqual([
      ['penguins-unscaled', 'model_defect'],
      ['seattle-weather-unweighted', 'model_defect'],
    ]);
    const retrain = of('retrain').map((r) => verified(r).data as { model: string; remedies: { kind: string }[] });
    expect(retrain.find((r) => r.model === 'seattle-weather-unweighted')!.remedies.map((r) => r.kind)).toContain('class_weight');
    // Another tick reports nothing new.
    const before = received.length;
    await cron();
    await new Promise((r) => setTimeout(r, 1500));
    expect(received.length).toBe(before);
    expect((await deliveriesOf('seattle-weather-unweighted', true)).length).toBe(4);
    expect(await deliveriesOf('seattle-weather-unweighted')).toEqual([]);
  });

  it('100 collapsed windows page each channel once; 3 healthy windows resolve once; payloads as documented', async () => {
    const model = 'seattle-weather';
    const first = nowMinute() - 120 * MINUTE;
    const collapsed = Array.from({ length: 100 }, (_, k) => first + k * MINUTE);
    const healthy = [0, 1, 2].map((k) => first + (100 + k) * MINUTE);
    await writeWindows(model, collapsed, { rain: 300 });
    await writeWindows(model, healthy, { drizzle: 15, fog: 49, rain: 96, snow: 20, sun: 112 });
    await cron();

    const rows = await settled(model, 7);
    expect(rows.map((d) => `${d.channel}:${d.event}:${d.status}:${d.attempts}`).sort()).toEqual([
      'alert:incident.opened:delivered:1',
      'alert:incident.resolved:delivered:1',
      'pagerduty:incident.opened:delivered:1',
      'pagerduty:incident.resolved:delivered:1',
      'retrain:retrain.requested:delivered:1',
      'slack:incident.opened:delivered:1',
      'slack:incident.resolved:delivered:1',
    ]);
    const incidentId = rows[0].incident_id;
    const incident = await db.prepare('SELECT * FROM incidents WHERE id = ?').bind(incidentId).first<Record<string, unknown>>();
    expect(incident).toMatchObject({ status: 'resolved', flagged_windows: 100, resolved_by: 'monitor', first_window_start: first });

    // One request per delivery, each channel in event order: the trigger before the resolve.
    expect(received).toHaveLength(7);
    expect(of('pagerduty').map((r) => json(r).event_action)).toEqual(['trigger', 'resolve']);
    expect(of('alert').map((r) => verified(r).type)).toEqual(['incident.opened', 'incident.resolved']);
    expect(of('slack').map((r) => json(r).text)).toEqual([
      ':rotating_light: labelwatch: seattle-weather v1 collapsed onto rain',
      ':white_check_mark: labelwatch: seattle-weather v1 recovered (healthy again)',
    ]);

    // Alert webhook: Standard Webhooks headers, verified by the reference library; webhook-id is the delivery id.
    const opened = of('alert')[0];
    expect(opened.headers['webhook-id']).toBe(rows.find((d) => d.channel === 'alert' && d.event === 'incident.opened')!.id);
    expect(opened.headers['content-type']).toBe('application/json');
    const event = verified(opened);
    expect(event).toMatchObject({
      type: 'incident.opened',
      data: {
        incident: { id: incidentId, model, version: '1', kind: 'collapsed', status: 'open', flagged_windows: 1 },
        latest_flagged_window: { verdict: 'collapsed', n: 300, top_label: 'rain', top_share: 1 },
        status_url: `https://labelwatch.example.test/incidents/${incidentId}`,
      },
    });
    expect(() => new Webhook(RETRAIN_SECRET).verify(opened.body, opened.headers as Record<string, string>)).toThrow();

    // Retraining webhook: once, signed, idempotency key = incident id, remedies with their parameters.
    const [retrain] = of('retrain');
    expect(retrain.headers['idempotency-key']).toBe(incidentId);
    const request = verified(retrain);
    expect(request.type).toBe('retrain.requested');
    expect(request.data).toMatchObject({
      idempotency_key: incidentId,
      incident_id: incidentId,
      model,
      version: '1',
      verdict: 'collapsed',
      windows: { first: { start: new Date(first * 1000).toISOString(), end: new Date((first + 60) * 1000).toISOString() }, flagged: 1, length_seconds: 60 },
      statistics: { n: 300, top_label: 'rain', top_share: 1 },
    });
    const remedies = request.data.remedies as { kind: string }[];
    // seattle-weather was trained with class weights: the imbalance remedy is resampling, not class weights again.
    expect(remedies.map((r) => r.kind)).toEqual(expect.arrayContaining(['resample', 'collect_data']));
    expect((request.data.diagnoses as { evidence: unknown }[]).every((d) => typeof d.evidence === 'object')).toBe(true);
    expect(remedies.find((r) => r.kind === 'resample')).toMatchObject({ target_per_label: 513, add_per_label: { drizzle: 471, fog: 432, rain: 0, snow: 492, sun: 1 } });
    // Both signed webhooks' bodies (opened, resolved, the retraining request) were checked against their schemas.
    expect(validated).toBe(3);

    // PagerDuty: exactly the documented fields; trigger and resolve share the dedup_key.
    const [trigger, resolve] = of('pagerduty').map(json);
    expect(Object.keys(trigger).sort()).toEqual(['client', 'client_url', 'dedup_key', 'event_action', 'links', 'payload', 'routing_key']);
    expect(trigger).toMatchObject({ routing_key: ROUTING_KEY, event_action: 'trigger', dedup_key: incidentId, client: 'labelwatch' });
    expect(Object.keys(trigger.payload).sort()).toEqual(['class', 'component', 'custom_details', 'group', 'severity', 'source', 'summary', 'timestamp']);
    expect(typeof trigger.payload.summary).toBe('string');
    expect(trigger.payload.summary.length).toBeLessThanOrEqual(1024);
    expect(trigger.payload).toMatchObject({ source: 'labelwatch.example.test', severity: 'critical' });
    expect(trigger.links).toEqual([{ href: `https://labelwatch.example.test/incidents/${incidentId}`, text: 'labelwatch incident page: seattle-weather v1' }]);
    expect(resolve).toEqual({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: incidentId });

    // Slack: text and header/section blocks.
    const slack = json(of('slack')[0]);
    expect(Object.keys(slack).sort()).toEqual(['blocks', 'text']);
    expect(slack.blocks.map((b: { type: string }) => b.type)).toEqual(['header', 'section', 'section', 'section']);
    expect(slack.blocks[1].fields.map((f: { text: string }) => f.text)).toEqual(['*Model*\nseattle-weather', '*Version*\n1', '*Verdict*\ncollapsed', '*Top labels*\nrain 100% · drizzle 0% · fog 0%']);
    expect(slack.blocks[3].text.text).toBe(`<https://labelwatch.example.test/incidents/${incidentId}|Incident page: seattle-weather v1>`);

    // The admin API shows the incident with its windows and deliveries.
    const detail = await admin('GET', `/v1/incidents/${incidentId}`);
    expect(detail.status).toBe(200);
    expect(detail.body.windows).toHaveLength(100);
    expect(detail.body.windows.every((w: { verdict: string }) => w.verdict === 'collapsed')).toBe(true);
    expect(detail.body.deliveries.map((d: { status: string }) => d.status)).toEqual(Array(7).fill('delivered'));
  });

  it('a receiver that answers 503 three times, then 200, processes the event exactly once (same webhook-id, same body)', async () => {
    const model = 'penguins';
    // The first refusal asks for 3 s (Retry-After); the backoff itself is 0 s here.
    answer.alert = (n) => (n === 1 ? { status: 503, headers: { 'retry-after': '3' } } : n <= 3 ? { status: 503 } : { status: 200 });
    await writeWindows(model, Array.from({ length: 3 }, (_, k) => nowMinute() - (10 - k) * MINUTE), { Adelie: 300 });
    await cron();
    const rows = await settled(model, 4);
    const alert = rows.find((d) => d.channel === 'alert')!;
    expect(alert).toMatchObject({ status: 'delivered', attempts: 4, last_status_code: 200, last_error: null });
    const attempts = of('alert');
    expect(attempts).toHaveLength(4);
    expect(new Set(attempts.map((r) => r.headers['webhook-id']))).toEqual(new Set([alert.id]));
    expect(new Set(attempts.map((r) => r.body)).size).toBe(1);
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(3000);
    // Every attempt carried a valid signature; the receiver processed one event.
    for (const r of attempts) expect(verified(r).type).toBe('incident.opened');
    expect(processed.filter((p) => p.channel === 'alert')).toEqual([{ id: alert.id, channel: 'alert', type: 'incident.opened' }]);
    // The other channels were not held up.
    for (const d of rows.filter((x) => x.channel !== 'alert')) expect(d).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('PagerDuty down for the whole budget: that delivery is dead, nothing else lost, and an admin retry delivers it', async () => {
    const model = 'penguins-unscaled';
    answer.pagerduty = () => 'hang-up';
    await writeWindows(model, Array.from({ length: 3 }, (_, k) => nowMinute() - (10 - k) * MINUTE), { Gentoo: 300 });
    await cron();
    const rows = await settled(model, 4);
    const pd = rows.find((d) => d.channel === 'pagerduty')!;
    expect(pd).toMatchObject({ status: 'dead', attempts: MAX_ATTEMPTS, last_status_code: null });
    expect(pd.last_error).toMatch(/^network error: .*\(gave up after 4 attempts\)$/);
    expect(pd.last_error).not.toContain('127.0.0.1');
    expect(of('pagerduty')).toHaveLength(MAX_ATTEMPTS);
    for (const d of rows.filter((x) => x.channel !== 'pagerduty')) expect(d.status).toBe('delivered');

    // The incident is intact and shows the dead delivery.
    const detail = await admin('GET', `/v1/incidents/${pd.incident_id}`);
    expect(detail.body).toMatchObject({ status: 'open', kind: 'collapsed', flagged_windows: 3 });
    expect(detail.body.deliveries.find((d: { id: string }) => d.id === pd.id)).toMatchObject({ status: 'dead', attempts: MAX_ATTEMPTS });

    // PagerDuty is back; the operator retries.
    answer.pagerduty = () => ({ status: 202 });
    const retried = await admin('POST', `/v1/deliveries/${pd.id}/retry`);
    expect(retried).toMatchObject({ status: 202, body: { id: pd.id, status: 'pending', attempts: 0 } });
    const after = (await settled(model, 4)).find((d) => d.id === pd.id)!;
    expect(after).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 202 });
    const last = json(of('pagerduty').at(-1)!);
    expect(last).toMatchObject({ event_action: 'trigger', dedup_key: pd.incident_id, routing_key: ROUTING_KEY });
  });

  it('a delivery whose queue message was lost is sent again by the cron sweep; the receiver dedupes by webhook-id', async () => {
    const model = 'seattle-weather';
    const [alert] = (await deliveriesOf(model)).filter((d) => d.channel === 'alert' && d.event === 'incident.opened');
    // As if the message had been lost before its first attempt, ten minutes ago.
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
    await db
      .prepare("UPDATE deliveries SET status = 'pending', attempts = 0, delivered_at = NULL, next_attempt_at = NULL, created_at = ?, enqueued_at = ? WHERE id = ?")
      .bind(tenMinutesAgo, tenMinutesAgo, alert.id)
      .run();
    arrivals.set(alert.id, 1); // the receiver had processed it before the message was "lost"
    await cron();
    const row = (await settled(model, 7)).find((d) => d.id === alert.id)!;
    expect(row).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(of('alert').map((r) => r.headers['webhook-id'])).toEqual([alert.id]);
    // Delivered again with the same webhook-id (at least once), processed no second time.
    expect(arrivals.get(alert.id)).toBe(2);
    expect(processed).toEqual([]);
  });

  it('a permanent refusal (4xx) is dead at once; the dead-letter queue marks a delivery dead, never a delivered one', async () => {
    const model = 'seattle-weather-unweighted';
    answer.slack = () => ({ status: 404 });
    await writeWindows(model, Array.from({ length: 2 }, (_, k) => nowMinute() - (10 - k) * MINUTE), { sun: 300 });
    await cron();
    const rows = await settled(model, 4);
    expect(rows.find((d) => d.channel === 'slack')).toMatchObject({ status: 'dead', attempts: 1, last_status_code: 404 });
    expect(of('slack')).toHaveLength(1);

    // A message the queue gave up on (max_retries) arrives on the DLQ: its delivery is marked dead.
    const alert = rows.find((d) => d.channel === 'alert')!;
    await db.prepare("UPDATE deliveries SET status = 'retrying', attempts = 2 WHERE id = ?").bind(alert.id).run();
    const retrain = rows.find((d) => d.channel === 'retrain')!;
    const dlq = await mf.getQueueProducer<{ deliveryId: string }>('DEAD_LETTERS');
    await dlq.send({ deliveryId: alert.id });
    await dlq.send({ deliveryId: retrain.id });
    const until = Date.now() + 20_000;
    let now = await deliveriesOf(model);
    while (now.find((d) => d.id === alert.id)!.status !== 'dead' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      now = await deliveriesOf(model);
    }
    expect(now.find((d) => d.id === alert.id)).toMatchObject({ status: 'dead', last_error: 'queue retries exhausted' });
    expect(now.find((d) => d.id === retrain.id)).toMatchObject({ status: 'delivered' });
  });

  it('resolved with {"rebaseline": true}: the alert webhook and Slack say the traffic was declared the new normal; PagerDuty gets its documented resolve', async () => {
    const model = 'penguins';
    // Windows no cron has zero-filled yet (the current minute and the next), closed by a tick a few minutes ahead: a
    // collapse of penguins' own, or more of the one an earlier test left open.
    const start = nowMinute();
    await writeWindows(model, [start, start + MINUTE], { Adelie: 300 });
    await cron((start + 4 * MINUTE) * 1000);
    const [open] = (await admin('GET', `/v1/incidents?status=active&model=${model}`)).body.incidents as { id: string }[];
    expect(open).toBeDefined();
    // Its opening pages are out of the way: the resolve below is the only thing left to send.
    const before = (await settled(model, 4)).length;
    received = [];

    const resolved = await admin('POST', `/v1/incidents/${open!.id}/resolve`, '{"rebaseline": true}');
    expect(resolved).toMatchObject({ status: 200, body: { id: open!.id, status: 'resolved', resolved_by: 'admin', resolved_now: true, rebaseline: 'waiting' } });
    const rows = (await settled(model, before + 3)).filter((d) => d.incident_id === open!.id && d.event === 'incident.resolved');
    expect(rows.map((d) => `${d.channel}:${d.status}`).sort()).toEqual(['alert:delivered', 'pagerduty:delivered', 'slack:delivered']);
    // One request per channel about this incident (the tick ahead may also have swept other models' deliveries).
    const about = (r: Received) =>
      r.channel === 'alert' ? verified(r).data.incident && (verified(r).data.incident as { id: string }).id === open!.id : r.body.includes(open!.id);
    const [alert, pagerduty, slackRequest, ...more] = (['alert', 'pagerduty', 'slack'] as const).flatMap((c) => of(c).filter(about));
    expect([alert, pagerduty, slackRequest].map((r) => r?.channel)).toEqual(['alert', 'pagerduty', 'slack']);
    expect(more).toEqual([]);

    // The signed webhook, verified and checked against the published schema (afterEach): declared normal, not recovered.
    const event = verified(alert!);
    expect(event.type).toBe('incident.resolved');
    expect(event.data).toMatchObject({
      summary: 'penguins v1 resolved by an operator, who declared its current traffic the new normal',
      incident: { id: open!.id, status: 'resolved', resolved_by: 'admin', resolved_with_rebaseline: true },
    });
    // PagerDuty's resolve event has no room for it: exactly the documented three fields.
    expect(json(pagerduty!)).toEqual({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: open!.id });
    // Slack: the text, the verdict and the first line of the details say it in words.
    const slack = json(slackRequest!);
    expect(Object.keys(slack).sort()).toEqual(['blocks', 'text']);
    expect(slack.text).toBe(':white_check_mark: labelwatch: penguins v1 resolved by an operator, who declared its current traffic the new normal');
    expect(slack.blocks.map((b: { type: string }) => b.type)).toEqual(['header', 'section', 'section', 'section']);
    expect(slack.blocks[0].text).toEqual({ type: 'plain_text', text: 'Incident resolved: penguins v1', emoji: true });
    expect(slack.blocks[1].fields[2]).toEqual({ type: 'mrkdwn', text: '*Verdict*\nresolved as the new normal (was collapsed)' });
    expect(slack.blocks[2].text.text).toMatch(/^\*New normal:\* an operator declared the traffic this incident flagged the model’s new normal\. /);
    expect(slack.blocks[3].text.text).toBe(`<https://labelwatch.example.test/incidents/${open!.id}|Incident page: penguins v1>`);
  });

  it('deliveries stored before an upgrade, retried by hand after it, reach the receiver in the published schema, signed as sent', async () => {
    // seattle-weather's resolve and retraining request (the test of 100 collapsed windows), as an earlier version
    // stored them: the resolve without resolved_with_rebaseline, the request with an input_shift measured from training
    // alone (no recent_mean, recent_shift, from). Both dead, as after a receiver that rejected them.
    const rows = (await deliveriesOf('seattle-weather')).filter((d) => d.status === 'delivered');
    const resolve = rows.find((d) => d.channel === 'alert' && d.event === 'incident.resolved')!;
    const retrain = rows.find((d) => d.channel === 'retrain')!;
    const shift = {
      kind: 'input_shift',
      confidence: 0.85,
      sentence: 'Inputs shifted; the model followed them.',
      evidence: {
        features: [{ name: 'temp_max', expected_mean: 0, expected_std: 1, observed_mean: -1.1, observed_std: 0.45, shift: -1.1, std_ratio: 0.45, standard_error: 0.09 }],
        probes: null,
        held_out_accuracy: 0.69,
        probe_p_value: null,
        labels: [{ label: 'sun', share: 0.06, baseline_share: 0.38 }],
        seasonality: 'daily',
        baseline_source: 'trailing',
      },
    };
    await db.batch([
      db.prepare("UPDATE deliveries SET payload = json_remove(payload, '$.data.incident.resolved_with_rebaseline'), status = 'dead' WHERE id = ?").bind(resolve.id),
      db.prepare("UPDATE deliveries SET payload = json_insert(payload, '$.data.diagnoses[#]', json(?)), status = 'dead' WHERE id = ?").bind(JSON.stringify(shift), retrain.id),
    ]);
    for (const d of [resolve, retrain]) expect((await admin('POST', `/v1/deliveries/${d.id}/retry`)).status).toBe(202);
    const after = await settled('seattle-weather', rows.length);
    for (const d of [resolve, retrain]) expect(after.find((x) => x.id === d.id)).toMatchObject({ status: 'delivered', attempts: 1 });
    // Verified against the signature (so signed over the body sent) and checked against the schemas (afterEach).
    const [alert] = of('alert').filter((r) => r.headers['webhook-id'] === resolve.id);
    expect((verified(alert!).data.incident as { resolved_with_rebaseline: unknown }).resolved_with_rebaseline).toBe(false);
    const [request] = of('retrain').filter((r) => r.headers['webhook-id'] === retrain.id);
    const diagnoses = verified(request!).data.diagnoses as { kind: string; evidence: { features: object[] } }[];
    expect(diagnoses.find((d) => d.kind === 'input_shift')!.evidence.features).toEqual([
      { ...shift.evidence.features[0], recent_mean: null, recent_shift: null, from: 'training' },
    ]);
    expect(validated).toBe(2);
  });
});
