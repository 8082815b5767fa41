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
  if (buffers.length === 1) return buffers[0];
  const out = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

/** Runs the model on rows (feature order); returns one probability vector per row. */
export async function predictRows(model: LayersModel, rows: number[][], features: number): Promise<Float32Array[]> {
  const flat = new Float32Array(rows.length * features);
  rows.forEach((row, i) => flat.set(row, i * features));
  // One batch of the whole request: predict()'s default 32-row chunks cost ~10x at 1000 rows on WASM.
  const output = tf.tidy(() => model.predict(tf.tensor2d(flat, [rows.length, features]), { batchSize: rows.length }) as tf.Tensor);
  try {
    const data = (await output.data()) as Float32Array;
    const k = output.shape[1] ?? 1;
    return rows.map((_, i) => data.subarray(i * k, (i + 1) * k));
  } finally {
    output.dispose();
  }
}

export const registry = new ModelRegistry(MODEL_PACKAGES);
