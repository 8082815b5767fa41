// An open incident as on-call needs it: which model, since when, how the label shares moved, why, what to do.
import type { FC } from 'hono/jsx';
import type { IncidentRow } from '../../db/status';
import type { Diagnosis } from '../../monitor/diagnosis';
import type { Incident } from '../../monitor/incident';
import type { Remedy } from '../../monitor/remedies';
import { colourOf } from './chart';
import { Diagnoses, Remedies } from './findings';
import { clock, duration, percent, topLabel } from '../../format';
import { VerdictPill } from './layout';

export interface IncidentView {
  incident: IncidentRow;
  /** The model's labels in colour order. */
  labels: string[];
  /** Label counts before the incident: healthy windows of the hour before, else the training set. */
  before: Record<string, number>;
  beforeFrom: 'recent healthy windows' | 'training data';
  /**
   * Label counts of the incident's flagged windows (monitor/incident.ts shareWindows): what the alarm saw, without the
   * healthy windows in between or after. A model defect has none: its traffic since it was found.
   */
  during: Record<string, number>;
  /** The model version's window length (its metadata override, else the default). */
  windowSeconds: number;
  /**
   * An open incident whose traffic is clear of the alarm again: since when (the streak's first window), the earliest a
   * healthy window may resolve it (RESOLVE_AFTER_HEALTHY windows and RESOLVE_QUIET_MINUTES after that), and the label
   * counts of the streak's windows: the traffic now.
   */
  clearing: { since: number; resolvesFrom: number; counts: Record<string, number> } | null;
  diagnoses: Diagnosis[];
  remedies: Remedy[];
}

const shareOf = (counts: Record<string, number>, label: string): number | null => {
  const { total } = topLabel(counts);
  return total > 0 ? (counts[label] ?? 0) / total : null;
};

const Share: FC<{ share: number | null }> = ({ share }) => <>{share === null ? '–' : percent(share)}</>;

/**
 * The label that says what happened, from the flagged windows' counts (`during`): in a partial collapse the one whose
 * share fell most (the top label may hardly have moved: rain 33% → 36% while sun fell 38% → 6%), otherwise the top
 * label of the flagged windows. `now`, its share in the clearing streak's counts (null without a streak).
 */
export function leadLabel(
  kind: string,
  labels: readonly string[],
  before: Record<string, number>,
  during: Record<string, number>,
  clearing: Record<string, number> | null = null,
): { label: string; before: number | null; during: number | null; now: number | null; fell: boolean } | null {
  const top = topLabel(during).top;
  if (!top) return null;
  const now = (label: string) => (clearing ? shareOf(clearing, label) : null);
  if (kind === 'partial_collapse') {
    let fallen: { label: string; before: number; during: number } | null = null;
    for (const label of labels) {
      const b = shareOf(before, label);
      const d = shareOf(during, label);
      if (b !== null && d !== null && b - d > (fallen ? fallen.before - fallen.during : 0)) fallen = { label, before: b, during: d };
    }
    if (fallen) return { ...fallen, now: now(fallen.label), fell: true };
  }
  return { label: top.label, before: shareOf(before, top.label), during: top.share, now: now(top.label), fell: false };
}

/** A share as text with a small bar behind it in the label's colour: the shift reads at a glance. */
const Meter: FC<{ share: number | null; colour: string }> = ({ share, colour }) => (
  <td class="meter">
    <span class="meter-bar" aria-hidden="true">
      <span style={`width:${Math.round((share ?? 0) * 1000) / 10}%;background:${colour}`} />
    </span>
    <Share share={share} />
  </td>
);

