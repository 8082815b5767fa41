// The retraining webhook: once per incident, when it opens. It carries what a training pipeline needs to act:
// which model and windows, the statistics behind the verdict, the diagnoses with their evidence and the remedies
// with their parameters (class weights, scaler, learning rate, data to collect). Signed like the alert webhook;
// `data.idempotency_key` (the incident id, also sent as the Idempotency-Key header) lets the pipeline start one
// retraining per incident however often the request arrives. The shape is src/contract/webhooks.ts's RetrainWebhook
// (docs/webhooks.md has its JSON Schema). The monitor core's camelCase objects are renamed to the wire's snake_case
// names here (the statistics) and by contract/wire.ts (diagnoses and remedies, in the same shape as the API's).
import type { RetrainPayload } from '../../contract/webhooks';
import { diagnosisOnWire, remedyOnWire } from '../../contract/wire';
import type { Evaluation } from '../../monitor/detector';
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
