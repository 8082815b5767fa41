// The model package's metadata.json: one schema gives its type, its validator and its JSON Schema (the metadata
// endpoints' OpenAPI description). Used by the registry generator at build time (a malformed package fails the
// build, naming the file and the field) and by model-stats; the Worker trusts the generated registry.
import * as v from 'valibot';
import { SEASONALITIES } from '../monitor/baseline';

/** Did-you-mean for a misspelt key: the closest allowed key within a few edits, if any. */
export function closest(key: string, allowed: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row;
    }
    return prev[b.length]!;
  };
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of allowed) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** What each `known` object says when it is missing or not an object. */
const objectMessages = new WeakMap<object, string>();

/**
 * An object that rejects keys it does not know, with a did-you-mean: a typo must not pass as "absent". Marked free of
 * side effects so that the Worker bundle, which uses the types but not the validator, drops the schemas.
 */
/* @__NO_SIDE_EFFECTS__ */ function known<const E extends v.ObjectEntries>(entries: E, what: string) {
  const keys = Object.keys(entries);
  const schema = v.strictObject(entries, (issue) => {
    // A missing required key: that entry's own message, as if it were present and wrong.
    if (issue.input === undefined && issue.expected?.startsWith('"')) {
      const entry = entries[JSON.parse(issue.expected) as string] as { message?: unknown; pipe?: { message?: unknown }[] } | undefined;
      const message = (entry && objectMessages.get(entry)) ?? entry?.message ?? entry?.pipe?.[0]?.message;
      if (typeof message === 'string') return message;
    }
    if (issue.expected !== 'never') return what;
    const key = String(issue.input);
    const guess = closest(key, keys);
    return `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}; expected ${keys.join(', ')}`;
  });
  objectMessages.set(schema, what);
  return schema;
}

const finiteNumber = /* @__NO_SIDE_EFFECTS__ */ (message = 'expected a finite number') => v.pipe(v.number(message), v.finite(message));

/**
 * A label or feature name: any string a JSON key can hold and a page can show, including JavaScript's own property
 * names (`constructor`, `__proto__`); not empty, at most 200 characters, no control characters, and valid Unicode
 * (an unpaired surrogate cannot be stored as UTF-8 text in D1 or sent in a payload).
 */
const userName = v.pipe(
  v.string('expected a non-empty string'),
  v.minLength(1, 'expected a non-empty string'),
  v.maxLength(200, 'expected at most 200 characters'),
  // eslint-disable-next-line no-control-regex
  v.regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'expected no control characters'),
  v.check((s) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s), 'expected valid Unicode text (no unpaired surrogate)'),
);

/** `{label: number}`; keys are checked against `labels` after parsing (see parseMetadata). */
const byLabel = /* @__NO_SIDE_EFFECTS__ */ (message: string) => v.record(v.string(), v.number(), message);

export const FeatureSpecSchema = known(
  {
    name: v.pipe(userName, v.description('Name a client may use as an object key in an instance.')),
    mean: v.pipe(finiteNumber(), v.description('Mean of the feature as the model expects it (after any scaling the client must apply).')),
    std: v.pipe(finiteNumber('expected a finite number >= 0'), v.minValue(0, 'expected a finite number >= 0'), v.description('Standard deviation of the feature as the model expects it.')),
    raw: v.optional(
      v.pipe(
        known(
          {
            mean: finiteNumber(),
            std: v.pipe(finiteNumber('expected a finite number > 0'), v.gtValue(0, 'expected a finite number > 0')),
          },
          'expected an object with mean and std',
        ),
        v.description(
          'The scaler fitted on raw units, when the model expects standardized inputs: a client must send (raw - raw.mean) / raw.std. These are the numbers a "scaler missing" remedy quotes.',
        ),
      ),
    ),
    mode: v.optional(
      v.pipe(
        known(
          {
            value: finiteNumber(),
            share: v.pipe(finiteNumber('expected a share in (0, 1]'), v.gtValue(0, 'expected a share in (0, 1]'), v.maxValue(1, 'expected a share in (0, 1]')),
          },
          'expected an object with value and share',
        ),
        v.description(
          'A value the feature takes in a large share of training rows (precipitation is exactly 0 on most days), in model units: a window where the feature sits at it has not lost its variance.',
        ),
      ),
    ),
  },
  'expected an object with name, mean, std',
);

const optionalNumber = v.optional(finiteNumber('expected a number'));

