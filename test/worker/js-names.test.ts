// A model whose labels and features are JavaScript's own property names (`constructor`, `__proto__`, `toString`,
// `valueOf`), end to end through the real path: predict, the aggregator shards, D1, the cron's evaluation, the
// incident, the windows API and the status page. On plain objects these names read built-ins (`counts.constructor`
// is a function) or set the prototype (`counts.__proto__ = …`); every map keyed by a name must be a Map or have a
// null prototype. The fixture (test/fixtures/js-names) is one softmax layer with kernel 10·I: a one-hot row e_i is
// answered with label i, so the expected counts follow from the rows sent.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import metadataText from '../fixtures/js-names/js-names/metadata.json?raw';
import modelJson from '../fixtures/js-names/js-names/model.json';
import shard from '../fixtures/js-names/js-names/group1-shard1of1.bin';
import worker from '../../src/index';
import { activeIncident } from '../../src/db/incidents';
import { windowStart } from '../../src/monitor/window';
import { tick } from '../../src/schedule';
import { parseMetadata } from '../../src/serving/metadata';
import { registry, type ModelJson } from '../../src/serving/registry';
import { config, epochMs, flushAll, labelCounts } from './helpers';

const NAMES = ['constructor', '__proto__', 'toString', 'valueOf'];
// Read as text: a bundler's JSON import may turn `"__proto__": 100` into a prototype (the registry embeds JSON text too).
const metadata = parseMetadata(JSON.parse(metadataText), 'test/fixtures/js-names/js-names/metadata.json');
const L = config.windowSeconds;
const T = windowStart(Date.UTC(2034, 5, 1) / 1000, L);
const BASE = 'http://labelwatch.test';

/** One-hot row for label i: the model answers NAMES[i]. */
const oneHot = (i: number) => NAMES.map((_, j) => (j === i ? 1 : 0));
/** The same row keyed by feature name; Object.fromEntries makes `__proto__` an own key, as JSON.parse does. */
const keyed = (row: number[]) => Object.fromEntries(NAMES.map((name, j) => [name, row[j]]));
/** A record's own entries by name (an object literal `{ __proto__: 1 }` would set a prototype, so none is used here). */
const sorted = (record: Record<string, number>) => Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1));

