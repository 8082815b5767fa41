// The monitor's statistics against values computed independently: closed forms, hand calculations, and scipy 1.17.1
// (the call that produced each number is in the comment next to it).
import { describe, expect, it } from 'vitest';
import { binomialLowerTail, binomialUpperTail } from '../../src/monitor/binomial';
import {
  chiSquareTest,
  gTest,
  jensenShannonDistance,
  normalizedEntropy,
  proportions,
} from '../../src/monitor/distribution';
import { chiSquareSurvival, logGamma, regularizedGammaP, regularizedGammaQ } from '../../src/monitor/gamma';

/** |actual − expected| ≤ rel · |expected|: tail probabilities are compared in relative terms. */
const close = (actual: number, expected: number, rel = 1e-9) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));

describe('logGamma', () => {
  it('is ln((n−1)!) at the integers', () => {
    expect(Math.abs(logGamma(1))).toBeLessThan(1e-14); // ln 0! = 0
    close(logGamma(10), Math.log(362880), 1e-14);
    close(logGamma(21), Math.log(2432902008176640000), 1e-14);
  });
  it('matches ln √π at ½ and scipy elsewhere', () => {
    close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14);
    close(logGamma(1e-3), 6.907178885383853, 1e-13); // scipy.special.gammaln(1e-3)
    close(logGamma(100), 359.1342053695754, 1e-14); // gammaln(100)
    close(logGamma(1000.5), 5908.674175848678, 1e-14); // gammaln(1000.5)
    close(logGamma(10000.5), 82104.32265412837, 1e-14); // gammaln(10000.5)
  });
  it('rejects x ≤ 0', () => {
    expect(() => logGamma(0)).toThrow(RangeError);
    expect(() => logGamma(-1)).toThrow(RangeError);
  });
});

describe('regularized incomplete gamma', () => {
  it('P(1, x) = 1 − e^−x and Q(½, x) = erfc(√x)', () => {
    for (const x of [0.1, 1, 5, 30]) close(regularizedGammaP(1, x), -Math.expm1(-x), 1e-13);
    close(regularizedGammaQ(0.5, 2), 0.04550026389635857, 1e-12); // erfc(√2) = scipy.special.gammaincc(0.5, 2)
  });
  it('matches scipy on both the series and the continued-fraction side', () => {
    // scipy.special.gammainc(a, x) / gammaincc(a, x)
    close(regularizedGammaP(3, 1.5), 0.19115316946194183, 1e-12);
    close(regularizedGammaP(2.5, 0.1), 0.0008861387888124438, 1e-12);
    close(regularizedGammaQ(10, 20), 0.0049954123083075785, 1e-12);
    close(regularizedGammaP(100, 80), 0.0171083130351331, 1e-11);
    close(regularizedGammaQ(1000, 1100), 0.0010593232539299773, 1e-10);
  });
  it('P + Q = 1, and the edges x = 0 and ∞', () => {
    close(regularizedGammaP(7, 6.5) + regularizedGammaQ(7, 6.5), 1, 1e-14);
    expect(regularizedGammaP(2, 0)).toBe(0);
    expect(regularizedGammaQ(2, 0)).toBe(1);
    expect(regularizedGammaQ(2, Infinity)).toBe(0);
  });
  it('rejects a ≤ 0 and x < 0', () => {
    expect(() => regularizedGammaP(0, 1)).toThrow(RangeError);
    expect(() => regularizedGammaQ(1, -1)).toThrow(RangeError);
  });
});

describe('chiSquareSurvival', () => {
  it('gives the textbook critical values their tail', () => {
    close(chiSquareSurvival(3.841458820694124, 1), 0.05, 1e-12); // scipy.stats.chi2.isf(0.05, 1)
    close(chiSquareSurvival(10.827566170662733, 1), 0.001, 1e-12); // chi2.isf(0.001, 1)
  });
  it('is e^(−x/2) for df = 2, keeping tiny tails', () => {
    close(chiSquareSurvival(7, 2), Math.exp(-3.5), 1e-13);
    close(chiSquareSurvival(300, 2), Math.exp(-150), 1e-11); // 7e-66: 1 − P would have rounded to 0
  });
  it('matches scipy for larger df', () => {
    close(chiSquareSurvival(200, 100), 1.1784500720979781e-8, 1e-10); // chi2.sf(200, 100)
    close(chiSquareSurvival(60, 4), 2.9008631203404573e-12, 1e-10); // chi2.sf(60, 4)
    close(chiSquareSurvival(1, 10), 0.9998278843700441, 1e-13); // chi2.sf(1, 10)
  });
  it('is 1 at x ≤ 0 and rejects df ≤ 0', () => {
    expect(chiSquareSurvival(0, 3)).toBe(1);
    expect(() => chiSquareSurvival(1, 0)).toThrow(RangeError);
  });
});

