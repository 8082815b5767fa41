import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  baselineOf,
  compatibleState,
  DEFAULT_SEASONALITY,
  seasonalityFor,
  halfLives,
  inheritedState,
  initialState,
  type MonitorState,
  rebaseline,
  rebaselineFrom,
  REBASELINE_PREDICTIONS,
  recentInputs,
  SEASONAL_MIN_PREDICTIONS,
  SEASONS,
  TRAILING_HALF_LIFE_SECONDS,
} from '../../src/monitor/baseline';
import { modelDefect } from '../../src/monitor/defect';
import { advanceIncident, type Incident } from '../../src/monitor/incident';
import { DEFAULT_MIN_PREDICTIONS, detectorSettings, judgeWindow, packageReference, phaseWords } from '../../src/monitor/detector';
import { countOf } from '../../src/monitor/names';
import { smoothedShares } from '../../src/monitor/reference';
import {
  binomialLogLikelihoodRatio,
  collapseAlternative,
  cusumThreshold,
  dispersion,
  predictionsToDecide,
  SECONDS_PER_YEAR,
  TOTAL_MIX,
} from '../../src/monitor/sequential';
import { parseMetadata, type ModelMetadata } from '../../src/serving/metadata';
import { judgedAfterHealthy, judgeSequence, labelWindow, modelWith, penguins, windowAt, windowOf } from './monitor.fixtures';

const ROOT = join(import.meta.dirname, '..', '..');
const packaged = (name: string): ModelMetadata =>
  parseMetadata(JSON.parse(readFileSync(join(ROOT, 'models', name, 'metadata.json'), 'utf8')), name);
const seattle = packaged('seattle-weather');
const seattleUnweighted = packaged('seattle-weather-unweighted');
const penguinsUnscaled = packaged('penguins-unscaled');
const penguinsPackaged = packaged('penguins');

const sharesOf = (m: ModelMetadata) => {
  const counts = packageReference(m).counts;
  const total = counts.reduce((s, c) => s + c, 0);
  return counts.map((c) => c / total);
};
/** n predictions of which `mix` collapsed onto `label`, the rest as the package's reference. */
const collapsing = (m: ModelMetadata, label: string, mix: number, n: number) =>
  windowAt(
    m.labels,
    sharesOf(m).map((s, i) => (1 - mix) * s + (m.labels[i] === label ? mix : 0)),
    n,
  );

describe('sequential statistics', () => {
  it('the binomial log-likelihood ratio, by hand', () => {
    // 3 of 10 under p1 = 0.5 against p0 = 0.2: 3·ln(2.5) + 7·ln(0.625).
    expect(binomialLogLikelihoodRatio(3, 10, 0.2, 0.5)).toBeCloseTo(3 * Math.log(2.5) + 7 * Math.log(0.625), 12);
    expect(binomialLogLikelihoodRatio(0, 0, 0.2, 0.5)).toBe(0);
    expect(() => binomialLogLikelihoodRatio(11, 10, 0.2, 0.5)).toThrow(RangeError);
    expect(() => binomialLogLikelihoodRatio(1, 10, 0, 0.5)).toThrow(RangeError);
  });
  it('the threshold is ln(statistics × windows per budget period)', () => {
    // One false page a year over 60-s windows and 15 statistics: ln(15 · 525 960).
    expect(cusumThreshold(1, 60, 15)).toBeCloseTo(Math.log(15 * (SECONDS_PER_YEAR / 60)), 12);
    // Twice the budget, half the windows per page: ln 2 lower.
    expect(cusumThreshold(1, 60, 15) - cusumThreshold(2, 60, 15)).toBeCloseTo(Math.log(2), 12);
    // Day-long windows: fewer chances to alarm, a lower bar.
    expect(cusumThreshold(1, 86_400, 15)).toBeCloseTo(Math.log(15 * 365.25), 12);
  });
  it('the dispersion is 1 for an exact, known baseline and grows with window size when either is uncertain', () => {
    expect(dispersion(100, 0.3, Infinity, 0)).toBe(1);
    expect(dispersion(100, 0.3, 100, 0)).toBe(2); // two-sample: as many predictions behind the baseline as in the window
    expect(dispersion(100, 0.5, Infinity, 0.0025)).toBeCloseTo(1 + (100 * 0.0025) / 0.25, 12);
  });
  it('predictionsToDecide is the first n at which a total collapse crosses h', () => {
    const [p, h, m, tau2] = [0.4, 15, 200, 0.001];
    const n = predictionsToDecide(p, h, m, tau2);
    const evidence = (k: number) => (k * Math.log(collapseAlternative(p, TOTAL_MIX) / p)) / dispersion(k, p, m, tau2);
    expect(evidence(n)).toBeGreaterThanOrEqual(h);
    expect(evidence(n - 1)).toBeLessThan(h);
    // A baseline that scatters this much can never be told from a collapse.
    expect(predictionsToDecide(0.4, 15, 200, 0.2)).toBe(Infinity);
  });
});

describe('the package reference', () => {
  it("is the model's own held-out answers when the package has them", () => {
    expect(packageReference(seattle)).toEqual({
      source: 'held_out_predictions',
      counts: seattle.labels.map((l) => seattle.reference!.label_counts[l]),
    });
  });
  it('falls back to the training labels without them, and for a package with a model defect', () => {
    const { reference: _, ...plain } = seattle;
    expect(packageReference(plain).source).toBe('training_labels');
    expect(packageReference(seattleUnweighted)).toEqual({
      source: 'training_labels',
      counts: seattleUnweighted.labels.map((l) => seattleUnweighted.training.label_counts[l]),
    });
  });
});

describe('model defect', () => {
  it('the unweighted seattle model never answers fog or drizzle on its held-out rows', () => {
    const d = modelDefect(seattleUnweighted)!;
    expect(d.verdict).toBe('partial_collapse');
    expect([...d.vanishedLabels].sort()).toEqual(['drizzle', 'fog']);
    // Its snow (2 of 292 against 1.8% of training) is rare enough to be chance: P[X ≤ 2] ≈ 0.1.
    expect(d.vanishedLabels).not.toContain('snow');
    expect(d.reason).toMatch(/fog/);
  });
  it('the unscaled penguins model answers one species for every held-out row', () => {
    const d = modelDefect(penguinsUnscaled)!;
    expect(d.verdict).toBe('collapsed');
    expect(d.dominantLabel).toBe('Chinstrap');
    expect([...d.vanishedLabels].sort()).toEqual(['Adelie', 'Gentoo']);
  });
  it('healthy packages have none', () => {
    expect(modelDefect(seattle)).toBeNull();
    expect(modelDefect(penguinsPackaged)).toBeNull();
    expect(modelDefect(penguins)).toBeNull(); // no held-out answers at all
  });
});

