// Exact binomial tail probabilities: "how surprising is this label's count, if the window followed the reference?"
// Exact rather than a normal approximation, because the interesting labels are the rare ones with a handful of
// expected predictions, exactly where the normal approximation is worst.

import { logGamma } from './gamma';

function checkBinomial(x: number, n: number, p: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`binomial n must be an integer >= 0, got ${n}`);
  if (!Number.isInteger(x)) throw new RangeError(`binomial count must be an integer, got ${x}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`binomial p must be in [0, 1], got ${p}`);
}

/** ln P[X = k] for X ~ Bin(n, p), 0 < p < 1, 0 ≤ k ≤ n; in log space so that n in the millions cannot overflow. */
export function logBinomialPmf(k: number, n: number, p: number): number {
  return (
    logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) + k * Math.log(p) + (n - k) * Math.log1p(-p)
  );
}

// Relative size below which further terms cannot change a double.
const NEGLIGIBLE = 1e-17;

/**
 * Σ P[X = j] from j = start stepping by `step` (−1 or +1) away from the centre of the distribution. Terms shrink
 * monotonically there (start must lie on the tail side of the mean), so the sum stops once they stop mattering:
 * O(a few standard deviations) terms instead of O(n).
 */
function tailSum(start: number, n: number, p: number, step: -1 | 1): number {
  let term = Math.exp(logBinomialPmf(start, n, p));
  let sum = term;
  const q = 1 - p;
  for (let j = start; term > sum * NEGLIGIBLE; ) {
    // Ratio of neighbouring probabilities: P[j−1]/P[j] = j·q / ((n−j+1)·p), P[j+1]/P[j] = (n−j)·p / ((j+1)·q).
    if (step === -1) {
      if (j === 0) break;
      term *= (j * q) / ((n - j + 1) * p);
      j--;
    } else {
      if (j === n) break;
      term *= ((n - j) * p) / ((j + 1) * q);
      j++;
    }
    sum += term;
  }
  return Math.min(1, sum);
}

/**
 * Lower tail P[X ≤ x] for X ~ Bin(n, p): the p-value of "this label came up too rarely".
 * Domain: integer n ≥ 0, integer x (x < 0 gives 0, x ≥ n gives 1), p in [0, 1].
 * @throws RangeError on a non-integer n or x, or p outside [0, 1].
 */
export function binomialLowerTail(x: number, n: number, p: number): number {
  checkBinomial(x, n, p);
  if (x < 0) return 0;
  if (x >= n) return 1;
  if (p === 0) return 1;
  if (p === 1) return 0;
  // Sum the short side: the tail itself when x is below the mean, else one minus the opposite tail.
  return x <= n * p ? tailSum(x, n, p, -1) : 1 - tailSum(x + 1, n, p, 1);
}

/**
 * Upper tail P[X ≥ x] for X ~ Bin(n, p): the p-value of "this label came up too often".
 * Domain: integer n ≥ 0, integer x (x ≤ 0 gives 1, x > n gives 0), p in [0, 1].
 * @throws RangeError on a non-integer n or x, or p outside [0, 1].
 */
export function binomialUpperTail(x: number, n: number, p: number): number {
  checkBinomial(x, n, p);
  if (x <= 0) return 1;
  if (x > n) return 0;
  if (p === 0) return 0;
  if (p === 1) return 1;
  return x >= n * p ? tailSum(x, n, p, 1) : 1 - tailSum(x - 1, n, p, -1);
}
