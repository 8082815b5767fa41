// The generic alert webhook and the Standard Webhooks signature it shares with the retraining webhook.
// Body `{type, timestamp, data}` as the Standard Webhooks spec recommends; events incident.opened,
// incident.updated (escalation only) and incident.resolved. The shape is src/contract/webhooks.ts's AlertWebhook
// (docs/webhooks.md has its JSON Schema).
import { Webhook } from 'standardwebhooks';
import type { AlertEventType, AlertPayload } from '../../contract/webhooks';
import { flaggedWindowOnWire } from '../../contract/wire';
import { headline, type Notice, type NoticeEvent, windowRange } from '../notice';

export type { AlertEventType };

/** An HTTP POST ready to send. */
export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export const ALERT_EVENT: Record<NoticeEvent, AlertEventType> = {
  opened: 'incident.opened',
  escalated: 'incident.updated',
  resolved: 'incident.resolved',
};

/** The alert webhook's body: the monitor's incident in the wire's names (snake_case; the flagged window by contract/wire.ts). */
export function alertPayload(n: Notice): AlertPayload {
  const i = n.incident;
  const w = i.latest;
  return {
    type: ALERT_EVENT[n.event],
    timestamp: new Date(n.at).toISOString(),
    data: {
      summary: headline(n),
      incident: {
        id: i.id,
        model: i.model,
        version: i.version,
        kind: i.kind,
        status: i.status,
        first_window: windowRange(i.firstWindowStart, n.windowSeconds),
        last_window: windowRange(i.lastWindowStart, n.windowSeconds),
        flagged_windows: i.flaggedWindows,
        resolved_by: n.resolvedBy,
        resolved_with_rebaseline: n.resolvedWithRebaseline,
        healthy_streak: i.healthyStreak,
      },
      latest_flagged_window: { ...windowRange(w.windowStart, n.windowSeconds), ...flaggedWindowOnWire(w) },
      diagnoses: i.diagnoses.map((d) => ({ kind: d.kind, confidence: d.confidence, sentence: d.sentence })),
      remedies: i.remedies.map((r) => ({ kind: r.kind, sentence: r.sentence })),
      status_url: n.statusUrl,
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