async function fetchAt(atMs: number, request: Request): Promise<Response> {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(atMs);
  try {
    const ctx = createExecutionContext();
    const res = await worker.fetch(request, env, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  } finally {
    vi.useRealTimers();
  }
}

/** Predicts `rows` at `atMs`, half as arrays and half as objects keyed by feature name; returns the answered labels. */
async function predictAt(rows: number[][], atMs: number): Promise<string[]> {
  const instances = rows.map((row, i) => (i % 2 === 0 ? row : keyed(row)));
  const res = await fetchAt(
    atMs,
    new Request(`${BASE}/v1/models/js-names:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances }),
    }),
  );
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return (JSON.parse(text) as { labels: string[] }).labels;
}

/** Flushes every shard and ticks the cron once the window at `start` may close; returns the tick's report. */
async function closeWindow(start: number, predictions: number) {
  const flushed = await flushAll(metadata, epochMs(start + L + config.flushGraceSeconds));
  expect(flushed).toMatchObject({ predictions, failed: 0 });
  const report = await tick(env, epochMs(start + L + config.flushGraceSeconds + config.closeMarginSeconds));
  expect(report.closed).toContainEqual({ model: 'js-names', version: '1', start, length: L });
  expect(report.evaluation.failed).toBe(0);
  return report;
}

interface ApiWindow {
  n: number;
  counts: Record<string, number>;
  shares: Record<string, number>;
  features: Record<string, { mean: number | null; std: number | null; min: number | null; max: number | null; zero_share: number | null }>;
  verdict: string | null;
  evaluation: { verdict: string; n: number; statistics: { per_label: { label: string; count: number }[] }; dominant_label: string | null } | null;
}

async function windowAt(start: number): Promise<ApiWindow> {
  const res = await worker.fetch(new Request(`${BASE}/v1/models/js-names/windows?since=${start}&until=${start + 1}`), env, createExecutionContext());
  expect(res.status).toBe(200);
  const { windows } = (await res.json()) as { windows: ApiWindow[] };
  expect(windows).toHaveLength(1);
  return windows[0]!;
}

let stopServing: () => void;
beforeAll(() => {
  stopServing = registry.add({ metadata, modelJson: modelJson as unknown as ModelJson, shards: [shard] });
});
afterAll(() => stopServing());

describe('labels and features named constructor, __proto__, toString, valueOf', () => {
  const healthy = T;
  const collapsed = T + L;
  // 10, 20, 30, 40 rows of the four labels: every count is distinct, so a swapped or lost name shows.
  const mixed = NAMES.flatMap((_, i) => Array.from({ length: 10 * (i + 1) }, () => oneHot(i)));

  it('serves, counts exactly into D1 and the windows API, and judges the window healthy', async () => {
    const labels = await predictAt(mixed, epochMs(healthy + 10));
    expect(labels).toEqual(mixed.map((row) => NAMES[row.indexOf(1)]));
    await closeWindow(healthy, mixed.length);

    // D1, read with plain SQL: one row per label with exactly the rows sent.
    expect(sorted(await labelCounts('js-names', healthy))).toEqual([['__proto__', 20], ['constructor', 10], ['toString', 30], ['valueOf', 40]]);

    const w = await windowAt(healthy);
    expect(w.n).toBe(100);
    expect(Object.entries(w.counts)).toEqual([['constructor', 10], ['__proto__', 20], ['toString', 30], ['valueOf', 40]]);
    expect(Object.entries(w.shares)).toEqual([['constructor', 0.1], ['__proto__', 0.2], ['toString', 0.3], ['valueOf', 0.4]]);
    // Feature j is 1 on the rows of label j, else 0: mean = that label's share, min 0, max 1.
    expect(Object.keys(w.features)).toEqual(NAMES);
    NAMES.forEach((name, j) => {
      const f = w.features[name]!;
      expect(f.mean, name).toBeCloseTo(0.1 * (j + 1), 12);
      expect(f.std, name).toBeCloseTo(Math.sqrt(0.1 * (j + 1) * (1 - 0.1 * (j + 1))), 12);
      expect([f.min, f.max, f.zero_share], name).toEqual([0, 1, 1 - 0.1 * (j + 1)]);
    });
    expect(w.verdict).toBe('healthy');
    expect(w.evaluation!.n).toBe(100);
    expect(w.evaluation!.statistics.per_label.map((l) => [l.label, l.count])).toEqual(Object.entries(w.counts));
  });

  it('a collapse onto __proto__ is judged collapsed and opens an incident', async () => {
    const rows = Array.from({ length: 120 }, () => oneHot(1));
    expect(new Set(await predictAt(rows, epochMs(collapsed + 10)))).toEqual(new Set(['__proto__']));
    await closeWindow(collapsed, rows.length);

    expect(sorted(await labelCounts('js-names', collapsed))).toEqual([['__proto__', 120]]);
    const w = await windowAt(collapsed);
    expect(Object.entries(w.counts)).toEqual([['constructor', 0], ['__proto__', 120], ['toString', 0], ['valueOf', 0]]);
    expect(w.verdict).toBe('collapsed');
    expect(w.evaluation!.dominant_label).toBe('__proto__');

    const incident = await activeIncident(env.DB, 'js-names', '1');
    expect(incident).toMatchObject({ kind: 'collapsed', status: 'open', firstWindowStart: collapsed, flaggedWindows: 1 });
    expect(incident!.latest.topLabel).toBe('__proto__');
  });

  it('renders the status page with every name and number in place', async () => {
    const now = epochMs(collapsed + 2 * L);
    for (const path of ['/', '/models/js-names']) {
      const res = await fetchAt(now, new Request(`${BASE}${path}`));
      const html = await res.text();
      expect(res.status, html.slice(0, 300)).toBe(200);
      expect(html).not.toMatch(/NaN|undefined|\[object Object\]|function /);
      // Each bar's title lists its labels with share and count.
      expect(html).toContain('constructor: 10% (10)');
      expect(html).toContain('__proto__: 20% (20)');
      expect(html).toContain('toString: 30% (30)');
      expect(html).toContain('valueOf: 40% (40)');
      expect(html).toContain('__proto__: 100% (120)');
      if (path === '/') expect(html).toMatch(/js-names v1 collapsed for 2 min/);
      // The incident's before/flagged table: before = the healthy window's shares.
      else expect(html).toContain('Top label <strong>__proto__</strong>: 20% before → <strong>100%</strong> while flagged.');
    }
  });
});
