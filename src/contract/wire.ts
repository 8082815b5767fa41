// The monitor core's objects in the wire's names (snake_case), one converter per shape, for every JSON labelwatch
// sends: the windows and incidents API (routes/) and the webhook payloads (incidents/channels/), so a diagnosis or a
// remedy has one shape wherever it appears. The monitor keeps its camelCase names, and D1 stores them as they are:
// what is read from D1 is converted here, on the way out. Maps keyed by a label (counts, weights) keep the labels as
// keys, copied into null-prototype records (monitor/names.ts): JSON read from D1 is a plain object.
// The shapes are contract/api.ts's and contract/webhooks.ts's schemas (types only here: no schema in the bundle).
// Last, the webhook bodies the outbox stored in an earlier version's schema, brought to the current one when sent.
import type { WireEvaluation, IncidentLatestBody } from './api';
import type { AlertPayload, RetrainPayload, WireDiagnosis, WireProbeSummary, WireRemedy } from './webhooks';
import type { BaselinePhase } from '../monitor/baseline';
import type { Evaluation } from '../monitor/detector';
import type { FitTest } from '../monitor/distribution';
import type { Diagnosis, FeatureComparison, ProbeSummary } from '../monitor/diagnosis';
import type { IncidentWindowSummary } from '../monitor/incident';
import { nameRecord } from '../monitor/names';
import { iso } from '../format';
import type { Remedy } from '../monitor/remedies';

const phaseOnWire = (p: BaselinePhase) => ({ kind: p.kind, from: iso(p.from), to: iso(p.to), cycles: p.cycles, predictions: p.predictions });
const fitOf = (t: FitTest | null) => t && { statistic: t.statistic, df: t.df, p_value: t.pValue };

/** A window's evaluation (the windows API). */
export function evaluationOnWire(e: Evaluation): WireEvaluation {
  const s = e.statistics;
  return {
    verdict: e.verdict,
    n: e.n,
    statistics: {
      top_label: s.topLabel,
      top_share: s.topShare,
      normalized_entropy: s.normalizedEntropy,
      js_distance: s.jsDistance,
      chi_square: fitOf(s.chiSquare),
      g_test: fitOf(s.gTest),
      per_label: s.perLabel.map((l) => ({
        label: l.label,
        count: l.count,
        share: l.share,
        reference_share: l.referenceShare,
        scatter: l.scatter,
        p_low: l.pLow,
        p_high: l.pHigh,
        up: l.up,
        down: l.down,
      })),
    },
    vanished_labels: e.vanishedLabels,
    dominant_label: e.dominantLabel ?? null,
    alpha: e.alpha,
    min_predictions: e.minPredictions,
    required_predictions: e.requiredPredictions,
    baseline: {
      source: e.baseline.source,
      predictions: e.baseline.predictions,
      seasonality: e.baseline.seasonality,
      // Stored before it was kept: unknown, as null says for "no phase held enough".
      phase: e.baseline.phase ? phaseOnWire(e.baseline.phase) : null,
    },
    evidence: { threshold: e.evidence.threshold, false_page_budget: e.evidence.falsePageBudget, accumulated: e.evidence.accumulated },
    drift: e.drift && { distance: e.drift.distance, labels: e.drift.labels.map((l) => ({ label: l.label, share: l.share, reference: l.reference })) },
    known_defect: e.knownDefect,
    reason: e.reason,
  };
}

/**
 * An incident's latest flagged window without its time (the admin API's `latest` adds `window_start`, the alert
 * webhook's `latest_flagged_window` adds `start` and `end`).
 */
export const flaggedWindowOnWire = (w: IncidentWindowSummary): Omit<IncidentLatestBody, 'window_start'> => ({
  verdict: w.verdict,
  n: w.n,
  top_label: w.topLabel,
  top_share: w.topShare,
  dominant_label: w.dominantLabel,
  vanished_labels: w.vanishedLabels,
  reason: w.reason,
});

const probesOf = (p: ProbeSummary): WireProbeSummary => ({
  probes: p.probes,
  accuracy: p.accuracy,
  true_labels: p.trueLabels,
  predicted_labels: p.predictedLabels,
  predicted_counts: nameRecord(p.predictedCounts),
  true_entropy: p.trueEntropy,
  predicted_entropy: p.predictedEntropy,
});

const featureOf = (f: FeatureComparison) => ({
  name: f.name,
  expected_mean: f.expectedMean,
  expected_std: f.expectedStd,
  observed_mean: f.observedMean,
  observed_std: f.observedStd,
});

