// Models and windows for the monitor's unit tests. The metadata mirrors models/*/metadata.json as trained today
// (copied, so retraining cannot silently change what these tests mean); penguin rows are the real vega-datasets rows.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ModelMetadata, Probe } from '../../src/serving/metadata';
import type { MonitorState } from '../../src/monitor/baseline';
import { detectorSettings, type Evaluation, judgeWindow, packageReference } from '../../src/monitor/detector';
import { emptyCounts, type FeatureMoments, summarizeBatch, type WindowCounts } from '../../src/monitor/window';

const probesOf = (labels: string[], perLabel: number, width: number): Probe[] =>
  labels.flatMap((label) => Array.from({ length: perLabel }, () => ({ input: new Array(width).fill(0), label })));

const PENGUIN_FEATURES = [
  { name: 'beak_length_mm', raw: { mean: 43.795312499999994, std: 5.528256384461899 } },
  { name: 'beak_depth_mm', raw: { mean: 17.108203125000006, std: 1.9453799169417352 } },
  { name: 'flipper_length_mm', raw: { mean: 200.640625, std: 14.095508135905389 } },
  { name: 'body_mass_g', raw: { mean: 4194.921875, std: 825.8096132487102 } },
];
const PENGUIN_LABELS = ['Adelie', 'Chinstrap', 'Gentoo'];
const PENGUIN_TRAINING = {
  samples: 256,
  label_counts: { Adelie: 113, Chinstrap: 51, Gentoo: 92 },
  learning_rate: 0.01,
  epochs: 60,
  hidden_units: 16,
};

/** Standardized penguins model: features as the model expects them (mean 0, std 1) plus the raw scaler. */
export const penguins: ModelMetadata = {
  name: 'penguins',
  version: '1',
  labels: PENGUIN_LABELS,
  features: PENGUIN_FEATURES.map((f) => ({ name: f.name, mean: 0, std: 1, raw: f.raw })),
  training: { ...PENGUIN_TRAINING, standardized: true },
  probes: probesOf(PENGUIN_LABELS, 4, 4),
};

/** The same network trained on raw measurements: features in raw units, no scaler. */
export const penguinsUnscaled: ModelMetadata = {
  ...penguins,
  name: 'penguins-unscaled',
  features: PENGUIN_FEATURES.map((f) => ({ name: f.name, mean: f.raw.mean, std: f.raw.std })),
  training: { ...PENGUIN_TRAINING, standardized: false },
};

const SEATTLE_LABELS = ['drizzle', 'fog', 'rain', 'snow', 'sun'];
/** Seattle weather trained without class weights: it never answers fog or drizzle. */
export const seattleUnweighted: ModelMetadata = {
  name: 'seattle-weather-unweighted',
  version: '1',
  labels: SEATTLE_LABELS,
  features: [
    { name: 'precipitation', mean: 0, std: 1, raw: { mean: 3.1041060735671557, std: 6.916713389706981 } },
    { name: 'temp_max', mean: 0, std: 1, raw: { mean: 16.373994867408026, std: 7.326257862783779 } },
    { name: 'temp_min', mean: 0, std: 1, raw: { mean: 8.17553464499573, std: 4.986441864989797 } },
    { name: 'wind', mean: 0, std: 1, raw: { mean: 3.256886227544906, std: 1.4297424396920286 } },
  ],
  training: {
    samples: 1169,
    label_counts: { drizzle: 42, fog: 81, rain: 513, snow: 21, sun: 512 },
    standardized: true,
    learning_rate: 0.01,
    hidden_units: 16,
  },
  probes: probesOf(SEATTLE_LABELS, 4, 4),
};

/**
 * The healthy seattle-weather model: trained with 'balanced' class weights, held-out accuracy 0.6884, its own held-out
 * answers as reference (models/seattle-weather/metadata.json).
 */
export const seattleWeather: ModelMetadata = {
  ...seattleUnweighted,
  name: 'seattle-weather',
  features: seattleUnweighted.features.map((f) =>
    f.name === 'precipitation' ? { ...f, mode: { value: -0.44878338868088585, share: 0.5757 } } : f,
  ),
  training: {
    ...seattleUnweighted.training,
    class_weight: { drizzle: 5.566667, fog: 2.88642, rain: 0.45575, snow: 11.133333, sun: 0.456641 },
    accuracy: 0.6884,
    epochs: 60,
  },
  reference: { label_counts: { drizzle: 15, fog: 49, rain: 96, snow: 20, sun: 112 }, samples: 292 },
};
/**
 * What the seattle-weather model answers on its 20 probes (4 per label, in the order drizzle, fog, rain, snow, sun):
 * the argmax of each probe's recorded `probabilities` in its metadata.json, 11 of 20 right.
 */
export const SEATTLE_PROBE_ANSWERS = [
  ...['sun', 'fog', 'sun', 'sun'],
  ...['sun', 'fog', 'fog', 'fog'],
  ...['snow', 'rain', 'rain', 'rain'],
  ...['snow', 'rain', 'snow', 'snow'],
  ...['fog', 'sun', 'sun', 'fog'],
];
/** The same for seattle-weather-unweighted (held-out accuracy 0.8288): it never answers drizzle or fog, 9 of 20 right. */
export const SEATTLE_UNWEIGHTED_PROBE_ANSWERS = [
  ...['sun', 'sun', 'sun', 'sun'],
  ...['sun', 'sun', 'sun', 'sun'],
  ...['rain', 'rain', 'rain', 'rain'],
  ...['rain', 'rain', 'rain', 'snow'],
  ...['sun', 'sun', 'sun', 'sun'],
];

