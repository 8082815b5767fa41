// The detector's benchmark: how often it pages a healthy model, per model and year, and how fast it pages a real
// collapse or a vanishing label, next to the baselines people use, on seeded simulated traffic and on the real seasonal Seattle sequence.
// Every table in docs/detection.md is printed by this script; nothing is asserted (it is not a test), each target is
// printed with ✓ or ✗.
//
//   npm run bench:detect              the full run (a few minutes on 2 cores)
//   npm run bench:detect -- --quick   fewer simulated years and runs (for a smoke test)
//
// Everything runs through the pure pipeline the cron runs (src/monitor: judgeWindow, advanceIncident), in memory.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  backtest,
  chiSquareTest,
  cusumStep,
  cusumThreshold,
  detectorSettings,
  type DetectorSettings,
  emptyCounts,
  judgeWindow,
  logBinomialPmf,
  type MonitorState,
  packageReference,
  binomialLogLikelihoodRatio,
  collapseAlternative,
  vanishAlternative,
  RARE_SHARE,
  SECONDS_PER_YEAR,
  binomialUpperTail,
  advanceIncident,
  inheritedState,
  isFlagged,
  type Incident,
  packState,
  smoothedShares,
  summarizeBatch,
  type Evaluation,
  type Explanation,
  type IncidentEvent,
  type WindowCounts,
} from '../src/monitor/index';
import type { ModelMetadata } from '../src/serving/metadata';
import { parseFlags, UsageError } from './lib/args';
import { seededRandom } from './lib/random';
import { toModelUnits } from './lib/model';
import { loadMetadata, predictDays, predictProbes, seattleDays } from './lib/seattle';

export const USAGE = `usage: npm run bench:detect [-- --quick]

Prints the detector's false pages per model-year on healthy traffic, its pages on the real seasonal Seattle
sequence, and the windows it needs to page collapses and vanishing labels (down to one prediction per window), next
to the baselines (markdown tables, targets with ✓/✗).

  --quick     fewer simulated years and runs: a smoke test, not the published figures
  -h, --help  this text`;

// ---- randomness --------------------------------------------------------------------------------------------------
let random = seededRandom(20261201);

/** One Bin(n, p) draw by inversion from the mode outwards: exact, O(standard deviation) steps. */
function sampleBinomial(n: number, p: number): number {
  if (n === 0 || p <= 0) return 0;
  if (p >= 1) return n;
  const mode = Math.min(n, Math.floor((n + 1) * p));
  const atMode = Math.exp(logBinomialPmf(mode, n, p));
  let u = random() - atMode;
  if (u < 0) return mode;
  let [down, up, pDown, pUp] = [mode, mode, atMode, atMode];
  const q = 1 - p;
  for (;;) {
    if (down > 0) {
      pDown *= (down * q) / ((n - down + 1) * p);
      down--;
      u -= pDown;
      if (u < 0) return down;
    }
    if (up < n) {
      pUp *= ((n - up) * p) / ((up + 1) * q);
      up++;
      u -= pUp;
      if (u < 0) return up;
    }
    if (down === 0 && up === n) return mode;
  }
}

/** A multinomial draw of n over `shares`: label i ~ Bin(rest, share_i / remaining share), one after the other. */
function sampleCounts(shares: readonly number[], n: number): number[] {
  const counts = new Array<number>(shares.length).fill(0);
  let rest = n;
  let remaining = 1;
  for (let i = 0; i < shares.length - 1 && rest > 0; i++) {
    counts[i] = sampleBinomial(rest, Math.min(1, shares[i] / remaining));
    rest -= counts[i];
    remaining -= shares[i];
  }
  counts[shares.length - 1] += rest;
  return counts;
}

const windowOf = (labels: readonly string[], counts: readonly number[]): WindowCounts => {
  const w = emptyCounts();
  labels.forEach((l, i) => {
    if (counts[i] > 0) w.labelCounts[l] = counts[i];
  });
  w.n = counts.reduce((s, c) => s + c, 0);
  return w;
};

// ---- the models ------------------------------------------------------------------------------------------------
/** A synthetic package whose own held-out answers are 85/10/5 (a skewed but healthy model). */
const skewed: ModelMetadata = {
  name: 'skewed-85-10-5',
  version: '1',
  labels: ['major', 'minor', 'rare'],
  features: [{ name: 'x', mean: 0, std: 1 }],
  training: { samples: 2000, label_counts: { major: 1700, minor: 200, rare: 100 } },
  probes: [],
  reference: { label_counts: { major: 850, minor: 100, rare: 50 }, samples: 1000 },
};
const MODELS: ModelMetadata[] = [loadMetadata('seattle-weather'), loadMetadata('penguins'), skewed];
/** The mix a model normally answers: its package reference, which healthy traffic is drawn from. */
const normalMix = (m: ModelMetadata) => {
  const counts = packageReference(m).counts;
  const total = counts.reduce((s, c) => s + c, 0);
  return counts.map((c) => c / total);
};
const topOf = (shares: readonly number[]) => shares.indexOf(Math.max(...shares));

// ---- detectors -------------------------------------------------------------------------------------------------
/** A detector: fed window counts in order, says whether it pages on this window (a new alarm, not a continuing one). */
interface Detector {
  name: string;
  step(counts: number[], start: number): boolean;
  /** Whether it is in alarm after the last window (an open incident, a statistic over its threshold). */
  alarmed(): boolean;
  /** Whether the last window itself was flagged (labelwatch: collapsed or partial_collapse), open incident or not. */
  flagged?(): boolean;
  /** labelwatch: its state (what D1 stores per model version, packed: storedKiB; what a new version inherits its seasons from). */
  state?(): MonitorState | null;
}

/** labelwatch itself: judgeWindow + the incident state machine; a page is an incident opened or escalated. */
function labelwatch(m: ModelMetadata, settings: DetectorSettings, warm: MonitorState | null = null): Detector {
  let state = warm;
  let incident: Incident | null = null;
  let flagged = false;
  return {
    name: 'labelwatch',
    step(counts, start) {
      const judged = judgeWindow(state, windowOf(m.labels, counts), start, settings);
      state = judged.state;
      flagged = isFlagged(judged.evaluation.verdict);
      const t = advanceIncident(incident, { model: m.name, version: m.version, windowStart: start, evaluation: judged.evaluation }, { newId: () => 'x' });
      incident = t.incident && t.incident.status !== 'resolved' ? t.incident : null;
      return t.events.includes('opened') || t.events.includes('escalated');
    },
    alarmed: () => incident !== null,
    flagged: () => flagged,
    state: () => state,
  };
}

/**
 * The plain per-label CUSUM on the training label mix: the same likelihood ratios and threshold, but the null is the
 * training labels, with no production baseline, no sampling error and no overdispersion. Pages when a statistic
 * crosses h and was below it before.
 */
