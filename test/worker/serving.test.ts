// Serving end to end inside workerd: both APIs answer every model's probe rows with the probabilities the Node
// training script computed, on the WASM backend, through the Worker's real entry point.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers, sequential } from '@tensorflow/tfjs-layers';
import penguins from '../../models/penguins/metadata.json';
import penguinsUnscaled from '../../models/penguins-unscaled/metadata.json';
import seattle from '../../models/seattle-weather/metadata.json';
import seattleUnweighted from '../../models/seattle-weather-unweighted/metadata.json';
import penguinsHoldout from '../fixtures/holdout/penguins.json';
import seattleHoldout from '../fixtures/holdout/seattle-weather.json';
import type { ModelMetadata } from '../../src/serving/metadata';
import {
  ModelRegistry, predictRows, predictRowsLayers, readDenseSteps, registry, serve, usesDenseShortcut,
  type ModelJson, type ModelPackage,
} from '../../src/serving/registry';
import { MODEL_PACKAGES } from '../../src/serving/registry.generated';
// tfjs-layers' loader (and every WASM kernel), as a build with a non-Dense package in models/ bundles it; the
// reference model.predict of the tests below runs on it too.
import { loadLayers } from '../../src/serving/layers';
import { seededRandom } from '../../scripts/lib/random';
import penguinsModel from '../../models/penguins/model.json';
import penguinsWeights from '../../models/penguins/group1-shard1of1.bin';
// penguins' weights in model.json as tensorflowjs_converter writes a Keras 2 (.h5) and a Keras 3 (.keras) model.
import penguinsKeras2 from '../fixtures/converter/penguins-keras2.json';
import penguinsKeras3 from '../fixtures/converter/penguins-keras3.json';
import { apiClient, json } from './contract';
import { firstNotFinite, rowsJson, topLabelsJson } from '../../src/routes/predict';

const BASE = 'http://labelwatch.test';
const MODELS = [penguins, penguinsUnscaled, seattle, seattleUnweighted] as ModelMetadata[];
const HEALTHY = new Set(['penguins', 'seattle-weather']);
const TOLERANCE = 1e-5;

const { get, post } = apiClient(BASE);


const argmax = (p: number[]) => p.reduce((best, x, i) => (x > p[best] ? i : best), 0);

function expectClose(actual: number[][], expected: number[][]) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => {
    expect(row.length).toBe(expected[i].length);
    row.forEach((x, j) => expect(Math.abs(x - expected[i][j]), `row ${i} class ${j}: ${x} vs ${expected[i][j]}`).toBeLessThanOrEqual(TOLERANCE));
  });
}

