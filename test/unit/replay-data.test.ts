// Replay's data handling: reading rows, matching them to features by name, scaling and the simulated faults.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ReplayError,
  findLabelColumn,
  holdoutFixture,
  matchRows,
  parseFault,
  prepareInputs,
  describeScaling,
  readTable,
  shuffledForever,
  tableFromCsv,
  tableFromJson,
} from '../../scripts/replay/data';
import { CsvError, parseCsv } from '../../scripts/lib/csv';
import type { FeatureSpec } from '../../src/serving/metadata';
import { testTempDir } from '../temp-dir';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'holdout');

describe('parseCsv', () => {
  it('reads quoted cells, CRLF, a BOM and skips blank lines', () => {
    const t = parseCsv('\ufeffa,b,c\r\n1,"x, ""y""",3\r\n\r\n4,"multi\nline",6\n');
    expect(t.header).toEqual(['a', 'b', 'c']);
    expect(t.rows).toEqual([
      ['1', 'x, "y"', '3'],
      ['4', 'multi\nline', '6'],
    ]);
  });
  it('names the line of a ragged row', () => {
    expect(() => parseCsv('a,b\n1,2\n3\n', 'f.csv')).toThrow(new CsvError('f.csv: line 3: expected 2 cells (as the header), got 1'));
  });
  it('rejects duplicate and empty column names', () => {
    expect(() => parseCsv('a,a\n1,2')).toThrow(/duplicate column "a"/);
    expect(() => parseCsv('a,,b\n1,2,3')).toThrow(/empty column name/);
  });
});

describe('matchRows', () => {
  const labels = ['no', 'yes'];
  it('picks features by name, in the model order, and finds the label column by its values', () => {
    const table = tableFromCsv('id,y,outcome,x\n1,20,yes,10\n2,21,no,11\n', 'd.csv');
    const m = matchRows(table, ['x', 'y'], labels);
    expect(m.labelColumn).toBe('outcome');
    expect(m.rows).toEqual([
      { input: [10, 20], label: 'yes' },
      { input: [11, 21], label: 'no' },
    ]);
  });
  it('lists every missing column and what the file has', () => {
    const table = tableFromCsv('a,b\n1,2\n', 'd.csv');
    expect(() => matchRows(table, ['a', 'c', 'd'], labels)).toThrow(
      new ReplayError('d.csv: missing columns c, d (the model needs a, c, d; the file has a, b)'),
    );
  });
  it('skips rows with a blank or non-numeric feature, and fails when none is left', () => {
    const table = tableFromJson([{ x: 1 }, { x: null }, { x: 'n/a' }, { x: '2.5' }], 'd.json');
    expect(matchRows(table, ['x'], labels)).toEqual({ rows: [{ input: [1] }, { input: [2.5] }], labelColumn: null, skipped: 2 });
    expect(() => matchRows(tableFromJson([{ x: '' }], 'e.json'), ['x'], labels)).toThrow(/no row has a number for every feature/);
  });
  it('reads the holdout fixture format with its label field', () => {
    const table = tableFromJson({ features: ['a', 'b'], label: 'species', rows: [{ input: [1, 2], label: 'yes' }] }, 'f.json');
    expect(table.labelColumn).toBe('species');
    expect(matchRows(table, ['b', 'a'], labels).rows).toEqual([{ input: [2, 1], label: 'yes' }]);
  });
  it('takes an explicit label column, and says when it does not exist', () => {
    const table = tableFromCsv('x,truth\n1,yes\n', 'd.csv');
    expect(findLabelColumn(table, ['x'], labels, 'truth')).toBe('truth');
    expect(() => findLabelColumn(table, ['x'], labels, 'nope')).toThrow('--label: d.csv has no column "nope" (columns: x, truth)');
  });
});

