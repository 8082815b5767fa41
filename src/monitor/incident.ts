// The incident lifecycle of one model version, as a pure transition: (incident so far, next evaluated window) →
// (incident now, events to deliver). The caller persists the incident and turns events into outbox rows.
//
// One traffic incident per (model, version) at a time; it escalates (and pages again) when its kind gets worse
// (partial_collapse → collapsed) or when the answers collapse onto a label not yet involved: a new collapse during
// an open incident is news, another flagged window of the same collapse is not. Nor is a new collapse whose window,
// like the one before it, is explained by inputs that moved with a model that still answers as validated
// (input_shift): a season or a new population moves the answers on label by label, one story paged once.
//  - flagged window (collapsed / partial_collapse): opens an incident if none is open, else updates it;
//  - healthy and drift windows clear of the alarm (every statistic below RESOLVE_BELOW of the threshold): advance
//    the healthy streak; `resolveAfterHealthy` in a row, spanning at least `resolveQuietSeconds`, resolve the
//    incident. One still near it restarts the streak. So does a window flagged only by the package's known model
//    defect, clear of the alarm but for the defect;
//  - insufficient_data and no_traffic: change nothing. Too few predictions say nothing either way, so they neither
//    break nor extend a healthy streak; a model nobody calls is not evidence that it recovered.
// A model_defect incident is about the package, not its traffic (openModelDefect): it opens once per version and
// lives beside the traffic incidents; windows never advance it.

import type { Diagnosis } from './diagnosis';
import type { Evaluation } from './detector';
import type { Remedy } from './remedies';

/** The kinds a window can open; model_defect comes from the package itself. */
export type TrafficIncidentKind = 'partial_collapse' | 'collapsed';
export type IncidentKind = TrafficIncidentKind | 'model_defect';
export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';

/**
 * What a transition announces. 'opened', 'escalated' and 'resolved' are worth a page/notification; 'updated' means
 * the incident's record changed (another flagged window, newer diagnosis) and is for the status page only.
 */
export type IncidentEvent = 'opened' | 'updated' | 'escalated' | 'resolved';

/** The latest flagged window, as the incident shows it. */
export interface IncidentWindowSummary {
  windowStart: number;
  verdict: IncidentKind;
  /** Predictions in that window (held-out rows for a model defect). */
  n: number;
  topLabel: string | null;
  topShare: number | null;
  dominantLabel: string | null;
  vanishedLabels: string[];
  reason: string;
}

export interface Incident {
  /** Supplied by the caller (newId) when the incident opens. */
  id: string;
  model: string;
  version: string;
  kind: IncidentKind;
  status: IncidentStatus;
  /** Start (epoch seconds) of the window that opened it; equals firstWindowStart. */
  openedAt: number;
  firstWindowStart: number;
  /** Start of the latest flagged window. */
  lastWindowStart: number;
  /** Start of the latest flagged or healthy window this incident has seen: replays of older windows are ignored. */
  lastEvaluatedWindowStart: number;
  flaggedWindows: number;
  /** Every label involved so far (collapsed onto or vanished). */
  labels: string[];
  /** The labels the answers collapsed onto so far: a collapse onto another one escalates. */
  collapsedOnto: string[];
  /**
   * The kind and collapses the incident's pages announced, when a change was recorded without a page (`sameShift`):
   * an escalation is measured against them, so a window no longer explained by moved inputs pages what was only
   * recorded. Absent while every change was paged (kind and collapsedOnto say it then).
   */
  paged?: { kind: IncidentKind; collapsedOnto: string[] };
  /**
   * Every window after the first that changed the incident (a worse kind, a collapse onto a new label) or paged a
   * change recorded before, and whether it paged: the incident page tells on-call which windows paged them and which
   * were recorded because moved inputs explained them (`sameShift`). Absent in incidents stored before it was kept.
   */
  escalations?: { windowStart: number; paged: boolean }[];
  /**
   * Consecutive healthy windows clear of the alarm (RESOLVE_BELOW) since the last flagged one; insufficient_data and
   * no_traffic do not count, and a healthy window still near the threshold starts it again.
   */
  healthyStreak: number;
  /** Start of the streak's first window (absent while there is no streak): the quiet period counts from it. */
  clearSince?: number;
  /** Start of the healthy window that completed the streak. */
  resolvedAt?: number;
  latest: IncidentWindowSummary;
  diagnoses: Diagnosis[];
  remedies: Remedy[];
}

