// Simulation benchmark of the collapse detector against two common baselines, on the same seeded streams.
// No server, no model: label streams drawn from known distributions. Run: npx tsx scripts/bench-detect.ts
// (npm run bench:detect). Prints markdown tables; docs/detection.md explains the method and quotes the output.

import type { ModelMetadata } from '../src/serving/metadata';
import {
  chiSquareTest,
  DEFAULT_ALPHA,
  evaluateWindow,
  jensenShannonDistance,
  logBinomialPmf,
  logGamma,
  type Verdict,
} from '../src/monitor/index';
import { cli } from './lib/args';
import { seededRandom } from './lib/random';

cli(
  'bench-detect',
  `usage: npm run bench:detect

Simulates label streams from known distributions and measures false alarms and detection delay of the collapse
detector against two common baselines (no server, no model). Prints markdown tables (docs/detection.md quotes them).

  -h, --help     this text`,
  process.argv.slice(2),
  {},
);

// ---- seeded randomness ---------------------------------------------------------------------------------------
const SEED = 20240611;
const random = seededRandom(SEED);

/** One categorical draw from shares (cumulative search; k ≤ 5 here). */
function draw(shares: readonly number[]): number {
  let u = random();
  for (let i = 0; i < shares.length - 1; i++) {
    if (u < shares[i]) return i;
    u -= shares[i];
  }
  return shares.length - 1;
}

// ---- references ----------------------------------------------------------------------------------------------
interface Scenario {
  name: string;
  /** Training rows per label: the reference. Healthy traffic is drawn from exactly these shares. */
  trainingCounts: number[];
  /** Label that vanishes in the "vanish" scenario. */
  vanishing: number;
}
/** A reference with these shares (normalised, rounded to whole training rows) over about `rows` rows. */
function reference(label: string, shares: number[], rows: number, vanishing: number): Scenario {
  const total = shares.reduce((s, x) => s + x, 0);
  const trainingCounts = shares.map((s) => Math.round((s / total) * rows));
  return { name: `${label} (${trainingCounts.reduce((s, c) => s + c, 0)} rows)`, trainingCounts, vanishing };
}
const REFERENCES: Scenario[] = [
  reference('skewed 0.85/0.10/0.05', [0.85, 0.1, 0.05], 2000, 1),
  // Shaped like seattle weather (two big labels, three small ones) and about its training size.
  reference('seattle-like 0.44/0.44/0.07/0.04/0.02', [0.44, 0.44, 0.07, 0.04, 0.02], 1169, 2),
  reference('balanced 1/3 each', [1, 1, 1], 300, 2),
];
const sharesOf = (ref: Scenario) => {
  const rows = ref.trainingCounts.reduce((s, c) => s + c, 0);
  return ref.trainingCounts.map((c) => c / rows);
};

// ---- detectors -----------------------------------------------------------------------------------------------
type Detector = (counts: number[]) => boolean;

/** A stricter alpha, shown next to the default to make the false-alarm / delay trade-off visible. */
const STRICT_ALPHA = 0.0003;

/** The detectors for one reference, plus labelwatch's full verdict (to count the windows it judged). */
function detectors(ref: Scenario): { verdict: (counts: number[]) => Verdict; flags: Record<string, Detector> } {
  const labels = ref.trainingCounts.map((_, i) => `label${i}`);
  const rows = ref.trainingCounts.reduce((s, c) => s + c, 0);
  const metadata: ModelMetadata = {
    name: 'bench',
    version: '1',
    labels,
    features: [{ name: 'x', mean: 0, std: 1 }],
    training: { samples: rows, label_counts: Object.fromEntries(labels.map((l, i) => [l, ref.trainingCounts[i]])) },
    probes: [],
  };
  const shares = sharesOf(ref);
  const n = (counts: number[]) => counts.reduce((s, c) => s + c, 0);
  // evaluateWindow is a pure function of the counts: small windows repeat the same few count vectors, so memoise.
  const judge = (alpha: number) => {
    const memo = new Map<string, Verdict>();
    return (counts: number[]): Verdict => {
      const key = counts.join(',');
      let v = memo.get(key);
      if (v === undefined) {
        v = evaluateWindow({ labelCounts: Object.fromEntries(labels.map((l, i) => [l, counts[i]])) }, metadata, { alpha }).verdict;
        memo.set(key, v);
      }
      return v;
    };
  };
  const flagged = (v: Verdict) => v === 'collapsed' || v === 'partial_collapse';
  const verdict = judge(DEFAULT_ALPHA);
  const strict = judge(STRICT_ALPHA);
  return {
    verdict,
    flags: {
      labelwatch: (counts) => flagged(verdict(counts)),
      [`labelwatch α=${STRICT_ALPHA}`]: (counts) => flagged(strict(counts)),
      // Evidently-style default for a categorical column: chi-square goodness of fit p < 0.05 when the reference has
      // at most 1000 rows, else Jensen–Shannon distance ≥ 0.1 (scipy's default natural-log distance).
      'drift default': (counts) => {
        if (n(counts) === 0) return false;
        if (rows <= 1000) return chiSquareTest(counts, shares).pValue < 0.05;
        return jensenShannonDistance(counts, shares) * Math.sqrt(Math.LN2) >= 0.1;
      },
      'top share ≥ 0.8': (counts) => n(counts) > 0 && Math.max(...counts) / n(counts) >= 0.8,
    },
  };
}
const DETECTORS = ['labelwatch', `labelwatch α=${STRICT_ALPHA}`, 'drift default', 'top share ≥ 0.8'];