describe('binomial tails', () => {
  it('match exact fractions on small n', () => {
    close(binomialLowerTail(0, 10, 0.5), 1 / 1024, 1e-13); // (½)^10
    close(binomialUpperTail(8, 10, 0.5), 56 / 1024, 1e-13); // (45 + 10 + 1) / 1024
    close(binomialLowerTail(2, 10, 0.3), 0.3827827864, 1e-9); // binom.cdf(2, 10, 0.3), textbook table 0.3828
  });
  it('match scipy on large n, in both tails and on both sides of the mean', () => {
    close(binomialLowerTail(0, 292, 0.0363), 2.046552185495401e-5, 1e-10); // binom.cdf(0, 292, 0.0363)
    close(binomialLowerTail(5, 1000, 0.02), 6.400906688292924e-5, 1e-10); // binom.cdf(5, 1000, 0.02)
    close(binomialUpperTail(97, 100, 0.85), 9.285145440612454e-5, 1e-10); // binom.sf(96, 100, 0.85)
    close(binomialLowerTail(4400, 10000, 0.45), 0.022691745449500943, 1e-9); // binom.cdf(4400, 10000, 0.45)
    close(binomialUpperTail(4600, 10000, 0.45), 0.02280028321137645, 1e-9); // binom.sf(4599, 10000, 0.45)
    close(binomialLowerTail(60, 100, 0.5), 0.9823998998911476, 1e-12); // binom.cdf(60, 100, 0.5): above the mean
  });
  it('keep tiny upper tails exact: all n predictions on one label', () => {
    close(binomialUpperTail(100, 100, 0.44), 0.44 ** 100, 1e-11);
  });
  it('handle the edges: n = 0, p = 0, p = 1, out-of-range counts', () => {
    expect(binomialLowerTail(0, 0, 0.3)).toBe(1);
    expect(binomialUpperTail(0, 0, 0.3)).toBe(1);
    expect(binomialLowerTail(0, 50, 0)).toBe(1);
    expect(binomialUpperTail(1, 50, 0)).toBe(0);
    expect(binomialLowerTail(49, 50, 1)).toBe(0);
    expect(binomialUpperTail(50, 50, 1)).toBe(1);
    expect(binomialLowerTail(-1, 5, 0.5)).toBe(0);
    expect(binomialUpperTail(6, 5, 0.5)).toBe(0);
  });
  it('reject bad arguments', () => {
    expect(() => binomialLowerTail(1.5, 5, 0.5)).toThrow(RangeError);
    expect(() => binomialLowerTail(1, 5, 1.5)).toThrow(RangeError);
    expect(() => binomialUpperTail(1, -5, 0.5)).toThrow(RangeError);
  });
});

describe('label distribution statistics', () => {
  it('proportions', () => {
    expect(proportions([1, 3])).toEqual([0.25, 0.75]);
    expect(() => proportions([0, 0])).toThrow(RangeError);
    expect(() => proportions([1, -1])).toThrow(RangeError);
  });
  it('normalizedEntropy is 1 for uniform, 0 for one label, and matches scipy between', () => {
    close(normalizedEntropy([5, 5, 5]), 1, 1e-14);
    expect(normalizedEntropy([9, 0, 0])).toBe(0);
    close(normalizedEntropy([0.5, 0.25, 0.25]), 0.946394630357186, 1e-13); // scipy.stats.entropy([.5,.25,.25]) / ln 3
    close(normalizedEntropy([90, 5, 5]), 0.3589962496465303, 1e-13); // entropy([90,5,5]) / ln 3
    expect(() => normalizedEntropy([1])).toThrow(RangeError);
  });
  it('jensenShannonDistance matches scipy.spatial.distance.jensenshannon(…, base=2)', () => {
    expect(jensenShannonDistance([1, 0, 0], [0, 1, 0])).toBe(1); // scipy docs example
    close(jensenShannonDistance([1, 0], [0.5, 0.5]), 0.5579230452841438, 1e-13);
    close(jensenShannonDistance([0.85, 0.1, 0.05], [0.44, 0.44, 0.12]), 0.37668006368845863, 1e-13);
    close(jensenShannonDistance([17, 3, 0], [9, 9, 2]), 0.38953251305438513, 1e-13); // counts are normalised
    expect(jensenShannonDistance([0.2, 0.8], [0.2, 0.8])).toBe(0);
    expect(jensenShannonDistance([0.3, 0.7], [0.6, 0.4])).toBe(jensenShannonDistance([0.6, 0.4], [0.3, 0.7]));
    expect(() => jensenShannonDistance([1], [1, 0])).toThrow(RangeError);
  });
  it('chiSquareTest matches scipy.stats.chisquare', () => {
    const uniform = chiSquareTest([16, 18, 16, 14, 12, 12], [1, 1, 1, 1, 1, 1]);
    close(uniform.statistic, 2, 1e-13); // scipy docs example: statistic=2.0, pvalue=0.8491450360846096
    expect(uniform.df).toBe(5);
    close(uniform.pValue, 0.8491450360846096, 1e-12);
    const weighted = chiSquareTest([16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]);
    close(weighted.statistic, 3.5, 1e-13); // chisquare(…, f_exp=[16,16,16,16,16,8])
    close(weighted.pValue, 0.6233876277495822, 1e-12);
  });
  it('gTest matches scipy.stats.power_divergence(lambda_="log-likelihood")', () => {
    const uniform = gTest([16, 18, 16, 14, 12, 12], [1, 1, 1, 1, 1, 1]);
    close(uniform.statistic, 2.006573162632538, 1e-12);
    close(uniform.pValue, 0.8482347677946377, 1e-11);
    const weighted = gTest([16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]);
    close(weighted.statistic, 3.3281031458963746, 1e-12);
    close(weighted.pValue, 0.6495419288047497, 1e-11);
  });
  it('the fit tests refuse a zero expected share or no observations', () => {
    expect(() => chiSquareTest([1, 2], [0, 1])).toThrow(RangeError);
    expect(() => gTest([0, 0], [0.5, 0.5])).toThrow(RangeError);
  });
});