export const TrainingInfoSchema = known(
  {
    samples: v.pipe(
      v.number('expected a positive integer'),
      v.integer('expected a positive integer'),
      v.minValue(1, 'expected a positive integer'),
      v.description('Rows the model was trained on.'),
    ),
    label_counts: v.pipe(
      byLabel('expected an object keyed by label'),
      v.description('Training rows per label, keyed by label: the reference distribution of the monitor.'),
    ),
    class_weight: v.optional(v.pipe(byLabel('expected an object keyed by label'), v.description('Class weights used in training, when any.'))),
    standardized: v.optional(
      v.pipe(v.boolean('expected true or false'), v.description('Whether the model was trained on standardized inputs (then every feature needs raw).')),
    ),
    accuracy: v.optional(v.pipe(finiteNumber('expected a number'), v.description('Held-out accuracy written by the training script.'))),
    holdout_samples: v.optional(v.pipe(finiteNumber('expected a number'), v.description('Rows held out for accuracy and probes.'))),
    learning_rate: optionalNumber,
    epochs: optionalNumber,
    hidden_units: optionalNumber,
    seed: optionalNumber,
    dataset: v.optional(v.string('expected a string')),
  },
  'expected an object with samples and label_counts',
);

export const ProbeSchema = known(
  {
    input: v.pipe(v.array(finiteNumber(), 'expected an array of numbers'), v.description('One row in feature order, as the model expects it.')),
    label: v.pipe(v.string('expected one of labels'), v.description('The true label of the row.')),
    probabilities: v.optional(
      v.pipe(
        v.array(finiteNumber(), 'expected an array of numbers'),
        v.description('Probabilities the Node-side training script computed for this row (a parity check of the Worker).'),
      ),
    ),
  },
  'expected an object with input and label',
);

export const MonitorOverridesSchema = known(
  {
    window_seconds: v.optional(
      v.pipe(v.number('expected a positive integer'), v.integer('expected a positive integer'), v.minValue(1, 'expected a positive integer')),
    ),
    false_page_budget: v.optional(
      v.pipe(
        finiteNumber('expected a number of false pages per year > 0'),
        v.gtValue(0, 'expected a number of false pages per year > 0'),
        v.description('False pages allowed per year for this model (FALSE_PAGE_BUDGET is the deployment default).'),
      ),
    ),
    seasonality: v.optional(
      v.pipe(
        v.picklist(SEASONALITIES, `expected one of ${SEASONALITIES.join(', ')}`),
        v.description('The cycle this model\'s traffic follows: its baseline then compares a window with the same phase of previous cycles.'),
      ),
    ),
    min_predictions: v.optional(v.pipe(finiteNumber('expected a positive number'), v.minValue(1, 'expected a positive number'))),
    /** The model always has traffic: a window without any is a finding (shown and counted as flagged), not idleness. */
    expect_traffic: v.optional(v.boolean('expected true or false')),
  },
  'expected an object',
);

export const ModelMetadataSchema = known(
  {
    name: v.pipe(
      v.string('expected a name of letters, digits, ".", "_" or "-" (at most 64)'),
      v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, ".", "_" or "-" (at most 64)'),
    ),
    version: v.pipe(
      v.string('expected a version string of letters, digits, ".", "_" or "-"'),
      v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'expected a version string of letters, digits, ".", "_" or "-"'),
    ),
    description: v.optional(v.string('expected a string')),
    labels: v.pipe(
      v.array(userName, 'expected an array of at least 2 label strings'),
      v.minLength(2, 'expected an array of at least 2 label strings'),
      v.description('Output index → label.'),
    ),
    features: v.pipe(v.array(FeatureSpecSchema, 'expected a non-empty array'), v.minLength(1, 'expected a non-empty array')),
    training: TrainingInfoSchema,
    probes: v.pipe(v.array(ProbeSchema, 'expected an array of {input, label}'), v.description('A few labelled held-out rows: a canary of the model itself.')),
    reference: v.optional(
      v.pipe(
        known(
          {
            label_counts: byLabel('expected an object keyed by label'),
            samples: v.pipe(v.number('expected a positive integer'), v.integer('expected a positive integer'), v.minValue(1, 'expected a positive integer')),
            source: v.optional(v.string('expected a string')),
          },
          'expected an object with label_counts and samples',
        ),
        v.description(
          "What the model itself answers on held-out rows (argmax label counts): the monitor's first baseline. A model does not answer its training label mix, so this is what normal means for it.",
        ),
      ),
    ),
    monitor: v.optional(MonitorOverridesSchema),
    input_name: v.optional(
      v.pipe(
        v.string('expected a tensor name of letters, digits, "_", "." or "-"'),
        v.regex(/^[A-Za-z_][\w.-]{0,63}$/, 'expected a tensor name of letters, digits, "_", "." or "-"'),
        v.description('The name of the model\'s one input tensor. When set, KServe requests must use it; otherwise any name is accepted and the metadata endpoints call the input "features".'),
      ),
    ),
  },
  'expected an object',
);

export type FeatureSpec = v.InferOutput<typeof FeatureSpecSchema>;
export type TrainingInfo = v.InferOutput<typeof TrainingInfoSchema>;
export type Probe = v.InferOutput<typeof ProbeSchema>;
export type MonitorOverrides = v.InferOutput<typeof MonitorOverridesSchema>;
export type OutputReference = NonNullable<ModelMetadata['reference']>;
export type ModelMetadata = v.InferOutput<typeof ModelMetadataSchema>;

