// Scenarios on real data through the real path: held-out rows (test/fixtures/holdout, raw units) go through the
// Worker's predict handler (the real models on the WASM backend), get recorded by the aggregator shards, flushed into
// the real D1, closed and evaluated by the cron's tick (verdict, probes, diagnosis, remedies), and are read back from
// GET /v1/models/{name}/windows. Each scenario has a window of its own (2033, two windows apart, on a pinned clock).
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import penguinsHoldout from '../fixtures/holdout/penguins.json';
import seattleHoldout from '../fixtures/holdout/seattle-weather.json';
import { windowStart } from '../../src/monitor/window';
import { tick } from '../../src/schedule';
import type { ModelMetadata } from '../../src/serving/metadata';
import { config, epochMs, flushAll, metadataOf } from './helpers';
import { BASE, predictAt, standardized, tally, type Holdout } from './scenario-traffic';
import { recorded } from './contract';

const L = config.windowSeconds;
const T = windowStart(Date.UTC(2033, 0, 1) / 1000, L);
const penguins = metadataOf('penguins');
const penguinsUnscaled = metadataOf('penguins-unscaled');
const seattle = metadataOf('seattle-weather');
const seattleUnweighted = metadataOf('seattle-weather-unweighted');
const rawPenguins = (penguinsHoldout as Holdout).rows.map((r) => r.input);
const rawSeattle = (seattleHoldout as Holdout).rows.map((r) => r.input);

// The API's window, as far as these tests read it.
interface LabelStatistics {
  label: string;
  count: number;
  share: number | null;
  reference_share: number;
}
interface Evaluation {
  verdict: string;
  n: number;
  statistics: { per_label: LabelStatistics[] };
  vanished_labels: string[];
  dominant_label: string | null;
  required_predictions: number;
  known_defect: boolean;
  reason: string;
}
interface Diagnosis {
  kind: string;
  confidence: number;
  sentence: string;
  evidence: Record<string, any>;
}
interface Remedy {
  kind: string;
  diagnosis: string;
  sentence: string;
  [key: string]: any;
}
interface ApiWindow {
  start_epoch: number;
  closed: boolean;
  n: number;
  counts: Record<string, number>;
  zero_rows: number;
  verdict: string | null;
  evaluation: Evaluation | null;
  diagnoses: Diagnosis[] | null;
  remedies: Remedy[] | null;
}

interface Outcome {
  /** Labels the predict endpoint answered, per label. */
  served: Record<string, number>;
  window: ApiWindow;
  evaluation: Evaluation;
  diagnoses: Diagnosis[];
  remedies: Remedy[];
}

/**
 * One scenario, end to end: `rows` to `metadata`'s predict endpoint at 10 s into window slot `slot`, every shard
 * forced to flush, the cron ticked once the window may close, then that one window from the windows API.
 */
async function runScenario(metadata: ModelMetadata, rows: number[][], slot: number): Promise<Outcome> {
  const start = T + 2 * slot * L;
  const served = tally(await predictAt(metadata, rows, epochMs(start + 10)));
  const flushed = await flushAll(metadata, epochMs(start + L + config.flushGraceSeconds));
  expect(flushed).toMatchObject({ predictions: rows.length, failed: 0 });
  const report = await tick(env, epochMs(start + L + config.flushGraceSeconds + config.closeMarginSeconds));
  expect(report.closed).toContainEqual({ model: metadata.name, version: metadata.version, start, length: L });
  expect(report.evaluation.failed).toBe(0);

  const res = await recorded(exports.default).fetch(`${BASE}/v1/models/${metadata.name}/windows?since=${start}&until=${start + 1}`);
  expect(res.status).toBe(200);
  const { windows } = (await res.json()) as { windows: ApiWindow[] };
  expect(windows).toHaveLength(1);
  const [window] = windows;
  // The window holds exactly what the endpoint answered, and the cron judged it.
  expect(window).toMatchObject({ start_epoch: start, closed: true, n: rows.length });
  expect(window.counts).toEqual({ ...Object.fromEntries(metadata.labels.map((l) => [l, 0])), ...served });
  expect(window.verdict).not.toBeNull();
  expect(window.evaluation).not.toBeNull();
  expect(window.evaluation!.verdict).toBe(window.verdict);
  expect(window.evaluation!.n).toBe(rows.length);
  // Every field name is snake_case, inside the evaluation, diagnoses and remedies too (the schema in /openapi.json
  // holds their shapes; this names any camelCase leftover).
  expect(camelCaseKeys(window)).toEqual([]);
  return { served, window, evaluation: window.evaluation!, diagnoses: window.diagnoses ?? [], remedies: window.remedies ?? [] };
}

