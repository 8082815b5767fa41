// The verdict on one closed window of a model version, given everything the detector remembers about that version
// (MonitorState): has the model's answering collapsed onto one label, or lost labels it normally gives?
//
// Decision rule (docs/detection.md has the reasoning and the benchmark):
//  - the baseline is what this model normally answers: its held-out outputs, then its own healthy production history
//    (trailing, or at the same phase of previous cycles), with its sampling error and its overdispersion;
//  - per label, CUSUMs of binomial log-likelihood ratios accumulate evidence across windows, up ("half the answers
//    became this label") and down ("this label kept a quarter of its share"), scaled by the quasi-likelihood
//    dispersion so that overdispersed healthy traffic does not fake evidence;
//  - a CUSUM crossing h, set from the false-page budget per model and year, flags the window; a window whose
//    accumulated predictions could not yet have shown even a total collapse is insufficient_data;
//  - a decided window whose trailing mix moved far from the package's reference is drift: shown, never paged.

import { clock, MONTHS, percent } from '../format';
import type { ModelMetadata } from '../serving/metadata';
import { DEFECT_ALPHA, modelDefect } from './defect';
import {
  type Baseline,
  type BaselinePhase,
  type BaselineSource,
  baselineOf,
  compatibleState,
  learn,
  type MonitorState,
  type PackageReference,
  DEFAULT_SEASONALITY,
  type Seasonality,
  seasonalityFor,
} from './baseline';
import { binomialLowerTail, binomialUpperTail } from './binomial';
import { chiSquareTest, type FitTest, gTest, jensenShannonDistance, normalizedEntropy, proportions } from './distribution';
import { countOf } from './names';
import type { LabelCounts } from './reference';
import { inputMoments, type WindowCounts } from './window';
import {
  binomialLogLikelihoodRatio,
  COLLAPSE_MIX,
  collapseAlternative,
  cusumStep,
  TOTAL_MIX,
  cusumThreshold,
  dispersion,
  FAR_BELOW,
  predictionsToDecide,
  RARE_SHARE,
  SECONDS_PER_YEAR,
  vanishAlternative,
} from './sequential';

export type Verdict = 'healthy' | 'drift' | 'collapsed' | 'partial_collapse' | 'insufficient_data' | 'no_traffic';

/** False pages per model and year when neither the deployment (FALSE_PAGE_BUDGET) nor the model says otherwise. */
export const DEFAULT_FALSE_PAGE_BUDGET = 1;
/** Fewest accumulated predictions before a window is called healthy (the collapse-detectability rule may ask for more). */
export const DEFAULT_MIN_PREDICTIONS = 30;
/** The trailing mix this far (Jensen–Shannon distance, base 2) from the package's reference is drift. */
export const DRIFT_DISTANCE = 0.1;
/**
 * CUSUMs are capped at h itself: once a statistic reached the threshold, each further window keeps the flag only if
 * its own evidence still points at the collapse (a positive increment), and the first window that looks more like the
 * baseline than like the collapse clears it. A cap higher up would hold a recovered model flagged for windows.
 */
export const CUSUM_CAP = 1;

/** Everything the detector needs to know about a model version besides its history. */
export interface DetectorSettings {
  labels: readonly string[];
  /** Input feature names, in the model's order: the recent inputs the state keeps for the diagnosis (baseline.ts). */
  features: readonly string[];
  reference: PackageReference;
  /**
   * The package's model defect (defect.ts), if any: its held-out answers already collapsed onto `dominant` or lost
   * `vanished`. Its evidence starts those labels' CUSUMs at the threshold, and windows that show only it are
   * `knownDefect` (reported once as a model_defect incident, not paged again).
   */
  defect: { dominant: string | null; vanished: string[] } | null;
  windowSeconds: number;
  /** False pages allowed per model and year. */
  falsePageBudget: number;
  minPredictions: number;
  seasonality: Seasonality;
}

