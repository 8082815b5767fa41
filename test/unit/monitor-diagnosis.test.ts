import { describe, expect, it } from 'vitest';
import { evaluateWindow } from '../../src/monitor/detector';
import type { ModelMetadata } from '../../src/serving/metadata';
import { diagnose, type Diagnosis, summarizeProbes } from '../../src/monitor/diagnosis';
import { explain, type ProbeResult } from '../../src/monitor/index';
import { balancedClassWeights, remedies, type Remedy } from '../../src/monitor/remedies';
import type { WindowCounts } from '../../src/monitor/window';
import {
  labelWindow,
  modelWith,
  penguinRows,
  penguins,
  penguinsUnscaled,
  seattleUnweighted,
  standardize,
  windowOf,
  judgedAfterHealthy,
} from './monitor.fixtures';

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
  return { evaluation, ...explain(evaluation, counts, metadata, flagged ? probe : undefined) };
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
    const { diagnoses, remedies: rs } = explain(evaluation, counts, seattleUnweighted, probe);
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
    const { diagnoses, remedies: rs } = explain(evaluation, counts, model);
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
  it('balancedClassWeights is n / (k · n_c), skipping labels without rows', () => {
    // 40 / (3 · 10) = 1.3333, 40 / (3 · 30) = 0.4444
    expect(balancedClassWeights({ a: 10, b: 30, c: 0 }, ['a', 'b', 'c'])).toEqual({ a: 1.3333, b: 0.4444 });
  });
  it('gives one remedy per kind, in diagnosis order, each with a sentence', () => {
    const counts: WindowCounts = windowOf(heldOut.map((r) => r.raw), allAs('Adelie'), penguinsUnscaled);
    const evaluation = evaluateWindow(counts, penguinsUnscaled);
    const probe = { predictedLabels: penguinsUnscaled.probes.map(() => 'Adelie') };
    const diagnoses = diagnose(counts, evaluation, penguinsUnscaled, probe);
    const rs = remedies([...diagnoses, ...diagnoses], penguinsUnscaled);
    expect(rs.map((r) => r.kind)).toEqual(['scaler', 'learning_rate', 'capacity']);
    for (const r of rs) expect(r.sentence.length).toBeGreaterThan(20);
    expect(JSON.parse(JSON.stringify(rs))).toEqual(rs);
  });
});
