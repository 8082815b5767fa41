// The webhook payloads, one schema per shape: the alert webhook (incident.opened / incident.updated /
// incident.resolved) and the retraining webhook (retrain.requested). The channels' builders return the types inferred
// from these schemas (they import the types only, so no schema reaches the Worker bundle); docs/webhooks.md's JSON
// Schemas (npm run docs:webhooks) and the `webhooks` of /openapi.json are converted from them. Every field we define
// is snake_case; maps keyed by a label name (class weights, counts per label) keep the labels as their keys.
// `Diagnosis`, `Remedy` and `Verdict` are also the API's (contract/api.ts): the windows and incidents API and the
// retraining webhook carry diagnoses and remedies in one shape, built by one converter (contract/wire.ts).
import * as v from 'valibot';

const instant = (description?: string) =>
  description ? v.pipe(v.string(), v.isoTimestamp(), v.description(description)) : v.pipe(v.string(), v.isoTimestamp());
const count = (min = 0) => v.pipe(v.number(), v.integer(), v.minValue(min));
const share = v.pipe(v.number(), v.minValue(0), v.maxValue(1));
const INCIDENT_ID = /^inc_[0-9A-Z]{26}$/;

/** A time window `[start, end)`, ISO 8601 UTC. */
export const WebhookWindow = v.pipe(v.strictObject({ start: instant(), end: instant() }), v.description('A window [start, end), ISO 8601 UTC.'));

export const IncidentKind = v.pipe(
  v.picklist(['partial_collapse', 'collapsed', 'model_defect']),
  v.description(
    'Severity of a traffic incident (only ever escalates), or model_defect: the package\'s own held-out answers lack labels (reported once per version).',
  ),
);
/** A window's verdict (the windows API's `verdict`, a diagnosis's `window_verdict`). */
export const Verdict = v.picklist(['healthy', 'drift', 'collapsed', 'partial_collapse', 'insufficient_data', 'no_traffic']);

export const DiagnosisKind = v.picklist(['preprocessing_lost_variance', 'scaler_missing', 'class_imbalance', 'insufficient_data', 'degenerate_model', 'input_shift']);
export const RemedyKind = v.picklist(['class_weight', 'resample', 'scaler', 'fix_preprocessing', 'collect_data', 'augment', 'learning_rate', 'capacity', 'rebaseline']);
/** A model's declared seasonality (`monitor.seasonality`, or the deployment's SEASONALITY). */
export const Seasonality = v.picklist(['none', 'daily', 'weekly', 'yearly']);
/** Where a window's baseline came from. */
export const BaselineSource = v.picklist(['seasonal', 'trailing', 'held_out_predictions', 'training_labels']);

/** The seasonal phase a window was held against (the windows API's evaluation `baseline.phase`, input_shift's `baseline_phase`). */
export const BaselinePhase = v.pipe(
  v.strictObject({
    kind: v.pipe(
      v.picklist(['hour_of_week', 'hour_of_day', 'week_of_year']),
      v.description("hour_of_day for a weekly model: the hour of day standing in while earlier weeks hold too few predictions at the hour of the week (its first week)."),
    ),
    from: instant("Start of the span of the window's own cycle the phase covers: the window's hour (week of the year) and the one either side."),
    to: instant('Its end (exclusive). Earlier cycles are compared at the same offsets: Saturdays 13:00–16:00 UTC of earlier weeks.'),
    cycles: v.pipe(v.nullable(count()), v.description('Earlier cycles (weeks, days, years) that put predictions there; null when they were learnt before they were counted.')),
    predictions: v.pipe(v.number(), v.description('Their predictions, decayed: each older cycle weighs half as much as the next.')),
  }),
  v.description(
    "The phase of earlier cycles the window was held against: it judged the window when the baseline's source is seasonal; with trailing it was known but fit the window's answers less well than the recent history. null when no phase held enough predictions yet, or the model has no seasonality.",
  ),
);

// --- Diagnoses with their evidence ------------------------------------------------------------------------------

/** How the model did on its own labelled probe rows. */
export const ProbeSummary = v.pipe(
  v.strictObject({
    probes: count(),
    accuracy: v.pipe(share, v.description('Fraction of probes answered with their true label.')),
    true_labels: v.pipe(count(), v.description('Distinct true labels among the probes.')),
    predicted_labels: v.pipe(count(), v.description('Distinct labels the model answered.')),
    predicted_counts: v.pipe(v.record(v.string(), v.number()), v.description('Answers per label, keyed by label name.')),
    true_entropy: v.pipe(v.number(), v.description('Normalised entropy of the true probe labels.')),
    predicted_entropy: v.pipe(v.number(), v.description('Normalised entropy of the answered probe labels.')),
  }),
  v.description('How the model did on its own labelled probe rows.'),
);

