// Computes a model package's training statistics from the CSV it was trained on, and writes or updates its
// metadata.json: per-feature mean/std (and the raw scaler of a standardized model), label counts, samples and
// 'balanced' class weights. These numbers are labelwatch's reference: wrong ones mean wrong alarms.
//
//   npm run stats -- --csv train.csv --label species [--features a,b,c] [--standardize] [--class-weight]
//                    [--name penguins --version 2] [--out models/penguins/metadata.json]
//
// Statistics are population ones (divide by n), as sklearn's StandardScaler and scripts/train.ts compute them.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from './lib/args.ts';
import { parseCsv, type CsvTable } from './lib/csv.ts';
import { predictLabels, toModelUnits } from './lib/model.ts';
import { MetadataError, parseMetadata, type FeatureSpec, type ModelMetadata } from '../src/serving/metadata.ts';

/** An error for the person at the terminal: printed without a stack. */
export class StatsError extends Error {}

export interface TrainingStats {
  /** Features as the model expects them: raw statistics, or ≈0/≈1 with the fitted `raw` scaler when standardized. */
  features: FeatureSpec[];
  /** Labels found, sorted. */
  labels: string[];
  labelCounts: Record<string, number>;
  samples: number;
  /** 'balanced' weights n / (k · n_c) over the k labels present, rounded to 6 decimals (as scripts/train.ts). */
  classWeight: Record<string, number>;
  standardized: boolean;
  /** Rows left out: blank label, or a feature blank or not a number. */
  skipped: number;
}

const toNumber = (cell: string): number | null => {
  if (cell.trim() === '') return null;
  const n = Number(cell);
  return Number.isFinite(n) ? n : null;
};

/** Columns whose every non-blank cell is a number (the default features), in file order. */
export function numericColumns(table: CsvTable, except: string[]): string[] {
  return table.header.filter((column, j) => {
    if (except.includes(column)) return false;
    const cells = table.rows.map((r) => r[j]).filter((c) => c.trim() !== '');
    return cells.length > 0 && cells.every((c) => toNumber(c) !== null);
  });
}

/** Population mean and standard deviation of each column of `rows`. */
function meanStd(rows: number[][], d: number): { mean: number[]; std: number[] } {
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
  const std = Array.from({ length: d }, (_, j) => Math.sqrt(rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / rows.length));
  return { mean, std };
}

export function balancedClassWeights(counts: Record<string, number>): Record<string, number> {
  const present = Object.entries(counts).filter(([, c]) => c > 0);
  const n = present.reduce((s, [, c]) => s + c, 0);
  return Object.fromEntries(present.map(([label, c]) => [label, Number((n / (present.length * c)).toFixed(6))]));
}

/**
 * Training statistics of a CSV table. `features` defaults to every numeric column but the label.
 * Throws StatsError naming missing columns, a constant feature that cannot be standardized, or no usable rows.
 */
export function computeStats(
  table: CsvTable,
  options: { label: string; features?: string[]; standardize?: boolean; where?: string },
): TrainingStats {
  const where = options.where ?? 'csv';
  const labelAt = table.header.indexOf(options.label);
  if (labelAt < 0) throw new StatsError(`${where}: no label column "${options.label}" (columns: ${table.header.join(', ')})`);
  const features = options.features ?? numericColumns(table, [options.label]);
  if (features.length === 0) throw new StatsError(`${where}: no numeric feature columns besides "${options.label}"; name them with --features`);
  const missing = features.filter((f) => !table.header.includes(f));
  if (missing.length > 0)
    throw new StatsError(`${where}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (columns: ${table.header.join(', ')})`);
  if (features.includes(options.label)) throw new StatsError(`--features: the label column "${options.label}" cannot be a feature`);

  const at = features.map((f) => table.header.indexOf(f));
  const x: number[][] = [];
  const y: string[] = [];
  let skipped = 0;
  for (const cells of table.rows) {
    const row = at.map((j) => toNumber(cells[j]));
    const label = cells[labelAt].trim();
    if (label === '' || row.some((v) => v === null)) {
      skipped++;
      continue;
    }
    x.push(row as number[]);
    y.push(label);
  }
  if (x.length === 0) throw new StatsError(`${where}: no row has a label and a number for every feature`);

  const raw = meanStd(x, features.length);
  if (options.standardize) {
    const constant = features.filter((_, j) => raw.std[j] === 0);
    if (constant.length > 0)
      throw new StatsError(`${constant.join(', ')}: constant in the training data (std 0), cannot be standardized; drop it with --features`);
  }
  // The inputs as the model sees them: for a standardized model, the scaled rows (mean ≈ 0, std ≈ 1).
  const seen = options.standardize ? meanStd(x.map((r) => r.map((v, j) => (v - raw.mean[j]) / raw.std[j])), features.length) : raw;

  const labels = [...new Set(y)].sort();
  const labelCounts = Object.fromEntries(labels.map((l) => [l, 0]));
  for (const label of y) labelCounts[label]++;
  return {
    features: features.map((name, j) => ({
      name,
      mean: seen.mean[j],
      std: seen.std[j],
      ...(options.standardize ? { raw: { mean: raw.mean[j], std: raw.std[j] } } : {}),
    })),
    labels,
    labelCounts,
    samples: x.length,
    classWeight: balancedClassWeights(labelCounts),
    standardized: options.standardize === true,
    skipped,
  };
}

