// One incident on its own page, `/incidents/{id}`: where a page's link lands. What happened when (the timeline, with
// every delivery attempt), the windows involved as a chart, the label shares before and during, the diagnosis with
// its evidence and the remedies, and the retraining request as it was sent; and, when it was judged against traffic
// someone declared normal (an earlier incident resolved with a rebaseline), whose traffic that was.
import type { FC } from 'hono/jsx';
import { bodyNow, CHANNEL_NAMES } from '../../incidents/channels';
import type { DeliveryStatusRow } from '../../db/deliveries';
import type { AdoptedTraffic, DeliveryAttemptRow, IncidentRow, RebaselineRow, WindowVerdict } from '../../db/status';
import { comparedWith } from '../../monitor/detector';
import type { Incident } from '../../monitor/incident';
import { IncidentCard, type IncidentView } from './incidents';
import { clock, duration, lengthWords, redactUrls, verdictWords } from '../../format';
import { ModelCard, type ModelView } from './model-card';
import type { RangeName } from './range';

export interface TimelineEntry {
  /** Epoch seconds. */
  at: number;
  kind: 'window' | 'opened' | 'escalated' | 'delivery' | 'attempt' | 'acknowledged' | 'resolved' | 'rebaseline';
  text: string;
  /** A state word for the eye (delivered, dead, …). */
  status?: string;
}

/** Flagged kinds by severity; a kind this page does not know ranks above them all (new kinds are the lead's news). */
const SEVERITY: Record<string, number> = { insufficient_data: 0, partial_collapse: 1, collapsed: 2 };
const severityOf = (v: string) => SEVERITY[v] ?? 3;
const FLAGGED = (v: string | null): v is string => v !== null && v !== 'healthy' && v !== 'no_traffic' && v !== 'insufficient_data';

export interface TimelineInput {
  incident: IncidentRow;
  windowSeconds: number;
  /** Verdicts of the model version's windows from the first flagged window on, oldest first. */
  verdicts: readonly WindowVerdict[];
  deliveries: readonly DeliveryStatusRow[];
  attempts: readonly DeliveryAttemptRow[];
  /** The rebaseline asked for with its resolve, if any. */
  rebaseline?: RebaselineRow;
}

const windowWords = (start: number, length: number) => `${clock(start, false, length < 60)}–${clock(start + length, false, length < 60)} UTC`;
/** "collapsed onto rain", "partial collapse": a collapse names its label, so a collapse onto another one reads as news. */
const verdictOnto = (verdict: string, onto: string | null | undefined) => `${verdictWords(verdict)}${verdict === 'collapsed' && onto ? ` onto ${onto}` : ''}`;
const channelWords = (d: DeliveryStatusRow) => `${CHANNEL_NAMES[d.channel] ?? d.channel} · ${d.event}`;

/** What a flagged window was judged against, as a clause; nothing for a window whose evaluation did not say. */
const against = (w: WindowVerdict | undefined) => (w?.baseline ? `, against ${comparedWith(w.baseline)}` : '');

/**
 * The incident's changes as the state machine recorded them (`Incident.escalations`, monitor/incident.ts): each
 * window that changed it (a worse kind, a collapse onto a new label) or paged a change recorded before, and whether
 * it paged. A change recorded without a page was explained, like the window before it, by inputs that moved
 * (input_shift); the window that pages next announces it too.
 */
function recordedChanges(escalations: readonly { windowStart: number; paged: boolean }[], verdicts: readonly WindowVerdict[], windowSeconds: number): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  let unpaged: number | null = null;
  for (const e of escalations) {
    const w = verdicts.find((v) => v.start === e.windowStart);
    const where = `window ${windowWords(e.windowStart, windowSeconds)}`;
    const what = w && FLAGGED(w.verdict) ? `${verdictOnto(w.verdict, w.dominantLabel)} in ${where}` : where;
    if (!e.paged) {
      out.push({ at: e.windowStart, kind: 'window', text: `Recorded without a page: ${what} (explained, like the window before it, by inputs that moved: input_shift)${against(w)}` });
      unpaged ??= e.windowStart;
      continue;
    }
    const announces = unpaged === null ? '' : `, paging the change recorded without a page in window ${windowWords(unpaged, windowSeconds)} (no longer explained by moved inputs)`;
    out.push({ at: e.windowStart, kind: 'escalated', text: `Escalated: ${what}${announces}${against(w)}` });
    unpaged = null;
  }
  return out;
}

/**
 * An incident stored before `escalations` was kept: its changes worked out from its windows' verdicts, by the state
 * machine's rule of that time (a flagged window more severe than every one before it in the incident, or one that
 * collapsed onto a label the answers had not collapsed onto before in it); each paged.
 */
