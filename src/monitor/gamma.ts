// The gamma function family the chi-square tail needs: log-gamma and the regularized incomplete gamma functions.
// Written out here (rather than imported) because the monitor core is dependency-free plain arithmetic.

// Lanczos approximation, g = 7, 9 coefficients (the set popularised by Numerical Recipes 3rd ed. and Boost):
// relative error about 1e-15 for x > 0, which is ample for tail probabilities.
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/**
 * Natural logarithm of the gamma function, ln Γ(x), for x > 0.
 * Exact at the integers up to rounding: logGamma(n + 1) = ln n!.
 * @throws RangeError when x is not a positive finite number.
 */
export function logGamma(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  // Reflection keeps the series in its accurate range: Γ(x)Γ(1−x) = π / sin(πx).
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPSILON = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 100_000;

/** ln(e^{−x} x^a / Γ(a)): the common prefactor of both expansions below. */
const logPrefactor = (a: number, x: number) => -x + a * Math.log(x) - logGamma(a);

/** Series for P(a, x), convergent everywhere but fast only for x < a + 1 (Numerical Recipes §6.2, gser). */
function lowerSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITERATIONS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPSILON) break;
  }
  return sum * Math.exp(logPrefactor(a, x));
}

/** Continued fraction for Q(a, x), fast for x ≥ a + 1 (Numerical Recipes §6.2, gcf, modified Lentz). */
function upperContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return h * Math.exp(logPrefactor(a, x));
}

function checkGammaArguments(a: number, x: number): void {
  if (!(a > 0) || !Number.isFinite(a)) throw new RangeError(`incomplete gamma needs a > 0, got ${a}`);
  if (!(x >= 0) || Number.isNaN(x)) throw new RangeError(`incomplete gamma needs x >= 0, got ${x}`);
}

/**
 * Regularized lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a), for a > 0 and x ≥ 0.
 * It is the CDF of a Gamma(a, 1) variable; P(a, 0) = 0, P(a, ∞) = 1.
 * @throws RangeError on a ≤ 0 or x < 0.
 */
export function regularizedGammaP(a: number, x: number): number {
  checkGammaArguments(a, x);
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  return x < a + 1 ? lowerSeries(a, x) : 1 - upperContinuedFraction(a, x);
}

/**
 * Regularized upper incomplete gamma function Q(a, x) = 1 − P(a, x), computed directly in the upper tail so that
 * tiny tail probabilities keep their relative precision (1 − P would round them to 0).
 * @throws RangeError on a ≤ 0 or x < 0.
 */
export function regularizedGammaQ(a: number, x: number): number {
  checkGammaArguments(a, x);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - lowerSeries(a, x) : upperContinuedFraction(a, x);
}

/**
 * Survival function of the chi-square distribution, P[X ≥ x] for X ~ χ²(df): the p-value of a chi-square or
 * G statistic. Equals Q(df/2, x/2). Returns 1 for x ≤ 0.
 * @throws RangeError when df is not positive.
 */
export function chiSquareSurvival(x: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`chi-square needs df > 0, got ${df}`);
  if (Number.isNaN(x)) throw new RangeError('chi-square statistic is NaN');
  if (x <= 0) return 1;
  return regularizedGammaQ(df / 2, x / 2);
}