function plainCusum(m: ModelMetadata, settings: DetectorSettings): Detector {
  const k = m.labels.length;
  const ref = smoothedShares(m.labels.map((l) => m.training.label_counts[l] ?? 0));
  const h = cusumThreshold(settings.falsePageBudget, settings.windowSeconds, 2 * k);
  let up = new Array<number>(k).fill(0);
  let down = new Array<number>(k).fill(0);
  let alarmed = false;
  return {
    name: 'per-label CUSUM on training labels',
    step(counts) {
      const n = counts.reduce((s, c) => s + c, 0);
      if (n === 0) return false;
      up = up.map((s, i) => cusumStep(s, binomialLogLikelihoodRatio(counts[i], n, ref[i], collapseAlternative(ref[i])), 2 * h));
      down = down.map((s, i) => (ref[i] < RARE_SHARE ? 0 : cusumStep(s, binomialLogLikelihoodRatio(counts[i], n, ref[i], vanishAlternative(ref[i])), 2 * h)));
      const now = up.some((s) => s >= h) || down.some((s) => s >= h);
      const page = now && !alarmed;
      alarmed = now;
      return page;
    },
    alarmed: () => alarmed,
  };
}

/** A per-window rule, paging on a flagged window after an unflagged one. */
function perWindow(name: string, flags: (counts: number[], n: number) => boolean): Detector {
  let alarmed = false;
  return {
    name,
    step(counts) {
      const n = counts.reduce((s, c) => s + c, 0);
      const now = n > 0 && flags(counts, n);
      const page = now && !alarmed;
      alarmed = now;
      return page;
    },
    alarmed: () => alarmed,
  };
}

/** "Top share ≥ t": the rule of thumb dashboards use (t = 0.8), on windows of at least 30 predictions. */
const topShare = (t: number) => perWindow(`top share ≥ ${t}`, (c, n) => n >= 30 && Math.max(...c) / n >= t);

/**
 * Evidently's default for a categorical column: chi-square goodness of fit against the reference, drift at p < 0.05
 * (at most 1,000 rows; Jensen–Shannon distance ≥ 0.1 above that).
 */
const evidently = (m: ModelMetadata, p = 0.05, label = 'Evidently default (χ² p < 0.05)') => {
  const ref = normalMix(m).map((s) => Math.max(s, 1e-9));
  return perWindow(label, (c, n) => (n <= 1000 ? chiSquareTest(c, ref).pValue < p : jsDistance(c, ref) >= 0.1));
};
const jsDistance = (c: number[], ref: number[]) => {
  const n = c.reduce((s, x) => s + x, 0);
  const p = c.map((x) => x / n);
  const mid = p.map((x, i) => (x + ref[i]) / 2);
  const kl = (a: number[], b: number[]) => a.reduce((s, x, i) => (x > 0 ? s + x * Math.log2(x / b[i]) : s), 0);
  return Math.sqrt((kl(p, mid) + kl(ref, mid)) / 2);
};

/**
 * Top share matched to the same false-alarm budget: the smallest threshold t whose per-window false-alarm bound
 * under the normal mix, Σ_labels P[X_l ≥ t·n], is at most one page per budget period.
 */
function matchedTopShare(m: ModelMetadata, n: number, windowSeconds: number): number {
  const mix = normalMix(m);
  const perWindowBudget = windowSeconds / SECONDS_PER_YEAR;
  for (let x = 1; x <= n; x++) if (mix.reduce((s, p) => s + binomialUpperTail(x, n, p), 0) <= perWindowBudget) return x / n;
  return Infinity;
}

// ---- measurements ----------------------------------------------------------------------------------------------
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmtWindows = (xs: number[], cap: number) => {
  const hit = xs.filter((x) => x <= cap);
  if (hit.length < xs.length / 2) return `> ${cap}`;
  const m = median(xs);
  return Number.isInteger(m) ? String(m) : m.toFixed(1);
};

/** Pages of `detector` over `windows` windows of i.i.d. traffic at `perWindow` predictions from the normal mix. */
function falsePages(m: ModelMetadata, make: () => Detector, perWindow: number, windowSeconds: number, windows: number): number {
  return healthyRun(m, make, perWindow, windowSeconds, windows).pages;
}

/** Pages, and the share of windows spent in alarm, on healthy i.i.d. traffic. */
function healthyRun(m: ModelMetadata, make: () => Detector, perWindow: number, windowSeconds: number, windows: number) {
  const mix = normalMix(m);
  const d = make();
  let pages = 0;
  let alarmed = 0;
  for (let t = 0; t < windows; t++) {
    if (d.step(sampleCounts(mix, perWindow), t * windowSeconds)) pages++;
    if (d.alarmed()) alarmed++;
  }
  return { pages, alarmedShare: alarmed / windows };
}

/** Windows until the first page after a collapse of `mix` onto the normal mix's top label starts (cap: `cap`). */
function windowsToPage(m: ModelMetadata, make: () => Detector, mix: number, perWindow: number, windowSeconds: number, warmup: number, cap: number): number {
  const normal = normalMix(m);
  const top = topOf(normal);
  return windowsToPageOn(m, make, normal.map((s, i) => (1 - mix) * s + (i === top ? mix : 0)), perWindow, windowSeconds, warmup, cap);
}

/** Windows until the first page once traffic answers `after` instead of the normal mix (cap: `cap`). */
function windowsToPageOn(m: ModelMetadata, make: () => Detector, after: readonly number[], perWindow: number, windowSeconds: number, warmup: number, cap: number): number {
  const normal = normalMix(m);
  const d = make();
  for (let t = 0; t < warmup; t++) d.step(sampleCounts(normal, perWindow), t * windowSeconds);
  for (let t = 1; t <= cap; t++) if (d.step(sampleCounts(after, perWindow), (warmup + t) * windowSeconds)) return t;
  return Infinity;
}

/** The normal mix with label `i` kept at `kept` of its share; what it loses goes to the others in proportion. */
function vanishing(normal: readonly number[], i: number, kept: number): number[] {
  const freed = normal[i] * (1 - kept);
  return normal.map((s, j) => (j === i ? s * kept : s + (freed * s) / (1 - normal[i])));
}

// ---- the tables --------------------------------------------------------------------------------------------------
const WINDOW_SECONDS = 60;
const RATES = [10, 100, 1000];
const MIXES = [0.5, 0.8, 0.95, 1];

