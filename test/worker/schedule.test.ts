// The minute cron inside workerd against the real D1: windows close on the clock (after end + grace + margin),
// served models get explicit zero-traffic windows without backfilling history, retention prunes.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { recordBatch } from '../../src/aggregate/record';
import { windowStart } from '../../src/monitor/window';
import { tick } from '../../src/schedule';
import { registry } from '../../src/serving/registry';
import { config, epochMs, flushAll, labelCounts, metadataOf, probabilitiesFor, windowRow } from './helpers';

const L = config.windowSeconds;
const settle = config.flushGraceSeconds + config.closeMarginSeconds;
const models = registry.list().map((m) => m.name);
const penguins = metadataOf('penguins');
// Every window here is in 2032, on a clock the tests drive.
const T = windowStart(Date.UTC(2032, 0, 1) / 1000, L);
const at = (seconds: number) => tick(env, epochMs(seconds));

async function windowsOf(model: string) {
  const { results } = await env.DB.prepare('SELECT start, n, closed FROM windows WHERE model = ? ORDER BY start').bind(model).all<{ start: number; n: number; closed: number }>();
  return results;
}

describe('closing windows on the clock', () => {
  it('the first tick writes one zero-traffic window per served model, the newest that ended, and no history', async () => {
    // Windows ending at or before now − grace − margin may close: the newest is [T + 8L, T + 9L).
    const report = await at(T + 9 * L + settle);
    expect(report.zeroFilled).toBe(models.length);
    expect(report.closed.map((w) => [w.model, w.start, w.length]).sort()).toEqual(models.map((m) => [m, T + 8 * L, L]).sort());
    for (const model of models) expect(await windowsOf(model)).toEqual([{ start: T + 8 * L, n: 0, closed: 1 }]);
  });

  it('a window with traffic closes only once its end + grace + margin has passed', async () => {
    const start = T + 9 * L;
    await recordBatch(env, config, penguins, [[0.1, 0.2, 0.3, 0.4], [1, 1, 1, 1]], [probabilitiesFor(0, 3), probabilitiesFor(2, 3)], epochMs(start + 10));
    await flushAll(penguins, epochMs(start + L + config.flushGraceSeconds));

    const early = await at(start + L + settle - 1);
    expect(early).toMatchObject({ closed: [], zeroFilled: 0, pruned: 0 });
    expect(await windowRow('penguins', start)).toMatchObject({ n: 2, closed: 0 });

    const due = await at(start + L + settle);
    // The other models had no traffic: their window is written with n = 0; penguins' keeps its counts.
    expect(due.zeroFilled).toBe(models.length - 1);
    expect(due.closed.map((w) => w.model).sort()).toEqual([...models].sort());
    expect(await windowRow('penguins', start)).toMatchObject({ n: 2, closed: 1 });
    expect(await labelCounts('penguins', start)).toEqual({ Adelie: 1, Gentoo: 1 });
  });

  it('a repeated tick closes nothing twice', async () => {
    expect(await at(T + 10 * L + settle)).toMatchObject({ closed: [], zeroFilled: 0, pruned: 0 });
  });

  it('after missed ticks, the next one fills every window since, each closed once', async () => {
    const report = await at(T + 30 * L + settle);
    // [T + 10L, T + 30L): 20 windows per model.
    expect(report.zeroFilled).toBe(20 * models.length);
    expect(report.closed).toHaveLength(20 * models.length);
    for (const model of models) {
      const starts = (await windowsOf(model)).map((w) => w.start);
      expect(starts).toEqual(Array.from({ length: 22 }, (_, i) => T + (8 + i) * L));
    }
  });

  it('the cron handler of the Worker runs the tick', async () => {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: epochMs(T + 31 * L + settle), cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    for (const model of models) expect((await windowsOf(model)).at(-1)).toEqual({ start: T + 30 * L, n: 0, closed: 1 });
  });
});

describe('after a long outage, and retention', () => {
  it('fills back no further than the horizon and prunes closed windows older than RETENTION_DAYS with their rows', async () => {
    const now = T + 31 * 86_400;
    const cutoff = now - config.retentionDays * 86_400;
    // A recent window with traffic, which retention must keep.
    const recent = windowStart(now - 3 * L, L);
    await recordBatch(env, config, penguins, [[1, 2, 3, 4]], [probabilitiesFor(1, 3)], epochMs(recent + 1));
    await flushAll(penguins, epochMs(recent + L + config.flushGraceSeconds));
    const oldTraffic = T + 9 * L;
    expect(await env.DB.prepare("SELECT count(*) AS k FROM flushes WHERE start = ?").bind(oldTraffic).first('k')).toBeGreaterThan(0);

    const report = await at(now);
    // Horizon: one hour of 60 s windows (61 slots up to the newest closable one), minus penguins' window with traffic.
    expect(report.zeroFilled).toBe(61 * models.length - 1);
    // Everything from 2032-01-01 (23 windows per model) is older than the retention.
    expect(report.pruned).toBe(23 * models.length);
    const left = await env.DB.prepare('SELECT min(start) AS oldest, count(*) AS k FROM windows').first<{ oldest: number; k: number }>();
    expect(left?.oldest).toBeGreaterThanOrEqual(cutoff);
    expect(left?.k).toBe(61 * models.length);
    for (const table of ['window_labels', 'window_features', 'flushes'])
      expect(await env.DB.prepare(`SELECT count(*) AS k FROM ${table} WHERE start < ?`).bind(cutoff).first('k'), table).toBe(0);
    expect(await windowRow('penguins', recent)).toMatchObject({ n: 1, closed: 1 });
    expect(await labelCounts('penguins', recent)).toEqual({ Chinstrap: 1 });
  });
});
