// Labels and features named after JavaScript's own properties count like any other name in the pure core: a batch
// summary, a merge, the JSON an aggregator stores, the detector and the remedies. Expected values are counted by hand
// from the rows below. No object literal here has a `__proto__` key: in a literal it would set the prototype.
import { describe, expect, it } from 'vitest';
import { balancedClassWeights, evaluateWindow, mergeCounts, parseCounts, plainCounts, summarizeBatch } from '../../src/monitor';
import { nameRecord, own } from '../../src/monitor/names';
import type { ModelMetadata } from '../../src/serving/metadata';

const NAMES = ['constructor', '__proto__', 'toString', 'valueOf'];
const entries = (record: Record<string, unknown>) => Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1));
const oneHot = (i: number) => NAMES.map((_, j) => (j === i ? 0.97 : 0.01));

describe('nameRecord / own', () => {
  it('keeps every name as an own key and reads nothing inherited', () => {
    const r = nameRecord<number>();
    for (const name of NAMES) r[name] = (own(r, name) ?? 0) + 1;
    expect(Object.getPrototypeOf(r)).toBeNull();
    expect(entries(r)).toEqual([['__proto__', 1], ['constructor', 1], ['toString', 1], ['valueOf', 1]]);
    expect(own(nameRecord<number>(), 'constructor')).toBeUndefined();
    // A plain object parsed from JSON has `__proto__` as an own key; the copy keeps it.
    expect(entries(nameRecord(JSON.parse('{"__proto__": 2, "hasOwnProperty": 3}') as Record<string, number>))).toEqual([
      ['__proto__', 2],
      ['hasOwnProperty', 3],
    ]);
  });
});

describe('window counts with hostile names', () => {
  // Rows: label i answered (1 + i) times; feature j is the row's label index == j (1) or not (0).
  const rows: number[][] = [];
  const probabilities: number[][] = [];
  NAMES.forEach((_, i) => {
    for (let k = 0; k <= i; k++) {
      rows.push(NAMES.map((__, j) => (j === i ? 1 : 0)));
      probabilities.push(oneHot(i));
    }
  });

  it('summarizeBatch counts every label and feature', () => {
    const s = summarizeBatch(rows, probabilities, NAMES, NAMES);
    expect(s.n).toBe(10);
    expect(entries(s.labelCounts)).toEqual([['__proto__', 2], ['constructor', 1], ['toString', 3], ['valueOf', 4]]);
    expect(Object.keys(s.features).sort()).toEqual([...NAMES].sort());
    expect(own(s.features, '__proto__')).toMatchObject({ count: 10, sum: 2, sumSq: 2, min: 0, max: 1, zeros: 8 });
  });

  it('mergeCounts adds, and survives the JSON an aggregator stores and the plain copy an RPC carries', () => {
    const s = summarizeBatch(rows, probabilities, NAMES, NAMES);
    const viaJson = parseCounts(JSON.stringify(plainCounts(s)));
    const merged = mergeCounts(viaJson, plainCounts(s));
    expect(merged.n).toBe(20);
    expect(entries(merged.labelCounts)).toEqual([['__proto__', 4], ['constructor', 2], ['toString', 6], ['valueOf', 8]]);
    expect(own(merged.features, 'constructor')).toMatchObject({ count: 20, sum: 2, zeros: 18 });
    expect(Object.getPrototypeOf(merged.labelCounts)).toBeNull();
    expect(Object.getPrototypeOf(plainCounts(s).labelCounts)).toBe(Object.prototype);
  });

  it('the detector judges the counts (no "0[object Object]0")', () => {
    const training = nameRecord(NAMES.map((n) => [n, 100] as const));
    const metadata = {
      name: 'js-names',
      version: '1',
      labels: NAMES,
      features: NAMES.map((name) => ({ name, mean: 0.25, std: 0.433 })),
      training: { samples: 400, label_counts: training },
      probes: [],
    } satisfies ModelMetadata;
    const collapsed = mergeCounts(summarizeBatch([], [], NAMES, NAMES), {
      ...summarizeBatch(rows, probabilities, NAMES, NAMES),
      n: 200,
      labelCounts: nameRecord([['__proto__', 200]]),
    });
    const e = evaluateWindow(collapsed, metadata);
    expect(e.n).toBe(200);
    expect(e.verdict).toBe('collapsed');
    expect(e.statistics.perLabel.map((l) => [l.label, l.count])).toEqual([
      ['constructor', 0],
      ['__proto__', 200],
      ['toString', 0],
      ['valueOf', 0],
    ]);
  });

  it('balancedClassWeights weighs every label', () => {
    const weights = balancedClassWeights(nameRecord(NAMES.map((n, i) => [n, 10 * (i + 1)] as const)), NAMES);
    // n / (k · count): 100 / (4 · 10) = 2.5, 100 / 80 = 1.25, 100 / 120 = 0.8333, 100 / 160 = 0.625.
    expect(entries(weights)).toEqual([['__proto__', 1.25], ['constructor', 2.5], ['toString', 0.8333], ['valueOf', 0.625]]);
  });
});
