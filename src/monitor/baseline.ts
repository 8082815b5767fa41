// What a model version normally answers: its own held-out outputs (from the package) at first, then its own healthy
// production history, trailing and, where traffic has seasons, at the same phase of the previous cycles. Also how
// much healthy windows scatter around that baseline beyond binomial noise (the overdispersion τ² per label).
//
// Everything lives in one JSON-safe MonitorState per model version, folded window by window in order: the cron
// stores it in D1 after each window (packed-state.ts), `npm run backtest` keeps it in memory. Same code, same numbers.

import { nameRecord } from './names';
import { smoothedShares } from './reference';
import { featureMeanStd } from './window';
import { SECONDS_PER_YEAR } from './sequential';

export type Seasonality = 'none' | 'daily' | 'weekly' | 'yearly';
export const SEASONALITIES: readonly Seasonality[] = ['none', 'daily', 'weekly', 'yearly'];

/** Cycle length and phase bins of each seasonality (hours of a day, hours of a week, weeks of a year). */
export const SEASONS: Record<Exclude<Seasonality, 'none'>, { period: number; bins: number }> = {
  daily: { period: 86_400, bins: 24 },
  weekly: { period: 7 * 86_400, bins: 168 },
  yearly: { period: SECONDS_PER_YEAR, bins: 52 },
};

/**
 * The seasonality a model is judged with unless it or the deployment says otherwise: the hour of the week, the hour of
 * day standing in through the first week (HOUR_OF_DAY_FALLBACK). Traffic whose label mix follows the hour (a
 * population that sleeps, another time zone) deviates from a trailing baseline of a few days the same way for hours
 * on end, and the CUSUMs add that up like a change: in bench:detect, a mix that swings by a factor e^±0.5 over the day
 * paged 43 to 81 times in 30 days of 60-s windows without a declared season; by the hour of day or of the week, only
 * on the first day, before there was a yesterday. Weekends whose mix differs, judged by the hour of day, are compared
 * with the weekdays before them and paged most weekends (13 times in 7 weeks); by the hour of the week, on the first
 * weekend only. Traffic without a rhythm loses nothing measurable, since a phase judges a window only where it
 * explains it at least as well as the trailing level (baselineOf): healthy i.i.d. traffic paged at most 0.05 to 0.14
 * times a model-year (as with daily or none, within the seeds' noise), and a collapse at one prediction a minute a
 * window or so later than with none (docs/detection.md).
 */
export const DEFAULT_SEASONALITY: Seasonality = 'weekly';

/** A cycle no longer than a window has no phase a window could be compared at: such traffic is judged as `none`. */
export const seasonalityFor = (seasonality: Seasonality, windowSeconds: number): Seasonality =>
  seasonality !== 'none' && SEASONS[seasonality].period <= windowSeconds ? 'none' : seasonality;

/** Half-life of the trailing baseline: recent enough to follow seasons, long enough to carry many predictions. */
export const TRAILING_HALF_LIFE_SECONDS = 3 * 86_400;
/** Half-life of the overdispersion estimate: it describes the traffic's nature, so it changes slowly. */
export const DISPERSION_HALF_LIFE_SECONDS = 30 * 86_400;
/**
 * Each half-life spans at least this many windows. A half-life shorter than a window forgets the history between
 * one window and the next: with 30-day windows, 3 days is ten half-lives, the trailing baseline held 0.03 predictions
 * when the next window came, and every window was judged against the package's held-out answers (a year's average)
 * with the prior's scatter, so a healthy model paged on its seasons. The trailing level keeps the last few windows;
 * the scatter estimate keeps enough of them (twenty, against the prior's PRIOR_WINDOWS) to learn how far healthy
 * windows swing. With windows of a day or less both bounds are below the half-lives in seconds and change nothing.
 */
export const TRAILING_HALF_LIFE_WINDOWS = 3;
export const DISPERSION_HALF_LIFE_WINDOWS = 20;

