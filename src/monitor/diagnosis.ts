// Why a window's answers look the way they do: the four causes of a constant prediction (plus a degenerate model),
// and the one cause that is no fault at all (the inputs moved within what the model knows, and its answers followed),
// each with the numbers that support it and a confidence in [0, 1]. Several can hold at once.
//
// Input-side causes (lost variance, missing scaler) are read from the window's feature moments and are reported
// whatever the verdict, because bad inputs are worth knowing about before the labels show it. Model-side causes
// (class imbalance, too little training data, degenerate model) need label evidence: a flagged window or probes. An
// input shift needs both: a flagged window whose inputs moved, and a model that still answers its probes.

import type { FeatureSpec, ModelMetadata } from '../serving/metadata';
import type { BaselinePhase, BaselineSource, InputLevel, Seasonality } from './baseline';
import { binomialLowerTail } from './binomial';
import type { Evaluation } from './detector';
import { normalizedEntropy } from './distribution';
import { nameRecord, own } from './names';
import { featureMeanStd, type WindowCounts } from './window';

export type DiagnosisKind =
  | 'preprocessing_lost_variance'
  | 'scaler_missing'
  | 'class_imbalance'
  | 'insufficient_data'
  | 'degenerate_model'
  | 'input_shift';

/** Each cause in a few words: the status page's titles, and the probable cause in a page's one-line summary. */
export const DIAGNOSIS_TITLES: Record<DiagnosisKind, string> = {
  preprocessing_lost_variance: 'Inputs lost their variance',
  scaler_missing: 'Inputs not scaled as in training',
  class_imbalance: 'Imbalanced training data',
  insufficient_data: 'Too little training data',
  degenerate_model: 'The model itself is degenerate',
  input_shift: 'Inputs shifted; the model followed them',
};

/** What the caller learnt by running metadata.probes through the model: one predicted label per probe, in order. */
export interface ProbeResult {
  predictedLabels: string[];
}

/** A feature as the model expects it next to what the window carried. */
export interface FeatureComparison {
  name: string;
  expectedMean: number;
  expectedStd: number;
  observedMean: number;
  observedStd: number;
}

/** How the model did on its own labelled probe rows. */
export interface ProbeSummary {
  probes: number;
  /** Fraction of probes answered with their true label. */
  accuracy: number;
  /** Distinct true labels among the probes. */
  trueLabels: number;
  /** Distinct labels the model answered. */
  predictedLabels: number;
  /** Answers per label. */
  predictedCounts: Record<string, number>;
  /** Normalised entropy (over the model's labels) of the true and the predicted probe labels. */
  trueEntropy: number;
  predictedEntropy: number;
}

interface DiagnosisOf<K extends DiagnosisKind, E> {
  kind: K;
  /** In [0, 1]: how strongly the evidence points at this cause. */
  confidence: number;
  /** One human sentence with the numbers. */
  sentence: string;
  evidence: E;
}

export type PreprocessingLostVarianceDiagnosis = DiagnosisOf<
  'preprocessing_lost_variance',
  {
    /** Share of rows whose every feature was exactly 0. */
    zeroRowShare: number;
    /** Features whose window std fell below LOST_VARIANCE_RATIO × the expected std (all, when only zero rows fired). */
    features: (FeatureComparison & { stdRatio: number })[];
  }
>;

export type ScalerMissingDiagnosis = DiagnosisOf<
  'scaler_missing',
  | {
      /** Traffic arrives unscaled (or scaled differently) from what the model expects. */
      cause: 'inputs_unscaled';
      /** Features whose window mean is more than SHIFT_Z expected stds from the expected mean. */
      features: (FeatureComparison & { z: number })[];
      /** Whether the window's moments match the raw (unscaled) training scaler: the traffic is in raw units. */
      matchesRawScaler: boolean;
    }
  | {
      /** The model was trained on raw features whose scales differ by orders of magnitude. */
      cause: 'trained_unscaled';
      /** Largest over smallest feature magnitude √(mean² + std²). */
      scaleSpread: number;
      largest: { name: string; magnitude: number };
      smallest: { name: string; magnitude: number };
      probes: ProbeSummary | null;
      windowVerdict: Evaluation['verdict'];
    }
