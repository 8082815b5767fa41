// Prediction endpoints in the shapes clients already speak: TF Serving REST (v1) and KServe V2 / Open Inference
// Protocol (v2). HTTP only: parsing and answering here, inference in serving/, counting in aggregate/.
import type { Context } from 'hono';
import { newHono } from './hono';
import { quoted } from '../format';
import { configOf, MONITORING_HEADER, type Env } from '../config';
import type { ModelMetadata } from '../serving/metadata';
import { DEFAULT_INPUT_NAME } from '../serving/package-defaults';
import { checkSignature, parseKServe, parseKServeOutputs, parseTfClassify, parseTfPredict, SIGNATURE, type Parsed } from '../serving/instances';
import { version as packageVersion } from '../../package.json';
import { predictRows, registry } from '../serving/registry';
import { activeBackend, ensureBackend } from '../serving/backend';
import { recordBatch } from '../aggregate/record';
import { argmax } from '../monitor/window';
import { jsonError, methodNotAllowed, parseJsonBody, quotedName } from './errors';
import { requireApiKey } from './auth';
import { bodyLimit } from './body-limit';

type App = { Bindings: Env };
/** The body limit of every predict route; a batch over it is split by the client. */
const limitBody = bodyLimit('split the batch');
const apiKey = requireApiKey((env) => configOf(env as Env).apiKeys);

/** The 404 message for a model name that is not served (the windows route gives the same). */
export const modelNotFound = (name: string) => `model ${quotedName(name)} not found (serving: ${registry.list().map((m) => m.name).join(', ')})`;

/** Finds the model (and checks the version when one is asked for); the error is a 404 message. */
function findModel(name: string, version?: string): { ok: true; metadata: ModelMetadata } | { ok: false; error: string } {
  const metadata = registry.metadata(name);
  if (!metadata) return { ok: false, error: modelNotFound(name) };
  if (version !== undefined && version !== metadata.version)
    return { ok: false, error: `model ${quotedName(name)} has no version ${quotedName(version)} (serving version "${metadata.version}")` };
  return { ok: true, metadata };
}

/**
 * Runs a parsed batch, records it off the hot path, returns the probabilities. Finite inputs far outside the
 * training range can still overflow inside the network (NaN probabilities): such a batch is rejected, naming the
 * row via `rowWhere`, and is not recorded.
 */
async function infer(c: Context<App>, metadata: ModelMetadata, rows: number[][], rowWhere: (i: number) => string): Promise<Parsed<Float32Array[]>> {
  const model = await registry.model(metadata.name);
  const probabilities = predictRows(model, rows, metadata.features.length);
  const bad = firstNotFinite(probabilities);
  if (bad >= 0)
    return { ok: false, error: `${rowWhere(bad)}: the model's output is not finite for this row (inputs far outside the range it was trained on?)` };
  const config = configOf(c.env);
  if (config.monitoring === 'on' || (config.monitoring === 'by-header' && c.req.raw.headers.get(MONITORING_HEADER) !== 'off')) {
    // Only the request that opens the isolate's tally gets a send to wait for; the others just add to it.
    const sending = recordBatch(c.env, config, metadata, rows, probabilities, Date.now());
    if (sending) c.executionCtx.waitUntil(sending);
  }
  return { ok: true, value: probabilities };
}

/**
 * The first row holding a NaN or an infinity, or -1. A row's sum is finite exactly when each of its values is
 * (float32 values summed as doubles cannot overflow), so one sum per row is checked instead of a callback per value
 * (4.6% of a 1000-row request in the profile).
 */
export function firstNotFinite(rows: Float32Array[]): number {
  for (let i = 0; i < rows.length; i++) {
    const p = rows[i]!;
    let sum = 0;
    for (let j = 0; j < p.length; j++) sum += p[j]!;
    if (!Number.isFinite(sum)) return i;
  }
  return -1;
}

const topLabels = (metadata: ModelMetadata, probabilities: Float32Array[]) => probabilities.map((p) => metadata.labels[argmax(p)]);

/** The top labels as JSON text: each label quoted once per request, not once per row as JSON.stringify would. */
export function topLabelsJson(labels: readonly string[], probabilities: Float32Array[]): string {
  const quoted = labels.map((label) => JSON.stringify(label));
  let text = '[';
  for (let i = 0; i < probabilities.length; i++) text += (i === 0 ? '' : ',') + quoted[argmax(probabilities[i]!)];
  return text + ']';
}

