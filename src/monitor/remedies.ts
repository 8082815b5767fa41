// What to change, in a form the retraining webhook can act on and the status page can print: one remedy (or two)
// per diagnosis, computed from the model's own metadata.

import type { ModelMetadata } from '../serving/metadata';
import { HOUR_OF_DAY_FALLBACK, SEASONAL_MIN_PREDICTIONS, type Seasonality, seasonalityFor } from './baseline';
import { phaseWords } from './detector';
import type { DiagnosisKind, Diagnosis, ProbeSummary } from './diagnosis';
import { SAMPLES_PER_FEATURE } from './diagnosis';
import { nameRecord } from './names';

interface RemedyOf<K extends string> {
  kind: K;
  /** The diagnosis this remedy answers. */
  diagnosis: DiagnosisKind;
  /**
   * Set when another diagnosis explains the window with high confidence: this remedy is for after that one is fixed
   * (and only if the problem persists), not something to do beside it.
   */
  after?: DiagnosisKind;
  /** One human sentence. */
  sentence: string;
}

/** Retrain with class weights n / (k · n_c) (scikit-learn's "balanced"), rounded to 4 decimals. */
export interface ClassWeightRemedy extends RemedyOf<'class_weight'> {
  weights: Record<string, number>;
}

/** Retrain on a resampled set: oversample every label to the majority's count. */
export interface ResampleRemedy extends RemedyOf<'resample'> {
  strategy: 'oversample';
  targetPerLabel: number;
  /** Rows to add per label (0 for the majority). */
  addPerLabel: Record<string, number>;
}

/** Standardize inputs as x' = (x − mean) / std with these numbers, in the units the traffic arrives in. */
export interface ScalerRemedy extends RemedyOf<'scaler'> {
  /** 'inputs': apply the scaler before predicting; 'training': retrain on standardized inputs. */
  where: 'inputs' | 'training';
  features: { name: string; mean: number; std: number }[];
}

/** Restore the preprocessing so features arrive with the moments the model expects. */
export interface FixPreprocessingRemedy extends RemedyOf<'fix_preprocessing'> {
  zeroRowShare: number;
  features: { name: string; expectedMean: number; expectedStd: number; observedMean: number; observedStd: number }[];
}

/** Collect more labelled rows for these labels. */
export interface CollectDataRemedy extends RemedyOf<'collect_data'> {
  labels: string[];
  targetPerLabel: number;
  missingPerLabel: Record<string, number>;
}

/** Synthesize rows for these labels until real data arrives. */
export interface AugmentRemedy extends RemedyOf<'augment'> {
  labels: string[];
  /** SMOTE: interpolate between same-label neighbours, suited to numeric tabular features. */
  method: 'smote';
  targetPerLabel: number;
}

/** Retrain with a lower learning rate. */
export interface LearningRateRemedy extends RemedyOf<'learning_rate'> {
  current: number | null;
  suggested: number;
  evidence: ProbeSummary;
}

/** Retrain with more hidden units. */
export interface CapacityRemedy extends RemedyOf<'capacity'> {
  currentHiddenUnits: number | null;
  suggestedHiddenUnits: number;
  evidence: ProbeSummary;
}

/**
 * The model looks healthy and its traffic changed: make the baseline compare like with like (a declared season),
 * or move the model to the new traffic (retrain, or a new version whose reference is its answers on recent rows),
 * or, if nothing should have changed, look upstream at the moved features.
 */
export interface RebaselineRemedy extends RemedyOf<'rebaseline'> {
  /** The seasonality the window was judged with ('none': none declared). */
  seasonality: Seasonality;
  /**
   * The moved features as the window saw them: mean and std in model units, the shift in training stds, and the same
   * moments in raw units (the scaler recent data would give) when the feature has a raw scaler.
   */
  features: { name: string; mean: number; std: number; shift: number; raw: { mean: number; std: number } | null }[];
}

export type Remedy =
  | ClassWeightRemedy
  | ResampleRemedy
  | ScalerRemedy
  | FixPreprocessingRemedy
  | CollectDataRemedy
  | AugmentRemedy
  | LearningRateRemedy
  | CapacityRemedy
  | RebaselineRemedy;


/** A diagnosis this confident explains the window on its own: the other remedies are listed as "after fixing it". */
export const DECISIVE_CONFIDENCE = 0.85;
/** How a remedy that waits for the decisive diagnosis's fix begins. */
const AFTER_WORDS: Record<DiagnosisKind, string> = {
  scaler_missing: 'After fixing the scaler, if it persists: ',
  preprocessing_lost_variance: 'After fixing the input pipeline, if it persists: ',
  class_imbalance: 'After fixing the class imbalance, if it persists: ',
  insufficient_data: 'After fixing the training data, if it persists: ',
  degenerate_model: 'After fixing the model, if it persists: ',
  input_shift: 'If it persists once the baseline compares like with like: ',
};