/** The trailing baseline's and the scatter estimate's half-lives (seconds) for windows of `windowSeconds`. */
export function halfLives(windowSeconds: number): { trailing: number; dispersion: number } {
  return {
    trailing: Math.max(TRAILING_HALF_LIFE_SECONDS, TRAILING_HALF_LIFE_WINDOWS * windowSeconds),
    dispersion: Math.max(DISPERSION_HALF_LIFE_SECONDS, DISPERSION_HALF_LIFE_WINDOWS * windowSeconds),
  };
}
/**
 * Weight, in predictions, of the package's held-out outputs in the baseline before production history exists.
 * Held-out rows are one data set's year, production is this week's: as the model's own history grows (m decayed
 * predictions), the package's weight shrinks to PACKAGE_WEIGHT² / (PACKAGE_WEIGHT + m), so a label that production
 * truly stopped answering is not kept alive (and watched for vanishing) by the package alone.
 */
export const PACKAGE_WEIGHT = 100;
/**
 * How far production's shares may sit from the package's held-out answers beyond binomial noise, as a fraction of
 * p(1 − p), an intra-window correlation: τ₀ = √(icc·p(1 − p)). Held-out rows are one data set; production is this
 * week of someone's traffic. 0.01 (5 points for a label at 38%): a total collapse is still paged from one window.
 * For a yearly season, 0.1 (15 points): the held-out mix is a year's average that no single season looks like, and
 * the first weeks of production are one season. A daily or weekly rhythm shows within hours, when the model's own
 * history already outweighs the package (its weight halves by 100 predictions): they keep 0.01, so the default
 * daily seasonality pages a model deployed broken from its first window, as `none` does. It applies in proportion to
 * the package's weight in the baseline, a²τ₀², so it fades as the model's own history takes over.
 */
export const PACKAGE_ICC: Record<Seasonality, number> = { none: 0.01, daily: 0.01, weekly: 0.01, yearly: 0.1 };
/** Prior extra-binomial scatter of production windows around their own baseline (as a fraction of p(1 − p)), and its weight in windows. */
export const PRODUCTION_ICC = 0.002;
export const PRIOR_WINDOWS = 10;
/**
 * A seasonal phase is used once the previous cycles put at least this many predictions there (the default
 * MIN_PREDICTIONS). A thin phase is still a better baseline than the trailing one for a model declared seasonal, and
 * its own sampling error is counted: it enters the dispersion as n / m, a two-sample comparison. At 200, a model
 * answering once a day in 30-day windows never had a phase to compare with, so every season was judged against the
 * month before it.
 */
export const SEASONAL_MIN_PREDICTIONS = 30;
/** Each completed cycle halves the weight of the cycles before it. */
export const SEASONAL_CYCLE_DECAY = 0.5;
/**
 * The decayed counts of completed cycles (a phase bin's `past`) are kept to 4 significant digits, and a count below a
 * hundredth of a prediction is dropped: the state is stored after every window (packState), and a weekly model's
 * 168 + 24 bins of full doubles made it 1.8 to 2.7 MB for 1000 labels, about D1's limit for a value
 * (docs/detection.md, "How the state is stored"). The error, at most 5e-4 of a count, is far inside the count's own
 * sampling noise (1/√c of it, for any c below 4 million), and a dropped count weighs a fiftieth of the half a
 * prediction every label gets anyway (smoothedShares). Rounded where the counts are made, once per cycle and bin (a
 * halving moves a count far more than its rounding), so what the cron stores is what it judged with, and the backtest
 * and bench:detect judge with the same numbers. The trailing level, the scatter and the inputs decay a little every
 * window and are kept whole: rounded as often, they would stop decaying.
 */
export const SEASONAL_COUNT_DIGITS = 4;
export const SEASONAL_COUNT_FLOOR = 0.01;
/** A decayed seasonal count as the state keeps it (SEASONAL_COUNT_DIGITS). */
export const seasonalCount = (c: number): number => (c < SEASONAL_COUNT_FLOOR ? 0 : Number(c.toPrecision(SEASONAL_COUNT_DIGITS)));

/** Where the baseline of a window came from. */
export type BaselineSource = 'seasonal' | 'trailing' | 'held_out_predictions' | 'training_labels';

/** The package's own idea of the model's answers. */
export interface PackageReference {
  /** Counts in label order. */
  counts: number[];
  source: 'held_out_predictions' | 'training_labels';
}

