// The detector's state as D1 stores it (monitor/packed-state.ts) and the rounding of its seasonal counts
// (baseline.ts seasonalCount): packed and read back, a state judges exactly as before; a state stored before packing
// still loads; and a model of 1000 labels fits where its JSON would take most of D1's limit.
import { describe, expect, it } from 'vitest';
import { type MonitorState, SEASONAL_COUNT_FLOOR, seasonalCount } from '../../src/monitor/baseline';
import { detectorSettings, type DetectorSettings, judgeWindow } from '../../src/monitor/detector';
import { packState, unpackState } from '../../src/monitor/packed-state';
import type { ModelMetadata } from '../../src/serving/metadata';
import { seattleWeather } from './monitor.fixtures';

const HOUR = 3600;
const settings = detectorSettings(seattleWeather, { windowSeconds: HOUR });

/** Answers that follow the hour of day, spread by a fixed rule: every label in most hours, in counts that vary. */
const answersAt = (labels: readonly string[], hour: number) =>
  Object.fromEntries(labels.map((l, i) => [l, ((i + 3) * 7919 + hour * 104_729) % (5 + 4 * (hour % 24 < 12 ? i : 4 - i))]));

function judgeHours(state: MonitorState | null, from: number, to: number, s: DetectorSettings = settings) {
  const evaluations = [];
  for (let h = from; h < to; h++) {
    const judged = judgeWindow(state, { labelCounts: answersAt(s.labels, h) }, h * HOUR, s);
    evaluations.push(judged.evaluation);
    state = judged.state;
  }
  return { state: state!, evaluations };
}

/** Ten weeks of the default weekly seasonality: the hour-of-week bins have rolled over nine times, the hours of day 69. */
const tenWeeks = () => judgeHours(null, 0, 10 * 168).state;

describe('seasonal counts kept to 4 significant digits', () => {
  it('rounds to 4 significant digits and drops what is below a hundredth of a prediction', () => {
    // Each expected value written out by hand.
    expect(seasonalCount(1.99609375)).toBe(1.996);
    expect(seasonalCount(220.765625)).toBe(220.8);
    expect(seasonalCount(12_345)).toBe(12_350);
    expect(seasonalCount(17)).toBe(17);
    expect(seasonalCount(0.012345)).toBe(0.01235);
    expect(seasonalCount(SEASONAL_COUNT_FLOOR)).toBe(0.01);
    expect(seasonalCount(0.0099)).toBe(0);
    expect(seasonalCount(0)).toBe(0);
  });

  it('every decayed count a weekly model keeps is one of them, and the counts of the current cycle stay whole', () => {
    const state = tenWeeks();
    const bins = [...state.seasonal!, ...state.hourOfDay!];
    const past = bins.flatMap((b) => b.past);
    // Without the rounding, 69 halvings leave binary fractions of up to 17 significant digits.
    expect(past.some((c) => c > 0 && !Number.isInteger(c))).toBe(true);
    for (const c of past) {
      expect(Number(c.toPrecision(4))).toBe(c);
      expect(c === 0 || c >= SEASONAL_COUNT_FLOOR).toBe(true);
    }
    for (const c of bins.flatMap((b) => b.current)) expect(Number.isInteger(c)).toBe(true);
  });
});

describe('the state as D1 stores it', () => {
  it('packs to a fraction of its JSON, and reads back equal: every later window is judged exactly as without storing', async () => {
    const state = tenWeeks();
    const packed = await packState(state);
    expect(packed.length).toBeLessThan(JSON.stringify(state).length / 2);
    const read = await unpackState(packed);
    expect(read).toEqual(state);
    // The cron stores the state after every window; the backtest keeps it in memory. A week more of windows, judged
    // from the state read back and from the one in memory: the same evaluations, the same state.
    const stored = judgeHours(read, 10 * 168, 11 * 168);
    const kept = judgeHours(state, 10 * 168, 11 * 168);
    expect(stored.evaluations).toEqual(kept.evaluations);
    expect(stored.state).toEqual(kept.state);
  });

  it('reads a state stored before it was packed: plain JSON, full-precision counts, without labels or hours of day', async () => {
    const { labels: _labels, hourOfDay: _hours, ...now } = tenWeeks();
    // As stored before the counts were rounded: decayed counts of full double precision.
    const old: MonitorState = { ...now, seasonal: now.seasonal!.map((b) => ({ ...b, past: b.past.map((c) => c + 1 / 3) })) };
    const json = JSON.stringify(old);
    expect(json.startsWith('{')).toBe(true);
    const read = await unpackState(json);
    expect(read).toEqual(old);
    // It is judged as the state it is: the evaluations and the state after a day are those of the object itself.
    expect(judgeHours(read, 10 * 168, 10 * 168 + 24)).toEqual(judgeHours(old, 10 * 168, 10 * 168 + 24));
    // And it gains the hour-of-day bins a weekly model keeps now, whose counts are rounded as they roll over.
    expect(judgeHours(read, 10 * 168, 10 * 168 + 1).state.hourOfDay).toHaveLength(24);
  });

  it('a weekly model of 1000 labels fits within half of D1’s 2,000,000 bytes for a value, where its JSON does not', async () => {
    const labels = Array.from({ length: 1000 }, (_, i) => `class_${String(i).padStart(4, '0')}`);
    const even = Object.fromEntries(labels.map((l) => [l, 100]));
    const many: ModelMetadata = { ...seattleWeather, labels, training: { samples: 100_000, label_counts: even }, reference: { label_counts: even, samples: 100_000 } };
    // Two weeks of hourly windows, a few answers per label and hour: every bin holds a vector of 1000 counts.
    const { state } = judgeHours(null, 0, 2 * 168, detectorSettings(many, { windowSeconds: HOUR }));
    expect(JSON.stringify(state).length).toBeGreaterThan(1_000_000);
    const packed = await packState(state);
    expect(packed.length).toBeLessThan(1_000_000);
    expect(await unpackState(packed)).toEqual(state);
  });
});
