// The retraining webhook: once per incident, when it opens. It carries what a training pipeline needs to act:
// which model and windows, the statistics behind the verdict, the diagnoses with their evidence and the remedies
// with their parameters (class weights, scaler, learning rate, data to collect). Signed like the alert webhook;
// `data.idempotencyKey` (the incident id, also sent as the Idempotency-Key header) lets the pipeline start one
// retraining per incident however often the request arrives. docs/webhooks.md has the JSON Schema.
import type { Evaluation } from '../../monitor/detector';
import { type Notice, windowRange } from '../notice';

export const RETRAIN_EVENT = 'retrain.requested';

function statisticsOf(e: Evaluation) {
  const s = e.statistics;
  return {
    n: e.n,
    alpha: e.alpha,
    topLabel: s.topLabel,
    topShare: s.topShare,
    normalizedEntropy: s.normalizedEntropy,
    jsDistance: s.jsDistance,
    labels: s.perLabel.map((l) => ({ label: l.label, count: l.count, share: l.share, referenceShare: l.referenceShare })),
  };
}

export function retrainPayload(n: Notice) {
  const i = n.incident;
  return {
    type: RETRAIN_EVENT,
    timestamp: new Date(n.at).toISOString(),
    data: {
      idempotencyKey: i.id,
      incidentId: i.id,
      model: i.model,
      version: i.version,
      windows: {
        first: windowRange(i.firstWindowStart, n.windowSeconds),
        last: windowRange(i.lastWindowStart, n.windowSeconds),
        flagged: i.flaggedWindows,
        lengthSeconds: n.windowSeconds,
      },
      verdict: i.latest.verdict,
      reason: i.latest.reason,
      statistics: n.evaluation ? statisticsOf(n.evaluation) : null,
      diagnoses: i.diagnoses,
      remedies: i.remedies,
      statusUrl: n.statusUrl,
    },
  };
}