describe('judgeWindow: one window, no history', () => {
  it('healthy traffic at the reference mix is healthy once there are enough predictions', () => {
    const e = judgeSequence(penguinsPackaged, [windowAt(penguinsPackaged.labels, sharesOf(penguinsPackaged), 86)]).last;
    expect(e.verdict).toBe('healthy');
    expect(e.baseline.source).toBe('held_out_predictions');
    expect(e.requiredPredictions).toBeLessThanOrEqual(86);
  });
  it('a total collapse is paged from the first window: every penguin called Adelie', () => {
    const e = judgeSequence(penguinsPackaged, [labelWindow({ Adelie: 86 })]).last;
    expect(e.verdict).toBe('collapsed');
    expect(e.dominantLabel).toBe('Adelie');
    expect(e.reason).toMatch(/^Adelie took 100% of 86 predictions/);
  });
  it('five predictions are insufficient_data, and say how many are needed', () => {
    const e = judgeSequence(penguinsPackaged, [labelWindow({ Adelie: 5 })]).last;
    expect(e.verdict).toBe('insufficient_data');
    expect(e.requiredPredictions).toBeGreaterThanOrEqual(DEFAULT_MIN_PREDICTIONS);
    expect(e.reason).toMatch(/^5 predictions so far; \d+ are needed/);
    expect(e.evidence.accumulated).toBe(5);
  });
  it('an empty window is no_traffic and changes no evidence', () => {
    const { last, state } = judgeSequence(penguinsPackaged, [labelWindow({ Adelie: 5 }), labelWindow({})]);
    expect(last.verdict).toBe('no_traffic');
    expect(state!.pending).toBe(5);
  });
  it("a defective package's own defect shows in its first window, marked as known (it pages once, as model_defect)", () => {
    const healthyTraffic = windowAt(seattleUnweighted.labels, sharesOf({ ...seattleUnweighted, training: seattleUnweighted.training }), 292);
    const held = labelWindow(seattleUnweighted.reference!.label_counts);
    const e = judgeSequence(seattleUnweighted, [held]).last;
    expect(e.verdict).toBe('partial_collapse');
    expect([...e.vanishedLabels].sort()).toEqual(['drizzle', 'fog']);
    expect(e.knownDefect).toBe(true);
    expect(e.baseline.source).toBe('training_labels');
    // Traffic with fog and drizzle back is not the defect.
    expect(judgeSequence(seattleUnweighted, [healthyTraffic, healthyTraffic]).last.knownDefect).toBe(false);
  });
  it('counts a label called constructor like any other', () => {
    const m = modelWith({ constructor: 50, toString: 50 });
    expect(countOf({}, 'constructor')).toBe(0);
    const e = judgeSequence(m, [labelWindow({ constructor: 60 })]).last;
    expect(e.n).toBe(60);
    expect(e.statistics.perLabel.map((l) => l.count)).toEqual([60, 0]);
  });
});

describe('judgeWindow: evidence across windows', () => {
  it('a total collapse at 10 predictions per window is paged within 5 windows', () => {
    const { evaluations } = judgeSequence(seattle, [
      ...Array.from({ length: 60 }, () => windowAt(seattle.labels, sharesOf(seattle), 10)),
      ...Array.from({ length: 10 }, () => labelWindow({ rain: 10 })),
    ]);
    const first = evaluations.findIndex((e) => e.verdict === 'collapsed');
    expect(first).toBeGreaterThanOrEqual(60);
    expect(first - 60 + 1).toBeLessThanOrEqual(5);
    expect(evaluations[first].dominantLabel).toBe('rain');
  });
  it('half of all answers turning into one label at 100 per window is paged within 3 windows', () => {
    const { evaluations } = judgeSequence(seattle, [
      ...Array.from({ length: 60 }, () => windowAt(seattle.labels, sharesOf(seattle), 100)),
      ...Array.from({ length: 5 }, () => collapsing(seattle, 'rain', 0.5, 100)),
    ]);
    expect(evaluations.slice(0, 60).every((e) => e.verdict === 'healthy' || e.verdict === 'insufficient_data')).toBe(true);
    const first = evaluations.findIndex((e) => e.verdict === 'collapsed');
    expect(first - 60 + 1).toBeGreaterThanOrEqual(1);
    expect(first - 60 + 1).toBeLessThanOrEqual(3);
  });
  it('80% onto one label at 100 per window is paged in the first window', () => {
    expect(judgedAfterHealthy(seattle, [collapsing(seattle, 'sun', 0.8, 100)], 60, 100).verdict).toBe('collapsed');
  });
  it('small windows accumulate towards a decision instead of being thrown away', () => {
    const { evaluations } = judgeSequence(penguinsPackaged, Array.from({ length: 20 }, () => windowAt(penguinsPackaged.labels, sharesOf(penguinsPackaged), 5)));
    const decided = evaluations.findIndex((e) => e.verdict === 'healthy');
    expect(decided).toBeGreaterThan(0);
    expect(evaluations.slice(0, decided).every((e) => e.verdict === 'insufficient_data')).toBe(true);
    // The accumulated predictions were enough when it decided, and the count starts again after.
    expect(5 * (decided + 1)).toBeGreaterThanOrEqual(evaluations[decided].requiredPredictions);
    expect(evaluations[decided].evidence.accumulated).toBe(0);
  });
  it('a slow, smooth change of the mix is followed as drift and never flagged', () => {
    // Over 30 days of hourly windows at 1000 predictions, sun goes from its reference share to twice it.
    const base = sharesOf(seattle);
    const sun = seattle.labels.indexOf('sun');
    const steps = 30 * 24;
    const windows = Array.from({ length: steps }, (_, t) => {
      const target = base[sun] * (1 + t / steps);
      const scale = (1 - target) / (1 - base[sun]);
      return windowAt(seattle.labels, base.map((s, i) => (i === sun ? target : s * scale)), 1000);
    });
    const { evaluations } = judgeSequence({ ...seattle, monitor: {} }, windows, 3600);
    expect(evaluations.filter((e) => e.verdict === 'collapsed' || e.verdict === 'partial_collapse')).toEqual([]);
    expect(evaluations.at(-1)!.verdict).toBe('drift');
    expect(evaluations.at(-1)!.drift!.labels[0].label).toBe('sun');
  });
  it('recovers: after a collapse, healthy traffic clears the flag within a few windows', () => {
    const healthy = windowAt(seattle.labels, sharesOf(seattle), 100);
    const { evaluations } = judgeSequence(seattle, [
      ...Array.from({ length: 60 }, () => healthy),
      ...Array.from({ length: 5 }, () => labelWindow({ rain: 100 })),
      ...Array.from({ length: 10 }, () => healthy),
    ]);
    expect(evaluations[64].verdict).toBe('collapsed');
    const back = evaluations.slice(65).findIndex((e) => e.verdict === 'healthy');
    expect(back).toBeGreaterThanOrEqual(0);
    expect(back).toBeLessThanOrEqual(4);
  });
  it('a replayed window is judged the same and leaves the state as it was', () => {
    const settings = detectorSettings(seattle, { windowSeconds: 60 });
    const first = judgeWindow(null, windowAt(seattle.labels, sharesOf(seattle), 100), 0, settings);
    const again = judgeWindow(first.state, labelWindow({ rain: 100 }), 0, settings);
    expect(again.state).toBe(first.state);
  });
  it('the state survives JSON (D1 stores it as text) without changing a verdict', () => {
    const settings = detectorSettings(seattle, { windowSeconds: 60 });
    let state = judgeSequence(seattle, Array.from({ length: 30 }, () => windowAt(seattle.labels, sharesOf(seattle), 50))).state;
    const roundTripped = JSON.parse(JSON.stringify(state));
    const w = collapsing(seattle, 'fog', 0.6, 50);
    expect(judgeWindow(roundTripped, w, 30 * 60, settings)).toEqual(judgeWindow(state, w, 30 * 60, settings));
    state = null;
    expect(state).toBeNull();
  });
});

