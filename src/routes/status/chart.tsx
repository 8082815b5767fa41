// The label-distribution chart: one 100%-stacked bar per bucket of windows, the top-label share as a line over it,
// the collapse threshold dashed, and a lettered marker above every run of flagged bars. The SVG stretches to any
// width (preserveAspectRatio="none", strokes that do not scale); all text is HTML around it, so it stays readable
// on a phone, and each bar's <title> gives its window, n and shares on hover.
import type { FC } from 'hono/jsx';
import type { FlaggedVerdict, LabelBucket, Span } from '../../db/status';
import { collapseThreshold, type Evaluation } from '../../monitor/detector';
import { clock, lengthWords, percent, topLabel, verdictWords } from '../../format';
import { slotsOf } from './range';

/** Okabe–Ito, safe for the common colour-vision deficiencies; black is left for the top-share line. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#7F7F7F'];

/** A label's colour comes from its index in the model's metadata, so it never changes between windows or pages. */
export const colourOf = (index: number): string => PALETTE[index % PALETTE.length]!;

export const FLAG_LETTER: Record<FlaggedVerdict, string> = {
  collapsed: 'C',
  partial_collapse: 'P',
  no_traffic: '0',
  insufficient_data: '?',
};

/** The top-label share above which the detector calls a window collapsed, and whether it said so itself. */
export interface Threshold {
  share: number;
  /** The label the line is drawn for (the detector's line depends on the label's reference share). */
  label: string | null;
  fromDetector: boolean;
  /** Drawn for an incident's label rather than the latest window's top label. */
  forIncident?: boolean;
}

/** Without any evaluation yet, a plain 90% line, labelled as a default on the page. */
export const DEFAULT_COLLAPSE_SHARE = 0.9;

/**
 * The detector's collapse threshold (monitor/detector.ts collapseThreshold) for the open incident's label when there
 * is one, else for the latest window's top label, or the label with the largest reference share when that window had
 * no traffic.
 */
export function collapseLine(evaluation: unknown, incidentLabel?: string | null): Threshold {
  const perLabel = (evaluation as Partial<Evaluation> | null)?.statistics?.perLabel;
  if (Array.isArray(perLabel) && perLabel.length > 0) {
    // An open incident names the label to watch; otherwise the latest window's top label.
    const top = incidentLabel ?? (evaluation as Evaluation).statistics.topLabel;
    const stat = perLabel.find((p) => p.label === top) ?? [...perLabel].sort((a, b) => b.referenceShare - a.referenceShare)[0]!;
    if (typeof stat.referenceShare === 'number')
      return { share: collapseThreshold(stat.referenceShare), label: stat.label, fromDetector: true, forIncident: incidentLabel != null && stat.label === incidentLabel };
  }
  return { share: DEFAULT_COLLAPSE_SHARE, label: null, fromDetector: false };
}

/** Metadata labels first, in their order (their index is their colour); labels only seen in data after them. */
export function labelOrder(metadataLabels: readonly string[], buckets: readonly LabelBucket[]): string[] {
  const extra = new Set<string>();
  for (const b of buckets) for (const label of Object.keys(b.labels)) if (!metadataLabels.includes(label)) extra.add(label);
  return [...metadataLabels, ...[...extra].sort()];
}

const round = (x: number) => Math.round(x * 100) / 100;
/**
 * The x axis: bar starts at 0, ¼, ½ and ¾ of the span (the ¼ and ¾ ones minor), with the date over a day, and with
 * seconds when one of them is not on a whole minute: ticks of a few minutes of 10-s windows otherwise read "07:07"
 * twice.
 */
export function axisTicks(span: Span): { at: number; label: string; minor: boolean }[] {
  const ticks = [0, 0.25, 0.5, 0.75].map((at) => ({ at, t: span.from + Math.round((at * (span.to - span.from)) / span.bucket) * span.bucket }));
  const withSeconds = ticks.some(({ t }) => t % 60 !== 0);
  return ticks.map(({ at, t }) => ({ at, label: clock(t, span.to - span.from >= 86_400, withSeconds), minor: at === 0.25 || at === 0.75 }));
}

/** Whether a bar's verdict is a finding: idle bars only where the model is expected to have traffic. */
export const isFlagged = (v: LabelBucket['verdict'], expectTraffic: boolean): v is FlaggedVerdict =>
  v === 'collapsed' || v === 'partial_collapse' || v === 'insufficient_data' || (v === 'no_traffic' && expectTraffic);