/** One window's outcome, as the cron hands it to the state machine. */
export interface EvaluatedWindow {
  model: string;
  version: string;
  /** Window start, epoch seconds. */
  windowStart: number;
  evaluation: Evaluation;
  diagnoses?: Diagnosis[];
  remedies?: Remedy[];
}

export interface IncidentOptions {
  /** Called once when an incident opens, for its id. */
  newId: () => string;
  /** Consecutive healthy windows that resolve an incident (default 3). */
  resolveAfterHealthy?: number;
  /** How long, at least, those windows must span (seconds; default RESOLVE_QUIET_SECONDS). */
  resolveQuietSeconds?: number;
}

export interface IncidentTransition {
  /** The incident after this window (resolved ones are returned once, with the 'resolved' event); null when none. */
  incident: Incident | null;
  events: IncidentEvent[];
}

const SEVERITY: Record<TrafficIncidentKind, number> = { partial_collapse: 1, collapsed: 2 };

/**
 * A healthy window counts towards resolving an incident only when every statistic (each label's up and down CUSUM,
 * in units of the threshold) is below this: a hysteresis band, as a thermostat or a Schmitt trigger has. The
 * CUSUMs are capped at the threshold so that a recovery is seen at once, and a real one drops them to nothing in a
 * window or two. Traffic hovering at the edge (a daily rhythm on its first day, before there is a yesterday to judge
 * it by) moves them a little above the threshold and a little below, window after window: without the band its
 * incident resolved after three windows just below, and reopened minutes later, paging each time. bench:detect's
 * daily-cycle table counts those pages: 4 to 9 on the first day before the band, 2 or 3 with it.
 */
export const RESOLVE_BELOW = 0.5;

/**
 * How long traffic must stay clear of the alarm before its incident resolves: from the start of the streak's first
 * window to the start of the window that completes it. The band above is not enough on its own for traffic that
 * moved part of the way towards a collapse and stays there (a weekend's mix on a model judged by the hour of day, any
 * season in its first cycle): each window's evidence is then about even, the CUSUM wanders between zero and the
 * threshold, and the incident resolved for an hour and opened again, a page each time. A weekend whose mix moves by
 * e^±0.5 (bench:detect's weekly table, penguins) paged 16 times on its first weekend with the band alone and 8 with
 * an hour's quiet (scratch runs of that scenario), once with three hours (the table); a daily rhythm's first day,
 * 1 to 3 times. A real recovery pays three hours of an
 * incident still open, which on-call can resolve by hand at any time; a page for the same story three times a night
 * costs more. Windows of an hour and longer hardly notice it. RESOLVE_QUIET_MINUTES sets it per deployment.
 */
export const RESOLVE_QUIET_SECONDS = 3 * 3600;

/**
 * Whether a window that is not flagged is also clear of the alarm: no statistic within the band below it. A window
 * flagged by nothing but the package's known model defect (knownDefect) is clear when everything else is: the
 * defect's own statistics, and only they, sit at the threshold (knownDefect says so), for good, since its labels are
 * never answered.
 */
const clearOfAlarm = (e: Evaluation): boolean => {
  const clear = (statistic: number) => statistic < RESOLVE_BELOW || (e.knownDefect && statistic >= 1);
  return e.statistics.perLabel.every((l) => clear(l.up) && clear(l.down ?? 0));
};

/**
 * Whether a flagged window tells the open incident's story again: it and the incident's latest window both lead with
 * `input_shift` (the inputs moved within what the model knows, the model answers its probes as validated, and its
 * answers followed). Traffic that keeps moving keeps moving the answers, label by label: the healthy Seattle model
 * answering one day a month collapses onto sun in July, fog in September, rain in November. Each is shown on the
 * incident; paging for each would page on the season every month. A window led by any other cause (a degenerate
 * model, a lost scaler), or by none, is a new story and pages. So is an `input_shift` whose model was not held to
 * its probes' held-out accuracy (no probes run, or no accuracy to hold them to): without that check the model itself
 * may have changed.
 */
const sameShift = (open: Incident, window: EvaluatedWindow): boolean => {
  const validated = (d: Diagnosis | undefined) => d?.kind === 'input_shift' && d.evidence.probePValue !== null;
  return validated(open.diagnoses[0]) && validated(window.diagnoses?.[0]);
};

/**
 * The verdicts that flag a window: a window with one of them opens or updates an incident, unless nothing but the
 * package's known model defect flagged it (`knownDefect`: the traffic as it normally is on that package).
 */
export const FLAGGING_VERDICTS: readonly TrafficIncidentKind[] = ['partial_collapse', 'collapsed'];