>;

export type ClassImbalanceDiagnosis = DiagnosisOf<
  'class_imbalance',
  {
    trainingCounts: Record<string, number>;
    /** Largest over smallest training count (a count of 0 counts as 1). */
    imbalanceRatio: number;
    majorityLabel: string;
    classWeightUsed: boolean;
    /** The window's dominant label (collapsed) or its vanished labels (partial collapse). */
    dominantLabel: string | null;
    vanishedLabels: string[];
    /** No input-side diagnosis fired: the inputs look like training data. */
    inputsLookLikeTraining: boolean;
  }
>;

export type InsufficientDataDiagnosis = DiagnosisOf<
  'insufficient_data',
  {
    /** The rule applied, in words. */
    rule: string;
    features: number;
    /** Training rows each implicated label should have had: SAMPLES_PER_FEATURE × features. */
    requiredPerLabel: number;
    /** Implicated labels (vanished, or all but the dominant one) with fewer rows than that. */
    shortLabels: { label: string; count: number }[];
  }
>;

export type DegenerateModelDiagnosis = DiagnosisOf<
  'degenerate_model',
  ProbeSummary & { learningRate: number | null; hiddenUnits: number | null }
>;

export type InputShiftDiagnosis = DiagnosisOf<
  'input_shift',
  {
    /**
     * Features whose window mean moved at least MOVED_STDS training stds beyond NOISE_SE standard errors, from the
     * training mean or from the recent healthy traffic's.
     */
    features: (FeatureComparison & {
      /** (window mean − training mean) / training std. */
      shift: number;
      /** Window std / training std. */
      stdRatio: number;
      /** Standard error of the window mean in training stds: max(1, stdRatio) / √rows. */
      standardError: number;
      /** The recent healthy traffic's mean of the feature (baseline.ts recentInputs); null when none is kept. */
      recentMean: number | null;
      /** (window mean − recent mean) / training std; null without a recent mean. */
      recentShift: number | null;
      /** Which move cleared the noise by more: from training, or from the recent traffic. */
      from: 'training' | 'recent';
    })[];
    /** The model on its own probes; null when none were run. */
    probes: ProbeSummary | null;
    /** training.accuracy, what the probes are held to; null when the package does not say. */
    heldOutAccuracy: number | null;
    /** P[X ≤ probes answered right] for X ~ Bin(probes, heldOutAccuracy); null without probes or accuracy. */
    probePValue: number | null;
    /** Labels whose share moved by at least LABEL_MOVE against the baseline, most moved first. */
    labels: { label: string; share: number; baselineShare: number }[];
    /** The seasonality the window was judged with, and where its baseline came from. */
    seasonality: Seasonality;
    baselineSource: BaselineSource;
    /**
     * The phase of earlier cycles it was held against (Evaluation baseline.phase): what the remedy names as "this
     * season". Absent in diagnoses stored before it was kept; null when no phase held enough.
     */
    baselinePhase?: BaselinePhase | null;
  }
>;

export type Diagnosis =
  | PreprocessingLostVarianceDiagnosis
  | ScalerMissingDiagnosis
  | ClassImbalanceDiagnosis
  | InsufficientDataDiagnosis
  | DegenerateModelDiagnosis
  | InputShiftDiagnosis;

