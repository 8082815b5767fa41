import { describe, expect, it } from 'vitest';
import type { ModelMetadata } from '../../src/serving/metadata';
import { diagnose, type Diagnosis, MIN_FEATURE_ROWS, summarizeProbes } from '../../src/monitor/diagnosis';
import { nameRecord } from '../../src/monitor/names';
import { advanceIncident, type Evaluation, type EvaluatedWindow, explain, type ProbeResult } from '../../src/monitor/index';
import { balancedClassWeights, remedies, type Remedy } from '../../src/monitor/remedies';
import { featureMeanStd, inputMoments, type WindowCounts } from '../../src/monitor/window';
import { recentInputs, rebaseline, type Seasonality } from '../../src/monitor/baseline';
import { SECONDS_PER_YEAR } from '../../src/monitor/sequential';
import { detectorSettings, evaluateWindow, judgeWindow } from '../../src/monitor/detector';
import {
  answersOf,
  labelWindow,
  modelWith,
  momentsOf,
  SEATTLE_PROBE_ANSWERS,
  SEATTLE_UNWEIGHTED_PROBE_ANSWERS,
  seattleRows,
  seattleWeather,
  penguinRows,
  penguins,
  penguinsUnscaled,
  seattleUnweighted,
  standardize,
  windowOf,
  judgedAfterHealthy,
  judgeSequence,
} from './monitor.fixtures';

/** The window length the fixtures judge with (judgeSequence, evaluateWindow): what the remedies are told. */
const WINDOW = 60;
// Every fourth real penguin: a held-out sample with all three species in their natural proportions.
const heldOut = penguinRows().filter((_, i) => i % 4 === 0);
const allAs = (label: string) => heldOut.map(() => label);
const kinds = (ds: Diagnosis[]) => ds.map((d) => d.kind);
/**
 * A window of a model with no history judged as the cron judges it (src/evaluate.ts evaluateOne): the verdict,
 * the model's probe answers only when that verdict is flagged (the cron runs the probes only then), then explain().
 */
function assessWindow({ counts, metadata, probe }: { counts: WindowCounts; metadata: ModelMetadata; probe?: ProbeResult }) {
  const evaluation = evaluateWindow(counts, metadata);
  const flagged = evaluation.verdict === 'collapsed' || evaluation.verdict === 'partial_collapse';
  return { evaluation, ...explain(evaluation, counts, metadata, WINDOW, flagged ? probe : undefined) };
}
const remedy = <K extends Remedy['kind']>(rs: Remedy[], kind: K) => rs.find((r) => r.kind === kind) as Extract<Remedy, { kind: K }>;

describe('diagnose: inputs', () => {
  it('preprocessing_lost_variance: the standardized penguins model fed all-zero rows', () => {
    const counts = windowOf(
      heldOut.map(() => [0, 0, 0, 0]),
      allAs('Chinstrap'),
      penguins,
    );
    const { evaluation, diagnoses, remedies: rs } = assessWindow({ counts, metadata: penguins });
    expect(evaluation.verdict).toBe('collapsed');
    expect(kinds(diagnoses)).toEqual(['preprocessing_lost_variance']); // zeros sit at the mean: no scaler finding
    const d = diagnoses[0] as Extract<Diagnosis, { kind: 'preprocessing_lost_variance' }>;
    expect(d.evidence.zeroRowShare).toBe(1);
    expect(d.evidence.features.map((f) => f.stdRatio)).toEqual([0, 0, 0, 0]);
    expect(d.confidence).toBeGreaterThanOrEqual(0.9);
    const fix = remedy(rs, 'fix_preprocessing');
    expect(fix.features[3]).toEqual({ name: 'body_mass_g', expectedMean: 0, expectedStd: 1, observedMean: 0, observedStd: 0 });
  });

  it('preprocessing_lost_variance: one feature stuck at a constant, inputs otherwise fine', () => {
    const rows = heldOut.map((r) => {
      const x = standardize(r.raw);
      x[2] = 0.3; // flipper length replaced by a constant upstream
      return x;
    });
    const counts = windowOf(rows, heldOut.map((r) => r.species), penguins);
    const diagnoses = diagnose(counts, evaluateWindow(counts, penguins), penguins);
    expect(kinds(diagnoses)).toEqual(['preprocessing_lost_variance']);
    const d = diagnoses[0] as Extract<Diagnosis, { kind: 'preprocessing_lost_variance' }>;
    expect(d.evidence.features.map((f) => f.name)).toEqual(['flipper_length_mm']);
    expect(d.evidence.zeroRowShare).toBe(0);
  });

  it('scaler_missing: the standardized penguins model fed raw rows, with the raw scaler as remedy', () => {
    const counts = windowOf(heldOut.map((r) => r.raw), allAs('Gentoo'), penguins);
    const probe = { predictedLabels: penguins.probes.map((p) => p.label) }; // the model itself is fine
    const { diagnoses, remedies: rs } = assessWindow({ counts, metadata: penguins, probe });
    expect(kinds(diagnoses)).toEqual(['scaler_missing']);
    const d = diagnoses[0] as Extract<Diagnosis, { kind: 'scaler_missing' }>;
    expect(d.evidence.cause).toBe('inputs_unscaled');
    if (d.evidence.cause !== 'inputs_unscaled') return;
    expect(d.evidence.matchesRawScaler).toBe(true);
    expect(d.evidence.features).toHaveLength(4);
    expect(d.confidence).toBeGreaterThanOrEqual(0.9);
    const scaler = remedy(rs, 'scaler');
    expect(scaler.where).toBe('inputs');
    expect(scaler.features).toEqual(penguins.features.map((f) => ({ name: f.name, mean: f.raw!.mean, std: f.raw!.std })));
  });

  it('asserts no cause on a window the baseline explains, though diagnose() sees the unscaled inputs', () => {
    const rows = heldOut.slice(0, 8);
    const counts = windowOf(rows.map((r) => r.raw), rows.map((r) => r.species), penguins);
    const { evaluation, diagnoses, remedies: rs } = assessWindow({ counts, metadata: penguins });
    expect(evaluation.verdict).toBe('insufficient_data');
    expect(diagnoses).toEqual([]);
    expect(rs).toEqual([]);
    // The input check itself still works; it is only not asserted where there is nothing to explain.
    expect(kinds(diagnose(counts, evaluation, penguins))).toEqual(['scaler_missing']);
  });

  it('finds nothing on healthy standardized traffic', () => {
    const counts = windowOf(heldOut.map((r) => standardize(r.raw)), heldOut.map((r) => r.species), penguins);
    const { evaluation, diagnoses, remedies: rs } = assessWindow({ counts, metadata: penguins });
    expect(evaluation.verdict).toBe('healthy');
    expect(diagnoses).toEqual([]);
    expect(rs).toEqual([]);
  });

  it('has nothing to say about a window without traffic', () => {
    const counts = labelWindow({});
    expect(diagnose(counts, evaluateWindow(counts, penguins), penguins)).toEqual([]);
  });
});