describe('judgeWindow: the labels a flagged window names as vanished', () => {
  // The penguins package's held-out answers: Adelie 37, Chinstrap 18, Gentoo 31 of 86 (43%, 21%, 36%).
  const down = (e: ReturnType<typeof judgeSequence>['last'], label: string) => e.statistics.perLabel.find((l) => l.label === label)!.down;

  it('a first window of 400 answers, all Gentoo, names Adelie and Chinstrap, though only Adelie crossed h', () => {
    const e = judgeSequence(penguinsPackaged, [labelWindow({ Gentoo: 400 })]).last;
    expect(e.verdict).toBe('collapsed');
    expect(e.dominantLabel).toBe('Gentoo');
    expect(e.vanishedLabels).toEqual(['Adelie', 'Chinstrap']);
    expect(e.reason).toMatch(/Adelie \(0%, normal 43%\) and Chinstrap \(0%, normal 21%\) fell far below their normal share/);
    // Only Adelie's statistic crossed; Chinstrap's evidence, divided by the package baseline's own uncertainty, is
    // short of h: it is named by this window's count (0 where 84 are normal), and that decides nothing.
    expect(down(e, 'Adelie')).toBe(1);
    expect(down(e, 'Chinstrap')).toBeLessThan(1);
    expect(e.knownDefect).toBe(false);
    // And it pages once, as a collapse onto Gentoo.
    const t = advanceIncident(null, { model: 'penguins', version: '1', windowStart: 0, evaluation: e }, { newId: () => 'inc' });
    expect(t.events).toEqual(['opened']);
    expect(t.incident).toMatchObject({ kind: 'collapsed', collapsedOnto: ['Gentoo'], labels: ['Gentoo', 'Adelie', 'Chinstrap'] });
  });

  it('a healthy label just below its normal share in a flagged window is not named', () => {
    // Adelie gone, Gentoo in its place, Chinstrap at 20% where 21% is normal.
    const e = judgedAfterHealthy(penguinsPackaged, [labelWindow({ Adelie: 0, Chinstrap: 80, Gentoo: 320 })]);
    expect(e.verdict).toBe('collapsed');
    expect(e.vanishedLabels).toEqual(['Adelie']);
    expect(e.reason).not.toMatch(/Chinstrap/);
  });

  it('nor is a label that kept more than a quarter of its share, however unlikely its count', () => {
    // 40% of the answers turned into Gentoo: Adelie and Chinstrap keep 60% of their shares, far beyond chance in 400.
    const e = judgedAfterHealthy(penguinsPackaged, [labelWindow({ Adelie: 103, Chinstrap: 51, Gentoo: 246 })]);
    expect(e.verdict).toBe('collapsed');
    for (const l of e.statistics.perLabel.filter((l) => l.label !== 'Gentoo')) expect(l.pLow).toBeLessThan(1e-4);
    expect(e.vanishedLabels).toEqual([]);
  });

  it('a label that vanished from a window nothing flagged is not named, and flags nothing', () => {
    // 0 Adelie in 40 (P = 0.57^40 ≈ 2e-10 at its share), but its evidence is well short of h.
    const e = judgeSequence(penguinsPackaged, [labelWindow({ Adelie: 0, Chinstrap: 15, Gentoo: 25 })]).last;
    expect(e.statistics.perLabel[0].pLow).toBeLessThan(1e-9);
    expect(e.verdict).toBe('healthy');
    expect(e.vanishedLabels).toEqual([]);
  });

  it("a window that shows only the package's defect stays known, whatever else it names", () => {
    // The unweighted seattle model never answers fog or drizzle (its defect). This first window has rain at 0 of 25
    // too: named (P ≈ 7e-7 at rain's 43%), but its CUSUM did not cross, so nothing new was found: no page.
    const e = judgeSequence(seattleUnweighted, [labelWindow({ sun: 25 })]).last;
    expect(e.verdict).toBe('partial_collapse');
    expect(e.vanishedLabels).toEqual(['drizzle', 'fog', 'rain']);
    expect(down(e, 'rain')).toBeLessThan(1);
    expect(e.knownDefect).toBe(true);
    const t = advanceIncident(null, { model: seattleUnweighted.name, version: '1', windowStart: 0, evaluation: e }, { newId: () => 'inc' });
    expect(t).toEqual({ incident: null, events: [] });
  });

  it('resolves a collapse on a defective package once its traffic is back, so the next collapse pages again', () => {
    // The unweighted seattle model answers rain and sun as its held-out rows do (fog and drizzle never: every window
    // shows the defect), then collapses onto rain for 30 windows, recovers, and collapses again a day later.
    const settings = detectorSettings(seattleUnweighted, { windowSeconds: 60 });
    const normal = labelWindow({ rain: 4, sun: 6 });
    const collapse = labelWindow({ rain: 10 });
    const traffic = (w: number) => ((w >= 600 && w < 630) || (w >= 2_000 && w < 2_030) ? collapse : normal);
    let state = null as Parameters<typeof judgeWindow>[0];
    let incident: Incident | null = null;
    const events: string[] = [];
    const recovered: boolean[] = [];
    for (let w = 0; w < 2_100; w++) {
      const judged = judgeWindow(state, traffic(w), w * 60, settings);
      state = judged.state;
      if (w >= 700 && w < 2_000) recovered.push(judged.evaluation.knownDefect);
      const t = advanceIncident(incident, { model: seattleUnweighted.name, version: '1', windowStart: w * 60, evaluation: judged.evaluation }, { newId: () => `inc${w}` });
      events.push(...t.events.filter((e) => e !== 'updated').map((e) => `${e}@${w}`));
      incident = t.incident?.status === 'resolved' ? null : t.incident;
    }
    // The recovered traffic is flagged by the defect alone, window after window.
    expect(recovered.every(Boolean)).toBe(true);
    const [opened, resolved, reopened] = events;
    expect(events).toHaveLength(3);
    expect(opened).toMatch(/^opened@6\d\d$/);
    // Resolved three hours (RESOLVE_QUIET_SECONDS) after the traffic came back, not never.
    const at = Number(resolved!.replace('resolved@', ''));
    expect(at).toBeGreaterThanOrEqual(630 + 180);
    expect(at).toBeLessThan(630 + 240);
    expect(reopened).toMatch(/^opened@20\d\d$/);
  });
});

