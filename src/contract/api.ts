// The JSON the API answers, one schema per shape: handlers type their bodies with these (InferOutput), and
// /openapi.json describes the responses with the same schemas. Names on the wire are snake_case throughout, as TF
// Serving and KServe write theirs, including inside the monitor's evaluation, diagnoses and remedies (the monitor
// core's camelCase objects are converted by contract/wire.ts). Maps keyed by a label or feature name are records.
import * as v from 'valibot';
import { FeatureSpecSchema, MonitorOverridesSchema, TrainingInfoSchema } from '../serving/metadata';
import { BaselinePhase, BaselineSource, Diagnosis, IncidentKind, Remedy, Seasonality, Verdict } from './webhooks';

const instant = v.pipe(v.string(), v.description('ISO 8601, UTC.'));
const nullableInstant = v.nullable(instant);
const byLabel = v.record(v.string(), v.number());

export const ErrorBody = v.pipe(
  v.object({ error: v.pipe(v.string(), v.description('What is wrong and where, e.g. `instances[3][2]: expected a finite number`.')) }),
  v.description('Every error response: one field.'),
);

export const Health = v.object({ ok: v.literal(true) });

// --- TF Serving REST -------------------------------------------------------------------------------------------

export const ModelStatus = v.object({
  model_version_status: v.array(
    v.object({
      version: v.string(),
      state: v.picklist(['AVAILABLE']),
      status: v.object({ error_code: v.picklist(['OK']), error_message: v.string() }),
    }),
  ),
});

const tensorInfo = v.object({
  dtype: v.picklist(['DT_FLOAT', 'DT_STRING']),
  tensor_shape: v.object({ dim: v.array(v.object({ size: v.string(), name: v.string() })), unknown_rank: v.boolean() }),
  name: v.string(),
});

export const TfModelMetadata = v.object({
  model_spec: v.object({ name: v.string(), signature_name: v.string(), version: v.string() }),
  metadata: v.object({
    signature_def: v.object({
      signature_def: v.record(
        v.string(),
        v.object({ inputs: v.record(v.string(), tensorInfo), outputs: v.record(v.string(), tensorInfo), method_name: v.string() }),
      ),
    }),
  }),
  name: v.string(),
  version: v.string(),
  description: v.nullable(v.string()),
  labels: v.array(v.string()),
  features: v.array(FeatureSpecSchema),
  training: TrainingInfoSchema,
  probes: v.pipe(v.number(), v.description('How many probe rows the package carries.')),
  monitor: v.nullable(MonitorOverridesSchema),
  backend: v.pipe(v.string(), v.description('The TF.js backend in use: always "wasm".')),
});

const labelsOut = v.pipe(v.array(v.string()), v.description('Top label of each row (labelwatch extension).'));
const probabilityRows = v.pipe(v.array(v.array(v.number())), v.description('Per row, the probabilities in `labels` order.'));

export const TfPredictResponse = v.union([
  v.object({ predictions: probabilityRows, labels: labelsOut, model_version: v.string() }),
  v.object({ outputs: probabilityRows, labels: labelsOut, model_version: v.string() }),
]);

export const TfClassifyResponse = v.object({
  result: v.pipe(v.array(v.array(v.tuple([v.string(), v.number()]))), v.description('Per example, [label, score] pairs in label order.')),
  model_version: v.string(),
});

const featureValue = v.union([v.number(), v.pipe(v.array(v.number()), v.length(1))]);

/** One row of TF Serving's row format. */
const TfInstance = v.union([v.array(v.number()), v.record(v.string(), v.number()), v.record(v.string(), v.array(v.number()))]);

export const TfPredictRequest = v.object({
  signature_name: v.optional(v.pipe(v.string(), v.description('Absent, "" or "serving_default".'))),
  instances: v.optional(
    v.pipe(
      v.array(TfInstance),
      v.description('Row format: arrays in feature order, objects keyed by feature name, or {"<input name>": [...]} (a row in feature order under the model\'s input name).'),
    ),
  ),
  inputs: v.optional(
    v.pipe(
      v.union([v.array(v.array(v.number())), v.record(v.string(), v.union([v.array(v.array(v.number())), v.array(v.number())]))]),
      v.description('Columnar format: a tensor of rows, {"<input name>": rows}, or one column per feature.'),
    ),
  ),
});