/** A feature lost its variance when its window std is below this fraction of the std the model expects. */
export const LOST_VARIANCE_RATIO = 0.1;
/** A high share of all-zero rows: real continuous inputs are essentially never all exactly 0. */
export const ZERO_ROW_SHARE = 0.2;
/** A window mean this many expected stds from the expected mean is not the training distribution. */
export const SHIFT_Z = 3;
/** Feature magnitudes spanning this factor (two orders of magnitude) need a scaler to train well. */
export const SCALE_SPREAD = 100;
/** Training counts with largest/smallest at or above this ratio are imbalanced. */
export const IMBALANCE_RATIO = 3;
/** Rows per feature a label should have in training (the "10 events per variable" rule of thumb). */
export const SAMPLES_PER_FEATURE = 10;
/** Window moments from fewer rows than this are too noisy to judge a feature by. */
export const MIN_FEATURE_ROWS = 5;
/** A feature moved when its window mean sits at least this many training stds from the training mean (a medium effect). */
export const MOVED_STDS = 0.5;
/** Standard errors of the window mean a move must clear before it counts: |shift| − NOISE_SE · SE ≥ MOVED_STDS. */
export const NOISE_SE = 3;
/** Probes answered right less often than held-out accuracy allows at this one-sided level: not the validated model. */
export const PROBE_ALPHA = 0.05;
/** A label's share moving this much against the baseline is named in an input shift's evidence. */
export const LABEL_MOVE = 0.05;

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const round = (x: number, digits = 3) => Number(x.toPrecision(digits));
// Four significant digits; float dust around 0 (a standardized mean of 1e-15) prints as 0.
const fmt = (x: number) => String(Math.abs(x) < 1e-9 ? 0 : round(x, 4));

type Compared = FeatureComparison & { spec: FeatureSpec; rows: number };

function compareFeatures(metadata: ModelMetadata, window: WindowCounts): Compared[] {
  const out: Compared[] = [];
  for (const spec of metadata.features) {
    const moments = window.features[spec.name];
    if (!moments || moments.count < MIN_FEATURE_ROWS) continue;
    const observed = featureMeanStd(moments);
    if (!observed) continue;
    out.push({
      spec,
      rows: moments.count,
      name: spec.name,
      expectedMean: spec.mean,
      expectedStd: spec.std,
      observedMean: observed.mean,
      observedStd: observed.std,
    });
  }
  return out;
}

const strip = ({ spec: _spec, rows: _rows, ...rest }: Compared): FeatureComparison => rest;

/**
 * Summary of the probe answers against the probes' true labels; null when there are no probes or the answers do
 * not line up with them.
 */
export function summarizeProbes(metadata: ModelMetadata, probe: ProbeResult | undefined): ProbeSummary | null {
  const probes = metadata.probes;
  if (!probe || probes.length === 0 || probe.predictedLabels.length !== probes.length) return null;
  const tally = (labels: string[]) => metadata.labels.map((l) => labels.filter((x) => x === l).length);
  const trueCounts = tally(probes.map((p) => p.label));
  const predicted = tally(probe.predictedLabels);
  const predictedCounts: Record<string, number> = nameRecord();
  metadata.labels.forEach((l, i) => {
    const c = predicted[i]!; // one count per label
    if (c > 0) predictedCounts[l] = c;
  });
  const answered = predicted.reduce((s, c) => s + c, 0);
  return {
    probes: probes.length,
    accuracy: probes.filter((p, i) => p.label === probe.predictedLabels[i]).length / probes.length,
    trueLabels: trueCounts.filter((c) => c > 0).length,
    predictedLabels: predicted.filter((c) => c > 0).length,
    predictedCounts,
    trueEntropy: normalizedEntropy(trueCounts),
    predictedEntropy: answered > 0 ? normalizedEntropy(predicted) : 0,
  };
}

/**
 * The model is degenerate on its own probes: the probes' true labels span several labels but the answers are one
 * label, or far less diverse (predicted entropy below half the true entropy).
 */
function probesCollapsed(summary: ProbeSummary | null): boolean {
  if (!summary || summary.trueLabels < 2) return false;
  return summary.predictedLabels <= 1 || summary.predictedEntropy < 0.5 * summary.trueEntropy;
}