const featureComparison = {
  name: v.string(),
  expected_mean: v.number(),
  expected_std: v.number(),
  observed_mean: v.number(),
  observed_std: v.number(),
};

const diagnosisOf = <K extends string, E extends v.GenericSchema>(kind: K, evidence: E) =>
  v.strictObject({
    kind: v.literal(kind),
    confidence: share,
    sentence: v.string(),
    evidence,
  });

export const Diagnosis = v.pipe(
  v.variant('kind', [
    diagnosisOf(
      'preprocessing_lost_variance',
      v.strictObject({
        zero_row_share: v.pipe(share, v.description('Share of rows whose every feature was exactly 0.')),
        features: v.array(v.strictObject({ ...featureComparison, std_ratio: v.number() })),
      }),
    ),
    diagnosisOf(
      'scaler_missing',
      v.variant('cause', [
        v.strictObject({
          cause: v.literal('inputs_unscaled'),
          features: v.array(v.strictObject({ ...featureComparison, z: v.number() })),
          matches_raw_scaler: v.pipe(v.boolean(), v.description("The window's moments match the raw training scaler: the traffic is in raw units.")),
        }),
        v.strictObject({
          cause: v.literal('trained_unscaled'),
          scale_spread: v.pipe(v.number(), v.description('Largest over smallest feature magnitude.')),
          largest: v.strictObject({ name: v.string(), magnitude: v.number() }),
          smallest: v.strictObject({ name: v.string(), magnitude: v.number() }),
          probes: v.nullable(ProbeSummary),
          window_verdict: Verdict,
        }),
      ]),
    ),
    diagnosisOf(
      'class_imbalance',
      v.strictObject({
        training_counts: v.pipe(v.record(v.string(), v.number()), v.description('Training rows per label, keyed by label name.')),
        imbalance_ratio: v.number(),
        majority_label: v.string(),
        class_weight_used: v.boolean(),
        dominant_label: v.nullable(v.string()),
        vanished_labels: v.array(v.string()),
        inputs_look_like_training: v.pipe(v.boolean(), v.description('No input-side diagnosis fired.')),
      }),
    ),
    diagnosisOf(
      'insufficient_data',
      v.strictObject({
        rule: v.string(),
        features: count(),
        required_per_label: count(),
        short_labels: v.array(v.strictObject({ label: v.string(), count: count() })),
      }),
    ),
    diagnosisOf(
      'degenerate_model',
      v.strictObject({
        ...ProbeSummary.pipe[0].entries,
        learning_rate: v.nullable(v.number()),
        hidden_units: v.nullable(v.number()),
      }),
    ),
    diagnosisOf(
      'input_shift',
      v.strictObject({
        features: v.pipe(
          v.array(
            v.strictObject({
              ...featureComparison,
              shift: v.pipe(v.number(), v.description('(observed mean − expected mean) / expected std: the move in training stds.')),
              std_ratio: v.pipe(v.number(), v.description('Observed std / expected std.')),
              standard_error: v.pipe(v.number(), v.description("The window mean's standard error in training stds, max(1, std_ratio) / √rows.")),
              recent_mean: v.pipe(
                v.nullable(v.number()),
                v.description("The recent healthy traffic's mean of the feature (the windows the trailing baseline holds); null when none is kept."),
              ),
              recent_shift: v.pipe(v.nullable(v.number()), v.description('(observed mean − recent_mean) / expected std; null without recent_mean.')),
              from: v.pipe(v.picklist(['training', 'recent']), v.description('Which move cleared the noise by more: from the training mean, or from recent_mean.')),
            }),
          ),
          v.description(
            'Features whose window mean moved at least 0.5 training stds beyond 3 standard errors, from the training mean or from the recent healthy traffic\'s, most moved first.',
          ),
        ),
        probes: v.pipe(v.nullable(ProbeSummary), v.description("The model on its own probes; null when none were run.")),
        held_out_accuracy: v.pipe(v.nullable(share), v.description("The package's training.accuracy, what the probes are held to.")),
        probe_p_value: v.pipe(
          v.nullable(share),
          v.description('P[X ≤ probes answered right] for X ~ Bin(probes, held_out_accuracy); null without probes or accuracy.'),
        ),
        labels: v.pipe(
          v.array(v.strictObject({ label: v.string(), share, baseline_share: share })),
          v.description("Labels whose share moved by at least 5 points against the window's baseline, most moved first."),
        ),
        seasonality: v.pipe(Seasonality, v.description('The seasonality the window was judged with.')),
        baseline_source: v.pipe(BaselineSource, v.description("Where the window's baseline came from.")),
        baseline_phase: v.nullable(BaselinePhase),
      }),
    ),
  ]),
  v.description('A probable cause: `confidence` in [0, 1] says how strongly the evidence points at it; `evidence` holds the numbers, by `kind`.'),
);

