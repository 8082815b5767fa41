// A defect of the model itself, found in its package before any traffic: its own answers on held-out rows lack
// labels that its training data has (the unweighted Seattle model never answers fog or drizzle). Traffic can not
// fix that, so it is reported once per version (incident kind model_defect), not paged every window, and the
// traffic baseline is not silently taken to be right.

import type { ModelMetadata } from '../serving/metadata';
import { binomialLowerTail, binomialUpperTail } from './binomial';
import type { Evaluation } from './detector';
import { normalizedEntropy } from './distribution';
import { countOf } from './names';
import { smoothedShares } from './reference';
import { FAR_BELOW } from './sequential';

/** A label is missing from the held-out answers when this unlikely under its training share (exact binomial). */
export const DEFECT_ALPHA = 0.001;
/** Labels below this training share are too rare for their absence from a few hundred held-out rows to mean much. */
export const DEFECT_MIN_SHARE = 0.01;
/** Held-out answers this concentrated on one label are a collapsed model. */
export const DEFECT_COLLAPSE_SHARE = 0.9;


/**
 * The package's defect, as the evaluation of one "window" made of its held-out answers judged against its training
 * labels: partial_collapse naming the missing labels, or collapsed when one label took nearly all of them. Null
 * when the package has no held-out answers (metadata.reference) or nothing is missing.
 */
export function modelDefect(metadata: ModelMetadata): Evaluation | null {
  const reference = metadata.reference;
  if (!reference) return null;
  const labels = metadata.labels;
  const training = smoothedShares(labels.map((l) => countOf(metadata.training.label_counts, l)));
  const observed = labels.map((l) => countOf(reference.label_counts, l));
  const n = observed.reduce((s, c) => s + c, 0);
  if (n === 0) return null;
  const perLabel = labels.map((label, i) => ({
    label,
    count: observed[i]!,
    share: observed[i]! / n,
    referenceShare: training[i]!,
    scatter: 0,
    pLow: binomialLowerTail(observed[i]!, n, training[i]!),
    pHigh: binomialUpperTail(observed[i]!, n, training[i]!),
    up: 0,
    down: null,
  }));
  const missing = perLabel
    .filter((l) => l.referenceShare >= DEFECT_MIN_SHARE && l.share < FAR_BELOW * l.referenceShare && l.pLow < DEFECT_ALPHA)
    .sort((a, b) => a.pLow - b.pLow);
  if (missing.length === 0) return null;
  const top = perLabel.reduce((best, l) => (l.count > best.count ? l : best));
  const collapsed = top.share >= DEFECT_COLLAPSE_SHARE;
  const names = missing.map((l) => l.label);
  const pct = (x: number) => `${Math.round(100 * x)}%`;
  return {
    verdict: collapsed ? 'collapsed' : 'partial_collapse',
    ...(collapsed ? { dominantLabel: top.label } : {}),
    n,
    statistics: {
      topLabel: top.label,
      topShare: top.share,
      normalizedEntropy: normalizedEntropy(observed),
      jsDistance: null,
      chiSquare: null,
      gTest: null,
      perLabel,
    },
    vanishedLabels: names,
    alpha: DEFECT_ALPHA,
    minPredictions: 0,
    requiredPredictions: 0,
    baseline: { source: 'training_labels', predictions: metadata.training.samples, seasonality: 'none' },
    evidence: { threshold: 0, falsePageBudget: 0, accumulated: n },
    drift: null,
    knownDefect: true,
    reason:
      `On its own ${n} held-out rows the model ${collapsed ? `answers ${top.label} ${pct(top.share)} of the time and ` : ''}` +
      `never or rarely answers ${missing.map((l) => `${l.label} (${l.count}; ${pct(l.referenceShare)} of training)`).join(', ')}: ` +
      'a defect of the model itself, reported once for this version.',
  };
}
