// A new model version through the real cron, D1 and aggregator: its first state takes the seasons the model's earlier
// version learnt (monitor/baseline.ts inheritedState), and nothing else.
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import penguinsHoldout from '../fixtures/holdout/penguins.json';
import { detectorSettings, judgeWindow, type MonitorState, unpackState } from '../../src/monitor';
import { windowStart } from '../../src/monitor/window';
import { tick } from '../../src/schedule';
import { config, epochMs, flushAll, metadataOf } from './helpers';
import { predictAt, standardized, type Holdout } from './scenario-traffic';

const L = config.windowSeconds;
const T = windowStart(Date.UTC(2034, 2, 1) / 1000, L);
const penguins = metadataOf('penguins');
const rows = standardized(penguins, (penguinsHoldout as Holdout).rows.map((r) => r.input));

/** The earlier version's state: two days of hourly windows of the held-out mix, judged by the real detector. */
function earlierState(labels: readonly string[]): MonitorState {
  const settings = detectorSettings({ ...penguins, labels: [...labels] }, config);
  let state: MonitorState | null = null;
  for (let h = 0; h < 48; h++) {
    const labelCounts = Object.fromEntries(labels.map((l, i) => [l, 20 + 5 * i]));
    state = judgeWindow(state, { labelCounts }, T - (48 - h) * 3600, settings).state;
  }
  return state!;
}

/** Stored as states were before they were packed (plain JSON): monitor/packed-state.ts reads both. */
const storeEarlier = (state: MonitorState) =>
  env.DB.prepare('INSERT INTO monitor_states (model, version, last_window_start, state, updated_at) VALUES (?, ?, ?, ?, ?)')
    .bind('penguins', 'earlier', state.lastWindowStart, JSON.stringify(state), T - 3600)
    .run();

/** One window of the held-out rows on the served version, recorded, closed and judged; returns its stored state. */
async function firstWindow(): Promise<MonitorState> {
  await predictAt(penguins, rows, epochMs(T + 10));
  await flushAll(penguins, epochMs(T + L + config.flushGraceSeconds));
  const report = await tick(env, epochMs(T + L + config.flushGraceSeconds + config.closeMarginSeconds));
  expect(report.evaluation.failed).toBe(0);
  const row = await env.DB.prepare('SELECT state FROM monitor_states WHERE model = ? AND version = ?').bind('penguins', penguins.version).first<{ state: string }>();
  return unpackState(row!.state);
}

const learntBins = (bins: MonitorState['hourOfDay']) => (bins ?? []).filter((b) => b.cycle >= 0).length;

describe('a new model version', () => {
  beforeEach(async () => {
    await env.DB.batch(['monitor_states', 'incidents', 'deliveries', 'windows', 'window_labels', 'window_features'].map((t) => env.DB.prepare(`DELETE FROM ${t}`)));
  });

  it("starts with the seasons of its model's earlier version, and its own trailing level and evidence", async () => {
    expect(config.seasonality).toBe('weekly');
    const earlier = earlierState(penguins.labels);
    expect(learntBins(earlier.hourOfDay)).toBe(24);
    await storeEarlier(earlier);
    const state = await firstWindow();
    expect(state.labels).toEqual(penguins.labels);
    // Every hour of day the earlier version learnt, kept: untouched but for this window's hour (00:00 UTC, bin 0),
    // whose earlier days rolled into its past as a new day's window taught it.
    expect(new Date(T * 1000).getUTCHours()).toBe(0);
    expect(learntBins(state.hourOfDay)).toBe(24);
    expect(state.hourOfDay!.slice(1)).toEqual(earlier.hourOfDay!.slice(1));
    const [before, after] = [earlier.hourOfDay![0]!, state.hourOfDay![0]!];
    expect(after.past).toEqual(before.past.map((c, i) => c * 0.5 + before.current[i]!));
    // The trailing level is this window's traffic alone.
    expect(state.trailing.reduce((s, c) => s + c, 0)).toBe(rows.length);
  });

  it('starts afresh when the earlier version kept other labels', async () => {
    await storeEarlier(earlierState([...penguins.labels].reverse()));
    const state = await firstWindow();
    // Only this window's hour of day is learnt.
    expect(learntBins(state.hourOfDay)).toBe(1);
  });
});
