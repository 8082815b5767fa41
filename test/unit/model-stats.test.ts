// scripts/model-stats.ts: training statistics against hand-computed values and against the real seattle-weather.csv.
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { cpSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StatsError, balancedClassWeights, buildMetadata, computeStats, main } from '../../scripts/model-stats';
import { parseCsv } from '../../scripts/lib/csv';
import { parseMetadata } from '../../src/serving/metadata';
import { testTempDir } from '../temp-dir';

// a: 2 4 4 4 5 5 7 9 → mean 5, population std 2 (the textbook example); b: 1 1 1 1 3 3 3 3 → mean 2, std 1.
// Labels: x ×6, y ×2 → balanced weights 8/(2·6) = 0.666667 and 8/(2·2) = 2.
const TINY = `id,a,b,label
r1,2,1,x
r2,4,1,x
r3,4,1,x
r4,4,1,x
r5,5,3,x
r6,5,3,x
r7,7,3,y
r8,9,3,y
`;

describe('computeStats', () => {
  it('computes population mean/std, counts and balanced weights by hand', () => {
    const s = computeStats(parseCsv(TINY), { label: 'label' });
    expect(s.features).toEqual([
      { name: 'a', mean: 5, std: 2 },
      { name: 'b', mean: 2, std: 1 },
    ]);
    expect(s).toMatchObject({
      labels: ['x', 'y'],
      labelCounts: { x: 6, y: 2 },
      samples: 8,
      classWeight: { x: 0.666667, y: 2 },
      standardized: false,
      skipped: 0,
    });
  });

  it('standardize: the model sees mean 0 / std 1, and raw is the fitted scaler', () => {
    const s = computeStats(parseCsv(TINY), { label: 'label', features: ['b', 'a'], standardize: true });
    expect(s.features.map((f) => f.name)).toEqual(['b', 'a']);
    expect(s.features.map((f) => f.raw)).toEqual([
      { mean: 2, std: 1 },
      { mean: 5, std: 2 },
    ]);
    for (const f of s.features) {
      expect(f.mean).toBeCloseTo(0, 12);
      expect(f.std).toBeCloseTo(1, 12);
    }
  });

  it('skips rows with a blank label or feature, and says which columns are missing', () => {
    const table = parseCsv('a,b,label\n1,2,x\n,3,y\n4,5,\n7,8,y\n');
    expect(computeStats(table, { label: 'label' })).toMatchObject({ samples: 2, skipped: 2, labelCounts: { x: 1, y: 1 } });
    expect(() => computeStats(table, { label: 'label', features: ['a', 'c', 'd'], where: 't.csv' })).toThrow(
      new StatsError('t.csv: missing columns c, d (columns: a, b, label)'),
    );
    expect(() => computeStats(table, { label: 'kind', where: 't.csv' })).toThrow('t.csv: no label column "kind" (columns: a, b, label)');
  });

  it('refuses to standardize a constant feature', () => {
    expect(() => computeStats(parseCsv('a,b,label\n1,5,x\n2,5,y\n'), { label: 'label', standardize: true })).toThrow(/^b: constant/);
  });
});

describe('balancedClassWeights', () => {
  it('is n / (k · n_c) over the labels present', () => {
    expect(balancedClassWeights({ a: 10, b: 30, c: 0 })).toEqual({ a: 2, b: 0.666667 });
  });
});