// ---- false alarms on healthy windows -------------------------------------------------------------------------
const SIZES = [10, 30, 100, 1000, 10000];
const windowsFor = (size: number) => (size <= 30 ? 100_000 : size <= 100 ? 50_000 : size <= 1000 ? 20_000 : 10_000);
/** Enumerate every possible window (for the exact false-alarm rate) when there are at most this many. */
const MAX_ENUMERATED_WINDOWS = 60_000;

/**
 * One Bin(n, p) draw by inversion, visiting outcomes from the mode outwards (alternately down and up): exact, and
 * O(standard deviation) steps instead of n coin flips.
 */
function sampleBinomial(n: number, p: number): number {
  if (n === 0 || p <= 0) return 0;
  if (p >= 1) return n;
  const mode = Math.min(n, Math.floor((n + 1) * p));
  const atMode = Math.exp(logBinomialPmf(mode, n, p));
  let u = random() - atMode;
  if (u < 0) return mode;
  let down = mode;
  let up = mode;
  let pDown = atMode;
  let pUp = atMode;
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
    if (down === 0 && up === n) return mode; // rounding left a sliver of probability unassigned
  }
}

/** A multinomial window: label i ~ Bin(rest, share_i / remaining share), one label after the other. */
function sampleWindow(shares: readonly number[], size: number): number[] {
  const counts = new Array<number>(shares.length).fill(0);
  let rest = size;
  let remaining = 1;
  for (let i = 0; i < shares.length - 1 && rest > 0; i++) {
    counts[i] = sampleBinomial(rest, Math.min(1, shares[i] / remaining));
    rest -= counts[i];
    remaining -= shares[i];
  }
  counts[shares.length - 1] += rest;
  return counts;
}

interface FalseAlarmRow {
  reference: string;
  size: number;
  windows: number;
  judged: number;
  alarms: Record<string, number>;
  /** labelwatch's exact false-alarm probability (every possible window weighed by its multinomial probability). */
  exact: number | null;
}

/** Every count vector of `k` labels summing to n. */
function* compositions(n: number, k: number): Generator<number[]> {
  if (k === 1) {
    yield [n];
    return;
  }
  for (let i = 0; i <= n; i++) for (const rest of compositions(n - i, k - 1)) yield [i, ...rest];
}
const binomialCoefficient = (n: number, k: number) => {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
};

/** Σ over flagged windows of their multinomial probability; null when there are too many windows to enumerate. */
function exactFalseAlarm(verdict: (counts: number[]) => Verdict, shares: number[], n: number): number | null {
  if (binomialCoefficient(n + shares.length - 1, shares.length - 1) > MAX_ENUMERATED_WINDOWS) return null;
  let p = 0;
  for (const counts of compositions(n, shares.length)) {
    const v = verdict(counts);
    if (v !== 'collapsed' && v !== 'partial_collapse') continue;
    let log = logGamma(n + 1);
    counts.forEach((c, i) => (log += c * Math.log(shares[i]) - logGamma(c + 1)));
    p += Math.exp(log);
  }
  return p;
}

function falseAlarms(): FalseAlarmRow[] {
  const rows: FalseAlarmRow[] = [];
  for (const ref of REFERENCES) {
    const { verdict, flags } = detectors(ref);
    const shares = sharesOf(ref);
    for (const size of SIZES) {
      const windows = windowsFor(size);
      const alarms = Object.fromEntries(DETECTORS.map((d) => [d, 0]));
      let judged = 0;
      for (let w = 0; w < windows; w++) {
        const counts = sampleWindow(shares, size);
        if (verdict(counts) !== 'insufficient_data') judged++;
        for (const d of DETECTORS) if (flags[d](counts)) alarms[d]++;
      }
      rows.push({ reference: ref.name, size, windows, judged, alarms, exact: exactFalseAlarm(verdict, shares, size) });
    }
  }
  return rows;
}

// ---- detection delay -----------------------------------------------------------------------------------------
type Onset = 'sudden' | 'gradual' | 'vanish';
const ONSETS: Onset[] = ['sudden', 'gradual', 'vanish'];
const DELAY_WINDOW_SIZES = [30, 100, 1000];
/** A gradual collapse mixes linearly from the reference to one label over this many windows. */
const RAMP_WINDOWS = 10;
const WARMUP_WINDOWS = 3;
/** Give up this many windows after onset: counted as missed. */
const HORIZON_WINDOWS = 30;
const runsFor = (size: number) => (size >= 1000 ? 60 : 200);