/** The clock with seconds when windows are shorter than a minute (ten 10-s windows all read "20:06" otherwise). */
export const clockOf = (span: Span, windowSeconds: number) => (t: number) =>
  clock(t, span.to - span.from >= 86_400, windowSeconds < 60 || t % 60 !== 0);

/** A bar's window, predictions, shares and flags in words (its hover title and its row in the bar table). */
export function barWords(b: LabelBucket, labels: readonly string[], expectTraffic: boolean): { shares: string[]; state: string } {
  const shares: string[] = [];
  for (const label of labels) {
    const c = b.labels[label];
    if (c) shares.push(`${label}: ${percent(c / b.n)} (${c})`);
  }
  const flags = Object.entries(b.flagged)
    .filter(([v]) => v !== 'no_traffic' || expectTraffic || b.n === 0)
    .map(([v, k]) => (b.windows > 1 ? `${k} ${verdictWords(v)}` : verdictWords(v)));
  const state =
    flags.length > 0 && b.verdict !== 'healthy' && b.verdict !== 'receiving'
      ? flags.join(', ')
      : b.verdict === null && b.closed < b.windows
        ? 'open: still counting'
        : verdictWords(b.verdict);
  return { shares, state };
}

function barTitle(b: LabelBucket, span: Span, labels: readonly string[], windowSeconds: number, expectTraffic: boolean): string {
  const when = clockOf(span, windowSeconds);
  const { shares, state } = barWords(b, labels, expectTraffic);
  return [`${when(b.start)}–${when(b.start + span.bucket)} UTC · ${b.windows} window${b.windows === 1 ? '' : 's'} · n=${b.n}`, ...shares, state].join('\n');
}

interface Run {
  verdict: FlaggedVerdict;
  first: number;
  last: number;
  windows: number;
  from: number;
  to: number;
}

/** Adjacent bars with the same flag become one marker: letters on every 2-pixel bar would be unreadable. */
function flaggedRuns(buckets: readonly LabelBucket[], span: Span, expectTraffic: boolean): Run[] {
  const runs: Run[] = [];
  for (const b of buckets) {
    const v = b.verdict;
    if (!isFlagged(v, expectTraffic)) continue;
    const slot = (b.start - span.from) / span.bucket;
    const prev = runs.at(-1);
    if (prev && prev.verdict === v && prev.last === slot - 1) {
      prev.last = slot;
      prev.windows += b.flagged[v] ?? 0;
      prev.to = b.start + span.bucket;
    } else runs.push({ verdict: v, first: slot, last: slot, windows: b.flagged[v] ?? 0, from: b.start, to: b.start + span.bucket });
  }
  return runs;
}

/**
 * A marker's letter needs about 16 px; a chart on a phone is about 300 px wide. Letters closer than this share of the
 * width to the previous letter are left out (the run keeps its coloured strip and its words), so none overlap.
 */
export const LETTER_SPACING = 0.06;

interface BarProps {
  b: LabelBucket;
  slot: number;
  width: number;
  labels: readonly string[];
  span: Span;
  windowSeconds: number;
  expectTraffic: boolean;
  href: string;
}

const Bar: FC<BarProps> = ({ b, slot, width, labels, span, windowSeconds, expectTraffic, href }) => {
  const x = round(slot + (1 - width) / 2);
  const w = round(width);
  const segments = [];
  let y = 100;
  for (const [i, label] of labels.entries()) {
    const c = b.labels[label];
    if (!c || b.n === 0) continue;
    const h = (c / b.n) * 100;
    y -= h;
    segments.push(<rect x={x} y={round(y)} width={w} height={round(h)} fill={colourOf(i)} />);
  }
  const v = b.verdict ?? 'open';
  // A link, not a hover: on a phone (no hover, no script) a tap opens the bar's row of numbers.
  return (
    <a href={href}>
      <g class={`bar v-${v}`} data-start={b.start} data-n={b.n} data-verdict={v}>
        <title>{barTitle(b, span, labels, windowSeconds, expectTraffic)}</title>
        {b.n === 0 ? <rect class="empty" x={x} y={0} width={w} height={100} /> : segments}
        {v === 'collapsed' || v === 'partial_collapse' || v === 'insufficient_data' || v === 'drift' ? (
          <rect class="outline" x={x} y={0} width={w} height={100} />
        ) : null}
        {/* The whole column is the link's target, however short its segments. */}
        <rect class="hit" x={round(slot)} y={0} width={1} height={100} />
      </g>
    </a>
  );
};