export const TfClassifyRequest = v.object({
  signature_name: v.optional(v.string()),
  context: v.optional(v.pipe(v.record(v.string(), featureValue), v.description('Features shared by every example.'))),
  examples: v.optional(v.pipe(v.array(v.record(v.string(), featureValue)), v.description('Objects keyed by feature name.'))),
  instances: v.optional(v.array(TfInstance)),
});

// --- KServe V2 / Open Inference Protocol ---------------------------------------------------------------------

export const V2Live = v.object({ live: v.boolean() });
export const V2Ready = v.object({ ready: v.boolean(), error: v.optional(v.string()) });
export const V2ModelReady = v.object({ name: v.string(), ready: v.boolean(), error: v.optional(v.string()) });
export const V2ServerMetadata = v.object({ name: v.string(), version: v.string(), extensions: v.array(v.string()) });

const tensorMetadata = v.object({ name: v.string(), datatype: v.string(), shape: v.array(v.number()) });
export const V2ModelMetadata = v.object({
  name: v.string(),
  versions: v.array(v.string()),
  platform: v.string(),
  inputs: v.array(tensorMetadata),
  outputs: v.array(tensorMetadata),
  parameters: v.object({ labels: v.array(v.string()), features: v.array(v.string()) }),
});

export const V2InferRequest = v.object({
  id: v.optional(v.string()),
  parameters: v.optional(v.record(v.string(), v.unknown())),
  inputs: v.pipe(
    v.array(
      v.object({
        name: v.string(),
        shape: v.array(v.number()),
        datatype: v.picklist(['FP32', 'FP64']),
        parameters: v.optional(v.record(v.string(), v.unknown())),
        data: v.union([v.array(v.number()), v.array(v.array(v.number()))]),
      }),
    ),
    v.length(1),
  ),
  outputs: v.optional(v.array(v.object({ name: v.picklist(['probabilities', 'labels']), parameters: v.optional(v.record(v.string(), v.unknown())) }))),
});

export const V2InferResponse = v.object({
  model_name: v.string(),
  model_version: v.string(),
  id: v.optional(v.string()),
  outputs: v.array(
    v.union([
      v.object({ name: v.literal('probabilities'), shape: v.array(v.number()), datatype: v.literal('FP32'), data: v.array(v.number()) }),
      v.object({ name: v.literal('labels'), shape: v.array(v.number()), datatype: v.literal('BYTES'), data: v.array(v.string()) }),
    ]),
  ),
});

// --- Windows ---------------------------------------------------------------------------------------------------

const nullableNumber = v.nullable(v.number());
const fitTest = v.nullable(v.strictObject({ statistic: v.number(), df: v.number(), p_value: v.number() }));

/** The detector's verdict on a window with the numbers behind it (docs/detection.md). */
export const Evaluation = v.pipe(
  v.strictObject({
    verdict: Verdict,
    n: v.number(),
    statistics: v.strictObject({
      top_label: v.nullable(v.string()),
      top_share: nullableNumber,
      normalized_entropy: v.pipe(nullableNumber, v.description('H / ln k, in [0, 1].')),
      js_distance: v.pipe(nullableNumber, v.description('Jensen–Shannon distance (base 2) to the baseline.')),
      chi_square: fitTest,
      g_test: fitTest,
      per_label: v.array(
        v.strictObject({
          label: v.string(),
          count: v.number(),
          share: nullableNumber,
          reference_share: v.pipe(v.number(), v.description("The label's share in the baseline.")),
          scatter: v.number(),
          p_low: v.number(),
          p_high: v.number(),
          up: v.pipe(v.number(), v.description('Takes-over CUSUM / threshold (1 flags).')),
          down: v.pipe(nullableNumber, v.description('Vanishes CUSUM / threshold (1 flags); null when not watched.')),
        }),
      ),
    }),
    vanished_labels: v.pipe(
      v.array(v.string()),
      v.description(
        'Labels a flagged window lost: their vanish statistic crossed the threshold, or this window alone has them under a quarter of their normal share, beyond chance.',
      ),
    ),
    dominant_label: v.pipe(v.nullable(v.string()), v.description('The label it collapsed onto (collapsed only).')),
    alpha: v.pipe(v.number(), v.description('The per-window false-alarm bound.')),
    min_predictions: v.number(),
    required_predictions: v.number(),
    baseline: v.strictObject({
      source: BaselineSource,
      predictions: v.number(),
      seasonality: Seasonality,
      phase: v.nullable(BaselinePhase),
    }),
    evidence: v.strictObject({ threshold: v.number(), false_page_budget: v.number(), accumulated: v.number() }),
    drift: v.nullable(
      v.strictObject({ distance: v.number(), labels: v.array(v.strictObject({ label: v.string(), share: v.number(), reference: v.number() })) }),
    ),
    known_defect: v.boolean(),
    reason: v.string(),
  }),
  v.description("The detector's verdict with its statistics."),
);

