// Recording end to end inside workerd: hundreds of concurrent predict requests through the Worker's entry point,
// flushed by the aggregator shards into the real D1, must add up exactly; then the windows API over what D1 holds.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { recordBatch } from '../../src/aggregate/record';
import { windowStart } from '../../src/monitor/window';
import { tick } from '../../src/schedule';
import { config, epochMs, flushAll, holdingsOf, metadataOf, probabilitiesFor } from './helpers';
// Seeded, so the traffic (and its labels) is the same at every run.
import { seededRandom } from '../../scripts/lib/random';
import { recorded } from './contract';

const BASE = 'http://labelwatch.test';
const penguins = metadataOf('penguins');
const L = config.windowSeconds;


interface Sent {
  request: Request;
  /** Rows the request carries when valid; 0 when it must be rejected. */
  valid: number;
}

/** 330 requests: TF Serving and KServe V2 shapes, batch sizes 1 to 9, every seventh one malformed. */
function traffic(): Sent[] {
  const random = seededRandom(42);
  return Array.from({ length: 330 }, (_, i) => {
    const n = 1 + (i % 9);
    const rows = Array.from({ length: n }, () => Array.from({ length: 4 }, () => Math.round((random() * 5 - 2.5) * 100) / 100));
    const bad = i % 7 === 3;
    if (bad) (rows[n - 1] as unknown[])[i % 4] = i % 2 ? 'x' : null;
    const kserve = i % 5 === 0;
    const body = kserve
      ? { inputs: [{ name: 'features', shape: [n, 4], datatype: 'FP32', data: rows.flat() }] }
      : { instances: rows };
    const url = kserve ? `${BASE}/v2/models/penguins/infer` : `${BASE}/v1/models/penguins:predict`;
    const request = new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { request, valid: bad ? 0 : n };
  });
}

/** Labels a successful response announced, in either protocol. */
async function labelsOf(res: Response): Promise<string[]> {
  const body = (await res.json()) as { labels?: string[]; outputs?: { name: string; data: string[] }[] };
  return body.labels ?? body.outputs!.find((o) => o.name === 'labels')!.data;
}

const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const api = recorded(exports.default);
const get = (path: string) => api.fetch(`${BASE}${path}`);

async function penguinWindowsInD1(since: number, until: number) {
  const { results } = await env.DB.prepare('SELECT start, n FROM windows WHERE model = ? AND start >= ? AND start < ?')
    .bind('penguins', since, until)
    .all<{ start: number; n: number }>();
  const labels = await env.DB.prepare('SELECT label, sum(count) AS count FROM window_labels WHERE model = ? AND start >= ? AND start < ? GROUP BY label')
    .bind('penguins', since, until)
    .all<{ label: string; count: number }>();
  return { n: sumOf(results.map((r) => r.n)), starts: results.map((r) => r.start), labels: Object.fromEntries(labels.results.map((r) => [r.label, r.count])) };
}

