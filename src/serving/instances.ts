// Turns the request shapes clients already speak into rows of finite float32 numbers in feature order.
// Every rejection names what is wrong and where, e.g. `instances[3][2]: expected a finite number`.
import type { FeatureSpec } from './metadata';
import { quoted } from '../format';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Why `x` is not a finite float32 number, or null when it is one. The loops over a batch's values call this and
 * spell out the value's place only for an error: a 1000-row batch has thousands of values.
 *
 * The test is the model's own conversion (Math.fround, as the rows are written into the float32 input): a value
 * that rounds to the largest float32, such as `3.4028235e38` (how float32 printers, numpy's among them, write it),
 * is that number, not beyond it; a value that rounds to infinity is refused.
 */
function whyNotFinite(x: unknown): string | null {
  if (typeof x !== 'number') return `expected a finite number, got ${describe(x)}`;
  if (!Number.isFinite(Math.fround(x))) return `expected a finite number (float32 range), got ${String(x)}`;
  return null;
}

function finite(x: unknown, where: string): Parsed<number> {
  const why = whyNotFinite(x);
  return why === null ? { ok: true, value: x as number } : { ok: false, error: `${where}: ${why}` };
}

/** `where.key` for a plain key; a client-chosen odd or long key is quoted and cut short, never echoed verbatim. */
function member(where: string, key: string): string {
  if (/^[A-Za-z_$][\w$]{0,39}$/.test(key)) return `${where}.${key}`;
  return `${where}[${quoted(key, 40)}]`;
}

const has = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'string') return `the string ${quoted(x, 20)}`;
  return typeof x === 'object' ? 'an object' : typeof x;
}

/**
 * One TF Serving instance: an array in feature order, an object keyed by feature name, or TF Serving's named-input row
 * `{"<input name>": [...]}` (what its row format sends for a model whose one input has a name), unless the input is
 * named like a feature.
 */
function instanceRow(instance: unknown, features: FeatureSpec[], where: string, inputName?: string): Parsed<number[]> {
  if (Array.isArray(instance)) {
    if (instance.length !== features.length)
      return { ok: false, error: `${where}: expected ${features.length} values (${features.map((f) => f.name).join(', ')}), got ${instance.length}` };
    for (let j = 0; j < features.length; j++) {
      const why = whyNotFinite(instance[j]);
      if (why !== null) return { ok: false, error: `${where}[${j}]: ${why}` };
    }
    // Already the row: fresh from JSON.parse, owned by this request, and never written to after.
    return { ok: true, value: instance as number[] };
  }
  if (typeof instance === 'object' && instance !== null) {
    const obj = instance as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (inputName !== undefined && keys.length === 1 && keys[0] === inputName && !features.some((f) => f.name === inputName)) {
      const named = obj[inputName];
      if (!Array.isArray(named)) return { ok: false, error: `${member(where, inputName)}: expected an array of ${features.length} numbers, got ${describe(named)}` };
      return instanceRow(named, features, member(where, inputName), inputName);
    }
    // Own keys only: a feature called e.g. "constructor" must not be found on Object.prototype.
    for (const key of keys) {
      if (!features.some((f) => f.name === key))
        return { ok: false, error: `${member(where, key)}: unknown feature (expected ${features.map((f) => f.name).join(', ')})` };
    }
    const row = new Array<number>(features.length);
    for (let j = 0; j < features.length; j++) {
      const name = features[j]!.name;
      if (!has(obj, name)) return { ok: false, error: `${member(where, name)}: missing feature` };
      const why = whyNotFinite(obj[name]);
      if (why !== null) return { ok: false, error: `${member(where, name)}: ${why}` };
      row[j] = obj[name] as number;
    }
    return { ok: true, value: row };
  }
  return { ok: false, error: `${where}: expected an array of ${features.length} numbers or an object keyed by feature name, got ${describe(instance)}` };
}

/** TF Serving REST: `{"instances": [...]}` (row format). */
export function parseTfServing(body: unknown, features: FeatureSpec[], maxInstances: number, inputName: string): Parsed<number[][]> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, error: 'body: expected a JSON object with "instances"' };
  const b = body as Record<string, unknown>;
  // A body with "inputs" never gets here: parseTfPredict takes it to the columnar parser, and :classify sends only
  // bodies with "instances".
  if (!has(b, 'instances')) return { ok: false, error: 'instances: missing; send {"instances": [[...], ...]}' };
  const instances = b.instances;
  if (!Array.isArray(instances)) return { ok: false, error: `instances: expected an array, got ${describe(instances)}` };
  if (instances.length === 0) return { ok: false, error: 'instances: expected at least one instance' };
  if (instances.length > maxInstances)
    return { ok: false, error: `instances: ${instances.length} instances exceed the limit of ${maxInstances} per request` };
  const rows: number[][] = new Array(instances.length);
  for (let i = 0; i < instances.length; i++) {
    const row = instanceRow(instances[i], features, `instances[${i}]`, inputName);
    if (!row.ok) return row;
    rows[i] = row.value;
  }
  return { ok: true, value: rows };
}