function derivedChanges(i: IncidentRow, verdicts: readonly WindowVerdict[], windowSeconds: number): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const first = i.firstWindowStart;
  const firstWindow = verdicts.find((w) => w.start === first);
  const firstVerdict = firstWindow?.verdict ?? null;
  let worst = firstVerdict !== null && FLAGGED(firstVerdict) ? severityOf(firstVerdict) : -1;
  const collapsedOnto = new Set(firstWindow?.dominantLabel ? [firstWindow.dominantLabel] : []);
  for (const w of verdicts) {
    if (w.start <= first || w.start > i.lastWindowStart || !FLAGGED(w.verdict)) continue;
    const worse = severityOf(w.verdict) > worst;
    const newCollapse = w.dominantLabel !== null && !collapsedOnto.has(w.dominantLabel);
    if (worst >= 0 && (worse || newCollapse))
      out.push({ at: w.start, kind: 'escalated', text: `Escalated${worse ? ' to ' : ': '}${verdictOnto(w.verdict, w.dominantLabel)} in window ${windowWords(w.start, windowSeconds)}${against(w)}` });
    worst = Math.max(worst, severityOf(w.verdict));
    if (w.dominantLabel !== null) collapsedOnto.add(w.dominantLabel);
  }
  return out;
}

/** What happened, in order: windows (by their start), labelwatch's own actions (when it took them), every attempt. */
export function timelineOf({ incident: i, windowSeconds, verdicts, deliveries, attempts, rebaseline }: TimelineInput): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const first = i.firstWindowStart;
  const firstWindow = verdicts.find((w) => w.start === first);
  const firstVerdict = firstWindow?.verdict ?? null;
  const opening = firstVerdict === null ? verdictWords(i.kind) : verdictOnto(firstVerdict, firstWindow?.dominantLabel);
  // A model defect has no flagged window: its "first window" is when the package's held-out answers were checked.
  if (i.kind === 'model_defect') out.push({ at: first, kind: 'window', text: 'Model defect found in the package’s own held-out answers (no window of traffic flagged it)' });
  else out.push({ at: first, kind: 'window', text: `First flagged window ${windowWords(first, windowSeconds)}: ${opening}${against(firstWindow)}` });
  out.push({ at: i.openedAt, kind: 'opened', text: `labelwatch opened the incident (${opening})` });
  const state = (i.state ?? {}) as Partial<Incident>;
  const escalations = Array.isArray(state.escalations)
    ? state.escalations.filter((e) => typeof e?.windowStart === 'number' && typeof e.paged === 'boolean')
    : null;
  if (escalations) out.push(...recordedChanges(escalations, verdicts, windowSeconds));
  else out.push(...derivedChanges(i, verdicts, windowSeconds));
  if (i.lastWindowStart !== i.firstWindowStart)
    out.push({
      at: i.lastWindowStart,
      kind: 'window',
      text: `Last flagged window ${windowWords(i.lastWindowStart, windowSeconds)} (${i.flaggedWindows} flagged in all)`,
    });
  // An acknowledgement, a resolve by hand and its rebaseline before the notifications they queued at the same second.
  if (i.acknowledgedAt !== null) out.push({ at: i.acknowledgedAt, kind: 'acknowledged', text: 'Acknowledged by an operator' });
  if (i.resolvedAt !== null) {
    // The streak's first window (clearSince); an incident stored before it was kept counts back from the last one.
    const clearFrom = typeof state.clearSince === 'number' ? state.clearSince : typeof state.resolvedAt === 'number' ? state.resolvedAt - (i.healthyStreak - 1) * windowSeconds : null;
    const healthyWindow = clearFrom !== null && i.resolvedBy !== 'admin' ? ` (healthy again from window ${windowWords(clearFrom, windowSeconds)})` : '';
    out.push({
      at: i.resolvedAt,
      kind: 'resolved',
      text: i.resolvedBy === 'admin' ? 'Resolved by an operator' : `Resolved by the monitor after ${i.healthyStreak} healthy windows in a row${healthyWindow}`,
    });
  }
  // Whoever lands here later must see that the detector's baseline moved: later windows are judged against this traffic.
  if (rebaseline) {
    out.push({ at: rebaseline.requestedAt, kind: 'rebaseline', text: 'Rebaseline asked: the traffic this incident flagged is to become the model’s baseline' });
    const { appliedAt, adoptedFrom, adoptedTo, adoptedPredictions } = rebaseline;
    if (appliedAt !== null)
      out.push({
        at: appliedAt,
        kind: 'rebaseline',
        text:
          adoptedFrom !== null && adoptedTo !== null && adoptedPredictions !== null
            ? `Rebaseline applied: later windows are judged against this traffic (${adoptedPredictions} predictions, windows ${clock(adoptedFrom, false, windowSeconds < 60)}–${clock(adoptedTo + windowSeconds, false, windowSeconds < 60)} UTC), not the package’s reference`
            : 'Rebaseline applied with no traffic to adopt: only the evidence restarted',
      });
  }
  for (const d of deliveries) {
    out.push({ at: d.createdAt, kind: 'delivery', text: `${channelWords(d)}: queued` });
    const mine = attempts.filter((a) => a.deliveryId === d.id);
    for (const a of mine)
      out.push({
        at: a.at,
        kind: 'attempt',
        text: `${channelWords(d)}: attempt ${a.attempt}: ${a.statusCode !== null ? `HTTP ${a.statusCode}` : 'no answer'}${a.error ? ` (${redactUrls(a.error).slice(0, 140)})` : ''}`,
        status: a.outcome,
      });
    // Rows from before attempts were recorded one by one: their summary.
    if (mine.length === 0 && d.attempts > 0)
      out.push({
        at: d.deliveredAt ?? d.nextAttemptAt ?? d.createdAt,
        kind: 'attempt',
        text: `${channelWords(d)}: ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}, last ${d.lastStatusCode !== null ? `HTTP ${d.lastStatusCode}` : 'without an answer'}${d.lastError ? ` (${redactUrls(d.lastError).slice(0, 140)})` : ''}`,
        status: d.status,
      });
  }
  // Stable: at equal times, the order above (window, opened, changes, operators' actions, deliveries in creation order) is kept.
  return out.map((e, k) => ({ e, k })).sort((a, b) => a.e.at - b.e.at || a.k - b.k).map(({ e }) => e);
}