// The Worker's run-time helpers over metadata live in package-defaults.ts, which imports no schema: the bundle then
// carries the types of metadata.json but not its validator.
export { DEFAULT_INPUT_NAME, windowLengthOf } from './package-defaults';

export class MetadataError extends Error {}

/** `features[2].std`, `training.label_counts.Adelie`, `(root)`: a valibot issue path as the messages name it. */
export function issuePath(path: readonly { key: unknown }[] | undefined): string {
  if (!path || path.length === 0) return '(root)';
  return path
    .map(({ key }, i) => (typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$-]*$/.test(String(key)) ? `${i ? '.' : ''}${String(key)}` : `[${JSON.stringify(key)}]`))
    .join('');
}

const hasOwn = (obj: object, key: string) => Object.prototype.hasOwnProperty.call(obj, key);

/**
 * Checks a parsed metadata.json and returns it typed. Throws MetadataError naming the field
 * (`features[2].std: expected a finite number >= 0`), prefixed with `where` (the file). Beyond each field's own
 * shape, it checks what ties fields together: distinct labels and features, a count for every label and no
 * other, probes as wide as the features and labelled with a label, and a raw scaler on every feature of a model
 * trained on standardized inputs (without it, raw rows cannot be scaled and the scaler remedy has no numbers).
 */
export function parseMetadata(value: unknown, where = 'metadata.json'): ModelMetadata {
  const fail = (path: string, what: string): never => {
    throw new MetadataError(`${where}: ${path}: ${what}`);
  };
  const result = v.safeParse(ModelMetadataSchema, value, { abortEarly: true });
  if (!result.success) {
    const issue = result.issues[0];
    fail(issuePath(issue.path), issue.message);
  }
  // The input itself, not valibot's copy: a record copy would drop keys such as "__proto__", which are legal labels.
  const m = value as ModelMetadata;
  const labels = m.labels;
  if (new Set(labels).size !== labels.length) fail('labels', 'labels must be distinct');
  const featureNames = new Set<string>();
  m.features.forEach((f, i) => {
    if (featureNames.has(f.name)) fail(`features[${i}].name`, `duplicate feature "${f.name}"`);
    featureNames.add(f.name);
  });
  const t = m.training;
  const counts = t.label_counts;
  for (const label of labels) {
    const c = hasOwn(counts, label) ? counts[label] : undefined;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) fail(issuePath([{ key: 'training' }, { key: 'label_counts' }, { key: label }]), 'expected a count (integer >= 0) for every label');
  }
  for (const key of Object.keys(counts)) if (!labels.includes(key)) fail(issuePath([{ key: 'training' }, { key: 'label_counts' }, { key }]), 'not one of labels');
  if (t.class_weight !== undefined) {
    for (const [k, w] of Object.entries(t.class_weight)) {
      const path = issuePath([{ key: 'training' }, { key: 'class_weight' }, { key: k }]);
      if (!labels.includes(k)) fail(path, 'not one of labels');
      if (!Number.isFinite(w) || w <= 0) fail(path, 'expected a positive number');
    }
  }
  if (t.standardized === true) {
    const missing = m.features.findIndex((f) => f.raw === undefined);
    if (missing >= 0)
      fail(
        'training.standardized',
        `true, but features[${missing}].raw is missing: a model trained on standardized inputs needs the scaler fitted on raw units ({mean, std}) on every feature, or raw rows cannot be scaled`,
      );
  }
  if (m.reference !== undefined) {
    let total = 0;
    for (const [key, c] of Object.entries(m.reference.label_counts)) {
      const path = issuePath([{ key: 'reference' }, { key: 'label_counts' }, { key }]);
      if (!labels.includes(key)) fail(path, 'not one of labels');
      if (!Number.isInteger(c) || c < 0) fail(path, 'expected a count (integer >= 0)');
      total += c;
    }
    if (total !== m.reference.samples) fail('reference.samples', `expected the sum of reference.label_counts (${total})`);
  }
  m.probes.forEach((p, i) => {
    if (p.input.length !== m.features.length) fail(`probes[${i}].input`, `expected an array of ${m.features.length} numbers`);
    if (!labels.includes(p.label)) fail(`probes[${i}].label`, 'expected one of labels');
    if (p.probabilities !== undefined && p.probabilities.length !== labels.length)
      fail(`probes[${i}].probabilities`, `expected an array of ${labels.length} numbers`);
  });
  return m;
}

/**
 * Probes whose model answer is not their label: each with the label the model gave. `answers[i]` is the model's
 * top label for probe i. Many mismatches at once usually mean `labels` is not in the model's output order.
 */
export function probeMismatches(metadata: Pick<ModelMetadata, 'probes'>, answers: readonly string[]): { index: number; label: string; answer: string }[] {
  return metadata.probes.flatMap((p, index) => (answers[index] === p.label ? [] : [{ index, label: p.label, answer: answers[index]! }]));
}