describe('baseline', () => {
  const labels = ['a', 'b'];
  const reference = { counts: [50, 50], source: 'held_out_predictions' as const };
  it('starts as the smoothed package reference', () => {
    const b = baselineOf(initialState(2, 'none'), reference, 'none', 0, 60);
    expect(b.source).toBe('held_out_predictions');
    expect(b.shares).toEqual(smoothedShares([50, 50]));
  });
  it('follows the trailing history, which halves its weight every TRAILING_HALF_LIFE_SECONDS', () => {
    const settings = detectorSettings(modelWith({ a: 50, b: 50 }), { windowSeconds: 3600 });
    const { state } = judgeSequence(modelWith({ a: 50, b: 50 }), [labelWindow({ a: 600, b: 400 })], 3600);
    expect(state!.trailing).toEqual([600, 400]);
    const later = baselineOf(state!, reference, 'none', TRAILING_HALF_LIFE_SECONDS, 3600);
    expect(later.trailingPredictions).toBeCloseTo(500, 9);
    expect(later.source).toBe('trailing');
    expect(settings.labels).toEqual(labels);
  });
  it('compares a seasonal model with the same phase of the previous cycle', () => {
    const day = 86_400;
    const model = { ...modelWith({ a: 50, b: 50 }), monitor: { seasonality: 'daily' as const } };
    // One day of hourly windows: mornings answer a, evenings b.
    const hour = (h: number) => (h < 12 ? labelWindow({ a: 90, b: 10 }) : labelWindow({ a: 10, b: 90 }));
    const { state } = judgeSequence(model, [...Array.from({ length: 24 }, (_, h) => hour(h)), hour(0)], 3600);
    const morning = baselineOf(state!, reference, 'daily', day + 6 * 3600, 3600);
    const evening = baselineOf(state!, reference, 'daily', day + 18 * 3600, 3600);
    expect(SEASONS.daily.bins).toBe(24);
    expect(morning.source).toBe('seasonal');
    // Yesterday's mornings answered 90% a; the package's 50/50 still weighs 100² / (100 + m), m the trailing
    // predictions, which the first day's flagged windows (judged before there was a yesterday) did not teach.
    expect(morning.shares[0]).toBeGreaterThan(0.75);
    expect(evening.shares[0]).toBeLessThan(0.25);
  });
  it('judges a weekly model by the hour of day until the hour of the week has an earlier cycle, then by the hour of the week', () => {
    const day = 86_400;
    const weekly = { ...modelWith({ a: 50, b: 50 }), monitor: { seasonality: 'weekly' as const } };
    // Eight days of hourly windows: mornings answer a, evenings b, but day 5 (a Saturday) answers b all day.
    const hour = (d: number, h: number) => (d === 5 || h >= 12 ? labelWindow({ a: 10, b: 90 }) : labelWindow({ a: 90, b: 10 }));
    const windows = Array.from({ length: 8 * 24 }, (_, i) => hour(Math.floor(i / 24), i % 24));
    const { state } = judgeSequence(weekly, windows, 3600);
    expect(state!.seasonal).toHaveLength(SEASONS.weekly.bins);
    expect(state!.hourOfDay).toHaveLength(SEASONS.daily.bins);
    // Day 1's morning, in the first week: no Monday before it, but yesterday's morning.
    const firstWeek = baselineOf(state!, reference, 'weekly', day + 6 * 3600, 3600);
    expect([firstWeek.phaseKnown, firstWeek.hourOfDayKnown, firstWeek.source]).toEqual([false, true, 'seasonal']);
    expect(firstWeek.shares[0]).toBeGreaterThan(0.75);
    // The next Saturday morning: last Saturday's morning, which answered b; by the hour of day alone it would be a.
    const saturday = baselineOf(state!, reference, 'weekly', 12 * day + 6 * 3600, 3600);
    expect([saturday.phaseKnown, saturday.source]).toEqual([true, 'seasonal']);
    expect(saturday.shares[0]).toBeLessThan(0.25);
    expect(baselineOf(compatibleState(state, 2, 'daily'), reference, 'daily', 12 * day + 6 * 3600, 3600).shares[0]).toBeGreaterThan(0.5);
    // Day-long windows hold every hour of their day: the hour of day cannot stand in.
    expect(baselineOf(state!, reference, 'weekly', day, 86_400).hourOfDayKnown).toBe(false);
  });
  it('records the phase a window was held against, with the cycles and predictions behind it, and says it in the reason', () => {
    const day = 86_400;
    const hour = 3600;
    const monday = 4 * day; // 1970-01-05, a Monday
    const weekly = { ...modelWith({ a: 50, b: 50 }), monitor: { seasonality: 'weekly' as const } };
    const settings = detectorSettings(weekly, { windowSeconds: hour });
    // Weekday mornings answer a 62%, afternoons 50%, Saturdays and Sundays 20%: hourly windows of 100 predictions.
    const usual = (t: number) => {
      if ([0, 6].includes(new Date(t * 1000).getUTCDay())) return labelWindow({ a: 20, b: 80 });
      return (t % day) / hour < 12 ? labelWindow({ a: 62, b: 38 }) : labelWindow({ a: 50, b: 50 });
    };
    let state: MonitorState | null = null;
    const judge = (t: number, w = usual(t)) => {
      const judged = judgeWindow(state, w, t, settings);
      state = judged.state;
      return judged.evaluation;
    };
    // The first hours: no earlier day or week at this hour; the trailing level judges, and the reason says why.
    const first = judge(monday);
    expect(first.baseline).toMatchObject({ source: 'training_labels', phase: null });
    for (let t = monday + hour; t < monday + 10 * hour; t += hour) judge(t);
    const early = judge(monday + 10 * hour, labelWindow({ a: 0, b: 100 }));
    expect(early.verdict).toBe('collapsed');
    expect(early.baseline).toMatchObject({ source: 'trailing', phase: null });
    expect(early.reason).toContain('(against its own recent healthy history; no earlier day or week holds enough predictions at this hour yet)');
    // Tuesday 06:00 in the first week: the hour of day stands in, one earlier day, its hour and the hours either side.
    for (let t = monday + 11 * hour; t < monday + day + 6 * hour; t += hour) judge(t);
    const tuesday = judge(monday + day + 6 * hour);
    expect(tuesday.baseline.source).toBe('seasonal');
    expect(tuesday.baseline.phase).toEqual({ kind: 'hour_of_day', from: monday + day + 5 * hour, to: monday + day + 8 * hour, cycles: 1, predictions: 300 });
    expect(tuesday.reason).toContain(
      'consistent with 05:00–08:00 UTC of the day before, 300 predictions, standing in until earlier weeks hold enough at this hour of the week: top label',
    );
    // Three weeks on, Saturday 14:00: the same hours of the three Saturdays before, which answered b.
    const saturday = monday + 3 * 7 * day + 5 * day + 14 * hour;
    for (let t = monday + day + 7 * hour; t < saturday; t += hour) judge(t);
    const judged = judge(saturday);
    expect(new Date(saturday * 1000).toISOString()).toBe('1970-01-31T14:00:00.000Z');
    expect(judged.baseline.source).toBe('seasonal');
    expect(judged.baseline.phase).toMatchObject({ kind: 'hour_of_week', from: saturday - hour, to: saturday + 2 * hour, cycles: 3 });
    // 300 predictions a Saturday in those hours; the older Saturdays at half the weight of the next: 300·(1 + ½ + ¼).
    expect(judged.baseline.phase!.predictions).toBeCloseTo(525, 6);
    expect(judged.reason).toContain('consistent with Saturdays 13:00–16:00 UTC of the 3 weeks before, 525 predictions: top label b');
    // A collapse onto a at the next hour: the Saturdays fit it worse than the weekday-heavy trailing level, which judges.
    const collapse = judge(saturday + hour, labelWindow({ a: 100, b: 0 }));
    expect(collapse.verdict).toBe('collapsed');
    expect(collapse.baseline).toMatchObject({ source: 'trailing', phase: { kind: 'hour_of_week', cycles: 3 } });
    expect(collapse.reason).toContain(
      '(against its own recent healthy history, which fit these answers better than Saturdays 14:00–17:00 UTC of the 3 weeks before, 525 predictions)',
    );
    // A bin learnt before cycles were counted: how many is unknown, and the words do not guess.
    const stored: MonitorState = { ...state!, seasonal: state!.seasonal!.map(({ seen: _, ...bin }) => bin) };
    const unknown = judgeWindow(stored, usual(saturday + 7 * day), saturday + 7 * day, settings).evaluation;
    expect(unknown.baseline.phase).toMatchObject({ kind: 'hour_of_week', cycles: null });
    expect(unknown.reason).toContain('Saturdays 13:00–16:00 UTC of earlier weeks,');
  });
  it('names a phase that spans midnight by both days, and one that ends at midnight at 24:00', () => {
    const sunday = Date.UTC(1970, 1, 1) / 1000; // 1970-02-01, a Sunday
    const hour = 3600;
    const phase = (kind: 'hour_of_week' | 'hour_of_day' | 'week_of_year', from: number, to: number, cycles: number | null = 2) => ({ kind, from, to, cycles, predictions: 90.4 });
    expect(phaseWords(phase('hour_of_week', sunday + 23 * hour, sunday + 26 * hour), 'weekly')).toBe('Sundays 23:00 to Mondays 02:00 UTC of the 2 weeks before, 90 predictions');
    expect(phaseWords(phase('hour_of_week', sunday + 21 * hour, sunday + 24 * hour, 1), 'weekly')).toBe('Sundays 21:00–24:00 UTC of the week before, 90 predictions');
    expect(phaseWords(phase('hour_of_day', sunday + 23 * hour, sunday + 26 * hour), 'daily')).toBe('23:00–02:00 UTC of the 2 days before, 90 predictions');
    expect(phaseWords(phase('week_of_year', sunday, sunday + 21 * 86_400, null), 'yearly')).toBe('1 Feb – 21 Feb of earlier years, 90 predictions');
  });
  it("starts a new version with the seasons its model's earlier version learnt, when the labels are the same", () => {
    const day = 86_400;
    const model = { ...modelWith({ a: 50, b: 50 }), monitor: { seasonality: 'weekly' as const } };
    // Two days of hourly windows: mornings answer a 65%, evenings 35%.
    const hour = (h: number) => (h < 12 ? labelWindow({ a: 65, b: 35 }) : labelWindow({ a: 35, b: 65 }));
    const { state: earlier } = judgeSequence(model, Array.from({ length: 48 }, (_, h) => hour(h % 24)), 3600);
    expect(earlier!.labels).toEqual(['a', 'b']);
    const inherited = inheritedState(earlier, ['a', 'b'], 'weekly')!;
    // The seasons, and nothing else: no trailing level, no evidence, no window judged yet.
    expect(inherited.hourOfDay).toBe(earlier!.hourOfDay);
    expect(inherited.seasonal).toBe(earlier!.seasonal);
    expect([inherited.trailing, inherited.up, inherited.down, inherited.lastWindowStart, inherited.excessWeight]).toEqual([[0, 0], [0, 0], [0, 0], null, 0]);
    // Its first morning is judged by the earlier version's mornings.
    const morning = baselineOf(inherited, reference, 'weekly', 2 * day + 6 * 3600, 3600, [65, 35]);
    expect(morning.source).toBe('seasonal');
    expect(morning.shares[0]).toBeGreaterThan(0.6);
    // So the same traffic on the new version's first day is not flagged; a fresh state flags its evenings.
    const settings = detectorSettings(model, { windowSeconds: 3600 });
    const firstDay = (start: MonitorState | null) => {
      let state = start;
      let flagged = 0;
      for (let h = 0; h < 24; h++) {
        const judged = judgeWindow(state, hour(h), 2 * day + h * 3600, settings);
        state = judged.state;
        if (judged.evaluation.verdict === 'collapsed' || judged.evaluation.verdict === 'partial_collapse') flagged++;
      }
      return flagged;
    };
    expect(firstDay(inherited)).toBe(0);
    expect(firstDay(null)).toBeGreaterThan(0);
    // Other labels, or the same in another order, or no season: nothing to inherit.
    expect(inheritedState(earlier, ['b', 'a'], 'weekly')).toBeNull();
    expect(inheritedState(earlier, ['a', 'b', 'c'], 'weekly')).toBeNull();
    expect(inheritedState(earlier, ['a', 'b'], 'none')).toBeNull();
    const { labels: _, ...stored } = earlier!;
    expect(inheritedState(stored, ['a', 'b'], 'weekly')).toBeNull();
  });
  it('keeps the hours of day it knows when a model changes between daily and weekly', () => {
    const day = 86_400;
    const daily = { ...modelWith({ a: 50, b: 50 }), monitor: { seasonality: 'daily' as const } };
    const hour = (h: number) => (h < 12 ? labelWindow({ a: 90, b: 10 }) : labelWindow({ a: 10, b: 90 }));
    const { state } = judgeSequence(daily, Array.from({ length: 25 }, (_, h) => hour(h % 24)), 3600);
    const weekly = compatibleState(state, 2, 'weekly');
    expect(weekly.hourOfDay).toBe(state!.seasonal);
    expect(weekly.seasonal).toHaveLength(SEASONS.weekly.bins);
    expect(weekly.seasonal!.every((phase) => phase.cycle === -1)).toBe(true);
    expect(baselineOf(weekly, reference, 'weekly', day + 6 * 3600, 3600).shares[0]).toBeGreaterThan(0.75);
    const back = compatibleState(weekly, 2, 'daily');
    expect(back.seasonal).toBe(state!.seasonal);
    expect(back.hourOfDay).toBeUndefined();
    expect(compatibleState(weekly, 2, 'none')).toMatchObject({ seasonal: null, trailing: state!.trailing });
    expect(compatibleState(weekly, 2, 'none').hourOfDay).toBeUndefined();
    // A weekly state stored before the hours were kept gains empty ones, its weeks untouched.
    const { hourOfDay: _, ...stored } = weekly;
    const upgraded = compatibleState(stored, 2, 'weekly');
    expect(upgraded.seasonal).toBe(weekly.seasonal);
    expect(upgraded.hourOfDay!.every((phase) => phase.cycle === -1)).toBe(true);
  });
  it('uses a phase of the previous cycle once it holds SEASONAL_MIN_PREDICTIONS, however thin the traffic', () => {
    const day = 86_400;
    const model = { ...modelWith({ a: 50, b: 50 }), monitor: { seasonality: 'daily' as const } };
    // Ten predictions an hour: the phase of 06:00 (05:00–07:00 with its neighbours) holds 30 after one day, 27 if
    // its hours had nine.
    const thin = (perHour: number) =>
      judgeSequence(model, [...Array.from({ length: 24 }, (_, h) => labelWindow(h < 12 ? { a: perHour, b: 0 } : { a: 0, b: perHour })), labelWindow({ a: 1, b: 1 })], 3600).state!;
    expect(SEASONAL_MIN_PREDICTIONS).toBe(30);
    const morning = baselineOf(thin(10), reference, 'daily', day + 6 * 3600, 3600);
    expect(morning.source).toBe('seasonal');
    expect(morning.shares[0]).toBeGreaterThan(0.5);
    expect(baselineOf(thin(9), reference, 'daily', day + 6 * 3600, 3600).source).toBe('trailing');
  });
  it('judges by the hour of the week unless told otherwise, and never by a cycle a window already spans', () => {
    const model = modelWith({ a: 50, b: 50 });
    expect(DEFAULT_SEASONALITY).toBe('weekly');
    expect(detectorSettings(model, { windowSeconds: 60 }).seasonality).toBe('weekly');
    expect(detectorSettings(model, { windowSeconds: 86_400 }).seasonality).toBe('weekly');
    // A week-long window holds a whole week: no hour of it to compare with.
    expect(detectorSettings(model, { windowSeconds: 7 * 86_400 }).seasonality).toBe('none');
    // A day-long window holds a whole day.
    expect(detectorSettings(model, { windowSeconds: 86_400, seasonality: 'daily' }).seasonality).toBe('none');
    expect(detectorSettings(model, { windowSeconds: 30 * 86_400, seasonality: 'yearly' }).seasonality).toBe('yearly');
    // Declared none, by the deployment or the package, it is none.
    expect(detectorSettings(model, { windowSeconds: 60, seasonality: 'none' }).seasonality).toBe('none');
    expect(detectorSettings({ ...model, monitor: { seasonality: 'none' } }, { windowSeconds: 60, seasonality: 'daily' }).seasonality).toBe('none');
    expect(seasonalityFor('weekly', 7 * 86_400)).toBe('none');
  });

  it('keeps a state learnt under another seasonality, all but its seasonal profile: a new default does not forget the model', () => {
    const model = modelWith({ a: 50, b: 50 });
    const { state } = judgeSequence({ ...model, monitor: { seasonality: 'none' } }, Array.from({ length: 20 }, () => labelWindow({ a: 60, b: 40 })));
    expect(state!.seasonal).toBeNull();
    const daily = compatibleState(state, 2, 'daily');
    expect(daily.trailing).toBe(state!.trailing);
    expect(daily.excessWeight).toBe(state!.excessWeight);
    expect(daily.seasonal).toHaveLength(24);
    expect(compatibleState(daily, 2, 'none').seasonal).toBeNull();
    // Other labels: nothing fits.
    expect(compatibleState(state, 3, 'daily').trailing).toEqual([0, 0, 0]);
  });

  it("learns a flagged window into the season only when the season did not judge it: a day's collapse is not the next day's normal", () => {
    const model = { ...modelWith({ a: 50, b: 50 }), monitor: { seasonality: 'daily' as const } };
    const hours = (days: number, counts: Record<string, number>) => Array.from({ length: 24 * days }, () => labelWindow(counts));
    // Three healthy days, then a day collapsed onto a, then the traffic is back.
    const { evaluations } = judgeSequence(model, [...hours(3, { a: 50, b: 50 }), ...hours(1, { a: 100, b: 0 }), ...hours(1, { a: 50, b: 50 })], 3600);
    const day = (d: number) => evaluations.slice(24 * d, 24 * (d + 1));
    expect(day(3).every((e) => e.verdict === 'collapsed' && e.baseline.source === 'seasonal')).toBe(true);
    // Learnt, the collapsed day made up most of yesterday's phases, and the recovery was judged a collapse onto b.
    expect(day(4).map((e) => e.verdict).filter((v) => v === 'collapsed' || v === 'partial_collapse')).toEqual([]);
    // A first cycle's flagged windows, judged against the trailing level (no earlier cycle yet), are the season's own:
    // the night's mix that alarmed on the first day is known on the second.
    const cycle = Array.from({ length: 48 }, (_, h) => {
      const a = Math.round(100 * (0.5 + 0.45 * Math.cos((2 * Math.PI * h) / 24)));
      return labelWindow({ a, b: 100 - a });
    });
    const first = judgeSequence(model, cycle, 3600).evaluations;
    expect(first.slice(0, 24).some((e) => e.verdict === 'collapsed' && e.baseline.source === 'trailing')).toBe(true);
    // From the second hour of the second day (its first window still carries the first day's evidence) nothing flags.
    expect(first.slice(25).filter((e) => e.verdict === 'collapsed' || e.verdict === 'partial_collapse')).toEqual([]);
  });

  it("judges by a season only where it explains the window at least as well as the trailing level: a first day's collapse is not every day's", () => {
    const model = { ...modelWith({ a: 50, b: 50 }), monitor: { seasonality: 'daily' as const } };
    // A fresh version (or a rebaseline, or the deploy that made daily the default: each empties the profile)
    // collapses onto a for its first six hours; then the traffic is healthy for ten days.
    const windows = [...Array.from({ length: 6 }, () => labelWindow({ a: 100, b: 0 })), ...Array.from({ length: 24 * 10 }, () => labelWindow({ a: 50, b: 50 }))];
    const { evaluations } = judgeSequence(model, windows, 3600);
    const opened: number[] = [];
    let incident: Incident | null = null;
    evaluations.forEach((evaluation, i) => {
      const t = advanceIncident(incident, { model: 'm', version: '1', windowStart: i * 3600, evaluation }, { newId: () => `inc-${i}` });
      if (t.events.includes('opened')) opened.push(i);
      incident = t.incident && t.incident.status !== 'resolved' ? t.incident : null;
    });
    // The collapse pages once. Learnt into the profile (its hours had no earlier cycle), it would have judged the
    // healthy hours 0–5 of every later day a collapse onto b: judged against the trailing level, which explains
    // them better, they are healthy, and they teach the profile.
    expect(opened).toEqual([0]);
    expect(evaluations.slice(24).filter((e) => e.verdict === 'collapsed' || e.verdict === 'partial_collapse')).toEqual([]);
  });

  it('keeps each half-life at least a few windows long, so month-long windows still learn from the model', () => {
    // Windows of a day or less: the half-lives in seconds.
    for (const w of [60, 3600, 86_400]) expect(halfLives(w)).toEqual({ trailing: 3 * 86_400, dispersion: 30 * 86_400 });
    // 30-day windows: three windows for the trailing level, twenty for the scatter.
    expect(halfLives(30 * 86_400)).toEqual({ trailing: 90 * 86_400, dispersion: 600 * 86_400 });
    // Before, the trailing history of one 30-day window had decayed to 0.03 predictions when the next one came, and
    // every window was judged against the package's held-out answers, never against the model's own traffic.
    const month = 30 * 86_400;
    const model = modelWith({ a: 50, b: 50 });
    const { state, evaluations } = judgeSequence(model, [labelWindow({ a: 20, b: 10 }), labelWindow({ a: 20, b: 10 }), labelWindow({ a: 20, b: 10 })], month);
    expect(evaluations[1]!.baseline.source).toBe('trailing');
    const next = baselineOf(state!, reference, 'none', 3 * month, month);
    expect(next.trailingPredictions).toBeCloseTo(30 * (1 + 0.5 ** (1 / 3) + 0.5 ** (2 / 3)) * 0.5 ** (1 / 3), 6);
    expect(next.shares[0]).toBeGreaterThan(0.55); // the package says 0.5; the package prior still weighs about as much
    // And the scatter between windows is learnt from them: the estimate's weight is theirs, not the prior's alone.
    expect(state!.excessWeight).toBeGreaterThan(1);
  });
});

