// Reads a log of past predictions (CSV with a header, or JSONL) row by row, without holding it in memory, and
// aggregates it into the windows the Worker would have closed: epoch-aligned, built with the Worker's own
// summarizeBatch/mergeCounts, and zero-filled where no prediction fell (the cron closes empty windows too).
//
// Everything here is synchronous on purpose: the windows feed src/monitor/backtest.ts's backtest(), which takes a
// plain Iterable, so the file is read one chunk at a time as the pipeline pulls windows.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { BacktestWindow } from '../../src/monitor/backtest';
import { emptyCounts, mergeCounts, summarizeBatch, windowStart, type WindowCounts } from '../../src/monitor/window';
import type { ModelMetadata } from '../../src/serving/metadata';
import { iso } from '../../src/format';

/** Bad data: printed as is (it names the file, the line and the column), exit status 2. */
export class LogError extends Error {}

export type LogFormat = 'csv' | 'jsonl';

/** One validated prediction. */
export interface LogRow {
  /** 1-based line of the file where the row starts. */
  line: number;
  /** Epoch seconds. */
  time: number;
  /** Index of the predicted label in metadata.labels. */
  label: number;
  /** The row's features in the model's feature order, when the log carries them (reused between rows: copy to keep). */
  features: Float64Array | null;
}

export interface LogProgress {
  rows: number;
  bytesRead: number;
  totalBytes: number;
}

/** Most windows a backtest may span: a mistyped time (epoch 0 among 2024 rows) must fail, not run for hours. */
export const MAX_WINDOWS = 2_000_000;
/** Rows summarised per summarizeBatch call (the Worker summarises one request's batch at a time). */
const BATCH = 1024;
const CHUNK_BYTES = 1 << 20;

/** The file's lines (without their terminator), read in 1 MiB chunks. A BOM is dropped. */
export function* fileLines(path: string, onBytes?: (read: number, total: number) => void): Generator<string> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new LogError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const total = fstatSync(fd).size;
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    const decoder = new StringDecoder('utf8');
    let read = 0;
    let rest = '';
    let first = true;
    for (;;) {
      const got = readSync(fd, buffer, 0, CHUNK_BYTES, null);
      let text = got > 0 ? rest + decoder.write(buffer.subarray(0, got)) : rest + decoder.end();
      read += got;
      onBytes?.(read, total);
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
      if (got === 0) {
        if (text !== '') yield text.endsWith('\r') ? text.slice(0, -1) : text;
        return;
      }
      let from = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
        const end = nl > from && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        yield text.slice(from, end);
        from = nl + 1;
      }
      rest = text.slice(from);
    }
  } finally {
    closeSync(fd);
  }
}

/** The format of `path`: by extension (.csv; .jsonl/.ndjson), else by its first character ('{' is JSONL). */
export function logFormat(path: string, firstLine: string): LogFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return firstLine.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

/**
 * Splits one CSV record (RFC 4180 quoting). Returns null when a quoted cell is still open at the end of `text`:
 * the record continues on the next line.
 */
