// One model version's card: status, the label-share chart, its legend, and what the chart is showing.
import type { FC } from 'hono/jsx';
import type { IncidentRow, LabelBucket, Span } from '../../db/status';
import type { ModelMetadata } from '../../serving/metadata';
import { colourOf, LabelChart, type Threshold } from './chart';
import { clock, epochSeconds, lengthWords, percent, topLabel, verdictWords } from '../../format';
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
}

/** The newest bar the detector already judged; open windows come after it. */
export function latestJudged(buckets: LabelBucket[]): LabelBucket | undefined {
  for (let i = buckets.length - 1; i >= 0; i--) if (buckets[i].verdict !== null) return buckets[i];
  return undefined;
}

export const ModelCard: FC<{ m: ModelView; range: RangeName; incident?: IncidentRow; tall?: boolean }> = ({ m, range, incident, tall }) => {
  const latest = m.buckets.at(-1);
  const judged = latestJudged(m.buckets);
  const top = latest ? topLabel(latest.labels).top : null;
  const flagged = new Map<string, number>();
  for (const b of m.buckets) for (const [v, k] of Object.entries(b.flagged)) flagged.set(v, (flagged.get(v) ?? 0) + k);
  const trainingTotal = m.metadata ? Object.values(m.metadata.training.label_counts).reduce((s, c) => s + c, 0) : 0;
  const href = `/models/${encodeURIComponent(m.name)}?range=${range}`;
  return (
    <article class="card model" data-model={m.name} data-version={m.version}>
      <header class="model-head">
        <h3>
          {tall ? m.name : <a href={href}>{m.name}</a>} <span class="version">v{m.version}</span>
        </h3>
        <VerdictPill verdict={judged?.verdict ?? null} />
        {incident ? (
          <a class={`pill p-${incident.kind}`} href={`/#incident-${incident.id}`}>
            incident since {clock(epochSeconds(incident.firstWindowStart))}
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
          ? `Latest bar ${clock(latest.start)} UTC: ${latest.n} predictions${top ? `, top ${top.label} ${percent(top.share)}` : ''}.`
          : 'No windows in this range.'}{' '}
        {flagged.size > 0
          ? `Flagged here: ${[...flagged].map(([v, k]) => `${k} ${verdictWords(v)}`).join(', ')}.`
          : m.buckets.length > 0
            ? 'No flagged windows in this range.'
            : ''}
      </p>
      <LabelChart span={m.span} buckets={m.buckets} labels={m.labels} threshold={m.threshold} tall={tall} />
      <ul class="legend">
        {m.labels.map((label, i) => (
          <li>
            <span class="swatch" style={`background:${colourOf(i)}`} />
            <span>
              {label}
              {m.metadata && trainingTotal > 0 ? (
                <span class="muted"> · train {percent((m.metadata.training.label_counts[label] ?? 0) / trainingTotal)}</span>
              ) : null}
            </span>
          </li>
        ))}
      </ul>
      <p class="stats">
        Collapse line {percent(m.threshold.share)}:{' '}
        {m.threshold.fromDetector
          ? `where the detector calls a collapse onto ${m.threshold.label} (latest evaluation).`
          : 'a default; no evaluated window yet.'}{' '}
        {m.span.bucket === m.windowSeconds
          ? `One bar per ${lengthWords(m.span.bucket)} window.`
          : `One bar per ${lengthWords(m.span.bucket)} (${m.span.bucket / m.windowSeconds} windows); it shows the worst flag among them.`}
      </p>
    </article>
  );
};

