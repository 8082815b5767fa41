// docs/webhooks.md stays true: its JSON Schemas are the ones converted from the valibot schemas
// (src/contract/webhooks.ts), its examples are what the channels build, and the payloads the channels build for every
// event validate against the published schemas (ajv, a real validator) and parse with the valibot schemas. The
// OpenAPI document's `webhooks` point at the same schemas.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { documentedBlocks, WEBHOOKS_DOC, webhookDocBlocks } from '../../scripts/generate-webhook-docs';
import { openApiDocument } from '../../src/contract/openapi';
import { webhookJsonSchemas } from '../../src/contract/webhook-json-schema';
import { AlertWebhook, RetrainWebhook } from '../../src/contract/webhooks';
import { retrainPayload } from '../../src/incidents/channels/retrain';
import { alertPayload } from '../../src/incidents/channels/webhook';
import type { Notice } from '../../src/incidents/notice';
import { readFileSync as read } from 'node:fs';
import { join } from 'node:path';
import { advanceIncident, explainModelDefect, type Incident, modelDefect, openModelDefect } from '../../src/monitor';
import { parseMetadata } from '../../src/serving/metadata';
import type { Diagnosis } from '../../src/monitor/diagnosis';
import type { Remedy } from '../../src/monitor/remedies';
import { collapsedWindow, healthyWindow, januaryWindow, openedIncident, partialWindow, START, WINDOW } from './alerts.fixtures';

const NAMES = ['alert schema', 'alert example', 'retrain schema', 'retrain example'];
const doc = readFileSync(WEBHOOKS_DOC, 'utf8');
const documented = documentedBlocks(doc, NAMES);
const alertSchema = JSON.parse(documented['alert schema']!);
const retrainSchema = JSON.parse(documented['retrain schema']!);

