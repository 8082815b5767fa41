// PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-API-v2/trigger-events/): a trigger when an
// incident opens or escalates, an acknowledge when an operator acknowledges it (admin API), a resolve when it
// resolves, all with dedup_key = the incident id so PagerDuty keeps one alert per incident. An acknowledge or resolve
// event is only routing_key, event_action and dedup_key: it has no summary or details, so a resolve with
// `{"rebaseline": true}` cannot say there that the traffic was declared normal (the other channels and the incident
// page, which the trigger links to, do). Required: routing_key, event_action, and for a trigger payload.summary (≤ 1024
// characters), payload.source and payload.severity. The routing key is a secret: it is not stored with the
// delivery but added from the configuration when the request is sent.
import { iso, percent, truncate } from '../../format';
import { headline, isAbsoluteUrl, type Notice } from '../notice';
import { comparedWith } from '../../monitor/detector';
import { DIAGNOSIS_TITLES, type Diagnosis } from '../../monitor/diagnosis';
import { own } from '../../monitor/names';

export const SUMMARY_MAX = 1024;

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

/** ` Probable cause: inputs not scaled as in training (85% confidence).`, or nothing without a diagnosis. */
function probableCause(d: Diagnosis | undefined): string {
  if (!d) return '';
  const title = own(DIAGNOSIS_TITLES, d.kind) ?? d.kind;
  const confidence = typeof d.confidence === 'number' ? ` (${Math.round(d.confidence * 100)}% confidence)` : '';
  return ` Probable cause: ${title.charAt(0).toLowerCase()}${title.slice(1)}${confidence}.`;
}

/** The event without its routing_key. */
export function pagerDutyPayload(n: Notice) {
  const i = n.incident;
  if (n.event === 'resolved') return { event_action: 'resolve' as const, dedup_key: i.id };
  const severity: PagerDutySeverity = i.kind === 'collapsed' ? 'critical' : 'error';
  const absolute = isAbsoluteUrl(n.statusUrl);
  const w = i.latest;
  return {
    event_action: 'trigger' as const,
    dedup_key: i.id,
    payload: {
      // The probable cause in a few words right after what happened: a phone shows the summary's start, at 3 a.m.
      summary: truncate(`labelwatch: ${headline(n)}.${probableCause(i.diagnoses[0])} ${w.reason}`, SUMMARY_MAX),
      // The affected system: this labelwatch deployment (its host when PUBLIC_URL is set); the model is the component.
      source: absolute ? new URL(n.statusUrl).host : 'labelwatch',
      severity,
      timestamp: iso(n.at / 1000),
      component: `${i.model}@${i.version}`,
      group: i.model,
      class: i.kind,
      custom_details: {
        incident: i.id,
        model: i.model,
        version: i.version,
        verdict: w.verdict,
        flagged_windows: i.flaggedWindows,
        first_window_start: iso(i.firstWindowStart),
        last_window_start: iso(i.lastWindowStart),
        predictions_in_last_window: w.n,
        top_label: w.topLabel === null || w.topShare === null ? null : `${w.topLabel} ${percent(w.topShare)}`,
        vanished_labels: w.vanishedLabels,
        // What the window behind the trigger was judged against: a season's phase, or the recent level and why.
        compared_with: n.evaluation ? comparedWith(n.evaluation.baseline) : null,
        probable_causes: i.diagnoses.map((d) => d.sentence),
        remedies: i.remedies.map((r) => r.sentence),
        status_page: n.statusUrl,
      },
    },
    // PagerDuty needs absolute links: without PUBLIC_URL there is nothing to link to.
    ...(absolute ? { links: [{ href: n.statusUrl, text: `labelwatch incident page: ${i.model} v${i.version}` }] } : {}),
    client: 'labelwatch',
    ...(absolute ? { client_url: n.statusUrl } : {}),
  };
}

/** The acknowledge event for an incident acknowledged in labelwatch (without its routing_key). */
export const pagerDutyAcknowledge = (incidentId: string) => ({ event_action: 'acknowledge' as const, dedup_key: incidentId });
