// What a model package is, read without TF.js: shared by the registry generator (Node, at build time) and the
// registry (the Worker), so that the one rule deciding whether a package runs as Dense steps or needs tfjs-layers is
// the rule both apply. The generator bundles tfjs-layers only when some package fails it (LAYERS in
// registry.generated.ts); the registry then runs every package that passes it without tfjs-layers.
import type * as tf from '@tensorflow/tfjs-core';

/** model.json as the TensorFlow.js converter writes it. */
export interface ModelJson {
  format?: string;
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** The shards as one buffer, in manifest order: as loadLayersModel gets them, and as the Dense steps read them. */
export function joinShards(buffers: ArrayBuffer[]): ArrayBuffer {
  if (buffers.length === 1) return buffers[0]!;
  const out = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

/** Activations the matmul kernel fuses; softmax follows it as its own kernel. */
export const FUSED = new Set(['linear', 'relu', 'elu']);
export const isDenseActivation = (name: unknown): name is string => typeof name === 'string' && (FUSED.has(name) || name === 'softmax');

/** A stack of Dense layers as the package holds it: the input width, and per layer its weights' names in the manifest. */
export interface DenseLayout {
  inputs: number;
  layers: { units: number; activation: string; kernel: string; bias: string | null }[];
}

/**
 * The package's Dense layout when it is a stack of Dense layers that can be read with certainty, or why not (the
 * package then needs tfjs-layers' loadLayersModel, exactly as before). `shardBytes` is the shards' total length.
 *
 * - the topology as tfjs-layers saves it, or as tensorflowjs_converter writes a Keras model (under `model_config`);
 * - a Sequential of an optional InputLayer then Dense layers (linear, relu, elu or softmax), the input [null, d], every
 *   config key one this knows, float32 throughout;
 * - weights named as loadLayersModel would match them for tfjs and Keras 2 (`<layer name>/kernel`, `/bias`), or as
 *   the converter names Keras 3's (`layers/dense/vars/0` for the first Dense layer's kernel, `layers/dense_1/vars/1`
 *   for the second's bias: Keras 3 names them by class and position, not by the layer's name); each with the shape
 *   the layers chain to, float32 and not quantized; none missing, none extra, none twice; the shards exactly as
 *   long as the weights.
 */
export function readDenseLayout(modelJson: ModelJson, shardBytes: number): { ok: true; value: DenseLayout } | { ok: false; error: string } {
  const read = readDenseLayers(modelJson.modelTopology);
  if (typeof read === 'string') return { ok: false, error: read };
  const { inputs, layers, keras3 } = read;

  // The weight each name must hold, and its shape: the kernels chain from the input width through each layer's units.
  const expected = new Map<string, number[]>();
  const layout = layers.map((layer, i) => {
    const prefix = keras3 ? `layers/${i === 0 ? 'dense' : `dense_${i}`}/vars/` : `${layer.name}/`;
    const kernel = prefix + (keras3 ? '0' : 'kernel');
    const bias = layer.useBias ? prefix + (keras3 ? '1' : 'bias') : null;
    expected.set(kernel, [i === 0 ? inputs : layers[i - 1]!.units, layer.units]);
    if (bias) expected.set(bias, [layer.units]);
    return { units: layer.units, activation: layer.activation, kernel, bias };
  });
  const seen = new Set<string>();
  let bytes = 0;
  for (const spec of modelJson.weightsManifest.flatMap((group) => group.weights)) {
    const shape = expected.get(spec.name);
    if (!shape || seen.has(spec.name))
      return { ok: false, error: `weight ${spec.name}: not a weight of the Dense layers, or listed twice` };
    seen.add(spec.name);
    const plain = spec.dtype === 'float32' && spec.quantization === undefined && spec.group === undefined;
    if (!plain || spec.shape.length !== shape.length || spec.shape.some((d, j) => d !== shape[j]))
      return { ok: false, error: `weight ${spec.name}: [${spec.shape}] ${spec.dtype}, expected [${shape}] float32` };
    bytes += 4 * shape.reduce((a, b) => a * b, 1);
  }
  const missing = [...expected.keys()].find((name) => !seen.has(name));
  if (missing !== undefined) return { ok: false, error: `weight ${missing}: missing` };
  if (shardBytes !== bytes) return { ok: false, error: `shards hold ${shardBytes} bytes, the weights ${bytes}` };
  return { ok: true, value: { inputs, layers: layout } };
}

interface DenseLayer {
  name: string;
  units: number;
  activation: string;
  useBias: boolean;
}

// Config keys read or known to be irrelevant to inference (initializers, regularizers, constraints, trainable); any
// other key might change what the layer computes, so it sends the package to loadLayersModel.
const MODEL_KEYS = /^(name|layers|trainable|dtype|build_input_shape)$/;
const ENTRY_KEYS = /^(class_name|config|module|registered_name|build_config)$/;
const LAYER_KEYS: Record<string, RegExp> = {
  InputLayer: /^(name|batch_input_shape|batch_shape|dtype|sparse|ragged|optional)$/,
  Dense: /^(name|trainable|dtype|units|activation|use_bias|batch_input_shape|(kernel|bias)_(initializer|regularizer|constraint)|activity_regularizer|lora_rank|lora_alpha|quantization_config)$/,
};

type Json = Record<string, unknown>;
/** The names tfjs-layers accepts for tensors and variables (common.js isValidTensorName). */
const TENSOR_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const unknownKey = (o: Json, known: RegExp) => Object.keys(o).find((key) => !known.test(key));
const isCount = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;
/** float32, as TF.js and Keras 2 write it or as a dtype policy (Keras 3's DTypePolicy, Keras 2's Policy) names it. */
const isFloat32 = (dtype: unknown) => dtype === undefined || dtype === 'float32' || (isObject(dtype) && isObject(dtype.config) && dtype.config.name === 'float32');

/** The topology's input width and Dense layers, or why it is not a stack of Dense layers this reads with certainty. */
function readDenseLayers(topology: object): { inputs: number; layers: DenseLayer[]; keras3: boolean } | string {
  const top = topology as Json;
  // As loadLayersModel does: the converter nests a Keras model's config under model_config.
  const model = isObject(top.model_config) ? top.model_config : top;
  const config = model.config;
  if (model.class_name !== 'Sequential' || !isObject(config) || !Array.isArray(config.layers)) return 'topology: not a Sequential';
  if (unknownKey(config, MODEL_KEYS) !== undefined || !isFloat32(config.dtype)) return 'topology: an unknown key, or not float32';

  let inputs: number | null = null;
  const layers: DenseLayer[] = [];
  const names = new Set<string>();
  for (const [i, entry] of config.layers.entries()) {
    const where = `layers[${i}]`;
    if (!isObject(entry) || !isObject(entry.config)) return `${where}: not a layer`;
    const [kind, c] = [String(entry.class_name), entry.config];
    if (kind !== 'InputLayer' && kind !== 'Dense') return `${where}: a ${kind} layer`;
    const oddKey = unknownKey(entry, ENTRY_KEYS) ?? unknownKey(c, LAYER_KEYS[kind]!);
    if (oddKey !== undefined) return `${where}: unknown key ${oddKey}`;
    // A name tfjs-layers would refuse for its variables is refused here too.
    if (typeof c.name !== 'string' || !TENSOR_NAME.test(c.name) || names.has(c.name) || !isFloat32(c.dtype))
      return `${where}: name or dtype`;
    names.add(c.name);
    if (kind === 'InputLayer' ? i !== 0 || c.sparse || c.ragged || c.optional : (c.lora_rank ?? c.quantization_config ?? null) !== null)
      return `${where}: not a plain ${kind}`;
    // The first layer's input shape is the model's (Keras 3 says batch_shape); Keras 2 repeats it on the Dense layer
    // after an InputLayer, and tfjs ignores any later one: a disagreeing one is not read.
    const shape = c.batch_input_shape ?? c.batch_shape;
    if (shape !== undefined) {
      const width = Array.isArray(shape) && shape.length === 2 && shape[0] === null && isCount(shape[1]) ? shape[1] : null;
      if (inputs !== null && width !== inputs) return `${where}: input shape`;
      inputs = width;
    }
    if (inputs === null) return `${where}: input shape`;
    if (kind === 'InputLayer') continue;
    if (!isCount(c.units) || !isDenseActivation(c.activation) || typeof c.use_bias !== 'boolean')
      return `${where}: units, activation or use_bias`;
    layers.push({ name: c.name, units: c.units, activation: c.activation, useBias: c.use_bias });
  }
  if (layers.length === 0 || inputs === null) return 'topology: no Dense layer';
  return { inputs, layers, keras3: typeof top.keras_version === 'string' && top.keras_version.startsWith('3.') };
}