interface SeasonalBin {
  /** Cycle number the `current` counts belong to. */
  cycle: number;
  /** Decayed counts of completed cycles at this phase. */
  past: number[];
  current: number[];
  /**
   * Completed cycles that put predictions at this phase (those `past` holds): what "the 3 weeks before" counts.
   * Absent in bins stored before it was kept, whose count is unknown.
   */
  seen?: number;
}

/** Per-model-version memory of the detector. JSON-safe. */
export interface MonitorState {
  /**
   * The labels every count below is kept in the order of. What a later version may take over (inheritedState) is
   * checked against them. Absent in states stored before it was kept.
   */
  labels?: readonly string[];
  /** Start of the latest window folded in: later replays of it or older windows change nothing. */
  lastWindowStart: number | null;
  /** When the baseline last learnt from a window (epoch seconds), for its time decay. */
  learnedAt: number | null;
  /** Exponentially decayed label counts of recent healthy windows, label order. */
  trailing: number[];
  /** Phase bins of the seasonal baseline (null without seasonality). */
  seasonal: SeasonalBin[] | null;
  /**
   * The hour-of-day bins a weekly model keeps beside its hour-of-week ones (HOUR_OF_DAY_FALLBACK): they judge while
   * the hour of the week has no earlier cycle. Absent for other seasonalities, and in weekly states stored before it
   * was kept.
   */
  hourOfDay?: SeasonalBin[];
  /** Decayed Σ w·(excess squared deviation of the share) per label, and Σ w: the τ² estimate. */
  excess: number[];
  excessWeight: number;
  /** CUSUMs per label: the label taking over half (up) or nearly all (total) of the answers, and vanishing (down). */
  up: number[];
  total: number[];
  down: number[];
  /** Predictions since the last window that had enough evidence to be decided (healthy or drift). */
  pending: number;
  /**
   * Label counts someone declared the model's normal (`rebaseline`): they stand in for the package's reference as
   * the baseline's prior. Absent until then.
   */
  adopted?: number[];
  /**
   * The inputs of the same recent healthy windows as `trailing`, decayed alike: per feature (DetectorSettings.features
   * order) rows, Σx and Σx², three slots each. What the diagnosis compares a flagged window's inputs with besides
   * training: a season moves the inputs away from last month's while they stay well inside the training year.
   * Absent in states stored before it was kept, and while no healthy window carried feature moments.
   */
  inputs?: number[];
}

/** The recent healthy traffic's level of one input feature (`recentInputs`). */
export interface InputLevel {
  /** Decayed rows behind it. */
  rows: number;
  mean: number;
  std: number;
}

/** A window as the baseline learns it: label counts in label order, and its inputs as `MonitorState.inputs` holds them. */
export interface ObservedWindow {
  start: number;
  labels: readonly number[];
  /** Rows, Σx and Σx² per feature, three slots each; empty when the window carries no feature moments. */
  inputs: readonly number[];
}

export function initialState(k: number, seasonality: Seasonality): MonitorState {
  const zeros = () => new Array<number>(k).fill(0);
  return {
    lastWindowStart: null,
    learnedAt: null,
    trailing: zeros(),
    seasonal: seasonality === 'none' ? null : emptyProfile(k, seasonality),
    ...(HOUR_OF_DAY_FALLBACK.includes(seasonality) ? { hourOfDay: emptyProfile(k, 'daily') } : {}),
    excess: zeros(),
    excessWeight: 0,
    up: zeros(),
    total: zeros(),
    down: zeros(),
    pending: 0,
  };
}

/** A phase bin that has seen nothing yet. */
const emptyPhase = (k: number): SeasonalBin => ({ cycle: -1, past: new Array<number>(k).fill(0), current: new Array<number>(k).fill(0), seen: 0 });
const emptyProfile = (k: number, seasonality: Exclude<Seasonality, 'none'>): SeasonalBin[] => Array.from({ length: SEASONS[seasonality].bins }, () => emptyPhase(k));

/**
 * A state that does not fit the labels is replaced by a fresh one. One that fits them but was kept for another
 * seasonality (the deployment's default changed, a package declared a season) keeps everything but its seasonal
 * profile, which starts afresh: the trailing level and the evidence are the model's own whatever the cycle. Hour-of-day
 * bins are kept whichever field held them: a daily model that becomes weekly is judged by its known hours of day
 * through its first week, and a weekly one that becomes daily keeps them as its profile.
 */