function lostVariance(window: WindowCounts, features: ReturnType<typeof compareFeatures>): PreprocessingLostVarianceDiagnosis | null {
  const zeroRowShare = window.n > 0 ? window.zeroRows / window.n : 0;
  const lost = features
    .filter((f) => f.expectedStd > 0 && f.observedStd < LOST_VARIANCE_RATIO * f.expectedStd)
    // A feature that sits at a value it takes in much of the training data (precipitation 0 on a dry day) is
    // legitimately constant in part of the traffic: that is not lost variance.
    .filter((f) => !(f.spec.mode && Math.abs(f.observedMean - f.spec.mode.value) <= LOST_VARIANCE_RATIO * f.expectedStd))
    .map((f) => ({ ...strip(f), stdRatio: round(f.observedStd / f.expectedStd) }));
  if (lost.length === 0 && !(window.n >= MIN_FEATURE_ROWS && zeroRowShare >= ZERO_ROW_SHARE)) return null;
  const lostShare = features.length > 0 ? lost.length / features.length : 0;
  // All-zero rows implicate every feature even when enough non-zero rows keep each std up.
  const implicated =
    lost.length > 0
      ? lost
      : features.map((f) => ({ ...strip(f), stdRatio: f.expectedStd > 0 ? round(f.observedStd / f.expectedStd) : 1 }));
  const strength = Math.max(zeroRowShare, lostShare);
  const parts: string[] = [];
  if (zeroRowShare >= ZERO_ROW_SHARE) parts.push(`${Math.round(100 * zeroRowShare)}% of rows were all zeros`);
  if (lost.length > 0)
    parts.push(
      `${lost.length} of ${features.length} features kept under ${LOST_VARIANCE_RATIO * 100}% of their expected ` +
        `spread (${lost.map((f) => `${f.name} std ${fmt(f.observedStd)} vs ${fmt(f.expectedStd)}`).join(', ')})`,
    );
  return {
    kind: 'preprocessing_lost_variance',
    confidence: round(0.5 + 0.45 * strength, 2),
    sentence: `Preprocessing dropped the input variance: ${parts.join('; ')}.`,
    evidence: { zeroRowShare: round(zeroRowShare, 4), features: implicated },
  };
}

function inputsUnscaled(window: WindowCounts, features: ReturnType<typeof compareFeatures>): ScalerMissingDiagnosis | null {
  // All-zero rows drag every mean towards 0; that is lost variance, not a scaler.
  if (window.n > 0 && window.zeroRows / window.n >= 0.5) return null;
  const shifted = features
    .filter((f) => f.expectedStd > 0)
    .map((f) => ({ f, z: Math.abs(f.observedMean - f.expectedMean) / f.expectedStd }))
    .filter(({ z }) => z > SHIFT_Z);
  if (shifted.length === 0) return null;
  // Traffic in raw units: every feature's window moments sit close to its raw scaler.
  const withRaw = features.filter((f) => f.spec.raw);
  const matchesRawScaler =
    withRaw.length > 0 &&
    withRaw.every((f) => {
      const raw = f.spec.raw!;
      return Math.abs(f.observedMean - raw.mean) < 2 * raw.std && f.observedStd < 3 * raw.std;
    });
  const share = shifted.length / Math.max(1, features.length);
  const confidence = Math.min(0.95, 0.55 + 0.25 * share + (matchesRawScaler ? 0.15 : 0));
  const worst = [...shifted].sort((a, b) => b.z - a.z)[0]!; // shifted is not empty
  return {
    kind: 'scaler_missing',
    confidence: round(confidence, 2),
    sentence:
      `Inputs are not scaled as the model expects: ${shifted.length} of ${features.length} feature means sit more ` +
      `than ${SHIFT_Z} training stds away (worst ${worst.f.name}: mean ${fmt(worst.f.observedMean)} vs ` +
      `${fmt(worst.f.expectedMean)}, ${fmt(worst.z)} stds)` +
      (matchesRawScaler ? '; the window matches the raw training units, so the scaler was skipped.' : '.'),
    evidence: {
      cause: 'inputs_unscaled',
      features: shifted.map(({ f, z }) => ({ ...strip(f), z: round(z) })),
      matchesRawScaler,
    },
  };
}