function iidTable(quick: boolean) {
  // One model-year of 60-s windows, and (for the long-window column) 20 model-years of hourly windows, per cell.
  const years60 = quick ? 0.05 : 1;
  const yearsHour = quick ? 2 : 20;
  const lines = [
    '| model (normal mix) | predictions per window | false pages, 60-s windows | false pages, 1-h windows | pooled, per model-year | at a budget of 100/yr: observed per year (60-s) |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  let worst = 0;
  for (const m of MODELS) {
    const mix = normalMix(m).map((s) => s.toFixed(2)).join('/');
    for (const rate of RATES) {
      const windows60 = Math.round((years60 * SECONDS_PER_YEAR) / 60);
      const windowsHour = Math.round((yearsHour * SECONDS_PER_YEAR) / 3600);
      const a = falsePages(m, () => labelwatch(m, detectorSettings(m, { windowSeconds: 60 })), rate, 60, windows60);
      const b = falsePages(m, () => labelwatch(m, detectorSettings(m, { windowSeconds: 3600 })), rate, 3600, windowsHour);
      // Calibration where pages are frequent enough to count: a budget of 100 a year over a tenth of a year.
      const calWindows = Math.round((0.1 * SECONDS_PER_YEAR) / 60);
      const c = falsePages(m, () => labelwatch(m, detectorSettings(m, { windowSeconds: 60, falsePageBudget: 100 })), rate, 60, quick ? Math.round(calWindows / 10) : calWindows);
      const perYear = (a + b) / (years60 + yearsHour);
      worst = Math.max(worst, perYear);
      lines.push(
        `| ${m.name} (${mix}) | ${rate} | ${a} in ${years60} yr | ${b} in ${yearsHour} yr | ${perYear.toFixed(2)} | ${(c / (quick ? 0.01 : 0.1)).toFixed(0)} |`,
      );
    }
  }
  return { lines, worst };
}

function delayTable(quick: boolean) {
  const runs = quick ? 5 : 31;
  const cap = 200;
  const lines = [
    '| model | detector | per window | false pages per model-year (healthy windows in alarm) | 50% | 80% | 95% | 100% |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const targets: { what: string; ok: boolean; got: string }[] = [];
  for (const m of MODELS) {
    const settings = detectorSettings(m, { windowSeconds: WINDOW_SECONDS });
    for (const rate of RATES) {
      // A day of healthy history first (the same seeded day for every run): the model's own baseline.
      const warmup = Math.min(1440, Math.ceil(20_000 / rate));
      const detectors: { make: () => Detector; fp: string }[] = [
        { make: () => labelwatch(m, settings), fp: 'see above' },
        { make: () => plainCusum(m, settings), fp: '' },
        { make: () => topShare(0.8), fp: '' },
        { make: () => evidently(m), fp: '' },
      ];
      const matched = matchedTopShare(m, rate, WINDOW_SECONDS);
      if (Number.isFinite(matched)) detectors.push({ make: () => topShare(Number(matched.toFixed(3))), fp: '≤ 1 (matched)' });
      detectors.push({ make: () => evidently(m, WINDOW_SECONDS / SECONDS_PER_YEAR, 'χ² matched (p < 1.9e-6)'), fp: '≤ 1 (matched, asymptotic)' });
      for (const { make, fp } of detectors) {
        const name = make().name;
        let falsePerYear = fp;
        if (fp === '') {
          const windows = Math.round((quick ? 0.01 : 0.05) * (SECONDS_PER_YEAR / WINDOW_SECONDS));
          const r = healthyRun(m, make, rate, WINDOW_SECONDS, windows);
          falsePerYear = `${((r.pages * SECONDS_PER_YEAR) / (windows * WINDOW_SECONDS)).toFixed(0)} (${(100 * r.alarmedShare).toFixed(r.alarmedShare < 0.01 ? 2 : 0)}%)`;
        }
        const cells = MIXES.map((mix) => {
          const delays = Array.from({ length: runs }, () => windowsToPage(m, make, mix, rate, WINDOW_SECONDS, name === 'labelwatch' ? warmup : 0, cap));
          if (name === 'labelwatch' && m.name === 'seattle-weather') {
            const med = median(delays);
            if (rate === 10 && mix === 1) targets.push({ what: '100% collapse at 10 per window: paged within 5 windows', ok: med <= 5, got: fmtWindows(delays, cap) });
            if (rate === 100 && mix === 0.5) targets.push({ what: '50% collapse at 100 per window: within 3 windows', ok: med <= 3, got: fmtWindows(delays, cap) });
            if (rate >= 100 && mix >= 0.8) targets.push({ what: `${mix * 100}% at ${rate} per window: the first window`, ok: med <= 1, got: fmtWindows(delays, cap) });
          }
          return fmtWindows(delays, cap);
        });
        lines.push(`| ${m.name} | ${name} | ${rate} | ${falsePerYear} | ${cells.join(' | ')} |`);
      }
    }
  }
  return { lines, targets, runs };
}

/** The label each model loses in the vanishing table: a mid-sized one, neither the top nor a rare label. */
const VANISHING: Record<string, string> = { 'seattle-weather': 'fog', penguins: 'Chinstrap', 'skewed-85-10-5': 'minor' };
const VANISH_RATES = [1, 10, 100, 1000];
const KEPT = [0, 0.1, 0.25];

/**
 * Windows to the first page after a label the model normally answers vanishes (kept at 0%, 10% or 25% of its share,
 * the rest going to the other labels in proportion): the partial collapse of a filter dropping a category, or of a
 * model that stopped answering one. Down to one prediction per window, where only evidence across windows can tell;
 * next to the χ² test matched to the same budget. And what one prediction per window costs in false pages.
 */
function vanishTable(quick: boolean) {
  // Its own seed: the tables above print the same whether or not this one runs.
  random = seededRandom(20261203);
  const runs = quick ? 5 : 31;
  const cap = 200;
  const lines = [
    '| model | label (normal share) | detector | per window | gone (0% left) | 10% left | 25% left |',
    '|---|---|---|---:|---:|---:|---:|',
  ];
  const targets: { what: string; ok: boolean; got: string }[] = [];
  for (const m of MODELS) {
    const settings = detectorSettings(m, { windowSeconds: WINDOW_SECONDS });
    const normal = normalMix(m);
    const i = m.labels.indexOf(VANISHING[m.name]!);
    for (const rate of VANISH_RATES) {
      const warmup = Math.min(1440, Math.ceil(20_000 / rate));
      const detectors: { make: () => Detector; warm: number }[] = [
        { make: () => labelwatch(m, settings), warm: warmup },
        { make: () => evidently(m, WINDOW_SECONDS / SECONDS_PER_YEAR, 'χ² matched (p < 1.9e-6)'), warm: 0 },
      ];
      for (const { make, warm } of detectors) {
        const name = make().name;
        const cells = KEPT.map((kept) => {
          const delays = Array.from({ length: runs }, () => windowsToPageOn(m, make, vanishing(normal, i, kept), rate, WINDOW_SECONDS, warm, cap));
          // Targets for the labels of at least 15%; the skewed model's 10% label is printed, at the floor the budget sets.
          if (name === 'labelwatch' && kept === 0 && normal[i] >= 0.15) {
            const med = median(delays);
            if (rate === 10) targets.push({ what: `${m.labels[i]} (${(100 * normal[i]).toFixed(0)}%) gone at 10 per window: paged within 20 windows`, ok: med <= 20, got: fmtWindows(delays, cap) });
            if (rate === 100) targets.push({ what: `${m.labels[i]} gone at 100 per window: within 3 windows`, ok: med <= 3, got: fmtWindows(delays, cap) });
          }
          return fmtWindows(delays, cap);
        });
        lines.push(`| ${m.name} | ${m.labels[i]} (${(100 * normal[i]).toFixed(0)}%) | ${name} | ${rate} | ${cells.join(' | ')} |`);
      }
    }
  }
  // One prediction a window, the rate the collapse table does not cover: a total and a half collapse onto the top label.
  const lowRateCollapse = MODELS.map((m) => {
    const settings = detectorSettings(m, { windowSeconds: WINDOW_SECONDS });
    const at = (mix: number) =>
      fmtWindows(Array.from({ length: runs }, () => windowsToPage(m, () => labelwatch(m, settings), mix, 1, WINDOW_SECONDS, 1440, cap)), cap);
    return { name: m.name, top: m.labels[topOf(normalMix(m))]!, total: at(1), half: at(0.5) };
  });
  // One prediction a window: the rate the i.i.d. table above does not cover.
  const years = quick ? 0.05 : 3;
  const windows = Math.round((years * SECONDS_PER_YEAR) / WINDOW_SECONDS);
  const lowRate = MODELS.map((m) => {
    const pages = falsePages(m, () => labelwatch(m, detectorSettings(m, { windowSeconds: WINDOW_SECONDS })), 1, WINDOW_SECONDS, windows);
    return { name: m.name, pages };
  });
  for (const r of lowRate) targets.push({ what: `${r.name}, healthy i.i.d. at 1 per 60-s window: ≤ 1 false page per model-year`, ok: r.pages / years <= 1, got: `${r.pages} in ${years} yr` });
  return { lines, targets, runs, lowRate, lowRateCollapse, years };
}

const DAY = 86_400;
const SWINGS = [0.2, 0.5];
const CYCLE_RATES = [10, 100];

/**
 * The label mix of a model whose traffic swings with the hour of day: each label's share times e^(a·cos(2π·t/day +
 * 2π·i/k)), renormalised, so each label peaks at its own hour, at up to e^a times its normal share (a = 0.5: between
 * 0.61 and 1.65 times it).
 */
function dailyMix(normal: readonly number[], a: number, t: number): number[] {
  const raw = normal.map((p, i) => p * Math.exp(a * Math.cos((2 * Math.PI * t) / DAY + (2 * Math.PI * i) / normal.length)));
  const total = raw.reduce((x, y) => x + y, 0);
  return raw.map((x) => x / total);
}

/**
 * Pages on healthy traffic whose mix follows the hour of day, over 30 days of 60-s windows, judged without a season, by
 * the hour of day, or by the hour of the week (the default, the hour of day standing in through the first week), and
 * in which day they came. Then, judged by each season, a total collapse onto its top label lasting three days (from
 * day 5, into the second week): the pages, and the windows still flagged once the traffic is back (a recovery the
 * detector took for a collapse onto the other labels).
 */
function dailyCycleTable(quick: boolean) {
  // Its own seed: the tables above print the same whether or not this one runs.
  random = seededRandom(20261204);
  const days = quick ? 8 : 30;
  const windows = (days * DAY) / WINDOW_SECONDS;
  const lines = [
    '| model | per window | swing (share × e^±a) | seasonality | pages in 30 days | of them on day 1 | windows flagged |',
    '|---|---:|---:|---|---:|---:|---:|',
  ];
  const targets: { what: string; ok: boolean; got: string }[] = [];
  const models = MODELS.filter((m) => m.name !== 'skewed-85-10-5');
  for (const m of models) {
    const normal = normalMix(m);
    for (const rate of CYCLE_RATES)
      for (const a of SWINGS)
        for (const seasonality of ['none', 'daily', 'weekly'] as const) {
          const d = labelwatch(m, detectorSettings(m, { windowSeconds: WINDOW_SECONDS, seasonality }));
          let pages = 0;
          let firstDay = 0;
          let flagged = 0;
          for (let w = 0; w < windows; w++) {
            const t = w * WINDOW_SECONDS;
            if (d.step(sampleCounts(dailyMix(normal, a, t), rate), t)) {
              pages++;
              if (t < DAY) firstDay++;
            }
            if (d.alarmed()) flagged++;
          }
          lines.push(`| ${m.name} | ${rate} | ${a} | ${seasonality} | ${pages} | ${firstDay} | ${flagged} |`);
          if (seasonality !== 'none') targets.push({ what: `${m.name}, ${rate} per window, swing ${a}, ${seasonality} declared: no page after the first day`, ok: pages === firstDay, got: `${pages - firstDay}` });
        }
  }
  // A real collapse from day 5 to day 8, then healthy again until day 12.
  const collapseLines = ['| model | per window | swing | seasonality | pages | windows flagged after the recovery |', '|---|---:|---:|---|---:|---:|'];
  for (const m of models) {
    const normal = normalMix(m);
    const top = topOf(normal);
    for (const [seasonality, a] of (['daily', 'weekly'] as const).flatMap((s) => [0, 0.5].map((x) => [s, x] as const))) {
      const d = labelwatch(m, detectorSettings(m, { windowSeconds: WINDOW_SECONDS, seasonality }));
      let pages = 0;
      let after = 0;
      for (let w = 0; w < (12 * DAY) / WINDOW_SECONDS; w++) {
        const t = w * WINDOW_SECONDS;
        const collapsed = t >= 5 * DAY && t < 8 * DAY;
        const paged = d.step(sampleCounts(collapsed ? oneHot(m.labels, m.labels[top]!) : dailyMix(normal, a, t), 10), t);
        if (paged && t >= DAY) pages++;
        // Flagged windows, not an open incident: the incident stays open through its quiet period (RESOLVE_QUIET_SECONDS).
        if (t >= 8 * DAY + 60 * WINDOW_SECONDS && d.flagged!()) after++;
      }
      collapseLines.push(`| ${m.name} | 10 | ${a} | ${seasonality} | ${pages} | ${after} |`);
      targets.push({ what: `${m.name}, ${seasonality}, swing ${a}: a 3-day collapse pages once, and no window is flagged from an hour after its recovery`, ok: pages === 1 && after === 0, got: `${pages} page(s), ${after} windows` });
    }
  }
  return { lines, collapseLines, targets, days };
}

/**
 * A package with a known model defect (its model never answers some labels; every window shows it, and pages nobody)
 * whose traffic collapses onto another label for 30 windows, recovers, and collapses again a day later: the pages,
 * and how long after the first recovery its incident resolved. Traffic is the model's own held-out answers.
 */
function defectTrafficTable() {
  random = seededRandom(20261206);
  const lines = [
    '| package | normal answers (held-out) | collapse onto | pages | incident resolved after the first recovery | windows flagged by the defect alone |',
    '|---|---|---|---:|---:|---:|',
  ];
  const targets: { what: string; ok: boolean; got: string }[] = [];
  for (const [name, onto] of [['seattle-weather-unweighted', 'rain'], ['penguins-unscaled', 'Gentoo']] as const) {
    const m = loadMetadata(name);
    const held = m.labels.map((l) => m.reference?.label_counts[l] ?? 0);
    const total = held.reduce((a, b) => a + b, 0);
    const mix = held.map((c) => c / total);
    const settings = detectorSettings(m, { windowSeconds: WINDOW_SECONDS });
    const d = labelwatch(m, settings);
    const first = 600;
    const second = first + DAY / WINDOW_SECONDS;
    let pages = 0;
    let resolvedAfter: number | null = null;
    let defectOnly = 0;
    for (let w = 0; w < second + 60; w++) {
      const collapsed = (w >= first && w < first + 30) || (w >= second && w < second + 30);
      if (d.step(sampleCounts(collapsed ? oneHot(m.labels, onto) : mix, 10), w * WINDOW_SECONDS)) pages++;
      if (w >= first + 30 && w < second && resolvedAfter === null && !d.alarmed()) resolvedAfter = w - (first + 30);
      if (!collapsed && d.flagged!()) defectOnly++;
    }
    const resolved = resolvedAfter === null ? 'never' : `${resolvedAfter} windows (${((resolvedAfter * WINDOW_SECONDS) / 3600).toFixed(1)} h)`;
    lines.push(`| ${name} | ${m.labels.map((l, i) => `${l} ${mix[i]!.toFixed(2)}`).join(', ')} | ${onto} | ${pages} | ${resolved} | ${defectOnly} |`);
    targets.push({ what: `${name}: each of two collapses pages, and the first incident resolves before the second`, ok: pages === 2 && resolvedAfter !== null, got: `${pages} pages, resolved ${resolved}` });
  }
  return { lines, targets };
}

/**
 * A new version of a model whose traffic follows the hour of day (swing e^±0.5), deployed after 10 days of the old
 * one: the pages in its first day, started afresh or with the seasons the old version learnt (inheritedState), the
 * way the cron starts it. Then the same deploy when the new version is broken (a total collapse onto its top label
 * from its first window): it must still page.
 */
function deployTable() {
  random = seededRandom(20261207);
  const lines = [
    '| model | per window | new version | pages on its first day, started afresh | pages on its first day, with the seasons it inherited |',
    '|---|---:|---|---:|---:|',
  ];
  const targets: { what: string; ok: boolean; got: string }[] = [];
  for (const m of MODELS.filter((x) => x.name !== 'skewed-85-10-5')) {
    const normal = normalMix(m);
    const settings = detectorSettings(m, { windowSeconds: WINDOW_SECONDS });
    const old = labelwatch(m, settings);
    const deployed = 10 * DAY;
    for (let t = 0; t < deployed; t += WINDOW_SECONDS) old.step(sampleCounts(dailyMix(normal, 0.5, t), 10), t);
    const inherited = inheritedState(old.state!(), m.labels, settings.seasonality);
    for (const broken of [false, true]) {
      const traffic = (t: number) => (broken ? oneHot(m.labels, m.labels[topOf(normal)]!) : dailyMix(normal, 0.5, t));
      const firstDay = (warm: MonitorState | null) => {
        const d = labelwatch(m, settings, warm);
        let pages = 0;
        for (let t = deployed; t < deployed + DAY; t += WINDOW_SECONDS) if (d.step(sampleCounts(traffic(t), 10), t)) pages++;
        return pages;
      };
      const [fresh, seasoned] = [firstDay(null), firstDay(inherited)];
      lines.push(`| ${m.name} | 10 | ${broken ? 'broken: every answer its top label' : 'healthy'} | ${fresh} | ${seasoned} |`);
      targets.push(
        broken
          ? { what: `${m.name}, a broken new version on a daily rhythm: paged on its first day, seasons inherited or not`, ok: fresh >= 1 && seasoned >= 1, got: `${fresh} and ${seasoned}` }
          : { what: `${m.name}, a healthy new version on a daily rhythm, with the seasons it inherited: no page on its first day`, ok: seasoned === 0, got: `${seasoned}` },
      );
    }
  }
  return { lines, targets };
}

/**
 * Changes that come on slowly: after a day of healthy history the top label's extra share grows linearly from nothing
 * to all the answers (a collapse), or a label's share shrinks linearly to nothing (it vanishes), over an hour, six
 * hours, a day or a week. A baseline that learns from healthy windows could learn such a drift as the new normal and
 * never page; this table shows where labelwatch pages instead: the label's share in the window that paged, against
 * its normal share. Runs last, with its own seed, so that the tables before it print as they did without it.
 */
function slowChangeTable(quick: boolean) {
  random = seededRandom(20261203);
  const runs = quick ? 3 : 11;
  const ramps = quick ? [1, 6] : [1, 6, 24, 168];
  const lines = [
    '| model | change | label (normal share) | per window | comes on over | median windows to the first page | the label\'s share in the window that paged: median (range) | never paged |',
    '|---|---|---|---:|---|---:|---|---:|',
  ];
  const targets: { what: string; ok: boolean; got: string }[] = [];
  for (const m of MODELS.filter((x) => x.name !== 'skewed-85-10-5')) {
    const normal = normalMix(m);
    const settings = detectorSettings(m, { windowSeconds: WINDOW_SECONDS });
    const [top, fading] = [topOf(normal), m.labels.indexOf(VANISHING[m.name]!)];
    const changes = [
      { name: 'collapse', label: top, at: (p: number) => normal.map((s, i) => (1 - p) * s + (i === top ? p : 0)) },
      { name: 'vanish', label: fading, at: (p: number) => vanishing(normal, fading, 1 - p) },
    ];
    for (const change of changes) {
      for (const rate of [10, 100]) {
        for (const hours of ramps) {
          const rampWindows = (hours * 3600) / WINDOW_SECONDS;
          const delays: number[] = [];
          const shares: number[] = [];
          for (let run = 0; run < runs; run++) {
            const d = labelwatch(m, settings);
            for (let t = 0; t < 1440; t++) d.step(sampleCounts(normal, rate), t * WINDOW_SECONDS);
            // Until a page, or a day after the change is complete.
            for (let k = 1; k <= rampWindows + 1440; k++) {
              const mix = change.at(Math.min(1, k / rampWindows));
              if (d.step(sampleCounts(mix, rate), (1440 + k) * WINDOW_SECONDS)) {
                delays.push(k);
                shares.push(mix[change.label]!);
                break;
              }
            }
          }
          const over = hours < 24 ? `${hours} h` : hours === 24 ? 'a day' : 'a week';
          const sorted = [...shares].sort((a, b) => a - b);
          const spread = sorted.length ? `${median(sorted).toFixed(2)} (${sorted[0]!.toFixed(2)}–${sorted.at(-1)!.toFixed(2)})` : '—';
          const label = `${m.labels[change.label]} (${normal[change.label]!.toFixed(2)})`;
          lines.push(`| ${m.name} | ${change.name} | ${label} | ${rate} | ${over} | ${delays.length ? median(delays) : '—'} | ${spread} | ${runs - delays.length} of ${runs} |`);
          if (hours !== ramps.at(-1)) continue;
          // Paged while the change was still at most three quarters of the way to complete, in every run.
          const worst = change.name === 'collapse' ? (sorted.at(-1) ?? Infinity) : (sorted[0] ?? -Infinity);
          const bound = change.name === 'collapse' ? normal[change.label]! + 0.75 * (1 - normal[change.label]!) : 0.25 * normal[change.label]!;
          targets.push({
            what: `${m.name}, ${m.labels[change.label]} ${change.name === 'collapse' ? 'taking over' : 'vanishing'} across ${over} at ${rate} per window: paged in every run before the change was three quarters done (share ${change.name === 'collapse' ? '<' : '>'} ${bound.toFixed(2)})`,
            ok: delays.length === runs && (change.name === 'collapse' ? worst < bound : worst > bound),
            got: delays.length === runs ? `worst ${worst.toFixed(2)}` : `${runs - delays.length} runs never paged`,
          });
        }
      }
    }
  }
  return { lines, targets, runs };
}

const WEEK = 7 * DAY;
/**
 * The label mix of a model whose weekends differ: on Saturdays and Sundays (days 5 and 6 of each simulated week) each
 * label's share times e^(a·cos(2π·i/k)), renormalised; weekdays answer the normal mix.
 */
function weekendMix(normal: readonly number[], a: number, t: number): number[] {
  if ((t % WEEK) / DAY < 5) return [...normal];
  const raw = normal.map((p, i) => p * Math.exp(a * Math.cos((2 * Math.PI * i) / normal.length)));
  const total = raw.reduce((x, y) => x + y, 0);
  return raw.map((x) => x / total);
}

/**
 * Pages on healthy traffic whose weekends differ from its weekdays, over 8 weeks of 60-s windows, judged by the hour of
 * day or of the week (the default): the first week apart from the rest, since no week is known before its first cycle.
 */
async function weekendTable(quick: boolean) {
  random = seededRandom(20261205);
  const weeks = quick ? 3 : 8;
  const lines = [
    '| model | per window | weekend swing | seasonality | pages in week 1 | pages in weeks 2–' + weeks + ' | windows flagged | state stored (KiB) |',
    '|---|---:|---:|---|---:|---:|---:|---:|',
  ];
  const targets: { what: string; ok: boolean; got: string }[] = [];
  for (const m of MODELS.filter((x) => x.name !== 'skewed-85-10-5')) {
    const normal = normalMix(m);
    for (const seasonality of ['daily', 'weekly'] as const) {
      const d = labelwatch(m, detectorSettings(m, { windowSeconds: WINDOW_SECONDS, seasonality }));
      let first = 0;
      let later = 0;
      let flagged = 0;
      for (let w = 0; w < (weeks * WEEK) / WINDOW_SECONDS; w++) {
        const t = w * WINDOW_SECONDS;
        if (d.step(sampleCounts(weekendMix(normal, 0.5, t), 10), t)) t < WEEK ? first++ : later++;
        if (d.alarmed()) flagged++;
      }
      lines.push(`| ${m.name} | 10 | 0.5 | ${seasonality} | ${first} | ${later} | ${flagged} | ${(await storedKiB(d.state!())).toFixed(1)} |`);
      if (seasonality === 'weekly') targets.push({ what: `${m.name}, weekends differ, weekly (the default): no page after the first week`, ok: later === 0, got: `${later}` });
    }
  }
  return { lines, targets, weeks };
}

/** KiB of a state as D1 stores it (packState: what the cron writes once per window). */
const storedKiB = async (state: MonitorState | null | undefined) => (await packState(state!)).length / 1024;

/**
 * The stored state of a model with many labels (an image classifier's 1000 classes), weekly (the default), after
 * 8 weeks of hourly windows: its JSON, and as D1 stores it, against D1's limit of 2,000,000 bytes for a value. Hourly
 * windows fill the same hour-of-week and hour-of-day bins as sixty 60-s windows of the same traffic would, at a
 * sixtieth of the cost. Answers drawn from a long-tailed mix (share ∝ 1 / rank) and from a uniform one, at 10 and
 * 1000 predictions a minute: more traffic fills more of the bins, with larger counts.
 */
async function manyLabelsTable(quick: boolean) {
  random = seededRandom(20261209);
  const weeks = quick ? 2 : 8;
  const k = 1000;
  const D1_VALUE_LIMIT = 2_000_000;
  const labels = Array.from({ length: k }, (_, i) => `class_${String(i).padStart(4, '0')}`);
  const lines = [
    '| labels | normal mix | predictions a minute | state JSON (KiB) | state stored (KiB) | of D1\'s limit |',
    '|---:|---|---:|---:|---:|---:|',
  ];
  const targets: { what: string; ok: boolean; got: string }[] = [];
  for (const [mixName, weight] of [['long tail, share ∝ 1 / rank', (i: number) => 1 / (i + 1)], ['uniform', () => 1]] as const) {
    const raw = labels.map((_, i) => weight(i));
    const total = raw.reduce((a, b) => a + b, 0);
    const mix = raw.map((x) => x / total);
    const counts = Object.fromEntries(labels.map((l, i) => [l, Math.max(1, Math.round(mix[i]! * 100_000))]));
    const m: ModelMetadata = { ...skewed, name: `classes-${k}`, labels, training: { samples: 100_000, label_counts: counts }, reference: { label_counts: counts, samples: 100_000 } };
    for (const perMinute of [10, 1000]) {
      const d = labelwatch(m, detectorSettings(m, { windowSeconds: 3600 }));
      for (let t = 0; t < weeks * WEEK; t += 3600) d.step(sampleCounts(mix, 60 * perMinute), t);
      const json = JSON.stringify(d.state!()).length / 1024;
      const stored = await storedKiB(d.state!());
      const share = (stored * 1024) / D1_VALUE_LIMIT;
      lines.push(`| ${k} | ${mixName} | ${perMinute} | ${json.toFixed(0)} | ${stored.toFixed(0)} | ${(100 * share).toFixed(0)}% |`);
      targets.push({ what: `${k} labels, ${mixName}, ${perMinute} a minute: the stored state within half of D1's limit for a value`, ok: share <= 0.5, got: `${(100 * share).toFixed(0)}%` });
    }
  }
  return { lines, targets, weeks };
}

/** A page of the seasonal sequences: the window that opened or escalated an incident, and what it said. */
interface SeasonalPage {
  sequence: string;
  seasonality: string;
  start: number;
  event: string;
  evaluation: Evaluation;
  explanation: Explanation;
}

const oneHot = (labels: readonly string[], label: string) => labels.map((l) => (l === label ? 1 : 0));

async function seasonalTable() {
  const days = seattleDays();
  const metadata = loadMetadata('seattle-weather');
  const answers = await predictDays('seattle-weather', days);
  // The real rows' features as the model receives them (standardized with its raw scaler), for the feature moments
  // the diagnosis reads, and the model's answers on its own probes, which the cron runs for a flagged window.
  const inputs = toModelUnits(metadata, days.map((d) => d.raw));
  const probe = { predictedLabels: await predictProbes('seattle-weather') };
  const featureNames = metadata.features.map((f) => f.name);
  const windowFrom = (rows: number[][], labels: string[]): WindowCounts =>
    summarizeBatch(rows, labels.map((l) => oneHot(metadata.labels, l)), metadata.labels, featureNames);
  const dayOfYear = (t: number) => {
    const d = new Date(t * 1000);
    return Math.floor((t - Date.UTC(d.getUTCFullYear(), 0, 1) / 1000) / 86_400);
  };
  const pool = days.map((d, i) => ({ doy: dayOfYear(d.time), answer: answers[i], truth: d.truth, x: inputs[i] }));
  const near = days.map((d) => {
    const doy = dayOfYear(d.time);
    return pool.filter((p) => Math.min(Math.abs(p.doy - doy), 365 - Math.abs(p.doy - doy)) <= 15);
  });
  const lines = [
    '| sequence | labels | window | seasonality | windows judged | flagged | false pages (opened + escalated) | in 4 years |',
    '|---|---|---|---|---:|---:|---:|---|',
  ];
  const results: { perDay: number; seasonality: string; pages: number }[] = [];
  const paged: SeasonalPage[] = [];
  const pagesOf = (sequence: string, seasonality: string) => (w: { start: number }, evaluation: Evaluation, events: IncidentEvent[], explanation: Explanation) => {
    for (const event of events) if (event === 'opened' || event === 'escalated') paged.push({ sequence, seasonality, start: w.start, event, evaluation, explanation });
  };
  const run = (name: string, which: 'answer' | 'truth', perDay: number, seasonality: 'none' | 'yearly') => {
    random = seededRandom(7 + perDay);
    const windows = days.map((d, i) => {
      const rows: number[][] = [];
      const labels: string[] = [];
      for (let j = 0; j < perDay; j++) {
        const row = near[i][Math.floor(random() * near[i].length)];
        rows.push(row.x);
        labels.push(row[which]);
      }
      return { start: d.time, counts: windowFrom(rows, labels) };
    });
    const settings = detectorSettings({ ...metadata, monitor: { seasonality } }, { windowSeconds: 86_400 });
    const r = backtest(metadata, settings, windows, { probe, onWindow: pagesOf(`${which === 'answer' ? 'resampled' : 'true weather'}, ${perDay} a day`, seasonality) });
    const traffic = r.incidents.filter((x) => x.kind !== 'model_defect');
    const pages = traffic.reduce((s, x) => s + x.pages - (x.resolvedWindowStart === null ? 0 : 1), 0);
    const when = traffic.map((x) => new Date(x.openedWindowStart * 1000).toISOString().slice(0, 10)).join(', ') || '—';
    lines.push(`| ${name} | ${which === 'answer' ? 'model answers' : 'true weather'} | 1 day, ${perDay} | ${seasonality} | ${r.judged} | ${r.flagged} | ${pages} | ${when} |`);
    if (which === 'answer') results.push({ perDay, seasonality, pages });
  };
  for (const perDay of [100, 1000]) for (const s of ['none', 'yearly'] as const) run('2012–2015 in date order, resampled ±15 days', 'answer', perDay, s);
  run('perfect model (the true weather), resampled', 'truth', 100, 'none');
  // The literal rows: one prediction a day, 30-day windows.
  const literal = (seasonality: 'none' | 'yearly') => {
    const windows: { start: number; rows: number[][]; labels: string[] }[] = [];
    days.forEach((d, i) => {
      const start = Math.floor(d.time / (30 * 86_400)) * 30 * 86_400;
      let w = windows.at(-1);
      if (!w || w.start !== start) windows.push((w = { start, rows: [], labels: [] }));
      w.rows.push(inputs[i]);
      w.labels.push(answers[i]);
    });
    const r = backtest(
      metadata,
      detectorSettings({ ...metadata, monitor: { seasonality } }, { windowSeconds: 30 * 86_400 }),
      windows.map((w) => ({ start: w.start, counts: windowFrom(w.rows, w.labels) })),
      { probe, onWindow: pagesOf('literal rows, 30-day windows', seasonality) },
    );
    const traffic = r.incidents.filter((x) => x.kind !== 'model_defect');
    const pages = traffic.reduce((s, x) => s + x.pages - (x.resolvedWindowStart === null ? 0 : 1), 0);
    lines.push(
      `| the literal rows, one a day | model answers | 30 days, ~30 | ${seasonality} | ${r.judged} | ${r.flagged} | ${pages} | ${traffic.map((x) => new Date(x.openedWindowStart * 1000).toISOString().slice(0, 10)).join(', ') || '—'} |`,
    );
  };
  literal('none');
  literal('yearly');
  return { lines, results, pageLines: seasonalPageLines(paged) };
}

/** What each page of the seasonal sequences said: its window, verdict and diagnoses (most confident first). */
function seasonalPageLines(pages: SeasonalPage[]): string[] {
  const lines = ['| sequence | seasonality | window | page | verdict | diagnoses (confidence) |', '|---|---|---|---|---|---|'];
  for (const p of pages) {
    const e = p.evaluation;
    const verdict = e.verdict === 'collapsed' ? `collapsed onto ${e.dominantLabel}` : `partial collapse: ${e.vanishedLabels.join(', ')} vanished`;
    const diagnoses = p.explanation.diagnoses.map((d) => `${d.kind} ${d.confidence.toFixed(2)}`).join(', ') || 'none';
    lines.push(`| ${p.sequence} | ${p.seasonality} | ${new Date(p.start * 1000).toISOString().slice(0, 10)} | ${p.event} | ${verdict} | ${diagnoses} |`);
  }
  return lines;
}

function defectLines() {
  const lines = ['| package | model defect | labels | remedies |', '|---|---|---|---|'];
  for (const name of ['seattle-weather', 'seattle-weather-unweighted', 'penguins', 'penguins-unscaled']) {
    const m = loadMetadata(name);
    const r = backtest(m, detectorSettings(m, { windowSeconds: 60 }), [{ start: 0, counts: emptyCounts() }]);
    const d = r.incidents.find((x) => x.kind === 'model_defect');
    lines.push(`| ${name} | ${d ? d.verdict : 'none'} | ${d ? d.labels.join(', ') : '—'} | ${d ? d.diagnoses.join(', ') : '—'} |`);
  }
  return lines;
}

export async function main(argv: string[]): Promise<number> {
  let quick = false;
  try {
    const flags = parseFlags(argv, { quick: { type: 'boolean' } });
    if (flags.help) {
      console.log(USAGE);
      return 0;
    }
    quick = flags.quick ?? false;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench:detect: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  const started = Date.now();
  // The seasonal sequence runs the model in Node first (tfjs greets on stdout once): keep that above the tables.
  const seasonal = await seasonalTable();
  console.log(`\n# bench:detect${quick ? ' (--quick: smoke test, not the published figures)' : ''}\n`);
  console.log(`False-page budget 1 per model and year (FALSE_PAGE_BUDGET default); seeded, so a rerun prints the same tables.\n`);

  console.log('## Model defects found in the packages\n');
  console.log(defectLines().join('\n'));

  console.log('\n## False pages on healthy i.i.d. traffic (a page = an incident opened or escalated)\n');
  const iid = iidTable(quick);
  console.log(iid.lines.join('\n'));

  console.log('\n## The real seasonal sequence: the healthy seattle-weather model on 2012–2015 in date order\n');
  console.log(seasonal.lines.join('\n'));

  console.log('\n## What each page of the seasonal sequence said\n');
  console.log('The window that paged (opened or escalated an incident), its verdict, and the diagnoses its page carried,');
  console.log("most confident first: the model's real probe answers and the days' real features, standardized.\n");
  console.log(seasonal.pageLines.join('\n'));

  console.log('\n## Median windows to the first page after a collapse onto the top label (60-s windows)\n');
  const delays = delayTable(quick);
  console.log(`${delays.runs} seeded runs per cell; "> 200" when most runs never paged within 200 windows.\n`);
  console.log(delays.lines.join('\n'));

  console.log('\n## Median windows to the first page after a label vanishes (60-s windows)\n');
  const vanish = vanishTable(quick);
  console.log(`${vanish.runs} seeded runs per cell after healthy history (a day, or 20,000 predictions if fewer windows hold them); "> 200" when most runs never paged within 200 windows.\n`);
  console.log(vanish.lines.join('\n'));
  console.log('\nAt 1 prediction per 60-s window, a collapse onto the top label (median windows to the first page, same runs):\n');
  console.log('| model | top label | 100% | 50% |\n|---|---|---:|---:|');
  console.log(vanish.lowRateCollapse.map((r) => `| ${r.name} | ${r.top} | ${r.total} | ${r.half} |`).join('\n'));
  console.log(`\nHealthy i.i.d. traffic at 1 prediction per 60-s window: ${vanish.lowRate.map((r) => `${r.name} ${r.pages}`).join(', ')} false pages in ${vanish.years} model-years.`);

  console.log('\n## A daily cycle: healthy traffic whose label mix follows the hour of day (60-s windows)\n');
  const cycle = dailyCycleTable(quick);
  console.log(`${cycle.days} days per row; a page is an incident opened or escalated; flagged: windows spent in an open incident.\n`);
  console.log(cycle.lines.join('\n'));
  console.log('\nA total collapse onto the top label from day 5 to day 8, declared `daily` or `weekly` (pages after the first day; windows flagged from an hour after the traffic came back):\n');
  console.log(cycle.collapseLines.join('\n'));

  console.log('\n## A weekly cycle: healthy traffic whose weekends differ from its weekdays (60-s windows)\n');
  const weekend = await weekendTable(quick);
  console.log(`${weekend.weeks} weeks per row; on Saturdays and Sundays each label's share moves by up to e^±0.5; a page is an incident opened or escalated; state: the model version's MonitorState at the end as D1 stores it (packState), written once per window.\n`);
  console.log(weekend.lines.join('\n'));
  const many = await manyLabelsTable(quick);
  console.log(`\nThe state of a model with many labels, weekly (the default), after ${many.weeks} weeks of hourly windows (the same bins as 60-s windows fill): its JSON, and as D1 stores it (gzipped, base64), against D1's limit of 2,000,000 bytes for a value.\n`);
  console.log(many.lines.join('\n'));

  console.log('\n## A collapse on a package with a known model defect (60-s windows)\n');
  const defectTraffic = defectTrafficTable();
  console.log("10 predictions a window: onto one label for 30 windows, back to the model's own answers, and again a day later; a page is an incident opened or escalated.\n");
  console.log(defectTraffic.lines.join('\n'));

  console.log('\n## A new version deployed on a daily rhythm (60-s windows)\n');
  const deploy = deployTable();
  console.log("10 days of the old version (each label's share × e^±0.5 over the day, 10 predictions a window), then the new version's first day; a page is an incident opened or escalated.\n");
  console.log(deploy.lines.join('\n'));

  console.log('\n## Changes that come on slowly (60-s windows)\n');
  const slow = slowChangeTable(quick);
  console.log(`${slow.runs} seeded runs per row after a day of healthy history. Collapse: the top label's extra share grows linearly from none to every answer over the time given; vanish: the label's share shrinks linearly to none, what it loses going to the others in proportion. A page is an incident opened or escalated.\n`);
  console.log(slow.lines.join('\n'));

  console.log('\n## Targets\n');
  const mark = (ok: boolean) => (ok ? '✓' : '✗');
  const seasonalWorst = Math.max(...seasonal.results.filter((r) => r.seasonality === 'yearly').map((r) => r.pages));
  const seasonalNone = Math.max(...seasonal.results.filter((r) => r.seasonality === 'none').map((r) => r.pages));
  console.log(`${mark(seasonalWorst <= 4)} seasonal seattle, 100 and 1000 a day, yearly seasonality: ≤ 4 false pages in four years (worst ${seasonalWorst})`);
  console.log(`${mark(seasonalNone <= 4)} the same without declaring seasonality (worst ${seasonalNone})`);
  console.log(`${mark(iid.worst <= 1)} i.i.d. healthy: ≤ 1 false page per model-year at every rate and window length (worst ${iid.worst.toFixed(2)})`);
  for (const t of delays.targets) console.log(`${mark(t.ok)} ${t.what} (median ${t.got})`);
  for (const t of vanish.targets) console.log(`${mark(t.ok)} ${t.what} (${t.what.includes('false page') ? '' : 'median '}${t.got})`);
  for (const t of cycle.targets) console.log(`${mark(t.ok)} ${t.what} (${t.got})`);
  for (const t of weekend.targets) console.log(`${mark(t.ok)} ${t.what} (${t.got})`);
  for (const t of many.targets) console.log(`${mark(t.ok)} ${t.what} (${t.got})`);
  for (const t of defectTraffic.targets) console.log(`${mark(t.ok)} ${t.what} (${t.got})`);
  for (const t of deploy.targets) console.log(`${mark(t.ok)} ${t.what} (${t.got})`);
  for (const t of slow.targets) console.log(`${mark(t.ok)} ${t.what} (${t.got})`);
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return 0;
}

function invokedAsScript(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (invokedAsScript()) main(process.argv.slice(2)).then((code) => process.exit(code));

