// The served models: packages bundled by the generated registry, loaded into TF.js lazily, once per isolate.
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { nameRecord } from '../monitor/names';
import type { ModelMetadata } from './metadata';
import { MODEL_PACKAGES } from './registry.generated';
import { ensureBackend } from './backend';

/** model.json as the TensorFlow.js converter writes it. */
export interface ModelJson {
  format?: string;
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

export interface ModelPackage {
  metadata: ModelMetadata;
  modelJson: ModelJson;
  /** Weight shard files, in weightsManifest order. */
  shards: ArrayBuffer[];
}

export class ModelRegistry {
  private readonly packages = new Map<string, ModelPackage>();
  private readonly loaded = new Map<string, Promise<LayersModel>>();

  constructor(packages: ModelPackage[]) {
    for (const p of packages) this.add(p);
  }

  /**
   * Serves a package (the constructor adds the bundled ones; a test adds a fixture package it built). Its metadata
   * must have passed parseMetadata, as the generator's have. Returns the function that stops serving it.
   */
  add(pkg: ModelPackage): () => void {
    const name = pkg.metadata.name;
    if (this.packages.has(name)) throw new Error(`model ${name} is served already`);
    this.packages.set(name, { ...pkg, metadata: withNameRecords(pkg.metadata) });
    return () => {
      this.packages.delete(name);
      this.loaded.delete(name);
    };
  }

  /** Every served model's metadata, in name order. */
  list(): ModelMetadata[] {
    return [...this.packages.values()].map((p) => p.metadata);
  }

  metadata(name: string): ModelMetadata | undefined {
    return this.packages.get(name)?.metadata;
  }