/** KServe V2 / Open Inference Protocol: one FP32 input tensor of shape [n, d], data flat or nested. */
export function parseKServe(
  body: unknown,
  features: FeatureSpec[],
  maxInstances: number,
  declaredInputName?: string,
): Parsed<{ rows: number[][]; inputName: string; id?: string }> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, error: 'body: expected a JSON object with "inputs"' };
  const b = body as Record<string, unknown>;
  if (b.id !== undefined && typeof b.id !== 'string') return { ok: false, error: `id: expected a string, got ${describe(b.id)}` };
  if (!Array.isArray(b.inputs)) return { ok: false, error: `inputs: expected an array of tensors, got ${describe(b.inputs)}` };
  if (b.inputs.length !== 1) return { ok: false, error: `inputs: expected exactly 1 input tensor, got ${b.inputs.length}` };
  const input = b.inputs[0] as Record<string, unknown>;
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return { ok: false, error: 'inputs[0]: expected an object {name, shape, datatype, data}' };
  if (typeof input.name !== 'string' || input.name === '') return { ok: false, error: 'inputs[0].name: expected a non-empty string' };
  if (declaredInputName !== undefined && input.name !== declaredInputName)
    return { ok: false, error: `inputs[0].name: expected "${declaredInputName}" (the model's input), got ${describe(input.name)}` };
  if (input.datatype !== 'FP32' && input.datatype !== 'FP64')
    return { ok: false, error: `inputs[0].datatype: expected "FP32" (or "FP64"), got ${describe(input.datatype)}` };
  const shape = input.shape;
  const d = features.length;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((s) => Number.isInteger(s) && s >= 0))
    return { ok: false, error: `inputs[0].shape: expected [n, ${d}]` };
  const [n, width] = shape as [number, number];
  if (width !== d) return { ok: false, error: `inputs[0].shape[1]: expected ${d} features (${features.map((f) => f.name).join(', ')}), got ${width}` };
  if (n === 0) return { ok: false, error: 'inputs[0].shape[0]: expected at least one row' };
  if (n > maxInstances) return { ok: false, error: `inputs[0].shape[0]: ${n} rows exceed the limit of ${maxInstances} per request` };
  if (!Array.isArray(input.data)) return { ok: false, error: `inputs[0].data: expected an array, got ${describe(input.data)}` };
  const data = input.data as unknown[];
  const rows: number[][] = new Array(n);
  if (data.length === n && data.every(Array.isArray)) {
    for (let i = 0; i < n; i++) {
      const row = instanceRow(data[i], features, `inputs[0].data[${i}]`);
      if (!row.ok) return row;
      rows[i] = row.value;
    }
  } else {
    if (data.length !== n * d) return { ok: false, error: `inputs[0].data: shape [${n}, ${d}] needs ${n * d} values, got ${data.length}` };
    for (let i = 0; i < n; i++) {
      const row = new Array<number>(d);
      for (let j = 0; j < d; j++) {
        const why = whyNotFinite(data[i * d + j]);
        if (why !== null) return { ok: false, error: `inputs[0].data[${i * d + j}]: ${why}` };
        row[j] = data[i * d + j] as number;
      }
      rows[i] = row;
    }
  }
  return { ok: true, value: { rows, inputName: input.name, id: b.id as string | undefined } };
}

/** Rows parsed from a TF Serving body, and the member they came from (answers and errors name it). */
export type TfRows = { rows: number[][]; format: 'instances' | 'examples' | 'inputs' };

/** The one signature a model serves (TF Serving's default signature key). */
export const SIGNATURE = 'serving_default';

/**
 * TF Serving's optional `signature_name`: absent, "" or `serving_default` pick the one signature; anything else is a
 * client bug TF Serving answers with 400, so it is one here too.
 */
export function checkSignature(body: unknown): Parsed<null> {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !has(body, 'signature_name')) return { ok: true, value: null };
  const name = (body as Record<string, unknown>).signature_name;
  if (name === '' || name === SIGNATURE) return { ok: true, value: null };
  if (typeof name !== 'string') return { ok: false, error: `signature_name: expected a string, got ${describe(name)}` };
  return { ok: false, error: `signature_name: no signature ${quoted(name, 40)} (this model has: ${SIGNATURE})` };
}

