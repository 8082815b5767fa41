// Replay data: reads rows (CSV, JSON, or a held-out fixture), matches them to the model's features by name, and
// turns them into what a client would send, correct or deliberately broken (faults). Pure apart from readTable.
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { FeatureSpec } from '../../src/serving/metadata.ts';
import { parseCsv } from '../lib/csv.ts';
import { seededRandom, shuffleInPlace } from '../lib/random.ts';

/** An error meant for the person at the terminal: printed as is, without a stack. */
export class ReplayError extends Error {}

/** Rows from a file, keyed by column, before they are matched to a model. */
export interface Table {
  /** Where the rows came from, for messages. */
  source: string;
  columns: string[];
  records: Record<string, unknown>[];
  /** The column holding the true label, when the file says so (holdout fixtures do). */
  labelColumn?: string;
  /**
   * Rows given as arrays, not keyed by column: their values are the model's features in its order, and `columns`
   * are positions ("0", "1", ...) until matchRows names them.
   */
  positional?: boolean;
}

/** One row in the model's feature order, raw units, with its true label when known. */
export interface DataRow {
  input: number[];
  label?: string;
}

/** Pipeline bugs replay can simulate. */
export type Fault =
  | { kind: 'zero' }
  | { kind: 'unscale' }
  | { kind: 'constant' }
  | { kind: 'drop-label'; label: string };

export const FAULTS = 'zero | unscale | constant | drop-label=<label>';

export function parseFault(text: string): Fault {
  if (text === 'zero' || text === 'unscale' || text === 'constant') return { kind: text };
  const m = text.match(/^drop-label=(.+)$/);
  if (m) return { kind: 'drop-label', label: m[1] };
  throw new ReplayError(`--fault: unknown fault "${text}" (expected ${FAULTS})`);
}

export const describeFault = (fault: Fault): string =>
  fault.kind === 'drop-label' ? `drop-label=${fault.label}` : fault.kind;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A JSON array of objects keyed by column name, a JSON array of rows (arrays of numbers in the model's feature
 * order), or a holdout fixture `{features, label, rows: [{input, label}]}`.
 */
export function tableFromJson(value: unknown, source: string): Table {
  if (Array.isArray(value) && value.length > 0 && Array.isArray(value[0])) {
    const width = (value[0] as unknown[]).length;
    value.forEach((row, i) => {
      if (!Array.isArray(row)) throw new ReplayError(`${source}: [${i}]: expected an array like [0] (rows in feature order), got ${isObject(row) ? 'an object' : typeof row}`);
      if (row.length !== width) throw new ReplayError(`${source}: [${i}]: ${row.length} values, but [0] has ${width}`);
    });
    const columns = Array.from({ length: width }, (_, j) => String(j));
    const records = (value as unknown[][]).map((row) => Object.fromEntries(row.map((x, j) => [String(j), x])));
    return { source, columns, records, positional: true };
  }
  if (Array.isArray(value)) {
    const columns: string[] = [];
    const seen = new Set<string>();
    value.forEach((record, i) => {
      if (!isObject(record))
        throw new ReplayError(`${source}: [${i}]: expected an object keyed by column name (or every row an array in feature order)`);
      for (const key of Object.keys(record)) {
        if (seen.has(key)) continue;
        seen.add(key);
        columns.push(key);
      }
    });
    return { source, columns, records: value as Record<string, unknown>[] };
  }
  if (isObject(value) && Array.isArray(value.features) && Array.isArray(value.rows)) {
    const features = value.features as string[];
    const labelColumn = typeof value.label === 'string' ? value.label : 'label';
    const records = value.rows.map((row: unknown, i: number) => {
      if (!isObject(row) || !Array.isArray(row.input) || row.input.length !== features.length)
        throw new ReplayError(`${source}: rows[${i}]: expected {input: [${features.length} numbers], label}`);
      const record: Record<string, unknown> = Object.fromEntries(features.map((f, j) => [f, (row.input as unknown[])[j]]));
      if (row.label !== undefined) record[labelColumn] = row.label;
      return record;
    });
    return { source, columns: [...features, labelColumn], records, labelColumn };
  }
  throw new ReplayError(`${source}: expected a JSON array of objects, or a holdout fixture {features, rows: [{input, label}]}`);
}

