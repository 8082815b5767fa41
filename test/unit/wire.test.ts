// contract/wire.ts: the monitor core's camelCase objects come out in the API's schemas (valibot, the same ones
// /openapi.json is converted from), including the parts the worker tests' traffic does not produce (drift, fit tests),
// and label-keyed maps read back from D1 JSON keep every label, `__proto__` included, as an own key.
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { Evaluation as EvaluationSchema } from '../../src/contract/api';
import { Diagnosis as DiagnosisSchema, Remedy as RemedySchema } from '../../src/contract/webhooks';
import { diagnosisOnWire, evaluationOnWire, remedyOnWire } from '../../src/contract/wire';
import type { Evaluation } from '../../src/monitor/detector';
import type { Diagnosis } from '../../src/monitor/diagnosis';
import type { Remedy } from '../../src/monitor/remedies';
import { januaryWindow } from './alerts.fixtures';

const label = (name: string, count: number, share: number | null, referenceShare: number, down: number | null) => ({
  label: name,
  count,
  share,
  referenceShare,
  scatter: 0.01,
  pLow: 0.4,
  pHigh: 0.6,
  up: 0.1,
  down,
});

const drifted: Evaluation = {
  verdict: 'drift',
  n: 200,
  statistics: {
    topLabel: 'sun',
    topShare: 0.6,
    normalizedEntropy: 0.7,
    jsDistance: 0.15,
    chiSquare: { statistic: 12.5, df: 1, pValue: 0.0004 },
    gTest: { statistic: 11.9, df: 1, pValue: 0.0006 },
    perLabel: [label('sun', 120, 0.6, 0.45, 0), label('rain', 80, 0.4, 0.55, null)],
  },
  vanishedLabels: [],
  alpha: 1.9e-6,
  minPredictions: 30,
  requiredPredictions: 30,
  baseline: { source: 'trailing', predictions: 5000, seasonality: 'daily' },
  evidence: { threshold: 13.2, falsePageBudget: 1, accumulated: 0 },
  drift: { distance: 0.12, labels: [{ label: 'sun', share: 0.6, reference: 0.45 }] },
  knownDefect: false,
  reason: 'the mix drifted',
};

describe('evaluationOnWire', () => {
  it('gives the API schema: snake_case names, fit tests and drift included, dominant_label null when absent', () => {
    const wire = JSON.parse(JSON.stringify(evaluationOnWire(drifted)));
    expect(v.safeParse(EvaluationSchema, wire).issues).toBeUndefined();
    expect(wire).toMatchObject({
      dominant_label: null,
      min_predictions: 30,
      required_predictions: 30,
      known_defect: false,
      evidence: { false_page_budget: 1 },
      statistics: { top_label: 'sun', chi_square: { p_value: 0.0004 }, g_test: { df: 1 }, js_distance: 0.15 },
      drift: { distance: 0.12, labels: [{ label: 'sun', share: 0.6, reference: 0.45 }] },
    });
    expect(wire.statistics.per_label[1]).toEqual({
      label: 'rain', count: 80, share: 0.4, reference_share: 0.55, scatter: 0.01, p_low: 0.4, p_high: 0.6, up: 0.1, down: null,
    });
  });

  it('a collapsed window without fit tests or drift', () => {
    const collapsed: Evaluation = {
      ...drifted,
      verdict: 'collapsed',
      dominantLabel: 'sun',
      statistics: { ...drifted.statistics, chiSquare: null, gTest: null },
      drift: null,
    };
    const wire = evaluationOnWire(collapsed);
    expect(v.safeParse(EvaluationSchema, wire).issues).toBeUndefined();
    expect(wire).toMatchObject({ verdict: 'collapsed', dominant_label: 'sun', drift: null, statistics: { chi_square: null, g_test: null } });
  });
});

describe('diagnoses and remedies read back from D1 JSON', () => {
  // As drizzle hands a JSON column over: JSON.parse makes "__proto__" an own key of a plain object.
  const stored = <T>(json: string): T => JSON.parse(json) as T;

  it('keep every label of a label-keyed map as an own key of a null-prototype record', () => {
    const d = stored<Diagnosis>(
      '{"kind":"class_imbalance","confidence":0.8,"sentence":"s","evidence":{"trainingCounts":{"__proto__":5,"constructor":50},' +
        '"imbalanceRatio":10,"majorityLabel":"constructor","classWeightUsed":false,"dominantLabel":"constructor","vanishedLabels":["__proto__"],"inputsLookLikeTraining":true}}',
    );
    const wire = diagnosisOnWire(d);
    expect(v.safeParse(DiagnosisSchema, wire).issues).toBeUndefined();
    if (wire.kind !== 'class_imbalance') throw new Error(wire.kind);
    const counts = wire.evidence.training_counts;
    expect(Object.getPrototypeOf(counts)).toBeNull();
    expect(Object.entries(counts)).toEqual([['__proto__', 5], ['constructor', 50]]);
    expect(JSON.parse(JSON.stringify(wire)).evidence.training_counts).toEqual(JSON.parse('{"__proto__":5,"constructor":50}'));

    const r = stored<Remedy>('{"kind":"class_weight","diagnosis":"class_imbalance","sentence":"s","weights":{"__proto__":5.5,"toString":0.55}}');
    const weights = remedyOnWire(r);
    expect(v.safeParse(RemedySchema, weights).issues).toBeUndefined();
    expect(JSON.stringify(weights)).toBe('{"kind":"class_weight","diagnosis":"class_imbalance","sentence":"s","weights":{"__proto__":5.5,"toString":0.55}}');
  });
});

describe('an input shift as the windows and incidents API carry it', () => {
  it('read back from D1 JSON, validates against the API schemas with its numbers', () => {
    const { diagnoses, remedies } = januaryWindow();
    const stored = JSON.parse(JSON.stringify({ diagnoses, remedies })) as { diagnoses: Diagnosis[]; remedies: Remedy[] };
    const d = diagnosisOnWire(stored.diagnoses[0]!);
    expect(v.safeParse(DiagnosisSchema, d).issues).toBeUndefined();
    if (d.kind !== 'input_shift') throw new Error(d.kind);
    expect(d.evidence.features[0]).toMatchObject({ name: 'temp_max', shift: -1.11, std_ratio: 0.454, standard_error: 0.0898, expected_mean: expect.any(Number) });
    expect(d.evidence.labels[0]).toMatchObject({ label: 'sun', share: 0.05645 });
    const r = remedyOnWire(stored.remedies[0]!);
    expect(v.safeParse(RemedySchema, r).issues).toBeUndefined();
    expect(r).toMatchObject({ kind: 'rebaseline', diagnosis: 'input_shift', seasonality: 'weekly', features: [{ name: 'temp_max', raw: { mean: 8.229, std: 3.327 } }, { name: 'temp_min' }] });
    // A remedy without raw units (a feature with no raw scaler) keeps raw: null.
    const plain = remedyOnWire({ ...(stored.remedies[0] as Extract<Remedy, { kind: 'rebaseline' }>), features: [{ name: 'x', mean: 1, std: 1, shift: 1, raw: null }] });
    expect(v.safeParse(RemedySchema, plain).issues).toBeUndefined();
  });
});
