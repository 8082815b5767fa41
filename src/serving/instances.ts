// Turns the request shapes clients already speak into rows of finite float32 numbers in feature order.
// Every rejection names what is wrong and where, e.g. `instances[3][2]: expected a finite number`.
import type { FeatureSpec } from './metadata';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const FLOAT32_MAX = 3.4028234663852886e38;

function finite(x: unknown, where: string): Parsed<number> {
  if (typeof x !== 'number') return { ok: false, error: `${where}: expected a finite number, got ${describe(x)}` };
  if (!Number.isFinite(x) || Math.abs(x) > FLOAT32_MAX)
    return { ok: false, error: `${where}: expected a finite number (float32 range), got ${String(x)}` };
  return { ok: true, value: x };
}

/** `where.key` for a plain key; a client-chosen odd or long key is quoted and cut short, never echoed verbatim. */
function member(where: string, key: string): string {
  if (/^[A-Za-z_$][\w$]{0,39}$/.test(key)) return `${where}.${key}`;
  return `${where}[${JSON.stringify(key.length > 40 ? key.slice(0, 40) + '…' : key)}]`;
}

const has = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 20 ? x.slice(0, 20) + '…' : x)}`;
  return typeof x === 'object' ? 'an object' : typeof x;
}

/** One TF Serving instance: an array in feature order, or an object keyed by feature name. */
function instanceRow(instance: unknown, features: FeatureSpec[], where: string): Parsed<number[]> {
  if (Array.isArray(instance)) {
    if (instance.length !== features.length)
      return { ok: false, error: `${where}: expected ${features.length} values (${features.map((f) => f.name).join(', ')}), got ${instance.length}` };
    const row = new Array<number>(features.length);
    for (let j = 0; j < features.length; j++) {
      const v = finite(instance[j], `${where}[${j}]`);
      if (!v.ok) return v;
      row[j] = v.value;
    }
    return { ok: true, value: row };
  }
  if (typeof instance === 'object' && instance !== null) {
    const obj = instance as Record<string, unknown>;
    // Own keys only: a feature called e.g. "constructor" must not be found on Object.prototype.
    for (const key of Object.keys(obj)) {
      if (!features.some((f) => f.name === key))
        return { ok: false, error: `${member(where, key)}: unknown feature (expected ${features.map((f) => f.name).join(', ')})` };
    }
    const row = new Array<number>(features.length);
    for (let j = 0; j < features.length; j++) {
      const name = features[j].name;
      if (!has(obj, name)) return { ok: false, error: `${member(where, name)}: missing feature` };
      const v = finite(obj[name], member(where, name));
      if (!v.ok) return v;
      row[j] = v.value;
    }
    return { ok: true, value: row };
  }
  return { ok: false, error: `${where}: expected an array of ${features.length} numbers or an object keyed by feature name, got ${describe(instance)}` };
}

/** TF Serving REST: `{"instances": [...]}` (row format). */
export function parseTfServing(body: unknown, features: FeatureSpec[], maxInstances: number): Parsed<number[][]> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, error: 'body: expected a JSON object with "instances"' };
  const b = body as Record<string, unknown>;
  if (!has(b, 'instances')) {
    const hint = has(b, 'inputs') ? ' (the columnar "inputs" format is not supported; use the row format)' : '';
    return { ok: false, error: `instances: missing${hint}; send {"instances": [[...], ...]}` };
  }
  const instances = b.instances;
  if (!Array.isArray(instances)) return { ok: false, error: `instances: expected an array, got ${describe(instances)}` };
  if (instances.length === 0) return { ok: false, error: 'instances: expected at least one instance' };
  if (instances.length > maxInstances)
    return { ok: false, error: `instances: ${instances.length} instances exceed the limit of ${maxInstances} per request` };
  const rows: number[][] = new Array(instances.length);
  for (let i = 0; i < instances.length; i++) {
    const row = instanceRow(instances[i], features, `instances[${i}]`);
    if (!row.ok) return row;
    rows[i] = row.value;
  }
  return { ok: true, value: rows };
}

/** KServe V2 / Open Inference Protocol: one FP32 input tensor of shape [n, d], data flat or nested. */
export function parseKServe(body: unknown, features: FeatureSpec[], maxInstances: number): Parsed<{ rows: number[][]; inputName: string; id?: string }> {
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
  if (input.datatype !== 'FP32' && input.datatype !== 'FP64')
    return { ok: false, error: `inputs[0].datatype: expected "FP32" (or "FP64"), got ${describe(input.datatype)}` };
  const shape = input.shape;
  const d = features.length;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((s) => Number.isInteger(s) && s >= 0))
    return { ok: false, error: `inputs[0].shape: expected [n, ${d}]` };
  const [n, width] = shape as number[];
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
        const v = finite(data[i * d + j], `inputs[0].data[${i * d + j}]`);
        if (!v.ok) return v;
        row[j] = v.value;
      }
      rows[i] = row;
    }
  }
  return { ok: true, value: { rows, inputName: input.name, id: b.id as string | undefined } };
}