export function compatibleState(state: MonitorState | null | undefined, k: number, seasonality: Seasonality): MonitorState {
  const fits = state && [state.trailing, state.up, state.total, state.down, state.excess].every((xs) => xs?.length === k);
  if (!fits) return initialState(k, seasonality);
  // Judged every window: lengths only, no fresh profile built to compare with.
  const binsOf = (s: Seasonality | null) => (s === null || s === 'none' ? 0 : SEASONS[s].bins);
  const like = (bins: SeasonalBin[] | null | undefined, s: Seasonality | null) =>
    (bins?.length ?? 0) === binsOf(s) && (bins?.[0]?.past.length ?? k) === k;
  const hoursWanted = HOUR_OF_DAY_FALLBACK.includes(seasonality) ? 'daily' : null;
  if (like(state.seasonal, seasonality) && like(state.hourOfDay, hoursWanted)) return state;
  const hours = [state.hourOfDay, state.seasonal].find((bins) => bins && like(bins, 'daily'));
  const { hourOfDay: _kept, ...rest } = state;
  return {
    ...rest,
    seasonal: like(state.seasonal, seasonality) ? state.seasonal : seasonality === 'daily' && hours ? hours : initialState(k, seasonality).seasonal,
    ...(hoursWanted ? { hourOfDay: hours ?? emptyProfile(k, 'daily') } : {}),
  };
}

const decay = (seconds: number, halfLife: number) => (seconds > 0 ? 0.5 ** (seconds / halfLife) : 1);
/** Σ cᵢ ln pᵢ: the multinomial log-likelihood of counts under shares, up to a term that does not depend on the shares. */
const logLikelihood = (counts: readonly number[], shares: readonly number[]) => counts.reduce((s, c, i) => s + (c > 0 ? c * Math.log(shares[i]!) : 0), 0);
const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);

function phaseOf(seasonality: Exclude<Seasonality, 'none'>, epochSeconds: number): { cycle: number; bin: number } {
  const { period, bins } = SEASONS[seasonality];
  const cycle = Math.floor(epochSeconds / period);
  return { cycle, bin: Math.min(bins - 1, Math.floor(((epochSeconds - cycle * period) / period) * bins)) };
}

/** The phase a window was compared at: the hour of the day or of the week, or the week of the year. */
export type PhaseKind = 'hour_of_day' | 'hour_of_week' | 'week_of_year';
const PHASE_KINDS: Record<Exclude<Seasonality, 'none'>, PhaseKind> = { daily: 'hour_of_day', weekly: 'hour_of_week', yearly: 'week_of_year' };

/** What earlier cycles hold at a window's phase (baselineOf): what the window is compared with, when a phase judges it. */
export interface BaselinePhase {
  kind: PhaseKind;
  /**
   * The span of the window's own cycle the phase covers, [from, to) in epoch seconds: the window's bin and the bins
   * either side (three hours around the window's hour; three weeks of the year). Earlier cycles are compared at the
   * same offsets: Saturdays 13:00–16:00 UTC of earlier weeks.
   */
  from: number;
  to: number;
  /** Earlier cycles that put predictions there (the most among its bins); null when a bin was learnt before they were counted. */
  cycles: number | null;
  /** Their predictions, decayed (each older cycle at half the weight of the next). */
  predictions: number;
}

/**
 * What earlier cycles put at the phase of the window starting at `windowStart` (its bin and the bins either side),
 * in label order. Only cycles before this one: what this phase saw earlier in the current cycle is still in
 * `current` until the phase comes round again.
 */
function previousCycles(profile: SeasonalBin[], seasonality: Exclude<Seasonality, 'none'>, windowStart: number, k: number): { counts: number[]; phase: BaselinePhase } {
  const { cycle, bin } = phaseOf(seasonality, windowStart);
  const { period } = SEASONS[seasonality];
  const bins = profile.length;
  const counts = new Array<number>(k).fill(0);
  let cycles: number | null = 0;
  for (const b of [bin - 1, bin, bin + 1]) {
    const phase = profile[(b + bins) % bins]!;
    const previous = phase.cycle < cycle ? rollOver(phase, cycle) : phase;
    for (let i = 0; i < k; i++) counts[i]! += previous.past[i]!;
    cycles = cycles === null || previous.seen === undefined ? null : Math.max(cycles, previous.seen);
  }
  const binStart = (b: number) => Math.round(cycle * period + (b * period) / bins);
  const phase = { kind: PHASE_KINDS[seasonality], from: binStart(bin - 1), to: binStart(bin + 2), cycles, predictions: sum(counts) };
  return { counts, phase };
}