/** Adam's customary default, suggested when the training learning rate is unknown. */
const DEFAULT_LEARNING_RATE = 0.001;
const DEFAULT_HIDDEN_UNITS = 32;

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
// Four significant digits; float dust around 0 (a standardized mean of 1e-15) prints as 0.
const round4sig = (x: number) => Number(x.toPrecision(4));
const fmt = (x: number) => String(Math.abs(x) < 1e-9 ? 0 : round4sig(x));

/**
 * Class weights n / (k · n_c) from training counts: each label then carries the same total weight. Labels with no
 * training rows get none (no weight can create examples that do not exist).
 */
export function balancedClassWeights(labelCounts: Record<string, number>, labels: readonly string[]): Record<string, number> {
  const n = labels.reduce((s, l) => s + (labelCounts[l] ?? 0), 0);
  const k = labels.length;
  const weights: Record<string, number> = nameRecord();
  for (const l of labels) {
    const c = labelCounts[l] ?? 0;
    if (c > 0) weights[l] = round4(n / (k * c));
  }
  return weights;
}

function forClassImbalance(metadata: ModelMetadata): Remedy[] {
  const { labels } = metadata;
  const counts = metadata.training.label_counts;
  const weights = balancedClassWeights(counts, labels);
  const target = Math.max(...labels.map((l) => counts[l] ?? 0));
  const addPerLabel = Object.fromEntries(labels.map((l) => [l, target - (counts[l] ?? 0)]));
  // A model trained with class weights already does not need to be told to use them: resampling is what is left.
  const weighted = metadata.training.class_weight !== undefined;
  return [
    ...(weighted ? [] : [{
      kind: 'class_weight',
      diagnosis: 'class_imbalance',
      weights,
      sentence: `Retrain with class_weight ${Object.entries(weights)
        .map(([l, w]) => `${l}: ${w}`)
        .join(', ')} (n / (k · n_c) from the training counts).`,
    } satisfies ClassWeightRemedy]),
    {
      kind: 'resample',
      diagnosis: 'class_imbalance',
      strategy: 'oversample',
      targetPerLabel: target,
      addPerLabel,
      sentence: `${weighted ? 'Class weights were already used: oversample' : 'Or oversample'} every label to ${target} training rows (${labels
        .filter((l) => (addPerLabel[l] ?? 0) > 0)
        .map((l) => `+${addPerLabel[l]} ${l}`)
        .join(', ')}).`,
    },
  ];
}

function forScaler(metadata: ModelMetadata, diagnosis: Extract<Diagnosis, { kind: 'scaler_missing' }>): Remedy[] {
  if (diagnosis.evidence.cause === 'trained_unscaled') {
    // The model consumes raw units, so the training features' own moments are the scaler to train with.
    const features = metadata.features.map((f) => ({ name: f.name, mean: f.mean, std: f.std }));
    return [
      {
        kind: 'scaler',
        diagnosis: 'scaler_missing',
        where: 'training',
        features,
        sentence: `Retrain on standardized inputs (x − mean) / std with ${features
          .map((f) => `${f.name} ${fmt(f.mean)}/${fmt(f.std)}`)
          .join(', ')}, and apply the same scaler when serving.`,
      },
    ];
  }
  // Traffic arrives raw: quote the raw training scaler; for a feature without one, the window's own moments are the
  // best estimate of what the traffic's units are.
  const observed = new Map(diagnosis.evidence.features.map((f) => [f.name, f]));
  const features = metadata.features.map((f) =>
    f.raw
      ? { name: f.name, mean: f.raw.mean, std: f.raw.std }
      : observed.has(f.name)
        ? { name: f.name, mean: observed.get(f.name)!.observedMean, std: observed.get(f.name)!.observedStd || 1 }
        : { name: f.name, mean: 0, std: 1 },
  );
  return [
    {
      kind: 'scaler',
      diagnosis: 'scaler_missing',
      where: 'inputs',
      features,
      sentence: `Standardize inputs before predicting, (x − mean) / std with ${features
        .map((f) => `${f.name} ${fmt(f.mean)}/${fmt(f.std)}`)
        .join(', ')}.`,
    },
  ];
}

function forLostVariance(diagnosis: Extract<Diagnosis, { kind: 'preprocessing_lost_variance' }>): Remedy[] {
  const { features, zeroRowShare } = diagnosis.evidence;
  const listed = features.map(({ stdRatio: _ratio, ...f }) => f);
  return [
    {
      kind: 'fix_preprocessing',
      diagnosis: 'preprocessing_lost_variance',
      zeroRowShare,
      features: listed,
      sentence: `Fix the input pipeline so features arrive with their expected spread (${listed
        .map((f) => `${f.name} mean ${fmt(f.expectedMean)} std ${fmt(f.expectedStd)}, seen ${fmt(f.observedMean)}/${fmt(f.observedStd)}`)
        .join('; ')})${zeroRowShare > 0 ? `; ${Math.round(100 * zeroRowShare)}% of rows arrived as all zeros` : ''}.`,
    },
  ];
}

