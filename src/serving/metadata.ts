// The model package's metadata.json: its one type and its one validator.
// Used by the registry generator at build time (a malformed package fails the build) and by nothing else at
// run time, so the Worker trusts the generated registry.

export interface FeatureSpec {
  /** Name a client may use as an object key in an instance. */
  name: string;
  /** Mean of the feature as the model expects it (after any scaling the client must apply). */
  mean: number;
  /** Standard deviation of the feature as the model expects it. */
  std: number;
  /**
   * The scaler fitted on raw units, when the model expects standardized inputs: a client must send
   * (raw - raw.mean) / raw.std. These are the numbers a "scaler missing" remedy quotes.
   */
  raw?: { mean: number; std: number };
  /**
   * A value the feature takes in a large share of training rows (precipitation is exactly 0 on most days), in model
   * units: a window where the feature sits at it has not lost its variance.
   */
  mode?: { value: number; share: number };
}

export interface TrainingInfo {
  /** Rows the model was trained on. */
  samples: number;
  /** Training rows per label, keyed by label: the reference distribution of the monitor. */
  label_counts: Record<string, number>;
  /** Class weights used in training, when any. */
  class_weight?: Record<string, number>;
  /** Whether the model was trained on standardized inputs. */
  standardized?: boolean;
  /** Held-out accuracy written by the training script. */
  accuracy?: number;
  /** Rows held out for accuracy and probes. */
  holdout_samples?: number;
  learning_rate?: number;
  epochs?: number;
  hidden_units?: number;
  seed?: number;
  dataset?: string;
}

export interface Probe {
  /** One row in feature order, as the model expects it. */
  input: number[];
  /** The true label of the row. */
  label: string;
  /** Probabilities the Node-side training script computed for this row (a parity check of the Worker). */
  probabilities?: number[];
}

export interface MonitorOverrides {
  window_seconds?: number;
  /** False pages allowed per year for this model (FALSE_PAGE_BUDGET is the deployment's default). */
  false_page_budget?: number;
  min_predictions?: number;
  /** The cycle this model's traffic follows, if any: its baseline then compares a window with the same phase before. */
  seasonality?: Seasonality;
}

/**
 * What the model itself answers on held-out rows: the monitor's first baseline. A model does not answer its
 * training label mix (class weights, thresholds and plain error move it), so this is what "normal" means for it.
 */
export interface OutputReference {
  /** Predicted (argmax) label counts on the held-out rows, keyed by label. */
  label_counts: Record<string, number>;
  /** Held-out rows predicted. */
  samples: number;
  /** Where the rows came from, in words. */
  source?: string;
}

export interface ModelMetadata {
  name: string;
  version: string;
  /** Output index → label. */
  labels: string[];
  features: FeatureSpec[];
  training: TrainingInfo;
  probes: Probe[];
  /** The model's own held-out outputs (written by `npm run train` and `npm run stats -- --model-dir`). */
  reference?: OutputReference;
  monitor?: MonitorOverrides;
  description?: string;
  /**
   * The name of the model's one input tensor. When set, KServe requests must use it; when absent any name is
   * accepted and the metadata endpoints call the input `features`.
   */
  input_name?: string;
}

/**
 * Window length of a model version in seconds: its own `monitor.window_seconds`, else the deployment default
 * (`WINDOW_SECONDS`). Pass undefined for a version that is not served (it gets the default).
 */
export const windowLengthOf = (metadata: Pick<ModelMetadata, 'monitor'> | undefined, defaults: { windowSeconds: number }): number =>
  metadata?.monitor?.window_seconds ?? defaults.windowSeconds;

/** The input's name in the metadata endpoints when the package declares none. */
export const DEFAULT_INPUT_NAME = 'features';

import { SEASONALITIES, type Seasonality } from '../monitor/baseline';

export class MetadataError extends Error {}

type Json = unknown;

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: Json): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Checks a parsed metadata.json and returns it typed. Throws MetadataError naming the field
 * (`features[2].std: expected a positive number`), prefixed with `where` (the file).
 */