/**
 * Probability rows as JSON text, `[[p, …], …]`: the very text JSON.stringify writes for them (a number's shortest
 * round-trip form; infer() refused any row that is not finite), without a plain array made per row first. The
 * arrays and JSON.stringify's walk over them were 29% of a 1000-row request in the profile.
 */
export function rowsJson(rows: Float32Array[]): string {
  let text = '[';
  for (let i = 0; i < rows.length; i++) {
    const p = rows[i]!;
    text += i === 0 ? '[' : ',[';
    for (let j = 0; j < p.length; j++) text += j === 0 ? String(p[j]) : ',' + p[j];
    text += ']';
  }
  return text + ']';
}

/** A 200 with JSON text built here, with the headers c.json gives. */
const jsonText = (c: Context<App>, text: string) => c.body(text, 200, { 'Content-Type': 'application/json' });

async function readJson(c: Context<App>): Promise<{ ok: true; value: unknown } | { ok: false; status: 400 | 415; error: string }> {
  const parsed = parseJsonBody(await c.req.text());
  if (parsed.ok) return parsed;
  // A compressed body (the runtime hands it over as sent) is never JSON text, so the header is only read once the
  // text failed to parse: a 415 that says why, where the parser's message would quote binary bytes.
  const encoding = c.req.raw.headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity')
    return { ok: false, status: 415, error: `body: Content-Encoding ${quoted(encoding, 20)} is not supported; send the JSON uncompressed` };
  return { ok: false, status: 400, error: parsed.error };
}

/** `penguins:predict` → {name, verb}. */
function splitVerb(target: string): { name: string; verb: string } | null {
  const at = target.lastIndexOf(':');
  return at > 0 ? { name: target.slice(0, at), verb: target.slice(at + 1) } : null;
}

/** POST on a status resource (`/v1/models/{name}` or `.../versions/{v}`, no verb): a 405 when it exists. */
function postWithoutVerb(c: Context<App>, name: string, version?: string) {
  const found = findModel(name, version);
  if (!found.ok) return jsonError(c, 404, found.error);
  return jsonError(c, 405, `method: POST is not allowed here (allowed: GET); to predict, POST to ${new URL(c.req.url).pathname}:predict`, { allow: 'GET' });
}

async function tfServing(c: Context<App>, target: string, version?: string) {
  const split = splitVerb(target);
  if (!split) return postWithoutVerb(c, target, version);
  if (split.verb !== 'predict' && split.verb !== 'classify')
    return jsonError(c, 404, `path: unknown verb ":${split.verb.slice(0, 40)}"; expected /v1/models/{name}[/versions/{version}]:predict or :classify`);
  const found = findModel(split.name, version);
  if (!found.ok) return jsonError(c, 404, found.error);
  const body = await readJson(c);
  if (!body.ok) return jsonError(c, body.status, body.error);
  const signature = checkSignature(body.value);
  if (!signature.ok) return jsonError(c, 400, signature.error);
  const { features, input_name } = found.metadata;
  const maxInstances = configOf(c.env).maxInstances;
  const inputName = input_name ?? DEFAULT_INPUT_NAME;
  const parsed =
    split.verb === 'classify'
      ? parseTfClassify(body.value, features, maxInstances, inputName)
      : parseTfPredict(body.value, features, maxInstances, inputName);
  if (!parsed.ok) return jsonError(c, 400, parsed.error);
  const { rows, format } = parsed.value;
  const inferred = await infer(c, found.metadata, rows, (i) => `${format}[${i}]`);
  if (!inferred.ok) return jsonError(c, 422, inferred.error);
  const probabilities = inferred.value;
  const { labels, version: modelVersion } = found.metadata;
  if (split.verb === 'classify')
    return c.json({ result: probabilities.map((p) => labels.map((label, i) => [label, p[i]])), model_version: modelVersion });
  // The columnar format is answered in kind: {"outputs": ...} (TF Serving REST, "Response format").
  const key = format === 'inputs' ? 'outputs' : 'predictions';
  const labelsJson = topLabelsJson(labels, probabilities);
  return jsonText(c, `{"${key}":${rowsJson(probabilities)},"labels":${labelsJson},"model_version":${JSON.stringify(modelVersion)}}`);
}