/**
 * Seasonalities whose profile the hour of day stands in for while a phase has no earlier cycle. A weekly phase is
 * known only after a week, and until then its model would be judged against the trailing level alone: every evening
 * of a daily rhythm against the afternoon before it. With the hour of day behind it, a weekly model pages on its
 * first week no more than a daily one does on its first day, and from the second week on its weekends are judged
 * against earlier weekends, not against the Friday before (docs/detection.md, "A weekly cycle").
 */
export const HOUR_OF_DAY_FALLBACK: readonly Seasonality[] = ['weekly'];

/** The baseline a window is judged against. */
export interface Baseline {
  source: BaselineSource;
  /** Smoothed shares in label order, each > 0. */
  shares: number[];
  /** Effective number of predictions behind the shares (their own sampling error). */
  size: number;
  /** Extra-binomial variance τ² of each label's share between healthy windows. */
  tau2: number[];
  /** Production predictions (decayed) in the trailing baseline. */
  trailingPredictions: number;
  /**
   * Whether earlier cycles put SEASONAL_MIN_PREDICTIONS at this phase, whether or not it judged the window (the
   * trailing level may have explained it better): only a phase never seen before learns a flagged window.
   */
  phaseKnown: boolean;
  /** The same for the hour-of-day bins of a weekly model (false without them). */
  hourOfDayKnown: boolean;
  /**
   * The phase the window was held against: the hour of the week (of the day, the week of the year) when earlier
   * cycles put SEASONAL_MIN_PREDICTIONS there, else a weekly model's hour of day when it holds them; null when neither
   * does (and without seasonality). It judged the window when `source` is 'seasonal'; with 'trailing' it was known but
   * explained the window's answers less well than the trailing level did.
   */
  phase: BaselinePhase | null;
}

/**
 * The baseline of the window starting at `windowStart`: the seasonal phase (with its neighbours) of previous cycles
 * when it holds enough, else the trailing production history, each with the package's reference as a small prior.
 *
 * Given the window's label counts (`observed`), a seasonal phase judges it only if it explains them at least as well
 * as the trailing level does (multinomial likelihood): a season may explain a deviation away, never make one. A phase
 * can hold what was not the season: a first cycle's flagged windows are learnt into it (they may be the season's own,
 * the night's mix on the first day), and when they were a collapse, the recovery at those hours would be judged a
 * collapse onto the other labels day after day. The trailing level, which flagged windows never teach, explains the
 * recovered traffic better, judges it healthy, and the healthy window then teaches the phase.
 */