export function parseMetadata(value: Json, where = 'metadata.json'): ModelMetadata {
  const fail = (path: string, what: string): never => {
    throw new MetadataError(`${where}: ${path}: ${what}`);
  };
  if (!isObject(value)) fail('(root)', 'expected an object');
  const m = value as Record<string, Json>;

  if (typeof m.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(m.name))
    fail('name', 'expected a name of letters, digits, ".", "_" or "-" (at most 64)');
  if (typeof m.version !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(m.version))
    fail('version', 'expected a version string of letters, digits, ".", "_" or "-"');

  if (!Array.isArray(m.labels) || m.labels.length < 2) fail('labels', 'expected an array of at least 2 label strings');
  const labels = m.labels as Json[];
  labels.forEach((l, i) => {
    if (typeof l !== 'string' || l.length === 0) fail(`labels[${i}]`, 'expected a non-empty string');
  });
  if (new Set(labels).size !== labels.length) fail('labels', 'labels must be distinct');

  if (!Array.isArray(m.features) || m.features.length === 0) fail('features', 'expected a non-empty array');
  const features = m.features as Json[];
  const featureNames = new Set<string>();
  features.forEach((f, i) => {
    if (!isObject(f)) fail(`features[${i}]`, 'expected an object with name, mean, std');
    const spec = f as Record<string, Json>;
    if (typeof spec.name !== 'string' || spec.name.length === 0) fail(`features[${i}].name`, 'expected a non-empty string');
    if (featureNames.has(spec.name as string)) fail(`features[${i}].name`, `duplicate feature "${spec.name}"`);
    featureNames.add(spec.name as string);
    if (!isFiniteNumber(spec.mean)) fail(`features[${i}].mean`, 'expected a finite number');
    if (!isFiniteNumber(spec.std) || spec.std < 0) fail(`features[${i}].std`, 'expected a finite number >= 0');
    if (spec.raw !== undefined) {
      if (!isObject(spec.raw)) fail(`features[${i}].raw`, 'expected an object with mean and std');
      const raw = spec.raw as Record<string, Json>;
      if (!isFiniteNumber(raw.mean)) fail(`features[${i}].raw.mean`, 'expected a finite number');
      if (!isFiniteNumber(raw.std) || raw.std <= 0) fail(`features[${i}].raw.std`, 'expected a finite number > 0');
    }
    if (spec.mode !== undefined) {
      if (!isObject(spec.mode)) fail(`features[${i}].mode`, 'expected an object with value and share');
      const mode = spec.mode as Record<string, Json>;
      if (!isFiniteNumber(mode.value)) fail(`features[${i}].mode.value`, 'expected a finite number');
      if (!isFiniteNumber(mode.share) || mode.share <= 0 || mode.share > 1) fail(`features[${i}].mode.share`, 'expected a share in (0, 1]');
    }
  });

  if (!isObject(m.training)) fail('training', 'expected an object with samples and label_counts');
  const t = m.training as Record<string, Json>;
  if (!isFiniteNumber(t.samples) || !Number.isInteger(t.samples) || t.samples <= 0)
    fail('training.samples', 'expected a positive integer');
  if (!isObject(t.label_counts)) fail('training.label_counts', 'expected an object keyed by label');
  const counts = t.label_counts as Record<string, Json>;
  for (const label of labels as string[]) {
    const c = counts[label];
    if (!isFiniteNumber(c) || !Number.isInteger(c) || c < 0)
      fail(`training.label_counts.${label}`, 'expected a count (integer >= 0) for every label');
  }
  for (const key of Object.keys(counts)) {
    if (!(labels as string[]).includes(key)) fail(`training.label_counts.${key}`, 'not one of labels');
  }
  if (t.class_weight !== undefined) {
    if (!isObject(t.class_weight)) fail('training.class_weight', 'expected an object keyed by label');
    for (const [k, w] of Object.entries(t.class_weight as Record<string, Json>)) {
      if (!(labels as string[]).includes(k)) fail(`training.class_weight.${k}`, 'not one of labels');
      if (!isFiniteNumber(w) || w <= 0) fail(`training.class_weight.${k}`, 'expected a positive number');
    }
  }
  if (t.standardized !== undefined && typeof t.standardized !== 'boolean')
    fail('training.standardized', 'expected true or false');
  for (const k of ['accuracy', 'holdout_samples', 'learning_rate', 'epochs', 'hidden_units', 'seed'] as const) {
    if (t[k] !== undefined && !isFiniteNumber(t[k])) fail(`training.${k}`, 'expected a number');
  }

  if (!Array.isArray(m.probes)) fail('probes', 'expected an array of {input, label}');
  (m.probes as Json[]).forEach((p, i) => {
    if (!isObject(p)) fail(`probes[${i}]`, 'expected an object with input and label');
    const probe = p as Record<string, Json>;
    if (!Array.isArray(probe.input) || probe.input.length !== features.length)
      fail(`probes[${i}].input`, `expected an array of ${features.length} numbers`);
    (probe.input as Json[]).forEach((x, j) => {
      if (!isFiniteNumber(x)) fail(`probes[${i}].input[${j}]`, 'expected a finite number');
    });
    if (typeof probe.label !== 'string' || !(labels as string[]).includes(probe.label))
      fail(`probes[${i}].label`, 'expected one of labels');
    if (probe.probabilities !== undefined) {
      if (!Array.isArray(probe.probabilities) || probe.probabilities.length !== labels.length)
        fail(`probes[${i}].probabilities`, `expected an array of ${labels.length} numbers`);
      (probe.probabilities as Json[]).forEach((x, j) => {
        if (!isFiniteNumber(x)) fail(`probes[${i}].probabilities[${j}]`, 'expected a finite number');
      });
    }
  });

  if (m.reference !== undefined) {
    if (!isObject(m.reference)) fail('reference', 'expected an object with label_counts and samples');
    const r = m.reference as Record<string, Json>;
    if (!isObject(r.label_counts)) fail('reference.label_counts', 'expected an object keyed by label');
    const predicted = r.label_counts as Record<string, Json>;
    let total = 0;
    for (const [key, c] of Object.entries(predicted)) {
      if (!(labels as string[]).includes(key)) fail(`reference.label_counts.${key}`, 'not one of labels');
      if (!isFiniteNumber(c) || !Number.isInteger(c) || c < 0) fail(`reference.label_counts.${key}`, 'expected a count (integer >= 0)');
      total += c as number;
    }
    if (!isFiniteNumber(r.samples) || !Number.isInteger(r.samples) || r.samples <= 0)
      fail('reference.samples', 'expected a positive integer');
    if (total !== r.samples) fail('reference.samples', `expected the sum of reference.label_counts (${total})`);
    if (r.source !== undefined && typeof r.source !== 'string') fail('reference.source', 'expected a string');
  }

  if (m.monitor !== undefined) {
    if (!isObject(m.monitor)) fail('monitor', 'expected an object');
    const mo = m.monitor as Record<string, Json>;
    if (mo.window_seconds !== undefined && (!isFiniteNumber(mo.window_seconds) || !Number.isInteger(mo.window_seconds) || mo.window_seconds < 1))
      fail('monitor.window_seconds', 'expected a positive integer');
    if (mo.false_page_budget !== undefined && (!isFiniteNumber(mo.false_page_budget) || mo.false_page_budget <= 0))
      fail('monitor.false_page_budget', 'expected a number of false pages per year > 0');
    if (mo.seasonality !== undefined && !SEASONALITIES.includes(mo.seasonality as Seasonality))
      fail('monitor.seasonality', `expected one of ${SEASONALITIES.join(', ')}`);
    if (mo.min_predictions !== undefined && (!isFiniteNumber(mo.min_predictions) || mo.min_predictions < 1))
      fail('monitor.min_predictions', 'expected a positive number');
  }
  if (m.description !== undefined && typeof m.description !== 'string') fail('description', 'expected a string');
  if (m.input_name !== undefined && (typeof m.input_name !== 'string' || !/^[A-Za-z_][\w.-]{0,63}$/.test(m.input_name)))
    fail('input_name', 'expected a tensor name of letters, digits, "_", "." or "-"');

  return value as unknown as ModelMetadata;
}