describe('diagnose: the model', () => {
  it('scaler_missing (trained unscaled) and degenerate_model: penguins trained on raw features', () => {
    const counts = windowOf(heldOut.map((r) => r.raw), allAs('Adelie'), penguinsUnscaled);
    const probe = { predictedLabels: penguinsUnscaled.probes.map(() => 'Adelie') };
    const { evaluation, diagnoses, remedies: rs } = assessWindow({ counts, metadata: penguinsUnscaled, probe });
    expect(evaluation.verdict).toBe('collapsed');
    expect(kinds(diagnoses)).toEqual(['scaler_missing', 'degenerate_model']);
    const scaler = diagnoses[0] as Extract<Diagnosis, { kind: 'scaler_missing' }>;
    expect(scaler.evidence.cause).toBe('trained_unscaled');
    if (scaler.evidence.cause !== 'trained_unscaled') return;
    // √(4194.92² + 825.81²) / √(17.108² + 1.945²) = 4275.4 / 17.218 ≈ 248
    expect(scaler.evidence.scaleSpread).toBeCloseTo(248, 0);
    expect(scaler.evidence.largest.name).toBe('body_mass_g');
    expect(diagnoses[1].confidence).toBeLessThan(scaler.confidence); // the scale explains the degeneracy better
    const remedyScaler = remedy(rs, 'scaler');
    expect(remedyScaler.where).toBe('training');
    expect(remedyScaler.features.find((f) => f.name === 'body_mass_g')).toEqual({
      name: 'body_mass_g',
      mean: 4194.921875,
      std: 825.8096132487102,
    });
    expect(remedy(rs, 'learning_rate')).toMatchObject({ current: 0.01, suggested: 0.001 });
    expect(remedy(rs, 'capacity')).toMatchObject({ currentHiddenUnits: 16, suggestedHiddenUnits: 32 });
  });

  it('scaler_missing (trained unscaled) with less confidence when no probes were run', () => {
    const counts = windowOf(heldOut.map((r) => r.raw), allAs('Adelie'), penguinsUnscaled);
    const diagnoses = diagnose(counts, evaluateWindow(counts, penguinsUnscaled), penguinsUnscaled);
    expect(kinds(diagnoses)).toEqual(['scaler_missing']);
    expect(diagnoses[0].confidence).toBe(0.5);
  });

  it('class_imbalance: seattle weather losing fog and drizzle, with balanced class weights as remedy', () => {
    const counts = labelWindow({ rain: 150, sun: 140, snow: 2 }, seattleUnweighted);
    // Probes of fog and drizzle answered rain: the imbalance signature, not a degenerate model.
    const probe = { predictedLabels: seattleUnweighted.probes.map((p) => (p.label === 'snow' || p.label === 'sun' ? p.label : 'rain')) };
    const evaluation = judgedAfterHealthy(seattleUnweighted, [counts, counts]);
    const { diagnoses, remedies: rs } = explain(evaluation, counts, seattleUnweighted, WINDOW, probe);
    expect(evaluation.verdict).toBe('partial_collapse');
    expect(evaluation.vanishedLabels).toContain('fog');
    expect(kinds(diagnoses)).toEqual(['class_imbalance']);
    const d = diagnoses[0] as Extract<Diagnosis, { kind: 'class_imbalance' }>;
    expect(d.evidence.imbalanceRatio).toBeCloseTo(513 / 21, 1);
    expect(d.evidence.classWeightUsed).toBe(false);
    expect(d.evidence.inputsLookLikeTraining).toBe(true);
    // n / (k · n_c) by hand: 1169 / (5 · 42) = 5.56667, 1169 / 405 = 2.88642, 1169 / 2565 = 0.45575,
    // 1169 / 105 = 11.13333, 1169 / 2560 = 0.45664.
    expect(remedy(rs, 'class_weight').weights).toEqual({ drizzle: 5.5667, fog: 2.8864, rain: 0.4558, snow: 11.1333, sun: 0.4566 });
    expect(remedy(rs, 'resample')).toMatchObject({ targetPerLabel: 513, addPerLabel: { drizzle: 471, fog: 432, rain: 0, snow: 492, sun: 1 } });
  });

  it('class_imbalance is less likely when class weights were already used', () => {
    const weighted = { ...seattleUnweighted, training: { ...seattleUnweighted.training, class_weight: { drizzle: 5.6, fog: 2.9, rain: 0.46, snow: 11.1, sun: 0.46 } } };
    const counts = labelWindow({ rain: 150, sun: 140, snow: 2 }, weighted);
    const plain = diagnose(counts, judgedAfterHealthy(seattleUnweighted, [counts, counts]), seattleUnweighted)[0];
    const withWeights = diagnose(counts, judgedAfterHealthy(weighted, [counts, counts]), weighted)[0];
    expect(withWeights.kind).toBe('class_imbalance');
    expect(withWeights.confidence).toBeCloseTo(plain.confidence * 0.4, 2);
  });

  it('no class_imbalance when the training counts are balanced enough (penguins, 113:51)', () => {
    const counts = labelWindow({ Adelie: 86 }, penguins);
    expect(kinds(diagnose(counts, evaluateWindow(counts, penguins), penguins))).not.toContain('class_imbalance');
  });

  it('insufficient_data: a vanished label with fewer than 10 training rows per feature, and what to collect', () => {
    const model = modelWith({ common: 300, scarce: 35, other: 200 }, {}, 4); // scarce needs 40
    const counts = labelWindow({ common: 600, other: 400 }, model);
    const evaluation = judgedAfterHealthy(model, [counts]);
    expect(evaluation.vanishedLabels).toEqual(['scarce']);
    const { diagnoses, remedies: rs } = explain(evaluation, counts, model, WINDOW);
    const d = diagnoses.find((x) => x.kind === 'insufficient_data') as Extract<Diagnosis, { kind: 'insufficient_data' }>;
    expect(d.evidence).toMatchObject({ features: 4, requiredPerLabel: 40, shortLabels: [{ label: 'scarce', count: 35 }] });
    expect(remedy(rs, 'collect_data')).toMatchObject({ labels: ['scarce'], targetPerLabel: 40, missingPerLabel: { scarce: 5 } });
    expect(remedy(rs, 'augment')).toMatchObject({ labels: ['scarce'], method: 'smote', targetPerLabel: 40 });
  });

  it('degenerate_model: a well-fed, balanced model that answers one label on its own probes', () => {
    const model = modelWith({ a: 100, b: 100, c: 100 }, { training: { samples: 300, label_counts: { a: 100, b: 100, c: 100 }, learning_rate: 0.05 } });
    const counts = labelWindow({ b: 200 }, model);
    const probe = { predictedLabels: model.probes.map(() => 'b') };
    const { diagnoses, remedies: rs } = assessWindow({ counts, metadata: model, probe });
    expect(kinds(diagnoses)).toEqual(['degenerate_model']);
    const d = diagnoses[0] as Extract<Diagnosis, { kind: 'degenerate_model' }>;
    expect(d.evidence).toMatchObject({ probes: 9, trueLabels: 3, predictedLabels: 1, predictedCounts: { b: 9 } });
    expect(d.evidence.accuracy).toBeCloseTo(1 / 3, 12);
    expect(remedy(rs, 'learning_rate')).toMatchObject({ current: 0.05, suggested: 0.005 });
    expect(remedy(rs, 'capacity')).toMatchObject({ currentHiddenUnits: null, suggestedHiddenUnits: 32 });
  });
});