/** The top-label share as a path through bar centres, broken where there is no bar or no traffic. */
function topSharePath(buckets: readonly LabelBucket[], span: Span): string {
  let d = '';
  let prevSlot = -2;
  for (const b of buckets) {
    const top = topLabel(b.labels).top;
    if (top === null) {
      prevSlot = -2;
      continue;
    }
    const slot = (b.start - span.from) / span.bucket;
    const point = `${round(slot + 0.5)} ${round((1 - top.share) * 100)}`;
    // A lone point gets a zero-length segment so its round cap draws a dot.
    d += slot === prevSlot + 1 ? ` L${point}` : ` M${point} l0.001 0`;
    prevSlot = slot;
  }
  return d.trim();
}

export interface LabelChartProps {
  span: Span;
  buckets: LabelBucket[];
  labels: readonly string[];
  threshold: Threshold;
  windowSeconds: number;
  expectTraffic: boolean;
  /** Where a bar links to: its row in the bar table. */
  barHref: (start: number) => string;
  tall?: boolean;
}

export const LabelChart: FC<LabelChartProps> = ({ span, buckets, labels, threshold, windowSeconds, expectTraffic, barHref, tall }) => {
  const slots = slotsOf(span);
  const whenExact = clockOf(span, windowSeconds);
  let lastLetter = -Infinity;
  const width = slots > 90 ? 0.86 : 0.8;
  const thresholdY = round((1 - threshold.share) * 100);
  const path = topSharePath(buckets, span);
  return (
    <figure class={tall ? 'chart tall' : 'chart'} data-from={span.from} data-to={span.to} data-bucket={span.bucket}>
      <div class="flags">
        {flaggedRuns(buckets, span, expectTraffic).map((r) => {
          const words = `${verdictWords(r.verdict)}: ${r.windows} window${r.windows === 1 ? '' : 's'}, ${whenExact(r.from)}–${whenExact(r.to)} UTC`;
          const centre = (r.first + r.last + 1) / 2 / slots;
          const lettered = centre - lastLetter >= LETTER_SPACING;
          if (lettered) lastLetter = centre;
          return (
            <span
              class={`flag f-${r.verdict}${lettered ? '' : ' quiet'}`}
              style={`left:${round((r.first / slots) * 100)}%;width:${round(((r.last - r.first + 1) / slots) * 100)}%`}
              role="img"
              aria-label={words}
              title={words}
            >
              {lettered ? <b>{FLAG_LETTER[r.verdict]}</b> : null}
            </span>
          );
        })}
      </div>
      <div class="yaxis" aria-hidden="true">
        <span class="thr" style={`top:${thresholdY}%`}>
          {percent(threshold.share)}
        </span>
        {Math.abs(thresholdY - 50) > 12 ? <span style="top:50%">50%</span> : null}
        <span style="top:100%">0%</span>
      </div>
      <div class="plot">
        <svg viewBox={`0 0 ${slots} 100`} preserveAspectRatio="none" role="img" aria-label={`label shares, one bar per ${lengthWords(span.bucket)}`}>
          <line class="grid" x1={0} x2={slots} y1={50} y2={50} />
          {buckets.map((b) => (
            <Bar
              b={b}
              slot={(b.start - span.from) / span.bucket}
              width={width}
              labels={labels}
              span={span}
              windowSeconds={windowSeconds}
              expectTraffic={expectTraffic}
              href={barHref(b.start)}
            />
          ))}
          <line class="threshold" x1={0} x2={slots} y1={thresholdY} y2={thresholdY} />
          {path ? <path class="top-halo" d={path} /> : null}
          {path ? <path class="top-share" d={path} /> : null}
        </svg>
        {buckets.length === 0 ? <p class="no-data">No windows in this range yet.</p> : null}
      </div>
      <div class="xaxis" aria-hidden="true">
        {axisTicks(span).map((t) => (
          <span class={t.minor ? 'minor' : undefined} style={`left:${t.at * 100}%`}>
            {t.label}
          </span>
        ))}
        <span style="left:100%">now</span>
      </div>
    </figure>
  );
};
