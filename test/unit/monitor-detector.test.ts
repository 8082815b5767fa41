import { describe, expect, it } from 'vitest';
import {
  collapseDetectableAt,
  DEFAULT_ALPHA,
  DEFAULT_MIN_PREDICTIONS,
  evaluateWindow,
  monitorConfig,
} from '../../src/monitor/detector';
import { referenceDistribution, smoothedShares } from '../../src/monitor/reference';
import { labelWindow, modelWith, penguins, seattleUnweighted } from './monitor.fixtures';

const balanced = modelWith({ a: 100, b: 100, c: 100 });
const skewed = modelWith({ major: 900, minor: 100 });

describe('reference distribution', () => {
  it('smooths with add-half pseudo counts so no share is 0', () => {
    // (0 + ½) / (2 + 1), (2 + ½) / (2 + 1)
    expect(smoothedShares([0, 2])).toEqual([0.5 / 3, 2.5 / 3]);
  });
  it('is the smoothed training distribution when there are no recent windows', () => {
    const ref = referenceDistribution(['a', 'b'], { a: 30, b: 10 });
    expect(ref.shares).toEqual([30.5 / 41, 10.5 / 41]);
    expect(ref.recentWeight).toBe(0);
    expect(ref.recentDrift).toBeNull();
  });
  it('blends recent healthy windows with weight m / (m + N), capped at one half', () => {
    const few = referenceDistribution(['a', 'b'], { a: 50, b: 50 }, [{ labelCounts: { a: 55, b: 45 } }]);
    expect(few.recentWeight).toBeCloseTo(100 / 200, 12); // m = 100, N = 100
    const many = referenceDistribution(['a', 'b'], { a: 50, b: 50 }, [
      { labelCounts: { a: 550, b: 450 } },
      { labelCounts: { a: 560, b: 440 } },
    ]);
    expect(many.recentWeight).toBe(0.5);
    // ½·(50.5/101) + ½·(1110.5/2001)
    expect(many.shares[0]).toBeCloseTo(0.5 * (50.5 / 101) + 0.5 * (1110.5 / 2001), 12);
  });
  it('refuses to learn recent windows that drifted far from training', () => {
    const ref = referenceDistribution(['a', 'b'], { a: 50, b: 50 }, [{ labelCounts: { a: 950, b: 50 } }]);
    expect(ref.recentDrift).toBeGreaterThan(0.1);
    expect(ref.recentWeight).toBe(0);
    expect(ref.shares).toEqual([0.5, 0.5]);
  });
});

describe('collapseDetectableAt', () => {
  it('is the first n with p^n ≤ alpha per test', () => {
    // By hand: ln(0.001/6) / ln(0.85) = 53.5 → 54.
    const n = collapseDetectableAt(0.85, 0.001 / 6);
    expect(n).toBe(54);
    expect(0.85 ** n).toBeLessThanOrEqual(0.001 / 6);
    expect(0.85 ** (n - 1)).toBeGreaterThan(0.001 / 6);
    expect(collapseDetectableAt(0.5, 0.25)).toBe(2); // exactly at the boundary: 0.5² = 0.25
  });
});

describe('monitorConfig', () => {
  it('takes the model override over the deployment default over the built-in default', () => {
    expect(monitorConfig({})).toEqual({ alpha: DEFAULT_ALPHA, minPredictions: DEFAULT_MIN_PREDICTIONS });
    expect(monitorConfig({}, { alpha: 0.01 }).alpha).toBe(0.01);
    expect(monitorConfig({ monitor: { alpha: 0.0001, min_predictions: 100 } }, { alpha: 0.01, minPredictions: 10 })).toEqual({
      alpha: 0.0001,
      minPredictions: 100,
    });
  });
  it('refuses an alpha outside (0, 1)', () => {
    expect(() => monitorConfig({}, { alpha: 0 })).toThrow(RangeError);
  });
});

