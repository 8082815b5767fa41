// The verdict on one closed window: is the model's label distribution plausible under the reference, or has it
// collapsed onto one label, or lost labels it should be giving?
//
// Decision rule (docs/detection.md has the reasoning and the benchmark):
//  - every label gets two exact one-sided binomial tests against its reference share (too many, too few);
//    Holm's procedure over those 2k tests keeps the per-window false-alarm probability at most alpha;
//  - a significant result only flags the window when the effect is also large ("far beyond what the reference
//    allows"), so a skewed but healthy model and a slightly shifted production mix stay healthy;
//  - a window too small for even a total collapse to be significant is insufficient_data, never healthy.

import type { ModelMetadata } from '../serving/metadata';
import { binomialLowerTail, binomialUpperTail } from './binomial';
import { chiSquareTest, type FitTest, gTest, jensenShannonDistance, normalizedEntropy } from './distribution';
import { holmRejections } from './holm';
import { type LabelCounts, referenceDistribution } from './reference';

export type Verdict = 'healthy' | 'collapsed' | 'partial_collapse' | 'insufficient_data' | 'no_traffic';

/** Per-window false-alarm probability when neither the deployment (COLLAPSE_ALPHA) nor the model says otherwise. */
export const DEFAULT_ALPHA = 0.001;
/** Fewest predictions a window needs before it is judged at all (the collapse-detectability rule may ask for more). */
export const DEFAULT_MIN_PREDICTIONS = 30;
/** Labels below this reference share are rare: they may be absent from any window without it meaning anything. */
export const RARE_SHARE = 0.01;
/**
 * "Far below": a label has vanished when its share fell below this fraction of its reference share; a window has
 * collapsed when all the other labels together kept less than this fraction of their reference share.
 */
export const FAR_BELOW = 0.25;

/**
 * The top-label share above which a (significant) window is called collapsed onto a label with reference share
 * `referenceShare`: the other labels keep less than FAR_BELOW of their reference share. The status page draws it.
 */
export const collapseThreshold = (referenceShare: number): number => 1 - FAR_BELOW * (1 - referenceShare);

export interface MonitorConfig {
  /** Per-window false-alarm probability (family-wise, over all labels). */
  alpha: number;
  /** Fewest predictions a window needs to be judged. */
  minPredictions: number;
}

/**
 * The configuration that applies to one model: its metadata.monitor overrides win over the deployment's
 * defaults (COLLAPSE_ALPHA and friends, passed in), which win over DEFAULT_ALPHA / DEFAULT_MIN_PREDICTIONS.
 */
export function monitorConfig(metadata: Pick<ModelMetadata, 'monitor'>, defaults: Partial<MonitorConfig> = {}): MonitorConfig {
  const alpha = metadata.monitor?.alpha ?? defaults.alpha ?? DEFAULT_ALPHA;
  const minPredictions = metadata.monitor?.min_predictions ?? defaults.minPredictions ?? DEFAULT_MIN_PREDICTIONS;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  if (!(minPredictions >= 1)) throw new RangeError(`minPredictions must be >= 1, got ${minPredictions}`);
  return { alpha, minPredictions };
}

/**
 * Smallest window size n at which a total collapse onto the label with reference share `topReferenceShare` would
 * be significant: the exact upper tail of "all n predictions are that label", topReferenceShare^n, is at most
 * `alphaPerTest` (Holm's first, strictest threshold). Below it, no window can be told from chance.
 */