type InputShift = Extract<WireDiagnosis, { kind: 'input_shift' }>;
type InputShiftFeature = InputShift['evidence']['features'][number];

/**
 * An input_shift feature's move from the recent healthy traffic, in the wire's names. Diagnoses stored before the
 * detector kept the recent inputs have none of it (the fields are absent, not null): they were measured from training
 * alone, which is what the defaults say. One mapping for both places such rows are read from: a window's or an
 * incident's diagnoses in D1, and retraining requests waiting in the outbox (retrainPayloadNow).
 */
const recentMoveOnWire = (
  recentMean: number | null | undefined,
  recentShift: number | null | undefined,
  from: InputShiftFeature['from'] | undefined,
): Pick<InputShiftFeature, 'recent_mean' | 'recent_shift' | 'from'> => ({
  recent_mean: recentMean ?? null,
  recent_shift: recentShift ?? null,
  from: from ?? 'training',
});

/** A diagnosis with its evidence (the windows and incidents API, the retraining webhook). */
export function diagnosisOnWire(d: Diagnosis): WireDiagnosis {
  const head = { confidence: d.confidence, sentence: d.sentence };
  switch (d.kind) {
    case 'preprocessing_lost_variance':
      return {
        kind: d.kind,
        ...head,
        evidence: { zero_row_share: d.evidence.zeroRowShare, features: d.evidence.features.map((f) => ({ ...featureOf(f), std_ratio: f.stdRatio })) },
      };
    case 'scaler_missing': {
      const e = d.evidence;
      return {
        kind: d.kind,
        ...head,
        evidence:
          e.cause === 'inputs_unscaled'
            ? { cause: e.cause, features: e.features.map((f) => ({ ...featureOf(f), z: f.z })), matches_raw_scaler: e.matchesRawScaler }
            : {
                cause: e.cause,
                scale_spread: e.scaleSpread,
                largest: { name: e.largest.name, magnitude: e.largest.magnitude },
                smallest: { name: e.smallest.name, magnitude: e.smallest.magnitude },
                probes: e.probes && probesOf(e.probes),
                window_verdict: e.windowVerdict,
              },
      };
    }
    case 'class_imbalance': {
      const e = d.evidence;
      return {
        kind: d.kind,
        ...head,
        evidence: {
          training_counts: nameRecord(e.trainingCounts),
          imbalance_ratio: e.imbalanceRatio,
          majority_label: e.majorityLabel,
          class_weight_used: e.classWeightUsed,
          dominant_label: e.dominantLabel,
          vanished_labels: e.vanishedLabels,
          inputs_look_like_training: e.inputsLookLikeTraining,
        },
      };
    }
    case 'insufficient_data': {
      const e = d.evidence;
      return {
        kind: d.kind,
        ...head,
        evidence: {
          rule: e.rule,
          features: e.features,
          required_per_label: e.requiredPerLabel,
          short_labels: e.shortLabels.map((s) => ({ label: s.label, count: s.count })),
        },
      };
    }
    case 'degenerate_model':
      return { kind: d.kind, ...head, evidence: { ...probesOf(d.evidence), learning_rate: d.evidence.learningRate, hidden_units: d.evidence.hiddenUnits } };
    case 'input_shift': {
      const e = d.evidence;
      return {
        kind: d.kind,
        ...head,
        evidence: {
          features: e.features.map((f) => ({
            ...featureOf(f),
            shift: f.shift,
            std_ratio: f.stdRatio,
            standard_error: f.standardError,
            ...recentMoveOnWire(f.recentMean, f.recentShift, f.from),
          })),
          probes: e.probes && probesOf(e.probes),
          held_out_accuracy: e.heldOutAccuracy,
          probe_p_value: e.probePValue,
          labels: e.labels.map((l) => ({ label: l.label, share: l.share, baseline_share: l.baselineShare })),
          seasonality: e.seasonality,
          baseline_source: e.baselineSource,
          // Stored before it was kept: unknown, as null says for "no phase held enough".
          baseline_phase: e.baselinePhase ? phaseOnWire(e.baselinePhase) : null,
        },
      };
    }
  }
}