export function baselineOf(
  state: MonitorState,
  reference: PackageReference,
  seasonality: Seasonality,
  windowStart: number,
  windowSeconds: number,
  observed?: readonly number[],
): Baseline {
  const k = reference.counts.length;
  const sinceLearnt = state.learnedAt === null ? 0 : windowStart - state.learnedAt;
  const trailing = state.trailing.map((c) => c * decay(sinceLearnt, halfLives(windowSeconds).trailing));
  const trailingPredictions = sum(trailing);
  // Traffic declared normal replaces the package's held-out answers as the prior: otherwise the package would keep
  // pulling the baseline back to the mix that was declared outdated, and evidence against it would build up again.
  const priorCounts = state.adopted?.length === k ? state.adopted : reference.counts;
  const refTotal = sum(priorCounts);
  const packageWeight = Math.min(refTotal, PACKAGE_WEIGHT) * (PACKAGE_WEIGHT / (PACKAGE_WEIGHT + trailingPredictions));
  const prior = priorCounts.map((c) => (refTotal > 0 ? (c / refTotal) * packageWeight : 0));

  let source: BaselineSource = trailingPredictions >= 1 ? 'trailing' : reference.source;
  let production = trailing;
  let phaseKnown = false;
  let hourOfDayKnown = false;
  let phase: BaselinePhase | null = null;
  if (state.seasonal && seasonality !== 'none') {
    const season = previousCycles(state.seasonal, seasonality, windowStart, k);
    phaseKnown = season.phase.predictions >= SEASONAL_MIN_PREDICTIONS;
    const hours = hourOfDayBins(state, seasonality, windowSeconds);
    const hourOfDay = hours ? previousCycles(hours, 'daily', windowStart, k) : null;
    hourOfDayKnown = hourOfDay !== null && hourOfDay.phase.predictions >= SEASONAL_MIN_PREDICTIONS;
    const seasonal = phaseKnown ? season : hourOfDayKnown ? hourOfDay : null;
    phase = seasonal && seasonal.phase;
    const explains = (counts: readonly number[]) => logLikelihood(observed ?? [], smoothedShares(counts.map((c, i) => c + prior[i]!)));
    if (seasonal && (!observed || explains(seasonal.counts) >= explains(trailing))) {
      source = 'seasonal';
      production = seasonal.counts;
    }
  }
  const counts = production.map((c, i) => c + prior[i]!);
  const size = sum(counts);
  const shares = smoothedShares(counts);
  const packageShare = size > 0 ? packageWeight / size : 1;
  const tau2 = shares.map((p, i) => {
    const binomial = p * (1 - p);
    const scatter = (PRIOR_WINDOWS * PRODUCTION_ICC * binomial + state.excess[i]!) / (PRIOR_WINDOWS + state.excessWeight);
    return packageShare ** 2 * PACKAGE_ICC[seasonality] * binomial + Math.max(0, scatter);
  });
  return { source, shares, size, tau2, trailingPredictions, phaseKnown, hourOfDayKnown, phase };
}

/** A weekly model's hour-of-day bins, unless its windows span a day or more (seasonalityFor: no hour to compare at). */
function hourOfDayBins(state: MonitorState, seasonality: Seasonality, windowSeconds: number): SeasonalBin[] | null {
  return HOUR_OF_DAY_FALLBACK.includes(seasonality) && state.hourOfDay && seasonalityFor('daily', windowSeconds) === 'daily' ? state.hourOfDay : null;
}

/**
 * Teaches the state one window: a healthy (unflagged) window's counts and inputs join the trailing and seasonal
 * baselines, and its scatter around the baseline it was judged against updates τ²; a flagged one joins the seasonal
 * profile only. Returns a new state.
 */
export function learn(
  state: MonitorState,
  window: ObservedWindow,
  baseline: Baseline,
  seasonality: Seasonality,
  windowSeconds: number,
  flagged = false,
): MonitorState {
  const { start: windowStart, labels: observed } = window;
  const n = sum(observed);
  if (n === 0) return state;
  // A flagged window never teaches the trailing level or the scatter what normal is: a collapse learnt as normal
  // would make the recovery look like a collapse onto the other labels, and a model whose first traffic is collapsed
  // would take the collapse for its baseline. The trailing level is held as it was (its clock moves on with the
  // window, so the incident's duration does not decay it). The seasonal profile learns a flagged window only when
  // its phase had no earlier cycle yet: a season that alarmed in its first cycle (a label fading in spring, the
  // night's mix on the first day) must be known in the next. Where the phase is known, a flagged window is not the
  // season, whichever baseline judged it: learnt, a collapse lasting a day became the next day's normal for a daily
  // model, and its recovery paged as a collapse onto the other labels, over and over.
  // docs/detection.md, "What a flagged window teaches".
  // The hour-of-day bins follow the same rule with their own phase.
  const seasonal = flagged && baseline.phaseKnown ? state.seasonal : learnSeason(state.seasonal, observed, seasonality, windowStart);
  const hours = hourOfDayBins(state, seasonality, windowSeconds);
  const learntHours = hours && !(flagged && baseline.hourOfDayKnown) ? { hourOfDay: learnSeason(hours, observed, 'daily', windowStart)! } : {};
  if (flagged) return { ...state, learnedAt: windowStart, seasonal, ...learntHours };
  const since = state.learnedAt === null ? 0 : windowStart - state.learnedAt;
  const halfLife = halfLives(windowSeconds);
  const keep = decay(since, halfLife.trailing);
  const keepExcess = decay(since, halfLife.dispersion);
  // Method of moments: E[(s − p)²] = p(1 − p)/n + p(1 − p)/m + τ². Small windows say little about τ², so they weigh less.
  const w = n / (n + 20);
  // Only scatter around the model's own production baseline describes its traffic; the cold start against the
  // package's reference is what the prior is for.
  const production = baseline.source === 'trailing' || baseline.source === 'seasonal';
  const excess = state.excess.map((e, i) => {
    if (!production) return e;
    const p = baseline.shares[i]!;
    const s = observed[i]! / n;
    const binomial = p * (1 - p);
    return e * keepExcess + w * ((s - p) ** 2 - binomial / n - binomial / baseline.size);
  });
  return {
    ...state,
    learnedAt: windowStart,
    trailing: state.trailing.map((c, i) => c * keep + observed[i]!),
    seasonal,
    ...learntHours,
    excess,
    excessWeight: production ? state.excessWeight * keepExcess + w : state.excessWeight,
    ...learnInputs(state.inputs, window.inputs, keep),
  };
}

