// The generic alert webhook and the Standard Webhooks signature it shares with the retraining webhook.
// Body `{type, timestamp, data}` as the Standard Webhooks spec recommends; events incident.opened,
// incident.updated (escalation only) and incident.resolved. docs/webhooks.md has the JSON Schema.
import { Webhook } from 'standardwebhooks';
import { headline, incidentSummary, type Notice, type NoticeEvent, windowRange } from '../notice';

/** An HTTP POST ready to send. */
export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type AlertEventType = 'incident.opened' | 'incident.updated' | 'incident.resolved';

export const ALERT_EVENT: Record<NoticeEvent, AlertEventType> = {
  opened: 'incident.opened',
  escalated: 'incident.updated',
  resolved: 'incident.resolved',
};

export function alertPayload(n: Notice) {
  const i = n.incident;
  const w = i.latest;
  return {
    type: ALERT_EVENT[n.event],
    timestamp: new Date(n.at).toISOString(),
    data: {
      summary: headline(n),
      incident: { ...incidentSummary(n), healthyStreak: i.healthyStreak },
      latestFlaggedWindow: {
        ...windowRange(w.windowStart, n.windowSeconds),
        verdict: w.verdict,
        n: w.n,
        topLabel: w.topLabel,
        topShare: w.topShare,
        dominantLabel: w.dominantLabel,
        vanishedLabels: w.vanishedLabels,
        reason: w.reason,
      },
      diagnoses: i.diagnoses.map((d) => ({ kind: d.kind, confidence: d.confidence, sentence: d.sentence })),
      remedies: i.remedies.map((r) => ({ kind: r.kind, sentence: r.sentence })),
      statusUrl: n.statusUrl,
    },
  };
}

/**
 * A POST signed per Standard Webhooks: `webhook-id` (the delivery id, the same on every attempt, so receivers can
 * deduplicate), `webhook-timestamp` (this attempt) and `webhook-signature` = v1,base64(HMAC-SHA256(key,
 * "id.timestamp.body")) computed by the `standardwebhooks` package (pure JavaScript, so it runs in workerd as is).
 */
export function signedRequest(url: string, secret: string, id: string, body: string, nowMs: number, headers: Record<string, string> = {}): HttpRequest {
  const timestamp = new Date(nowMs);
  return {
    url,
    body,
    headers: {
      'content-type': 'application/json',
      ...headers,
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(nowMs / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, timestamp, body),
    },
  };
}
