// The retraining webhook: once per incident, when it opens. It carries what a training pipeline needs to act:
// which model and windows, the statistics behind the verdict, the diagnoses with their evidence and the remedies
// with their parameters (class weights, scaler, learning rate, data to collect). Signed like the alert webhook;
// `data.idempotency_key` (the incident id, also sent as the Idempotency-Key header) lets the pipeline start one
// retraining per incident however often the request arrives. The shape is src/contract/webhooks.ts's RetrainWebhook
// (docs/webhooks.md has its JSON Schema). The monitor core's camelCase objects are renamed here, field by field, and
// nowhere else; maps keyed by a label name are passed on as they are (their keys are labels, not field names).
import type { RetrainPayload, WireDiagnosis, WireProbeSummary, WireRemedy } from '../../contract/webhooks';
import type { Evaluation } from '../../monitor/detector';
import type { Diagnosis, FeatureComparison, ProbeSummary } from '../../monitor/diagnosis';
import type { Remedy } from '../../monitor/remedies';
import { type Notice, windowRange } from '../notice';

export const RETRAIN_EVENT = 'retrain.requested';

function statisticsOf(e: Evaluation): NonNullable<RetrainPayload['data']['statistics']> {
  const s = e.statistics;
  return {
    n: e.n,
    alpha: e.alpha,
    top_label: s.topLabel,
    top_share: s.topShare,
    normalized_entropy: s.normalizedEntropy,
    js_distance: s.jsDistance,
    labels: s.perLabel.map((l) => ({ label: l.label, count: l.count, share: l.share, reference_share: l.referenceShare })),
  };
}

const probesOf = (p: ProbeSummary): WireProbeSummary => ({
  probes: p.probes,
  accuracy: p.accuracy,
  true_labels: p.trueLabels,
  predicted_labels: p.predictedLabels,
  predicted_counts: p.predictedCounts,
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

/** A diagnosis in the wire's names. */
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
          training_counts: e.trainingCounts,
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
  }
}

/** A remedy in the wire's names. */
export function remedyOnWire(r: Remedy): WireRemedy {
  const head = { diagnosis: r.diagnosis, ...(r.after ? { after: r.after } : {}), sentence: r.sentence };
  switch (r.kind) {
    case 'class_weight':
      return { kind: r.kind, ...head, weights: r.weights };
    case 'resample':
      return { kind: r.kind, ...head, strategy: r.strategy, target_per_label: r.targetPerLabel, add_per_label: r.addPerLabel };
    case 'scaler':
      return { kind: r.kind, ...head, where: r.where, features: r.features.map((f) => ({ name: f.name, mean: f.mean, std: f.std })) };
    case 'fix_preprocessing':
      return { kind: r.kind, ...head, zero_row_share: r.zeroRowShare, features: r.features.map(featureOf) };
    case 'collect_data':
      return { kind: r.kind, ...head, labels: r.labels, target_per_label: r.targetPerLabel, missing_per_label: r.missingPerLabel };
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
  }
}

export function retrainPayload(n: Notice): RetrainPayload {
  const i = n.incident;
  return {
    type: RETRAIN_EVENT,
    timestamp: new Date(n.at).toISOString(),
    data: {
      idempotency_key: i.id,
      incident_id: i.id,
      model: i.model,
      version: i.version,
      windows: {
        first: windowRange(i.firstWindowStart, n.windowSeconds),
        last: windowRange(i.lastWindowStart, n.windowSeconds),
        flagged: i.flaggedWindows,
        length_seconds: n.windowSeconds,
      },
      verdict: i.latest.verdict,
      reason: i.latest.reason,
      statistics: n.evaluation ? statisticsOf(n.evaluation) : null,
      diagnoses: i.diagnoses.map(diagnosisOnWire),
      remedies: i.remedies.map(remedyOnWire),
      status_url: n.statusUrl,
    },
  };
}