describe('recording predictions', () => {
  const startedMs = Date.now();
  const served: Record<string, number> = {};
  let validInstances = 0;

  beforeAll(async () => {
    const sent = traffic();
    // The Worker's own handler with an execution context we can wait on: recording runs in ctx.waitUntil.
    const ctx = createExecutionContext();
    const responses = await Promise.all(sent.map((s) => worker.fetch(s.request, env, ctx)));
    await waitOnExecutionContext(ctx);
    for (const [i, res] of responses.entries()) {
      expect(res.status, `request ${i}`).toBe(sent[i].valid > 0 ? 200 : 400);
      if (res.status !== 200) continue;
      const labels = await labelsOf(res);
      expect(labels).toHaveLength(sent[i].valid);
      for (const label of labels) served[label] = (served[label] ?? 0) + 1;
      validInstances += labels.length;
    }
  });

  it('counts every served instance exactly once, split by label as the responses said; rejected requests count nothing', async () => {
    expect(validInstances).toBeGreaterThan(1000);
    expect(Object.keys(served).length).toBeGreaterThan(1);
    const held = (await holdingsOf(penguins)).flatMap((h) => h.pending);
    expect(sumOf(held.map((p) => p.counts.n))).toBe(validInstances);

    // Force every shard's windows out (the windows are still open on the real clock).
    const report = await flushAll(penguins, Date.now() + 3_600_000);
    expect(report).toMatchObject({ predictions: validInstances, failed: 0 });

    const stored = await penguinWindowsInD1(windowStart(Math.floor(startedMs / 1000), L), Math.floor(Date.now() / 1000) + L);
    expect(stored.n).toBe(validInstances);
    expect(stored.labels).toEqual(served);
    const keys = await env.DB.prepare("SELECT sum(n) AS n, count(*) AS flushes FROM flushes WHERE shard LIKE 'penguins@%'").first<{ n: number; flushes: number }>();
    expect(keys?.n).toBe(validInstances);
    expect(keys?.flushes).toBe(report.flushed);
  });

  it('a second forced flush adds nothing', async () => {
    expect(await flushAll(penguins, Date.now() + 7_200_000)).toEqual({ flushed: 0, predictions: 0, failed: 0 });
    const stored = await penguinWindowsInD1(0, Number.MAX_SAFE_INTEGER);
    expect(stored.n).toBe(validInstances);
    expect(stored.labels).toEqual(served);
  });

  it('the windows API returns those windows with counts, shares and feature statistics', async () => {
    const res = await get('/v1/models/penguins/windows');
    expect(res.status).toBe(200);
    const body = (await res.json()) as ApiResponse;
    expect(body).toMatchObject({ model: 'penguins', version: penguins.version, limit: 100 });
    expect(sumOf(body.windows.map((w) => w.n))).toBe(validInstances);
    for (const label of penguins.labels)
      expect(sumOf(body.windows.map((w) => w.counts[label]))).toBe(served[label] ?? 0);
    for (const w of body.windows) {
      expect(Object.keys(w.counts).sort()).toEqual([...penguins.labels].sort());
      expect(sumOf(Object.values(w.shares))).toBeCloseTo(1, 9);
      expect(w.end_epoch - w.start_epoch).toBe(L);
      expect(new Date(w.start).getTime()).toBe(w.start_epoch * 1000);
      expect(w).toMatchObject({ length: L, closed: false, verdict: null, evaluation: null, diagnoses: null, remedies: null });
      expect(w.mean_confidence).toBeGreaterThan(1 / 3);
      expect(Object.keys(w.features)).toEqual(penguins.features.map((f) => f.name));
      for (const f of Object.values(w.features)) {
        expect(f.min).toBeGreaterThanOrEqual(-2.5);
        expect(f.max).toBeLessThanOrEqual(2.5);
        expect(f.mean).toBeGreaterThanOrEqual(f.min!);
        expect(f.mean).toBeLessThanOrEqual(f.max!);
      }
    }
    const starts = body.windows.map((w) => w.start_epoch);
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
  });

  it('the cron closes them once every shard had its chance to flush, and the API says so', async () => {
    const report = await tick(env, Date.now() + 3_600_000);
    expect(report.closed.filter((w) => w.model === 'penguins' && w.start <= Math.floor(Date.now() / 1000)).length).toBeGreaterThan(0);
    const body = (await (await get('/v1/models/penguins/windows')).json()) as ApiResponse;
    const traffic = body.windows.filter((w) => w.n > 0);
    expect(sumOf(traffic.map((w) => w.n))).toBe(validInstances);
    expect(traffic.every((w) => w.closed && typeof w.closed_at === 'string')).toBe(true);
  });
});

interface ApiWindow {
  start: string;
  start_epoch: number;
  end: string;
  end_epoch: number;
  length: number;
  closed: boolean;
  closed_at: string | null;
  n: number;
  counts: Record<string, number>;
  shares: Record<string, number>;
  mean_confidence: number | null;
  mean_entropy: number | null;
  zero_rows: number;
  features: Record<string, { mean: number | null; std: number | null; min: number | null; max: number | null; zero_share: number | null }>;
  verdict: string | null;
}
interface ApiResponse {
  model: string;
  version: string;
  limit: number;
  windows: ApiWindow[];
}