describe('the recent inputs the diagnosis measures a move from', () => {
  const model = modelWith({ a: 50, b: 50 });
  const features = model.features.map((f) => f.name);
  /** n predictions, half a and half b (or all `only`), whose rows are f0 = level ± 1 and f1 = −level ± 1. */
  const rowsAt = (level: number, n: number, only?: string) =>
    windowOf(
      Array.from({ length: n }, (_, i) => [level + (i % 2 ? 1 : -1), -level + (i % 2 ? -1 : 1)]),
      Array.from({ length: n }, (_, i) => only ?? (i % 2 ? 'a' : 'b')),
      model,
    );

  it('keeps the inputs of healthy windows, decayed as the trailing counts are, and not those of a flagged one', () => {
    const healthy = Array.from({ length: 10 }, () => rowsAt(0.5, 60));
    const { state, evaluations } = judgeSequence(model, [...healthy, rowsAt(2.5, 300, 'a')]);
    expect(evaluations.slice(0, 10).map((e) => e.verdict)).not.toContain('collapsed');
    expect(evaluations.at(-1)!.verdict).toBe('collapsed');
    const recent = recentInputs(state, features);
    // Ten windows of 60 rows a minute apart, each older one kept at 0.5^(60 s / 3 days); the flagged window's 300
    // rows at 2.5 are not among them.
    const keep = 0.5 ** (60 / TRAILING_HALF_LIFE_SECONDS);
    expect(recent.f0!.rows).toBeCloseTo((60 * (1 - keep ** 10)) / (1 - keep), 6);
    expect(recent.f0!.mean).toBeCloseTo(0.5, 9);
    expect(recent.f0!.std).toBeCloseTo(1, 9);
    expect(recent.f1!.mean).toBeCloseTo(-0.5, 9);
    // A window that carries label counts alone (the state of a caller without feature moments) keeps them as they were.
    const labelsOnly = judgeWindow(state, labelWindow({ a: 30, b: 30 }), 11 * 60, detectorSettings(model, { windowSeconds: 60 })).state;
    expect(recentInputs(labelsOnly, features).f0!.mean).toBeCloseTo(0.5, 9);
    // None kept yet, or a feature list of another length: nothing to measure from.
    expect(recentInputs(initialState(2, 'none'), features)).toEqual({});
    expect(recentInputs(state, ['f0'])).toEqual({});
  });

  it('become the adopted windows\' inputs when traffic is declared normal, and are forgotten when none are given', () => {
    const { state } = judgeSequence(model, Array.from({ length: 5 }, () => rowsAt(0.5, 60)));
    // 100 rows of f0 = 3 exactly and f1 = 1: rows, Σx, Σx² per feature.
    const adopted = rebaseline(state!, [50, 50], [100, 300, 900, 100, 100, 100]);
    expect(recentInputs(adopted, features)).toEqual({ f0: { rows: 100, mean: 3, std: 0 }, f1: { rows: 100, mean: 1, std: 0 } });
    expect(recentInputs(rebaseline(state!, [50, 50]), features)).toEqual({});
    // No traffic to adopt: only the evidence restarts, the inputs stay.
    expect(recentInputs(rebaseline(state!, [0, 0]), features).f0!.mean).toBeCloseTo(0.5, 9);
  });
});

