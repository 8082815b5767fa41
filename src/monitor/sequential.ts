// Evidence that accumulates across windows: per-label CUSUMs of binomial log-likelihood ratios (Page 1954), one up
// (the label is taking over) and one down (the label is vanishing), with a threshold derived from a false-page
// budget per unit of time (Lorden 1971: a CUSUM of exact likelihood ratios has an in-control run length of at least
// e^h observations). docs/detection.md explains the choice.

/** Seconds in a (Julian) year: the unit of the false-page budget. */
export const SECONDS_PER_YEAR = 365.25 * 86_400;

/**
 * The "collapse" alternative of the up statistic: half of all answers turned into this label, p1 = p0 + ½(1 − p0).
 * Smaller take-overs still accumulate evidence (more slowly); slow drifts of a few points never do.
 */
export const COLLAPSE_MIX = 0.5;
/**
 * The "total collapse" alternative of a second up statistic, p1 = p0 + 0.9(1 − p0): a window answering one label
 * for nearly everything carries about 1.5× the evidence against it, so a total collapse is paged from one window.
 */
export const TOTAL_MIX = 0.9;
/** The "vanished" alternative of the down statistic: the label kept a quarter of its share, p1 = ¼·p0. */
export const FAR_BELOW = 0.25;
/** Labels below this baseline share are rare: they may be absent for long stretches, so nobody watches them vanish. */
export const RARE_SHARE = 0.05;

/**
 * log L(p1) / L(p0) of x successes in n binomial trials. Exact, any n ≥ 0 (n = 0 gives 0).
 * @throws RangeError when a probability is outside (0, 1) or x is outside [0, n].
 */
export function binomialLogLikelihoodRatio(x: number, n: number, p0: number, p1: number): number {
  if (!(p0 > 0 && p0 < 1 && p1 > 0 && p1 < 1)) throw new RangeError(`probabilities must be in (0, 1), got ${p0}, ${p1}`);
  if (!(x >= 0 && x <= n)) throw new RangeError(`need 0 <= x <= n, got x = ${x}, n = ${n}`);
  return x * Math.log(p1 / p0) + (n - x) * Math.log((1 - p1) / (1 - p0));
}

/** The up statistic's alternative for baseline share p0 (mix: the share of answers turned into the label). */
export const collapseAlternative = (p0: number, mix = COLLAPSE_MIX): number => p0 + mix * (1 - p0);
/** The down statistic's alternative for baseline share p0. */
export const vanishAlternative = (p0: number): number => FAR_BELOW * p0;

/**
 * The CUSUM threshold h that keeps false pages within `budgetPerYear` for one model, with `statistics` CUSUMs
 * running side by side over windows of `windowSeconds`. Each CUSUM's in-control run length is at least e^h windows,
 * so the union of them alarms at most statistics / e^h per window; setting that to the budget's share of one
 * window gives h = ln(statistics · windows per budget period). Zero-traffic windows add no evidence, so the bound
 * holds (more loosely) at any traffic rate.
 */
export function cusumThreshold(budgetPerYear: number, windowSeconds: number, statistics: number): number {
  if (!(budgetPerYear > 0)) throw new RangeError(`budget must be > 0, got ${budgetPerYear}`);
  if (!(windowSeconds > 0)) throw new RangeError(`window length must be > 0, got ${windowSeconds}`);
  if (!(statistics >= 1)) throw new RangeError(`need at least one statistic, got ${statistics}`);
  const windowsPerBudget = Math.max(1, SECONDS_PER_YEAR / budgetPerYear / windowSeconds);
  return Math.log(windowsPerBudget * statistics);
}

/** One CUSUM step: S ← max(0, S + increment), capped at `cap` so that a recovery is seen within a few windows. */
export const cusumStep = (s: number, increment: number, cap: number): number => Math.min(cap, Math.max(0, s + increment));

/**
 * Quasi-likelihood dispersion of a label's count in a window of n: its variance over the binomial one,
 * 1 + n/m + n·τ²/(p(1 − p)), where m is the baseline's effective size (its own sampling error: a two-sample
 * comparison) and τ² the extra-binomial variance of the label's share between healthy windows. Dividing a
 * log-likelihood ratio by it keeps the CUSUM's false-alarm bound when healthy traffic is overdispersed
 * (McCullagh & Nelder, quasi-likelihood).
 */
export function dispersion(n: number, p: number, baselineSize: number, tau2: number): number {
  const binomial = p * (1 - p);
  return 1 + (baselineSize > 0 ? n / baselineSize : 0) + (binomial > 0 ? (n * tau2) / binomial : 0);
}

/**
 * Fewest predictions in which a total collapse onto a label of baseline share p would cross h, given the
 * dispersion's growth with n (Infinity when it never would: the baseline is too noisy to see even that).
 */
export function predictionsToDecide(p: number, h: number, baselineSize: number, tau2: number): number {
  const perPrediction = Math.log(collapseAlternative(p, TOTAL_MIX) / p);
  // n·L / (1 + n·c) ≥ h  ⇔  n ≥ h / (L − h·c)
  const c = (baselineSize > 0 ? 1 / baselineSize : 0) + tau2 / (p * (1 - p));
  const room = perPrediction - h * c;
  return room > 0 ? Math.ceil(h / room) : Infinity;
}