// The healthy seattle-weather model in its own seasons: the 124 real January (or July) days of 2012–2015, standardized
// as the model expects, answered as the packaged model answers them (its January answers: drizzle 27, fog 27, rain
// 40, snow 23, sun 7; July: drizzle 7, fog 6, rain 8, sun 103; scripts/lib/seattle.ts predictDays), after a healthy
// history at its reference mix. Moments by hand (Python over the same CSV rows): January temp_max mean −1.11175 std
// 0.45408, temp_min −1.09873 / 0.68542, precipitation +0.09455 / 0.96137, wind −0.08266 / 1.2557.
const JANUARY = { drizzle: 27, fog: 27, rain: 40, snow: 23, sun: 7 };
const JULY = { drizzle: 7, fog: 6, rain: 8, sun: 103 };
const seasonWindow = (month: number, answers: Record<string, number>, metadata = seattleWeather) =>
  windowOf(seattleRows(month), answersOf(answers), metadata);
const seasonJudged = (counts: WindowCounts, metadata = seattleWeather) => judgedAfterHealthy(metadata, [counts, counts, counts], 30, 100);
const goodProbes = { predictedLabels: SEATTLE_PROBE_ANSWERS };
// July and August's 248 real days, answered as the packaged model answers them (July 7, 6, 8, 103; August 8, 3, 21, 92).
const SUMMER_ANSWERS = { drizzle: 15, fog: 9, rain: 29, sun: 195 };
const SUMMER = windowOf([...seattleRows(7), ...seattleRows(8)], answersOf(SUMMER_ANSWERS), seattleWeather);
const inputShiftOf = (ds: Diagnosis[]) => ds.find((d) => d.kind === 'input_shift') as Extract<Diagnosis, { kind: 'input_shift' }> | undefined;