function forInsufficientData(diagnosis: Extract<Diagnosis, { kind: 'insufficient_data' }>): Remedy[] {
  const { shortLabels, requiredPerLabel } = diagnosis.evidence;
  const labels = shortLabels.map((s) => s.label);
  const missingPerLabel = Object.fromEntries(shortLabels.map((s) => [s.label, requiredPerLabel - s.count]));
  return [
    {
      kind: 'collect_data',
      diagnosis: 'insufficient_data',
      labels,
      targetPerLabel: requiredPerLabel,
      missingPerLabel,
      sentence: `Collect at least ${requiredPerLabel} labelled rows per label (${shortLabels
        .map((s) => `+${requiredPerLabel - s.count} ${s.label}`)
        .join(', ')}; ${SAMPLES_PER_FEATURE} per feature).`,
    },
    {
      kind: 'augment',
      diagnosis: 'insufficient_data',
      labels,
      method: 'smote',
      targetPerLabel: requiredPerLabel,
      sentence: `Meanwhile synthesize rows for ${labels.join(', ')} with SMOTE up to ${requiredPerLabel} each.`,
    },
  ];
}

function forDegenerateModel(diagnosis: Extract<Diagnosis, { kind: 'degenerate_model' }>): Remedy[] {
  const { learningRate, hiddenUnits, ...probes } = diagnosis.evidence;
  // A net that answers one label on varied inputs has usually diverged or died (too high a rate) or cannot
  // represent the boundary (too few units); both are cheap to try.
  const suggestedRate = learningRate ? Number((learningRate / 10).toPrecision(2)) : DEFAULT_LEARNING_RATE;
  const suggestedUnits = hiddenUnits ? hiddenUnits * 2 : DEFAULT_HIDDEN_UNITS;
  return [
    {
      kind: 'learning_rate',
      diagnosis: 'degenerate_model',
      current: learningRate,
      suggested: suggestedRate,
      evidence: probes,
      sentence: `Retrain with learning rate ${suggestedRate}${learningRate ? ` instead of ${learningRate}` : ''}: the model answers ${probes.predictedLabels} label(s) on ${probes.probes} probes spanning ${probes.trueLabels}.`,
    },
    {
      kind: 'capacity',
      diagnosis: 'degenerate_model',
      currentHiddenUnits: hiddenUnits,
      suggestedHiddenUnits: suggestedUnits,
      evidence: probes,
      sentence: `If that is not enough, give it ${suggestedUnits} hidden units${hiddenUnits ? ` instead of ${hiddenUnits}` : ''}.`,
    },
  ];
}

/** Each seasonality's phase, as the sentence names it (baseline.ts SEASONS). */
const PHASE_WORDS = { yearly: 'week of year', weekly: 'hour of week', daily: 'hour of day' } as const;
type Cycle = keyof typeof PHASE_WORDS;
/** The cycles longer than each, which a season of the features may follow instead. */
const LONGER_CYCLES: Record<Seasonality, Cycle[]> = { none: [], daily: ['weekly', 'yearly'], weekly: ['yearly'], yearly: [] };

/**
 * The input_shift remedy. `windowSeconds`: the model's window length; a cycle no longer than a window has no phase a
 * window could be compared at (baseline.ts seasonalityFor judges such traffic as `none`), so the remedy names only the
 * cycles longer than a window: declaring "daily" for day-long windows would change nothing, and the page would come
 * again. Null: no window (a package's model defect), every cycle.
 */