describe('rebaseline: traffic declared normal', () => {
  // The real penguins package; its answers move to Gentoo alone (a new island) and stay there.
  const settings = detectorSettings(penguinsPackaged, { windowSeconds: 60 });
  const gentoo = labelWindow({ Gentoo: 60 });
  const judgeFrom = (state: MonitorState, from: number, windows: number) => {
    const verdicts: string[] = [];
    for (let i = 0; i < windows; i++) {
      const judged = judgeWindow(state, gentoo, (from + i) * 60, settings);
      verdicts.push(judged.evaluation.verdict);
      state = judged.state;
    }
    return { verdicts, state };
  };
  const healthyHistory = judgeSequence(penguinsPackaged, Array.from({ length: 30 }, () => windowAt(penguinsPackaged.labels, sharesOf(penguinsPackaged), 60))).state!;
  const incident = judgeFrom(healthyHistory, 30, 3);

  it('without it, the traffic stays flagged: a flagged window never teaches the baseline', () => {
    expect(incident.verdicts).toEqual(['collapsed', 'collapsed', 'collapsed']);
    expect(judgeFrom(incident.state, 33, 20).verdicts.every((v) => v === 'collapsed')).toBe(true);
  });

  it('with it, the adopted traffic is the baseline and its prior: twenty more windows of it flag nothing', () => {
    const adopted = rebaseline(incident.state, [0, 0, 180]);
    expect(adopted.trailing).toEqual([0, 0, 180]);
    expect(adopted.adopted).toEqual([0, 0, 180]);
    expect([...adopted.up, ...adopted.total, ...adopted.down]).toEqual(new Array(9).fill(0));
    // The scatter was learnt in shares at the old mix: it restarts from its prior, as does the daily profile (the
    // default seasonality), whose earlier cycles are the old traffic.
    expect(incident.state.excessWeight).toBeGreaterThan(0);
    expect(adopted.excess).toEqual([0, 0, 0]);
    expect(adopted.excessWeight).toBe(0);
    expect(incident.state.seasonal!.some((phase) => phase.cycle >= 0)).toBe(true);
    expect(adopted.seasonal!.every((phase) => phase.cycle === -1)).toBe(true);
    expect(adopted.learnedAt).toBe(incident.state.lastWindowStart);
    const after = judgeFrom(adopted, 33, 20);
    expect(after.verdicts.filter((v) => v === 'collapsed' || v === 'partial_collapse')).toEqual([]);
    // Decided, not left undecided for ever: Gentoo holds nearly all of the baseline, so no collapse onto it is left to
    // show, and the windows are judged on the collapses that can still be seen; the reason says which cannot.
    // (drift: decided and healthy, though far from the package's held-out answers)
    expect(['healthy', 'drift']).toContain(after.verdicts.at(-1));
    const last = judgeWindow(after.state, gentoo, 53 * 60, settings).evaluation;
    expect(last.reason, last.reason).toMatch(/A collapse onto Gentoo \(normal 99.9%\) could not be told from chance here\.$/);
    expect(last.requiredPredictions).toBeLessThan(60);
    expect(baselineOf(after.state, packageReference(penguinsPackaged), 'none', 53 * 60, 60).shares[2]).toBeGreaterThan(0.98);
  });

  it('adopts the traffic as it is now: the newest windows back to REBASELINE_PREDICTIONS, not the first one where it was still moving', () => {
    expect(REBASELINE_PREDICTIONS).toBe(100);
    // The real run: the incident's first window was 81% Gentoo, the next 100%.
    expect(rebaselineFrom([{ start: 30, n: 500 }, { start: 20, n: 460 }], 20)).toBe(30);
    // Thin windows: back as far as it takes, but never into the first window while later ones have traffic.
    const thin = [40, 30, 20, 10].map((start) => ({ start, n: 30 }));
    expect(rebaselineFrom(thin, 10)).toBe(20);
    expect(rebaselineFrom(thin.slice(0, 2), 0)).toBe(30);
    expect(rebaselineFrom([...thin, { start: 0, n: 30 }], 0)).toBe(10);
    // The first window alone: it is all there is.
    expect(rebaselineFrom([{ start: 20, n: 50 }, { start: 30, n: 0 }], 20)).toBe(20);
    expect(rebaselineFrom([], 20)).toBeNull();
    expect(rebaselineFrom([{ start: 20, n: 0 }], 20)).toBeNull();
  });

  it('decides the windows after it even when the old traffic scattered: the scatter, learnt at the old mix, restarts', () => {
    // Healthy windows that scatter ±10 points around the penguin mix teach a scatter in shares of the old mix.
    const scattered = Array.from({ length: 60 }, (_, i) => labelWindow(i % 2 ? { Adelie: 58, Chinstrap: 12, Gentoo: 30 } : { Adelie: 28, Chinstrap: 30, Gentoo: 42 }));
    const history = judgeSequence(penguinsPackaged, scattered).state!;
    expect(Math.min(...history.excess)).toBeGreaterThan(0);
    const shifted = judgeFrom(history, 60, 3);
    expect(shifted.verdicts).toContain('collapsed');
    const after = judgeFrom(rebaseline(shifted.state, [0, 0, 180]), 63, 10);
    // Kept, that scatter (points, around shares now of tenths of a percent) left every later window undecided.
    expect(after.verdicts.slice(1).filter((v) => v !== 'healthy' && v !== 'drift')).toEqual([]);
  });

  it('restarts the seasonal profile of a model with a declared season: its earlier cycles are the old traffic', () => {
    const model = { ...modelWith({ a: 50, b: 50 }), monitor: { seasonality: 'daily' as const } };
    const reference = { counts: [50, 50], source: 'held_out_predictions' as const };
    // A day of hourly windows answering a, then the traffic moves to b and is declared normal.
    const { state } = judgeSequence(model, [...Array.from({ length: 24 }, () => labelWindow({ a: 60, b: 40 })), labelWindow({ a: 30, b: 30 })], 3600);
    const nextMorning = 86_400 + 6 * 3600;
    expect(baselineOf(state!, reference, 'daily', nextMorning, 3600).source).toBe('seasonal');
    const adopted = rebaseline(state!, [0, 100]);
    const after = baselineOf(adopted, reference, 'daily', nextMorning, 3600);
    // Kept, yesterday's mornings (60% a) would judge the adopted traffic (all b) for a whole cycle.
    expect(after.source).toBe('trailing');
    expect(after.shares[1]).toBeGreaterThan(0.98);
  });

  it("keeps the package's reference out of the prior once traffic is adopted, and only restarts the evidence when there is none", () => {
    const adopted = rebaseline(incident.state, [0, 0, 180]);
    // With the package as the prior (Gentoo 36%), 180 Gentoo answers give a baseline share of about 0.9.
    const withPackage = baselineOf({ ...adopted, adopted: undefined }, packageReference(penguinsPackaged), 'none', 33 * 60, 60);
    const withAdopted = baselineOf(adopted, packageReference(penguinsPackaged), 'none', 33 * 60, 60);
    expect(withPackage.shares[2]).toBeLessThan(0.92);
    expect(withAdopted.shares[2]).toBeGreaterThan(0.99);
    const nothing = rebaseline(incident.state, [0, 0, 0]);
    expect(nothing.trailing).toEqual(incident.state.trailing);
    expect(nothing.adopted).toBeUndefined();
    expect(Math.max(...nothing.up, ...nothing.total, ...nothing.down)).toBe(0);
  });
});