export function splitCsvRecord(text: string): string[] | null {
  if (!text.includes('"')) return text.split(',');
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  if (quoted) return null;
  cells.push(cell);
  return cells;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const leap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
const EPOCH = /^[+-]?(?:\d+\.?\d*|\.\d+)$/;

/**
 * Epoch seconds of a log time: ISO 8601 (a date, or a date and time with an optional offset; no offset means UTC)
 * or epoch seconds. Returns a sentence saying what is wrong instead when it cannot be read.
 */
export function parseTime(value: unknown): number | string {
  if (typeof value === 'number') return epochSeconds(value, String(value));
  if (typeof value !== 'string') return `expected an ISO 8601 time or epoch seconds, got ${JSON.stringify(value) ?? String(value)}`;
  const text = value.trim();
  if (EPOCH.test(text)) return epochSeconds(Number(text), text);
  const m = ISO_TIME.exec(text);
  if (!m) return `expected an ISO 8601 time (2024-03-01T12:00:00Z) or epoch seconds, got "${value}"`;
  const [y, mo, d, h = 0, mi = 0, s = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => (x === undefined ? undefined : Number(x)));
  const days = mo! >= 1 && mo! <= 12 ? DAYS_IN_MONTH[mo! - 1] + (mo === 2 && leap(y!) ? 1 : 0) : 0;
  if (!(days > 0 && d! >= 1 && d! <= days && h! <= 23 && mi! <= 59 && s! <= 59))
    return `not a date and time of the calendar: "${value}"`;
  let offset = 0;
  const zone = m[8];
  if (zone && zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (oh > 23 || om > 59) return `not a UTC offset: "${zone}" in "${value}"`;
    offset = (zone[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const fraction = m[7] ? Number(`0.${m[7]}`) : 0;
  return Date.UTC(y!, mo! - 1, d!, h, mi, s) / 1000 + fraction - offset;
}

function epochSeconds(n: number, text: string): number | string {
  if (!Number.isFinite(n)) return `expected epoch seconds, got "${text}"`;
  // 1e11 seconds is the year 5138: such a number is milliseconds, and taking it as seconds would be silently wrong.
  if (Math.abs(n) >= 1e11) return `expected epoch seconds, got ${text}, which looks like milliseconds (divide by 1000)`;
  return n;
}

const list = (names: readonly string[]) => names.join(', ');

/**
 * The validated rows of a log, in file order. Throws LogError naming the file, the 1-based line and the column:
 * a missing time or label column, an unknown label, an unreadable time, a row earlier than the one before it,
 * a feature that is not a number, a malformed line.
 *
 * Features are used when the log has a column for every feature of the model (CSV: in the header; JSONL: in the
 * first row); `onFeatures` is told which, once, before the first row.
 */
export function* logRows(
  path: string,
  metadata: Pick<ModelMetadata, 'labels' | 'features'>,
  options: { onProgress?: (p: LogProgress) => void; progressEvery?: number; onFeatures?: (used: boolean, missing: string[], present: string[]) => void } = {},
): Generator<LogRow> {
  const labelIndex = new Map(metadata.labels.map((l, i) => [l, i]));
  const featureNames = metadata.features.map((f) => f.name);
  const features = new Float64Array(featureNames.length);
  const every = options.progressEvery ?? 100_000;
  let bytesRead = 0;
  let totalBytes = 0;
  const lines = fileLines(path, (read, total) => {
    bytesRead = read;
    totalBytes = total;
  });

  let lineNo = 0;
  let format: LogFormat | null = null;
  let header: string[] = [];
  let timeAt = -1;
  let labelAt = -1;
  /** Where each feature is (CSV: its column), or null when the log does not carry them all. */
  let featureAt: number[] | null = null;
  let featuresDecided = false;
  let rows = 0;
  let previous: { time: number; line: number } | null = null;

  const fail = (line: number, column: string | null, what: string): never => {
    throw new LogError(`${path}: line ${line}${column === null ? '' : `, column "${column}"`}: ${what}`);
  };

  const row = (line: number, timeValue: unknown, labelValue: unknown, featureValue: (j: number) => unknown): LogRow => {
    const time = parseTime(timeValue);
    if (typeof time === 'string') fail(line, 'time', time);
    const t = time as number;
    if (previous && t < previous.time)
      fail(line, 'time', `rows out of order: ${iso(t)} comes after ${iso(previous.time)} (line ${previous.line}); sort the log by time`);
    previous = { time: t, line };
    if (typeof labelValue !== 'string') fail(line, 'label', `expected a label string, got ${JSON.stringify(labelValue) ?? 'nothing'}`);
    const label = labelIndex.get(labelValue as string);
    if (label === undefined) fail(line, 'label', `unknown label ${JSON.stringify(labelValue)} (the model's labels: ${list(metadata.labels)})`);
    if (featureAt) {
      for (let j = 0; j < featureAt.length; j++) {
        const v = featureValue(j);
        const x = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
        if (!Number.isFinite(x)) fail(line, featureNames[j], `expected a number, got ${JSON.stringify(v) ?? 'nothing'}`);
        features[j] = x;
      }
    }
    rows++;
    if (rows % every === 0) options.onProgress?.({ rows, bytesRead, totalBytes });
    return { line, time: t, label: label!, features: featureAt ? features : null };
  };

  for (let text of lines) {
    lineNo++;
    const start = lineNo;
    if (text.trim() === '') continue;
    if (format === null) format = logFormat(path, text);

    if (format === 'jsonl') {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        fail(start, null, `not a JSON object (${(e as Error).message})`);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(start, null, 'expected a JSON object per line');
      const o = value as Record<string, unknown>;
      const has = (key: string) => Object.prototype.hasOwnProperty.call(o, key);
      if (!featuresDecided) {
        const missing = featureNames.filter((f) => !has(f));
        featureAt = missing.length === 0 ? featureNames.map((_, j) => j) : null;
        featuresDecided = true;
        options.onFeatures?.(featureAt !== null, missing, featureNames.filter((f) => has(f)));
      }
      if (!has('time')) fail(start, 'time', 'missing');
      if (!has('label')) fail(start, 'label', 'missing');
      yield row(start, o.time, o.label, (j) => (has(featureNames[j]) ? o[featureNames[j]] : undefined));
      continue;
    }

    // CSV: a quoted cell may run over several lines.
    let cells = splitCsvRecord(text);
    while (cells === null) {
      const next = lines.next();
      if (next.done) fail(start, null, 'unterminated quoted cell');
      lineNo++;
      text += `\n${next.value}`;
      cells = splitCsvRecord(text);
    }
    if (header.length === 0) {
      header = cells.map((c) => c.trim());
      const seen = new Set<string>();
      header.forEach((h) => {
        if (seen.has(h)) fail(start, h, 'duplicate column in the header');
        seen.add(h);
      });
      timeAt = header.indexOf('time');
      labelAt = header.indexOf('label');
      const missing = ['time', 'label'].filter((c) => !seen.has(c));
      if (missing.length > 0)
        fail(start, missing[0], `missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(' and ')} in the header (columns: ${list(header)})`);
      const absent = featureNames.filter((f) => !seen.has(f));
      featureAt = absent.length === 0 ? featureNames.map((f) => header.indexOf(f)) : null;
      options.onFeatures?.(featureAt !== null, absent, featureNames.filter((f) => seen.has(f)));
      continue;
    }
    if (cells.length !== header.length) fail(start, null, `expected ${header.length} cells (as the header), got ${cells.length}`);
    const at = featureAt;
    yield row(start, cells[timeAt], cells[labelAt].trim(), (j) => cells![at![j]]);
  }
  if (rows === 0) throw new LogError(`${path}: no rows${header.length > 0 ? ' after the header' : ''}; expected one prediction per line`);
  options.onProgress?.({ rows, bytesRead, totalBytes });
}

/** What windowsOf saw, filled in as it goes. */
export interface WindowTally {
  rows: number;
  windows: number;
  firstWindowStart: number | null;
  lastWindowStart: number | null;
}

/**
 * The windows of `rows`, from the first row's window to the last row's, every one of them (zero-filled where no row
 * fell), each built as the Worker builds it: summarizeBatch over batches of rows (the label as a one-hot probability
 * vector, the features when the log has them), merged with mergeCounts.
 *
 * A log only has labels, so a window's sumConfidence is n and its sumEntropy 0. A log without features has no
 * feature moments; its zeroRows is 0 (unknown), not "every row was all zeros".
 */
export function* windowsOf(
  rows: Iterable<LogRow>,
  metadata: Pick<ModelMetadata, 'labels' | 'features'>,
  windowSeconds: number,
  tally: WindowTally = { rows: 0, windows: 0, firstWindowStart: null, lastWindowStart: null },
  where = 'log',
): Generator<BacktestWindow> {
  const labels = metadata.labels;
  const featureNames = metadata.features.map((f) => f.name);
  const d = featureNames.length;
  const oneHot = labels.map((_, i) => Float64Array.from(labels, (_, j) => (j === i ? 1 : 0)));
  const inputs: Float64Array[] = Array.from({ length: BATCH }, () => new Float64Array(d));
  const noInput = new Float64Array(0);
  const probabilities: Float64Array[] = [];
  const rowsIn: Float64Array[] = [];
  let withFeatures: boolean | null = null;
  let counts: WindowCounts = emptyCounts();
  let current: number | null = null;
  let first: { start: number; line: number } | null = null;

  const summarize = () => {
    if (probabilities.length === 0) return;
    const batch = summarizeBatch(rowsIn, probabilities, labels, withFeatures ? featureNames : []);
    if (!withFeatures) batch.zeroRows = 0;
    counts = counts.n === 0 ? batch : mergeCounts(counts, batch);
    probabilities.length = 0;
    rowsIn.length = 0;
  };
  const close = (start: number): BacktestWindow => {
    summarize();
    const window = { start, counts };
    counts = emptyCounts();
    tally.windows++;
    tally.lastWindowStart = start;
    return window;
  };

  for (const row of rows) {
    const start = windowStart(row.time, windowSeconds);
    if (current === null) {
      current = start;
      first = { start, line: row.line };
      tally.firstWindowStart = start;
    } else if (start > current) {
      const span = (start - first!.start) / windowSeconds + 1;
      if (span > MAX_WINDOWS)
        throw new LogError(
          `${where}: line ${row.line}, column "time": ${iso(row.time)} would make the log span ${Math.round(span).toLocaleString('en-US')} ` +
            `windows of ${windowSeconds} s from the first row's (line ${first!.line}, ${iso(first!.start)}); at most ${MAX_WINDOWS.toLocaleString('en-US')}: ` +
            'check the times, or pass a larger --window-seconds',
        );
      yield close(current);
      for (let empty = current + windowSeconds; empty < start; empty += windowSeconds) yield close(empty);
      current = start;
    }
    if (withFeatures === null) withFeatures = row.features !== null;
    if (row.features) {
      const input = inputs[probabilities.length];
      input.set(row.features);
      rowsIn.push(input);
    } else rowsIn.push(noInput);
    probabilities.push(oneHot[row.label]);
    tally.rows++;
    if (probabilities.length === BATCH) summarize();
  }
  if (current !== null) yield close(current);
}
