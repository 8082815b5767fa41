// One model version's card: status, the label-share chart, its legend, and what the chart is showing.
import type { FC } from 'hono/jsx';
import type { IncidentRow, LabelBucket, Span } from '../../db/status';
import { packageReference } from '../../monitor/detector';
import type { ModelMetadata } from '../../serving/metadata';
import { colourOf, isFlagged, LabelChart, type Threshold } from './chart';
import { clock, lengthWords, percent, topLabel, verdictWords } from '../../format';
import { VerdictPill } from './layout';
import type { RangeName } from './range';

/** One chart's worth: a model version over the selected range. */
export interface ModelView {
  name: string;
  version: string;
  /** Undefined for a version that has windows but is no longer served. */
  metadata: ModelMetadata | undefined;
  windowSeconds: number;
  span: Span;
  buckets: LabelBucket[];
  labels: string[];
  threshold: Threshold;
  /** The model is configured to expect traffic (metadata monitor.expect_traffic): idle windows are findings. */
  expectTraffic: boolean;
}

/** Whether the model version is configured to expect traffic all the time. */
export const expectsTraffic = (metadata: ModelMetadata | undefined): boolean => metadata?.monitor?.expect_traffic === true;

/** The newest bar the detector already judged; open windows come after it. */
export function latestJudged(buckets: LabelBucket[]): LabelBucket | undefined {
  for (let i = buckets.length - 1; i >= 0; i--) {
    const b = buckets[i]!;
    if (b.verdict !== null && b.verdict !== 'receiving') return b;
  }
  return undefined;
}

/**
 * The model's state in one word: its latest judged verdict, but "receiving, not judged yet" when predictions arrived
 * after the latest judgement and that judgement was none or "no traffic" (a busy model never reads "no traffic").
 */
export function modelState(buckets: LabelBucket[]): LabelBucket['verdict'] {
  const judged = latestJudged(buckets);
  if (judged && judged.verdict !== 'no_traffic') return judged.verdict;
  const busyLater = buckets.some((b) => b.n > 0 && (judged === undefined || b.start > judged.start));
  return busyLater ? 'receiving' : (judged?.verdict ?? null);
}

/** Where a bar of a model links: its row in the bar table of the model page. */
export const barAnchor = (version: string, start: number) => `bar-${encodeURIComponent(version)}-${start}`;

export const ModelCard: FC<{ m: ModelView; range: RangeName; incident?: IncidentRow; tall?: boolean }> = ({ m, range, incident, tall }) => {
  const latest = m.buckets.at(-1);
  const top = latest ? topLabel(latest.labels).top : null;
  const flagged = new Map<string, number>();
  let idle = 0;
  for (const b of m.buckets)
    for (const [v, k] of Object.entries(b.flagged)) {
      if (v === 'no_traffic' && !m.expectTraffic) idle += k;
      else flagged.set(v, (flagged.get(v) ?? 0) + k);
    }
  // What the detector starts from: the model's own held-out answers, or (weaker) its training labels.
  const reference = m.metadata ? packageReference(m.metadata) : null;
  const referenceTotal = reference ? reference.counts.reduce((s, c) => s + c, 0) : 0;
  const referenceWord = reference?.source === 'held_out_predictions' ? 'normal' : 'train';
  const href = `/models/${encodeURIComponent(m.name)}?range=${range}`;
  const barHref = (start: number) => `${tall ? '' : href}#${barAnchor(m.version, start)}`;
  const anyFlagged = m.buckets.some((b) => isFlagged(b.verdict, m.expectTraffic));
  return (
    <article class="card model" data-model={m.name} data-version={m.version}>
      <header class="model-head">
        <h3>
          {tall ? m.name : <a href={href}>{m.name}</a>} <span class="version">v{m.version}</span>
        </h3>
        <VerdictPill verdict={modelState(m.buckets)} />
        {incident ? (
          <a class={`pill p-${incident.kind}`} href={`/incidents/${encodeURIComponent(incident.id)}`}>
            incident since {clock(incident.firstWindowStart)}
          </a>
        ) : null}
        {m.metadata ? null : <span class="pill p-open">not served</span>}
        {tall ? null : (
          <a class="more" href={href}>
            details →
          </a>
        )}
      </header>
      <p class="stats">
        {latest
          ? `Latest bar ${clock(latest.start, false, m.windowSeconds < 60)} UTC: ${latest.n} predictions${top ? `, top ${top.label} ${percent(top.share)}` : ''}.`
          : 'No windows in this range.'}{' '}
        {flagged.size > 0
          ? `Flagged here: ${[...flagged].map(([v, k]) => `${k} ${verdictWords(v)}`).join(', ')}.`
          : m.buckets.length > 0 && !anyFlagged
            ? 'No flagged windows in this range.'
            : ''}
        {idle > 0 ? ` ${idle} idle window${idle === 1 ? '' : 's'} (no traffic; not flagged).` : ''}
      </p>
      <LabelChart
        span={m.span}
        buckets={m.buckets}
        labels={m.labels}
        threshold={m.threshold}
        windowSeconds={m.windowSeconds}
        expectTraffic={m.expectTraffic}
        barHref={barHref}
        tall={tall}
      />
      <ul class="legend">
        {m.labels.map((label, i) => (
          <li>
            <span class="swatch" style={`background:${colourOf(i)}`} />
            <span>
              {label}
              {reference && referenceTotal > 0 ? (
                <span class="muted">
                  {' '}
                  · {referenceWord} {percent((reference.counts[i] ?? 0) / referenceTotal)}
                </span>
              ) : null}
            </span>
          </li>
        ))}
      </ul>
      {reference?.source === 'training_labels' ? (
        <p class="stats note reference-note">
          {m.metadata?.reference
            ? 'Its own held-out answers show a model defect, so it is judged against its training labels until its history takes over.'
            : 'Judged against its training labels until its history takes over: the package carries no held-out answers of the model (metadata reference, written by npm run stats -- --model-dir), a weaker reference.'}
        </p>
      ) : null}
      <p class="stats">
        Collapse line {percent(m.threshold.share)}:{' '}
        {m.threshold.fromDetector
          ? `where the detector calls a collapse onto ${m.threshold.label} (${m.threshold.forIncident ? 'the incident’s label' : 'latest evaluation'}).`
          : 'a default; no evaluated window yet.'}{' '}
        {m.span.bucket === m.windowSeconds
          ? `One bar per ${lengthWords(m.span.bucket)} window.`
          : `One bar per ${lengthWords(m.span.bucket)} (${m.span.bucket / m.windowSeconds} windows); it shows the worst judged verdict among its windows with traffic.`}
      </p>
    </article>
  );
};