describe.each(MODELS.map((m) => [m.name, m] as const))('%s', (name, meta) => {
  const inputs = meta.probes.map((p) => p.input);
  const expected = meta.probes.map((p) => p.probabilities!);
  const expectedLabels = expected.map((p) => meta.labels[argmax(p)]);

  it('has probes with stored probabilities to compare against', () => {
    expect(meta.probes.length).toBeGreaterThan(0);
    for (const p of meta.probes) expect(p.probabilities).toHaveLength(meta.labels.length);
  });

  it('reports its metadata and the backend actually in use: wasm', async () => {
    const body = await json(await get(`/v1/models/${name}/metadata`));
    expect(body.backend).toBe('wasm');
    expect(body.name).toBe(name);
    expect(body.version).toBe(meta.version);
    expect(body.labels).toEqual(meta.labels);
    expect(body.features.map((f: { name: string }) => f.name)).toEqual(meta.features.map((f) => f.name));
    const versioned = await json(await get(`/v1/models/${name}/versions/${meta.version}/metadata`));
    expect(versioned.backend).toBe('wasm');
  });

  it('reports TF Serving status AVAILABLE', async () => {
    const body = await json(await get(`/v1/models/${name}`));
    expect(body.model_version_status).toEqual([{ version: meta.version, state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }]);
    expect((await json(await get(`/v1/models/${name}/versions/${meta.version}`))).model_version_status[0].state).toBe('AVAILABLE');
  });

  it('TF Serving :predict with rows in feature order gives the stored probabilities', async () => {
    const body = await json(await post(`/v1/models/${name}:predict`, { instances: inputs }));
    expectClose(body.predictions, expected);
    expect(body.model_version).toBe(meta.version);
    if (HEALTHY.has(name)) expect(body.labels).toEqual(expectedLabels);
    else expect(body.labels).toHaveLength(inputs.length);
  });

  it('TF Serving :predict with objects keyed by feature name (versioned path) gives the same', async () => {
    const instances = inputs.map((row) => Object.fromEntries([...meta.features].reverse().map((f) => [f.name, row[meta.features.indexOf(f)]])));
    const body = await json(await post(`/v1/models/${name}/versions/${meta.version}:predict`, { instances }));
    expectClose(body.predictions, expected);
    if (HEALTHY.has(name)) expect(body.labels).toEqual(expectedLabels);
  });

  it('TF Serving :classify answers [label, score] pairs per instance', async () => {
    const body = await json(await post(`/v1/models/${name}:classify`, { instances: inputs.slice(0, 2) }));
    expect(body.result).toHaveLength(2);
    body.result.forEach((pairs: [string, number][], i: number) => {
      expect(pairs.map(([label]) => label)).toEqual(meta.labels);
      expectClose([pairs.map(([, score]) => score)], [expected[i]]);
    });
  });

  it('KServe V2 infer with flat data gives the stored probabilities and labels', async () => {
    const d = meta.features.length;
    const body = await json(
      await post(`/v2/models/${name}/infer`, { id: 'probe-1', inputs: [{ name: 'features', shape: [inputs.length, d], datatype: 'FP32', data: inputs.flat() }] }),
    );
    expect(body.model_name).toBe(name);
    expect(body.model_version).toBe(meta.version);
    expect(body.id).toBe('probe-1');
    const [probs, labels] = body.outputs;
    expect(probs.name).toBe('probabilities');
    expect(probs.datatype).toBe('FP32');
    expect(probs.shape).toEqual([inputs.length, meta.labels.length]);
    const k = meta.labels.length;
    expectClose(inputs.map((_, i) => probs.data.slice(i * k, (i + 1) * k)), expected);
    expect(labels).toMatchObject({ name: 'labels', datatype: 'BYTES', shape: [inputs.length] });
    if (HEALTHY.has(name)) expect(labels.data).toEqual(expectedLabels);
  });

  it('KServe V2 infer with nested data (versioned path) gives the same', async () => {
    const body = await json(
      await post(`/v2/models/${name}/versions/${meta.version}/infer`, {
        inputs: [{ name: 'features', shape: [inputs.length, meta.features.length], datatype: 'FP32', data: inputs }],
      }),
    );
    const k = meta.labels.length;
    expectClose(inputs.map((_, i) => body.outputs[0].data.slice(i * k, (i + 1) * k)), expected);
    expect(body.id).toBeUndefined();
  });

  it('KServe V2 model metadata and readiness', async () => {
    const body = await json(await get(`/v2/models/${name}`));
    expect(body.name).toBe(name);
    expect(body.versions).toEqual([meta.version]);
    expect(body.inputs).toEqual([{ name: 'features', datatype: 'FP32', shape: [-1, meta.features.length] }]);
    expect(body.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities', 'labels']);
    expect(await json(await get(`/v2/models/${name}/ready`))).toEqual({ name, ready: true });
    expect(await json(await get(`/v2/models/${name}/versions/${meta.version}/ready`))).toEqual({ name, ready: true });
  });
});

describe('healthy models on their held-out rows (raw units, standardized by the client)', () => {
  it.each([
    [penguins, penguinsHoldout],
    [seattle, seattleHoldout],
  ] as [ModelMetadata, { rows: { input: number[]; label: string }[] }][])('%s reaches the accuracy recorded at training', async (meta, holdout) => {
    const standardize = (row: number[]) => row.map((x, j) => (x - meta.features[j].raw!.mean) / meta.features[j].raw!.std);
    const body = await json(await post(`/v1/models/${meta.name}:predict`, { instances: holdout.rows.map((r) => standardize(r.input)) }));
    const correct = body.labels.filter((label: string, i: number) => label === holdout.rows[i].label).length;
    expect(correct / holdout.rows.length).toBeCloseTo(meta.training.accuracy!, 4);
    expect(meta.training.accuracy).toBeGreaterThan(0.6);
  });
});

describe('server-wide endpoints', () => {
  it('is live and ready with every model loaded', async () => {
    expect(await json(await get('/v2/health/live'))).toEqual({ live: true });
    expect(await json(await get('/v2/health/ready'))).toEqual({ ready: true });
  });

  it('answers unknown models and versions with 404 and a JSON error on every route', async () => {
    const kserve = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] };
    const cases: [string, Promise<Response>, RegExp][] = [
      ['v1 status', get('/v1/models/nope'), /model "nope" not found \(serving: .*penguins/],
      ['v1 metadata', get('/v1/models/nope/metadata'), /model "nope" not found/],
      ['v1 predict', post('/v1/models/nope:predict', { instances: [[0, 0, 0, 0]] }), /model "nope" not found/],
      ['v1 version', post('/v1/models/penguins/versions/99:predict', { instances: [[0, 0, 0, 0]] }), /model "penguins" has no version "99" \(serving version "1"\)/],
      ['v1 version status', get('/v1/models/penguins/versions/99'), /has no version "99"/],
      ['v2 infer', post('/v2/models/nope/infer', kserve), /model "nope" not found/],
      ['v2 version infer', post('/v2/models/penguins/versions/99/infer', kserve), /has no version "99"/],
      ['v2 metadata', get('/v2/models/nope'), /model "nope" not found/],
      ['v2 ready', get('/v2/models/nope/ready'), /model "nope" not found/],
      ['v1 unknown verb', post('/v1/models/penguins:explain', { instances: [[0, 0, 0, 0]] }), /unknown verb ":explain"/],
      ['no route', get('/v3/anything'), /path: GET \/v3\/anything does not exist/],
    ];
    for (const [what, pending, message] of cases) {
      const body = await json<{ error: string }>(await pending, 404);
      expect(body.error, what).toMatch(message);
    }
  });
});