// --- Remedies with their parameters -----------------------------------------------------------------------------

const remedyOf = <K extends string, E extends v.ObjectEntries>(kind: K, entries: E) =>
  v.strictObject({
    kind: v.literal(kind),
    diagnosis: DiagnosisKind,
    after: v.optional(DiagnosisKind),
    sentence: v.string(),
    ...entries,
  });

export const Remedy = v.pipe(
  v.variant('kind', [
    remedyOf('class_weight', { weights: v.pipe(v.record(v.string(), v.number()), v.description('n / (k · n_c) per label, keyed by label name.')) }),
    remedyOf('resample', {
      strategy: v.literal('oversample'),
      target_per_label: count(),
      add_per_label: v.pipe(v.record(v.string(), v.number()), v.description('Rows to add per label, keyed by label name.')),
    }),
    remedyOf('scaler', {
      where: v.pipe(v.picklist(['inputs', 'training']), v.description('inputs: standardize before predicting; training: retrain on standardized inputs.')),
      features: v.array(v.strictObject({ name: v.string(), mean: v.number(), std: v.number() })),
    }),
    remedyOf('fix_preprocessing', { zero_row_share: share, features: v.array(v.strictObject(featureComparison)) }),
    remedyOf('collect_data', {
      labels: v.array(v.string()),
      target_per_label: count(),
      missing_per_label: v.pipe(v.record(v.string(), v.number()), v.description('Rows to collect per label, keyed by label name.')),
    }),
    remedyOf('augment', { labels: v.array(v.string()), method: v.literal('smote'), target_per_label: count() }),
    remedyOf('learning_rate', { current: v.nullable(v.number()), suggested: v.number(), evidence: ProbeSummary }),
    remedyOf('capacity', { current_hidden_units: v.nullable(count()), suggested_hidden_units: count(1), evidence: ProbeSummary }),
    remedyOf('rebaseline', {
      seasonality: v.pipe(Seasonality, v.description('The seasonality the window was judged with (none: none declared).')),
      features: v.pipe(
        v.array(
          v.strictObject({
            name: v.string(),
            mean: v.pipe(v.number(), v.description('Window mean, model units.')),
            std: v.pipe(v.number(), v.description('Window std, model units.')),
            shift: v.pipe(v.number(), v.description('The move in training stds.')),
            raw: v.pipe(
              v.nullable(v.strictObject({ mean: v.number(), std: v.number() })),
              v.description('The same moments in raw units (the scaler recent data would give), when the feature has a raw scaler.'),
            ),
          }),
        ),
        v.description('The moved features as the window saw them.'),
      ),
    }),
  ]),
  v.description(
    'What to change, with the numbers a retraining pipeline acts on (by `kind`). `diagnosis`: the diagnosis it answers. `after`, present when another diagnosis explains the window with high confidence (≥ 0.85): this remedy is for after that one is fixed, if the problem persists.',
  ),
);

// --- The alert webhook ------------------------------------------------------------------------------------------

export const ALERT_EVENT_TYPES = ['incident.opened', 'incident.updated', 'incident.resolved'] as const;

const statusUrl = v.pipe(v.string(), v.description('The incident page: PUBLIC_URL + /incidents/<id> (a path without PUBLIC_URL).'));

export const WebhookIncident = v.strictObject({
  id: v.pipe(v.string(), v.regex(INCIDENT_ID)),
  model: v.string(),
  version: v.string(),
  kind: IncidentKind,
  status: v.picklist(['open', 'acknowledged', 'resolved']),
  first_window: WebhookWindow,
  /** The latest flagged window. */
  last_window: WebhookWindow,
  flagged_windows: v.pipe(count(), v.description('Flagged windows so far; 0 for a model defect, which no window flagged.')),
  resolved_by: v.pipe(v.nullable(v.picklist(['monitor', 'admin'])), v.description('Who resolved it; null unless resolved.')),
  resolved_with_rebaseline: v.pipe(
    v.boolean(),
    v.description(
      `true: an operator resolved it with {"rebaseline": true}, declaring the traffic it flagged the model's new normal; labelwatch adopts that traffic as the baseline before it judges the version's next window, so traffic that stays there opens no new incident, and traffic going back to the old mix may. false on every other event and resolution.`,
    ),
  ),
  healthy_streak: count(),
});