function trainedUnscaled(
  metadata: ModelMetadata,
  evaluation: Evaluation,
  probes: ProbeSummary | null,
  inputsLookLikeTraining: boolean,
): ScalerMissingDiagnosis | null {
  if (metadata.training.standardized !== false) return null;
  const magnitudes = metadata.features.map((f) => ({ name: f.name, magnitude: Math.hypot(f.mean, f.std) }));
  const sorted = [...magnitudes].sort((a, b) => a.magnitude - b.magnitude);
  // The metadata schema requires at least one feature.
  const smallest = sorted[0]!;
  const largest = sorted[sorted.length - 1]!;
  if (!(smallest.magnitude > 0)) return null;
  const scaleSpread = largest.magnitude / smallest.magnitude;
  if (scaleSpread < SCALE_SPREAD) return null;
  // Differently scaled raw features only matter when the model is failing: on its own probes (strong evidence),
  // or on live traffic that looks like training data (weaker: imbalance could explain that too).
  const flagged = evaluation.verdict === 'collapsed' || evaluation.verdict === 'partial_collapse';
  const degenerate = probesCollapsed(probes);
  if (!degenerate && !(flagged && inputsLookLikeTraining)) return null;
  const confidence = degenerate ? 0.85 : 0.5;
  return {
    kind: 'scaler_missing',
    confidence,
    sentence:
      `The model was trained on unstandardized features whose magnitudes differ ${Math.round(scaleSpread)}-fold ` +
      `(${largest.name} ~${fmt(largest.magnitude)} vs ${smallest.name} ~${fmt(smallest.magnitude)})` +
      (degenerate ? ' and it answers one label on its own probes' : ` and the window ${evaluation.verdict.replace('_', ' ')}`) +
      ': train on standardized inputs.',
    evidence: {
      cause: 'trained_unscaled',
      scaleSpread: round(scaleSpread),
      largest: { name: largest.name, magnitude: round(largest.magnitude, 6) },
      smallest: { name: smallest.name, magnitude: round(smallest.magnitude, 6) },
      probes,
      windowVerdict: evaluation.verdict,
    },
  };
}

function classImbalance(metadata: ModelMetadata, evaluation: Evaluation, inputsLookLikeTraining: boolean): ClassImbalanceDiagnosis | null {
  const counts = metadata.training.label_counts;
  const labels = metadata.labels;
  const values = labels.map((l) => counts[l] ?? 0);
  const max = Math.max(...values);
  const imbalanceRatio = max / Math.max(1, Math.min(...values));
  if (imbalanceRatio < IMBALANCE_RATIO) return null;
  const majorityLabel = labels[values.indexOf(max)]!; // max is one of values
  const minority = (label: string) => (counts[label] ?? 0) * IMBALANCE_RATIO <= max;
  // The imbalance signature: answers stuck on a majority label, or minority labels vanishing.
  const stuckOnMajority =
    evaluation.verdict === 'collapsed' && evaluation.dominantLabel !== undefined && !minority(evaluation.dominantLabel);
  const minoritiesVanished =
    evaluation.verdict === 'partial_collapse' && evaluation.vanishedLabels.some((l) => minority(l));
  if (!stuckOnMajority && !minoritiesVanished) return null;
  const classWeightUsed = metadata.training.class_weight !== undefined;
  let confidence = clamp01(0.3 + 0.25 * Math.log10(imbalanceRatio));
  if (!inputsLookLikeTraining) confidence *= 0.5; // the inputs explain it better
  if (classWeightUsed) confidence *= 0.4; // the usual cure was already applied
  const what = stuckOnMajority
    ? `answers collapsed onto ${evaluation.dominantLabel}`
    : `minority labels ${evaluation.vanishedLabels.filter(minority).join(', ')} vanished`;
  return {
    kind: 'class_imbalance',
    confidence: round(confidence, 2),
    sentence:
      `Training data is imbalanced ${Math.round(imbalanceRatio)}:1 (${labels.map((l) => `${l} ${counts[l] ?? 0}`).join(', ')})` +
      `${classWeightUsed ? ' although class weights were used' : ' without class weights'}, and the ${what}.`,
    evidence: {
      trainingCounts: Object.fromEntries(labels.map((l) => [l, counts[l] ?? 0])),
      imbalanceRatio: round(imbalanceRatio),
      majorityLabel,
      classWeightUsed,
      dominantLabel: evaluation.dominantLabel ?? null,
      vanishedLabels: evaluation.vanishedLabels,
      inputsLookLikeTraining,
    },
  };
}