describe('a package whose weights span several shards', () => {
  it('loads in workerd with the shards concatenated in manifest order', async () => {
    // tensorflowjs_converter splits at shard boundaries that need not align with tensors: cut mid-tensor.
    const cut = 200;
    const shards = [penguinsWeights.slice(0, cut), penguinsWeights.slice(cut)];
    expect(shards[0].byteLength + shards[1].byteLength).toBe(penguinsWeights.byteLength);
    const modelJson = structuredClone(penguinsModel) as unknown as ModelJson;
    modelJson.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
    const meta = penguins as ModelMetadata;
    const registry = new ModelRegistry([{ metadata: meta, modelJson, shards }]);
    const model = await registry.model('penguins');
    expect(model.layers).toBeNull(); // read straight from the package, not through tfjs-layers
    const out = await predictRows(model, meta.probes.map((p) => p.input), meta.features.length);
    expectClose(out.map((p) => Array.from(p)), meta.probes.map((p) => p.probabilities!));

    // Swapping the shards must break the model: the test would notice a loader that ignored the order.
    const swapped = new ModelRegistry([{ metadata: meta, modelJson, shards: [shards[1], shards[0]] }]);
    const wrong = await predictRows(await swapped.model('penguins'), [meta.probes[0].input], meta.features.length);
    expect(Math.max(...Array.from(wrong[0]).map((x, j) => Math.abs(x - meta.probes[0].probabilities![j])))).toBeGreaterThan(TOLERANCE);
  });
});

