// The served models: packages bundled by the generated registry, loaded into TF.js lazily, once per isolate.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
// Types only: tfjs-layers is bundled only when a package needs it (LAYERS, from the generated registry).
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { nameRecord } from '../monitor/names';
import type { ModelMetadata } from './metadata';
import { FUSED, isDenseActivation, joinShards, readDenseLayout, type ModelJson } from './model-package';
import { LAYERS, MODEL_PACKAGES } from './registry.generated';
import { ensureBackend } from './backend';

export type { ModelJson } from './model-package';

export interface ModelPackage {
  metadata: ModelMetadata;
  modelJson: ModelJson;
  /** Weight shard files, in weightsManifest order. */
  shards: ArrayBuffer[];
}

/** tfjs-layers' loader for a package that is not a stack of Dense layers (src/serving/layers.ts). */
export type LayersLoader = (pkg: ModelPackage) => Promise<LayersModel>;

export class ModelRegistry {
  private readonly packages = new Map<string, ModelPackage>();
  private readonly loaded = new Map<string, Promise<ServedModel>>();

  /**
   * `layers` loads any package that is not a Dense stack: the generated registry's LAYERS, null when every package
   * in models/ was one (then tfjs-layers is not bundled, and such a package added later is refused when loaded).
   */
  constructor(packages: ModelPackage[], private readonly layers: LayersLoader | null = LAYERS) {
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

  /** The model, ready to run, built from the bundled files on first use. */
  model(name: string): Promise<ServedModel> {
    const pkg = this.packages.get(name);
    if (!pkg) return Promise.reject(new Error(`unknown model ${name}`));
    let model = this.loaded.get(name);
    if (!model) {
      model = load(pkg, this.layers);
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

/**
 * A model ready to answer. `dense`: the Dense steps predictRows runs on the kernels directly, or null for any other
 * architecture. `layers`: the tfjs-layers model, there only when the package was loaded through tfjs-layers.
 */
export type ServedModel = { dense: DenseStep[]; layers: LayersModel | null } | { dense: null; layers: LayersModel };

/**
 * A stack of Dense layers is read straight from the package (readDenseSteps): building a tfjs-layers model only to
 * take its weights back out was the largest part of the first predict after start. Anything else goes through
 * tfjs-layers' own loader, as it always did, when this build bundles it.
 */
async function load(pkg: ModelPackage, layers: LayersLoader | null): Promise<ServedModel> {
  await ensureBackend();
  const read = readDenseSteps(pkg);
  if (read.ok) return { dense: read.value, layers: null };
  if (!layers)
    throw new Error(`model ${pkg.metadata.name} needs tfjs-layers (${read.error}), which this build does not bundle: every package in models/ was a Dense stack (npm run registry)`);
  return serve(await layers(pkg));
}

/** A tfjs-layers model as served: its Dense steps when it is a stack of Dense layers, else model.predict. */
export function serve(model: LayersModel): ServedModel {
  const dense = densePlan(model);
  return dense ? { dense, layers: model } : { dense: null, layers: model };
}

/**
 * A stack of Dense layers (every served model so far), run as the very kernels the layers model runs, with the very
 * inputs, minus its per-call machinery: input standardisation, the batch loop's gather and concat, the symbolic graph
 * walk, the ops' shape checks and gradient wrappers, and the engine's own bookkeeping per kernel (tensor tracking,
 * tidy scopes, kernel lookup). The profile of a 1-row predict found that machinery to be most of the request's CPU.
 *
 * Per layer, as Dense.call does: `_FusedMatMul` with the bias and the activation when the activation is one the
 * kernel fuses (linear, relu, elu), else `_FusedMatMul` then `Add` of the bias then the activation (softmax). The
 * kernels are the WASM backend's own C functions, called with the arguments the backend's kernels give them (see
 * Pass), on data the backend holds: the same functions on the same float32 data give the same results bit for bit
 * (tested against model.predict on every model).
 */
interface DenseStep {
  /** The kernel as [1, in, out], the shape fused.matMul hands to the kernel. */
  kernel3d: tf.TensorInfo;
  bias: tf.TensorInfo | null;
  /** Activation fused into the matmul kernel, or null when it follows as its own kernel (softmax). */
  fused: 'linear' | 'relu' | 'elu' | null;
}

/**
 * One Dense layer's step, from its [in, out] kernel, bias and activation, all held by the backend (the step does not
 * own them). The kernel is viewed as [1, in, out], as fused.matMul's reshape does: the same data under another shape.
 */
function denseStep(kernel: tf.TensorInfo, bias: tf.TensorInfo | null, activation: string): DenseStep {
  const [inputs, units] = kernel.shape as [number, number];
  return {
    kernel3d: { dataId: kernel.dataId, shape: [1, inputs, units], dtype: kernel.dtype },
    bias,
    fused: FUSED.has(activation) ? (activation as DenseStep['fused']) : null,
  };
}

/** A loaded tfjs-layers model's Dense steps, or null when it is anything else (it then runs through model.predict). */
function densePlan(model: LayersModel): DenseStep[] | null {
  if ((model as unknown as { getClassName(): string }).getClassName() !== 'Sequential') return null;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  const plan: DenseStep[] = [];
  for (const layer of model.layers) {
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
    if (layer.getClassName() !== 'Dense' || !kernel || kernel.rank !== 2 || dense.inboundNodes.length !== 1 || !isDenseActivation(activation))
      return null;
    plan.push(denseStep(kernel, dense.bias ? dense.bias.read() : null, activation));
  }
  return plan.length > 0 ? plan : null;
}

/**
 * The Dense steps straight from the package (readDenseLayout says which packages qualify), the shards read as
 * loadLayersModel reads them, so the steps hold the same float32 values that densePlan would take from the loaded
 * model; or why not, and the package then needs tfjs-layers.
 */
export function readDenseSteps(pkg: ModelPackage): { ok: true; value: DenseStep[] } | { ok: false; error: string } {
  const read = readDenseLayout(pkg.modelJson, pkg.shards.reduce((n, b) => n + b.byteLength, 0));
  if (!read.ok) return read;
  const specs = pkg.modelJson.weightsManifest.flatMap((group) => group.weights);

  // Each weight's bytes as decodeWeights (loadLayersModel's decoder) reads a plain float32 weight, a Float32Array over
  // them, from the shards joined as loadLayers joins them; written to the backend as a tensor's values are. The same
  // float32 values, without the engine's tensor bookkeeping, which the Dense steps never use.
  const data = joinShards(pkg.shards);
  const backend = tf.backend();
  const written = new Map<string, tf.TensorInfo>();
  let offset = 0;
  for (const spec of specs) {
    const values = new Float32Array(data, offset, spec.shape.reduce((a, b) => a * b, 1));
    written.set(spec.name, { dataId: backend.write(values, spec.shape, 'float32'), shape: spec.shape, dtype: 'float32' });
    offset += values.byteLength;
  }
  const steps = read.value.layers.map(({ kernel, bias, activation }) => denseStep(written.get(kernel)!, bias ? written.get(bias)! : null, activation));
  return { ok: true, value: steps };
}

/** Whether predictRows takes the Dense shortcut for this model (tests). */
export const usesDenseShortcut = (model: ServedModel): boolean => model.dense !== null;

/**
 * The WASM module's C functions a forward pass calls: the very functions the backend's `_FusedMatMul`, `Add` and
 * `Softmax` kernels call (through emscripten's cwrap), with the arguments those kernels pass (kernels/_FusedMatMul.js,
 * binary_kernel.js, Softmax.js in tfjs-backend-wasm 4.22). Tensors are named by the backend's numeric ids; shapes
 * are int32 arrays in the heap.
 */
interface WasmKernels {
  HEAPF32: Float32Array;
  HEAP32: Int32Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  __FusedMatMul(aId: number, aShape: number, aRank: number, bId: number, bShape: number, bRank: number, transposeA: number,
    transposeB: number, activation: number, biasId: number, preluWeightsId: number, leakyreluAlpha: number, outId: number): void;
  _Add(aId: number, aShape: number, aRank: number, bId: number, bShape: number, bRank: number, dtype: number, outId: number): void;
  _Softmax(logitsId: number, outId: number, channels: number, batch: number): void;
}
/** The kernels' enums (tfjs-backend-wasm kernels/types.js: FusableActivation, CppDType). */
const ACTIVATION = { linear: 0, relu: 1, elu: 6 } as const;
const FLOAT32 = 0;
/** What `fused.matMul` hands the kernel for `leakyreluAlpha` (its default), unused by the activations fused here. */
const LEAKYRELU_ALPHA = 0.2;

/**
 * A forward pass of one plan at one batch size, set up once: every tensor it writes registered with the backend
 * and every shape it passes written to the heap, then the kernel calls as a list. A 1-row predict then costs a copy
 * in, the C calls, and a copy out: the kernels' JS wrappers (tensor lookups, an output allocated and registered per
 * kernel, shapes copied to the stack per call) were most of TF.js's share of a 1-row request in the profile.
 */
interface Pass {
  backend: BackendWasm;
  rows: number;
  /** Byte offset of the input tensor's data in the heap. */
  input: number;
  /** Byte offset and length (floats) of the output, and the output width. */
  output: number;
  size: number;
  k: number;
  calls: (() => void)[];
  /** Releases what the pass registered and allocated. */
  free(): void;
}

function newPass(backend: BackendWasm, plan: DenseStep[], rows: number, features: number): Pass {
  const wasm = backend.wasm as unknown as WasmKernels;
  const tensors: tf.DataId[] = [];
  const shapes: number[] = [];
  const free = () => {
    for (const dataId of tensors) backend.disposeData(dataId, true);
    for (const pointer of shapes) wasm._free(pointer);
  };
  const idOf = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.id;
  /** A tensor of this shape, registered with the backend as a kernel's output is (makeOutput). */
  const tensor = (shape: number[]) => {
    const t = backend.makeOutput(shape, 'float32');
    tensors.push(t.dataId);
    return { id: idOf(t), offset: backend.dataIdMap.get(t.dataId)!.memoryOffset };
  };
  /** The shape as int32 in the heap, as cwrap's 'array' argument puts it on the stack. */
  const shapeAt = (shape: number[]) => {
    const pointer = wasm._malloc(4 * shape.length);
    shapes.push(pointer);
    wasm.HEAP32.set(shape, pointer >> 2);
    return pointer;
  };
  try {
    const input = tensor([1, rows, features]);
    let h = { ...input, shape: shapeAt([1, rows, features]) };
    const calls: (() => void)[] = [];
    for (const step of plan) {
      const units = step.kernel3d.shape[2]!;
      const a = h;
      const [b, bShape] = [idOf(step.kernel3d), shapeAt(step.kernel3d.shape)];
      const out = { ...tensor([1, rows, units]), shape: shapeAt([1, rows, units]) };
      const activation = ACTIVATION[step.fused ?? 'linear'];
      const bias = step.fused !== null && step.bias ? idOf(step.bias) : 0;
      calls.push(() => wasm.__FusedMatMul(a.id, a.shape, 3, b, bShape, 3, 0, 0, activation, bias, 0, LEAKYRELU_ALPHA, out.id));
      h = out;
      if (step.fused === null) {
        if (step.bias) {
          const [logits, c, cShape] = [h, idOf(step.bias), shapeAt(step.bias.shape)];
          const added = { ...tensor([1, rows, units]), shape: logits.shape };
          calls.push(() => wasm._Add(logits.id, logits.shape, 3, c, cShape, 1, FLOAT32, added.id));
          h = added;
        }
        const [logits, softmax] = [h, { ...tensor([1, rows, units]), shape: h.shape }];
        calls.push(() => wasm._Softmax(logits.id, softmax.id, units, rows));
        h = softmax;
      }
    }
    const k = plan[plan.length - 1]!.kernel3d.shape[2]!;
    return { backend, rows, input: input.offset, output: h.offset, size: rows * k, k, calls, free };
  } catch (e) {
    free();
    throw e;
  }
}

/**
 * The pass kept per plan for the next request of the same batch size: one per model, of at most REUSED_ROWS rows,
 * so a burst of one odd size does not hold the heap. Larger batches set up a pass of their own and free it after.
 */
const REUSED_ROWS = 64;
const passes = new WeakMap<DenseStep[], Pass>();

/**
 * Runs the Dense steps on n rows of `features` values; the probabilities, n × k, and k. The rows are written
 * straight into the input tensor (the float32 conversion a Float32Array makes); the output is copied out of the heap,
 * so it outlives the pass.
 */
function runDense(plan: DenseStep[], rows: number[][], features: number): { data: Float32Array; k: number } {
  const backend = tf.backend() as BackendWasm;
  const n = rows.length;
  if (n === 0) return { data: new Float32Array(0), k: plan[plan.length - 1]!.kernel3d.shape[2]! };
  let pass = passes.get(plan);
  // A pass of a backend since replaced (tests re-register it) went with that backend's heap.
  if (pass && pass.backend !== backend) {
    passes.delete(plan);
    pass = undefined;
  }
  if (!pass || pass.rows !== n) {
    const fresh = newPass(backend, plan, n, features);
    // A large batch does not evict the kept pass: the next 1-row request still finds it.
    if (n <= REUSED_ROWS) {
      pass?.free();
      passes.set(plan, fresh);
    }
    pass = fresh;
  }
  try {
    const wasm = backend.wasm as unknown as WasmKernels;
    // The heap's views are replaced when it grows: read them after any allocation, never keep them.
    const heap = wasm.HEAPF32;
    const base = pass.input >> 2;
    for (let i = 0; i < n; i++) {
      // A longer row would write into the next tensor's memory.
      if (rows[i]!.length !== features) throw new Error(`row ${i} has ${rows[i]!.length} values, the model takes ${features}`);
      heap.set(rows[i]!, base + i * features);
    }
    for (const call of pass.calls) call();
    const at = pass.output >> 2;
    return { data: wasm.HEAPF32.slice(at, at + pass.size), k: pass.k };
  } catch (e) {
    // A run that threw (a row of the wrong width, a kernel that failed) may have left the pass half-written: it is
    // not reused (freed below).
    passes.delete(plan);
    throw e;
  } finally {
    if (passes.get(plan) !== pass) pass.free();
  }
}

/** The rows (feature order) as one float32 buffer, row after row: what both paths hand to the backend. */
function flatten(rows: number[][], features: number): Float32Array {
  const flat = new Float32Array(rows.length * features);
  for (let i = 0; i < rows.length; i++) flat.set(rows[i]!, i * features);
  return flat;
}

/** One probability vector per row, as views of the n × k result (a single row is the result itself). */
function perRow(data: Float32Array, n: number, k: number): Float32Array[] {
  if (n === 1) return [data];
  const out = new Array<Float32Array>(n);
  for (let i = 0; i < n; i++) out[i] = data.subarray(i * k, (i + 1) * k);
  return out;
}

/** Runs the model on rows (feature order); returns one probability vector per row. */
export function predictRows(model: ServedModel, rows: number[][], features: number): Float32Array[] {
  const plan = model.dense;
  if (plan && plan[0]!.kernel3d.shape[1] !== features)
    throw new Error(`model takes ${plan[0]!.kernel3d.shape[1]} features, rows have ${features}`);
  const { data, k } = plan ? runDense(plan, rows, features) : predictLayers(model.layers, flatten(rows, features), rows.length, features);
  return perRow(data, rows.length, k);
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