async function kserveInfer(c: Context<App>, name: string, version?: string) {
  const found = findModel(name, version);
  if (!found.ok) return jsonError(c, 404, found.error);
  const body = await readJson(c);
  if (!body.ok) return jsonError(c, body.status, body.error);
  const parsed = parseKServe(body.value, found.metadata.features, configOf(c.env).maxInstances, found.metadata.input_name);
  if (!parsed.ok) return jsonError(c, 400, parsed.error);
  const wanted = parseKServeOutputs(body.value);
  if (!wanted.ok) return jsonError(c, 400, wanted.error);
  const { rows, id } = parsed.value;
  const inferred = await infer(c, found.metadata, rows, (i) => `inputs[0].data (row ${i})`);
  if (!inferred.ok) return jsonError(c, 422, inferred.error);
  const probabilities = inferred.value;
  const k = found.metadata.labels.length;
  const flat = new Array<number>(rows.length * k);
  for (let i = 0; i < rows.length; i++) for (let j = 0; j < k; j++) flat[i * k + j] = probabilities[i]![j]!;
  return c.json({
    model_name: found.metadata.name,
    model_version: found.metadata.version,
    ...(id !== undefined ? { id } : {}),
    // The outputs asked for, in the order asked (all of them, probabilities first, when none are named).
    outputs: wanted.value.map((name) =>
      name === 'probabilities'
        ? { name, shape: [rows.length, k], datatype: 'FP32', data: flat }
        : { name, shape: [rows.length], datatype: 'BYTES', data: topLabels(found.metadata, probabilities) },
    ),
  });
}

function modelStatus(metadata: ModelMetadata) {
  return {
    model_version_status: [
      {
        version: metadata.version,
        state: 'AVAILABLE',
        status: { error_code: 'OK', error_message: '' },
      },
    ],
  };
}

/** TensorShapeProto as TF Serving renders it in JSON: sizes are strings (int64), -1 for the batch dimension. */
const tensorShape = (...dims: number[]) => ({ dim: dims.map((size) => ({ size: String(size), name: '' })), unknown_rank: false });

/**
 * The model's one signature in TF Serving's GetModelMetadata shape (`metadata.signature_def.signature_def`):
 * one float input of width d, and the classify method's outputs `scores` and `classes` (k of each per row).
 */
function signatureDef(metadata: ModelMetadata) {
  const input = metadata.input_name ?? DEFAULT_INPUT_NAME;
  const d = metadata.features.length;
  const k = metadata.labels.length;
  return {
    signature_def: {
      [SIGNATURE]: {
        inputs: { [input]: { dtype: 'DT_FLOAT', tensor_shape: tensorShape(-1, d), name: `${input}:0` } },
        outputs: {
          scores: { dtype: 'DT_FLOAT', tensor_shape: tensorShape(-1, k), name: 'scores:0' },
          classes: { dtype: 'DT_STRING', tensor_shape: tensorShape(-1, k), name: 'classes:0' },
        },
        method_name: 'tensorflow/serving/classify',
      },
    },
  };
}

function modelMetadata(metadata: ModelMetadata) {
  return {
    model_spec: { name: metadata.name, signature_name: '', version: metadata.version },
    metadata: { signature_def: signatureDef(metadata) },
    name: metadata.name,
    version: metadata.version,
    description: metadata.description ?? null,
    labels: metadata.labels,
    features: metadata.features,
    training: metadata.training,
    probes: metadata.probes.length,
    monitor: metadata.monitor ?? null,
    backend: activeBackend(),
  };
}

/** Whether a path segment is a verb target (`penguins:predict`, `3:classify`), which only POST serves. */
const isVerbTarget = (segment: string) => /:(predict|classify)$/.test(segment);

/**
 * GET on `/v1/models/{model}[/versions/{version}]`: the model's status, or a 405 when the last segment is a verb
 * target (only POST predicts).
 */
function getStatus(c: Context<App>, name: string, version?: string) {
  if (isVerbTarget(version ?? name)) return methodNotAllowed('POST')(c);
  const found = findModel(name, version);
  return found.ok ? c.json(modelStatus(found.metadata)) : jsonError(c, 404, found.error);
}

/** Any other method there: a 405 naming what is allowed (POST on a verb target, GET on the status resource). */
const otherMethod = (c: Context<App>, lastSegment: string) => methodNotAllowed(isVerbTarget(lastSegment) ? 'POST' : 'GET')(c);

async function getMetadata(c: Context<App>, name: string, version?: string) {
  const found = findModel(name, version);
  if (!found.ok) return jsonError(c, 404, found.error);
  await ensureBackend();
  return c.json(modelMetadata(found.metadata));
}