const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
const validateAlert = ajv.compile(alertSchema);
const validateRetrain = ajv.compile(retrainSchema);
/** ajv's complaints, one line each; [] when valid. */
const errorsOf = (validate: typeof validateAlert, value: unknown): string[] =>
  validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '$'} ${e.message} (${e.schemaPath})`);
const wire = (x: unknown) => JSON.parse(JSON.stringify(x));

const { incident, notice } = openedIncident();
const after = (n: Notice, ...windows: ReturnType<typeof collapsedWindow>[]) => {
  let current = n.incident;
  for (const w of windows) current = advanceIncident(current, w, { newId: () => 'unused' }).incident!;
  return current;
};
const resolved: Notice = {
  ...notice,
  event: 'resolved',
  incident: after(notice, healthyWindow(START + WINDOW), healthyWindow(START + 2 * WINDOW), healthyWindow(START + 3 * WINDOW)),
  resolvedBy: 'monitor',
};
// Resolved by hand with {"rebaseline": true}: the traffic declared the new normal.
const declaredNormal: Notice = { ...resolved, resolvedBy: 'admin', resolvedWithRebaseline: true };
const partial = openedIncident(partialWindow(START)).notice;
const escalated: Notice = { ...partial, event: 'escalated', incident: after(partial, collapsedWindow(START + WINDOW)) };

// Every kind of diagnosis and remedy the monitor core can write, with made-up numbers (the real fixtures produce
// only some of them): each must come out in the documented shape.
const probes = { probes: 20, accuracy: 0.35, trueLabels: 3, predictedLabels: 1, predictedCounts: { Adelie: 20 }, trueEntropy: 0.95, predictedEntropy: 0 };
const feature = { name: 'beak_length_mm', expectedMean: 0, expectedStd: 1, observedMean: 43.9, observedStd: 5.4 };
const EVERY_DIAGNOSIS: Diagnosis[] = [
  { kind: 'preprocessing_lost_variance', confidence: 0.9, sentence: 's', evidence: { zeroRowShare: 1, features: [{ ...feature, stdRatio: 0 }] } },
  { kind: 'scaler_missing', confidence: 0.95, sentence: 's', evidence: { cause: 'inputs_unscaled', features: [{ ...feature, z: 43.9 }], matchesRawScaler: true } },
  {
    kind: 'scaler_missing',
    confidence: 0.7,
    sentence: 's',
    evidence: { cause: 'trained_unscaled', scaleSpread: 900, largest: { name: 'body_mass_g', magnitude: 4200 }, smallest: { name: 'beak_depth_mm', magnitude: 17 }, probes, windowVerdict: 'collapsed' },
  },
  {
    kind: 'class_imbalance',
    confidence: 0.5,
    sentence: 's',
    evidence: { trainingCounts: { a: 90, b: 10 }, imbalanceRatio: 9, majorityLabel: 'a', classWeightUsed: false, dominantLabel: 'a', vanishedLabels: ['b'], inputsLookLikeTraining: true },
  },
  { kind: 'insufficient_data', confidence: 0.4, sentence: 's', evidence: { rule: 'r', features: 4, requiredPerLabel: 40, shortLabels: [{ label: 'b', count: 10 }] } },
  { kind: 'degenerate_model', confidence: 0.8, sentence: 's', evidence: { ...probes, learningRate: 0.5, hiddenUnits: null } },
  {
    kind: 'input_shift',
    confidence: 0.85,
    sentence: 's',
    evidence: {
      features: [{ ...feature, observedMean: -1.1, observedStd: 0.45, shift: -1.1, stdRatio: 0.45, standardError: 0.09, recentMean: -0.2, recentShift: -0.9, from: 'training' }],
      probes: { ...probes, accuracy: 0.55, predictedLabels: 3 },
      heldOutAccuracy: 0.69,
      probePValue: 0.138,
      labels: [{ label: 'Gentoo', share: 0.06, baselineShare: 0.38 }],
      seasonality: 'none',
      baselineSource: 'trailing',
    },
  },
];
const EVERY_REMEDY: Remedy[] = [
  { kind: 'class_weight', diagnosis: 'class_imbalance', sentence: 's', weights: { a: 0.5556, b: 5 } },
  { kind: 'resample', diagnosis: 'class_imbalance', after: 'scaler_missing', sentence: 's', strategy: 'oversample', targetPerLabel: 90, addPerLabel: { a: 0, b: 80 } },
  { kind: 'scaler', diagnosis: 'scaler_missing', sentence: 's', where: 'inputs', features: [{ name: 'beak_length_mm', mean: 43.9, std: 5.5 }] },
  { kind: 'fix_preprocessing', diagnosis: 'preprocessing_lost_variance', sentence: 's', zeroRowShare: 1, features: [feature] },
  { kind: 'collect_data', diagnosis: 'insufficient_data', sentence: 's', labels: ['b'], targetPerLabel: 40, missingPerLabel: { b: 30 } },
  { kind: 'augment', diagnosis: 'insufficient_data', sentence: 's', labels: ['b'], method: 'smote', targetPerLabel: 40 },
  { kind: 'learning_rate', diagnosis: 'degenerate_model', sentence: 's', current: 0.5, suggested: 0.05, evidence: probes },
  { kind: 'capacity', diagnosis: 'degenerate_model', sentence: 's', currentHiddenUnits: null, suggestedHiddenUnits: 32, evidence: probes },
  {
    kind: 'rebaseline',
    diagnosis: 'input_shift',
    sentence: 's',
    seasonality: 'none',
    features: [
      { name: 'beak_length_mm', mean: -1.1, std: 0.45, shift: -1.1, raw: { mean: 37.7, std: 2.5 } },
      { name: 'x', mean: 2, std: 1, shift: 2, raw: null },
    ],
  },
];
// A model defect as the cron reports it for the unweighted seattle package: no window flagged it.
const unweighted = parseMetadata(JSON.parse(read(join(import.meta.dirname, '..', '..', 'models/seattle-weather-unweighted/metadata.json'), 'utf8')));
const found = modelDefect(unweighted)!;
const defect = openModelDefect({ model: unweighted.name, version: unweighted.version, at: START, ...explainModelDefect(found, unweighted) }, () => incident.id).incident!;
const modelDefectNotice: Notice = { ...notice, incident: defect, evaluation: found };
const everything: Notice = { ...notice, incident: { ...incident, diagnoses: EVERY_DIAGNOSIS, remedies: EVERY_REMEDY } as Incident };
// A healthy model paged on its own season, explained by the real core: input_shift and its rebaseline remedy.
const january = openedIncident(januaryWindow()).notice;

describe('docs/webhooks.md', () => {
  it('publishes the JSON Schemas converted from the valibot schemas, and examples the code builds (npm run docs:webhooks)', () => {
    const generated = webhookDocBlocks();
    for (const name of NAMES) expect(documented[name], `${name}: run npm run docs:webhooks`).toBe(generated[name]);
    expect(alertSchema).toEqual(webhookJsonSchemas().alert);
    expect(alertSchema.title).toBe('labelwatch alert webhook');
    expect(retrainSchema.title).toBe('labelwatch retraining webhook');
  });

  it('its examples validate against its schemas', () => {
    expect(errorsOf(validateAlert, JSON.parse(documented['alert example']!))).toEqual([]);
    expect(errorsOf(validateRetrain, JSON.parse(documented['retrain example']!))).toEqual([]);
  });

  it.each([
    ['opened', notice],
    ['escalated', escalated],
    ['resolved', resolved],
    ['resolved with {"rebaseline": true}', declaredNormal],
    ['opened (partial collapse)', partial],
    ['opened (every diagnosis and remedy)', everything],
    ['opened (model defect)', modelDefectNotice],
    ['opened (inputs shifted with the season)', january],
  ] as const)('the alert payload of an %s incident validates and parses', (_, n) => {
    const p = wire(alertPayload(n));
    expect(errorsOf(validateAlert, p)).toEqual([]);
    expect(v.parse(AlertWebhook, p)).toEqual(p);
  });

  it.each([
    ['a collapse', notice],
    ['a partial collapse', partial],
    ['every diagnosis and remedy', everything],
    ['no evaluation', { ...notice, evaluation: null }],
    ['a model defect', modelDefectNotice],
    ['inputs that shifted with the season', january],
  ] as const)('the retraining payload of %s validates and parses', (_, n) => {
    const p = wire(retrainPayload(n));
    expect(errorsOf(validateRetrain, p)).toEqual([]);
    expect(v.parse(RetrainWebhook, p)).toEqual(p);
  });

  it('every field we define is snake_case; label names keep their keys', () => {
    const keys = (x: unknown, path: string[] = []): string[] =>
      Array.isArray(x)
        ? x.flatMap((y) => keys(y, path))
        : x !== null && typeof x === 'object'
          ? Object.entries(x).flatMap(([k, y]) => [path.at(-1) && /_(counts|per_label)$|^weights$/.test(path.at(-1)!) ? [] : [k], keys(y, [...path, k])].flat())
          : [];
    const all = [...keys(wire(alertPayload(everything))), ...keys(wire(retrainPayload(everything)))];
    expect(all.filter((k) => !/^[a-z][a-z0-9_]*$/.test(k))).toEqual([]);
    const r = retrainPayload(everything).data;
    expect(r.remedies.find((x) => x.kind === 'resample')).toMatchObject({ after: 'scaler_missing', target_per_label: 90, add_per_label: { a: 0, b: 80 } });
    expect(r.diagnoses.find((x) => x.kind === 'degenerate_model')!.evidence).toMatchObject({ predicted_counts: { Adelie: 20 }, learning_rate: 0.5 });
  });

  it('carries the input shift with its numbers: the moved features, the probes, the labels, the raw moments', () => {
    expect(january.incident.diagnoses.map((d) => d.kind)).toEqual(['input_shift']);
    const r = wire(retrainPayload(january)).data;
    expect(r.diagnoses[0]).toMatchObject({
      kind: 'input_shift',
      confidence: 0.85,
      evidence: { held_out_accuracy: 0.6884, probe_p_value: 0.138, seasonality: 'weekly', baseline_source: 'trailing', probes: { probes: 20, accuracy: 0.55 } },
    });
    expect(r.diagnoses[0].evidence.features.map((f: { name: string; shift: number }) => [f.name, f.shift])).toEqual([['temp_max', -1.11], ['temp_min', -1.1]]);
    expect(r.remedies).toEqual([
      expect.objectContaining({ kind: 'rebaseline', diagnosis: 'input_shift', seasonality: 'weekly', features: [
        expect.objectContaining({ name: 'temp_max', shift: -1.11, raw: { mean: 8.229, std: 3.327 } }),
        expect.objectContaining({ name: 'temp_min', shift: -1.1, raw: { mean: 2.697, std: 3.418 } }),
      ] }),
    ]);
    const a = wire(alertPayload(january)).data;
    expect(a.diagnoses).toEqual([{ kind: 'input_shift', confidence: 0.85, sentence: expect.stringContaining('temp_max −1.11 training stds') }]);
    expect(a.remedies[0].kind).toBe('rebaseline');
  });

  it('the validator does reject what the schemas forbid', () => {
    const bad = wire(retrainPayload(notice));
    bad.data.remedies[2].kind = 'magic';
    delete bad.data.idempotency_key;
    bad.data.statusUrl = bad.data.status_url;
    bad.extra = 1;
    const errors = errorsOf(validateRetrain, bad);
    expect(errors).toContain('$ must NOT have additional properties (#/additionalProperties)');
    expect(errors).toContain("/data must have required property 'idempotency_key' (#/properties/data/required)");
    expect(errors).toContain('/data must NOT have additional properties (#/properties/data/additionalProperties)');
    expect(errors).toContain('/data/remedies/2 must match exactly one schema in oneOf (#/oneOf)');
    expect(v.safeParse(RetrainWebhook, bad).success).toBe(false);
  });
});

describe('/openapi.json webhooks', () => {
  it('are the alert and retraining webhooks, with the same schemas as the document', () => {
    const openapi = openApiDocument('0.0.0') as { webhooks: Record<string, any>; components: { schemas: Record<string, unknown> } };
    expect(Object.keys(openapi.webhooks)).toEqual(['alert', 'retrain']);
    expect(openapi.webhooks.alert.post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/AlertWebhook' });
    expect(openapi.webhooks.retrain.post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/RetrainWebhook' });
    expect(openapi.webhooks.retrain.post.parameters.map((p: { name: string }) => p.name)).toContain('idempotency-key');
    // The same definitions, referenced as components instead of $defs.
    const asComponents = (schema: Record<string, unknown>) => JSON.parse(JSON.stringify(schema).replaceAll('"#/$defs/', '"#/components/schemas/'));
    const { $schema: _s, $id: _i, $defs, ...alert } = alertSchema;
    expect(openapi.components.schemas.AlertWebhook).toEqual(asComponents(alert));
    for (const [name, def] of Object.entries({ ...$defs, ...retrainSchema.$defs })) expect(openapi.components.schemas[name], name).toEqual(asComponents(def as Record<string, unknown>));
  });
});