/** The real Seattle days (vega-datasets seattle-weather.csv, 2012–2015) whose date is in `month` (1–12), standardized as the seattle models expect. */
export function seattleRows(month: number): number[][] {
  const entry = createRequire(import.meta.url).resolve('vega-datasets');
  const lines = readFileSync(join(dirname(entry), '..', 'data', 'seattle-weather.csv'), 'utf8').trim().split(/\r?\n/);
  const header = lines[0]!.split(',');
  const columns = seattleUnweighted.features.map((f) => header.indexOf(f.name));
  return lines
    .slice(1)
    .map((line) => line.split(','))
    .filter((cells) => Number(cells[header.indexOf('date')]!.slice(5, 7)) === month)
    .map((cells) => columns.map((c, j) => (Number(cells[c]) - seattleUnweighted.features[j]!.raw!.mean) / seattleUnweighted.features[j]!.raw!.std));
}

/** The labels of `counts`, one per prediction (in label order): answers to pair with input rows in windowOf. */
export const answersOf = (counts: Record<string, number>): string[] => Object.entries(counts).flatMap(([label, c]) => Array.from({ length: c }, () => label));

/** A plain model with the given training counts and `features` standardized features. */
export function modelWith(labelCounts: Record<string, number>, extra: Partial<ModelMetadata> = {}, features = 2): ModelMetadata {
  const labels = Object.keys(labelCounts);
  return {
    name: 'test-model',
    version: '1',
    labels,
    features: Array.from({ length: features }, (_, i) => ({ name: `f${i}`, mean: 0, std: 1 })),
    training: { samples: Object.values(labelCounts).reduce((s, c) => s + c, 0), label_counts: labelCounts },
    probes: probesOf(labels, 3, features),
    ...extra,
  };
}

/** Moments of `count` values with this mean and (population) std. */
export const momentsOf = (count: number, mean: number, std: number): FeatureMoments => ({
  count,
  sum: count * mean,
  sumSq: count * (std * std + mean * mean),
  min: mean - 2 * std,
  max: mean + 2 * std,
  zeros: 0,
});

/** A window with these label counts whose inputs look exactly like the training data of `metadata`. */
export function labelWindow(labelCounts: Record<string, number>, metadata?: ModelMetadata): WindowCounts {
  const n = Object.values(labelCounts).reduce((s, c) => s + c, 0);
  const features: Record<string, FeatureMoments> = {};
  if (metadata && n > 0) for (const f of metadata.features) features[f.name] = momentsOf(n, f.mean, f.std);
  return { ...emptyCounts(), n, labelCounts, features };
}

interface PenguinRow {
  species: string;
  raw: number[];
}

/** The real penguin rows with all four measurements, in raw units. */
export function penguinRows(): PenguinRow[] {
  // The package's "exports" hides data/ from subpath resolution: go through its entry point (build/index.js).
  const entry = createRequire(import.meta.url).resolve('vega-datasets');
  const path = join(dirname(entry), '..', 'data', 'penguins.json');
  const rows = JSON.parse(readFileSync(path, 'utf8')) as Record<string, number | string | null>[];
  const columns = ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'];
  return rows
    .filter((r) => columns.every((c) => typeof r[c] === 'number'))
    .map((r) => ({ species: r.Species as string, raw: columns.map((c) => r[c] as number) }));
}

/** The window the aggregator would build from these input rows answered with these labels. */
export function windowOf(inputs: number[][], predicted: string[], metadata: ModelMetadata): WindowCounts {
  const probabilities = predicted.map((label) => metadata.labels.map((l) => (l === label ? 1 : 0)));
  return summarizeBatch(
    inputs,
    probabilities,
    metadata.labels,
    metadata.features.map((f) => f.name),
  );
}

/** Rows scaled as the standardized penguins model expects. */
export const standardize = (raw: number[]) => raw.map((x, j) => (x - PENGUIN_FEATURES[j].raw.mean) / PENGUIN_FEATURES[j].raw.std);

/** Counts of `n` predictions split as `shares` (largest remainders), keyed by `labels`: a noiseless window. */
export function windowAt(labels: readonly string[], shares: readonly number[], n: number): WindowCounts {
  const exact = shares.map((s) => s * n);
  const counts = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (let r = n - counts.reduce((s, c) => s + c, 0), j = 0; r > 0; r--, j++) counts[order[j][1]]++;
  return labelWindow(Object.fromEntries(labels.map((l, i) => [l, counts[i]])));
}

/**
 * Judges `windows` one after the other with the real detector (windows of `windowSeconds`, starting at 0) and
 * returns every evaluation and the final state: what the cron does to a model version's closed windows.
 */
export function judgeSequence(metadata: ModelMetadata, windows: readonly WindowCounts[], windowSeconds = 60) {
  const settings = detectorSettings(metadata, { windowSeconds });
  let state: MonitorState | null = null;
  const evaluations: Evaluation[] = [];
  windows.forEach((w, i) => {
    const judged = judgeWindow(state, w, i * windowSeconds, settings);
    state = judged.state;
    evaluations.push(judged.evaluation);
  });
  return { evaluations, last: evaluations[evaluations.length - 1], state: state as MonitorState | null };
}

/** A window judged after `warmup` healthy windows at the package's reference mix (so the model has a history). */
export function judgedAfterHealthy(metadata: ModelMetadata, windows: readonly WindowCounts[], warmup = 30, perWindow = 300): Evaluation {
  const reference = packageReference(metadata);
  const total = reference.counts.reduce((s, c) => s + c, 0);
  const healthy = windowAt(metadata.labels, reference.counts.map((c) => c / total), perWindow);
  return judgeSequence(metadata, [...Array.from({ length: warmup }, () => healthy), ...windows]).last;
}