/** Maps keyed by a label or feature name: their keys are names, not field names. */
const NAME_KEYED = new Set(['counts', 'shares', 'features', 'predicted_counts', 'training_counts', 'weights', 'add_per_label', 'missing_per_label']);

/** Paths of keys that are not snake_case, skipping the name-keyed maps. */
function camelCaseKeys(value: unknown, path = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((x, i) => camelCaseKeys(x, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, x]) => [
    ...(/^[a-z0-9_]+$/.test(key) ? [] : [`${path}.${key}`]),
    ...(NAME_KEYED.has(key) && !Array.isArray(x) ? [] : camelCaseKeys(x, `${path}.${key}`)),
  ]);
}

const kinds = (xs: { kind: string }[]) => xs.map((x) => x.kind);
const remedyOf = (o: Outcome, kind: string) => {
  const found = o.remedies.find((r) => r.kind === kind);
  expect(found, `remedy ${kind} in ${JSON.stringify(kinds(o.remedies))}`).toBeDefined();
  return found!;
};
const diagnosisOf = (o: Outcome, kind: string) => {
  const found = o.diagnoses.find((d) => d.kind === kind);
  expect(found, `diagnosis ${kind} in ${JSON.stringify(kinds(o.diagnoses))}`).toBeDefined();
  return found!;
};
const argmax = (p: number[]) => p.reduce((best, x, i) => (x > p[best] ? i : best), 0);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const column = (rows: number[][], i: number) => rows.map((r) => r[i]);

