// A notice: one incident event worth telling the outside world about, with everything a channel needs to render it.
// Channels are pure functions of a notice; the notice is fixed when the event happens, so every retry of a
// delivery carries the same body.
import { iso, percent } from '../format';
import type { Evaluation } from '../monitor/detector';
import type { Incident, IncidentEvent } from '../monitor/incident';

/** The incident events that notify ('updated' without escalation is for the status page only). */
export type NoticeEvent = Exclude<IncidentEvent, 'updated'>;

export const notifies = (event: IncidentEvent): event is NoticeEvent => event !== 'updated';

export interface Notice {
  event: NoticeEvent;
  /** The incident after the event. */
  incident: Incident;
  /** When labelwatch saw the event (epoch ms): the payloads' timestamp. */
  at: number;
  /** Window length of the model version, seconds: window ends are start + this. */
  windowSeconds: number;
  /** The incident's page on the status page: absolute when PUBLIC_URL is set, else a path. */
  statusUrl: string;
  /** The evaluation of the window behind the event; null for a manual resolve. */
  evaluation: Evaluation | null;
  /** Who resolved it ('monitor': enough healthy windows in a row, 'admin': the admin API); null unless resolved. */
  resolvedBy: 'monitor' | 'admin' | null;
  /**
   * The operator resolved it with `{"rebaseline": true}`: its traffic is the model's new normal, not a recovery. Only
   * the admin API's resolve sets it; false for every other notice.
   */
  resolvedWithRebaseline: boolean;
}

/** `${PUBLIC_URL}/models/<name>` (a bare path without PUBLIC_URL). */
export function statusUrlOf(publicUrl: string | null, model: string): string {
  return `${(publicUrl ?? '').replace(/\/+$/, '')}/models/${encodeURIComponent(model)}`;
}

/** `${PUBLIC_URL}/incidents/<id>`, the incident's own page (a bare path without PUBLIC_URL). */
export function incidentUrlOf(publicUrl: string | null, incidentId: string): string {
  return `${(publicUrl ?? '').replace(/\/+$/, '')}/incidents/${encodeURIComponent(incidentId)}`;
}

export const isAbsoluteUrl = (url: string): boolean => /^https?:\/\//i.test(url);

/** A window as [start, end) in ISO 8601. */
export const windowRange = (start: number, lengthSeconds: number) => ({ start: iso(start), end: iso(start + lengthSeconds) });

/** Labels by share in the event's window, largest first (from the latest flagged window when there is no evaluation). */
export function labelShares(n: Notice): { label: string; share: number }[] {
  if (n.evaluation && n.evaluation.n > 0)
    return n.evaluation.statistics.perLabel
      .map((l) => ({ label: l.label, share: l.share ?? 0 }))
      .sort((a, b) => b.share - a.share);
  const { topLabel, topShare } = n.incident.latest;
  return topLabel === null || topShare === null ? [] : [{ label: topLabel, share: topShare }];
}

/** Labels as a list for a one-line text: at most `max` named, the rest counted, so the line stays one line. */
function labelList(labels: readonly string[], max = 3): string {
  const named = labels.slice(0, max);
  const rest = labels.length - named.length;
  return rest > 0 ? `${named.join(', ')} and ${rest} more` : named.join(', ');
}

/**
 * What happened, from the window behind the event: the label the answers collapsed onto, or the labels that
 * vanished. It names them: "collapsed onto one label" would read the same for every collapse, and a collapse onto
 * another label during an open incident escalates with nothing else to tell it apart.
 */
function whatHappened(i: Incident): string {
  const w = i.latest;
  const onto = w.dominantLabel ?? w.topLabel;
  if (i.kind === 'model_defect') {
    // The label it always answers is implicated too (incident.labels), but it is the one it does answer.
    const missing = labelList(w.vanishedLabels.filter((l) => l !== w.dominantLabel));
    const always = w.dominantLabel !== null && w.topShare !== null ? `answers ${w.dominantLabel} for ${percent(w.topShare)} of its own ${w.n} held-out rows and ` : '';
    return `has a model defect: ${always}never or rarely answers ${missing}${always ? '' : ` on its own ${w.n} held-out rows`}`;
  }
  if (i.kind === 'collapsed') return onto === null ? 'collapsed onto one label' : `collapsed onto ${onto}`;
  return w.vanishedLabels.length > 0 ? `lost ${labelList(w.vanishedLabels)} (partial collapse)` : 'lost labels (partial collapse)';
}

/** One line for humans: what happened to which model, naming the labels involved. */
export function headline(n: Notice): string {
  const i = n.incident;
  const what = whatHappened(i);
  switch (n.event) {
    case 'opened':
      return `${i.model} v${i.version} ${what}`;
    case 'escalated':
      return `${i.model} v${i.version} escalated: ${what}`;
    case 'resolved':
      // Declared normal is not recovered: the traffic stays where it went, and on-call must not read it as back.
      if (n.resolvedWithRebaseline) return `${i.model} v${i.version} resolved by an operator, who declared its current traffic the new normal`;
      return `${i.model} v${i.version} recovered (${n.resolvedBy === 'admin' ? 'resolved by an operator' : 'healthy again'})`;
  }
}
