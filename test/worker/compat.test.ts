// A client that knows only the specs. Each request below is written the way the spec documents it, and each answer
// is read the way the spec says a client reads it.
//   TF Serving: tensorflow/serving, tensorflow_serving/g3doc/api_rest.md ("RESTful API").
//   KServe V2 / Open Inference Protocol: kserve/kserve, docs/predict-api/v2/required_api.md (prose and examples) and
//   docs/predict-api/v2/rest_predict_v2.yaml (the REST schema, transcribed to test/fixtures/specs/kserve-v2-rest.json).
import { describe, expect, it } from 'vitest';
import penguins from '../../models/penguins/metadata.json';
import pkg from '../../package.json';
import kserveSchema from '../fixtures/specs/kserve-v2-rest.json';
import { expectValid, validateAgainst } from './schema-check';
import { apiClient, json } from './contract';

const BASE = 'http://labelwatch.test';
const { get, post } = apiClient(BASE);


const names = penguins.features.map((f) => f.name);
const probes = penguins.probes.slice(0, 3);
const rows = probes.map((p) => p.input);
const expected = probes.map((p) => p.probabilities);
const TOLERANCE = 1e-5;

function expectClose(actual: number[][], want: number[][]) {
  expect(actual).toHaveLength(want.length);
  actual.forEach((row, i) => row.forEach((x, j) => expect(Math.abs(x - want[i][j]), `row ${i} class ${j}`).toBeLessThanOrEqual(TOLERANCE)));
}

const keyed = (row: number[]) => Object.fromEntries(names.map((n, j) => [n, row[j]]));

describe('TF Serving REST (api_rest.md)', () => {
  it('"Model status API": GET /v1/models/${MODEL_NAME} answers GetModelStatusResponse as in the doc\'s example', async () => {
    // api_rest.md, "Make REST API calls": {"model_version_status": [{"version": "123", "state": "AVAILABLE",
    // "status": {"error_code": "OK", "error_message": ""}}]}
    expect(await json(await get('/v1/models/penguins'))).toEqual({
      model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
    });
  });

  it('metadata: GetModelMetadataResponse with metadata.signature_def and its serving_default signature', async () => {
    const body = await json(await get('/v1/models/penguins/metadata'));
    expect(body.model_spec).toEqual({ name: 'penguins', signature_name: '', version: '1' });
    const signature = body.metadata.signature_def.signature_def.serving_default;
    expect(signature.method_name).toBe('tensorflow/serving/classify');
    expect(signature.inputs).toEqual({
      features: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '4', name: '' }], unknown_rank: false }, name: 'features:0' },
    });
    expect(Object.keys(signature.outputs).sort()).toEqual(['classes', 'scores']);
    expect(signature.outputs.scores.tensor_shape.dim.map((d: { size: string }) => d.size)).toEqual(['-1', '3']);
    expect(signature.outputs.classes.dtype).toBe('DT_STRING');
    // labelwatch's own fields stay beside it.
    expect(body.labels).toEqual(penguins.labels);
    expect(body.backend).toBe('wasm');
  });

  it('"Predict API", row format: {"instances": [...]} answers {"predictions": [...]}', async () => {
    const body = await json(await post('/v1/models/penguins:predict', { signature_name: 'serving_default', instances: rows }));
    expectClose(body.predictions, expected);
  });

  it('"Predict API", row format with named inputs: {"instances": [{"<input name>": ...}]} answers {"predictions": [...]}', async () => {
    // api_rest.md's row format with named inputs: each instance is an object of input name to tensor value. A client
    // that always names its inputs sends the one input so.
    const body = await json(await post('/v1/models/penguins:predict', { instances: rows.map((r) => ({ features: r })) }));
    expectClose(body.predictions, expected);
  });

  it('"Predict API", columnar format: {"inputs": <(nested)list>} answers {"outputs": [...]}', async () => {
    // "A request in columnar format has response formatted as follows: { "outputs": <value>|<(nested)list>|<object> }"
    const body = await json(await post('/v1/models/penguins:predict', { inputs: rows }));
    expect(body.predictions).toBeUndefined();
    expectClose(body.outputs, expected);
    expect(body.labels).toEqual(expected.map((p) => penguins.labels[p.indexOf(Math.max(...p))]));
  });

  it('"Predict API", columnar format as a map of input name to tensor, and as one column per feature', async () => {
    const named = await json(await post('/v1/models/penguins/versions/1:predict', { inputs: { features: rows } }));
    expectClose(named.outputs, expected);
    // The doc's columnar example: {"inputs": {"tag": ["foo", "bar"], "signal": [[...], [...]], ...}}: each named input
    // holds its values for every row.
    const columns = Object.fromEntries(names.map((n, j) => [n, rows.map((r) => r[j])]));
    expectClose((await json(await post('/v1/models/penguins:predict', { inputs: columns }))).outputs, expected);
  });

  it('"A request can have either of them but NOT both"', async () => {
    const body = await json(await post('/v1/models/penguins:predict', { instances: rows, inputs: rows }), 400);
    expect(body.error).toBe('body: send either "instances" (row format) or "inputs" (columnar format), not both');
  });

  it('"Classify and Regress API": examples keyed by feature name plus a shared context; result holds [label, score] pairs', async () => {
    // Request format from the doc: {"signature_name": ..., "context": {"<feature_name3>": <value>, ...},
    // "examples": [{"<feature_name1>": <value>|<list>, ...}, ...]}
    const [first, second, ...rest] = names;
    const shared = rows[0][names.length - 1];
    const request = {
      signature_name: 'serving_default',
      context: { [names[names.length - 1]]: shared },
      examples: rows.map((r) => ({ [first]: r[0], [second]: [r[1]], ...Object.fromEntries(rest.slice(0, -1).map((n) => [n, r[names.indexOf(n)]])) })),
    };
    const body = await json(await post('/v1/models/penguins:classify', request));
    const want = (await json(await post('/v1/models/penguins:predict', { instances: rows.map((r) => [...r.slice(0, -1), shared]) }))).predictions;
    expect(body.result).toHaveLength(rows.length);
    body.result.forEach((pairs: [string, number][], i: number) => {
      expect(pairs.map(([label]) => label)).toEqual(penguins.labels);
      expectClose([pairs.map(([, score]) => score)], [want[i]]);
    });
  });

  it('"Features that appear here MUST NOT appear in examples"', async () => {
    const body = await json(await post('/v1/models/penguins:classify', { context: { [names[0]]: 0 }, examples: [keyed(rows[0])] }), 400);
    expect(body.error).toBe(`examples[0].${names[0]}: also in context; a feature appears in one of them only`);
  });

  it('a signature the model does not have is a 400 naming the ones it has (the doc\'s "classify_objects")', async () => {
    for (const [verb, request] of [
      ['classify', { signature_name: 'classify_objects', examples: [keyed(rows[0])] }],
      ['predict', { signature_name: 'classify_objects', instances: rows }],
    ] as const) {
      const body = await json(await post(`/v1/models/penguins:${verb}`, request), 400);
      expect(body.error).toBe('signature_name: no signature "classify_objects" (this model has: serving_default)');
    }
  });

  it('errors are {"error": <error message string>}; an unknown model is 404 as in the doc\'s "half" example', async () => {
    const body = await json(await post('/v1/models/half:predict', { instances: [1.0, 5.0] }), 404);
    expect(Object.keys(body)).toEqual(['error']);
    expect(typeof body.error).toBe('string');
  });
});