export function collapseDetectableAt(topReferenceShare: number, alphaPerTest: number): number {
  if (!(topReferenceShare > 0 && topReferenceShare < 1)) throw new RangeError(`share must be in (0, 1), got ${topReferenceShare}`);
  if (!(alphaPerTest > 0 && alphaPerTest < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alphaPerTest}`);
  let n = Math.ceil(Math.log(alphaPerTest) / Math.log(topReferenceShare));
  // Guard the rounding of the logarithms at the boundary.
  while (n > 1 && topReferenceShare ** (n - 1) <= alphaPerTest) n--;
  while (topReferenceShare ** n > alphaPerTest) n++;
  return n;
}

export interface LabelStatistics {
  label: string;
  count: number;
  /** count / n; null when n = 0. */
  share: number | null;
  referenceShare: number;
  /** P[X ≤ count] for X ~ Bin(n, referenceShare): small when the label is under-represented. */
  pLow: number;
  /** P[X ≥ count]: small when the label is over-represented. */
  pHigh: number;
}

export interface WindowStatistics {
  topLabel: string | null;
  topShare: number | null;
  /** H / ln k over the k labels of the model, in [0, 1]. */
  normalizedEntropy: number | null;
  /** Jensen–Shannon distance (base 2) between the window's shares and the reference. */
  jsDistance: number | null;
  /** Pearson chi-square goodness of fit to the reference (reported; the verdict uses the exact tests). */
  chiSquare: FitTest | null;
  /** G-test goodness of fit to the reference (reported; the verdict uses the exact tests). */
  gTest: FitTest | null;
  perLabel: LabelStatistics[];
}

/** The verdict on one window with its numbers. JSON-safe: no Infinity, NaN or undefined values inside arrays. */
export interface Evaluation {
  verdict: Verdict;
  n: number;
  statistics: WindowStatistics;
  /** Labels with a real reference share (≥ RARE_SHARE) whose count is significantly and far below it. */
  vanishedLabels: string[];
  /** The label the window collapsed onto (verdict collapsed only). */
  dominantLabel?: string;
  alpha: number;
  /** The configured minimum. */
  minPredictions: number;
  /** Predictions this window needed to be judged: max(minPredictions, collapseDetectableAt(…)). */
  requiredPredictions: number;
  /** How the reference was formed (training shares, or blended with recent healthy windows). */
  reference: { recentWeight: number; recentPredictions: number; recentDrift: number | null };
  /** One human sentence. */
  reason: string;
}

export interface EvaluateOptions extends Partial<MonitorConfig> {
  /** Label counts of recent windows whose verdict was healthy, to refine the reference. */
  recentHealthy?: readonly LabelCounts[];
}

const percent = (x: number) => (x === 0 ? '0%' : `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`);
const pValue = (p: number) => (p < 1e-300 ? '< 1e-300' : p.toPrecision(2));
const listLabels = (labels: string[]) =>
  labels.length <= 1 ? labels.join('') : `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;

/**
 * Judges one closed window against the model's reference. Only labels listed in metadata.labels count; n is the sum
 * of their counts. `options.alpha` / `options.minPredictions` are the deployment defaults, overridden per model by
 * metadata.monitor.
 */
export function evaluateWindow(counts: LabelCounts, metadata: ModelMetadata, options: EvaluateOptions = {}): Evaluation {
  const { alpha, minPredictions } = monitorConfig(metadata, options);
  const labels = metadata.labels;
  const k = labels.length;
  const reference = referenceDistribution(labels, metadata.training.label_counts, options.recentHealthy);
  const ref = reference.shares;
  const observed = labels.map((l) => counts.labelCounts[l] ?? 0);
  const n = observed.reduce((s, c) => s + c, 0);

  const tests = 2 * k;
  const topReference = Math.max(...ref);
  const requiredPredictions = Math.max(minPredictions, collapseDetectableAt(topReference, alpha / tests));
  const base = {
    n,
    alpha,
    minPredictions,
    requiredPredictions,
    reference: {
      recentWeight: reference.recentWeight,
      recentPredictions: reference.recentPredictions,
      recentDrift: reference.recentDrift,
    },
  };

  const perLabel: LabelStatistics[] = labels.map((label, i) => ({
    label,
    count: observed[i],
    share: n > 0 ? observed[i] / n : null,
    referenceShare: ref[i],
    pLow: binomialLowerTail(observed[i], n, ref[i]),
    pHigh: binomialUpperTail(observed[i], n, ref[i]),
  }));

  if (n === 0) {
    const statistics: WindowStatistics = {
      topLabel: null,
      topShare: null,
      normalizedEntropy: null,
      jsDistance: null,
      chiSquare: null,
      gTest: null,
      perLabel,
    };
    return { ...base, verdict: 'no_traffic', statistics, vanishedLabels: [], reason: 'No predictions in this window.' };
  }

  let top = 0;
  for (let i = 1; i < k; i++) if (observed[i] > observed[top]) top = i;
  const topShare = observed[top] / n;
  const statistics: WindowStatistics = {
    topLabel: labels[top],
    topShare,
    normalizedEntropy: normalizedEntropy(observed),
    jsDistance: jensenShannonDistance(observed, ref),
    chiSquare: chiSquareTest(observed, ref),
    gTest: gTest(observed, ref),
    perLabel,
  };

  if (n < requiredPredictions) {
    const why =
      requiredPredictions > minPredictions
        ? `even a total collapse onto ${labels[ref.indexOf(topReference)]} (reference share ${percent(topReference)}) ` +
          `needs ${requiredPredictions} to be told from chance at alpha ${alpha}`
        : `the minimum is ${minPredictions}`;
    return {
      ...base,
      verdict: 'insufficient_data',
      statistics,
      vanishedLabels: [],
      reason: `Only ${n} predictions; ${why}.`,
    };
  }

  // Holm over [pLow of every label, pHigh of every label].
  const rejected = holmRejections([...perLabel.map((s) => s.pLow), ...perLabel.map((s) => s.pHigh)], alpha);
  const significantlyLow = (i: number) => rejected[i];
  const significantlyHigh = (i: number) => rejected[k + i];

  const vanished = labels
    .map((_, i) => i)
    .filter((i) => ref[i] >= RARE_SHARE && significantlyLow(i) && observed[i] / n < FAR_BELOW * ref[i])
    // Most surprising first.
    .sort((a, b) => perLabel[a].pLow - perLabel[b].pLow);
  const vanishedLabels = vanished.map((i) => labels[i]);

  const othersShare = 1 - topShare;
  const othersReference = 1 - ref[top];
  if (significantlyHigh(top) && othersShare < FAR_BELOW * othersReference) {
    return {
      ...base,
      verdict: 'collapsed',
      statistics,
      vanishedLabels,
      dominantLabel: labels[top],
      reason:
        `${labels[top]} took ${percent(topShare)} of ${n} predictions against a reference share of ` +
        `${percent(ref[top])} (p = ${pValue(perLabel[top].pHigh)}); the other labels kept ${percent(othersShare)} ` +
        `where ${percent(othersReference)} was expected.`,
    };
  }

  if (vanished.length > 0) {
    const shares = vanished.map((i) => `${labels[i]} ${percent(observed[i] / n)} (reference ${percent(ref[i])})`);
    return {
      ...base,
      verdict: 'partial_collapse',
      statistics,
      vanishedLabels,
      reason:
        `${listLabels(vanishedLabels)} fell far below ${vanished.length > 1 ? 'their' : 'its'} reference share in ` +
        `${n} predictions: ${shares.join(', ')}; p ≤ ${pValue(perLabel[vanished[vanished.length - 1]].pLow)}.`,
    };
  }

  return {
    ...base,
    verdict: 'healthy',
    statistics,
    vanishedLabels: [],
    reason:
      `The ${n} predictions are consistent with the reference: top label ${labels[top]} at ${percent(topShare)} ` +
      `(reference ${percent(ref[top])}), Jensen–Shannon distance ${statistics.jsDistance!.toFixed(3)}.`,
  };
}