describe('evaluateWindow verdicts', () => {
  it('healthy: a balanced model answering about a third each', () => {
    const e = evaluateWindow(labelWindow({ a: 36, b: 31, c: 33 }), balanced);
    expect(e.verdict).toBe('healthy');
    expect(e.vanishedLabels).toEqual([]);
    expect(e.dominantLabel).toBeUndefined();
    expect(e.statistics.normalizedEntropy).toBeGreaterThan(0.99);
  });

  it('healthy: a model whose normal output is skewed 0.9/0.1 seen at 0.93', () => {
    const e = evaluateWindow(labelWindow({ major: 930, minor: 70 }), skewed);
    expect(e.statistics.perLabel[0].pHigh).toBeLessThan(0.001); // significant…
    expect(e.verdict).toBe('healthy'); // …but not far beyond what the reference allows
  });

  it('collapsed: the same skewed model at 0.99 (the minority kept a tenth of its share)', () => {
    const e = evaluateWindow(labelWindow({ major: 990, minor: 10 }), skewed);
    expect(e.verdict).toBe('collapsed');
    expect(e.dominantLabel).toBe('major');
  });

  it('the effect gates: "far" means the rest, or a label, kept less than a quarter of its reference share', () => {
    // Balanced: collapsed needs a top share above 1 − ¼·⅔ = 83.3%; both windows are wildly significant.
    expect(evaluateWindow(labelWindow({ a: 800, b: 100, c: 100 }), balanced).verdict).toBe('healthy');
    expect(evaluateWindow(labelWindow({ a: 850, b: 75, c: 75 }), balanced).verdict).toBe('collapsed');
    // A label at 30% of its reference share is a drift, at 20% it has vanished.
    expect(evaluateWindow(labelWindow({ a: 450, b: 450, c: 100 }), balanced).verdict).toBe('healthy');
    const vanished = evaluateWindow(labelWindow({ a: 467, b: 467, c: 66 }), balanced);
    expect(vanished.verdict).toBe('partial_collapse');
    expect(vanished.vanishedLabels).toEqual(['c']);
  });

  it('collapsed: every penguin called Adelie', () => {
    const e = evaluateWindow(labelWindow({ Adelie: 85 }), penguins);
    expect(e.verdict).toBe('collapsed');
    expect(e.dominantLabel).toBe('Adelie');
    expect(e.statistics.topShare).toBe(1);
    expect(e.statistics.normalizedEntropy).toBe(0);
    // P[X ≥ 85] = (113.5/257.5)^85 with the smoothed reference share of Adelie.
    expect(e.statistics.perLabel[0].pHigh).toBeCloseTo((113.5 / 257.5) ** 85, 40);
    expect(e.reason).toMatch(/^Adelie took 100% of 85 predictions/);
  });

  it('healthy: held-out penguins in their natural proportions', () => {
    expect(evaluateWindow(labelWindow({ Adelie: 38, Chinstrap: 17, Gentoo: 31 }), penguins).verdict).toBe('healthy');
  });

  it('partial_collapse: seattle weather never answering fog or drizzle', () => {
    const e = evaluateWindow(labelWindow({ rain: 150, sun: 140, snow: 2 }), seattleUnweighted);
    expect(e.verdict).toBe('partial_collapse');
    expect(e.vanishedLabels).toEqual(['fog', 'drizzle']); // most surprising first
    expect(e.dominantLabel).toBeUndefined();
    const drizzle = e.statistics.perLabel.find((s) => s.label === 'drizzle')!;
    // P[X = 0] = (1 − 42.5/1171.5)^292
    expect(drizzle.pLow).toBeCloseTo((1 - 42.5 / 1171.5) ** 292, 12);
    expect(e.reason).toContain('fog and drizzle');
  });

  it('healthy: seattle weather with every label present in about its share', () => {
    const e = evaluateWindow(labelWindow({ drizzle: 9, fog: 21, rain: 128, snow: 5, sun: 129 }), seattleUnweighted);
    expect(e.verdict).toBe('healthy');
  });

  it('does not call a rare label (reference share < 1%) vanished, however large the window', () => {
    const rare = modelWith({ a: 600, b: 396, c: 4 }); // c: 0.45%
    const e = evaluateWindow(labelWindow({ a: 6000, b: 4000, c: 0 }), rare);
    expect(e.statistics.perLabel[2].pLow).toBeLessThan(1e-15); // significant…
    expect(e.verdict).toBe('healthy'); // …but rare
  });

  it('does not call a 5% label vanished from a window too small to tell', () => {
    // Expected 5 of 100: P[X = 0] = 0.95^100 ≈ 0.006, not below alpha.
    const e = evaluateWindow(labelWindow({ a: 850, b: 150, c: 0 }), modelWith({ a: 850, b: 100, c: 50 }));
    expect(e.verdict).toBe('partial_collapse'); // 1000 predictions: c is truly gone
    const small = evaluateWindow(labelWindow({ a: 86, b: 14, c: 0 }), modelWith({ a: 850, b: 100, c: 50 }));
    expect(small.verdict).toBe('healthy');
  });

  it('insufficient_data: five predictions', () => {
    const e = evaluateWindow(labelWindow({ Adelie: 5 }), penguins);
    expect(e.verdict).toBe('insufficient_data');
    expect(e.requiredPredictions).toBe(DEFAULT_MIN_PREDICTIONS);
    expect(e.vanishedLabels).toEqual([]);
    expect(e.reason).toMatch(/^Only 5 predictions; the minimum is 30/);
  });

  it('insufficient_data: enough for the minimum, too few to tell a collapse of a 0.9/0.1 model from chance', () => {
    const e = evaluateWindow(labelWindow({ major: 60 }), skewed);
    // Holm's first threshold is alpha / (2k) = 0.001 / 4; 0.9^n ≤ 0.00025 first at n = 79 (smoothed share 900.5/1001).
    expect(e.requiredPredictions).toBe(collapseDetectableAt(900.5 / 1001, 0.001 / 4));
    expect(e.requiredPredictions).toBeGreaterThan(70);
    expect(e.verdict).toBe('insufficient_data');
    expect(e.reason).toContain('total collapse onto major');
  });

  it('no_traffic: an empty window, still JSON-safe', () => {
    const e = evaluateWindow(labelWindow({}), penguins);
    expect(e.verdict).toBe('no_traffic');
    expect(e.n).toBe(0);
    expect(e.statistics.topShare).toBeNull();
    expect(e.statistics.chiSquare).toBeNull();
    expect(e.statistics.perLabel.map((s) => s.share)).toEqual([null, null, null]);
    expect(JSON.parse(JSON.stringify(e))).toEqual(e);
  });

  it('every verdict is JSON-safe (no Infinity or NaN)', () => {
    const windows: Record<string, number>[] = [{ Adelie: 85 }, { Adelie: 3 }, { Adelie: 40, Chinstrap: 20, Gentoo: 30 }];
    for (const counts of windows) {
      const e = evaluateWindow(labelWindow(counts), penguins);
      expect(JSON.parse(JSON.stringify(e))).toEqual(e);
    }
  });

  it('honours a per-model alpha and minimum', () => {
    const strict = { ...penguins, monitor: { alpha: 1e-40, min_predictions: 10 } };
    // 85 Adelie has p ≈ 1e-31: not below 1e-40 / 6.
    expect(evaluateWindow(labelWindow({ Adelie: 85 }), strict).verdict).toBe('insufficient_data');
    expect(evaluateWindow(labelWindow({ Adelie: 85 }), strict).alpha).toBe(1e-40);
    const lenient = { ...penguins, monitor: { min_predictions: 10 } };
    expect(evaluateWindow(labelWindow({ Adelie: 12 }), lenient).verdict).toBe('collapsed');
  });

  it('ignores labels the model does not have', () => {
    const e = evaluateWindow(labelWindow({ Adelie: 38, Chinstrap: 17, Gentoo: 31, Emperor: 500 }), penguins);
    expect(e.n).toBe(86);
    expect(e.verdict).toBe('healthy');
  });

  it('learns from recent healthy windows, within bounds', () => {
    // Production sends fewer Chinstrap than training had; after a few healthy windows that is the norm.
    const window = labelWindow({ Adelie: 500, Chinstrap: 150, Gentoo: 350 });
    const recent = Array.from({ length: 4 }, () => ({ labelCounts: { Adelie: 120, Chinstrap: 30, Gentoo: 90 } }));
    const e = evaluateWindow(window, penguins, { recentHealthy: recent });
    expect(e.reference.recentWeight).toBe(0.5);
    const chinstrap = e.statistics.perLabel[1];
    expect(chinstrap.referenceShare).toBeLessThan(51.5 / 257.5);
    expect(chinstrap.referenceShare).toBeGreaterThan(0.5 * (51.5 / 257.5));
  });
});
