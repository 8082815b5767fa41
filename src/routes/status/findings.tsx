// Diagnoses and remedies in plain words: a title per kind, the monitor's own sentence, the confidence, and the
// numbers behind it folded away. Stored JSON is read defensively: a row written by an older monitor still renders.
import type { FC } from 'hono/jsx';
import { DIAGNOSIS_TITLES, type Diagnosis } from '../../monitor/diagnosis';
import type { Remedy } from '../../monitor/remedies';
import { number } from '../../format';
import { own } from '../../monitor/names';

const REMEDY_TITLE: Record<string, string> = {
  class_weight: 'Retrain with class weights',
  resample: 'Retrain on a resampled set',
  scaler: 'Apply the training scaler',
  fix_preprocessing: 'Fix the preprocessing',
  collect_data: 'Collect more labelled data',
  augment: 'Augment the rare labels',
  learning_rate: 'Lower the learning rate',
  capacity: 'Give the model more capacity',
  rebaseline: 'Compare like with like, or re-baseline',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const words = (key: string) => key.replace(/_/g, ' ').replace(/([a-z])([A-Z])/g, (_, a: string, b: string) => `${a} ${b.toLowerCase()}`);
/**
 * A key of `record` as shown: a field name in words (`trainingCounts` → "training counts"), but a label's or a
 * feature's name as spelled (`class_13` stays `class_13`). The findings' records of numbers (counts, weights, rows to
 * add per label) are the ones keyed by such names; their field-keyed objects mix in strings or objects.
 */
const keyOf = (record: Record<string, unknown>, key: string) => (Object.values(record).every((v) => typeof v === 'number') ? key : words(key));

/** A diagnosis in a few words, for lists where the full sentence would repeat itself window after window. */
export const diagnosisTitle = (d: Diagnosis): string => own(DIAGNOSIS_TITLES, d.kind) ?? words(d.kind);

/** The human sentence of a finding. */
export const sentenceOf = (f: unknown): string =>
  isObject(f) ? String(f.sentence ?? f.reason ?? (typeof f.kind === 'string' ? words(f.kind) : '')) : '';

/** Only objects with a kind: a malformed array entry is skipped, not rendered as "[object Object]". */
export function findingsOf<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value.filter((f) => isObject(f) && typeof f.kind === 'string') as T[]) : [];
}

/** A value on one line; `fields`: the object's own keys are field names (a named row's), never a label's. */
function inline(value: unknown, fields = false): string {
  if (typeof value === 'number') return number(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (value === null || value === undefined) return '–';
  if (Array.isArray(value)) return value.map((v) => inline(v)).join(', ');
  if (isObject(value))
    return Object.entries(value)
      .map(([k, v]) => `${fields ? words(k) : keyOf(value, k)} ${inline(v)}`)
      .join(', ');
  return String(value);
}

/** The numbers of a finding as (what, value) lines: one per feature or label, nested objects one level deep. */
export function numbersOf(finding: unknown, skip: readonly string[]): [string, string][] {
  if (!isObject(finding)) return [];
  const out: [string, string][] = [];
  // `shown` is the line's name as printed: the key in words, and a nested key after a colon (keyOf).
  const add = (shown: string, value: unknown, depth: number) => {
    if (Array.isArray(value) && value.length > 0 && value.every((v) => isObject(v) && (typeof v.name === 'string' || typeof v.label === 'string')))
      for (const { name, label, ...rest } of value as Record<string, unknown>[]) out.push([String(name ?? label), inline(rest, true)]);
    else if (isObject(value) && depth < 1) for (const [k, v] of Object.entries(value)) add(`${shown}: ${keyOf(value, k)}`, v, depth + 1);
    else out.push([shown, inline(value)]);
  };
  for (const [key, value] of Object.entries(finding)) if (!skip.includes(key)) add(words(key), value, 0);
  return out.slice(0, 16);
}

const Numbers: FC<{ lines: [string, string][] }> = ({ lines }) =>
  lines.length === 0 ? null : (
    <details>
      <summary>the numbers</summary>
      <dl>
        {lines.map(([k, v]) => (
          <>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </>
        ))}
      </dl>
    </details>
  );

export const Diagnoses: FC<{ diagnoses: Diagnosis[] }> = ({ diagnoses }) =>
  diagnoses.length === 0 ? (
    <p class="muted">No probable cause found yet: the inputs look like training data and the training set looks sound.</p>
  ) : (
    <ul class="findings">
      {diagnoses.map((d) => (
        <li data-kind={d.kind}>
          <strong>{diagnosisTitle(d)}</strong>{' '}
          {typeof d.confidence === 'number' ? <span class="confidence">{Math.round(d.confidence * 100)}% confidence</span> : null}
          <p>{sentenceOf(d)}</p>
          <Numbers lines={numbersOf(d.evidence, [])} />
        </li>
      ))}
    </ul>
  );

export const Remedies: FC<{ remedies: Remedy[] }> = ({ remedies }) =>
  remedies.length === 0 ? null : (
    <ol class="findings">
      {remedies.map((r) => (
        <li data-kind={r.kind}>
          <strong>{REMEDY_TITLE[r.kind] ?? words(r.kind)}</strong>
          <p>{sentenceOf(r)}</p>
          <Numbers lines={numbersOf(r, ['kind', 'diagnosis', 'sentence', 'evidence'])} />
        </li>
      ))}
    </ol>
  );