export const isFlagged = (verdict: Evaluation['verdict']): verdict is TrafficIncidentKind =>
  (FLAGGING_VERDICTS as readonly string[]).includes(verdict);

/** Window starts of one model version, from `from` (inclusive) to `to` (exclusive), epoch seconds. */
export interface WindowStarts {
  from: number;
  to: number;
}

/**
 * The windows an incident's label shares are read from, for on-call. `flagged`: from its first flagged window to its
 * last, of which only those the incident counted (a FLAGGING_VERDICTS verdict without knownDefect, as in
 * advanceIncident; the reader filters by verdict). Healthy windows in between or after a recovery, pooled in, dilute
 * the collapse towards normal: an hour at sun 6% and three recovered hours at 38% read "sun 38% → 30%", the opposite
 * of what happened. `clearing`: while an unresolved incident's traffic is clear of the alarm, its healthy streak, from
 * the streak's first window to the latest window the incident saw: what the traffic is now, beside what it was. Null
 * when there is no streak, and once resolved.
 */
export function shareWindows(
  i: Pick<Incident, 'status' | 'firstWindowStart' | 'lastWindowStart'> & Partial<Pick<Incident, 'clearSince' | 'lastEvaluatedWindowStart'>>,
): { flagged: WindowStarts; clearing: WindowStarts | null } {
  const flagged = { from: i.firstWindowStart, to: i.lastWindowStart + 1 };
  const { clearSince, lastEvaluatedWindowStart: latest } = i;
  const streak = i.status !== 'resolved' && typeof clearSince === 'number' && typeof latest === 'number';
  return { flagged, clearing: streak ? { from: clearSince, to: latest + 1 } : null };
}

/** The labels a flagged window implicates: the one answers collapsed onto, and the ones that vanished. */
const implicated = (e: Evaluation): string[] => [...(e.dominantLabel ? [e.dominantLabel] : []), ...e.vanishedLabels];

function summarize(e: Evaluation, windowStart: number, verdict: IncidentKind): IncidentWindowSummary {
  return {
    windowStart,
    verdict,
    n: e.n,
    topLabel: e.statistics.topLabel,
    topShare: e.statistics.topShare,
    dominantLabel: e.dominantLabel ?? null,
    vanishedLabels: e.vanishedLabels,
    reason: e.reason,
  };
}

/**
 * Advances the incident of one model version by one evaluated window. Pass the open (or acknowledged) incident, or
 * null; a resolved incident counts as none. Windows must arrive in order; a window no later than one already seen is
 * a replay and changes nothing.
 */