/** An incident: on the main and model pages (with a link to its own page), or at the top of that page (`page`). */
export const IncidentCard: FC<{ view: IncidentView; nowSeconds: number; page?: boolean }> = ({ view, nowSeconds, page }) => {
  const { incident: i, labels, before, during, clearing } = view;
  const href = `/incidents/${encodeURIComponent(i.id)}`;
  const lead = leadLabel(i.kind, labels, before, during, clearing?.counts);
  const first = i.firstWindowStart;
  const shown = labels.filter((l) => (before[l] ?? 0) + (during[l] ?? 0) + (clearing?.counts[l] ?? 0) > 0);
  // A model defect was found in the package's own held-out answers when the version was first served, not in a window
  // of traffic: what happened is that finding (the label it always answers, the ones it never does), and it has no
  // flagged windows to count. Traffic since then, if any, is still in the table.
  const defect = i.kind === 'model_defect' ? (i.state as Partial<Incident> | null)?.latest?.reason : undefined;
  return (
    <article class={`card incident k-${i.kind}`} id={`incident-${i.id}`} data-model={i.model}>
      <header class="incident-head">
        <VerdictPill verdict={i.kind} />
        <h3>
          <a href={`/models/${encodeURIComponent(i.model)}`}>{i.model}</a> <span class="version">v{i.version}</span>
        </h3>
        {page ? null : (
          <a class="more" href={href}>
            incident page →
          </a>
        )}
        <span class="since">
          {i.status === 'resolved' && i.resolvedAt !== null ? (
            <>
              resolved · <strong>{clock(first, nowSeconds - first >= 86_400)}–{clock(i.resolvedAt)} UTC</strong> (
              {duration(i.resolvedAt - first)})
            </>
          ) : (
            <>
              {i.status === 'acknowledged' ? 'acknowledged · ' : ''}since <strong>{clock(first, nowSeconds - first >= 86_400)} UTC</strong> (
              {duration(nowSeconds - first)})
            </>
          )}
        </span>
      </header>
      <div class="incident-body">
        <div>
          {defect ? (
            <p class="headline">{defect}</p>
          ) : lead ? (
            <p class="headline">
              {lead.fell ? null : 'Top label '}
              <strong>{lead.label}</strong>
              {lead.fell ? ' fell' : null}: <Share share={lead.before} /> before →{' '}
              <strong>
                <Share share={lead.during} />
              </strong>{' '}
              while flagged
              {clearing ? (
                <>
                  , <Share share={lead.now} /> now
                </>
              ) : null}
              .
            </p>
          ) : (
            <p class="headline">No predictions stored for its flagged windows.</p>
          )}
          {defect ? (
            <p class="muted">
              Found in the package’s own held-out answers when v{i.version} was first served, at{' '}
              {clock(i.openedAt, nowSeconds - i.openedAt >= 86_400)} UTC; traffic neither flags nor resolves it. “Before” is {view.beforeFrom}.
            </p>
          ) : (
            <p class="muted">
              {i.flaggedWindows} flagged window{i.flaggedWindows === 1 ? '' : 's'} of {duration(view.windowSeconds)}, last one at{' '}
              {clock(i.lastWindowStart, false, view.windowSeconds < 60)} UTC. “Before” is {view.beforeFrom}.
            </p>
          )}
          {clearing ? (
            <p class="clearing">
              Healthy again since the window at {clock(clearing.since, false, view.windowSeconds < 60)} UTC (“now” is the traffic since): it resolves by
              itself with a healthy window from {clock(clearing.resolvesFrom, Math.abs(clearing.resolvesFrom - nowSeconds) >= 43_200, view.windowSeconds < 60)} UTC
              on, unless a window is flagged before (or resolve it now).
            </p>
          ) : null}
          <table class="shift">
            <thead>
              <tr>
                <th scope="col">label</th>
                <th scope="col">before</th>
                <th scope="col">{i.kind === 'model_defect' ? 'since' : 'flagged'}</th>
                {clearing ? <th scope="col">now</th> : null}
              </tr>
            </thead>
            <tbody>
              {shown.map((label) => {
                const colour = colourOf(labels.indexOf(label));
                return (
                  <tr>
                    <th scope="row">
                      <span class="swatch" style={`background:${colour}`} />
                      {label}
                    </th>
                    <Meter share={shareOf(before, label)} colour={colour} />
                    <Meter share={shareOf(during, label)} colour={colour} />
                    {clearing ? <Meter share={shareOf(clearing.counts, label)} colour={colour} /> : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <div>
          <h4>Probable cause</h4>
          <Diagnoses diagnoses={view.diagnoses} />
          {view.remedies.length > 0 ? <h4>What to do</h4> : null}
          <Remedies remedies={view.remedies} />
        </div>
      </div>
    </article>
  );
};