function insufficientTraining(metadata: ModelMetadata, evaluation: Evaluation): InsufficientDataDiagnosis | null {
  const implicated =
    evaluation.verdict === 'collapsed'
      ? metadata.labels.filter((l) => l !== evaluation.dominantLabel)
      : evaluation.verdict === 'partial_collapse'
        ? evaluation.vanishedLabels
        : [];
  const features = metadata.features.length;
  const requiredPerLabel = SAMPLES_PER_FEATURE * features;
  const shortLabels = implicated
    .map((label) => ({ label, count: metadata.training.label_counts[label] ?? 0 }))
    .filter((s) => s.count < requiredPerLabel);
  if (shortLabels.length === 0) return null;
  const fewest = Math.min(...shortLabels.map((s) => s.count));
  return {
    kind: 'insufficient_data',
    confidence: round(0.3 + 0.4 * (1 - fewest / requiredPerLabel), 2),
    sentence:
      `Too little training data for ${shortLabels.map((s) => `${s.label} (${s.count} rows)`).join(', ')}: with ` +
      `${features} features each label should have at least ${requiredPerLabel}.`,
    evidence: {
      rule: `every implicated label needs at least ${SAMPLES_PER_FEATURE} training rows per feature`,
      features,
      requiredPerLabel,
      shortLabels,
    },
  };
}

/** Labels with probes that the model never answered, all of them minority labels: imbalance, not degeneracy. */
function onlyMinoritiesMissed(metadata: ModelMetadata, probes: ProbeSummary): boolean {
  if (probes.predictedLabels < 2) return false;
  const counts = metadata.training.label_counts;
  const max = Math.max(...metadata.labels.map((l) => counts[l] ?? 0));
  const missed = [...new Set(metadata.probes.map((p) => p.label))].filter((l) => !(l in probes.predictedCounts));
  return missed.length > 0 && missed.every((l) => (counts[l] ?? 0) * IMBALANCE_RATIO <= max);
}

function degenerateModel(metadata: ModelMetadata, probes: ProbeSummary | null, scalerExplains: boolean): DegenerateModelDiagnosis | null {
  if (!probes || !probesCollapsed(probes) || onlyMinoritiesMissed(metadata, probes)) return null;
  const ratio = probes.trueEntropy > 0 ? probes.predictedEntropy / probes.trueEntropy : 0;
  // Few probes make any verdict on them shaky; a scale problem in training is the likelier root cause.
  let confidence = 0.9 * (1 - ratio) * Math.min(1, probes.probes / 6);
  if (scalerExplains) confidence *= 0.6;
  const answers = Object.entries(probes.predictedCounts)
    .map(([l, c]) => `${l} ${c}`)
    .join(', ');
  return {
    kind: 'degenerate_model',
    confidence: round(clamp01(confidence), 2),
    sentence:
      `The model is degenerate on its own probes: ${probes.probes} probes spanning ${probes.trueLabels} labels were ` +
      `answered ${answers} (accuracy ${Math.round(100 * probes.accuracy)}%).`,
    evidence: {
      ...probes,
      learningRate: metadata.training.learning_rate ?? null,
      hiddenUnits: metadata.training.hidden_units ?? null,
    },
  };
}