describe('scenarios: held-out rows through predict, aggregators, cron and the windows API', () => {
  it('penguins on every held-out row, standardized as the model expects → healthy, nothing to diagnose', async () => {
    const o = await runScenario(penguins, standardized(penguins, rawPenguins), 0);
    expect(rawPenguins).toHaveLength(86);
    expect(o.window.verdict).toBe('healthy');
    expect(o.evaluation.vanished_labels).toEqual([]);
    // Every species answered, near its held-out share (the model is 99% accurate on these rows).
    const truth = tally((penguinsHoldout as Holdout).rows.map((r) => r.label));
    for (const label of penguins.labels) expect(Math.abs((o.served[label] ?? 0) - truth[label])).toBeLessThanOrEqual(3);
    expect(o.diagnoses).toEqual([]);
    expect(o.remedies).toEqual([]);
  });

  it('seattle-weather (class-weighted) on every held-out row → healthy', async () => {
    const o = await runScenario(seattle, standardized(seattle, rawSeattle), 1);
    expect(rawSeattle).toHaveLength(292);
    // The weighted model over-answers fog (a consequence of its class weights), but it loses no label: the detector
    // flags collapse and vanishing labels, not a minority answered more often than in training.
    expect(o.window.verdict).toBe('healthy');
    expect(o.evaluation.vanished_labels).toEqual([]);
    for (const label of seattle.labels) expect(o.served[label] ?? 0, label).toBeGreaterThan(0);
    expect(o.diagnoses).toEqual([]);
    expect(o.remedies).toEqual([]);
  });

  it('penguins-unscaled on raw rows → collapsed; scaler_missing (trained unscaled) with a training scaler of the training mean/std; the probes are consulted', async () => {
    const o = await runScenario(penguinsUnscaled, rawPenguins, 2);
    expect(o.window.verdict).toBe('collapsed');
    expect(Object.keys(o.served)).toHaveLength(1);
    expect(o.evaluation.dominant_label).toBe(Object.keys(o.served)[0]);

    const scaler = diagnosisOf(o, 'scaler_missing');
    expect(scaler.evidence.cause).toBe('trained_unscaled');
    expect(scaler.evidence.window_verdict).toBe('collapsed');
    expect(scaler.evidence.scale_spread).toBeGreaterThanOrEqual(100);

    // Probe evidence: the model's own answers on its 12 labelled probes, run by the cron on the WASM backend. They
    // must be the answers the training script recorded for those probes (argmax of the stored probabilities).
    const probes = penguinsUnscaled.probes;
    const expectedAnswers = tally(probes.map((p) => penguinsUnscaled.labels[argmax(p.probabilities!)]));
    const expectedAccuracy = probes.filter((p) => penguinsUnscaled.labels[argmax(p.probabilities!)] === p.label).length / probes.length;
    const expectedProbes = {
      probes: probes.length,
      true_labels: new Set(probes.map((p) => p.label)).size,
      predicted_labels: Object.keys(expectedAnswers).length,
      predicted_counts: expectedAnswers,
    };
    expect(expectedProbes.predicted_labels).toBe(1);
    expect(scaler.evidence.probes).toMatchObject(expectedProbes);
    expect(scaler.evidence.probes.accuracy).toBeCloseTo(expectedAccuracy, 12);
    expect(scaler.sentence).toMatch(/answers one label on its own probes/);
    const degenerate = diagnosisOf(o, 'degenerate_model');
    expect(degenerate.evidence).toMatchObject(expectedProbes);
    // The training scale problem is the likelier root cause: it ranks first.
    expect(o.diagnoses[0].kind).toBe('scaler_missing');

    const remedy = remedyOf(o, 'scaler');
    expect(remedy).toMatchObject({ diagnosis: 'scaler_missing', where: 'training' });
    expect(remedy.features.map((f: { name: string }) => f.name)).toEqual(penguinsUnscaled.features.map((f) => f.name));
    penguinsUnscaled.features.forEach((spec, i) => {
      // The training feature moments from metadata...
      expect(remedy.features[i].mean).toBeCloseTo(spec.mean, 9);
      expect(remedy.features[i].std).toBeCloseTo(spec.std, 9);
      // ...which describe the raw units the held-out rows arrive in (independent check on the data itself).
      expect(Math.abs(remedy.features[i].mean - mean(column(rawPenguins, i)))).toBeLessThan(0.5 * spec.std);
    });
    expect(kinds(o.remedies)).toEqual(expect.arrayContaining(['scaler', 'learning_rate', 'capacity']));
  });

  it('penguins fed all-zero rows → collapsed with preprocessing_lost_variance, fix_preprocessing; the probes clear the model', async () => {
    const zeros = rawPenguins.map((row) => row.map(() => 0));
    const o = await runScenario(penguins, zeros, 3);
    expect(o.window.verdict).toBe('collapsed');
    expect(o.window.zero_rows).toBe(zeros.length);
    expect(o.evaluation.dominant_label).toBe(Object.keys(o.served)[0]);

    const lost = diagnosisOf(o, 'preprocessing_lost_variance');
    expect(o.diagnoses[0].kind).toBe('preprocessing_lost_variance');
    expect(lost.evidence.zero_row_share).toBe(1);
    expect(lost.evidence.features.map((f: { name: string }) => f.name)).toEqual(penguins.features.map((f) => f.name));
    for (const f of lost.evidence.features) expect(f).toMatchObject({ observed_mean: 0, observed_std: 0, std_ratio: 0 });
    // All-zero rows are lost variance, not a missing scaler; and the model answers its probes correctly, so it is
    // not called degenerate.
    expect(kinds(o.diagnoses)).not.toContain('scaler_missing');
    expect(kinds(o.diagnoses)).not.toContain('degenerate_model');
    expect(remedyOf(o, 'fix_preprocessing')).toMatchObject({ diagnosis: 'preprocessing_lost_variance', zero_row_share: 1 });
  });

  it('penguins fed raw (unscaled) rows → scaler_missing (inputs unscaled) with a scaler remedy carrying the raw mean/std', async () => {
    const o = await runScenario(penguins, rawPenguins, 4);
    expect(o.window.verdict).toBe('collapsed');

    const scaler = diagnosisOf(o, 'scaler_missing');
    expect(o.diagnoses[0].kind).toBe('scaler_missing');
    expect(scaler.evidence.cause).toBe('inputs_unscaled');
    expect(scaler.evidence.matches_raw_scaler).toBe(true);
    expect(scaler.evidence.features).toHaveLength(penguins.features.length);
    // The window's observed means are the held-out rows' means (computed here from the fixture).
    penguins.features.forEach((spec, i) => {
      const f = scaler.evidence.features.find((x: { name: string }) => x.name === spec.name);
      expect(f.observed_mean).toBeCloseTo(mean(column(rawPenguins, i)), 6);
    });
    expect(kinds(o.diagnoses)).not.toContain('degenerate_model');

    const remedy = remedyOf(o, 'scaler');
    expect(remedy).toMatchObject({ diagnosis: 'scaler_missing', where: 'inputs' });
    expect(remedy.features).toHaveLength(penguins.features.length);
    penguins.features.forEach((spec, i) => {
      expect(remedy.features[i].name).toBe(spec.name);
      expect(remedy.features[i].mean).toBeCloseTo(spec.raw!.mean, 9);
      expect(remedy.features[i].std).toBeCloseTo(spec.raw!.std, 9);
    });
  });

  it('seattle-weather-unweighted on every held-out row → partial_collapse losing fog and drizzle; class_imbalance; class_weight n/(k·n_c)', async () => {
    const o = await runScenario(seattleUnweighted, standardized(seattleUnweighted, rawSeattle), 5);
    expect(o.window.verdict).toBe('partial_collapse');
    expect([...o.evaluation.vanished_labels].sort()).toEqual(['drizzle', 'fog']);
    expect(o.served.fog ?? 0).toBe(0);
    expect(o.served.drizzle ?? 0).toBe(0);
    expect(o.evaluation.reason).toMatch(/fog/);
    expect(o.evaluation.reason).toMatch(/drizzle/);

    const imbalance = diagnosisOf(o, 'class_imbalance');
    expect(imbalance.evidence).toMatchObject({ class_weight_used: false, majority_label: 'rain', inputs_look_like_training: true });
    expect([...imbalance.evidence.vanished_labels].sort()).toEqual(['drizzle', 'fog']);
    // The held-out rows are standardized correctly: no input-side diagnosis.
    expect(kinds(o.diagnoses)).not.toContain('scaler_missing');
    expect(kinds(o.diagnoses)).not.toContain('preprocessing_lost_variance');

    // "balanced" weights from the training label counts, computed here: n / (k · n_c).
    const counts = seattleUnweighted.training.label_counts;
    const n = Object.values(counts).reduce((a, b) => a + b, 0);
    const k = seattleUnweighted.labels.length;
    expect(n).toBe(seattleUnweighted.training.samples);
    const expected = Object.fromEntries(seattleUnweighted.labels.map((l) => [l, n / (k * counts[l])]));
    const remedy = remedyOf(o, 'class_weight');
    expect(remedy.diagnosis).toBe('class_imbalance');
    expect(Object.keys(remedy.weights).sort()).toEqual([...seattleUnweighted.labels].sort());
    for (const label of seattleUnweighted.labels) {
      expect(remedy.weights[label], label).toBeCloseTo(expected[label], 4);
      // The same weights the healthy seattle-weather model was trained with.
      expect(remedy.weights[label], label).toBeCloseTo(seattle.training.class_weight![label], 3);
    }
    expect(remedy.weights).toMatchObject({ drizzle: 5.5667, fog: 2.8864, rain: 0.4558, snow: 11.1333, sun: 0.4566 });
    expect(kinds(o.remedies)).toContain('resample');

    // The package itself shows the defect (its held-out answers lack fog and drizzle): the cron reported it once, as
    // a model_defect incident carrying the class weights, and the window that shows the same defect paged nobody.
    const { results } = await env.DB.prepare('SELECT kind, state FROM incidents WHERE model = ? ORDER BY opened_at')
      .bind(seattleUnweighted.name)
      .all<{ kind: string; state: string }>();
    expect(results.map((r) => r.kind)).toEqual(['model_defect']);
    const defect = JSON.parse(results[0].state);
    expect([...defect.labels].sort()).toEqual(['drizzle', 'fog']);
    expect(defect.remedies.map((r: Remedy) => r.kind)).toContain('class_weight');
    expect(o.evaluation).toMatchObject({ known_defect: true });
  });

  it('a window of 5 predictions → insufficient_data, and no diagnosis', async () => {
    // seattle-weather: its one earlier window (slot 1) was healthy, so no evidence is pending. (The penguins model
    // carries the evidence of the collapses above: the detector judges a version's windows as one sequence.)
    const o = await runScenario(seattle, standardized(seattle, rawSeattle).slice(0, 5), 6);
    expect(o.window.verdict).toBe('insufficient_data');
    expect(o.evaluation.required_predictions).toBeGreaterThanOrEqual(config.minPredictions);
    expect(o.evaluation.reason).toMatch(/^5 predictions so far; \d+ are needed/);
    expect(o.diagnoses).toEqual([]);
    expect(o.remedies).toEqual([]);
  });
});
