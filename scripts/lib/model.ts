// A model package's network, run in Node (tfjs cpu backend) the way scripts/train.ts ran it: for the scripts that need
// the model's own answers (npm run stats -- --model-dir, the detector benchmark, the backtest's probes). Never used
// by the Worker.
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

export interface RunOptions {
  /** Silence tfjs's own console notices (its greeting on the first tensor in Node): for output read by a program. */
  quiet?: boolean;
}

/**
 * The label the model in `dir` answers (argmax) for each row, rows in model units and feature order. Throws when the
 * package's model cannot be read or run (a file missing or cut short, weights that do not fit the layers, an output
 * that is not one probability per label), naming the file where it can.
 */
export async function predictLabels(dir: string, metadata: ModelMetadata, rows: readonly number[][], options: RunOptions = {}): Promise<string[]> {
  if (rows.length === 0) return [];
  if (options.quiet) tf.enableProdMode();
  await tf.setBackend('cpu');
  const modelJson = join(dir, 'model.json');
  let json;
  try {
    json = JSON.parse(readFileSync(modelJson, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${modelJson}: ${code ? `cannot read (${code})` : `not JSON (${(e as Error).message})`}`);
  }
  const groups = json.weightsManifest as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] | undefined;
  if (!Array.isArray(groups) || json.modelTopology === undefined) throw new Error(`${modelJson}: not a tfjs layers model (no modelTopology or weightsManifest)`);
  const bytes = Buffer.concat(
    groups.flatMap((g) =>
      g.paths.map((p) => {
        try {
          return readFileSync(join(dir, p));
        } catch (e) {
          throw new Error(`${join(dir, p)}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), a weights file model.json names`);
        }
      }),
    ),
  );
  let net: tf.LayersModel;
  try {
    net = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: groups.flatMap((g) => g.weights),
        weightData: new Uint8Array(bytes).buffer,
      }),
    );
  } catch (e) {
    // tfjs's messages name no file (a weights file cut short: "the tensor should have 80 values but has 45").
    throw new Error(`${modelJson}: cannot be loaded: ${(e as Error).message}`);
  }
  try {
    const output = tf.tidy(() => net.predict(tf.tensor2d(rows as number[][], [rows.length, metadata.features.length], 'float32')) as tf.Tensor2D);
    const probabilities = (await output.array()) as number[][];
    output.dispose();
    const width = probabilities[0]?.length;
    if (width !== metadata.labels.length)
      throw new Error(`${modelJson}: the model answers ${width} values a row, the package has ${metadata.labels.length} labels`);
    return probabilities.map((p) => metadata.labels[p.indexOf(Math.max(...p))]);
  } finally {
    net.dispose();
  }
}

/** What the model in `dir` answers (argmax) on the package's own probes, as the Worker runs them for a flagged window. */
export const predictProbes = (dir: string, metadata: ModelMetadata, options: RunOptions = {}): Promise<string[]> =>
  predictLabels(dir, metadata, metadata.probes.map((p) => p.input), options);