/**
 * The retraining request as the page shows it: its body as sent (a request stored by an earlier version goes with the
 * fields added since: bodyNow), its type, time and data, without the status URL, and with any URL blanked. A stored
 * payload never holds a secret (URL and signature are added at send time), but the page shows only the fields it
 * knows, so a payload written by something else cannot leak through it.
 */
export function retrainShown(stored: unknown): string | null {
  const payload = bodyNow({ channel: 'retrain', payload: stored });
  if (typeof payload !== 'object' || payload === null) return null;
  const p = payload as { type?: unknown; timestamp?: unknown; data?: unknown };
  if (typeof p.data !== 'object' || p.data === null) return null;
  // status_url; statusUrl in deliveries stored before the payloads were snake_case.
  const { status_url: _link, statusUrl: _oldLink, ...data } = p.data as Record<string, unknown>;
  return redactUrls(JSON.stringify({ type: p.type, timestamp: p.timestamp, data }, null, 2));
}

export interface IncidentPageProps {
  incident: IncidentRow;
  view: IncidentView;
  model: ModelView;
  range: RangeName;
  timeline: TimelineEntry[];
  deliveries: readonly DeliveryStatusRow[];
  retrain: { id: string; status: string; payload: unknown } | undefined;
  retrainConfigured: boolean;
  /** The traffic declared normal it was judged against (db/status.ts adoptedBaselineOf), or null. */
  adoptedBaseline: AdoptedTraffic | null;
  /** How on-call acknowledges or resolves it: the admin API's base URL, null when it is disabled (no ADMIN_TOKEN). */
  adminApi: string | null;
  /** RESOLVE_AFTER_HEALTHY and RESOLVE_QUIET_MINUTES, for how it resolves by itself. */
  resolves: { afterHealthy: number; quietSeconds: number };
  nowSeconds: number;
}

/**
 * How to acknowledge or resolve an open incident, spelled out for this one: the page has no scripts and never holds
 * the admin token, and at 3 a.m. the admin API's paths are not in anyone's head. Acknowledging in labelwatch also
 * acknowledges the PagerDuty alert; PagerDuty's own button does not reach labelwatch.
 */
