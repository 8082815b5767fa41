// A model package's network, run in Node (tfjs cpu backend) the way scripts/train.ts ran it: for the scripts that need
// the model's own answers (npm run stats -- --model-dir, the detector benchmark). Never used by the Worker.
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMetadata, type ModelMetadata } from '../../src/serving/metadata';

export function readPackageMetadata(dir: string): ModelMetadata {
  const path = join(dir, 'metadata.json');
  return parseMetadata(JSON.parse(readFileSync(path, 'utf8')), path);
}

/** Rows in raw units as the model expects them: scaled with each feature's raw scaler when it has one. */
export const toModelUnits = (metadata: ModelMetadata, rows: readonly number[][]): number[][] =>
  rows.map((row) =>
    row.map((x, j) => {
      const raw = metadata.features[j]?.raw;
      return raw ? (x - raw.mean) / raw.std : x;
    }),
  );

/** The label the model in `dir` answers (argmax) for each row, rows in model units and feature order. */
export async function predictLabels(dir: string, metadata: ModelMetadata, rows: readonly number[][]): Promise<string[]> {
  if (rows.length === 0) return [];
  await tf.setBackend('cpu');
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const groups = json.weightsManifest as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  const bytes = Buffer.concat(groups.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p)))));
  const net = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: groups.flatMap((g) => g.weights),
      weightData: new Uint8Array(bytes).buffer,
    }),
  );
  const input = tf.tensor2d(rows as number[][], [rows.length, metadata.features.length], 'float32');
  const output = net.predict(input) as tf.Tensor2D;
  const probabilities = (await output.array()) as number[][];
  tf.dispose([input, output]);
  net.dispose();
  return probabilities.map((p) => metadata.labels[p.indexOf(Math.max(...p))]);
}
