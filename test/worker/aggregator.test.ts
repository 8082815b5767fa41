// The WindowAggregator Durable Object and its D1 flush, inside workerd with real SQLite storage and a real D1:
// window boundaries, exactly-once flushes, D1 failures, late predictions, the alarm.
import { runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';
import { recordBatch } from '../../src/aggregate/record';
import { retryDelayMs } from '../../src/aggregate/aggregator';
import { flushStatementCount, flushWindow, type ShardFlush } from '../../src/db/windows';
import { emptyCounts, plainCounts, summarizeBatch, windowStart } from '../../src/monitor/window';
import { config, epochMs, flushAll, holdingsOf, labelCounts, metadataOf, probabilitiesFor, stubOf, windowRow } from './helpers';

const penguins = metadataOf('penguins');
const L = config.windowSeconds;
const grace = config.flushGraceSeconds;
// Windows in the future: no alarm fires on its own during a test; flushes are forced with an explicit clock.
const FUTURE = windowStart(Date.UTC(2030, 0, 1) / 1000, L);

const rowsOf = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => [seed + i, -(seed + i) / 2, 0, i % 3]);
const topsOf = (n: number) => Array.from({ length: n }, (_, i) => i % 3);
const record = (rows: number[][], tops: number[], nowMs: number, metadata = penguins) =>
  recordBatch(env, config, metadata, rows, tops.map((t) => probabilitiesFor(t, metadata.labels.length)), nowMs);

describe('window boundaries', () => {
  it('a prediction at end − 1 ms counts in the window, one at its end in the next', async () => {
    const start = FUTURE;
    await record(rowsOf(3), [0, 0, 1], epochMs(start + L) - 1);
    await record(rowsOf(2), [2, 2], epochMs(start + L));

    const pending = (await holdingsOf(penguins)).flatMap((h) => h.pending);
    expect(pending.map((p) => [p.start, p.counts.n]).sort()).toEqual([[start, 3], [start + L, 2]]);

    expect(await flushAll(penguins, epochMs(start + 2 * L + grace))).toEqual({ flushed: 2, predictions: 5, failed: 0 });
    expect((await windowRow('penguins', start))?.n).toBe(3);
    expect(await labelCounts('penguins', start)).toEqual({ Adelie: 2, Chinstrap: 1 });
    expect((await windowRow('penguins', start + L))?.n).toBe(2);
    expect(await labelCounts('penguins', start + L)).toEqual({ Gentoo: 2 });
  });

  it('a window is flushed at its end plus grace, not before', async () => {
    const start = FUTURE + 3600;
    await record(rowsOf(4), topsOf(4), epochMs(start + 10));
    const flushAt = epochMs(start + L + grace);
    expect((await holdingsOf(penguins)).map((h) => h.alarm)).toContain(flushAt);

    expect(await flushAll(penguins, flushAt - 1)).toMatchObject({ flushed: 0 });
    expect(await windowRow('penguins', start)).toBeNull();
    expect(await flushAll(penguins, flushAt)).toEqual({ flushed: 1, predictions: 4, failed: 0 });
    expect((await windowRow('penguins', start))?.n).toBe(4);
    // Nothing left: the alarm is cleared rather than firing for nothing.
    expect((await holdingsOf(penguins)).every((h) => h.pending.length === 0 && h.sealed.length === 0 && h.alarm === null)).toBe(true);
  });
});

describe('a tally whose timer is late or never comes', () => {
  // A tally is sent by a timer in the context of the request that opened it. If that context is cancelled first, the
  // timer may never fire; a later request takes the tally over. The clock is the test's, so the first request's timer
  // (real time) fires after the takeover, as a late one would: it must not send the tally a second time.
  const countsAt = async (start: number) =>
    (await holdingsOf(penguins)).flatMap((h) => h.pending).filter((p) => p.start === start).reduce((n, p) => n + p.counts.n, 0);

  it('the next request after its linger plus a second takes it over; every prediction is sent once', async () => {
    const start = FUTURE + 20 * 3600;
    const t0 = epochMs(start + 5);
    const first = record(rowsOf(2), [0, 1], t0);
    expect(first).toBeInstanceOf(Promise);
    expect(record(rowsOf(1), [2], t0 + 10)).toBeUndefined();
    const taker = record(rowsOf(3), [0, 0, 0], t0 + config.recordLingerMs + 1001);
    expect(taker).toBeInstanceOf(Promise);
    await Promise.all([first, taker]);
    expect(await countsAt(start)).toBe(6);
  });

  it('a tally of an earlier window is taken over too, and sent to its own window', async () => {
    const start = FUTURE + 21 * 3600;
    const first = record(rowsOf(4), topsOf(4), epochMs(start + L - 1));
    const taker = record(rowsOf(1), [1], epochMs(start + L) + config.recordLingerMs + 1000);
    await Promise.all([first, taker]);
    expect([await countsAt(start), await countsAt(start + L)]).toEqual([4, 1]);
  });
});