export interface BuildOptions {
  name?: string;
  version?: string;
  /** Write the suggested class weights into training.class_weight. */
  classWeight?: boolean;
  /** Recorded as training.dataset in a new skeleton. */
  dataset?: string;
}

/**
 * The metadata with these statistics: merged into `existing` (its labels order, probes, name, version and other
 * training fields are kept), or a new skeleton (labels sorted, no probes). Validated by parseMetadata.
 * Returns warnings for the person running the tool.
 */
export function buildMetadata(stats: TrainingStats, existing: ModelMetadata | null, options: BuildOptions = {}, where = 'metadata.json') {
  const warnings: string[] = [];
  const labels = existing?.labels ?? stats.labels;
  const unknown = stats.labels.filter((l) => !labels.includes(l));
  if (unknown.length > 0)
    throw new StatsError(`label${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} in the CSV ${unknown.length > 1 ? 'are' : 'is'} not among the model's labels (${labels.join(', ')}) in ${where}`);
  const labelCounts = Object.fromEntries(labels.map((l) => [l, stats.labelCounts[l] ?? 0]));
  const absent = labels.filter((l) => labelCounts[l] === 0);
  if (absent.length > 0) warnings.push(`no training rows for ${absent.join(', ')}: the monitor expects the model never to answer it`);
  if (existing) {
    const before = existing.features.map((f) => f.name).join(', ');
    const after = stats.features.map((f) => f.name).join(', ');
    if (before !== after) warnings.push(`features changed from (${before}) to (${after}): the model's input order must match`);
  }
  const wasStandardized = existing !== null && existing.features.some((f) => f.raw !== undefined);
  if (existing && wasStandardized !== stats.standardized)
    warnings.push(
      `${where} described a model trained on ${wasStandardized ? 'standardized' : 'raw'} inputs, now ${stats.standardized ? 'standardized' : 'raw'}` +
        `${wasStandardized ? ' (forgot --standardize?)' : ''}: this must match how the model was trained`,
    );
  const constant = stats.features.filter((f) => f.std === 0).map((f) => f.name);
  if (constant.length > 0) warnings.push(`${constant.join(', ')}: constant in the training data (std 0)`);

  const training = {
    ...(existing?.training ?? { dataset: options.dataset }),
    samples: stats.samples,
    label_counts: labelCounts,
    standardized: stats.standardized,
    ...(options.classWeight ? { class_weight: stats.classWeight } : {}),
  };
  if (training.dataset === undefined) delete training.dataset;
  const metadata = {
    ...(existing ?? {}),
    name: options.name ?? existing?.name,
    version: options.version ?? existing?.version ?? '1',
    labels,
    features: stats.features,
    training,
    probes: existing?.probes ?? [],
  };
  return { metadata: parseMetadata(metadata, where), warnings };
}

// ---------------------------------------------------------------------------------------------------------
// CLI

