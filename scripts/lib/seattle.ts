// The Seattle weather days in date order, with what a model package answers for each: the real seasonal traffic
// the detector benchmark and the backtest tests replay. Runs the committed model in Node (tfjs cpu backend), so the
// labels are the model's own answers, not the true weather.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ModelMetadata } from '../../src/serving/metadata';
import { predictLabels, predictProbes as predictPackageProbes, readPackageMetadata, toModelUnits } from './model';
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

export const loadMetadata = (model: string): ModelMetadata => readPackageMetadata(join(ROOT, 'models', model));

/** The label the packaged model answers for each day (argmax), scaling raw units as its metadata says. */
export async function predictDays(model: string, days: readonly WeatherDay[]): Promise<string[]> {
  const metadata = loadMetadata(model);
  return predictLabels(join(ROOT, 'models', model), metadata, toModelUnits(metadata, days.map((d) => d.raw)));
}

/** What the packaged model answers on its own probes (argmax), as the cron runs them for a flagged window. */
export const predictProbes = (model: string): Promise<string[]> => predictPackageProbes(join(ROOT, 'models', model), loadMetadata(model));
