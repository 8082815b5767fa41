// The Seattle weather days in date order, with what a model package answers for each: the real seasonal traffic
// the detector benchmark and the backtest tests replay. Runs the committed model in Node (tfjs cpu backend), so the
// labels are the model's own answers, not the true weather.
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseMetadata, type ModelMetadata } from '../../src/serving/metadata';
import { ROOT } from './bench';

export interface WeatherDay {
  /** Epoch seconds of the day's midnight UTC. */
  time: number;
  date: string;
  /** Raw features in the CSV's units, in the model's feature order. */
  raw: number[];
  /** The weather that was observed. */
  truth: string;
}

const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind'];

export function seattleDays(): WeatherDay[] {
  // The package's "exports" hides data/ from subpath resolution: resolve its entry point (build/index.js).
  const dir = join(dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..');
  const lines = readFileSync(join(dir, 'data', 'seattle-weather.csv'), 'utf8').trim().split(/\r?\n/);
  const header = lines[0].split(',');
  const cols = FEATURES.map((f) => header.indexOf(f));
  const dateCol = header.indexOf('date');
  const labelCol = header.indexOf('weather');
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    return {
      time: Date.parse(`${cells[dateCol]}T00:00:00Z`) / 1000,
      date: cells[dateCol],
      raw: cols.map((c) => Number(cells[c])),
      truth: cells[labelCol],
    };
  });
}

export function loadMetadata(model: string): ModelMetadata {
  const path = join(ROOT, 'models', model, 'metadata.json');
  return parseMetadata(JSON.parse(readFileSync(path, 'utf8')), path);
}

/** The label the packaged model answers for each day (argmax), scaling raw units as its metadata says. */
export async function predictDays(model: string, days: readonly WeatherDay[]): Promise<string[]> {
  await tf.setBackend('cpu');
  const metadata = loadMetadata(model);
  const dir = join(ROOT, 'models', model);
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const weights = json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(join(dir, p))));
  const weightData = new Uint8Array(Buffer.concat(weights)).buffer;
  const net = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights), weightData }),
  );
  const rows = days.map((d) =>
    d.raw.map((x, j) => {
      const raw = metadata.features[j].raw;
      return raw ? (x - raw.mean) / raw.std : x;
    }),
  );
  const input = tf.tensor2d(rows, [rows.length, FEATURES.length], 'float32');
  const output = net.predict(input) as tf.Tensor2D;
  const probabilities = (await output.array()) as number[][];
  tf.dispose([input, output]);
  net.dispose();
  return probabilities.map((p) => metadata.labels[p.indexOf(Math.max(...p))]);
}