/** A TF Serving `<value>|<list>` feature value: a number or a list holding exactly one number. */
function featureValue(x: unknown, where: string): Parsed<number> {
  if (Array.isArray(x)) {
    if (x.length !== 1) return { ok: false, error: `${where}: expected one number (or a list of one), got a list of ${x.length}` };
    return finite(x[0], `${where}[0]`);
  }
  return finite(x, where);
}

/**
 * TF Serving `:classify`: `{"examples": [{feature: value, ...}], "context": {feature: value}}`. A feature comes from
 * the example or from the shared context, never both (the spec: "Features that appear here MUST NOT appear in
 * examples"). `{"instances": ...}` is accepted as on `:predict`.
 */
export function parseTfClassify(body: unknown, features: FeatureSpec[], maxInstances: number, inputName: string): Parsed<TfRows> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, error: 'body: expected a JSON object with "examples" (or "instances")' };
  const b = body as Record<string, unknown>;
  if (!has(b, 'examples')) {
    if (has(b, 'instances')) {
      const rows = parseTfServing(body, features, maxInstances, inputName);
      return rows.ok ? { ok: true, value: { rows: rows.value, format: 'instances' } } : rows;
    }
    return { ok: false, error: 'examples: missing; send {"examples": [{"<feature>": <value>, ...}], "context": {...}} (or {"instances": [...]})' };
  }
  if (has(b, 'instances')) return { ok: false, error: 'body: send either "examples" or "instances", not both' };
  const names = features.map((f) => f.name);
  const known = (key: string) => names.includes(key);
  const context = new Map<string, number>();
  if (b.context !== undefined) {
    if (typeof b.context !== 'object' || b.context === null || Array.isArray(b.context))
      return { ok: false, error: `context: expected an object keyed by feature name, got ${describe(b.context)}` };
    const ctx = b.context as Record<string, unknown>;
    for (const key of Object.keys(ctx)) {
      if (!known(key)) return { ok: false, error: `${member('context', key)}: unknown feature (expected ${names.join(', ')})` };
      const v = featureValue(ctx[key], member('context', key));
      if (!v.ok) return v;
      context.set(key, v.value);
    }
  }
  const examples = b.examples;
  if (!Array.isArray(examples)) return { ok: false, error: `examples: expected an array, got ${describe(examples)}` };
  if (examples.length === 0) return { ok: false, error: 'examples: expected at least one example' };
  if (examples.length > maxInstances)
    return { ok: false, error: `examples: ${examples.length} examples exceed the limit of ${maxInstances} per request` };
  const rows: number[][] = new Array(examples.length);
  for (let i = 0; i < examples.length; i++) {
    const where = `examples[${i}]`;
    const example = examples[i];
    if (typeof example !== 'object' || example === null || Array.isArray(example))
      return { ok: false, error: `${where}: expected an object keyed by feature name, got ${describe(example)}` };
    const obj = example as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (!known(key)) return { ok: false, error: `${member(where, key)}: unknown feature (expected ${names.join(', ')})` };
      if (context.has(key)) return { ok: false, error: `${member(where, key)}: also in context; a feature appears in one of them only` };
    }
    const row = new Array<number>(features.length);
    for (let j = 0; j < features.length; j++) {
      const name = names[j]!;
      if (context.has(name)) row[j] = context.get(name)!;
      else if (!has(obj, name)) return { ok: false, error: `${member(where, name)}: missing feature (in neither the example nor context)` };
      else {
        const v = featureValue(obj[name], member(where, name));
        if (!v.ok) return v;
        row[j] = v.value;
      }
    }
    rows[i] = row;
  }
  return { ok: true, value: { rows, format: 'examples' } };
}

/**
 * TF Serving `:predict` in the columnar format: `{"inputs": [[...], ...]}` (the one input tensor, rows in feature
 * order), `{"inputs": {"<input name>": [[...], ...]}}`, or `{"inputs": {"<feature>": [v0, v1, ...], ...}}` (one column
 * per feature). Returns the rows.
 */