describe('exactly once', () => {
  const flushOf = (start: number, seq: number, counts = summarizeBatch(rowsOf(3), topsOf(3).map((t) => probabilitiesFor(t, 3)), penguins.labels, penguins.features.map((f) => f.name))): ShardFlush => ({
    shard: 'penguins@1#test',
    seq,
    model: 'penguins',
    version: penguins.version,
    start,
    length: L,
    counts,
  });

  it('the same flush sent twice (D1 committed, the answer was lost) adds once', async () => {
    const start = FUTURE + 2 * 3600;
    await flushWindow(env.DB, flushOf(start, 1), start);
    await flushWindow(env.DB, flushOf(start, 1), start);
    expect((await windowRow('penguins', start))?.n).toBe(3);
    expect(await labelCounts('penguins', start)).toEqual({ Adelie: 1, Chinstrap: 1, Gentoo: 1 });
    const features = await env.DB.prepare('SELECT count FROM window_features WHERE model = ? AND start = ?').bind('penguins', start).all<{ count: number }>();
    expect(features.results.map((f) => f.count)).toEqual([3, 3, 3, 3]);

    // A different seq of the same shard and window is a new flush, and it adds.
    await flushWindow(env.DB, flushOf(start, 2), start);
    expect((await windowRow('penguins', start))?.n).toBe(6);
  });

  it('merges min and max across flushes and splits rows to stay within 100 bound parameters', async () => {
    const start = FUTURE + 3 * 3600;
    // 120 labels and 30 features: several statements each (47 labels, 13 features per statement).
    const counts = emptyCounts();
    counts.n = 120;
    for (let i = 0; i < 120; i++) counts.labelCounts[`label-${i}`] = 1;
    for (let j = 0; j < 30; j++) counts.features[`f${j}`] = { count: 120, sum: j, sumSq: j * j, min: -j, max: j, zeros: 1 };
    expect(flushStatementCount(counts)).toBe(2 + 3 + 3);
    expect(await flushWindow(env.DB, flushOf(start, 1, counts), start)).toBe(flushStatementCount(counts));

    const later = structuredClone(counts);
    later.features.f5 = { count: 120, sum: 0, sumSq: 0, min: -50, max: 2, zeros: 0 };
    await flushWindow(env.DB, flushOf(start, 2, later), start);

    const labels = await labelCounts('penguins', start);
    expect(Object.keys(labels)).toHaveLength(120);
    expect(Object.values(labels).every((c) => c === 2)).toBe(true);
    const f5 = await env.DB.prepare('SELECT * FROM window_features WHERE model = ? AND start = ? AND feature = ?').bind('penguins', start, 'f5').first();
    expect(f5).toMatchObject({ count: 240, sum: 5, sum_sq: 25, min: -50, max: 5, zeros: 1 });
    const features = await env.DB.prepare('SELECT count(*) AS k FROM window_features WHERE model = ? AND start = ?').bind('penguins', start).first<{ k: number }>();
    expect(features?.k).toBe(30);
  });
});

describe('concurrent records', () => {
  it('300 concurrent record() calls spread over the shards add up exactly in D1', async () => {
    const start = FUTURE + 6 * 3600;
    const names = Array.from({ length: config.aggregatorShards }, (_, k) => `penguins@${penguins.version}#${k}`);
    const sizes = Array.from({ length: 300 }, (_, i) => 1 + ((i * 7) % 11));
    const labelOf = (i: number, j: number) => (i + j) % 3;
    await Promise.all(
      sizes.map((n, i) =>
        stubOf(names[i % names.length]).record({
          shard: names[i % names.length],
          model: 'penguins',
          version: penguins.version,
          start,
          length: L,
          graceSeconds: grace,
          counts: plainCounts(summarizeBatch(rowsOf(n, i), Array.from({ length: n }, (_, j) => probabilitiesFor(labelOf(i, j), 3)), penguins.labels, penguins.features.map((f) => f.name))),
        }),
      ),
    );
    const expected: Record<string, number> = {};
    sizes.forEach((n, i) => {
      for (let j = 0; j < n; j++) expected[penguins.labels[labelOf(i, j)]] = (expected[penguins.labels[labelOf(i, j)]] ?? 0) + 1;
    });
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(await flushAll(penguins, epochMs(start + L + grace))).toEqual({ flushed: names.length, predictions: total, failed: 0 });
    expect((await windowRow('penguins', start))?.n).toBe(total);
    expect(await labelCounts('penguins', start)).toEqual(expected);
  });
});