const Actions: FC<{ incident: IncidentRow; adminApi: string | null; resolves: IncidentPageProps['resolves'] }> = ({ incident: i, adminApi, resolves }) => {
  const by = `${resolves.afterHealthy} healthy window${resolves.afterHealthy === 1 ? '' : 's'} in a row${resolves.quietSeconds > 0 ? ` spanning ${duration(resolves.quietSeconds)}` : ''}`;
  const itself = i.kind === 'model_defect' ? 'A model defect is about the package: traffic never resolves it.' : `Left alone, it resolves itself after ${by}.`;
  if (adminApi === null) return <p class="muted">{itself} The admin API that acknowledges and resolves incidents is disabled here (no ADMIN_TOKEN).</p>;
  const url = `${adminApi.replace(/\/+$/, '')}/v1/incidents/${encodeURIComponent(i.id)}`;
  const post = `curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" ${url}`;
  return (
    <>
      <pre class="payload">{`${i.status === 'acknowledged' ? '' : `# acknowledge (PagerDuty's alert too)\n${post}/ack\n`}# resolve, once fixed\n${post}/resolve`}</pre>
      <p class="muted small">
        {itself}{' '}
        {i.kind === 'model_defect'
          ? null
          : `Resolved by hand while the traffic is still where it went, it opens again at the next window; if that traffic is the model’s new normal (a season, inputs that moved for good), resolve with -d '{"rebaseline": true}' to adopt it as the baseline.`}
      </p>
    </>
  );
};

/**
 * The incident was judged against traffic someone declared normal: said above its card, because "collapsed onto
 * Adelie" reads like a fault, and on-call must see that the mix it was measured against is one an operator chose, and
 * that the mix before it was declared outdated (traffic going back to it is flagged like any other change).
 */
const AdoptedBaselineNote: FC<{ adopted: AdoptedTraffic; windowSeconds: number }> = ({ adopted: a, windowSeconds }) => {
  const seconds = windowSeconds < 60;
  const windows = `${a.adoptedFrom === a.adoptedTo ? 'window' : 'windows'} ${clock(a.adoptedFrom, true, seconds)}–${clock(a.adoptedTo + windowSeconds, false, seconds)} UTC`;
  return (
    <p class="banner warn" role="note">
      Judged against traffic declared normal: incident <a href={`/incidents/${encodeURIComponent(a.incidentId)}`}>{a.incidentId}</a> was
      resolved with a rebaseline, and at {clock(a.appliedAt, true)} UTC labelwatch adopted its traffic as this version’s baseline, in place of
      the package’s reference ({a.adoptedPredictions} prediction{a.adoptedPredictions === 1 ? '' : 's'}, {windows}). The label mix before it
      was declared outdated: traffic going back to that mix is a change against this baseline.
    </p>
  );
};

export const IncidentPage: FC<IncidentPageProps> = ({
  incident: i,
  view,
  model,
  range,
  timeline,
  deliveries,
  retrain,
  retrainConfigured,
  adoptedBaseline,
  adminApi,
  resolves,
  nowSeconds,
}) => {
  const first = i.firstWindowStart;
  const end = i.resolvedAt === null ? nowSeconds : i.resolvedAt;
  return (
    <>
      <section aria-labelledby="incident-title">
        <h2 id="incident-title">
          Incident {i.status === 'resolved' ? 'resolved' : i.status} · {duration(end - first)}
        </h2>
        <p class="muted small">
          <code>{i.id}</code> · window starts and ends are the windows’ own clock; “opened”, “acknowledged” and “resolved” are
          when labelwatch did it. Times are UTC.
        </p>
        {adoptedBaseline ? <AdoptedBaselineNote adopted={adoptedBaseline} windowSeconds={view.windowSeconds} /> : null}
        <IncidentCard view={view} nowSeconds={nowSeconds} page />
      </section>
      {i.status === 'resolved' ? null : (
        <section aria-labelledby="act">
          <h2 id="act">Acknowledge or resolve</h2>
          <div class="card">
            <Actions incident={i} adminApi={adminApi} resolves={resolves} />
          </div>
        </section>
      )}
      <section aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        <div class="card">
          <ol class="timeline">
            {timeline.map((e) => (
              <li class={`t-${e.kind}`} data-kind={e.kind}>
                <time datetime={new Date(e.at * 1000).toISOString()}>{clock(e.at, end - first >= 86_400, true)}</time>
                <span>
                  {e.text}
                  {e.status ? (
                    <>
                      {' '}
                      <span class={`state s-${e.status}`}>{e.status}</span>
                    </>
                  ) : null}
                </span>
              </li>
            ))}
          </ol>
          {deliveries.length === 0 ? <p class="muted">No delivery: no channel was configured when this incident changed.</p> : null}
        </div>
      </section>
      <section aria-labelledby="windows">
        <h2 id="windows">
          Windows around the incident · one bar per {lengthWords(model.span.bucket)}
        </h2>
        <ModelCard m={model} range={range} incident={i.status === 'resolved' ? undefined : i} tall />
      </section>
      <section aria-labelledby="retrain">
        <h2 id="retrain">Retraining request</h2>
        <div class="card">
          {retrain ? (
            <>
              <p>
                Sent once, when the incident opened: <span class={`state s-${retrain.status}`}>{retrain.status}</span>. What it
                carried (signed with the retraining secret; the receiver’s URL is never stored):
              </p>
              <pre class="payload">{retrainShown(retrain.payload) ?? '(no request body stored)'}</pre>
            </>
          ) : (
            <p class="muted">
              {retrainConfigured
                ? 'No retraining request was sent for this incident.'
                : 'No retraining webhook is configured (RETRAIN_WEBHOOK_URL), so no retraining request was sent.'}
            </p>
          )}
        </div>
      </section>
    </>
  );
};