export interface DetectorDefaults {
  windowSeconds: number;
  falsePageBudget?: number;
  minPredictions?: number;
  seasonality?: Seasonality;
}

/**
 * The package's reference: the model's own predicted label counts on held-out rows when the package carries them
 * (`reference.label_counts`), else the training labels (a weaker stand-in: a model does not answer its training mix).
 * A package whose held-out answers show a model defect is not taken at its word: its training labels are the
 * reference, so the defect stays visible in every window instead of being adopted as normal.
 */
export function packageReference(metadata: ModelMetadata, defect: Evaluation | null = modelDefect(metadata)): PackageReference {
  const own = metadata.reference?.label_counts;
  if (own && !defect) return { counts: metadata.labels.map((l) => countOf(own, l)), source: 'held_out_predictions' };
  return { counts: metadata.labels.map((l) => countOf(metadata.training.label_counts, l)), source: 'training_labels' };
}

/** The settings that apply to one model: metadata.monitor wins over the deployment's defaults, which win over ours. */
export function detectorSettings(metadata: ModelMetadata, defaults: DetectorDefaults): DetectorSettings {
  const defect = modelDefect(metadata);
  const windowSeconds = metadata.monitor?.window_seconds ?? defaults.windowSeconds;
  const settings: DetectorSettings = {
    labels: metadata.labels,
    features: metadata.features.map((f) => f.name),
    reference: packageReference(metadata, defect),
    defect: defect && { dominant: defect.dominantLabel ?? null, vanished: defect.vanishedLabels },
    windowSeconds,
    falsePageBudget: metadata.monitor?.false_page_budget ?? defaults.falsePageBudget ?? DEFAULT_FALSE_PAGE_BUDGET,
    minPredictions: metadata.monitor?.min_predictions ?? defaults.minPredictions ?? DEFAULT_MIN_PREDICTIONS,
    seasonality: seasonalityFor(metadata.monitor?.seasonality ?? defaults.seasonality ?? DEFAULT_SEASONALITY, windowSeconds),
  };
  if (!(settings.falsePageBudget > 0)) throw new RangeError(`false-page budget must be > 0, got ${settings.falsePageBudget}`);
  if (!(settings.minPredictions >= 1)) throw new RangeError(`minPredictions must be >= 1, got ${settings.minPredictions}`);
  return settings;
}

/**
 * The collapse the up statistic is tuned to, as the share a label with baseline share `referenceShare` would take:
 * half of all answers turned into it. Windows above it add evidence of a collapse. The status page draws it.
 */
export const collapseThreshold = collapseAlternative;

export interface LabelStatistics {
  label: string;
  count: number;
  /** count / n; null when n = 0. */
  share: number | null;
  /** The label's share in the baseline this window was judged against. */
  referenceShare: number;
  /** √τ²: how far healthy windows' shares scatter around the baseline beyond binomial noise. */
  scatter: number;
  /** P[X ≤ count] for X ~ Bin(n, referenceShare) (reported; the verdict uses the CUSUMs). */
  pLow: number;
  /** P[X ≥ count] (reported). */
  pHigh: number;
  /** The label-takes-over CUSUM after this window, in units of the threshold (capped at 1; 1 flags). */
  up: number;
  /** The label-vanishes CUSUM after this window, in units of the threshold (1 flags); null for labels not watched. */
  down: number | null;
}

export interface WindowStatistics {
  topLabel: string | null;
  topShare: number | null;
  /** H / ln k over the k labels of the model, in [0, 1]. */
  normalizedEntropy: number | null;
  /** Jensen–Shannon distance (base 2) between the window's shares and the baseline. */
  jsDistance: number | null;
  /** Pearson chi-square goodness of fit to the baseline (reported). */
  chiSquare: FitTest | null;
  /** G-test goodness of fit to the baseline (reported). */
  gTest: FitTest | null;
  perLabel: LabelStatistics[];
}