function forInputShift(metadata: ModelMetadata, diagnosis: Extract<Diagnosis, { kind: 'input_shift' }>, windowSeconds: number | null): Remedy[] {
  const { seasonality, baselineSource, baselinePhase } = diagnosis.evidence;
  const specs = new Map(metadata.features.map((f) => [f.name, f]));
  const words: string[] = [];
  const features = diagnosis.evidence.features.map((f) => {
    const scaler = specs.get(f.name)?.raw;
    const raw = scaler ? { mean: round4sig(scaler.mean + f.observedMean * scaler.std), std: round4sig(f.observedStd * scaler.std) } : null;
    // In the units a person knows the feature in: raw when there is a raw scaler. A move from the recent traffic
    // (a season) names the recent mean too: the training one alone would not show it.
    const inUnits = (modelUnits: number) => (scaler ? round4sig(scaler.mean + modelUnits * scaler.std) : modelUnits);
    const recent = f.from === 'recent' && f.recentMean !== null ? `recently ${fmt(inUnits(f.recentMean))}, ` : '';
    words.push(
      raw && scaler
        ? `${f.name} ${fmt(raw.mean)} ± ${fmt(raw.std)} (${recent}training ${fmt(scaler.mean)} ± ${fmt(scaler.std)})`
        : `${f.name} ${fmt(f.observedMean)} ± ${fmt(f.observedStd)} (${recent}training ${fmt(f.expectedMean)} ± ${fmt(f.expectedStd)})`,
    );
    return { name: f.name, mean: f.observedMean, std: f.observedStd, shift: f.shift, raw };
  });
  const moved = words.join(', ');
  const byHand = 'resolve this incident by hand (POST /v1/incidents/{id}/resolve)';
  const comparable = (c: Cycle) => windowSeconds === null || seasonalityFor(c, windowSeconds) === c;
  const cycles = (Object.keys(PHASE_WORDS) as Cycle[]).filter(comparable);
  const cycle =
    seasonality === 'none'
      ? cycles.length === 0
        ? ''
        : ` A known cycle: set monitor.seasonality to the one these features follow (${cycles.map((s) => `"${s}": by ${PHASE_WORDS[s]}`).join(', ')}), then ${byHand}.`
      : baselinePhase
        ? // The phase the window was held against, named: it judged it, or fit it even less than the recent traffic.
          ` monitor.seasonality is "${seasonality}" and ${phaseWords(baselinePhase, seasonality)}, did not look like this${baselineSource === 'seasonal' ? '' : ' either'}: if the season is merely unusual, ${byHand}.`
        : baselineSource === 'seasonal' // a diagnosis stored before the phase was kept
          ? ` monitor.seasonality is "${seasonality}" and earlier cycles at this ${PHASE_WORDS[seasonality]}${HOUR_OF_DAY_FALLBACK.includes(seasonality) ? ` (in its first week: this ${PHASE_WORDS.daily})` : ''} did not look like this: if the season is merely unusual, ${byHand}.`
          : ` monitor.seasonality is "${seasonality}", but no earlier cycle has ${SEASONAL_MIN_PREDICTIONS} predictions at this ${PHASE_WORDS[seasonality]} yet: if it is the season, ${byHand}.`;
  // The default is a short cycle ("weekly"): a page on a season of months must still say how to declare one.
  const longer = LONGER_CYCLES[seasonality].filter(comparable);
  const longerWords =
    longer.length === 0
      ? ''
      : ` A longer cycle: set monitor.seasonality to ${longer.map((s) => `"${s}" (by ${PHASE_WORDS[s]})`).join(' or ')}.`;
  return [
    {
      kind: 'rebaseline',
      diagnosis: 'input_shift',
      seasonality,
      features,
      sentence:
        `The model looks healthy; its traffic changed: ${moved}.${cycle}${longerWords} Here to stay: resolve it with ` +
        `{"rebaseline": true} to adopt this traffic as the model's normal now; then retrain on recent data, or bump ` +
        `the version with a reference from recent rows (npm run stats -- --model-dir models/${metadata.name} --csv ` +
        `recent.csv). Not expected: look upstream at what feeds ${features.map((f) => f.name).join(', ')} (a new filter or source of rows).`,
    },
  ];
}

/**
 * The remedies for these diagnoses, in the diagnoses' order (most confident first), at most one remedy of each kind.
 * They depend only on the diagnoses (which carry the window's numbers they need), the model's metadata and its window
 * length (`windowSeconds`; null for remedies that are for no window, a package's model defect): a remedy never names a
 * seasonality no longer than a window, which the detector would judge as none.
 */
export function remedies(diagnoses: readonly Diagnosis[], metadata: ModelMetadata, windowSeconds: number | null): Remedy[] {
  const out: Remedy[] = [];
  // One cause that explains the window with high confidence comes first; the others' remedies wait for its fix.
  const decisive = diagnoses[0] && diagnoses[0].confidence >= DECISIVE_CONFIDENCE ? diagnoses[0].kind : undefined;
  for (const d of diagnoses) {
    const proposed =
      d.kind === 'class_imbalance'
        ? forClassImbalance(metadata)
        : d.kind === 'scaler_missing'
          ? forScaler(metadata, d)
          : d.kind === 'preprocessing_lost_variance'
            ? forLostVariance(d)
            : d.kind === 'insufficient_data'
              ? forInsufficientData(d)
              : d.kind === 'input_shift'
                ? forInputShift(metadata, d, windowSeconds)
                : forDegenerateModel(d);
    for (const r of proposed) {
      if (out.some((o) => o.kind === r.kind)) continue;
      out.push(decisive && r.diagnosis !== decisive ? { ...r, after: decisive, sentence: `${AFTER_WORDS[decisive]}${r.sentence}` } : r);
    }
  }
  return out;
}