describe('KServe V2 / Open Inference Protocol (required_api.md, rest_predict_v2.yaml)', () => {
  const d = names.length;
  // The doc's "Inference Request Examples" body, with this model's one FP32 input in place of input0/input1.
  const request = (outputs?: { name: string }[]) => ({
    id: '42',
    inputs: [{ name: 'features', shape: [rows.length, d], datatype: 'FP32', data: rows.flat() }],
    ...(outputs ? { outputs } : {}),
  });

  it('the schema check can fail: a body without model_name and outputs is no inference_response', async () => {
    const verdict = await validateAgainst(kserveSchema, { id: '42' }, '#/components/schemas/inference_response');
    expect(verdict.valid).toBe(false);
    expect(verdict.errors.map((e) => e.message)).toEqual(["must have required property 'model_name'", "must have required property 'outputs'"]);
  });

  it('server metadata: GET /v2 is a metadata_server_response with the real package version', async () => {
    const body = await json(await get('/v2'));
    await expectValid(kserveSchema, body, '#/components/schemas/metadata_server_response');
    expect(body).toEqual({ name: 'labelwatch', version: pkg.version, extensions: [] });
  });

  it('model metadata is a metadata_model_response; the request is an inference_request', async () => {
    const body = await json(await get('/v2/models/penguins'));
    await expectValid(kserveSchema, body, '#/components/schemas/metadata_model_response');
    await expectValid(kserveSchema, request([{ name: 'labels' }]), '#/components/schemas/inference_request');
  });

  it('"the inference server must return the output0 output tensor": only the outputs asked for, in that order', async () => {
    const labelsOnly = await json(await post('/v2/models/penguins/infer', request([{ name: 'labels' }])));
    await expectValid(kserveSchema, labelsOnly, '#/components/schemas/inference_response');
    expect(labelsOnly.id).toBe('42');
    expect(labelsOnly.outputs).toHaveLength(1);
    expect(labelsOnly.outputs[0]).toMatchObject({ name: 'labels', datatype: 'BYTES', shape: [rows.length] });

    const both = await json(await post('/v2/models/penguins/infer', request([{ name: 'labels' }, { name: 'probabilities' }])));
    await expectValid(kserveSchema, both, '#/components/schemas/inference_response');
    expect(both.outputs.map((o: { name: string }) => o.name)).toEqual(['labels', 'probabilities']);
    const k = penguins.labels.length;
    expectClose(rows.map((_, i) => both.outputs[1].data.slice(i * k, (i + 1) * k)), expected);

    const all = await json(await post('/v2/models/penguins/infer', request()));
    expect(all.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities', 'labels']);
  });

  it('an output the model does not have ("output0" of the example) is a 400 inference_error_response', async () => {
    const body = await json(await post('/v2/models/penguins/infer', request([{ name: 'output0' }])), 400);
    await expectValid(kserveSchema, body, '#/components/schemas/inference_error_response');
    expect(body.error).toBe('outputs[0].name: unknown output "output0" (this model has: probabilities, labels)');
  });

  it('the example\'s UINT32 input is a 400 saying which datatypes are allowed', async () => {
    const body = await json(
      await post('/v2/models/penguins/infer', { id: '42', inputs: [{ name: 'input0', shape: [1, 4], datatype: 'UINT32', data: [1, 2, 3, 4] }] }),
      400,
    );
    expect(body.error).toBe('inputs[0].datatype: expected "FP32" (or "FP64"), got the string "UINT32"');
  });

  it('FP64 is accepted like FP32; data may be nested ("its natural format") or flat', async () => {
    const nested = await json(
      await post('/v2/models/penguins/infer', { inputs: [{ name: 'features', shape: [rows.length, d], datatype: 'FP64', data: rows }] }),
    );
    await expectValid(kserveSchema, nested, '#/components/schemas/inference_response');
    const k = penguins.labels.length;
    expectClose(rows.map((_, i) => nested.outputs[0].data.slice(i * k, (i + 1) * k)), expected);
  });
});