/** The label mix drifted from the package's reference: slowly, within what the baseline follows. Never paged. */
export interface Drift {
  /** Jensen–Shannon distance (base 2) of the trailing production mix from the package's reference. */
  distance: number;
  /** Labels whose share moved most, largest move first. */
  labels: { label: string; share: number; reference: number }[];
}

/** The verdict on one window with its numbers. JSON-safe: no Infinity, NaN or undefined values inside arrays. */
export interface Evaluation {
  verdict: Verdict;
  n: number;
  statistics: WindowStatistics;
  /**
   * In a flagged window, every watched label that vanished or fell far below its baseline share: those whose down
   * CUSUM crossed the threshold, and those this window alone puts below a quarter of their share, beyond chance
   * (judgeWindow says why). Empty when no statistic is at the threshold. Naming a label decides nothing: a
   * partial_collapse still needs a down CUSUM at the threshold (perLabel[].down = 1).
   */
  vanishedLabels: string[];
  /** The label the answers collapsed onto (verdict collapsed only). */
  dominantLabel?: string;
  /** The per-window false-alarm bound the threshold implies: window length over the budget's period. */
  alpha: number;
  /** The configured minimum. */
  minPredictions: number;
  /** Accumulated predictions a window needs to be decided: max(minPredictions, what a total collapse needs). */
  requiredPredictions: number;
  baseline: {
    source: BaselineSource;
    /** Effective predictions behind the baseline. */
    predictions: number;
    seasonality: Seasonality;
    /**
     * The seasonal phase the window was held against (baseline.ts Baseline.phase): it judged the window when `source`
     * is 'seasonal'; with 'trailing' it was known but fit the window less well; null when no phase held enough yet.
     * Absent in evaluations stored before it was kept.
     */
    phase?: BaselinePhase | null;
  };
  evidence: {
    /** The CUSUM threshold h (natural log units). */
    threshold: number;
    falsePageBudget: number;
    /** Predictions accumulated towards a decision, this window included (0 after a decided window). */
    accumulated: number;
  };
  drift: Drift | null;
  /** The flag shows nothing but the package's own model defect (already reported once; it does not page again). */
  knownDefect: boolean;
  /** One human sentence. */
  reason: string;
}

