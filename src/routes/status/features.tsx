// Input features per bar next to what the model was trained on: the first place to look when a model suddenly
// answers one label (unscaled inputs sit many training stds away; a broken pipeline flattens the variance).
import type { FC } from 'hono/jsx';
import type { FeatureBucket, LabelBucket, Span } from '../../db/status';
import { LOST_VARIANCE_RATIO, SHIFT_Z } from '../../monitor/diagnosis';
import type { FeatureSpec } from '../../serving/metadata';
import { barWords, clockOf } from './chart';
import { clock, number, percent } from '../../format';
import { barAnchor, type ModelView } from './model-card';
import { slotsOf } from './range';

const round = (x: number) => Math.round(x * 1000) / 1000;

/** How far a bucket's inputs sit from training, in words for a person and a flag for the eye. */
function drift(spec: FeatureSpec, b: FeatureBucket | undefined): { z: number | null; lostVariance: boolean } {
  if (!b || b.mean === null || b.std === null || !(spec.std > 0)) return { z: null, lostVariance: false };
  return { z: (b.mean - spec.mean) / spec.std, lostVariance: b.count >= 5 && b.std < LOST_VARIANCE_RATIO * spec.std };
}

/**
 * One feature over the range, as Evidently and NannyML draw reference against current: the training reference as a
 * band (mean ± std) with its mean dashed, the window means as a line, a value axis and a time axis in HTML around a
 * stretching SVG (so the text stays readable at any width).
 */
const FeatureChart: FC<{ spec: FeatureSpec; series: FeatureBucket[]; span: Span; unit: string }> = ({ spec, series, span, unit }) => {
  const slots = slotsOf(span);
  const means = series.map((b) => b.mean).filter((m): m is number => m !== null);
  // Always show the reference band; widen the scale to whatever the window means did.
  const lo = Math.min(spec.mean - 1.5 * spec.std, ...means);
  const hi = Math.max(spec.mean + 1.5 * spec.std, ...means);
  const pad = (hi - lo) * 0.06 || 1;
  const y = (v: number) => round(100 - ((v - (lo - pad)) / (hi - lo + 2 * pad)) * 100);
  let d = '';
  let prev = -2;
  for (const b of series) {
    if (b.mean === null) continue;
    const slot = (b.start - span.from) / span.bucket;
    d += `${slot === prev + 1 ? ' L' : ' M'}${round(slot + 0.5)} ${y(b.mean)}${slot === prev + 1 ? '' : ' l0.001 0'}`;
    prev = slot;
  }
  const bandTop = y(spec.mean + spec.std);
  const bandBottom = y(spec.mean - spec.std);
  // Axis labels: the extremes, and the reference mean where it does not crowd them.
  const ticks: { v: number; cls?: string }[] = [{ v: hi }, { v: lo }];
  const meanY = y(spec.mean);
  if (Math.abs(meanY - y(hi)) > 18 && Math.abs(meanY - y(lo)) > 18) ticks.push({ v: spec.mean, cls: 'ref' });
  const long = span.to - span.from >= 86_400;
  return (
    <figure class="fchart" data-lo={lo} data-hi={hi}>
      <div class="yaxis" aria-label={`axis in ${unit}`}>
        {ticks.map((t) => (
          <span class={t.cls} style={`top:${y(t.v)}%`}>
            {number(t.v)}
          </span>
        ))}
      </div>
      <div class="plot">
        <svg viewBox={`0 0 ${slots} 100`} preserveAspectRatio="none" role="img" aria-label={`${spec.name}: window means against the training band`}>
          <rect class="band" x={0} width={slots} y={bandTop} height={round(bandBottom - bandTop)} />
          <line class="train" x1={0} x2={slots} y1={meanY} y2={meanY} />
          {d ? <path class="mean" d={d.trim()} /> : null}
        </svg>
      </div>
      <div class="xaxis" aria-hidden="true">
        <span style="left:0">{clock(span.from, long)}</span>
        <span style="left:100%">now</span>
      </div>
    </figure>
  );
};

/** The unit a feature's values are in, as far as the package says: standardized inputs are in training stds. */
export function unitOf(spec: FeatureSpec, standardized: boolean | undefined): string {
  if (standardized === true || spec.raw !== undefined) return 'standardized units (1 = one training std)';
  return 'the model’s input units';
}