// One parameter name per path position (`model`, then `version`), with Hono's default pattern: the RegExpRouter that
// serves the app (routes/hono.ts) refuses two differently named or patterned parameters at one position. A verb
// (`penguins:predict`) is split off in the handlers.
export const predictRoutes = newHono<App>()
  // --- TF Serving REST ---
  .post('/v1/models/:model', apiKey, limitBody, (c) => tfServing(c, c.req.param('model')))
  .post('/v1/models/:model/versions/:version', apiKey, limitBody, async (c) => {
    const split = splitVerb(c.req.param('version'));
    if (!split) return postWithoutVerb(c, c.req.param('model'), c.req.param('version'));
    return tfServing(c, `${c.req.param('model')}:${split.verb}`, split.name);
  })
  .get('/v1/models/:model', (c) => getStatus(c, c.req.param('model')))
  .get('/v1/models/:model/versions/:version', (c) => getStatus(c, c.req.param('model'), c.req.param('version')))
  .get('/v1/models/:model/metadata', (c) => getMetadata(c, c.req.param('model')))
  .get('/v1/models/:model/versions/:version/metadata', (c) => getMetadata(c, c.req.param('model'), c.req.param('version')))
  // Registered after the POSTs and GETs above, so they only answer the other methods.
  .all('/v1/models/:model', (c) => otherMethod(c, c.req.param('model')))
  .all('/v1/models/:model/versions/:version', (c) => otherMethod(c, c.req.param('version')))
  .all('/v1/models/:model/metadata', methodNotAllowed('GET'))
  .all('/v1/models/:model/versions/:version/metadata', methodNotAllowed('GET'))
  // --- KServe V2 / Open Inference Protocol ---
  .get('/v2/health/live', (c) => c.json({ live: true }))
  .get('/v2/health/ready', async (c) => {
    try {
      await Promise.all(registry.list().map((m) => registry.model(m.name)));
      return c.json({ ready: true });
    } catch (e) {
      return c.json({ ready: false, error: `models failed to load: ${(e as Error).message}` }, 503);
    }
  })
  .get('/v2', (c) => c.json({ name: 'labelwatch', version: packageVersion, extensions: [] }))
  .post('/v2/models/:name/infer', apiKey, limitBody, (c) => kserveInfer(c, c.req.param('name')))
  .post('/v2/models/:name/versions/:version/infer', apiKey, limitBody, (c) => kserveInfer(c, c.req.param('name'), c.req.param('version')))
  .get('/v2/models/:name', (c) => v2Metadata(c, c.req.param('name')))
  .get('/v2/models/:name/versions/:version', (c) => v2Metadata(c, c.req.param('name'), c.req.param('version')))
  .get('/v2/models/:name/ready', (c) => v2Ready(c, c.req.param('name')))
  .get('/v2/models/:name/versions/:version/ready', (c) => v2Ready(c, c.req.param('name'), c.req.param('version')))
  .all('/v2/models/:name/infer', methodNotAllowed('POST'))
  .all('/v2/models/:name/versions/:version/infer', methodNotAllowed('POST'))
  // Registered after the GETs above, so they only answer the other methods.
  .all('/v2/health/live', methodNotAllowed('GET'))
  .all('/v2/health/ready', methodNotAllowed('GET'))
  .all('/v2', methodNotAllowed('GET'))
  .all('/v2/models/:name', methodNotAllowed('GET'))
  .all('/v2/models/:name/versions/:version', methodNotAllowed('GET'))
  .all('/v2/models/:name/ready', methodNotAllowed('GET'))
  .all('/v2/models/:name/versions/:version/ready', methodNotAllowed('GET'));

function v2Metadata(c: Context<App>, name: string, version?: string) {
  const found = findModel(name, version);
  if (!found.ok) return jsonError(c, 404, found.error);
  const m = found.metadata;
  return c.json({
    name: m.name,
    versions: [m.version],
    platform: 'tensorflowjs_wasm',
    inputs: [{ name: m.input_name ?? DEFAULT_INPUT_NAME, datatype: 'FP32', shape: [-1, m.features.length] }],
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, m.labels.length] },
      { name: 'labels', datatype: 'BYTES', shape: [-1] },
    ],
    parameters: { labels: m.labels, features: m.features.map((f) => f.name) },
  });
}

async function v2Ready(c: Context<App>, name: string, version?: string) {
  const found = findModel(name, version);
  if (!found.ok) return jsonError(c, 404, found.error);
  try {
    await registry.model(name);
    return c.json({ name, ready: true });
  } catch (e) {
    return c.json({ name, ready: false, error: (e as Error).message }, 503);
  }
}