export function tableFromCsv(text: string, source: string): Table {
  const { header, rows } = parseCsv(text, source);
  return { source, columns: header, records: rows.map((cells) => Object.fromEntries(header.map((h, j) => [h, cells[j]]))) };
}

/** Reads a CSV (with a header) or JSON file; the content decides, not the extension. */
export async function readTable(path: string): Promise<Table> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ReplayError(`--data ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (/^\s*[[{]/.test(text)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new ReplayError(`${path}: malformed JSON (${(e as Error).message})`);
    }
    return tableFromJson(value, path);
  }
  try {
    return tableFromCsv(text, path);
  } catch (e) {
    throw new ReplayError((e as Error).message);
  }
}

/** A number from a JSON number or a CSV cell; null for blanks and anything that is not a finite number. */
function toNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/**
 * The column holding the true label: the one asked for, the one the file names, one called "label", or else the
 * first other column whose values are all labels of the model. Null when there is none (rows stay unlabelled).
 */
export function findLabelColumn(table: Table, features: string[], labels: string[], asked?: string): string | null {
  if (asked !== undefined) {
    if (!table.columns.includes(asked))
      throw new ReplayError(`--label: ${table.source} has no column "${asked}" (columns: ${table.columns.join(', ')})`);
    return asked;
  }
  if (table.labelColumn) return table.labelColumn;
  if (table.columns.includes('label') && !features.includes('label')) return 'label';
  const known = new Set(labels);
  return (
    table.columns.find((c) => {
      if (features.includes(c)) return false;
      const values = table.records.map((r) => r[c]).filter((v) => v !== undefined && v !== null && v !== '');
      return values.length > 0 && values.every((v) => known.has(String(v)));
    }) ?? null
  );
}

export interface MatchedRows {
  rows: DataRow[];
  labelColumn: string | null;
  /** Rows left out because a feature value was blank or not a number. */
  skipped: number;
}

/** Positional rows named by the model's features: the width must be the number of features. */
function namePositional(table: Table, features: string[]): Table {
  if (table.columns.length !== features.length)
    throw new ReplayError(
      `${table.source}: rows of ${table.columns.length} values, but the model takes ${features.length} features in this order: ${features.join(', ')}`,
    );
  const records = table.records.map((r) => Object.fromEntries(features.map((f, j) => [f, r[String(j)]])));
  return { ...table, columns: [...features], records };
}

/** Picks the model's features out of a table by column name (or position), in the model's order. */
export function matchRows(table: Table, features: string[], labels: string[], labelColumn?: string): MatchedRows {
  if (table.positional) {
    if (labelColumn !== undefined) throw new ReplayError(`--label: ${table.source} holds rows in feature order, with no label column`);
    table = namePositional(table, features);
  }
  const missing = features.filter((f) => !table.columns.includes(f));
  if (missing.length > 0)
    throw new ReplayError(
      `${table.source}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        `(the model needs ${features.join(', ')}; the file has ${table.columns.join(', ') || 'no columns'})`,
    );
  const labelCol = findLabelColumn(table, features, labels, labelColumn);
  const rows: DataRow[] = [];
  let skipped = 0;
  for (const record of table.records) {
    const input = features.map((f) => toNumber(record[f]));
    if (input.some((x) => x === null)) {
      skipped++;
      continue;
    }
    const label = labelCol === null ? undefined : record[labelCol];
    rows.push({ input: input as number[], ...(label !== undefined && label !== null && label !== '' ? { label: String(label) } : {}) });
  }
  if (rows.length === 0)
    throw new ReplayError(`${table.source}: no row has a number for every feature (${features.join(', ')})`);
  return { rows, labelColumn: labelCol, skipped };
}