  /** The TF.js model, built from the bundled files on first use. */
  model(name: string): Promise<LayersModel> {
    const pkg = this.packages.get(name);
    if (!pkg) return Promise.reject(new Error(`unknown model ${name}`));
    let model = this.loaded.get(name);
    if (!model) {
      model = load(pkg);
      model.catch(() => this.loaded.delete(name));
      this.loaded.set(name, model);
    }
    return model;
  }
}

/** The metadata with its label-keyed records (training counts, class weights) as null-prototype records. */
function withNameRecords(metadata: ModelMetadata): ModelMetadata {
  const { label_counts, class_weight, ...training } = metadata.training;
  return {
    ...metadata,
    training: { ...training, label_counts: nameRecord(label_counts), ...(class_weight ? { class_weight: nameRecord(class_weight) } : {}) },
  };
}

async function load(pkg: ModelPackage): Promise<LayersModel> {
  await ensureBackend();
  const weightSpecs = pkg.modelJson.weightsManifest.flatMap((group) => group.weights);
  const weightData = concat(pkg.shards);
  return loadLayersModel(tf.io.fromMemory({ modelTopology: pkg.modelJson.modelTopology, weightSpecs, weightData }));
}

function concat(buffers: ArrayBuffer[]): ArrayBuffer {
  if (buffers.length === 1) return buffers[0]!;
  const out = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

/**
 * A stack of Dense layers (every served model so far), run as the very kernels the layers model runs, with the very
 * inputs, minus its per-call machinery: input standardisation, the batch loop's gather and concat, the symbolic graph
 * walk, the ops' shape checks and gradient wrappers, and the engine's own bookkeeping per kernel (tensor tracking,
 * tidy scopes, kernel lookup). The profile of a 1-row predict found that machinery to be most of the request's CPU.
 *
 * Per layer, as Dense.call does: `_FusedMatMul` with the bias and the activation when the activation is one the
 * kernel fuses (linear, relu, elu), else `_FusedMatMul` then `Add` of the bias then the activation (softmax). The
 * kernels are the WASM backend's own, called through TF.js's kernel interface (`getKernel(...).kernelFunc` with
 * `{inputs, backend, attrs}`, the contract custom ops are written against), on data the backend holds: the same
 * kernels on the same float32 data give the same results bit for bit (tested against model.predict on every model).
 */
interface DenseStep {
  /** The kernel as [1, in, out], the shape fused.matMul hands to the kernel. */
  kernel3d: tf.Tensor;
  bias: tf.Tensor | null;
  /** Activation fused into the matmul kernel, or null when it follows as its own kernel (softmax). */
  fused: 'linear' | 'relu' | 'elu' | null;
}

const FUSED = new Set(['linear', 'relu', 'elu']);
const plans = new WeakMap<LayersModel, DenseStep[] | null>();

/** The model's Dense steps, or null when it is anything else (it then runs through model.predict). */
function densePlan(model: LayersModel): DenseStep[] | null {
  let plan = plans.get(model);
  if (plan !== undefined) return plan;
  plan = (model as unknown as { getClassName(): string }).getClassName() === 'Sequential' ? [] : null;
  for (const layer of plan ? model.layers : []) {
    const dense = layer as unknown as {
      getClassName(): string;
      activation?: { getClassName(): string };
      kernel?: { read(): tf.Tensor };
      bias?: { read(): tf.Tensor } | null;
      inboundNodes: unknown[];
    };
    if (layer.getClassName() === 'InputLayer') continue;
    const activation = dense.activation?.getClassName();
    const kernel = dense.kernel?.read();
    if (
      layer.getClassName() !== 'Dense' || !kernel || kernel.rank !== 2 || dense.inboundNodes.length !== 1 ||
      (activation === undefined || (!FUSED.has(activation) && activation !== 'softmax'))
    ) {
      plan = null;
      break;
    }
    const [inputs, units] = kernel.shape as [number, number];
    plan!.push({
      kernel3d: tf.keep(tf.reshape(kernel, [1, inputs, units])),
      bias: dense.bias ? dense.bias.read() : null,
      fused: FUSED.has(activation) ? (activation as DenseStep['fused']) : null,
    });
  }
  if (plan !== null && (plan.length === 0 || model.inputs.length !== 1 || model.outputs.length !== 1)) plan = null;
  plans.set(model, plan);
  return plan;
}

/** Whether predictRows takes the Dense shortcut for this model (tests). */
export const usesDenseShortcut = (model: LayersModel): boolean => densePlan(model) !== null;

/** The active backend's kernels the Dense steps run, looked up once per backend. */
interface DenseKernels {
  backend: tf.KernelBackend;
  matMul: tf.KernelFunc;
  add: tf.KernelFunc;
  softmax: tf.KernelFunc;
}
let kernels: DenseKernels | undefined;

function denseKernels(): DenseKernels {
  const backend = tf.backend();
  if (kernels?.backend === backend) return kernels;
  const name = tf.getBackend();
  const find = (kernel: string) => {
    const config = tf.getKernel(kernel, name);
    if (!config) throw new Error(`backend ${name} has no ${kernel} kernel`);
    return config.kernelFunc;
  };
  return (kernels = { backend, matMul: find('_FusedMatMul'), add: find('Add'), softmax: find('Softmax') });
}

/**
 * Runs the Dense steps on `flat` (n rows of `features`); the probabilities, n × k, and k. Every intermediate the
 * kernels make is released here, on success or on a throw: the engine, which would otherwise track them, never sees
 * them.
 */
function runDense(plan: DenseStep[], flat: Float32Array, n: number, features: number): { data: Float32Array; k: number } {
  const { backend, matMul, add, softmax } = denseKernels();
  const shape = [1, n, features];
  let h: tf.TensorInfo = { dataId: backend.write(flat, shape, 'float32'), shape, dtype: 'float32' };
  const made = [h];
  const run = (kernel: tf.KernelFunc, inputs: tf.NamedTensorInfoMap, attrs: object) => {
    h = kernel({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    made.push(h);
  };
  try {
    for (const step of plan) {
      const attrs = { transposeA: false, transposeB: false, activation: step.fused ?? 'linear', leakyreluAlpha: 0.2 };
      if (step.fused !== null) run(matMul, step.bias ? { a: h, b: step.kernel3d, bias: step.bias } : { a: h, b: step.kernel3d }, attrs);
      else {
        run(matMul, { a: h, b: step.kernel3d }, attrs);
        if (step.bias) run(add, { a: h, b: step.bias }, {});
        run(softmax, { logits: h }, { dim: h.shape.length - 1 });
      }
    }
    // readSync copies out of the WASM heap, so the data outlives the release below.
    return { data: backend.readSync(h.dataId) as Float32Array, k: h.shape[h.shape.length - 1] ?? 1 };
  } finally {
    for (const t of made) backend.disposeData(t.dataId, true);
  }
}

/** The rows (feature order) as one float32 buffer, row after row: what both paths hand to the backend. */
function flatten(rows: number[][], features: number): Float32Array {
  const flat = new Float32Array(rows.length * features);
  for (let i = 0; i < rows.length; i++) flat.set(rows[i]!, i * features);
  return flat;
}

/** One probability vector per row, as views of the n × k result. */
function perRow(data: Float32Array, n: number, k: number): Float32Array[] {
  const out = new Array<Float32Array>(n);
  for (let i = 0; i < n; i++) out[i] = data.subarray(i * k, (i + 1) * k);
  return out;
}

/** Runs the model on rows (feature order); returns one probability vector per row. */
export function predictRows(model: LayersModel, rows: number[][], features: number): Float32Array[] {
  const n = rows.length;
  const flat = flatten(rows, features);
  const plan = densePlan(model);
  if (plan && plan[0]!.kernel3d.shape[1] !== features)
    throw new Error(`model takes ${plan[0]!.kernel3d.shape[1]} features, rows have ${features}`);
  const { data, k } = plan ? runDense(plan, flat, n, features) : predictLayers(model, flat, n, features);
  return perRow(data, n, k);
}

/** Any other model: model.predict, one batch of the whole request (its default 32-row chunks cost ~10x at 1000 rows on WASM). */
function predictLayers(model: LayersModel, flat: Float32Array, n: number, features: number): { data: Float32Array; k: number } {
  const output = tf.tidy(() => model.predict(tf.tensor2d(flat, [n, features]), { batchSize: n }) as tf.Tensor);
  try {
    // The WASM backend reads synchronously; data() would only add a turn of the event loop.
    return { data: output.dataSync() as Float32Array, k: output.shape[output.rank - 1] ?? 1 };
  } finally {
    output.dispose();
  }
}

/** The same through model.predict, without the Dense shortcut: what predictRows must equal (tests). */
export function predictRowsLayers(model: LayersModel, rows: number[][], features: number): Float32Array[] {
  const { data, k } = predictLayers(model, flatten(rows, features), rows.length, features);
  return perRow(data, rows.length, k);
}

export const registry = new ModelRegistry(MODEL_PACKAGES);