export const AlertWebhook = v.pipe(
  v.strictObject({
    type: v.pipe(v.picklist(ALERT_EVENT_TYPES), v.description('incident.updated: the incident escalated (paged again).')),
    timestamp: instant('When labelwatch saw the event.'),
    data: v.strictObject({
      summary: v.pipe(v.string(), v.description('One line for humans.')),
      incident: WebhookIncident,
      latest_flagged_window: v.strictObject({
        start: instant(),
        end: instant(),
        verdict: IncidentKind,
        n: v.pipe(count(), v.description('Predictions in the window (held-out rows for a model defect).')),
        top_label: v.nullable(v.string()),
        top_share: v.nullable(share),
        dominant_label: v.pipe(v.nullable(v.string()), v.description('The label it collapsed onto (collapsed only).')),
        vanished_labels: v.pipe(
          v.array(v.string()),
          v.description(
            'Labels the window lost: their vanish statistic crossed the threshold, or this window alone has them under a quarter of their normal share, beyond chance. For a model defect: the labels its held-out answers lack.',
          ),
        ),
        reason: v.string(),
      }),
      diagnoses: v.pipe(
        v.array(v.strictObject({ kind: DiagnosisKind, confidence: share, sentence: v.string() })),
        v.description('Probable causes, most confident first.'),
      ),
      remedies: v.pipe(
        v.array(v.strictObject({ kind: RemedyKind, sentence: v.string() })),
        v.description("What to change, in the diagnoses' order. The retraining webhook carries their parameters."),
      ),
      status_url: statusUrl,
    }),
  }),
  v.title('labelwatch alert webhook'),
);

// --- The retraining webhook -------------------------------------------------------------------------------------

export const RETRAIN_EVENT_TYPE = 'retrain.requested';

export const RetrainStatistics = v.pipe(
  v.strictObject({
    n: count(),
    alpha: v.pipe(v.number(), v.description('The per-window false-alarm bound the false-page budget implies: window length / (one year / budget).')),
    top_label: v.nullable(v.string()),
    top_share: v.nullable(share),
    normalized_entropy: v.pipe(v.nullable(v.number()), v.description('H / ln k, in [0, 1].')),
    js_distance: v.pipe(v.nullable(v.number()), v.description('Jensen–Shannon distance (base 2) to the reference.')),
    labels: v.array(v.strictObject({ label: v.string(), count: count(), share: v.nullable(share), reference_share: share })),
  }),
  v.description("The window that opened the incident against the model's reference distribution."),
);

export const RetrainWebhook = v.pipe(
  v.strictObject({
    type: v.literal(RETRAIN_EVENT_TYPE),
    timestamp: instant('When labelwatch saw the event.'),
    data: v.strictObject({
      idempotency_key: v.pipe(v.string(), v.description('The incident id: start one retraining per key.')),
      incident_id: v.pipe(v.string(), v.regex(INCIDENT_ID)),
      model: v.string(),
      version: v.string(),
      windows: v.strictObject({
        first: WebhookWindow,
        last: WebhookWindow,
        flagged: v.pipe(count(), v.description('Flagged windows so far; 0 for a model defect.')),
        length_seconds: count(1),
      }),
      verdict: IncidentKind,
      reason: v.string(),
      statistics: v.nullable(RetrainStatistics),
      diagnoses: v.pipe(v.array(Diagnosis), v.description('Probable causes with their evidence, most confident first.')),
      remedies: v.pipe(v.array(Remedy), v.description("What to change, with the numbers, in the diagnoses' order.")),
      status_url: statusUrl,
    }),
  }),
  v.title('labelwatch retraining webhook'),
);

export type AlertPayload = v.InferOutput<typeof AlertWebhook>;
export type AlertEventType = AlertPayload['type'];
export type RetrainPayload = v.InferOutput<typeof RetrainWebhook>;
export type WireDiagnosis = v.InferOutput<typeof Diagnosis>;
export type WireRemedy = v.InferOutput<typeof Remedy>;
export type WireProbeSummary = v.InferOutput<typeof ProbeSummary>;

/**
 * The shapes the JSON Schemas reference by name rather than inline: $defs of docs/webhooks.md's schemas,
 * components.schemas of /openapi.json.
 */
export const WEBHOOK_DEFINITIONS = {
  Window: WebhookWindow,
  IncidentKind,
  DiagnosisKind,
  RemedyKind,
  ProbeSummary,
  Diagnosis,
  Remedy,
  WebhookIncident,
  RetrainStatistics,
};