/**
 * What replay assumed about the rows and did with them, in words for the terminal: raw units scaled with the model's
 * training scaler, sent as given (--scaled, or a model that takes raw units), or a fault's version.
 */
export function describeScaling(standardized: boolean, scaled: boolean, fault?: Fault): string {
  if (fault?.kind === 'unscale') return 'raw (scaler skipped)';
  if (scaled) return 'as given (--scaled: taken as model-ready, not scaled again)';
  if (standardized) return 'standardized (taken as raw units and scaled with the model\'s training scaler; pass --scaled if they are model-ready already)';
  return 'raw (the model takes raw units)';
}

/** Whether the model expects standardized inputs: its metadata carries the raw-units scaler. */
export const expectsStandardized = (features: FeatureSpec[]): boolean => features.some((f) => f.raw !== undefined);

/**
 * Turns raw rows into the inputs to send. A correct client applies the training scaler, (x - raw.mean) / raw.std;
 * a fault reproduces one classic pipeline bug instead.
 */
export function prepareInputs(rows: DataRow[], features: FeatureSpec[], labels: string[], fault?: Fault, scaled = false): number[][] {
  let selected = rows;
  if (fault?.kind === 'drop-label') {
    if (!labels.includes(fault.label))
      throw new ReplayError(`--fault drop-label=${fault.label}: not a label of the model (labels: ${labels.join(', ')})`);
    if (!rows.some((r) => r.label !== undefined))
      throw new ReplayError(`--fault drop-label needs each row's true label, and the data has no label column (name it with --label <column>)`);
    selected = rows.filter((r) => r.label !== fault.label);
    if (selected.length === 0) throw new ReplayError(`--fault drop-label=${fault.label}: no rows left to send`);
  }
  if (fault?.kind === 'constant') selected = selected.map(() => selected[0]);

  const standardized = expectsStandardized(features);
  if (fault?.kind === 'unscale' && !standardized)
    throw new ReplayError('--fault unscale: this model takes raw units already (its metadata has no `raw` scaler); nothing to skip');
  if (fault?.kind === 'unscale' && scaled)
    throw new ReplayError('--fault unscale with --scaled: the rows are model-ready already, so there is no scaler to skip');
  const scale = standardized && fault?.kind !== 'unscale' && !scaled;
  return selected.map(({ input }) =>
    input.map((x, j) => {
      if (fault?.kind === 'zero') return 0;
      const raw = features[j].raw;
      return scale && raw ? (x - raw.mean) / raw.std : x;
    }),
  );
}

/** The rows, forever: each pass in a new seeded order (Fisher-Yates), so long replays do not repeat a pattern. */
export function* shuffledForever<T>(items: readonly T[], seed: number): Generator<T, never> {
  const random = seededRandom(seed);
  const order = items.map((_, i) => i);
  for (;;) {
    for (const i of shuffleInPlace(order, random)) yield items[i];
  }
}

/**
 * The held-out fixture for a model: the one named after its training dataset (`vega-datasets/penguins.json` →
 * penguins.json), else the longest fixture name the model's name starts with (penguins-unscaled → penguins.json).
 */
export async function holdoutFixture(model: { name: string; training?: { dataset?: string } }, dir: string): Promise<string> {
  let files: string[] = [];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  } catch {
    // no fixtures directory (for example a copy of the script elsewhere): fall through to the error below
  }
  const names = files.map((f) => basename(f, '.json'));
  const dataset = model.training?.dataset ? basename(model.training.dataset, extname(model.training.dataset)) : undefined;
  const byDataset = names.find((n) => n === dataset);
  const byName = names.filter((n) => model.name === n || model.name.startsWith(`${n}-`)).sort((a, b) => b.length - a.length)[0];
  const chosen = byDataset ?? byName;
  if (!chosen)
    throw new ReplayError(
      `no held-out rows for model "${model.name}"${dataset ? ` (dataset ${model.training?.dataset})` : ''} in ${dir}; ` +
        `pass your own rows with --data <file.csv|file.json>`,
    );
  return join(dir, `${chosen}.json`);
}