export const FeatureCards: FC<{ specs: FeatureSpec[]; buckets: FeatureBucket[]; span: Span; standardized?: boolean; windowSeconds: number }> = ({
  specs,
  buckets,
  span,
  standardized,
}) => (
  <>
    <ul class="key">
      <li>
        <span class="key-band" /> training mean ± std (reference)
      </li>
      <li>
        <span class="key-line ref" /> training mean
      </li>
      <li>
        <span class="key-line" /> mean of each bar’s inputs
      </li>
    </ul>
    <div class="features">
      {specs.map((spec) => {
        const series = buckets.filter((b) => b.feature === spec.name);
        const latest = series.at(-1);
        const { z, lostVariance } = drift(spec, latest);
        const shifted = z !== null && Math.abs(z) > SHIFT_Z;
        const unit = unitOf(spec, standardized);
        return (
          <div class="card feature" data-feature={spec.name}>
            <strong>{spec.name}</strong> <span class="muted small">in {unit}</span>
            <FeatureChart spec={spec} series={series} span={span} unit={unit} />
            <p class="small">
              training <strong>{number(spec.mean)}</strong> ± {number(spec.std)}
              {spec.raw ? (
                <span class="muted">
                  {' '}
                  (raw {number(spec.raw.mean)} ± {number(spec.raw.std)})
                </span>
              ) : null}
            </p>
            {latest && latest.mean !== null ? (
              <p class="small">
                latest <strong>{number(latest.mean)}</strong> ± {number(latest.std)}{' '}
                {z !== null ? <span class={shifted ? 'shifted' : 'muted'}>({number(z)} σ from training)</span> : null}
                {lostVariance ? <span class="shifted"> · variance lost</span> : null}
                {latest.zeros > 0 ? <span class="muted"> · zeros {percent(latest.zeros / latest.count)}</span> : null}
              </p>
            ) : (
              <p class="small muted">no inputs in this range</p>
            )}
          </div>
        );
      })}
    </div>
  </>
);

/**
 * Every bar as a row, newest first: window, predictions, state, label shares and every feature's mean ± std under its
 * training value. Each row is the target of its bar's link, so a phone (no hover, no script) reaches every number.
 */
export const WindowTable: FC<{ specs: FeatureSpec[]; labels: readonly string[]; buckets: LabelBucket[]; features: FeatureBucket[]; model: ModelView }> = ({
  specs,
  labels,
  buckets,
  features,
  model,
}) => {
  const byStart = new Map<string, FeatureBucket>(features.map((f) => [`${f.start}\u0000${f.feature}`, f]));
  const newest = [...buckets].reverse();
  const when = clockOf(model.span, model.windowSeconds);
  return (
    <div class="table-scroll">
      <table class="windows-table">
        <thead>
          <tr>
            <th scope="col">bar (UTC)</th>
            <th scope="col">n</th>
            <th scope="col">verdict</th>
            <th scope="col">label shares</th>
            {specs.map((s) => (
              <th scope="col">{s.name}</th>
            ))}
          </tr>
          {specs.length > 0 ? (
            <tr>
              <th scope="row" colSpan={4} class="muted">
                training
              </th>
              {specs.map((s) => (
                <td class="muted">
                  {number(s.mean)} ± {number(s.std)}
                </td>
              ))}
            </tr>
          ) : null}
        </thead>
        <tbody>
          {newest.map((b) => {
            const { shares, state } = barWords(b, labels, model.expectTraffic);
            return (
              <tr id={barAnchor(model.version, b.start)} data-start={b.start}>
                <td>
                  {when(b.start)}
                  {b.windows > 1 ? <span class="muted"> · {b.windows} windows</span> : null}
                </td>
                <td>{b.n}</td>
                <td>{state}</td>
                <td class="shares">{shares.length > 0 ? shares.join(' · ') : '–'}</td>
                {specs.map((s) => {
                  const f = byStart.get(`${b.start}\u0000${s.name}`);
                  const { z, lostVariance } = drift(s, f);
                  return (
                    <td class={(z !== null && Math.abs(z) > SHIFT_Z) || lostVariance ? 'shifted' : undefined}>
                      {f && f.mean !== null ? `${number(f.mean)} ± ${number(f.std)}` : '–'}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
};