/**
 * A sampler of the prediction `t` predictions after onset. A gradual collapse is the mixture
 * (1 − λ)·reference + λ·top with λ rising linearly over RAMP_WINDOWS windows: draw the top label with probability λ,
 * else from the reference.
 */
function afterOnset(ref: Scenario, onset: Onset, windowSize: number): (t: number) => number {
  const shares = sharesOf(ref);
  const top = shares.indexOf(Math.max(...shares));
  if (onset === 'sudden') return () => top;
  if (onset === 'gradual') return (t) => (random() < Math.min(1, t / (RAMP_WINDOWS * windowSize)) ? top : draw(shares));
  const rest = 1 - shares[ref.vanishing];
  const remaining = shares.map((s, i) => (i === ref.vanishing ? 0 : s / rest));
  return () => draw(remaining);
}

interface DelayRow {
  reference: string;
  size: number;
  onset: Onset;
  runs: number;
  delays: Record<string, number[]>;
  missed: Record<string, number>;
}

function detectionDelays(): DelayRow[] {
  const rows: DelayRow[] = [];
  for (const ref of REFERENCES) {
    const { flags } = detectors(ref);
    const shares = sharesOf(ref);
    for (const size of DELAY_WINDOW_SIZES) {
      for (const onset of ONSETS) {
        const runs = runsFor(size);
        const delays = Object.fromEntries(DETECTORS.map((d) => [d, [] as number[]]));
        const missed = Object.fromEntries(DETECTORS.map((d) => [d, 0]));
        const next = afterOnset(ref, onset, size);
        for (let r = 0; r < runs; r++) {
          // Onset at a random point of the window after the warm-up, so windows straddle it as in life.
          const start = WARMUP_WINDOWS * size + Math.floor(random() * size);
          const pending = new Set(DETECTORS);
          for (let w = WARMUP_WINDOWS; w < WARMUP_WINDOWS + HORIZON_WINDOWS + 1 && pending.size > 0; w++) {
            const counts = new Array<number>(shares.length).fill(0);
            for (let t = w * size; t < (w + 1) * size; t++) {
              counts[t < start ? draw(shares) : next(t - start)]++;
            }
            const end = (w + 1) * size;
            if (end <= start) continue; // a window wholly before onset: alarms there are false alarms, not detections
            for (const d of [...pending]) {
              if (flags[d](counts)) {
                delays[d].push(end - start);
                pending.delete(d);
              }
            }
          }
          for (const d of pending) missed[d]++;
        }
        rows.push({ reference: ref.name, size, onset, runs, delays, missed });
      }
    }
  }
  return rows;
}

// ---- report --------------------------------------------------------------------------------------------------
const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
const per10k = (alarms: number, windows: number) => {
  const rate = (alarms / windows) * 10_000;
  return rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
};

const started = performance.now();
const fa = falseAlarms();
const faSeconds = (performance.now() - started) / 1000;
const dl = detectionDelays();

console.log(`seed ${SEED}; labelwatch at its defaults (alpha ${DEFAULT_ALPHA}, minimum 30 predictions) unless stated\n`);
console.log('### False alarms per 10,000 healthy windows\n');
console.log(`| reference | window size | windows | labelwatch judged | ${DETECTORS.join(' | ')} | labelwatch exact |`);
console.log(`|---|---:|---:|---:|${DETECTORS.map(() => '---:').join('|')}|---:|`);
for (const row of fa) {
  console.log(
    `| ${row.reference} | ${row.size} | ${row.windows} | ${Math.round((100 * row.judged) / row.windows)}% | ` +
      `${DETECTORS.map((d) => per10k(row.alarms[d], row.windows)).join(' | ')} | ` +
      `${row.exact === null ? '—' : (row.exact * 10_000).toFixed(2)} |`,
  );
}
const totalWindows = fa.reduce((s, r) => s + r.windows, 0);
console.log(
  `| **all** | | ${totalWindows} | | ${DETECTORS.map((d) => `**${per10k(fa.reduce((s, r) => s + r.alarms[d], 0), totalWindows)}**`).join(' | ')} | |`,
);

console.log('\n### Detection delay: median predictions from onset to the end of the first flagged window\n');
console.log('(missed: runs not flagged within 30 windows of onset)\n');
console.log(`| reference | window size | onset | runs | ${DETECTORS.join(' | ')} |`);
console.log(`|---|---:|---|---:|${DETECTORS.map(() => '---:').join('|')}|`);
for (const row of dl) {
  const cell = (d: string) => {
    const m = median(row.delays[d]);
    const miss = row.missed[d] > 0 ? ` (missed ${row.missed[d]}/${row.runs})` : '';
    return row.delays[d].length === 0 ? `never${miss}` : `${m}${miss}`;
  };
  console.log(`| ${row.reference} | ${row.size} | ${row.onset} | ${row.runs} | ${DETECTORS.map(cell).join(' | ')} |`);
}
console.log(`\n(false alarms ${faSeconds.toFixed(1)} s, total ${((performance.now() - started) / 1000).toFixed(1)} s)`);
