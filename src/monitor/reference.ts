// The reference distribution a window is judged against: the training label distribution, optionally refined by
// recent healthy windows. Refining helps when production's label mix honestly differs a little from training's;
// the guards below stop it from learning a slow collapse as the new normal.

import { jensenShannonDistance } from './distribution';

/** Recent windows may carry at most this much of the reference; training always keeps the other half or more. */
export const MAX_RECENT_WEIGHT = 0.5;
/**
 * Recent windows that drifted further than this Jensen–Shannon distance (base 2) from training are not blended in
 * at all: a drift that large is something to look at, not something to learn.
 */
export const MAX_RECENT_DRIFT = 0.1;

/** Label counts of one window: all the reference needs from it. */
export interface LabelCounts {
  labelCounts: Record<string, number>;
}

export interface Reference {
  /** Shares in label order: every one > 0 (smoothed), summing to 1. */
  shares: number[];
  /** Weight the recent healthy windows got, in [0, MAX_RECENT_WEIGHT]; 0 when none were given or they drifted. */
  recentWeight: number;
  /** Predictions in the recent healthy windows offered. */
  recentPredictions: number;
  /** Jensen–Shannon distance (base 2) of the recent windows from training; null when none were given. */
  recentDrift: number | null;
}

/**
 * Shares with add-half (Jeffreys) pseudo-counts, (c_i + ½) / (N + k/2): a label never seen still gets a small
 * positive share, so no test divides by zero or calls an observed label impossible. Length k ≥ 1.
 * @throws RangeError when a count is negative or not finite, or there are no labels.
 */
export function smoothedShares(counts: readonly number[]): number[] {
  if (counts.length === 0) throw new RangeError('smoothed shares need at least one label');
  let total = 0;
  for (const c of counts) {
    if (!(c >= 0) || !Number.isFinite(c)) throw new RangeError(`counts must be finite and >= 0, got ${c}`);
    total += c;
  }
  return counts.map((c) => (c + 0.5) / (total + counts.length / 2));
}

/**
 * The reference for `labels`: smoothed training shares, blended with the pooled recent healthy windows as
 * (1 − w)·training + w·recent, where w = min(MAX_RECENT_WEIGHT, m / (m + N)) for m recent predictions and
 * N training rows (a recent prediction counts as much as a training row, but recent traffic never outweighs
 * training), and w = 0 when the recent windows are further than MAX_RECENT_DRIFT from training.
 * Callers must pass only windows whose verdict was healthy.
 */
export function referenceDistribution(
  labels: readonly string[],
  trainingCounts: Record<string, number>,
  recentHealthy: readonly LabelCounts[] = [],
): Reference {
  const training = labels.map((l) => trainingCounts[l] ?? 0);
  const trainingShares = smoothedShares(training);
  const recent = labels.map((l) => recentHealthy.reduce((sum, w) => sum + (w.labelCounts[l] ?? 0), 0));
  const m = recent.reduce((s, c) => s + c, 0);
  if (m === 0) return { shares: trainingShares, recentWeight: 0, recentPredictions: 0, recentDrift: null };

  const recentShares = smoothedShares(recent);
  const drift = jensenShannonDistance(recentShares, trainingShares);
  const n = training.reduce((s, c) => s + c, 0);
  const weight = drift > MAX_RECENT_DRIFT ? 0 : Math.min(MAX_RECENT_WEIGHT, m / (m + n));
  return {
    shares: trainingShares.map((t, i) => (1 - weight) * t + weight * recentShares[i]),
    recentWeight: weight,
    recentPredictions: m,
    recentDrift: drift,
  };
}
