// The four channels side by side: which deliveries a notice calls for (only on configured channels), and the HTTP
// request that sends a stored delivery. URLs, signing secrets and the PagerDuty routing key come from the
// configuration at send time; they are never part of a stored payload.
import type { Config } from '../../config';
import { alertPayloadNow, retrainPayloadNow, type StoredAlertPayload, type StoredRetrainPayload } from '../../contract/wire';
import type { Notice } from '../notice';
import { pagerDutyAcknowledge, pagerDutyPayload } from './pagerduty';
import { RETRAIN_EVENT, retrainPayload } from './retrain';
import { slackPayload } from './slack';
import { ALERT_EVENT, alertPayload, type AlertEventType, type HttpRequest, signedRequest } from './webhook';

export type { HttpRequest };

export type ChannelName = 'alert' | 'pagerduty' | 'slack' | 'retrain';
/** An operator acknowledged the incident (admin API): PagerDuty hears it, so its alert stops escalating. */
export const ACKNOWLEDGED_EVENT = 'incident.acknowledged';
export type DeliveryEvent = AlertEventType | typeof RETRAIN_EVENT | typeof ACKNOWLEDGED_EVENT;

/** The channels that page a person, as the log and the page name them. */
const PAGING: { channel: ChannelName; name: string; on: (c: Config) => boolean }[] = [
  { channel: 'alert', name: 'alert webhook', on: (c) => c.alertWebhook !== null },
  { channel: 'pagerduty', name: 'PagerDuty', on: (c) => c.pagerDuty !== null },
  { channel: 'slack', name: 'Slack', on: (c) => c.slack !== null },
];

export const CHANNEL_NAMES: Record<string, string> = { alert: 'alert webhook', pagerduty: 'PagerDuty', slack: 'Slack', retrain: 'retraining webhook' };
export const isPagingChannel = (channel: string): boolean => PAGING.some((p) => p.channel === channel);

/** The configured channels that page someone (alert webhook, PagerDuty, Slack), by name; empty: nobody is paged. */
export const pagedChannels = (config: Config): string[] => PAGING.filter((p) => p.on(config)).map((p) => p.name);

/** One line for the log: who hears about incidents with this configuration. */
export function describeChannels(config: Config): string {
  const paged = pagedChannels(config);
  const retrain = config.retrainWebhook ? 'retraining webhook configured' : 'no retraining webhook';
  return paged.length > 0
    ? `alerts: incidents page ${paged.join(', ')}; ${retrain}`
    : `alerts: NO alert channel configured (ALERT_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, SLACK_WEBHOOK_URL): incidents page nobody; ${retrain}`;
}

/** The deliveries an acknowledgement calls for: PagerDuty's acknowledge event, when PagerDuty is configured. */
export function acknowledgeOutbox(incidentId: string, config: Config): OutboxEntry[] {
  return config.pagerDuty ? [{ channel: 'pagerduty', event: ACKNOWLEDGED_EVENT, payload: pagerDutyAcknowledge(incidentId) }] : [];
}

/** One delivery to write to the outbox. */
export interface OutboxEntry {
  channel: ChannelName;
  event: DeliveryEvent;
  /** The body as sent (PagerDuty's without routing_key). */
  payload: unknown;
}

/**
 * What a notice sends: the alert webhook, PagerDuty and Slack hear about opened, escalated and resolved incidents;
 * the retraining webhook is called once per incident, when it opens.
 */
export function outboxFor(n: Notice, config: Config): OutboxEntry[] {
  const event = ALERT_EVENT[n.event];
  const out: OutboxEntry[] = [];
  if (config.alertWebhook) out.push({ channel: 'alert', event, payload: alertPayload(n) });
  if (config.pagerDuty) out.push({ channel: 'pagerduty', event, payload: pagerDutyPayload(n) });
  if (config.slack) out.push({ channel: 'slack', event, payload: slackPayload(n) });
  if (config.retrainWebhook && n.event === 'opened') out.push({ channel: 'retrain', event: RETRAIN_EVENT, payload: retrainPayload(n) });
  return out;
}

/** A stored delivery, as much of it as sending needs. */
export interface Sendable {
  id: string;
  incidentId: string;
  channel: string;
  payload: unknown;
}

/**
 * A signed webhook's stored body in the schema receivers validate against now (contract/wire.ts): a delivery stored
 * by an earlier version gets the fields added since. A body from before the payloads were snake_case (`statusUrl`,
 * docs/webhooks.md), or one not shaped as labelwatch writes it, matches no version of the schema and goes as stored.
 * The incident page shows a retraining request through it too: what was sent, not what was stored.
 */
export function bodyNow(d: Pick<Sendable, 'channel' | 'payload'>): unknown {
  const data = (d.payload as { data?: { status_url?: unknown; incident?: unknown; diagnoses?: unknown } } | null)?.data;
  if (typeof data?.status_url !== 'string') return d.payload;
  if (d.channel === 'alert' && typeof data.incident === 'object' && data.incident !== null) return alertPayloadNow(d.payload as StoredAlertPayload);
  if (d.channel === 'retrain' && Array.isArray(data.diagnoses)) return retrainPayloadNow(d.payload as StoredRetrainPayload);
  return d.payload;
}

/**
 * The request that sends a delivery now: the same id and body on every attempt (only the signature's timestamp is
 * new; a body stored before an upgrade is sent in the current schema from then on, and signed as sent). Null when its
 * channel is not configured (any more).
 */
export function requestFor(d: Sendable, config: Config, nowMs: number): HttpRequest | null {
  const json = { 'content-type': 'application/json' };
  switch (d.channel) {
    case 'alert': {
      const c = config.alertWebhook;
      return c && signedRequest(c.url, c.secret, d.id, JSON.stringify(bodyNow(d)), nowMs);
    }
    case 'retrain': {
      const c = config.retrainWebhook;
      return c && signedRequest(c.url, c.secret, d.id, JSON.stringify(bodyNow(d)), nowMs, { 'idempotency-key': d.incidentId });
    }
    case 'pagerduty': {
      const c = config.pagerDuty;
      return c && { url: c.eventsUrl, headers: json, body: JSON.stringify({ routing_key: c.routingKey, ...(d.payload as object) }) };
    }
    case 'slack': {
      const c = config.slack;
      return c && { url: c.url, headers: json, body: JSON.stringify(d.payload) };
    }
    default:
      return null;
  }
}
