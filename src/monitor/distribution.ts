// Statistics of one window's label distribution against a reference distribution.
// Counts and shares are plain arrays in label order; the detector keeps the label names.

import { chiSquareSurvival } from './gamma';

/**
 * Shares of a count vector: counts[i] / Σ counts.
 * @throws RangeError when a count is negative or not finite, or when the total is 0 (shares of nothing are undefined).
 */
export function proportions(counts: readonly number[]): number[] {
  let total = 0;
  for (const c of counts) {
    if (!(c >= 0) || !Number.isFinite(c)) throw new RangeError(`counts must be finite and >= 0, got ${c}`);
    total += c;
  }
  if (total === 0) throw new RangeError('proportions of an all-zero count vector are undefined');
  return counts.map((c) => c / total);
}

/**
 * Normalised Shannon entropy H(p) / ln k of a distribution over k ≥ 2 outcomes, in [0, 1]:
 * 1 for uniform, 0 when one outcome takes everything. `p` may be counts; it is normalised first.
 * @throws RangeError when k < 2, or as proportions().
 */
export function normalizedEntropy(p: readonly number[]): number {
  if (p.length < 2) throw new RangeError(`normalised entropy needs at least 2 outcomes, got ${p.length}`);
  let h = 0;
  for (const x of proportions(p)) if (x > 0) h -= x * Math.log(x);
  return h / Math.log(p.length);
}

/**
 * Jensen–Shannon distance in base 2, √JSD(p‖q) with JSD = ½KL(p‖m) + ½KL(q‖m), m = ½(p + q): the same number as
 * scipy.spatial.distance.jensenshannon(p, q, base=2). Symmetric, in [0, 1], defined even when shares are 0.
 * Both inputs are normalised first, so counts are fine.
 * @throws RangeError when the lengths differ, or as proportions().
 */
export function jensenShannonDistance(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new RangeError(`distributions differ in length: ${p.length} vs ${q.length}`);
  const a = proportions(p);
  const b = proportions(q);
  let divergence = 0;
  for (let i = 0; i < a.length; i++) {
    // Same length, checked above.
    const ai = a[i]!;
    const bi = b[i]!;
    const m = (ai + bi) / 2;
    if (ai > 0) divergence += 0.5 * ai * Math.log2(ai / m);
    if (bi > 0) divergence += 0.5 * bi * Math.log2(bi / m);
  }
  // Rounding can leave a tiny negative divergence for identical inputs.
  return Math.sqrt(Math.max(0, divergence));
}

/** A goodness-of-fit test result: the statistic, its degrees of freedom and the chi-square p-value. */
export interface FitTest {
  statistic: number;
  df: number;
  pValue: number;
}

function expectedCounts(observed: readonly number[], expectedShares: readonly number[]): number[] {
  if (observed.length !== expectedShares.length)
    throw new RangeError(`observed and expected differ in length: ${observed.length} vs ${expectedShares.length}`);
  if (observed.length < 2) throw new RangeError('a goodness-of-fit test needs at least 2 categories');
  for (const s of expectedShares)
    if (!(s > 0)) throw new RangeError(`expected shares must be > 0 (smooth the reference first), got ${s}`);
  const total = observed.reduce((s, x) => s + x, 0);
  if (!(total > 0)) throw new RangeError('a goodness-of-fit test needs at least one observation');
  const shares = proportions(expectedShares);
  return shares.map((s) => s * total);
}

/**
 * Pearson's chi-square goodness-of-fit test of observed counts against expected shares (normalised to the observed
 * total), df = k − 1: scipy.stats.chisquare(observed, f_exp). The chi-square approximation is poor when expected
 * counts are below about 5; the detector therefore only reports it and decides with exact binomial tails.
 * @throws RangeError when lengths differ, k < 2, an expected share is not > 0, or nothing was observed.
 */
export function chiSquareTest(
  observed: readonly number[],
  expectedShares: readonly number[],
): FitTest {
  const expected = expectedCounts(observed, expectedShares);
  let statistic = 0;
  for (let i = 0; i < observed.length; i++) statistic += (observed[i]! - expected[i]!) ** 2 / expected[i]!;
  const df = observed.length - 1;
  return { statistic, df, pValue: chiSquareSurvival(statistic, df) };
}

/**
 * G-test (log-likelihood ratio) of observed counts against expected shares, G = 2 Σ o·ln(o/e), df = k − 1:
 * scipy.stats.power_divergence(observed, f_exp, lambda_="log-likelihood"). Categories observed 0 times add 0.
 * @throws RangeError as chiSquareTest().
 */
export function gTest(
  observed: readonly number[],
  expectedShares: readonly number[],
): FitTest {
  const expected = expectedCounts(observed, expectedShares);
  let statistic = 0;
  for (let i = 0; i < observed.length; i++) {
    const o = observed[i]!;
    if (o > 0) statistic += 2 * o * Math.log(o / expected[i]!);
  }
  // G ≥ 0 mathematically; rounding can leave −1e-15 when observed equals expected.
  statistic = Math.max(0, statistic);
  const df = observed.length - 1;
  return { statistic, df, pValue: chiSquareSurvival(statistic, df) };
}