export function advanceIncident(
  current: Incident | null,
  window: EvaluatedWindow,
  options: IncidentOptions,
): IncidentTransition {
  const resolveAfterHealthy = options.resolveAfterHealthy ?? 3;
  if (!(resolveAfterHealthy >= 1)) throw new RangeError(`resolveAfterHealthy must be >= 1, got ${resolveAfterHealthy}`);
  const resolveQuietSeconds = options.resolveQuietSeconds ?? RESOLVE_QUIET_SECONDS;
  if (!(resolveQuietSeconds >= 0)) throw new RangeError(`resolveQuietSeconds must be >= 0, got ${resolveQuietSeconds}`);
  const open = current && current.status !== 'resolved' ? current : null;
  const verdict = window.evaluation.verdict;

  if (open && window.windowStart <= open.lastEvaluatedWindowStart) return { incident: open, events: [] };

  // A window that shows only the package's own model defect was reported once already (model_defect): no news. For
  // an open traffic incident it is the traffic as it normally is on that package, so it counts towards resolving:
  // the defect flags every window of a package whose model never answers some labels, and the incident of a
  // collapse that recovered stayed open for good, so the next collapse onto the same label paged nobody.
  const defectOnly = isFlagged(verdict) && window.evaluation.knownDefect;

  if (isFlagged(verdict) && !defectOnly) {
    if (!open) {
      return {
        incident: {
          id: options.newId(),
          model: window.model,
          version: window.version,
          kind: verdict,
          status: 'open',
          openedAt: window.windowStart,
          firstWindowStart: window.windowStart,
          lastWindowStart: window.windowStart,
          lastEvaluatedWindowStart: window.windowStart,
          flaggedWindows: 1,
          labels: implicated(window.evaluation),
          collapsedOnto: window.evaluation.dominantLabel ? [window.evaluation.dominantLabel] : [],
          escalations: [],
          healthyStreak: 0,
          latest: summarize(window.evaluation, window.windowStart, verdict),
          diagnoses: window.diagnoses ?? [],
          remedies: window.remedies ?? [],
        },
        events: ['opened'],
      };
    }
    const known = open.labels ?? [];
    const newLabels = implicated(window.evaluation).filter((l) => !known.includes(l));
    const worse = open.kind !== 'model_defect' && SEVERITY[verdict] > SEVERITY[open.kind];
    // A collapse onto a label it had not collapsed onto is a new collapse: page. More labels vanishing is the same story.
    const dominant = window.evaluation.dominantLabel;
    const collapsedOnto = open.collapsedOnto ?? [];
    const newCollapse = dominant !== undefined && !collapsedOnto.includes(dominant);
    // What the pages announced so far: a change only recorded (sameShift) is paged once a window no longer explains it.
    const paged = open.paged ?? { kind: open.kind, collapsedOnto };
    const pageWorthy =
      (paged.kind !== 'model_defect' && SEVERITY[verdict] > SEVERITY[paged.kind]) || (dominant !== undefined && !paged.collapsedOnto.includes(dominant));
    const escalated = pageWorthy && !sameShift(open, window);
    const escalations = worse || newCollapse || escalated ? [...(open.escalations ?? []), { windowStart: window.windowStart, paged: escalated }] : open.escalations;
    return {
      incident: {
        ...open,
        ...(escalations ? { escalations } : {}),
        kind: worse ? verdict : open.kind,
        labels: [...known, ...newLabels],
        collapsedOnto: newCollapse ? [...collapsedOnto, dominant] : collapsedOnto,
        // A page announces everything recorded so far; a change recorded without one leaves what was paged behind.
        paged: escalated ? undefined : worse || newCollapse ? paged : open.paged,
        lastWindowStart: window.windowStart,
        lastEvaluatedWindowStart: window.windowStart,
        flaggedWindows: open.flaggedWindows + 1,
        healthyStreak: 0,
        clearSince: undefined,
        latest: summarize(window.evaluation, window.windowStart, verdict),
        // Keep the last diagnosis when this window came without one (probes are not run on every window).
        diagnoses: window.diagnoses ?? open.diagnoses,
        remedies: window.remedies ?? open.remedies,
      },
      events: [escalated ? 'escalated' : 'updated'],
    };
  }

  if (!open) return { incident: null, events: [] };

  if (verdict === 'healthy' || verdict === 'drift' || defectOnly) {
    const healthyStreak = clearOfAlarm(window.evaluation) ? open.healthyStreak + 1 : 0;
    const clearSince = healthyStreak === 0 ? undefined : healthyStreak === 1 ? window.windowStart : (open.clearSince ?? window.windowStart);
    if (healthyStreak >= resolveAfterHealthy && clearSince !== undefined && window.windowStart - clearSince >= resolveQuietSeconds) {
      return {
        incident: {
          ...open,
          status: 'resolved',
          healthyStreak,
          clearSince,
          lastEvaluatedWindowStart: window.windowStart,
          resolvedAt: window.windowStart,
        },
        events: ['resolved'],
      };
    }
    return { incident: { ...open, healthyStreak, clearSince, lastEvaluatedWindowStart: window.windowStart }, events: [] };
  }

  // insufficient_data, no_traffic: nothing to learn, nothing changes.
  return { incident: open, events: [] };
}

/** The package's own outputs already lack labels its training data has: a defect of the model, not of traffic. */
export interface ModelDefectFinding {
  model: string;
  version: string;
  /** When it was found (epoch seconds): first served, or the start of a backtest. */
  at: number;
  evaluation: Evaluation;
  diagnoses?: Diagnosis[];
  remedies?: Remedy[];
}

/** Opens the one model_defect incident of a model version (the caller checks that none was opened before). */
export function openModelDefect(finding: ModelDefectFinding, newId: () => string): IncidentTransition {
  const e = finding.evaluation;
  return {
    incident: {
      id: newId(),
      model: finding.model,
      version: finding.version,
      kind: 'model_defect',
      status: 'open',
      openedAt: finding.at,
      firstWindowStart: finding.at,
      lastWindowStart: finding.at,
      lastEvaluatedWindowStart: finding.at,
      flaggedWindows: 0,
      labels: implicated(e),
      collapsedOnto: e.dominantLabel ? [e.dominantLabel] : [],
      healthyStreak: 0,
      latest: summarize(e, finding.at, 'model_defect'),
      diagnoses: finding.diagnoses ?? [],
      remedies: finding.remedies ?? [],
    },
    events: ['opened'],
  };
}