const listLabels = (labels: string[]) =>
  labels.length <= 1 ? labels.join('') : `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
const finiteOrMax = (x: number) => (Number.isFinite(x) ? x : Number.MAX_SAFE_INTEGER);
const BASELINE_WORDS: Record<BaselineSource, string> = {
  seasonal: 'its own history at this phase of previous cycles',
  trailing: 'its own recent healthy history',
  held_out_predictions: "the model's own answers on held-out rows",
  training_labels: 'the training labels (the package has no held-out predictions)',
};

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const CYCLE_NAMES: Record<BaselinePhase['kind'], [string, string]> = { hour_of_week: ['week', 'weeks'], hour_of_day: ['day', 'days'], week_of_year: ['year', 'years'] };
/** The hour of day a phase starts or ends at; its end at midnight is 24:00. */
const hourOf = (t: number, end = false) => {
  const hm = clock(t);
  return end && hm === '00:00' ? '24:00' : hm;
};
const dayOf = (t: number) => new Date(t * 1000).getUTCDay();
const dateOf = (t: number) => {
  const d = new Date(t * 1000);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
};

/**
 * A phase in words, with the cycles and predictions it rests on: "Saturdays 13:00–16:00 UTC of the 3 weeks before
 * 2,400 predictions". The span is the window's hour and the hours either side, as the baseline sums them.
 */
export function phaseWords(p: BaselinePhase, seasonality: Seasonality): string {
  const [one, many] = CYCLE_NAMES[p.kind];
  const before = p.cycles === null ? `of earlier ${many}` : p.cycles === 1 ? `of the ${one} before` : `of the ${p.cycles} ${many} before`;
  const predictions = `${Math.round(p.predictions).toLocaleString('en-US')} predictions`;
  switch (p.kind) {
    case 'hour_of_week': {
      const span =
        dayOf(p.from) === dayOf(p.to - 1)
          ? `${WEEKDAYS[dayOf(p.from)]}s ${hourOf(p.from)}–${hourOf(p.to, true)} UTC`
          : `${WEEKDAYS[dayOf(p.from)]}s ${hourOf(p.from)} to ${WEEKDAYS[dayOf(p.to)]}s ${hourOf(p.to)} UTC`;
      return `${span} ${before}, ${predictions}`;
    }
    case 'hour_of_day': {
      // A weekly model's hour of day stands in until the hour of the week has an earlier week (HOUR_OF_DAY_FALLBACK).
      const standIn = seasonality === 'weekly' ? ', standing in until earlier weeks hold enough at this hour of the week' : '';
      return `${hourOf(p.from)}–${hourOf(p.to, true)} UTC ${before}, ${predictions}${standIn}`;
    }
    case 'week_of_year':
      return `${dateOf(p.from)} – ${dateOf(p.to - 1)} ${before}, ${predictions}`;
  }
}

const NO_PHASE_YET: Record<Seasonality, string> = {
  none: '',
  daily: 'no earlier day holds enough predictions at this hour yet',
  weekly: 'no earlier day or week holds enough predictions at this hour yet',
  yearly: 'no earlier year holds enough predictions at this time of year yet',
};

/**
 * What a window was compared with, in words: the phase of earlier cycles that judged it, or the trailing level and
 * why not a phase (`why`: a phase that fit the answers less well, none known yet), or the package. An evaluation
 * stored before the phase was kept says what its source says.
 */
export function comparedWith(b: Evaluation['baseline'], why = true): string {
  if (b.source === 'seasonal' && b.phase) return phaseWords(b.phase, b.seasonality);
  if (b.source !== 'trailing' || !why || b.phase === undefined) return BASELINE_WORDS[b.source];
  if (b.phase) return `${BASELINE_WORDS.trailing}, which fit these answers better than ${phaseWords(b.phase, b.seasonality)}`;
  return NO_PHASE_YET[b.seasonality] ? `${BASELINE_WORDS.trailing}; ${NO_PHASE_YET[b.seasonality]}` : BASELINE_WORDS.trailing;
}

function driftOf(state: MonitorState, baseline: Baseline, settings: DetectorSettings): Drift | null {
  if (baseline.trailingPredictions < settings.minPredictions) return null;
  const trailing = proportions(baseline.shares.map((_, i) => state.trailing[i]!));
  const reference = proportions(settings.reference.counts);
  if (reference.some((x) => !Number.isFinite(x))) return null;
  const distance = jensenShannonDistance(trailing, reference);
  if (!(distance >= DRIFT_DISTANCE)) return null;
  const labels = settings.labels
    .map((label, i) => ({ label, share: trailing[i]!, reference: reference[i]! }))
    .sort((a, b) => Math.abs(b.share - b.reference) - Math.abs(a.share - a.reference))
    .slice(0, 3);
  return { distance, labels };
}

/** A fresh state whose CUSUMs already hold the package's defect. */
function withDefect(state: MonitorState, labels: readonly string[], defect: NonNullable<DetectorSettings['defect']>, h: number): MonitorState {
  const at = (xs: number[], names: readonly string[]) => xs.map((s, i) => (names.includes(labels[i]!) ? h : s));
  const dominant = defect.dominant === null ? [] : [defect.dominant];
  return { ...state, up: at(state.up, dominant), total: at(state.total, dominant), down: at(state.down, defect.vanished) };
}

/**
 * Whether a flag implicates only what the package's model defect already says. `crossed` are the labels whose own
 * down statistic crossed h, not every label the window names as vanished: what decides a page stays a decision of
 * the statistics, so a defect window that also names a label that merely fell does not start paging.
 */
function onlyDefect(defect: DetectorSettings['defect'], takingOver: string[], crossed: string[]): boolean {
  if (!defect) return false;
  return takingOver.every((l) => l === defect.dominant) && crossed.every((l) => defect.vanished.includes(l) || l === defect.dominant);
}

/**
 * Judges the window of `counts` starting at `windowStart` and folds it into `state` (null: nothing seen yet).
 * Windows must come in order; a window no later than one already folded is judged but leaves the state as it was.
 * Only labels in settings.labels count; n is the sum of their counts.
 */
export function judgeWindow(
  previous: MonitorState | null,
  counts: LabelCounts & { features?: WindowCounts['features'] },
  windowStart: number,
  settings: DetectorSettings,
): { evaluation: Evaluation; state: MonitorState } {
  const { labels, minPredictions } = settings;
  const k = labels.length;
  const state = compatibleState(previous, k, settings.seasonality);
  const replay = state.lastWindowStart !== null && windowStart <= state.lastWindowStart;
  const observed = labels.map((l) => countOf(counts.labelCounts, l));
  const baseline = baselineOf(state, settings.reference, settings.seasonality, windowStart, settings.windowSeconds, observed);
  const ref = baseline.shares;
  const n = observed.reduce((s, c) => s + c, 0);

  const h = cusumThreshold(settings.falsePageBudget, settings.windowSeconds, 3 * k);
  // Rare labels may be absent for long stretches; a defective package's missing labels are watched whatever their share.
  const watchedDown = ref.map((p, i) => p >= RARE_SHARE || (settings.defect?.vanished.includes(labels[i]!) ?? false));
  // A defective package's held-out answers are evidence already: they start its labels' CUSUMs at the threshold.
  // A version's first window: nothing judged yet (a state it inherited holds seasons only, baseline.ts inheritedState).
  const start = (previous === null || previous.lastWindowStart === null) && settings.defect ? withDefect(state, labels, settings.defect, h) : state;
  const upStep = (s: number, i: number, mix: number) => {
    if (n === 0) return s;
    const llr = binomialLogLikelihoodRatio(observed[i]!, n, ref[i]!, collapseAlternative(ref[i]!, mix));
    return cusumStep(s, llr / dispersion(n, ref[i]!, baseline.size, baseline.tau2[i]!), CUSUM_CAP * h);
  };
  const up = start.up.map((s, i) => upStep(s, i, COLLAPSE_MIX));
  const total = start.total.map((s, i) => upStep(s, i, TOTAL_MIX));
  const down = start.down.map((s, i) => {
    if (n === 0 || !watchedDown[i]) return watchedDown[i] ? s : 0;
    const llr = binomialLogLikelihoodRatio(observed[i]!, n, ref[i]!, vanishAlternative(ref[i]!));
    return cusumStep(s, llr / dispersion(n, ref[i]!, baseline.size, baseline.tau2[i]!), CUSUM_CAP * h);
  });
  const upAny = up.map((s, i) => Math.max(s, total[i]!));

  // Decided once the accumulated predictions could show a total collapse onto any label the budget can show one onto
  // at all: the hardest of those, usually the most common label. A label that already holds nearly all of the
  // baseline (a model whose normal is one answer, such as traffic adopted by a rebaseline) has no collapse left to
  // show; waiting for one would leave every later window undecided, so the next hardest label sets the count.
  const toDecide = ref.map((p, i) => predictionsToDecide(p, h, baseline.size, baseline.tau2[i]!));
  const mostCommon = ref.indexOf(Math.max(...ref));
  let top = -1;
  toDecide.forEach((x, i) => {
    if (Number.isFinite(x) && (top < 0 || x > toDecide[top]!)) top = i;
  });
  if (top < 0) top = mostCommon;
  // A decided window's reason names it: healthy says nothing about a collapse onto it.
  const blindTo = Number.isFinite(toDecide[mostCommon]!)
    ? ''
    : ` A collapse onto ${labels[mostCommon]} (normal ${percent(ref[mostCommon]!)}) could not be told from chance here.`;
  const requiredPredictions = Math.max(minPredictions, finiteOrMax(toDecide[top]!));
  const perLabel: LabelStatistics[] = labels.map((label, i) => ({
    label,
    count: observed[i]!,
    share: n > 0 ? observed[i]! / n : null,
    referenceShare: ref[i]!,
    scatter: Math.sqrt(baseline.tau2[i]!),
    pLow: binomialLowerTail(observed[i]!, n, ref[i]!),
    pHigh: binomialUpperTail(observed[i]!, n, ref[i]!),
    up: upAny[i]! / h,
    down: watchedDown[i] ? down[i]! / h : null,
  }));

  let topIndex = 0;
  for (let i = 1; i < k; i++) if (observed[i]! > observed[topIndex]!) topIndex = i;
  const statistics: WindowStatistics =
    n === 0
      ? { topLabel: null, topShare: null, normalizedEntropy: null, jsDistance: null, chiSquare: null, gTest: null, perLabel }
      : {
          topLabel: labels[topIndex]!,
          topShare: observed[topIndex]! / n,
          normalizedEntropy: normalizedEntropy(observed),
          jsDistance: jensenShannonDistance(observed, ref),
          chiSquare: chiSquareTest(observed, ref),
          gTest: gTest(observed, ref),
          perLabel,
        };

  const takingOver = labels.map((_, i) => i).filter((i) => upAny[i]! >= h).sort((a, b) => upAny[b]! - upAny[a]!);
  const crossedDown = labels.map((_, i) => i).filter((i) => watchedDown[i] && down[i]! >= h);
  const flagged = takingOver.length > 0 || crossedDown.length > 0;
  // The flag, the verdict and knownDefect rest on the statistics that crossed h alone; the labels a flagged window
  // names as vanished describe it and decide nothing. Naming only the crossed ones would tell on-call the others are
  // fine: with all 400 answers Gentoo, Chinstrap's down statistic is still short of h (one window's evidence is
  // divided by the package baseline's own uncertainty), and "Adelie vanished" alone reads as "Chinstrap is fine".
  // So a flagged window also names each watched label that this window by itself shows vanished, by the rule that
  // names the labels a package's held-out answers lack (defect.ts): below a quarter of its baseline share (FAR_BELOW,
  // what the down statistic calls vanished; a label that kept half of its share while another took over is not named
  // by its count, however many predictions show it), at a count less likely than DEFECT_ALPHA had it kept its share
  // (exact binomial lower tail, pLow). Not `alpha`: that bound spreads the false-page budget over every window of a
  // year, while names are given only in windows already flagged; at 60-s windows it would leave a label unnamed at
  // 0 of 50 answers where about 10 are normal.
  const fellInWindow = (i: number) =>
    watchedDown[i] && n > 0 && observed[i]! < FAR_BELOW * ref[i]! * n && perLabel[i]!.pLow < DEFECT_ALPHA;
  const vanished = flagged
    ? labels
        .map((_, i) => i)
        .filter((i) => crossedDown.includes(i) || fellInWindow(i))
        .sort((a, b) => down[b]! - down[a]!)
    : [];
  const pending = n === 0 || flagged ? state.pending : state.pending + n;
  const decided = !flagged && n > 0 && pending >= requiredPredictions;
  const drift = decided ? driftOf(state, baseline, settings) : null;

  const base = {
    n,
    statistics,
    alpha: Math.min(1, settings.windowSeconds / (SECONDS_PER_YEAR / settings.falsePageBudget)),
    minPredictions,
    requiredPredictions,
    baseline: { source: baseline.source, predictions: baseline.size, seasonality: settings.seasonality, phase: baseline.phase },
    evidence: { threshold: h, falsePageBudget: settings.falsePageBudget, accumulated: decided ? 0 : pending },
    drift,
    vanishedLabels: vanished.map((i) => labels[i]!),
    knownDefect: flagged && onlyDefect(settings.defect, takingOver.map((i) => labels[i]!), crossedDown.map((i) => labels[i]!)),
  };
  const against = `against ${comparedWith(base.baseline)}`;
  let evaluation: Evaluation;
  if (n === 0) {
    evaluation = { ...base, verdict: 'no_traffic', reason: 'No predictions in this window.' };
  } else if (takingOver.length > 0) {
    const i = takingOver[0]!;
    // It names the labels the collapse took from too: "Gentoo took 100%" alone does not say Chinstrap is gone.
    const fell = vanished.map((j) => `${labels[j]} (${percent(observed[j]! / n)}, normal ${percent(ref[j]!)})`);
    const alsoFell = fell.length === 0 ? '' : `, and ${listLabels(fell)} fell far below ${fell.length > 1 ? 'their' : 'its'} normal share`;
    evaluation = {
      ...base,
      verdict: 'collapsed',
      dominantLabel: labels[i]!,
      reason:
        `${labels[i]} took ${percent(observed[i]! / n)} of ${n} predictions where ${percent(ref[i]!)} is normal ` +
        `(${against})${alsoFell}; the evidence across recent windows crossed the threshold.`,
    };
  } else if (crossedDown.length > 0) {
    const names = vanished.map((i) => labels[i]!);
    const shares = vanished.map((i) => `${labels[i]} ${percent(observed[i]! / n)} (normal ${percent(ref[i]!)})`);
    evaluation = {
      ...base,
      verdict: 'partial_collapse',
      reason:
        `${listLabels(names)} fell far below ${names.length > 1 ? 'their' : 'its'} normal share (${against}): ` +
        `${shares.join(', ')} in ${n} predictions, and the evidence across recent windows crossed the threshold.`,
    };
  } else if (!decided) {
    const decidable = requiredPredictions < Number.MAX_SAFE_INTEGER;
    evaluation = {
      ...base,
      verdict: 'insufficient_data',
      reason: decidable
        ? `${pending} predictions so far; ${requiredPredictions} are needed before even a total collapse onto ` +
          `${labels[top]} (normal share ${percent(ref[top]!)}) could be told from chance at this false-page budget.`
        : `Healthy windows of this model scatter so widely that not even a total collapse could be told from chance.`,
    };
  } else if (drift) {
    evaluation = {
      ...base,
      verdict: 'drift',
      reason:
        `No collapse in ${pending} predictions, but the label mix has drifted from the model's reference ` +
        `(Jensen–Shannon distance ${drift.distance.toFixed(2)}: ${drift.labels
          .map((d) => `${d.label} ${percent(d.share)} vs ${percent(d.reference)}`)
          .join(', ')}). Drift is followed, not paged.${blindTo}`,
    };
  } else {
    evaluation = {
      ...base,
      verdict: 'healthy',
      reason:
        `The ${n} predictions are consistent with ${comparedWith(base.baseline, false)}: top label ` +
        `${labels[topIndex]} at ${percent(observed[topIndex]! / n)} (normal ${percent(ref[topIndex]!)}).${blindTo}`,
    };
  }
  if (replay) return { evaluation, state };

  let next: MonitorState = { ...state, labels, lastWindowStart: windowStart, up, total, down, pending: decided ? 0 : pending };
  // A flagged window does not teach the trailing baseline what normal is (baseline.ts learn); one that shows only the
  // package's known defect does, or a defective model would be judged forever against labels it never answers.
  if (n > 0) {
    const window = { start: windowStart, labels: observed, inputs: inputMoments(counts.features, settings.features) };
    next = learn(next, window, baseline, settings.seasonality, settings.windowSeconds, flagged && !evaluation.knownDefect);
  }
  return { evaluation, state: next };
}

/** Judges one window with no history: what the package alone says. */
export function evaluateWindow(counts: LabelCounts, metadata: ModelMetadata, defaults: DetectorDefaults = { windowSeconds: 60 }): Evaluation {
  return judgeWindow(null, counts, 0, detectorSettings(metadata, defaults)).evaluation;
}
