// The demo's voice: timestamped lines on stdout, and how windows, incidents and webhook payloads read to a person.
// Pure formatting apart from `say`; the payload types are the webhook contract's (src/contract/webhooks.ts), not
// restated here.
import type { RetrainPayload, WireDiagnosis, WireRemedy } from '../../src/contract/webhooks.ts';

const pad = (n: number) => String(n).padStart(2, '0');

/** Local wall-clock time, HH:MM:SS: the same clock the windows are shown in. */
export const clock = (ms: number = Date.now()): string => {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};

/** Elapsed time as "2m05s" (or "42s"). */
export const elapsed = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${pad(s % 60)}s`;
};

const INDENT = ' '.repeat(10); // under the timestamp

/** Prints one line (or several, indented under the first) with the time in front. */
export function say(text: string): void {
  const [first, ...rest] = text.split('\n');
  process.stdout.write(`${clock()}  ${first}\n${rest.map((line) => `${INDENT}${line}\n`).join('')}`);
}

/** A numbered chapter of the story. */
export function chapter(n: number, title: string): void {
  process.stdout.write('\n');
  say(`── ${n}. ${title}`);
}

export const percent = (x: number): string => `${Math.round(100 * x)}%`;

/** "Adelie 40% · Chinstrap 21% · Gentoo 39%" from label counts. */
export function shares(counts: Record<string, number>): string {
  const total = Object.values(counts).reduce((s, n) => s + n, 0);
  if (total === 0) return 'no answers';
  return Object.entries(counts)
    .map(([label, n]) => `${label} ${percent(n / total)}`)
    .join(' · ');
}

const num = (x: number, digits = 4): string => (Math.abs(x) < 1e-9 ? '0' : String(Number(x.toPrecision(digits))));
const labelNumbers = (values: Record<string, number>, sign = ''): string =>
  Object.entries(values)
    .map(([label, n]) => `${label} ${sign && n > 0 ? sign : ''}${num(n)}`)
    .join(', ');

/** A closed, judged window as the windows API returns it (the fields the demo shows). */
export interface JudgedWindow {
  start_epoch: number;
  end_epoch: number;
  closed_at: string | null;
  n: number;
  counts: Record<string, number>;
  verdict: string;
}

export function describeWindow(w: JudgedWindow): string {
  const range = `${clock(w.start_epoch * 1000)}–${clock(w.end_epoch * 1000).slice(3)}`;
  const lag = w.closed_at ? `, judged ${Math.round(Date.parse(w.closed_at) / 1000 - w.end_epoch)} s after it ended` : '';
  return `window ${range}  n ${String(w.n).padStart(3)}  ${shares(w.counts)}  → ${w.verdict.toUpperCase()}${lag}`;
}

/** The retraining payload's statistics of the window that opened the incident. */
export function describeStatistics(s: NonNullable<RetrainPayload['data']['statistics']>): string {
  const parts = [`n ${s.n}`];
  if (s.top_label !== null && s.top_share !== null) parts.push(`top label ${s.top_label} ${percent(s.top_share)}`);
  if (s.normalized_entropy !== null) parts.push(`normalized entropy ${num(s.normalized_entropy, 2)}`);
  if (s.js_distance !== null) parts.push(`JS distance ${num(s.js_distance, 2)}`);
  parts.push(`α ${s.alpha}`);
  return parts.join(' · ');
}

export const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** One diagnosis: kind, confidence and its sentence (which carries the numbers). */
export const describeDiagnosis = (d: WireDiagnosis): string => `${d.kind} (confidence ${num(d.confidence, 2)}): ${d.sentence}`;

/** One remedy with the parameters a retraining pipeline would act on. */
export function describeRemedy(r: WireRemedy): string {
  switch (r.kind) {
    case 'scaler': {
      const where = r.where === 'inputs' ? 'standardize inputs before predicting' : 'retrain on standardized inputs';
      const width = Math.max(...r.features.map((f) => f.name.length));
      const rows = r.features.map((f) => `  ${f.name.padEnd(width)}  mean ${num(f.mean).padStart(9)}  std ${num(f.std).padStart(8)}`);
      return [`scaler: ${where}, x' = (x − mean) / std`, ...rows].join('\n');
    }
    case 'fix_preprocessing': {
      const rows = r.features.map(
        (f) => `  ${f.name}: expected mean ${num(f.expected_mean)} std ${num(f.expected_std)}, got mean ${num(f.observed_mean)} std ${num(f.observed_std)}`,
      );
      return [`fix_preprocessing: ${percent(r.zero_row_share)} of rows were all zeros`, ...rows].join('\n');
    }
    case 'class_weight':
      return `class_weight: ${labelNumbers(r.weights)}`;
    case 'resample':
      return `resample: oversample to ${r.target_per_label} rows per label (${labelNumbers(r.add_per_label, '+')})`;
    case 'collect_data':
      return `collect_data: ${r.target_per_label} rows per label (${labelNumbers(r.missing_per_label, '+')})`;
    case 'augment':
      return `augment: ${r.method.toUpperCase()} for ${r.labels.join(', ')} up to ${r.target_per_label} rows each`;
    case 'learning_rate':
      return `learning_rate: ${r.suggested}${r.current === null ? '' : ` instead of ${r.current}`} (probe accuracy ${percent(r.evidence.accuracy)})`;
    case 'capacity':
      return `capacity: ${r.suggested_hidden_units} hidden units${r.current_hidden_units === null ? '' : ` instead of ${r.current_hidden_units}`}`;
    default:
      return `${(r as { kind: string }).kind}: ${(r as { sentence: string }).sentence}`;
  }
}