export const WindowView = v.object({
  version: v.string(),
  start: instant,
  start_epoch: v.number(),
  end: instant,
  end_epoch: v.number(),
  length: v.pipe(v.number(), v.description('Seconds.')),
  closed: v.boolean(),
  closed_at: nullableInstant,
  n: v.pipe(v.number(), v.description('Predictions in the window.')),
  counts: v.pipe(byLabel, v.description('Predictions per label; every label of the model is present.')),
  shares: byLabel,
  mean_confidence: nullableNumber,
  mean_entropy: nullableNumber,
  zero_rows: v.number(),
  features: v.pipe(
    v.record(v.string(), v.object({ mean: nullableNumber, std: nullableNumber, min: nullableNumber, max: nullableNumber, zero_share: nullableNumber })),
    v.description('Input statistics per feature.'),
  ),
  verdict: v.nullable(Verdict),
  evaluation: v.pipe(v.nullable(Evaluation), v.description('Null until judged.')),
  diagnoses: v.pipe(v.nullable(v.array(Diagnosis)), v.description('Probable causes, most confident first (flagged windows); null until judged.')),
  remedies: v.nullable(v.array(Remedy)),
});

export const WindowsResponse = v.object({
  model: v.string(),
  version: v.string(),
  since: v.number(),
  until: v.number(),
  limit: v.number(),
  windows: v.array(WindowView),
});

// --- Incidents (admin API) -------------------------------------------------------------------------------------

export const IncidentLatest = v.pipe(
  v.object({
    window_start: instant,
    verdict: IncidentKind,
    n: v.number(),
    top_label: v.nullable(v.string()),
    top_share: nullableNumber,
    dominant_label: v.nullable(v.string()),
    vanished_labels: v.array(v.string()),
    reason: v.string(),
  }),
  v.description('The latest flagged window.'),
);

export const IncidentView = v.object({
  id: v.string(),
  model: v.string(),
  version: v.string(),
  kind: IncidentKind,
  status: v.picklist(['open', 'acknowledged', 'resolved']),
  first_window_start: instant,
  last_window_start: instant,
  flagged_windows: v.number(),
  healthy_streak: v.number(),
  opened_at: instant,
  updated_at: instant,
  acknowledged_at: nullableInstant,
  resolved_at: nullableInstant,
  resolved_by: v.nullable(v.picklist(['monitor', 'admin'])),
  latest: IncidentLatest,
  status_url: v.pipe(v.string(), v.description('The incident page: absolute when PUBLIC_URL is set, else a path.')),
});

export const DeliveryView = v.object({
  id: v.string(),
  incident_id: v.string(),
  channel: v.picklist(['alert', 'pagerduty', 'slack', 'retrain']),
  event: v.picklist(['incident.opened', 'incident.updated', 'incident.resolved', 'incident.acknowledged', 'retrain.requested']),
  status: v.picklist(['pending', 'retrying', 'delivered', 'dead']),
  attempts: v.number(),
  last_status_code: nullableNumber,
  last_error: v.nullable(v.string()),
  created_at: instant,
  next_attempt_at: nullableInstant,
  enqueued_at: nullableInstant,
  delivered_at: nullableInstant,
});