describe('D1 failure', () => {
  it('keeps the counts, retries with backoff, and delivers them once D1 accepts', async () => {
    const start = FUTURE + 4 * 3600;
    const shard = stubOf('penguins@1#failure');
    await shard.record({ shard: 'penguins@1#failure', model: 'penguins', version: penguins.version, start, length: L, graceSeconds: grace, counts: plainCounts(summarizeBatch(rowsOf(5), topsOf(5).map((t) => probabilitiesFor(t, 3)), penguins.labels, penguins.features.map((f) => f.name))) });
    const t = epochMs(start + L + grace);

    // A real D1 failure: the third statement of the batch hits a missing table, after the window upsert ran.
    await env.DB.exec('ALTER TABLE window_features RENAME TO window_features_away');
    try {
      expect(await shard.flushNow(t)).toEqual({ flushed: 0, predictions: 0, failed: 1 });
    } finally {
      await env.DB.exec('ALTER TABLE window_features_away RENAME TO window_features');
    }
    // The batch is one transaction: the window upsert before the failing statement was rolled back.
    expect(await windowRow('penguins', start)).toBeNull();
    const held = await shard.holdings();
    expect(held.sealed).toMatchObject([{ start, attempts: 1, retryAt: t + retryDelayMs(1) }]);
    expect(held.sealed[0].counts.n).toBe(5);
    expect(held.alarm).toBe(t + retryDelayMs(1));

    // Not retried before its backoff ends; retried (and accepted) when it does.
    expect(await shard.flushNow(t + retryDelayMs(1) - 1)).toEqual({ flushed: 0, predictions: 0, failed: 0 });
    expect(await shard.flushNow(t + retryDelayMs(1))).toEqual({ flushed: 1, predictions: 5, failed: 0 });
    expect((await windowRow('penguins', start))?.n).toBe(5);
    expect(await shard.holdings()).toEqual({ pending: [], sealed: [], alarm: null });

    // A forced flush after that has nothing to send and changes nothing.
    expect(await shard.flushNow(t + 3_600_000)).toEqual({ flushed: 0, predictions: 0, failed: 0 });
    expect((await windowRow('penguins', start))?.n).toBe(5);
  });

  it('backs off 10 s, 20 s, 40 s ... up to 5 minutes', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(retryDelayMs)).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  });
});

describe('late predictions', () => {
  it('a prediction reaching a shard after its window was flushed goes out as a second flush of that window', async () => {
    const start = FUTURE + 5 * 3600;
    const name = 'penguins@1#late';
    const shard = stubOf(name);
    // As record.ts sends them: plain objects, which the RPC can serialize (the summary's records have no prototype).
    const counts = (n: number) => plainCounts(summarizeBatch(rowsOf(n), topsOf(n).map((t) => probabilitiesFor(t, 3)), penguins.labels, penguins.features.map((f) => f.name)));
    const req = { shard: name, model: 'penguins', version: penguins.version, start, length: L, graceSeconds: grace };
    const t = epochMs(start + L + grace);

    await shard.record({ ...req, counts: counts(4) });
    expect(await shard.flushNow(t)).toMatchObject({ flushed: 1, predictions: 4 });
    await shard.record({ ...req, counts: counts(2) });
    // Its flush time has passed already: the alarm is due at once.
    expect((await shard.holdings()).alarm).toBe(t);
    expect(await shard.flushNow(t + 1000)).toMatchObject({ flushed: 1, predictions: 2 });

    expect((await windowRow('penguins', start))?.n).toBe(6);
    const keys = await env.DB.prepare('SELECT seq, n FROM flushes WHERE shard = ? AND start = ? ORDER BY seq').bind(name, start).all<{ seq: number; n: number }>();
    expect(keys.results.map((k) => k.n)).toEqual([4, 2]);
    expect(keys.results[1].seq).toBeGreaterThan(keys.results[0].seq);
  });
});

describe('alarm', () => {
  it('flushes on its own once the flush time has passed', async () => {
    const metadata = metadataOf('seattle-weather');
    // A window that ended ten minutes ago on the real clock: the alarm is due at once.
    const nowMs = Date.now() - 600_000;
    const start = windowStart(Math.floor(nowMs / 1000), L);
    await record(rowsOf(7).map((r) => r.slice(0, metadata.features.length)), topsOf(7), nowMs, metadata);
    // Run the alarm now unless workerd already did; either way the window reaches D1 without a forced flush.
    await Promise.all(Array.from({ length: config.aggregatorShards }, (_, k) => runDurableObjectAlarm(stubOf(`seattle-weather@${metadata.version}#${k}`))));
    await vi.waitFor(async () => expect((await windowRow('seattle-weather', start))?.n).toBe(7), { timeout: 10_000, interval: 50 });
    await vi.waitFor(async () => expect((await holdingsOf(metadata)).every((h) => h.pending.length + h.sealed.length === 0)).toBe(true));
  });
});