/**
 * The recent inputs after a healthy window: decayed as the trailing counts are. A window without feature moments
 * leaves them as they were (nothing to set); a feature list of another length (the package changed) starts them afresh.
 */
function learnInputs(held: readonly number[] | undefined, observed: readonly number[], keep: number): Pick<MonitorState, 'inputs'> {
  if (observed.length === 0) return {};
  const kept = held?.length === observed.length ? held : observed.map(() => 0);
  return { inputs: kept.map((x, i) => x * keep + observed[i]!) };
}

/**
 * The level of each input feature in the recent healthy traffic, keyed by feature name (null-prototype); features
 * without rows are left out. Empty when the state keeps no inputs.
 */
export function recentInputs(state: MonitorState | null, features: readonly string[]): Record<string, InputLevel> {
  const out = nameRecord<InputLevel>();
  const inputs = state?.inputs;
  if (!inputs || inputs.length !== 3 * features.length) return out;
  features.forEach((name, j) => {
    const rows = inputs[3 * j]!;
    if (!(rows > 0)) return;
    out[name] = { rows, ...featureMeanStd({ count: rows, sum: inputs[3 * j + 1]!, sumSq: inputs[3 * j + 2]! })! };
  });
  return out;
}

/** Adds a window to its phase bin of the current cycle; a new cycle first moves the last one into the past. */
function learnSeason(
  bins: SeasonalBin[] | null,
  observed: readonly number[],
  seasonality: Seasonality,
  windowStart: number,
): SeasonalBin[] | null {
  if (!bins || seasonality === 'none') return bins;
  const { cycle, bin } = phaseOf(seasonality, windowStart);
  return bins.map((phase, b) => {
    if (b !== bin) return phase;
    const rolled = rollOver(phase, cycle);
    return { ...rolled, current: rolled.current.map((c, i) => c + observed[i]!) };
  });
}

/** The bin as it is in `cycle`: a new cycle moves what the last one saw into the past, older cycles at half weight each. */
function rollOver(phase: SeasonalBin, cycle: number): SeasonalBin {
  if (phase.cycle === cycle) return phase;
  // A bin stored before cycles were counted: unknown, unless it holds nothing from earlier cycles.
  const seen = phase.seen ?? (sum(phase.past) > 0 ? undefined : 0);
  return {
    cycle,
    past: phase.past.map((c, i) => seasonalCount(c * SEASONAL_CYCLE_DECAY + phase.current[i]!)),
    current: phase.current.map(() => 0),
    ...(seen === undefined ? {} : { seen: seen + (sum(phase.current) > 0 ? 1 : 0) }),
  };
}

/**
 * A new version's first state: the seasons the same model's earlier version learnt (its seasonal profile and
 * hour-of-day bins), when that version kept the same labels in the same order; null when there is none to take.
 * Seasons belong to the traffic more than to the model: without them a new version of a model whose traffic follows
 * the clock pages on its first day, before it has a yesterday (2 and 3 times at every deploy in bench:detect's
 * deploy table, never with its seasons). Nothing else is taken: the trailing level, the scatter, the evidence, an adopted baseline and the
 * recent inputs are the new model's own from its first window. A phase still judges a window only where it explains
 * it at least as well as the trailing level (baselineOf): a new version that answers differently on purpose is judged
 * by its own package and traffic, not paged against the old model's seasons; and a phase already known does not
 * learn the new version's flagged windows, so one deployed broken is paged, not taught.
 */
