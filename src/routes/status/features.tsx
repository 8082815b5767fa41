// Input features per bar next to what the model was trained on: the first place to look when a model suddenly
// answers one label (unscaled inputs sit many training stds away; a broken pipeline flattens the variance).
import type { FC } from 'hono/jsx';
import type { FeatureBucket, LabelBucket, Span } from '../../db/status';
import { LOST_VARIANCE_RATIO, SHIFT_Z } from '../../monitor/diagnosis';
import type { FeatureSpec } from '../../serving/metadata';
import { clock, number, percent, topLabel, verdictWords } from '../../format';
import { slotsOf } from './range';

const round = (x: number) => Math.round(x * 1000) / 1000;

/** How far a bucket's inputs sit from training, in words for a person and a flag for the eye. */
function drift(spec: FeatureSpec, b: FeatureBucket | undefined): { z: number | null; lostVariance: boolean } {
  if (!b || b.mean === null || b.std === null || !(spec.std > 0)) return { z: null, lostVariance: false };
  return { z: (b.mean - spec.mean) / spec.std, lostVariance: b.count >= 5 && b.std < LOST_VARIANCE_RATIO * spec.std };
}

const Sparkline: FC<{ spec: FeatureSpec; series: FeatureBucket[]; span: Span }> = ({ spec, series, span }) => {
  const slots = slotsOf(span);
  const means = series.map((b) => b.mean).filter((m): m is number => m !== null);
  // Always show the training band; widen the scale to whatever the window means did.
  const lo = Math.min(spec.mean - 2 * spec.std, ...means);
  const hi = Math.max(spec.mean + 2 * spec.std, ...means);
  const pad = (hi - lo) * 0.08 || 1;
  const y = (v: number) => round(100 - ((v - (lo - pad)) / (hi - lo + 2 * pad)) * 100);
  let d = '';
  let prev = -2;
  for (const b of series) {
    if (b.mean === null) continue;
    const slot = (b.start - span.from) / span.bucket;
    d += `${slot === prev + 1 ? ' L' : ' M'}${round(slot + 0.5)} ${y(b.mean)}${slot === prev + 1 ? '' : ' l0.001 0'}`;
    prev = slot;
  }
  return (
    <svg class="spark" viewBox={`0 0 ${slots} 100`} preserveAspectRatio="none" aria-hidden="true">
      <rect class="band" x={0} width={slots} y={y(spec.mean + spec.std)} height={round(y(spec.mean - spec.std) - y(spec.mean + spec.std))} />
      <line class="train" x1={0} x2={slots} y1={y(spec.mean)} y2={y(spec.mean)} />
      {d ? <path class="mean" d={d.trim()} /> : null}
    </svg>
  );
};

export const FeatureCards: FC<{ specs: FeatureSpec[]; buckets: FeatureBucket[]; span: Span }> = ({ specs, buckets, span }) => (
  <div class="features">
    {specs.map((spec) => {
      const series = buckets.filter((b) => b.feature === spec.name);
      const latest = series.at(-1);
      const { z, lostVariance } = drift(spec, latest);
      const shifted = z !== null && Math.abs(z) > SHIFT_Z;
      return (
        <div class="card feature" data-feature={spec.name}>
          <strong>{spec.name}</strong>
          <Sparkline spec={spec} series={series} span={span} />
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
);

/** The newest bars as rows: n, verdict, top label and every feature's mean ± std under its training value. */
export const WindowTable: FC<{ specs: FeatureSpec[]; labels: LabelBucket[]; features: FeatureBucket[]; span: Span; rows?: number }> = ({
  specs,
  labels,
  features,
  span,
  rows = 30,
}) => {
  const byStart = new Map<string, FeatureBucket>(features.map((f) => [`${f.start}\u0000${f.feature}`, f]));
  const newest = [...labels].reverse().slice(0, rows);
  return (
    <div class="table-scroll">
      <table class="windows-table">
        <thead>
          <tr>
            <th scope="col">bar (UTC)</th>
            <th scope="col">n</th>
            <th scope="col">verdict</th>
            <th scope="col">top label</th>
            {specs.map((s) => (
              <th scope="col">{s.name}</th>
            ))}
          </tr>
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
        </thead>
        <tbody>
          {newest.map((b) => {
            const top = topLabel(b.labels).top;
            return (
              <tr>
                <td>{clock(b.start, span.to - span.from >= 86_400)}</td>
                <td>{b.n}</td>
                <td>{verdictWords(b.verdict)}</td>
                <td>{top ? `${top.label} ${percent(top.share)}` : '–'}</td>
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