describe('diagnose: inputs that moved, and a model that followed them', () => {
  it('input_shift: January on the healthy seattle model, probes answered as validated', () => {
    const counts = seasonWindow(1, JANUARY);
    const evaluation = seasonJudged(counts);
    expect(evaluation.verdict).toBe('partial_collapse');
    expect(evaluation.vanishedLabels).toEqual(['sun']);
    const { diagnoses, remedies: rs } = explain(evaluation, counts, seattleWeather, WINDOW, goodProbes);
    expect(kinds(diagnoses)).toEqual(['input_shift']);
    const d = inputShiftOf(diagnoses)!;
    // Moved: |shift| − 3 · max(1, std ratio) / √124 ≥ 0.5 → temp_max 1.11175 − 0.26941 = 0.842, temp_min 0.829;
    // precipitation 0.095 and wind 0.083 (SE 3 · 1.2557 / √124 = 0.338) stay within noise.
    expect(d.evidence.features.map((f) => [f.name, f.shift, f.stdRatio, f.standardError])).toEqual([
      ['temp_max', -1.11, 0.454, 0.0898],
      ['temp_min', -1.1, 0.685, 0.0898],
    ]);
    expect(d.evidence.features[0]!.observedMean).toBeCloseTo(-1.11175, 4);
    expect(d.evidence.features[0]!.observedStd).toBeCloseTo(0.45408, 4);
    // 11 of 20 probes right against held-out accuracy 0.6884: P[X ≤ 11], X ~ Bin(20, 0.6884) = 0.13753 (the exact sum, by hand in Python).
    expect(d.evidence.probes).toMatchObject({ probes: 20, accuracy: 0.55 });
    expect(d.evidence.heldOutAccuracy).toBe(0.6884);
    expect(d.evidence.probePValue).toBe(0.138);
    // Which labels moved: sun fell from its baseline share (≈ the reference's 112/292 = 0.38) to 7/124.
    expect(d.evidence.labels[0]).toMatchObject({ label: 'sun', share: 0.05645 });
    expect(d.evidence.labels[0]!.baselineShare).toBeCloseTo(0.38, 1);
    expect(d.evidence.labels.map((l) => l.label)).toEqual(expect.arrayContaining(['drizzle', 'snow']));
    // Judged with the default weekly season, against the trailing level: no earlier week, nor day, at this hour yet.
    expect(d.evidence).toMatchObject({ seasonality: 'weekly', baselineSource: 'trailing' });
    // 0.6 (probes pass the accuracy test) + 0.3 · min(1, 0.842) = 0.853
    expect(d.confidence).toBe(0.85);
    expect(d.sentence).toContain('temp_max −1.11 training stds from the training mean, temp_min −1.1 training stds from the training mean');
    expect(d.evidence.features.map((f) => [f.from, f.recentMean, f.recentShift])).toEqual([
      ['training', null, null],
      ['training', null, null],
    ]);
    expect(d.sentence).toContain('11 of its 20 probes right (held-out accuracy 69%)');
    expect(d.sentence).toContain('sun 38% → 6%');
    expect(rs.map((r) => r.kind)).toEqual(['rebaseline']);
  });

  it('input_shift comes first in July, and the training-data remedies wait for it', () => {
    const counts = seasonWindow(7, JULY);
    const evaluation = seasonJudged(counts);
    expect(evaluation.verdict).toBe('collapsed');
    expect(evaluation.dominantLabel).toBe('sun');
    const { diagnoses, remedies: rs } = explain(evaluation, counts, seattleWeather, WINDOW, goodProbes);
    // Before input_shift, this page said "too little training data" (snow: 21 rows < 40) first.
    expect(kinds(diagnoses)).toEqual(['input_shift', 'insufficient_data', 'class_imbalance']);
    // temp_max +1.31 std, cleared of 3 SE: well over one std, so the full 0.6 + 0.3.
    expect(diagnoses[0]!.confidence).toBe(0.9);
    expect(diagnoses[1]!.confidence).toBe(0.49);
    expect(rs.map((r) => [r.kind, r.after])).toEqual([
      ['rebaseline', undefined],
      ['collect_data', 'input_shift'],
      ['augment', 'input_shift'],
      ['resample', 'input_shift'],
    ]);
    expect(rs[1]!.sentence).toMatch(/^If it persists once the baseline compares like with like: Collect at least 40/);
  });

  it('not input_shift when the model fails its probes: the same January, answered with one label', () => {
    const counts = seasonWindow(1, JANUARY);
    const degenerate = { predictedLabels: SEATTLE_PROBE_ANSWERS.map(() => 'rain') };
    expect(kinds(explain(seasonJudged(counts), counts, seattleWeather, WINDOW, degenerate).diagnoses)).toEqual(['degenerate_model']);
    // Also when the package states no held-out accuracy to hold the probes to: one label for five is degenerate.
    const noAccuracy = { ...seattleWeather, training: { ...seattleWeather.training, accuracy: undefined } };
    const { diagnoses } = explain(seasonJudged(counts, noAccuracy), counts, noAccuracy, WINDOW, degenerate);
    expect(kinds(diagnoses)).toEqual(['degenerate_model']);
    // …while varied probe answers there give input_shift at the middle level: 0.45 + 0.3 · 0.842.
    const varied = inputShiftOf(explain(seasonJudged(counts, noAccuracy), counts, noAccuracy, WINDOW, goodProbes).diagnoses)!;
    expect(varied.confidence).toBe(0.7);
    expect(varied.evidence).toMatchObject({ heldOutAccuracy: null, probePValue: null });
  });

  it('not input_shift when the probes do worse than the held-out accuracy allows (the unweighted model, 9 of 20 at 0.8288)', () => {
    const unweighted = { ...seattleUnweighted, training: { ...seattleUnweighted.training, accuracy: 0.8288 } };
    const counts = seasonWindow(7, JULY, unweighted);
    const evaluation = seasonJudged(counts, unweighted);
    expect(evaluation.verdict).toBe('collapsed');
    const { diagnoses } = explain(evaluation, counts, unweighted, WINDOW, { predictedLabels: SEATTLE_UNWEIGHTED_PROBE_ANSWERS });
    // P[X ≤ 9], X ~ Bin(20, 0.8288) = 0.000135 < 0.05: not the model that was validated (it is imbalanced).
    expect(kinds(diagnoses)).not.toContain('input_shift');
    expect(kinds(diagnoses)[0]).toBe('class_imbalance');
  });

  it('not input_shift for unscaled inputs: raw January rows are a missing scaler', () => {
    const raw = seattleRows(1).map((x) => x.map((v, j) => v * seattleWeather.features[j]!.raw!.std + seattleWeather.features[j]!.raw!.mean));
    const counts = windowOf(raw, answersOf(JANUARY), seattleWeather);
    const { diagnoses } = explain(seasonJudged(counts), counts, seattleWeather, WINDOW, goodProbes);
    expect(kinds(diagnoses)[0]).toBe('scaler_missing');
    expect(kinds(diagnoses)).not.toContain('input_shift');
  });

  it('not input_shift when a feature lost its variance, though the temperatures moved', () => {
    const rows = seattleRows(1).map((x) => [x[0]!, x[1]!, x[2]!, 0.3]); // wind replaced by a constant upstream
    const counts = windowOf(rows, answersOf(JANUARY), seattleWeather);
    const { diagnoses } = explain(seasonJudged(counts), counts, seattleWeather, WINDOW, goodProbes);
    expect(kinds(diagnoses)).toEqual(['preprocessing_lost_variance']);
  });

  it('not input_shift when the spread is far wider than training, though every mean is within 3 stds', () => {
    // 992 predictions (January's mix × 8), temp_max at mean −1.5: with std 1 it moved (1.5 − 3/√992 = 1.40); with
    // std 3 too (1.5 − 9/√992 = 1.21), but its rows then sit √(1.5² + 3²) = 3.35 training stds from the training mean
    // on average: not a slice of the training data.
    const eight = Object.fromEntries(Object.entries(JANUARY).map(([l, c]) => [l, 8 * c]));
    const withSpread = (std: number) => {
      const counts = labelWindow(eight, seattleWeather);
      counts.features.temp_max = momentsOf(992, -1.5, std);
      return kinds(explain(seasonJudged(counts), counts, seattleWeather, WINDOW, goodProbes).diagnoses);
    };
    expect(withSpread(1)).toContain('input_shift');
    expect(withSpread(3)).not.toContain('input_shift');
    expect(withSpread(3)).not.toContain('scaler_missing'); // its mean is within SHIFT_Z: no other input cause either
  });

  it('a shift counts beyond the noise of its window only: 0.6 std moves at 1000 rows, not at 30', () => {
    const windowWith = (n: number) => {
      const counts = labelWindow({ rain: n }, seattleWeather);
      counts.features.temp_max = momentsOf(n, -0.6, 0.5);
      return counts;
    };
    for (const [n, moved] of [[30, false], [1000, true]] as const) {
      const counts = windowWith(n);
      const evaluation = judgedAfterHealthy(seattleWeather, [counts, counts], 30, 100);
      expect(evaluation.verdict).toBe('collapsed');
      // n = 30: 0.6 − 3/√30 = 0.052 < 0.5; n = 1000: 0.6 − 3/√1000 = 0.505 ≥ 0.5.
      const d = inputShiftOf(explain(evaluation, counts, seattleWeather, WINDOW, goodProbes).diagnoses);
      expect(d !== undefined, `n = ${n}`).toBe(moved);
      if (d) expect(d.confidence).toBe(0.75); // 0.6 + 0.3 · 0.505
    }
  });

  it('without probes, input_shift is only a hypothesis: under 0.45, below too little training data', () => {
    const counts = seasonWindow(7, JULY);
    const { diagnoses } = explain(seasonJudged(counts), counts, seattleWeather, WINDOW);
    expect(kinds(diagnoses)).toEqual(['insufficient_data', 'input_shift', 'class_imbalance']);
    const d = inputShiftOf(diagnoses)!;
    expect(d.confidence).toBe(0.45); // 0.15 + 0.3 · 1
    expect(d.evidence).toMatchObject({ probes: null, probePValue: null });
    expect(d.sentence).toContain('no probes were run');
  });

  it('input_shift from the recent traffic: October after a summer, near the training year\'s mean', () => {
    // The model's answers to the 124 real October days (scripts/lib/seattle.ts predictDays), judged after a healthy
    // history: sun fell from 38% to 14%, fog rose from 17% to 38%.
    const counts = seasonWindow(10, { fog: 47, rain: 59, snow: 1, sun: 17 });
    const evaluation = seasonJudged(counts);
    expect(evaluation.verdict).toMatch(/collapse/);
    // Measured from training, October moved too little to say so: its temperatures sit near the year's mean.
    expect(kinds(explain(evaluation, counts, seattleWeather, WINDOW, goodProbes).diagnoses)).not.toContain('input_shift');
    // The recent healthy traffic was July and August (their 248 real days): the inputs left it. Its levels by hand
    // here, from the summer's moments (the next describe has them from the detector's state).
    const summer = SUMMER.features;
    const recent = nameRecord(
      Object.entries(summer).map(([name, m]) => [name, { rows: m.count, ...featureMeanStd(m)! }] as const),
    );
    const { diagnoses, remedies: rs } = explain(evaluation, counts, seattleWeather, WINDOW, goodProbes, recent);
    const d = inputShiftOf(diagnoses)!;
    expect(diagnoses[0]).toBe(d);
    const temp = d.evidence.features.find((f) => f.name === 'temp_max')!;
    expect(temp.from).toBe('recent');
    expect(temp.recentMean).toBeCloseTo(summer.temp_max!.sum / summer.temp_max!.count, 3);
    // The move from summer is far larger than the move from training, and clears 3 standard errors of both means.
    expect(temp.recentShift!).toBeLessThan(-1);
    expect(Math.abs(temp.shift)).toBeLessThan(0.5);
    expect(d.sentence).toMatch(/temp_max −1\.\d+ training stds from the recent healthy traffic's mean/);
    // The remedy names both levels in degrees: the summer's and the training year's.
    expect(rs[0]!.kind).toBe('rebaseline');
    expect(rs[0]!.sentence).toMatch(/temp_max 1\d\.\d+ ± [\d.]+ \(recently 2\d\.\d+, training 1\d\.\d+ ± [\d.]+\)/);
    // A recent level from fewer rows than a window is judged by is no level to measure from.
    const thin = nameRecord(Object.entries(recent).map(([name, l]) => [name, { ...l, rows: MIN_FEATURE_ROWS - 1 }] as const));
    expect(kinds(explain(evaluation, counts, seattleWeather, WINDOW, goodProbes, thin).diagnoses)).not.toContain('input_shift');
  });

  it('never on a healthy window, whatever its inputs did', () => {
    const counts = seasonWindow(1, { drizzle: 6, fog: 21, rain: 41, snow: 9, sun: 47 }); // January's inputs, the normal mix
    const evaluation = seasonJudged(counts);
    expect(evaluation.verdict).toBe('healthy');
    expect(diagnose(counts, evaluation, seattleWeather, goodProbes)).toEqual([]);
  });
});

describe('an incident whose windows keep being explained by inputs that moved', () => {
  // July opens it: collapsed onto sun, led by input_shift. Then October is judged against a summer: the state after
  // July and August's real answers and inputs were adopted as normal (as a rebaseline adopts them).
  const july = seasonWindow(7, JULY);
  const october = seasonWindow(10, { fog: 47, rain: 59, snow: 1, sun: 17 });
  const summer = SUMMER;
  const settings = detectorSettings(seattleWeather, { windowSeconds: 60 });
  const warm = judgeSequence(seattleWeather, [summer]).state!;
  const summerState = rebaseline(warm, settings.labels.map((l) => SUMMER_ANSWERS[l as keyof typeof SUMMER_ANSWERS] ?? 0), inputMoments(summer.features, settings.features));
  const recent = recentInputs(summerState, settings.features);
  const octoberEvaluation = judgeWindow(summerState, october, 60, settings).evaluation;
  const window = (i: number, evaluation: Evaluation, explanation: { diagnoses: Diagnosis[]; remedies: Remedy[] }) =>
    ({ model: 'seattle-weather', version: '1', windowStart: i * 86_400, evaluation, ...explanation }) satisfies EvaluatedWindow;
  const opened = () => {
    const evaluation = seasonJudged(july);
    const t = advanceIncident(null, window(0, evaluation, explain(evaluation, july, seattleWeather, WINDOW, goodProbes)), { newId: () => 'inc' });
    expect(t.events).toEqual(['opened']);
    expect(t.incident!.diagnoses[0]!.kind).toBe('input_shift');
    return t.incident!;
  };

  it('judges October against the summer as a collapse away from sun', () => {
    expect(octoberEvaluation.verdict).toBe('collapsed');
    expect(['fog', 'rain']).toContain(octoberEvaluation.dominantLabel);
  });

  it('records a new collapse without paging when it is the inputs again: one story, paged once', () => {
    const next = advanceIncident(opened(), window(90, octoberEvaluation, explain(octoberEvaluation, october, seattleWeather, WINDOW, goodProbes, recent)), { newId: () => 'x' });
    expect(next.incident!.diagnoses[0]!.kind).toBe('input_shift');
    expect(next.events).toEqual(['updated']);
    expect(next.incident!.collapsedOnto).toEqual(['sun', octoberEvaluation.dominantLabel]);
    // Kept for the incident page: the change, and that it did not page.
    expect(next.incident!.escalations).toEqual([{ windowStart: 90 * 86_400, paged: false }]);
  });

  it('pages what it only recorded once a later window is not explained by the inputs', () => {
    const recorded = advanceIncident(opened(), window(90, octoberEvaluation, explain(octoberEvaluation, october, seattleWeather, WINDOW, goodProbes, recent)), { newId: () => 'x' });
    expect(recorded.events).toEqual(['updated']);
    // The same collapse a window later, but the model now fails its probes: the collapse onto it was never paged.
    const failing = { predictedLabels: SEATTLE_PROBE_ANSWERS.map(() => 'rain') };
    const next = advanceIncident(recorded.incident, window(91, octoberEvaluation, explain(octoberEvaluation, october, seattleWeather, WINDOW, failing, recent)), { newId: () => 'x' });
    expect(next.events).toEqual(['escalated']);
    // Paged now: the same window again says nothing new.
    const again = advanceIncident(next.incident, window(92, octoberEvaluation, explain(octoberEvaluation, october, seattleWeather, WINDOW, failing, recent)), { newId: () => 'x' });
    expect(again.events).toEqual(['updated']);
    expect(again.incident!.escalations).toEqual([
      { windowStart: 90 * 86_400, paged: false },
      { windowStart: 91 * 86_400, paged: true },
    ]);
  });

  it('pages the new collapse when the inputs explain it but the model was not held to its probes', () => {
    // A package that does not state its held-out accuracy: the probes' diversity is all that could be checked.
    const noAccuracy = { ...seattleWeather, training: { ...seattleWeather.training, accuracy: undefined } };
    const unchecked = explain(octoberEvaluation, october, noAccuracy, WINDOW, goodProbes, recent);
    expect(unchecked.diagnoses[0]).toMatchObject({ kind: 'input_shift', evidence: { probePValue: null } });
    expect(advanceIncident(opened(), window(90, octoberEvaluation, unchecked), { newId: () => 'x' }).events).toEqual(['escalated']);
  });

  it('pages the new collapse when its window is not explained by the inputs: a model that fails its probes, or no cause', () => {
    const failing = { predictedLabels: SEATTLE_PROBE_ANSWERS.map(() => 'rain') };
    const degenerate = explain(octoberEvaluation, october, seattleWeather, WINDOW, failing, recent);
    expect(degenerate.diagnoses.map((d) => d.kind)).not.toContain('input_shift');
    expect(advanceIncident(opened(), window(90, octoberEvaluation, degenerate), { newId: () => 'x' }).events).toEqual(['escalated']);
    // Measured from training alone, October's inputs did not move: no cause, so the collapse is news.
    const unexplained = explain(octoberEvaluation, october, seattleWeather, WINDOW, goodProbes);
    expect(unexplained.diagnoses.map((d) => d.kind)).not.toContain('input_shift');
    expect(advanceIncident(opened(), window(90, octoberEvaluation, unexplained), { newId: () => 'x' }).events).toEqual(['escalated']);
  });
});

describe('summarizeProbes', () => {
  it('counts answers, accuracy and diversity; null when the answers do not match the probes', () => {
    const model = modelWith({ a: 10, b: 10 });
    const s = summarizeProbes(model, { predictedLabels: ['a', 'a', 'a', 'a', 'a', 'b'] })!;
    expect(s).toMatchObject({ probes: 6, trueLabels: 2, predictedLabels: 2, predictedCounts: { a: 5, b: 1 } });
    expect(s.accuracy).toBeCloseTo(4 / 6, 12); // a a a | a a b vs true a a a b b b
    expect(s.trueEntropy).toBe(1);
    // −(5/6 ln 5/6 + 1/6 ln 1/6) / ln 2 = 0.650022421648
    expect(s.predictedEntropy).toBeCloseTo(0.650022421648, 10);
    expect(summarizeProbes(model, { predictedLabels: ['a'] })).toBeNull();
    expect(summarizeProbes(model, undefined)).toBeNull();
  });
});

describe('remedies', () => {
  it('rebaseline: the moved features in model and raw units, and what to do in each case', () => {
    const counts = seasonWindow(1, JANUARY);
    const { remedies: rs } = explain(seasonJudged(counts), counts, seattleWeather, WINDOW, goodProbes);
    const r = remedy(rs, 'rebaseline');
    expect(r.diagnosis).toBe('input_shift');
    expect(r.seasonality).toBe('weekly');
    // Raw units by hand: 16.37399 + (−1.11175)(7.32626) = 8.22903 °C, 0.45408 · 7.32626 = 3.32672;
    // 8.17553 + (−1.09873)(4.98644) = 2.69677, 0.68542 · 4.98644 = 3.41781.
    expect(r.features.map((f) => [f.name, f.shift, f.raw])).toEqual([
      ['temp_max', -1.11, { mean: 8.229, std: 3.327 }],
      ['temp_min', -1.1, { mean: 2.697, std: 3.418 }],
    ]);
    expect(r.features[0]!.mean).toBeCloseTo(-1.11175, 4);
    expect(r.sentence).toContain('temp_max 8.229 ± 3.327 (training 16.37 ± 7.326), temp_min 2.697 ± 3.418 (training 8.176 ± 4.986)');
    // The default weekly season cannot be January's: the longer cycle is named.
    expect(r.sentence).toContain('monitor.seasonality is "weekly", but no earlier cycle has 30 predictions at this hour of week yet');
    expect(r.sentence).toContain('A longer cycle: set monitor.seasonality to "yearly" (by week of year).');
    expect(r.sentence).toContain('POST /v1/incidents/{id}/resolve');
    expect(r.sentence).toContain('npm run stats -- --model-dir models/seattle-weather --csv recent.csv');
    expect(r.sentence).toContain('look upstream at what feeds temp_max, temp_min');
  });

  it('rebaseline with a declared season says what the seasonal baseline lacked', () => {
    const counts = seasonWindow(1, JANUARY);
    const evaluation = seasonJudged(counts);
    const declared = (source: 'trailing' | 'seasonal') => {
      const e = { ...evaluation, baseline: { ...evaluation.baseline, seasonality: 'yearly' as const, source } };
      return remedy(explain(e, counts, seattleWeather, WINDOW, goodProbes).remedies, 'rebaseline');
    };
    expect(declared('trailing').sentence).toContain('monitor.seasonality is "yearly", but no earlier cycle has 30 predictions at this week of year yet');
    expect(declared('seasonal').sentence).toContain('earlier cycles at this week of year did not look like this');
    // A weekly model is judged by the hour of day through its first week: the sentence says so.
    const weekly = { ...evaluation, baseline: { ...evaluation.baseline, seasonality: 'weekly' as const, source: 'seasonal' as const } };
    expect(remedy(explain(weekly, counts, seattleWeather, WINDOW, goodProbes).remedies, 'rebaseline').sentence).toContain(
      'monitor.seasonality is "weekly" and earlier cycles at this hour of week (in its first week: this hour of day) did not look like this',
    );
    // With the phase the window was held against (baseline.phase), the sentence names it, and the diagnosis carries it.
    const saturdays = { kind: 'hour_of_week' as const, from: 2_628_000, to: 2_638_800, cycles: 3, predictions: 525 };
    const phased = (source: 'trailing' | 'seasonal') => {
      const e = { ...evaluation, baseline: { ...evaluation.baseline, seasonality: 'weekly' as const, source, phase: saturdays } };
      return explain(e, counts, seattleWeather, WINDOW, goodProbes);
    };
    expect(new Date(saturdays.from * 1000).toISOString()).toBe('1970-01-31T10:00:00.000Z');
    expect(phased('seasonal').diagnoses.find((d) => d.kind === 'input_shift')!.evidence).toMatchObject({ baselinePhase: saturdays });
    expect(remedy(phased('seasonal').remedies, 'rebaseline').sentence).toContain(
      'monitor.seasonality is "weekly" and Saturdays 10:00–13:00 UTC of the 3 weeks before, 525 predictions, did not look like this: if the season is merely unusual',
    );
    // Known but fitting the window even less than the recent traffic: not "no earlier cycle has 30 predictions".
    expect(remedy(phased('trailing').remedies, 'rebaseline').sentence).toContain(
      'monitor.seasonality is "weekly" and Saturdays 10:00–13:00 UTC of the 3 weeks before, 525 predictions, did not look like this either',
    );
    expect(declared('trailing').seasonality).toBe('yearly');
    // The longest cycle has none longer to name; a deployment without a season is told every one.
    expect(declared('trailing').sentence).not.toContain('A longer cycle');
    const none = { ...evaluation, baseline: { ...evaluation.baseline, seasonality: 'none' as const } };
    const plain = remedy(explain(none, counts, seattleWeather, WINDOW, goodProbes).remedies, 'rebaseline');
    expect(plain.sentence).toContain('A known cycle: set monitor.seasonality to the one these features follow');
    expect(plain.sentence).toContain('"yearly": by week of year');
    expect(plain.sentence).not.toContain('A longer cycle');
  });

  it('rebaseline never names a cycle no longer than a window: a window that long has no phase to compare at (seasonalityFor)', () => {
    const counts = seasonWindow(1, JANUARY);
    const evaluation = seasonJudged(counts);
    const DAY = 86_400;
    const sentence = (seasonality: Seasonality, windowSeconds: number) =>
      remedy(explain({ ...evaluation, baseline: { ...evaluation.baseline, seasonality } }, counts, seattleWeather, windowSeconds, goodProbes).remedies, 'rebaseline').sentence;
    // Day-long windows: "daily" is judged as none, and declaring it would change nothing: the next
    // longer cycles are named instead. Weekly windows leave yearly; a year-long window leaves no cycle at all.
    const daylong = sentence('none', DAY);
    expect(daylong).toContain('A known cycle: set monitor.seasonality to the one these features follow ("yearly": by week of year, "weekly": by hour of week), then');
    expect(daylong).not.toContain('"daily"');
    for (const weeks of [1, 4]) {
      const long = sentence('none', weeks * 7 * DAY);
      expect(long, `${weeks} weeks`).toContain('follow ("yearly": by week of year), then');
      expect(long, `${weeks} weeks`).not.toMatch(/"daily"|"weekly"/);
    }
    const yearlong = sentence('none', SECONDS_PER_YEAR);
    expect(yearlong).not.toMatch(/"daily"|"weekly"|"yearly"|A known cycle|A longer cycle/);
    expect(yearlong).toContain('temp_min 2.697 ± 3.418 (training 8.176 ± 4.986). Here to stay: resolve it with {"rebaseline": true}');
    // A declared season that a window is shorter than keeps it, and names only the longer cycles a window is shorter than.
    expect(sentence('weekly', DAY)).toContain('monitor.seasonality is "weekly", but no earlier cycle has 30 predictions at this hour of week yet');
    expect(sentence('weekly', DAY)).toContain('A longer cycle: set monitor.seasonality to "yearly" (by week of year).');
    expect(sentence('daily', 3_600)).toContain('A longer cycle: set monitor.seasonality to "weekly" (by hour of week) or "yearly" (by week of year).');
  });

  it('balancedClassWeights is n / (k · n_c), skipping labels without rows', () => {
    // 40 / (3 · 10) = 1.3333, 40 / (3 · 30) = 0.4444
    expect(balancedClassWeights({ a: 10, b: 30, c: 0 }, ['a', 'b', 'c'])).toEqual({ a: 1.3333, b: 0.4444 });
  });
  it('gives one remedy per kind, in diagnosis order, each with a sentence', () => {
    const counts: WindowCounts = windowOf(heldOut.map((r) => r.raw), allAs('Adelie'), penguinsUnscaled);
    const evaluation = evaluateWindow(counts, penguinsUnscaled);
    const probe = { predictedLabels: penguinsUnscaled.probes.map(() => 'Adelie') };
    const diagnoses = diagnose(counts, evaluation, penguinsUnscaled, probe);
    const rs = remedies([...diagnoses, ...diagnoses], penguinsUnscaled, WINDOW);
    expect(rs.map((r) => r.kind)).toEqual(['scaler', 'learning_rate', 'capacity']);
    for (const r of rs) expect(r.sentence.length).toBeGreaterThan(20);
    expect(JSON.parse(JSON.stringify(rs))).toEqual(rs);
  });
});
