// The model page's lower half: its recent flagged windows with the detector's reasons, and how it was trained.
import type { FC } from 'hono/jsx';
import type { FlaggedWindow } from '../../db/status';
import type { Diagnosis } from '../../monitor/diagnosis';
import type { ModelMetadata } from '../../serving/metadata';
import { colourOf } from './chart';
import { diagnosisTitle, findingsOf } from './findings';
import { clock, duration, percent, verdictWords } from '../../format';
import { VerdictPill } from './layout';

/** Consecutive flagged windows: one entry, not one per window. */
export interface FlaggedRun {
  /** Start of the first window (epoch seconds). */
  from: number;
  /** End of the last window. */
  to: number;
  windows: number;
  n: number;
  /** The worst verdict in the run. */
  verdict: string;
  /** Windows per verdict, worst first. */
  verdicts: [string, number][];
  /** What the monitor said about the run's latest window. */
  reason: string | null;
  diagnoses: unknown;
  /** The window length (a run of one model version has one). */
  length: number;
}

const RANK: Record<string, number> = { collapsed: 4, partial_collapse: 3, insufficient_data: 2, no_traffic: 1 };
const rank = (v: string) => RANK[v] ?? 5; // kinds this page does not know yet rank first: new means worth reading

/**
 * Groups flagged windows (any order) into runs of windows that follow each other without a gap, newest run first.
 * A window counts once however often it appears.
 */
export function flaggedRuns(windows: readonly FlaggedWindow[]): FlaggedRun[] {
  const sorted = [...windows].sort((a, b) => a.start - b.start);
  const runs: FlaggedRun[] = [];
  let counts = new Map<string, number>();
  for (const w of sorted) {
    const prev = runs.at(-1);
    if (prev && w.start < prev.to) continue;
    if (prev && w.start === prev.to) {
      prev.to = w.start + w.length;
      prev.windows++;
      prev.n += w.n;
      if (rank(w.verdict) > rank(prev.verdict)) prev.verdict = w.verdict;
      prev.reason = w.reason ?? prev.reason;
      prev.diagnoses = findingsOf(w.diagnoses).length > 0 ? w.diagnoses : prev.diagnoses;
    } else {
      if (prev) prev.verdicts = [...counts].sort((a, b) => rank(b[0]) - rank(a[0]));
      counts = new Map();
      runs.push({ from: w.start, to: w.start + w.length, windows: 1, n: w.n, verdict: w.verdict, verdicts: [], reason: w.reason, diagnoses: w.diagnoses, length: w.length });
    }
    counts.set(w.verdict, (counts.get(w.verdict) ?? 0) + 1);
  }
  const last = runs.at(-1);
  if (last) last.verdicts = [...counts].sort((a, b) => rank(b[0]) - rank(a[0]));
  return runs.reverse();
}

export const FlaggedList: FC<{ windows: FlaggedWindow[]; long: boolean; limit?: number }> = ({ windows, long, limit = 10 }) => {
  const runs = flaggedRuns(windows);
  if (runs.length === 0) return <p class="muted">No flagged windows in this range.</p>;
  return (
    <>
      <ul class="findings runs">
        {runs.slice(0, limit).map((r) => {
          // To the second when windows are shorter than a minute: ten-second windows would all read "20:06".
          const seconds = r.length < 60;
          const diagnoses = findingsOf<Diagnosis>(r.diagnoses);
          return (
            <li class="run" data-verdict={r.verdict} data-windows={r.windows}>
              <strong>
                {clock(r.from, long, seconds)}–{clock(r.to, false, seconds)} UTC
              </strong>{' '}
              <VerdictPill verdict={r.verdict} />{' '}
              <span class="muted">
                {r.windows} window{r.windows === 1 ? '' : 's'} ({duration(r.to - r.from)}) · n={r.n}
                {r.verdicts.length > 1 ? ` · ${r.verdicts.map(([v, k]) => `${k} ${verdictWords(v)}`).join(', ')}` : ''}
              </span>
              {r.reason ? <p>{r.windows > 1 ? `Latest: ${r.reason}` : r.reason}</p> : null}
              {diagnoses.length > 0 ? (
                <p class="muted">
                  Probable cause: {diagnoses.map((d) => `${diagnosisTitle(d)} (${Math.round(d.confidence * 100)}%)`).join(', ')}
                </p>
              ) : null}
            </li>
          );
        })}
      </ul>
      {runs.length > limit ? <p class="muted small">{runs.length - limit} earlier runs in this range are not listed.</p> : null}
    </>
  );
};

export const Training: FC<{ metadata: ModelMetadata }> = ({ metadata }) => {
  const t = metadata.training;
  return (
    <>
      <h2>Training · v{metadata.version}</h2>
      <div class="card">
        <p>
          {t.samples} rows{t.dataset ? ` of ${t.dataset}` : ''}
          {t.accuracy !== undefined ? `, held-out accuracy ${percent(t.accuracy)}` : ''}
          {t.standardized !== undefined ? `, ${t.standardized ? 'standardized' : 'raw (unstandardized)'} inputs` : ''}
          {t.class_weight ? ', class weights used' : ''}.
        </p>
        <ul class="legend">
          {metadata.labels.map((label, i) => (
            <li>
              <span class="swatch" style={`background:${colourOf(i)}`} />
              <span>
                {label} <span class="muted">{t.label_counts[label] ?? 0} rows</span>
              </span>
            </li>
          ))}
        </ul>
      </div>
    </>
  );
};