/**
 * The inputs moved and the answers followed them: nothing is broken, the traffic changed (a season the baseline does
 * not know, a new customer, an upstream change). It takes four things at once, each the negation of a fault:
 *
 * - a flagged window (the answers moved), not explained by the package's known model defect;
 * - some feature's window mean moved notably, from the training mean or from the recent healthy traffic's (the
 *   windows the trailing baseline holds, `recent`): |shift| ≥ MOVED_STDS (0.5 training stds) even after NOISE_SE (3)
 *   standard errors are taken off, SE = max(window std, training std) / √rows, so a small window's noise never counts
 *   as a move (the larger std: a window narrower than training does not get a narrower interval for it); from the
 *   recent mean, that mean's own standard error (max(its std, training std) / √its rows) adds in quadrature. The
 *   recent traffic is what the labels were judged against: a season moves the inputs from last month's while they
 *   stay near the training year's mean (October's temperatures in Seattle), and measured from training alone such a
 *   page had no cause to show;
 * - the inputs still look like training: no other input-side cause (lost variance, zero rows, missing scaler), and
 *   every feature's rows sit on average within SHIFT_Z training stds of the training mean, √(shift² + stdRatio²) ≤ 3
 *   (the root-mean-square distance; any slice making up at least 1/9 of the training data satisfies it, so a season
 *   of it does, while traffic in other units or with several times the spread does not);
 * - the model is the one that was validated: on its own labelled probes it is not degenerate and, when the package
 *   states its held-out accuracy, it is not worse than that accuracy allows (one-sided exact binomial test at
 *   PROBE_ALPHA). A deterministic model that answers its fixed probes as it did when it was validated has not
 *   changed, so a change in its answers must come from its inputs.
 *
 * Confidence: 0.3 × the strength of the move (its noise-cleared size, capped at one training std), on top of what the
 * probes establish: 0.6 when they pass the accuracy test (0.75–0.9), 0.45 when only their diversity could be checked
 * (0.6–0.75), 0.15 when no probes were run (0.3–0.45: the model itself is unchecked, so a cause about the training
 * data may still be the better one).
 */