export function parseTfColumnar(inputs: unknown, features: FeatureSpec[], maxInstances: number, inputName: string): Parsed<number[][]> {
  const tensor = (value: unknown, where: string): Parsed<number[][]> => {
    if (!Array.isArray(value)) return { ok: false, error: `${where}: expected an array of rows, got ${describe(value)}` };
    if (value.length === 0) return { ok: false, error: `${where}: expected at least one row` };
    if (value.length > maxInstances) return { ok: false, error: `${where}: ${value.length} rows exceed the limit of ${maxInstances} per request` };
    const rows: number[][] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      if (!Array.isArray(value[i])) return { ok: false, error: `${where}[${i}]: expected an array of ${features.length} numbers, got ${describe(value[i])}` };
      const row = instanceRow(value[i], features, `${where}[${i}]`, inputName);
      if (!row.ok) return row;
      rows[i] = row.value;
    }
    return { ok: true, value: rows };
  };
  if (Array.isArray(inputs)) return tensor(inputs, 'inputs');
  if (typeof inputs !== 'object' || inputs === null)
    return { ok: false, error: `inputs: expected a tensor (array of rows) or an object of named inputs, got ${describe(inputs)}` };
  const obj = inputs as Record<string, unknown>;
  const keys = Object.keys(obj);
  const names = features.map((f) => f.name);
  if (keys.length === 1 && keys[0] === inputName && !names.includes(inputName)) return tensor(obj[inputName], member('inputs', inputName));
  for (const key of keys)
    if (!names.includes(key))
      return { ok: false, error: `${member('inputs', key)}: unknown input (expected "${inputName}", or one column per feature: ${names.join(', ')})` };
  let n = -1;
  const columns: unknown[][] = [];
  for (const name of names) {
    const where = member('inputs', name);
    if (!has(obj, name)) return { ok: false, error: `${where}: missing feature column` };
    const column = obj[name];
    if (!Array.isArray(column)) return { ok: false, error: `${where}: expected an array with one value per row, got ${describe(column)}` };
    if (n === -1) n = column.length;
    else if (column.length !== n) return { ok: false, error: `${where}: ${column.length} values, but ${member('inputs', names[0]!)} has ${n}` };
    columns.push(column);
  }
  if (n === 0) return { ok: false, error: `${member('inputs', names[0]!)}: expected at least one row` };
  if (n > maxInstances) return { ok: false, error: `inputs: ${n} rows exceed the limit of ${maxInstances} per request` };
  const rows: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(names.length);
    for (let j = 0; j < names.length; j++) {
      const why = whyNotFinite(columns[j]![i]);
      if (why !== null) return { ok: false, error: `${member('inputs', names[j]!)}[${i}]: ${why}` };
      row[j] = columns[j]![i] as number;
    }
    rows[i] = row;
  }
  return { ok: true, value: rows };
}

/** TF Serving `:predict`: the row format (`instances`) or the columnar one (`inputs`), never both. */
export function parseTfPredict(body: unknown, features: FeatureSpec[], maxInstances: number, inputName: string): Parsed<TfRows> {
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && has(body, 'inputs')) {
    if (has(body, 'instances')) return { ok: false, error: 'body: send either "instances" (row format) or "inputs" (columnar format), not both' };
    const rows = parseTfColumnar((body as Record<string, unknown>).inputs, features, maxInstances, inputName);
    return rows.ok ? { ok: true, value: { rows: rows.value, format: 'inputs' } } : rows;
  }
  const rows = parseTfServing(body, features, maxInstances, inputName);
  return rows.ok ? { ok: true, value: { rows: rows.value, format: 'instances' } } : rows;
}

/** The outputs a KServe V2 model answers, in this order when a request names none. */
export const KSERVE_OUTPUTS = ['probabilities', 'labels'] as const;
export type KServeOutput = (typeof KSERVE_OUTPUTS)[number];

/** KServe V2 request `outputs: [{"name": ...}]`: the outputs to answer, in the order asked (all when absent). */
export function parseKServeOutputs(body: unknown): Parsed<KServeOutput[]> {
  const outputs = (body as Record<string, unknown>).outputs;
  if (outputs === undefined) return { ok: true, value: [...KSERVE_OUTPUTS] };
  if (!Array.isArray(outputs) || outputs.length === 0)
    return { ok: false, error: `outputs: expected a non-empty array of {"name": ...} (names: ${KSERVE_OUTPUTS.join(', ')}), got ${describe(outputs)}` };
  const names: KServeOutput[] = [];
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i];
    if (typeof o !== 'object' || o === null || Array.isArray(o) || typeof (o as { name?: unknown }).name !== 'string')
      return { ok: false, error: `outputs[${i}].name: expected one of ${KSERVE_OUTPUTS.join(', ')}` };
    const name = (o as { name: string }).name;
    if (!(KSERVE_OUTPUTS as readonly string[]).includes(name))
      return { ok: false, error: `outputs[${i}].name: unknown output ${quoted(name, 40)} (this model has: ${KSERVE_OUTPUTS.join(', ')})` };
    if (names.includes(name as KServeOutput)) return { ok: false, error: `outputs[${i}].name: "${name}" is asked for twice` };
    names.push(name as KServeOutput);
  }
  return { ok: true, value: names };
}