export const USAGE = `usage: npm run stats -- --csv <train.csv> --label <column> [options]
       npm run stats -- --model-dir <package> --csv <held-out.csv> [--scaled] [--out <file>]

  --csv <file>          training data: CSV with a header row
  --label <column>      the column holding the class label
  --features a,b,c      feature columns, in the model's input order
                        (default: the existing metadata's features, else every numeric column but the label)
  --standardize         the model was trained on standardized inputs: record the fitted scaler as "raw"
  --class-weight        write the suggested 'balanced' class weights n/(k·n_c) into training.class_weight
  --name <name>         model name (default: the existing one, else the --out folder name)
  --version <v>         model version (default: the existing one, else "1")
  --out <file>          metadata.json to update (merged when it exists) or create; default: print to stdout

  With --model-dir, the model's own answers instead: the package's model (model.json + weights, run in Node)
  predicts every row of the held-out CSV (feature columns by name, raw units unless --scaled) and its label counts
  are written as the package's "reference", the baseline labelwatch judges production against
  (default --out: <package>/metadata.json).
  --model-dir <dir>     the model package (model.json, weights, metadata.json)
  --scaled              the CSV is already in model units (do not apply the features' raw scaler)`;

const fmt = (x: number) => (Math.abs(x) < 1e-9 ? '0' : Number(x.toPrecision(6)).toString());

function describeStats(stats: TrainingStats, classWeight: boolean): string {
  const lines = [`stats: ${stats.samples} rows${stats.skipped ? ` (${stats.skipped} skipped: blank label or feature)` : ''}`];
  for (const f of stats.features)
    lines.push(`  ${f.name.padEnd(24)} mean ${fmt(f.mean).padStart(12)}  std ${fmt(f.std).padStart(12)}` +
      (f.raw ? `   raw mean ${fmt(f.raw.mean)} std ${fmt(f.raw.std)}` : ''));
  lines.push('  label                    count   share   class_weight');
  for (const l of stats.labels)
    lines.push(`  ${l.padEnd(24)} ${String(stats.labelCounts[l]).padStart(5)}  ${((100 * stats.labelCounts[l]) / stats.samples).toFixed(1).padStart(5)}%   ${stats.classWeight[l]}`);
  if (!classWeight) lines.push('  (class weights are suggestions; --class-weight writes them into the metadata)');
  return lines.join('\n');
}