describe('prepareInputs', () => {
  const standardized: FeatureSpec[] = [
    { name: 'a', mean: 0, std: 1, raw: { mean: 10, std: 2 } },
    { name: 'b', mean: 0, std: 1, raw: { mean: -5, std: 5 } },
  ];
  const rawModel: FeatureSpec[] = [
    { name: 'a', mean: 10, std: 2 },
    { name: 'b', mean: -5, std: 5 },
  ];
  const labels = ['p', 'q'];
  const rows = [
    { input: [12, 0], label: 'p' },
    { input: [8, -10], label: 'q' },
    { input: [10, 5], label: 'p' },
  ];

  it('standardizes with the raw scaler, as a correct client does', () => {
    expect(prepareInputs(rows, standardized, labels)).toEqual([
      [1, 1],
      [-1, -1],
      [0, 2],
    ]);
  });
  it('sends raw units unchanged to a model trained on raw units', () => {
    expect(prepareInputs(rows, rawModel, labels)).toEqual(rows.map((r) => r.input));
  });
  it('zero: every feature 0', () => {
    expect(prepareInputs(rows, standardized, labels, { kind: 'zero' })).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
  });
  it('unscale: skips the scaler; meaningless for a raw-units model', () => {
    expect(prepareInputs(rows, standardized, labels, { kind: 'unscale' })).toEqual(rows.map((r) => r.input));
    expect(() => prepareInputs(rows, rawModel, labels, { kind: 'unscale' })).toThrow(/takes raw units already/);
  });
  it('constant: every row is the first row (scaled)', () => {
    expect(prepareInputs(rows, standardized, labels, { kind: 'constant' })).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
  });
  it('--scaled: sends model-ready rows as given, and says so; unscale has nothing to skip then', () => {
    expect(prepareInputs(rows, standardized, labels, undefined, true)).toEqual(rows.map((r) => r.input));
    expect(() => prepareInputs(rows, standardized, labels, { kind: 'unscale' }, true)).toThrow(/--fault unscale with --scaled/);
    expect(describeScaling(true, true)).toBe('as given (--scaled: taken as model-ready, not scaled again)');
    expect(describeScaling(true, false)).toMatch(/^standardized \(taken as raw units and scaled with the model's training scaler; pass --scaled/);
    expect(describeScaling(false, false)).toBe('raw (the model takes raw units)');
  });
  it('drop-label: leaves out the rows of one true label', () => {
    expect(prepareInputs(rows, rawModel, labels, { kind: 'drop-label', label: 'p' })).toEqual([[8, -10]]);
    expect(() => prepareInputs(rows, rawModel, labels, { kind: 'drop-label', label: 'r' })).toThrow(
      '--fault drop-label=r: not a label of the model (labels: p, q)',
    );
    expect(() => prepareInputs([{ input: [1, 2] }], rawModel, labels, { kind: 'drop-label', label: 'p' })).toThrow(/no label column/);
  });
});

describe('parseFault', () => {
  it('reads the four faults and rejects others', () => {
    expect(parseFault('zero')).toEqual({ kind: 'zero' });
    expect(parseFault('drop-label=fog')).toEqual({ kind: 'drop-label', label: 'fog' });
    expect(() => parseFault('nan')).toThrow('--fault: unknown fault "nan" (expected zero | unscale | constant | drop-label=<label>)');
  });
});

describe('shuffledForever', () => {
  it('visits every row once per pass, in a seeded order', () => {
    const take = (seed: number, n: number) => {
      const it = shuffledForever([1, 2, 3, 4, 5], seed);
      return Array.from({ length: n }, () => it.next().value);
    };
    const ten = take(7, 10);
    expect([...ten.slice(0, 5)].sort()).toEqual([1, 2, 3, 4, 5]);
    expect([...ten.slice(5)].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(take(7, 10)).toEqual(ten);
    expect(take(8, 10)).not.toEqual(ten);
  });
});

describe('holdoutFixture', () => {
  it('maps a model to its dataset fixture, by training.dataset or by name prefix', async () => {
    const penguins = join(FIXTURES, 'penguins.json');
    expect(await holdoutFixture({ name: 'x', training: { dataset: 'vega-datasets/penguins.json' } }, FIXTURES)).toBe(penguins);
    expect(await holdoutFixture({ name: 'penguins-unscaled' }, FIXTURES)).toBe(penguins);
    expect(await holdoutFixture({ name: 'seattle-weather-unweighted' }, FIXTURES)).toBe(join(FIXTURES, 'seattle-weather.json'));
    await expect(holdoutFixture({ name: 'iris' }, FIXTURES)).rejects.toThrow(/no held-out rows for model "iris".*--data/);
  });
  it('reads the real fixtures as tables with their label column', async () => {
    const table = await readTable(join(FIXTURES, 'seattle-weather.json'));
    const m = matchRows(table, ['wind', 'precipitation'], ['drizzle', 'fog', 'rain', 'snow', 'sun']);
    expect(m.labelColumn).toBe('weather');
    expect(m.rows.length).toBe(292);
  });
  it('says which file cannot be read or parsed', async () => {
    const dir = await testTempDir('replay-data');
    await writeFile(join(dir, 'bad.json'), '[{"a": 1},');
    await expect(readTable(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: malformed JSON/);
    await expect(readTable(join(dir, 'missing.csv'))).rejects.toThrow(/missing\.csv: cannot read \(ENOENT\)/);
  });
});

describe('rows as arrays in feature order', () => {
  const labels = ['p', 'q'];
  it('are named by the model\'s features, in its order', () => {
    const table = tableFromJson([[1, 2], [3, '4'], [5, null]], 'rows.json');
    expect(table.positional).toBe(true);
    expect(matchRows(table, ['a', 'b'], labels)).toEqual({ rows: [{ input: [1, 2] }, { input: [3, 4] }], labelColumn: null, skipped: 1 });
  });
  it('must be as wide as the model\'s features, all of them', () => {
    expect(() => matchRows(tableFromJson([[1, 2, 3]], 'rows.json'), ['a', 'b'], labels)).toThrow(
      'rows.json: rows of 3 values, but the model takes 2 features in this order: a, b',
    );
    expect(() => tableFromJson([[1, 2], [3]], 'rows.json')).toThrow('rows.json: [1]: 1 values, but [0] has 2');
    expect(() => tableFromJson([[1, 2], { a: 1 }], 'rows.json')).toThrow('rows.json: [1]: expected an array like [0] (rows in feature order), got an object');
  });
});