/** A remedy with its parameters (the windows and incidents API, the retraining webhook). */
export function remedyOnWire(r: Remedy): WireRemedy {
  const head = { diagnosis: r.diagnosis, ...(r.after ? { after: r.after } : {}), sentence: r.sentence };
  switch (r.kind) {
    case 'class_weight':
      return { kind: r.kind, ...head, weights: nameRecord(r.weights) };
    case 'resample':
      return { kind: r.kind, ...head, strategy: r.strategy, target_per_label: r.targetPerLabel, add_per_label: nameRecord(r.addPerLabel) };
    case 'scaler':
      return { kind: r.kind, ...head, where: r.where, features: r.features.map((f) => ({ name: f.name, mean: f.mean, std: f.std })) };
    case 'fix_preprocessing':
      return { kind: r.kind, ...head, zero_row_share: r.zeroRowShare, features: r.features.map(featureOf) };
    case 'collect_data':
      return { kind: r.kind, ...head, labels: r.labels, target_per_label: r.targetPerLabel, missing_per_label: nameRecord(r.missingPerLabel) };
    case 'augment':
      return { kind: r.kind, ...head, labels: r.labels, method: r.method, target_per_label: r.targetPerLabel };
    case 'learning_rate':
      return { kind: r.kind, ...head, current: r.current, suggested: r.suggested, evidence: probesOf(r.evidence) };
    case 'capacity':
      return {
        kind: r.kind,
        ...head,
        current_hidden_units: r.currentHiddenUnits,
        suggested_hidden_units: r.suggestedHiddenUnits,
        evidence: probesOf(r.evidence),
      };
    case 'rebaseline':
      return {
        kind: r.kind,
        ...head,
        seasonality: r.seasonality,
        features: r.features.map((f) => ({ name: f.name, mean: f.mean, std: f.std, shift: f.shift, raw: f.raw && { mean: f.raw.mean, std: f.raw.std } })),
      };
  }
}

// ── Payloads stored by an earlier version ──────────────────────────────────────────────────────────────────────────
// The outbox keeps a delivery's body as it was built, and a delivery retried after a deploy (or a dead one retried by
// hand) would go out in the schema of the version that stored it: a receiver validating against the published one
// (additionalProperties: false, required fields) rejects it, and a rejection is a permanent failure. So what is sent
// is the stored body with every field added since, set to what the stored body meant. A body stored by this version
// comes out as it went in, key for key: every attempt of a delivery still sends the same bytes.

/** `T` as stored before the fields `K` were added: they may be absent. */
type Before<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

type WireIncident = AlertPayload['data']['incident'];
/** An alert webhook body in the outbox: one stored before `resolved_with_rebaseline` existed lacks it. */
export type StoredAlertPayload = Omit<AlertPayload, 'data'> & {
  data: Omit<AlertPayload['data'], 'incident'> & { incident: Before<WireIncident, 'resolved_with_rebaseline'> };
};

type StoredDiagnosis =
  | Exclude<WireDiagnosis, InputShift>
  | (Omit<InputShift, 'evidence'> & {
      evidence: Before<Omit<InputShift['evidence'], 'features'>, 'baseline_phase'> & {
        features: Before<InputShiftFeature, 'recent_mean' | 'recent_shift' | 'from'>[];
      };
    });
/**
 * A retraining request in the outbox: one stored before the recent inputs were kept lacks their input_shift fields,
 * and one stored before the phase was kept lacks `baseline_phase`.
 */
export type StoredRetrainPayload = Omit<RetrainPayload, 'data'> & { data: Omit<RetrainPayload['data'], 'diagnoses'> & { diagnoses: StoredDiagnosis[] } };

/**
 * An alert body from the outbox in the current schema. Stored before `resolved_with_rebaseline` was added, the
 * resolution said "recovered", never "declared the new normal" (summary and Slack alike): false, as for every
 * notice but a resolve with rebaseline.
 */
export function alertPayloadNow(stored: StoredAlertPayload): AlertPayload {
  const i = stored.data.incident;
  return { ...stored, data: { ...stored.data, incident: { ...i, resolved_with_rebaseline: i.resolved_with_rebaseline ?? false } } };
}

/**
 * A retraining request from the outbox in the current schema: input_shift features gain their recent move (none), and
 * input_shift its baseline_phase (null: not known).
 */
export function retrainPayloadNow(stored: StoredRetrainPayload): RetrainPayload {
  const diagnoses = stored.data.diagnoses.map((d): WireDiagnosis =>
    d.kind !== 'input_shift'
      ? d
      : {
          ...d,
          evidence: {
            ...d.evidence,
            features: d.evidence.features.map((f) => ({ ...f, ...recentMoveOnWire(f.recent_mean, f.recent_shift, f.from) })),
            baseline_phase: d.evidence.baseline_phase ?? null,
          },
        },
  );
  return { ...stored, data: { ...stored.data, diagnoses } };
}