function inputShift(
  evaluation: Evaluation,
  metadata: ModelMetadata,
  features: Compared[],
  probes: ProbeSummary | null,
  inputsLookLikeTraining: boolean,
  recent: Readonly<Record<string, InputLevel>>,
): InputShiftDiagnosis | null {
  const flagged = evaluation.verdict === 'collapsed' || evaluation.verdict === 'partial_collapse';
  if (!flagged || evaluation.knownDefect || !inputsLookLikeTraining || probesCollapsed(probes)) return null;
  const compared = features
    .filter((f) => f.expectedStd > 0)
    .map((f) => {
      const shift = (f.observedMean - f.expectedMean) / f.expectedStd;
      const stdRatio = f.observedStd / f.expectedStd;
      const standardError = Math.max(1, stdRatio) / Math.sqrt(f.rows);
      const fromTraining = Math.abs(shift) - NOISE_SE * standardError;
      // A recent level from fewer rows than a window needs to be judged by is no level to measure a move from.
      const kept = own(recent, f.name);
      const level = kept && kept.rows >= MIN_FEATURE_ROWS ? kept : undefined;
      const recentShift = level ? (f.observedMean - level.mean) / f.expectedStd : null;
      const recentError = level ? Math.hypot(standardError, Math.max(1, level.std / f.expectedStd) / Math.sqrt(level.rows)) : 0;
      const fromRecent = recentShift === null ? -Infinity : Math.abs(recentShift) - NOISE_SE * recentError;
      const from: 'training' | 'recent' = fromRecent > fromTraining ? 'recent' : 'training';
      return { f, shift, stdRatio, standardError, recentMean: level?.mean ?? null, recentShift, from, cleared: Math.max(fromTraining, fromRecent) };
    });
  if (compared.some((c) => Math.hypot(c.shift, c.stdRatio) > SHIFT_Z)) return null;
  const moved = compared.filter((c) => c.cleared >= MOVED_STDS).sort((a, b) => b.cleared - a.cleared);
  if (moved.length === 0) return null;
  const accuracy = metadata.training.accuracy;
  const heldOutAccuracy = accuracy !== undefined && accuracy > 0 && accuracy <= 1 ? accuracy : null;
  const answeredRight = probes ? Math.round(probes.accuracy * probes.probes) : 0;
  const probePValue = probes && heldOutAccuracy !== null ? binomialLowerTail(answeredRight, probes.probes, heldOutAccuracy) : null;
  if (probePValue !== null && probePValue < PROBE_ALPHA) return null;
  const strength = Math.min(1, moved[0]!.cleared); // moved is not empty
  const confidence = (probes === null ? 0.15 : probePValue === null ? 0.45 : 0.6) + 0.3 * strength;
  const labels = evaluation.statistics.perLabel
    .filter((l) => l.share !== null && Math.abs(l.share - l.referenceShare) >= LABEL_MOVE)
    .map((l) => ({ label: l.label, share: round(l.share!, 4), baselineShare: round(l.referenceShare, 4) }))
    .sort((a, b) => Math.abs(b.share - b.baselineShare) - Math.abs(a.share - a.baselineShare));
  const pct = (x: number) => `${Math.round(100 * x)}%`;
  const stds = (x: number) => `${x > 0 ? '+' : '−'}${round(Math.abs(x))} training stds`;
  const moves = moved.map((c) =>
    c.from === 'recent'
      ? `${c.f.name} ${stds(c.recentShift!)} from the recent healthy traffic's mean`
      : `${c.f.name} ${stds(c.shift)} from the training mean`,
  );
  const modelWords = !probes
    ? 'no probes were run, so the model itself is unchecked'
    : `it still answers ${answeredRight} of its ${probes.probes} probes right` +
      (heldOutAccuracy !== null ? ` (held-out accuracy ${pct(heldOutAccuracy)})` : ' with varied labels');
  return {
    kind: 'input_shift',
    confidence: round(confidence, 2),
    sentence:
      `The inputs moved, within what the model was trained on: ${moves.join(', ')}; ${modelWords}` +
      (labels.length > 0 ? `; its answers followed (${labels.map((l) => `${l.label} ${pct(l.baselineShare)} → ${pct(l.share)}`).join(', ')}).` : '.'),
    evidence: {
      features: moved.map((c) => ({
        ...strip(c.f),
        shift: round(c.shift),
        stdRatio: round(c.stdRatio),
        standardError: round(c.standardError),
        recentMean: c.recentMean === null ? null : round(c.recentMean, 4),
        recentShift: c.recentShift === null ? null : round(c.recentShift),
        from: c.from,
      })),
      probes,
      heldOutAccuracy,
      probePValue: probePValue === null ? null : round(probePValue),
      labels,
      seasonality: evaluation.baseline.seasonality,
      baselineSource: evaluation.baseline.source,
      baselinePhase: evaluation.baseline.phase ?? null,
    },
  };
}

/**
 * Everything that probably explains this window, most confident first. `probe` is the model's answers on
 * metadata.probes when the caller ran them (it does so for flagged windows). A window with no traffic has nothing to
 * diagnose.
 */
export function diagnose(
  window: WindowCounts,
  evaluation: Evaluation,
  metadata: ModelMetadata,
  probe?: ProbeResult,
  recent: Readonly<Record<string, InputLevel>> = nameRecord(),
): Diagnosis[] {
  if (evaluation.verdict === 'no_traffic') return [];
  const features = compareFeatures(metadata, window);
  const probes = summarizeProbes(metadata, probe);
  const lost = lostVariance(window, features);
  const unscaled = inputsUnscaled(window, features);
  const inputsLookLikeTraining = !lost && !unscaled;
  const trained = trainedUnscaled(metadata, evaluation, probes, inputsLookLikeTraining);
  const found: (Diagnosis | null)[] = [
    lost,
    unscaled,
    trained,
    classImbalance(metadata, evaluation, inputsLookLikeTraining),
    insufficientTraining(metadata, evaluation),
    degenerateModel(metadata, probes, trained !== null),
    inputShift(evaluation, metadata, features, probes, inputsLookLikeTraining && trained === null, recent),
  ];
  return found.filter((d): d is Diagnosis => d !== null).sort((a, b) => b.confidence - a.confidence);
}