describe('seattle-weather.csv from vega-datasets', () => {
  const dataDir = join(dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..', 'data');
  const table = parseCsv(readFileSync(join(dataDir, 'seattle-weather.csv'), 'utf8'), 'seattle-weather.csv');

  it('counts the known label totals, and picks the numeric columns (not the date)', () => {
    const s = computeStats(table, { label: 'weather', standardize: true });
    expect(s.labelCounts).toEqual({ drizzle: 53, fog: 101, rain: 641, snow: 26, sun: 640 });
    expect(s.samples).toBe(1461);
    expect(s.features.map((f) => f.name)).toEqual(['precipitation', 'temp_max', 'temp_min', 'wind']);
    // n / (k · n_c) with n = 1461, k = 5
    expect(s.classWeight).toEqual({ drizzle: 5.513208, fog: 2.893069, rain: 0.45585, snow: 11.238462, sun: 0.456562 });
    const { metadata } = buildMetadata(s, null, { name: 'seattle-weather', classWeight: true });
    expect(metadata.labels).toEqual(['drizzle', 'fog', 'rain', 'snow', 'sun']);
    expect(metadata.training.class_weight).toEqual(s.classWeight);
  });

  it('raw scaler agrees with an independent two-pass computation', () => {
    const col = table.header.indexOf('temp_max');
    const v = table.rows.map((r) => Number(r[col]));
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    const s = computeStats(table, { label: 'weather', standardize: true });
    expect(s.features[1].raw!.mean).toBeCloseTo(mean, 10);
    expect(s.features[1].raw!.std).toBeCloseTo(std, 10);
  });
});

describe('buildMetadata', () => {
  const stats = computeStats(parseCsv(TINY), { label: 'label' });

  it('writes a valid skeleton: labels sorted, no probes', () => {
    const { metadata } = buildMetadata(stats, null, { name: 'tiny', dataset: 'tiny.csv' });
    expect(parseMetadata(metadata)).toEqual({
      name: 'tiny',
      version: '1',
      labels: ['x', 'y'],
      features: stats.features,
      training: { dataset: 'tiny.csv', samples: 8, label_counts: { x: 6, y: 2 }, standardized: false },
      probes: [],
    });
  });

  it('merges into existing metadata: keeps label order, probes and other fields', () => {
    const existing = parseMetadata({
      name: 'tiny',
      version: '3',
      description: 'kept',
      labels: ['y', 'x', 'z'],
      features: [{ name: 'a', mean: 0, std: 1 }, { name: 'b', mean: 0, std: 1 }],
      training: { samples: 1, label_counts: { y: 0, x: 1, z: 0 }, epochs: 60 },
      probes: [{ input: [1, 2], label: 'z' }],
      monitor: { false_page_budget: 0.5 },
    });
    const { metadata, warnings } = buildMetadata(stats, existing, { classWeight: true });
    expect(metadata).toEqual({
      ...existing,
      features: stats.features,
      training: { samples: 8, label_counts: { y: 2, x: 6, z: 0 }, epochs: 60, standardized: false, class_weight: { x: 0.666667, y: 2 } },
    });
    expect(warnings).toEqual(['no training rows for z: the monitor expects the model never to answer it']);
  });

  it("rejects a CSV label the model does not know, and invalid names via parseMetadata", () => {
    const existing = parseMetadata({
      name: 'm', version: '1', labels: ['x', 'w'], features: [{ name: 'a', mean: 0, std: 1 }],
      training: { samples: 1, label_counts: { x: 1, w: 0 } }, probes: [],
    });
    expect(() => buildMetadata(stats, existing, {}, 'm.json')).toThrow("label y in the CSV is not among the model's labels (x, w) in m.json");
    expect(() => buildMetadata(stats, null, { name: 'no spaces' })).toThrow(/name: expected a name/);
  });
});

describe('npm run stats (main)', () => {
  let stderr = '';
  beforeEach(() => {
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  });
  afterEach(() => vi.restoreAllMocks());

  it('creates metadata.json named after its folder, then merges into it', async () => {
    const dir = await testTempDir('stats');
    const csv = join(dir, 'train.csv');
    const out = join(dir, 'tiny-model', 'metadata.json');
    await writeFile(csv, TINY);
    expect(await main(['--csv', csv, '--label', 'label', '--out', out])).toBe(0);
    const first = JSON.parse(await readFile(out, 'utf8'));
    expect(first).toMatchObject({ name: 'tiny-model', version: '1', labels: ['x', 'y'], probes: [] });
    expect(first.training.class_weight).toBeUndefined();
    expect(stderr).toContain('probes is empty');

    await writeFile(out, JSON.stringify({ ...first, labels: ['y', 'x'], probes: [{ input: [5, 2], label: 'y' }] }));
    expect(await main(['--csv', csv, '--label', 'label', '--out', out, '--class-weight', '--version', '2'])).toBe(0);
    const merged = JSON.parse(await readFile(out, 'utf8'));
    expect(merged).toMatchObject({ version: '2', labels: ['y', 'x'], probes: [{ input: [5, 2], label: 'y' }] });
    expect(merged.training.class_weight).toEqual({ x: 0.666667, y: 2 });
  });

  it("--model-dir writes the model's own answers on held-out rows as its reference: the same counts npm run train wrote", async () => {
    const root = join(import.meta.dirname, '..', '..');
    const dir = await testTempDir('stats-ref');
    const pkg = join(dir, 'seattle-weather');
    cpSync(join(root, 'models', 'seattle-weather'), pkg, { recursive: true });
    const packaged = JSON.parse(readFileSync(join(pkg, 'metadata.json'), 'utf8'));
    const { reference: written, ...withoutReference } = packaged;
    await writeFile(join(pkg, 'metadata.json'), JSON.stringify(withoutReference));
    // The held-out rows (raw units) that the training script predicted, as a CSV with the features by name.
    const holdout = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'holdout', 'seattle-weather.json'), 'utf8'));
    const csv = join(dir, 'held-out.csv');
    await writeFile(csv, [[...holdout.features, 'weather'].join(','), ...holdout.rows.map((r: { input: number[]; label: string }) => [...r.input, r.label].join(','))].join('\n'));
    expect(await main(['--model-dir', pkg, '--csv', csv])).toBe(0);
    const updated = JSON.parse(readFileSync(join(pkg, 'metadata.json'), 'utf8'));
    expect(updated.reference.label_counts).toEqual(written.label_counts);
    expect(updated.reference.samples).toBe(holdout.rows.length);
    expect(stderr).toContain('scaled from raw units');
    // A CSV without the model's features says which are missing.
    await writeFile(csv, 'a,b\n1,2\n');
    expect(await main(['--model-dir', pkg, '--csv', csv])).toBe(1);
    expect(stderr).toContain('missing feature columns precipitation, temp_max, temp_min, wind');
  });

  it('exits 1 with one line on bad input, 2 on missing flags', async () => {
    expect(await main(['--csv', '/nonexistent.csv', '--label', 'label'])).toBe(1);
    expect(stderr).toContain('stats: --csv /nonexistent.csv: cannot read (ENOENT)');
    expect(await main(['--csv', 'x.csv'])).toBe(2);
    expect(stderr).toContain('--label is required (or --model-dir, for the reference)');
    expect(await main(['--label', 'y'])).toBe(2);
    expect(stderr).toContain('--csv is required');
  });
});
