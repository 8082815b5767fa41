// Recently resolved incidents: what happened while nobody was looking. Each says how long it lasted, which labels it
// was about, the probable cause and whether anyone was paged, and links to its incident page.
import type { FC } from 'hono/jsx';
import { CHANNEL_NAMES, isPagingChannel } from '../../incidents/channels';
import type { DeliveryStatusRow } from '../../db/deliveries';
import type { IncidentRow } from '../../db/status';
import type { Diagnosis } from '../../monitor/diagnosis';
import type { Incident } from '../../monitor/incident';
import { diagnosisTitle, findingsOf } from './findings';
import { ago, clock, duration, percent } from '../../format';
import { VerdictPill } from './layout';

/** Days of resolved incidents the main page and the model page list, unless `?history=<days>` asks for others. */
export const HISTORY_DAYS = 7;
export const MAX_HISTORY_DAYS = 90;

/** `?history=<days>`: a whole number of days from 1 to MAX_HISTORY_DAYS; null when it is something else. */
export function parseHistoryDays(value: string | undefined): number | null {
  if (value === undefined || value === '') return HISTORY_DAYS;
  if (!/^\d{1,3}$/.test(value)) return null;
  const days = Number(value);
  return days >= 1 && days <= MAX_HISTORY_DAYS ? days : null;
}

export const incidentHref = (id: string) => `/incidents/${encodeURIComponent(id)}`;

/** The incident's labels in words, from its latest flagged window: "onto Gentoo", "lost Chinstrap", "top Adelie 97%". */
export function labelsInvolved(state: unknown): string {
  const latest = (state as Partial<Incident> | null)?.latest;
  if (!latest) return '–';
  const parts: string[] = [];
  if (typeof latest.dominantLabel === 'string') parts.push(`onto ${latest.dominantLabel}`);
  if (Array.isArray(latest.vanishedLabels) && latest.vanishedLabels.length > 0) parts.push(`lost ${latest.vanishedLabels.join(', ')}`);
  if (parts.length === 0 && typeof latest.topLabel === 'string')
    parts.push(`top ${latest.topLabel}${typeof latest.topShare === 'number' ? ` ${percent(latest.topShare)}` : ''}`);
  return parts.join('; ') || '–';
}

/** The probable cause in a few words: the most confident diagnosis. */
export function causeOf(state: unknown): string | null {
  const [first] = findingsOf<Diagnosis>((state as Partial<Incident> | null)?.diagnoses);
  return first ? diagnosisTitle(first) : null;
}

/** Who was paged when the incident opened, by channel, with whether it got through. */
export function pagedOf(deliveries: readonly DeliveryStatusRow[]): { channel: string; status: string }[] {
  return deliveries
    .filter((d) => isPagingChannel(d.channel) && d.event === 'incident.opened')
    .map((d) => ({ channel: CHANNEL_NAMES[d.channel] ?? d.channel, status: d.status }));
}

const GLYPH: Record<string, string> = { delivered: '✓', dead: '✕', retrying: '↻', pending: '…' };

export const Paged: FC<{ deliveries: readonly DeliveryStatusRow[] }> = ({ deliveries }) => {
  const paged = pagedOf(deliveries);
  if (paged.length === 0) return <span class="nobody">nobody was paged</span>;
  return (
    <span class="paged">
      paged{' '}
      {paged.map((p, i) => (
        <>
          {i > 0 ? ', ' : ''}
          {p.channel} <span class={`state s-${p.status}`}>{GLYPH[p.status] ?? ''} {p.status}</span>
        </>
      ))}
    </span>
  );
};

export const History: FC<{ incidents: IncidentRow[]; deliveries: readonly DeliveryStatusRow[]; nowSeconds: number; days: number }> = ({
  incidents,
  deliveries,
  nowSeconds,
  days,
}) =>
  incidents.length === 0 ? (
    <p class="muted">No incident resolved in the last {days} day{days === 1 ? '' : 's'}.</p>
  ) : (
    <ul class="history">
      {incidents.map((i) => {
        const first = i.firstWindowStart;
        const resolved = i.resolvedAt === null ? nowSeconds : i.resolvedAt;
        const cause = causeOf(i.state);
        return (
          <li class="resolved-incident" data-model={i.model} data-incident={i.id}>
            <div class="history-head">
              <VerdictPill verdict={i.kind} />
              <a href={incidentHref(i.id)}>
                <strong>{i.model}</strong> <span class="version">v{i.version}</span>
              </a>
              <span class="muted">
                {clock(first, nowSeconds - first >= 86_400)}–{clock(resolved)} UTC · lasted {duration(resolved - first)} · resolved{' '}
                {ago(resolved, nowSeconds)}
                {i.resolvedBy === 'admin' ? ' by an operator' : ''}
              </span>
            </div>
            <p class="small">
              Labels: {labelsInvolved(i.state)} · Cause: {cause ?? 'none found'} ·{' '}
              <Paged deliveries={deliveries.filter((d) => d.incidentId === i.id)} />
            </p>
          </li>
        );
      })}
    </ul>
  );

/** The page section around History, the same on the overview and on a model's page. */
export const HistorySection: FC<{ incidents: IncidentRow[]; deliveries: readonly DeliveryStatusRow[]; nowSeconds: number; days: number }> = (
  props,
) => (
  <section aria-labelledby="history">
    <h2 id="history">
      Resolved in the last {props.days} day{props.days === 1 ? '' : 's'}
    </h2>
    <div class="card">
      <History {...props} />
    </div>
  </section>
);