/** The CSV at `path`, parsed; an unreadable or malformed file is a StatsError naming it. */
function readCsvTable(path: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StatsError(`--csv ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return parseCsv(text, path);
  } catch (e) {
    throw new StatsError((e as Error).message);
  }
}

/**
 * The package's own answers on held-out rows: its model predicts every row of `rows` (already in the model's feature
 * order and units), and the counts per label become metadata.reference.
 */
export async function referenceOf(modelDir: string, metadata: ModelMetadata, rows: number[][], source: string): Promise<NonNullable<ModelMetadata['reference']>> {
  const answers = await predictLabels(modelDir, metadata, rows);
  const labelCounts = Object.fromEntries(metadata.labels.map((l) => [l, answers.filter((a) => a === l).length]));
  return { label_counts: labelCounts, samples: answers.length, source };
}

/** `--model-dir`: predicts the held-out CSV with the package's model and writes the counts as its reference. */
async function writeReference(modelDir: string, csvPath: string, scaled: boolean, out: string | undefined): Promise<number> {
  const metadataPath = join(modelDir, 'metadata.json');
  if (!existsSync(join(modelDir, 'model.json'))) throw new StatsError(`--model-dir ${modelDir}: no model.json there`);
  if (!existsSync(metadataPath)) throw new StatsError(`--model-dir ${modelDir}: no metadata.json there (write it first: npm run stats -- --csv <train.csv> --label <column> --out ${metadataPath})`);
  const metadata = readMetadata(metadataPath);
  const table = readCsvTable(csvPath);
  const at = metadata.features.map((f) => table.header.indexOf(f.name));
  const missing = metadata.features.filter((_, j) => at[j] < 0).map((f) => f.name);
  if (missing.length > 0) throw new StatsError(`${csvPath}: missing feature column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (columns: ${table.header.join(', ')})`);
  const rows: number[][] = [];
  let skipped = 0;
  table.rows.forEach((cells) => {
    const row = at.map((j) => toNumber(cells[j]));
    if (row.some((v) => v === null)) skipped++;
    else rows.push(row as number[]);
  });
  if (rows.length === 0) throw new StatsError(`${csvPath}: no row has a number for every feature`);
  const reference = await referenceOf(modelDir, metadata, scaled ? rows : toModelUnits(metadata, rows), `argmax on the ${rows.length} held-out rows of ${basename(csvPath)}`);
  process.stderr.write(
    `stats: the model answers ${metadata.labels.map((l) => `${l} ${reference.label_counts[l]}`).join(', ')} on ${rows.length} rows` +
      `${skipped ? ` (${skipped} skipped: a feature blank or not a number)` : ''}, ${scaled ? 'taken as model units' : 'scaled from raw units with each feature\'s raw scaler'}\n`,
  );
  const updated = parseMetadata({ ...metadata, reference }, metadataPath);
  const target = out ?? metadataPath;
  await writeFile(target, `${JSON.stringify(updated, null, 2)}\n`);
  process.stderr.write(`stats: wrote reference into ${target}\n`);
  return 0;
}

/** An existing metadata.json, checked: merging into a broken file would hide the problem. */
function readMetadata(path: string): ModelMetadata {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new StatsError(`${path}: exists but is not valid JSON (${(e as Error).message}); fix or remove it`);
  }
  return parseMetadata(value, path);
}

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseFlags(argv, {
      csv: { type: 'string' },
      label: { type: 'string' },
      features: { type: 'string' },
      standardize: { type: 'boolean', default: false },
      'class-weight': { type: 'boolean', default: false },
      name: { type: 'string' },
      version: { type: 'string' },
      out: { type: 'string' },
      'model-dir': { type: 'string' },
      scaled: { type: 'boolean', default: false },
    });
    if (!values.help && !values.csv) throw new Error('--csv is required');
    if (!values.help && !values.label && !values['model-dir']) throw new Error('--label is required (or --model-dir, for the reference)');
  } catch (e) {
    process.stderr.write(`stats: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    if (values['model-dir']) return await writeReference(values['model-dir'], values.csv!, values.scaled ?? false, values.out);
    const csvPath = values.csv!;
    const table = readCsvTable(csvPath);

    const existing = values.out && existsSync(values.out) ? readMetadata(values.out) : null;
    const features = values.features?.split(',').map((f) => f.trim()).filter(Boolean) ?? existing?.features.map((f) => f.name);
    const stats = computeStats(table, { label: values.label!, features, standardize: values.standardize, where: csvPath });
    process.stderr.write(`${describeStats(stats, values['class-weight'])}\n`);

    const name = values.name ?? (existing ? undefined : values.out ? basename(dirname(resolve(values.out))) : basename(csvPath, extname(csvPath)));
    const { metadata, warnings } = buildMetadata(
      stats,
      existing,
      { name, version: values.version, classWeight: values['class-weight'], dataset: basename(csvPath) },
      values.out ?? 'metadata.json',
    );
    for (const w of warnings) process.stderr.write(`stats: warning: ${w}\n`);
    if (!existing) {
      process.stderr.write(
        `stats: new metadata: labels sorted (${metadata.labels.join(', ')}); they must be in the order of the model's outputs\n` +
          `stats: note: probes is empty; add a few labelled held-out rows ({input: [in model units], label}) so labelwatch can check the model itself\n`,
      );
    }
    const json = `${JSON.stringify(metadata, null, 2)}\n`;
    if (values.out) {
      await mkdir(dirname(values.out), { recursive: true });
      await writeFile(values.out, json);
      process.stderr.write(`stats: ${existing ? 'updated' : 'wrote'} ${values.out}\n`);
    } else process.stdout.write(json);
    return 0;
  } catch (e) {
    if (e instanceof StatsError || e instanceof MetadataError) {
      process.stderr.write(`stats: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}

function invokedAsScript(): boolean {
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false; // imported (tests), or no script path
  }
}
if (invokedAsScript()) process.exitCode = await main(process.argv.slice(2));
