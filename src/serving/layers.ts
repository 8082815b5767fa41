// tfjs-layers' loader, and every kernel of the WASM backend: what a model package that is not a stack of Dense layers
// needs. Only the generated registry imports this module (LAYERS), and only when such a package is in models/: the
// Dense steps call the WASM module's C functions themselves and need neither (about 51 KiB gzip of tfjs-layers).
import '@tensorflow/tfjs-backend-wasm/dist/register_all_kernels';
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { ensureBackend } from './backend';
import { joinShards } from './model-package';
import type { ModelPackage } from './registry';

/** The package through tfjs-layers' loadLayersModel: the way any other model is loaded, and the tests' reference. */
export async function loadLayers(pkg: ModelPackage): Promise<LayersModel> {
  await ensureBackend();
  const weightSpecs = pkg.modelJson.weightsManifest.flatMap((group) => group.weights);
  return loadLayersModel(tf.io.fromMemory({ modelTopology: pkg.modelJson.modelTopology, weightSpecs, weightData: joinShards(pkg.shards) }));
}
