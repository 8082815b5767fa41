// The request side's in-place tally (monitor/window.ts): what it adds up must be what summarizeBatch and mergeCounts
// say, for one batch and for many, with any label or feature name.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/lib/random';
import { addToTally, emptyCounts, mergeCounts, newTally, summarizeBatch, tallyCounts } from '../../src/monitor/window';

const labels = ['constructor', '__proto__', 'toString'];
const features = ['valueOf', 'hasOwnProperty', 'x'];
const rng = seededRandom(13);

/** n rows (some all zero, some with exact zeros) and softmax-like probabilities (some ties). */
function batch(n: number) {
  const rows = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? [0, 0, 0] : features.map((_, j) => (j === i % 3 ? 0 : rng() * 10 - 5))));
  const probabilities = Array.from({ length: n }, (_, i) => {
    if (i % 7 === 0) return Float32Array.from([0.5, 0.5, 0]);
    const raw = labels.map(() => rng());
    const sum = raw.reduce((a, b) => a + b, 0);
    return Float32Array.from(raw.map((x) => x / sum));
  });
  return { rows, probabilities };
}

describe('tally', () => {
  it('one batch: exactly what summarizeBatch says, records without a prototype', () => {
    const { rows, probabilities } = batch(40);
    const t = newTally(labels.length, features.length);
    addToTally(t, rows, probabilities);
    const counts = tallyCounts(t, labels, features);
    expect(counts).toEqual(summarizeBatch(rows, probabilities, labels, features));
    expect(Object.getPrototypeOf(counts.labelCounts)).toBeNull();
    expect(Object.getPrototypeOf(counts.features)).toBeNull();
    expect(Object.keys(counts.labelCounts).sort()).toEqual([...labels].sort());
  });

  it('many batches: what mergeCounts of their summaries says (sums to rounding)', () => {
    const t = newTally(labels.length, features.length);
    let merged = emptyCounts();
    for (const n of [1, 3, 17, 1, 250]) {
      const { rows, probabilities } = batch(n);
      addToTally(t, rows, probabilities);
      merged = mergeCounts(merged, summarizeBatch(rows, probabilities, labels, features));
    }
    const counts = tallyCounts(t, labels, features);
    expect(counts.n).toBe(272);
    expect(counts.n).toBe(merged.n);
    expect(counts.zeroRows).toBe(merged.zeroRows);
    expect({ ...counts.labelCounts }).toEqual({ ...merged.labelCounts });
    expect(counts.sumConfidence).toBeCloseTo(merged.sumConfidence, 9);
    expect(counts.sumEntropy).toBeCloseTo(merged.sumEntropy, 9);
    for (const f of features) {
      const [a, b] = [counts.features[f], merged.features[f]];
      expect([a.count, a.min, a.max, a.zeros]).toEqual([b.count, b.min, b.max, b.zeros]);
      expect(a.sum).toBeCloseTo(b.sum, 9);
      expect(a.sumSq).toBeCloseTo(b.sumSq, 9);
    }
  });

  it('a batch added at once is the same to the bit as its rows added one by one, onto a tally already holding some', () => {
    const [whole, byRow] = [newTally(labels.length, features.length), newTally(labels.length, features.length)];
    const first = batch(9);
    addToTally(whole, first.rows, first.probabilities);
    addToTally(byRow, first.rows, first.probabilities);
    const { rows, probabilities } = batch(300);
    addToTally(whole, rows, probabilities);
    rows.forEach((row, i) => addToTally(byRow, [row], [probabilities[i]!]));
    expect(whole).toEqual(byRow);
    expect(whole.n).toBe(309);
  });

  it('an empty tally is empty counts: no labels, no features', () => {
    expect(tallyCounts(newTally(3, 3), labels, features)).toEqual(emptyCounts());
  });
});