export const IncidentWindow = v.object({
  start: instant,
  end: instant,
  n: v.number(),
  closed: v.boolean(),
  verdict: v.nullable(Verdict),
  reason: v.nullable(v.string()),
  counts: byLabel,
});

/** The traffic someone declared normal that an incident was judged against (IncidentDetail `adopted_baseline`). */
export const AdoptedBaseline = v.pipe(
  v.nullable(
    v.object({
      incident_id: v.pipe(v.string(), v.description('The earlier incident resolved with {"rebaseline": true} whose traffic was adopted.')),
      status_url: v.pipe(v.string(), v.description("That incident's page: absolute when PUBLIC_URL is set, else a path.")),
      applied_at: v.pipe(instant, v.description("When the cron adopted it, before it judged the version's next window.")),
      first_window_start: v.pipe(instant, v.description('The first of the windows adopted.')),
      last_window_start: v.pipe(instant, v.description('The last of the windows adopted.')),
      predictions: v.pipe(v.number(), v.description('Predictions adopted: their label counts became the baseline.')),
    }),
  ),
  v.description(
    "The traffic declared normal that this incident was judged against: the latest rebaseline of its model version that adopted traffic and was applied before this incident's first window was judged (an earlier incident resolved with {\"rebaseline\": true}). Its label counts took the place of the package's reference in the baseline, and the mix before it was declared outdated, so traffic going back to that mix is a change against this baseline. null when there was none (the baseline is the package's reference and the healthy history), and for a model defect, which no baseline judges.",
  ),
);

export const IncidentDetail = v.intersect([
  IncidentView,
  v.object({
    diagnoses: v.pipe(v.array(Diagnosis), v.description('Probable causes with their evidence, most confident first.')),
    remedies: v.pipe(v.array(Remedy), v.description("What to change, with the numbers, in the diagnoses' order.")),
    windows: v.array(IncidentWindow),
    deliveries: v.array(DeliveryView),
    rebaseline: v.pipe(
      v.picklist(['none', 'waiting', 'applied']),
      v.description(
        "Whether the traffic it flagged becomes the model's baseline (resolved with {\"rebaseline\": true}): none asked for, waiting for the cron to apply it before the version's next window, or applied.",
      ),
    ),
    adopted_baseline: AdoptedBaseline,
  }),
]);

export const IncidentList = v.object({ incidents: v.array(IncidentView) });
export const ResolvedIncident = v.intersect([
  IncidentDetail,
  v.object({
    resolved_now: v.pipe(v.boolean(), v.description('Whether this request resolved it (false: it already was).')),
  }),
]);

/** The optional body of a resolve: `{"rebaseline": true}` adopts the traffic the incident flagged as the model's normal. */
export const ResolveRequest = v.pipe(
  v.strictObject({
    rebaseline: v.optional(
      v.pipe(
        v.boolean('expected true or false'),
        v.description(
          "true: the traffic the incident flagged is the model's new normal (inputs that shifted for good, a season nobody declared). The detector's trailing baseline becomes the label counts of its traffic as it is now (its newest windows, back to 100 predictions, leaving out the first one where the traffic was still moving), and its evidence restarts, so traffic that stays there opens no new incident. Without it, a resolved incident whose traffic is still flagged opens a new one at the next window.",
        ),
      ),
      false,
    ),
  }),
  v.description('Optional; an empty body resolves without rebaselining.'),
);
export type ResolveRequestBody = v.InferOutput<typeof ResolveRequest>;

export type IncidentViewBody = v.InferOutput<typeof IncidentView>;
export type IncidentDetailBody = v.InferOutput<typeof IncidentDetail>;
export type AdoptedBaselineBody = v.InferOutput<typeof AdoptedBaseline>;
export type DeliveryViewBody = v.InferOutput<typeof DeliveryView>;
export type IncidentWindowBody = v.InferOutput<typeof IncidentWindow>;
export type WireEvaluation = v.InferOutput<typeof Evaluation>;
export type IncidentLatestBody = v.InferOutput<typeof IncidentLatest>;
export type WindowViewBody = v.InferOutput<typeof WindowView>;
export type WindowsBody = v.InferOutput<typeof WindowsResponse>;