describe('windows API', () => {
  // Three windows in 2031, far from the traffic above: T0 (3 rows), T0 + L (1 row), T0 + 2L (2 rows).
  const T0 = windowStart(Date.UTC(2031, 0, 1) / 1000, L);
  const iso = (s: number) => new Date(s * 1000).toISOString();

  beforeAll(async () => {
    const record = (rows: number[][], tops: number[], at: number) =>
      recordBatch(env, config, penguins, rows, tops.map((t) => probabilitiesFor(t, 3)), epochMs(at));
    await record([[1, 0, 2, 0], [3, 0, 4, 0], [0, 0, 0, 0]], [0, 0, 2], T0 + 1);
    await record([[1, 1, 1, 1]], [1], T0 + L + 30);
    await record([[1, 1, 1, 1], [2, 2, 2, 2]], [2, 2], T0 + 2 * L + 59);
    await flushAll(penguins, epochMs(T0 + 3 * L + 3600));
  });

  const windows = async (query: string) => {
    const res = await get(`/v1/models/penguins/windows?${query}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as ApiResponse).windows;
  };

  it('derives shares, means, std, min, max, zero share and zero rows from the stored sums', async () => {
    const [w] = await windows(`since=${T0}&until=${T0 + 1}`);
    expect(w).toMatchObject({
      start: iso(T0),
      start_epoch: T0,
      end: iso(T0 + L),
      end_epoch: T0 + L,
      n: 3,
      counts: { Adelie: 2, Chinstrap: 0, Gentoo: 1 },
      zero_rows: 1,
    });
    expect(w.shares.Adelie).toBeCloseTo(2 / 3, 12);
    expect(w.shares.Chinstrap).toBe(0);
    expect(w.mean_confidence).toBeCloseTo(0.9, 6);
    // beak_length_mm: 1, 3, 0 → mean 4/3, population std sqrt(14/9)
    expect(w.features.beak_length_mm.mean).toBeCloseTo(4 / 3, 12);
    expect(w.features.beak_length_mm.std).toBeCloseTo(Math.sqrt(14 / 9), 12);
    expect(w.features.beak_length_mm).toMatchObject({ min: 0, max: 3 });
    expect(w.features.beak_length_mm.zero_share).toBeCloseTo(1 / 3, 12);
    expect(w.features.beak_depth_mm).toMatchObject({ mean: 0, std: 0, min: 0, max: 0, zero_share: 1 });
  });

  it('selects windows starting in [since, until), newest first, in epoch seconds or ISO 8601, up to limit', async () => {
    expect((await windows(`since=${T0}&until=${T0 + 3 * L}`)).map((w) => w.start_epoch)).toEqual([T0 + 2 * L, T0 + L, T0]);
    expect((await windows(`since=${T0 + L}&until=${T0 + 2 * L}`)).map((w) => w.n)).toEqual([1]);
    expect((await windows(`since=${encodeURIComponent(iso(T0))}&until=${encodeURIComponent(iso(T0 + 2 * L))}`)).map((w) => w.start_epoch)).toEqual([T0 + L, T0]);
    expect((await windows(`since=${T0}&limit=1`)).map((w) => w.start_epoch)).toEqual([T0 + 2 * L]);
    expect((await windows(`since=2031-01-01&limit=1000`)).length).toBe(3);
    // A leap day exists in a leap year.
    expect((await windows(`since=2028-02-29&limit=1000`)).length).toBe(3);
  });

  it('answers bad parameters with a 400 that names them, an unknown model with a 404, other methods with a 405', async () => {
    const cases: [string, number, string][] = [
      ['/v1/models/penguins/windows?since=yesterday', 400, 'since: expected epoch seconds or an ISO 8601 date'],
      ['/v1/models/penguins/windows?until=2031-13-45', 400, 'until: expected epoch seconds or an ISO 8601 date'],
      ['/v1/models/penguins/windows?since=-5', 400, 'since: expected epoch seconds or an ISO 8601 date'],
      // Date.parse rolls a day its month lacks over into the next month (2026-02-30 is 2 March): refused, not moved.
      ['/v1/models/penguins/windows?since=2026-02-30', 400, 'since: expected epoch seconds or an ISO 8601 date'],
      ['/v1/models/penguins/windows?until=2026-04-31T10:00:00Z', 400, 'until: expected epoch seconds or an ISO 8601 date'],
      ['/v1/models/penguins/windows?since=2027-02-29', 400, 'since: expected epoch seconds or an ISO 8601 date'],
      [`/v1/models/penguins/windows?since=${T0}&until=${T0}`, 400, `until: must be after since (${T0})`],
      ['/v1/models/penguins/windows?limit=1001', 400, 'limit: expected an integer from 1 to 1000'],
      ['/v1/models/penguins/windows?limit=0', 400, 'limit: expected an integer from 1 to 1000'],
      ['/v1/models/penguins/windows?limit=ten', 400, 'limit: expected an integer from 1 to 1000'],
    ];
    for (const [path, status, error] of cases) {
      const res = await get(path);
      expect(res.status, path).toBe(status);
      expect(await res.json(), path).toEqual({ error });
    }
    const unknown = await get('/v1/models/nope/windows');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/^model "nope" not found/);
    const post = await api.fetch(`${BASE}/v1/models/penguins/windows`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });
});