describe('the Dense shortcut of predictRows', () => {
  const penguinsMeta = penguins as ModelMetadata;
  const penguinsPackage = (modelJson: unknown, shards: ArrayBuffer[] = [penguinsWeights]): ModelPackage => ({
    metadata: penguinsMeta,
    modelJson: structuredClone(modelJson) as ModelJson,
    shards,
  });
  // Every bundled model, and penguins' weights as the converter writes Keras models: Keras 2 names weights after the
  // layer (dense/kernel), Keras 3 after the class and position (layers/dense_1/vars/0, here of a layer named "output").
  const PACKAGES: [string, ModelPackage, ModelPackage][] = [
    ...MODEL_PACKAGES.map((p) => [p.metadata.name, p, p] as [string, ModelPackage, ModelPackage]),
    ['penguins as converted from Keras 2', penguinsPackage(penguinsKeras2), penguinsPackage(penguinsKeras2)],
    // tfjs-layers 4.22 cannot load the Keras 3 topology (below): the reference is penguins' own package, same weights.
    ['penguins as converted from Keras 3', penguinsPackage(penguinsKeras3), penguinsPackage(penguinsModel)],
  ];

  // predictRows runs the layers' kernels directly instead of model.predict, on steps read straight from the package
  // instead of from a tfjs-layers model: the probabilities must not move by a bit.
  it.each(PACKAGES)('%s: read from the package, equals model.predict of loadLayersModel bit for bit on probes and random rows', async (name, pkg, reference) => {
    const meta = pkg.metadata;
    const model = await new ModelRegistry([pkg]).model(meta.name);
    expect(usesDenseShortcut(model)).toBe(true);
    expect(model.layers, 'no tfjs-layers model was built').toBeNull();
    const layers = await loadLayers(reference);
    try {
      const d = meta.features.length;
      const rng = seededRandom(1313);
      // Typical rows, rows far outside the training range (large logits, saturated softmax) and exact zeros.
      const scale = [1, 100, 1e4];
      const random = (n: number) => Array.from({ length: n }, (_, i) => Array.from({ length: d }, () => (i % 7 === 0 ? 0 : (rng() * 2 - 1) * scale[i % 3])));
      for (const rows of [meta.probes.map((p) => p.input), random(1), random(7), random(1000)]) {
        const fast = predictRows(model, rows, d);
        const slow = predictRowsLayers(layers, rows, d);
        expect(fast).toHaveLength(rows.length);
        fast.forEach((p, i) => expect(Array.from(p), `${name} row ${i} of ${rows.length}`).toEqual(Array.from(slow[i])));
      }
    } finally {
      layers.dispose();
    }
  });

  it('serves the Keras 3 package, which tfjs-layers 4.22 itself refuses', async () => {
    await expect(loadLayers(penguinsPackage(penguinsKeras3))).rejects.toThrow(/InputLayer should be passed either a `batchInputShape` or an `inputShape`/);
  });

  it('reads Keras 3 weight names only from a Keras 3 topology', () => {
    const modelJson = structuredClone(penguinsKeras3);
    modelJson.modelTopology.keras_version = '2.15.0';
    expect(readDenseSteps(penguinsPackage(modelJson))).toEqual({ ok: false, error: 'weight layers/dense/vars/0: not a weight of the Dense layers, or listed twice' });
  });

  it('loads a package with a non-Dense layer through tfjs-layers and answers as its model.predict does', async () => {
    // A Dropout layer (identity when predicting) is not a Dense step: the package must take the layers path.
    const modelJson = structuredClone(penguinsModel);
    modelJson.modelTopology.config.layers.splice(1, 0, { class_name: 'Dropout', config: { rate: 0.5, name: 'dropout', trainable: true } } as never);
    const pkg = penguinsPackage(modelJson);
    expect(readDenseSteps(pkg)).toEqual({ ok: false, error: 'layers[1]: a Dropout layer' });
    const model = await new ModelRegistry([pkg], loadLayers).model('penguins');
    expect(usesDenseShortcut(model)).toBe(false);
    expect(model.layers).not.toBeNull();
    const rows = penguinsMeta.probes.map((p) => p.input);
    const input = tf.tensor2d(rows, [rows.length, 4], 'float32');
    const output = model.layers!.predict(input) as tf.Tensor;
    const reference = output.arraySync() as number[][];
    tf.dispose([input, output]);
    expect(predictRows(model, rows, 4).map((p) => Array.from(p))).toEqual(reference);
  });

  it('refuses a package that is not a Dense stack when the build bundles no tfjs-layers, saying why', async () => {
    // As when every package in models/ is a Dense stack (the shipped ones are): the generated LAYERS is null.
    const modelJson = structuredClone(penguinsModel);
    modelJson.modelTopology.config.layers.splice(1, 0, { class_name: 'Dropout', config: { rate: 0.5, name: 'dropout', trainable: true } } as never);
    await expect(new ModelRegistry([penguinsPackage(modelJson)], null).model('penguins')).rejects.toThrow(
      'model penguins needs tfjs-layers (layers[1]: a Dropout layer), which this build does not bundle',
    );
  });

  it('takes a Dense stack it cannot read by name through tfjs-layers, then still runs the shortcut', async () => {
    // loadLayersModel drops an inner scope from a name (TF 2.2's layer/cell/weight); the reader does not guess.
    const modelJson = structuredClone(penguinsModel);
    modelJson.weightsManifest[0].weights[0].name = 'hidden/cell/kernel';
    const pkg = penguinsPackage(modelJson);
    expect(readDenseSteps(pkg)).toEqual({ ok: false, error: 'weight hidden/cell/kernel: not a weight of the Dense layers, or listed twice' });
    const model = await new ModelRegistry([pkg], loadLayers).model('penguins');
    expect(usesDenseShortcut(model)).toBe(true);
    expect(model.layers).not.toBeNull();
    const rows = penguinsMeta.probes.map((p) => p.input);
    expect(predictRows(model, rows, 4).map((p) => Array.from(p))).toEqual(predictRowsLayers(model.layers!, rows, 4).map((p) => Array.from(p)));
  });

  // A package whose weights do not fit its layers is not read: it goes to loadLayersModel, which refuses it (strict
  // loading), so the model is not served and /v2/health/ready says so. Never a wrong answer.
  const bytes = penguinsWeights.byteLength;
  it.each([
    ['a weight missing', (w: tf.io.WeightsManifestEntry[]): unknown => w.pop(), [penguinsWeights.slice(0, bytes - 12)], 'weight output/bias: missing', /1 of 4 weights are not set: output\/bias/],
    ['a weight of the wrong shape', (w: tf.io.WeightsManifestEntry[]): unknown => (w[2].shape = [12, 4]), [penguinsWeights], 'weight output/kernel: [12,4] float32, expected [16,3] float32', /Shape mismatch/],
    ['an extra weight', (w: tf.io.WeightsManifestEntry[]): unknown => w.push({ name: 'output/gamma', shape: [3], dtype: 'float32' }), [penguinsWeights, new ArrayBuffer(12)], 'weight output/gamma: not a weight of the Dense layers, or listed twice', /Provided weight data has no target variable: output\/gamma/],
    ['a weight of another dtype', (w: tf.io.WeightsManifestEntry[]): unknown => (w[3].dtype = 'int32'), [penguinsWeights], 'weight output/bias: [3] int32, expected [3] float32', /dtype/],
  ] as const)('refuses a package with %s', async (_, edit, shards, why, refusal) => {
    const modelJson = structuredClone(penguinsModel) as unknown as ModelJson;
    edit(modelJson.weightsManifest[0].weights);
    const pkg = penguinsPackage(modelJson, [...shards]);
    expect(readDenseSteps(pkg)).toEqual({ ok: false, error: why });
    await expect(new ModelRegistry([pkg], loadLayers).model('penguins')).rejects.toThrow(refusal);
  });

  // Every branch of the pass (newPass): each fused activation with and without a bias, and softmax with and without
  // one (an Add kernel, or none), on a stack built here with seeded weights.
  it('runs every Dense step it reads (linear, relu, elu, softmax; with and without a bias) bit for bit as model.predict', async () => {
    await registry.model('penguins'); // the WASM backend is up
    const model = sequential({
      layers: [
        layers.dense({ units: 6, inputShape: [4], activation: 'elu', useBias: false, kernelInitializer: initializers.glorotUniform({ seed: 1 }) }),
        layers.dense({ units: 5, activation: 'linear', kernelInitializer: initializers.glorotUniform({ seed: 2 }), biasInitializer: initializers.randomNormal({ seed: 3 }) }),
        layers.dense({ units: 7, activation: 'relu', useBias: false, kernelInitializer: initializers.glorotUniform({ seed: 4 }) }),
        layers.dense({ units: 4, activation: 'softmax', useBias: false, kernelInitializer: initializers.glorotUniform({ seed: 5 }) }),
        layers.dense({ units: 3, activation: 'softmax', kernelInitializer: initializers.glorotUniform({ seed: 6 }), biasInitializer: initializers.randomNormal({ seed: 7 }) }),
      ],
    });
    try {
      const served = serve(model);
      expect(usesDenseShortcut(served)).toBe(true);
      const rng = seededRandom(11);
      for (const n of [1, 7, 100]) {
        const rows = Array.from({ length: n }, () => Array.from({ length: 4 }, () => rng() * 6 - 3));
        const fast = predictRows(served, rows, 4).map((p) => Array.from(p));
        expect(fast, `${n} rows`).toEqual(predictRowsLayers(model, rows, 4).map((p) => Array.from(p)));
        expect(fast[0]).toHaveLength(3);
      }
    } finally {
      model.dispose();
    }
  });

  it('runs any other architecture through model.predict, with the same answer', async () => {
    await registry.model('penguins'); // the WASM backend is up
    // A Dropout layer (identity when predicting) is not a Dense step: the model must take the layers path.
    const model = sequential({
      layers: [
        layers.dense({ units: 5, inputShape: [4], activation: 'relu', kernelInitializer: 'glorotUniform' }),
        layers.dropout({ rate: 0.5 }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    try {
      const served = serve(model);
      expect(usesDenseShortcut(served)).toBe(false);
      const rng = seededRandom(7);
      const rows = Array.from({ length: 9 }, () => Array.from({ length: 4 }, () => rng() * 4 - 2));
      const fast = predictRows(served, rows, 4);
      // The reference is model.predict called here, as an app would (default batch size, arraySync).
      const input = tf.tensor2d(rows, [rows.length, 4], 'float32');
      const output = model.predict(input) as tf.Tensor;
      const reference = output.arraySync() as number[][];
      tf.dispose([input, output]);
      expect(fast.map((p) => Array.from(p))).toEqual(reference);
      fast.forEach((p) => expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5));
    } finally {
      model.dispose();
    }
  });

  it('leaves nothing behind on the backend but the one pass it keeps per model', async () => {
    const model = await registry.model('penguins');
    const d = MODELS.find((m) => m.name === 'penguins')!.features.length;
    const rows = (n: number, x: number) => Array.from({ length: n }, () => Array(d).fill(x));
    const held = () => ({ data: tf.backend().numDataIds(), tensors: tf.memory().numTensors });
    const first = Array.from(predictRows(model, rows(1, 0), d)[0]!);
    // penguins: 2 Dense layers, a kernel and a bias each; its 1-row pass: input, hidden, logits, logits + bias, softmax.
    const before = held();
    expect(before.data).toBeGreaterThanOrEqual(4 + 5);
    // Other small sizes replace the kept pass; 1000 rows (over REUSED_ROWS) run on a pass of their own, freed after.
    for (const n of [1, 7, 1000]) for (let i = 0; i < 20; i++) predictRows(model, rows(n, i), d);
    expect(held()).toEqual(before);
    // A request that throws part-way (a row of the wrong width) releases its pass too, and the next one still answers.
    expect(() => predictRows(model, [...rows(2, 1), [1, 2, 3]], d)).toThrow(/row 2 has 3 values, the model takes 4/);
    expect(held()).toEqual({ ...before, data: before.data - 5 });
    expect(Array.from(predictRows(model, rows(1, 0), d)[0]!)).toEqual(first);
    expect(held()).toEqual(before);
  });

  it('refuses rows of the wrong width instead of reading past them', async () => {
    const model = await registry.model('penguins');
    expect(() => predictRows(model, [[1, 2, 3]], 3)).toThrow(/model takes 4 features, rows have 3/);
  });
});

describe('rowsJson: the probability rows of an answer as JSON text', () => {
  it('writes exactly what JSON.stringify writes for the same rows', () => {
    const rng = seededRandom(5);
    // Edge values of float32 (the smallest subnormal, the largest finite, -0, values without a short decimal form)
    // and random ones across many magnitudes, in rows of 1 to 5 values.
    const edge = [0, -0, 1, 1e-45, 1.1754943508222875e-38, 3.4028234663852886e38, 0.1, 1 / 3, 2 ** -20, 0.9999999];
    const values = [...edge, ...Array.from({ length: 500 }, () => (rng() - 0.5) * 10 ** Math.floor(rng() * 20 - 10))];
    const rows: Float32Array[] = [];
    for (let at = 0, width = 1; at < values.length; at += width, width = (width % 5) + 1) rows.push(Float32Array.from(values.slice(at, at + width)));
    const expected = JSON.stringify(rows.map((r) => Array.from(r)));
    expect(rowsJson(rows)).toBe(expected);
    expect(rowsJson([])).toBe('[]');
    expect(rowsJson([Float32Array.of(0.5, 0.25)])).toBe('[[0.5,0.25]]');
  });
});

describe('the rest of an answer as JSON text', () => {
  it('topLabelsJson writes what JSON.stringify writes for the top labels', () => {
    // Labels that JSON must escape, and one that is not ASCII.
    const labels = ['plain', 'with "quotes"', 'back\\slash', '</script><b>x</b>', 'line\nbreak', 'Gentoo 🐧'];
    const rng = seededRandom(9);
    const rows = Array.from({ length: 200 }, () => Float32Array.from(labels, () => rng()));
    const expected = JSON.stringify(rows.map((p) => labels[p.indexOf(Math.max(...p))]));
    expect(topLabelsJson(labels, rows)).toBe(expected);
    expect(topLabelsJson(labels, [])).toBe('[]');
  });

  it('firstNotFinite finds the first row with a NaN or an infinity anywhere in it, even beside float32 extremes', () => {
    const max = 3.4028234663852886e38;
    const fine = [Float32Array.of(max, max, max), Float32Array.of(-max, -max, 0), Float32Array.of(0.2, 0.3, 0.5)];
    expect(firstNotFinite(fine)).toBe(-1);
    expect(firstNotFinite([])).toBe(-1);
    for (const bad of [NaN, Infinity, -Infinity])
      for (let j = 0; j < 3; j++) {
        const row = Float32Array.of(0.2, 0.3, 0.5);
        row[j] = bad;
        expect(firstNotFinite([...fine, row, Float32Array.of(NaN, 0, 0)])).toBe(3);
      }
    // +∞ and −∞ in one row: their sum is NaN, still not finite.
    expect(firstNotFinite([Float32Array.of(Infinity, -Infinity)])).toBe(0);
  });
});