export function inheritedState(earlier: MonitorState | null, labels: readonly string[], seasonality: Seasonality): MonitorState | null {
  const same = earlier?.labels?.length === labels.length && earlier.labels.every((l, i) => l === labels[i]);
  if (!same || seasonality === 'none') return null;
  const seasons = compatibleState(earlier, labels.length, seasonality);
  return { ...initialState(labels.length, seasonality), labels, seasonal: seasons.seasonal, ...(seasons.hourOfDay ? { hourOfDay: seasons.hourOfDay } : {}) };
}

/**
 * Predictions a rebaseline adopts at least, when the incident's windows hold them: as many as the package's reference
 * weighs in the baseline (PACKAGE_WEIGHT), which the adopted traffic replaces as the prior.
 */
export const REBASELINE_PREDICTIONS = PACKAGE_WEIGHT;

/**
 * Which of an incident's windows stand for its traffic as it is now, given them newest first with their predictions:
 * the newest, back to REBASELINE_PREDICTIONS predictions, leaving out the incident's first window unless no later
 * one has traffic. The first window is usually where the traffic was still moving (in a real run: a window of 81%
 * Gentoo before windows of 100%); adopted, it made the very next window of the new traffic a collapse against it.
 * Returns the start of the oldest window to adopt, or null when there is no traffic to adopt.
 */
export function rebaselineFrom(windows: readonly { start: number; n: number }[], incidentFirstWindow: number): number | null {
  const withTraffic = windows.filter((w) => w.n > 0);
  const later = withTraffic.filter((w) => w.start !== incidentFirstWindow);
  const candidates = later.length > 0 ? later : withTraffic;
  let from: number | null = null;
  let predictions = 0;
  for (const w of candidates) {
    from = w.start;
    predictions += w.n;
    if (predictions >= REBASELINE_PREDICTIONS) break;
  }
  return from;
}

/**
 * The state after someone declared recent traffic the model's normal (an incident resolved with `rebaseline`): the
 * trailing baseline becomes `observed`, the label counts of the incident's recent windows, as learnt at the latest
 * window folded in; they also replace the package's reference as the baseline's prior (`adopted`); and every CUSUM
 * restarts from 0, so the next window is judged against that traffic. Without it, resolving an incident whose
 * traffic stays where it went (inputs that shifted for good, a season nobody declared) opens a new one at the next
 * window: a flagged window never teaches the trailing level. The scatter estimate restarts too: it is kept in
 * shares, learnt at the old mix, and a label that fell from 43% to nothing would keep a scatter of points around a
 * share of tenths of a percent, so no collapse could ever be told again (every window undecided, in a real run). So
 * does the seasonal profile (and a weekly model's hour-of-day bins): its earlier cycles are the old traffic, and a
 * model with a declared season is judged against them, not the trailing level, once a phase holds
 * SEASONAL_MIN_PREDICTIONS; kept, they would flag the
 * adopted traffic again within a window or two, for up to a cycle. The recent inputs become those of the adopted
 * windows (`inputs`, as MonitorState.inputs holds them; none given: forgotten), so a later shift is measured from the
 * new normal. No traffic to adopt: only the evidence restarts.
 */
export function rebaseline(state: MonitorState, observed: readonly number[], inputs: readonly number[] = []): MonitorState {
  const k = state.trailing.length;
  const zeros = () => new Array<number>(k).fill(0);
  const restarted: MonitorState = { ...state, up: zeros(), total: zeros(), down: zeros(), pending: 0 };
  if (sum(observed) === 0) return restarted;
  const adopted = state.trailing.map((_, i) => observed[i] ?? 0);
  return {
    ...restarted,
    adopted,
    trailing: [...adopted],
    learnedAt: state.lastWindowStart ?? state.learnedAt,
    excess: zeros(),
    excessWeight: 0,
    seasonal: state.seasonal && state.seasonal.map(() => emptyPhase(k)),
    ...(state.hourOfDay ? { hourOfDay: state.hourOfDay.map(() => emptyPhase(k)) } : {}),
    inputs: [...inputs],
  };
}
