// npm run backtest on real model packages and on logs written here: the model defect of the unweighted Seattle model,
// a collapse in synthetic traffic (opened, paged, resolved), the windows the log reader builds, the JSON line, the
// probes run through the model (and the fallback when it cannot run), and the error for each kind of bad data. In-process through main() where the exit status is all that matters; the
// real CLI for the JSON line and the exit codes of the process.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKTEST_VARS, main, runBacktest, USAGE, type BacktestReport } from '../../scripts/backtest';
import { logRows, windowsOf } from '../../scripts/backtest/log';
import { seededRandom } from '../../scripts/lib/random';
import { backtest } from '../../src/monitor/backtest';
import { modelDefect } from '../../src/monitor/defect';
import { detectorSettings } from '../../src/monitor/detector';
import { summarizeBatch } from '../../src/monitor/window';
import { parseMetadata, type ModelMetadata } from '../../src/serving/metadata';
import { answersOf, seattleRows } from '../unit/monitor.fixtures';

const ROOT = join(import.meta.dirname, '..', '..');
const metadataOf = (name: string): ModelMetadata =>
  parseMetadata(JSON.parse(readFileSync(join(ROOT, 'models', name, 'metadata.json'), 'utf8')));
const penguins = metadataOf('penguins');
const unweighted = metadataOf('seattle-weather-unweighted');
const weather = metadataOf('seattle-weather');
const holdout: { rows: { input: number[]; label: string }[] } = JSON.parse(
  readFileSync(join(ROOT, 'test/fixtures/holdout/penguins.json'), 'utf8'),
);

/** 2024-01-01T00:00:00Z: a multiple of every window length used here. */
const T0 = 1_704_067_200;
const iso = (t: number) => new Date(t * 1000).toISOString();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'backtest-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** A label drawn from the model's own held-out answers (its reference mix). */
function ownAnswers(metadata: ModelMetadata, random: () => number): () => string {
  const entries = Object.entries(metadata.reference!.label_counts).filter(([, c]) => c > 0);
  const total = entries.reduce((s, [, c]) => s + c, 0);
  return () => {
    let u = random() * total;
    for (const [label, c] of entries) if ((u -= c) < 0) return label;
    return entries[entries.length - 1][0];
  };
}

/** CSV lines `time,label` for `windows` windows of `perWindow` predictions each, spread over each window. */
function traffic(from: number, windows: number, perWindow: number, label: () => string, windowSeconds = 60): string[] {
  const lines: string[] = [];
  for (let w = 0; w < windows; w++)
    for (let i = 0; i < perWindow; i++) lines.push(`${from + w * windowSeconds + Math.floor((i * windowSeconds) / perWindow)},${label()}`);
  return lines;
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t), isTTY: false } });
  return { code, stdout, stderr };
}

const backtestOf = (model: string, data: string, vars = {}): Promise<BacktestReport> =>
  runBacktest({ modelDir: join(ROOT, 'models', model), data, vars });

describe('npm run backtest', () => {
  it('the unweighted Seattle model: one model_defect incident at the first window, naming the labels its own answers lack', async () => {
    const random = seededRandom(7);
    const log = write('seattle.csv', ['time,label', ...traffic(T0, 60, 40, ownAnswers(unweighted, random))].join('\n'));
    const report = await backtestOf('seattle-weather-unweighted', log);
    const defects = report.incidents.filter((i) => i.kind === 'model_defect');
    expect(defects).toHaveLength(1);
    expect(defects[0]).toMatchObject({
      kind: 'model_defect',
      verdict: 'model_defect',
      opened_window_start: iso(T0),
      resolved_window_start: null,
      pages: 1,
    });
    expect(defects[0].labels).toContain('fog');
    // The same finding the monitor core makes of the package (what the Worker reports at first serve).
    expect(defects[0].labels).toEqual(modelDefect(unweighted)!.vanishedLabels);
    expect(defects[0].diagnoses).toContain('class_imbalance');
    // The traffic is the model's own answers: nothing else opens.
    expect(report.incidents, JSON.stringify(report.incidents)).toHaveLength(1);

    // The class-weighted model answers fog: no defect on the same log.
    expect((await backtestOf('seattle-weather', log)).incidents.filter((i) => i.kind === 'model_defect')).toEqual([]);
  });

  // Drizzle is 3.6% of training: 0 of 292 held-out answers is p ≈ 2e-5 (DEFECT_MIN_SHARE keeps labels from 1%).
  it('the unweighted Seattle model: the model_defect incident names drizzle as well as fog', async () => {
    const log = write('seattle-drizzle.csv', ['time,label', ...traffic(T0, 5, 40, ownAnswers(unweighted, seededRandom(8)))].join('\n'));
    const defect = (await backtestOf('seattle-weather-unweighted', log)).incidents.find((i) => i.kind === 'model_defect')!;
    expect([...defect.labels].sort()).toEqual(['drizzle', 'fog']);
  });

  it('healthy traffic, then a total collapse onto one label: a collapsed incident opened at the collapse, resolved after the recovery', async () => {
    const random = seededRandom(11);
    const healthy = ownAnswers(penguins, random);
    const collapseAt = T0 + 120 * 60;
    const recoveryAt = collapseAt + 20 * 60;
    const lines = [
      ...traffic(T0, 50, 50, healthy),
      // five windows with no prediction at all: the backtest judges them (no_traffic), as the cron would
      ...traffic(T0 + 55 * 60, 65, 50, healthy),
      ...traffic(collapseAt, 20, 50, () => 'Chinstrap'),
      ...traffic(recoveryAt, 30, 50, healthy),
    ];
    const log = write('collapse.csv', ['time,label', ...lines].join('\n'));
    // The 30 minutes of recovery are shorter than the deployment's quiet period (RESOLVE_QUIET_MINUTES, 180): none here.
    const report = await backtestOf('penguins', log, { RESOLVE_QUIET_MINUTES: '0' });

    expect(report.windows).toBe(170);
    expect(report.rows).toBe(lines.length);
    expect(report.verdicts.no_traffic).toBe(5);
    expect(report.first_window_start).toBe(iso(T0));
    expect(report.last_window_start).toBe(iso(T0 + 169 * 60));
    expect(report.incidents).toHaveLength(1);
    const [incident] = report.incidents;
    expect(incident.kind).toBe('collapsed');
    expect(incident.labels[0]).toBe('Chinstrap');
    const opened = Date.parse(incident.opened_window_start) / 1000;
    expect(opened).toBeGreaterThanOrEqual(collapseAt);
    expect(opened).toBeLessThan(collapseAt + 3 * 60); // 50 answers a window, all one label: caught at once
    const resolved = Date.parse(incident.resolved_window_start!) / 1000;
    expect(resolved).toBeGreaterThanOrEqual(recoveryAt);
    expect(incident.pages).toBe(2); // opened, resolved
    expect(report.flagged).toBeGreaterThanOrEqual(20);
    expect(report.pages).toBe(2);
    expect(incident.diagnoses).toEqual([]); // no feature columns: nothing to read a cause from

    // The deployment's quiet period, as the Worker reads it: 30 minutes of clear traffic do not resolve the incident.
    const quiet = await backtestOf('penguins', log);
    expect(quiet.incidents[0]).toMatchObject({ resolved_window_start: null, pages: 1 });
    expect(quiet.settings.resolve_quiet_minutes).toBe(180);

    // The deployment's RESOLVE_AFTER_HEALTHY, as the Worker reads it: 30 healthy windows are not 1000.
    const patient = await backtestOf('penguins', log, { RESOLVE_AFTER_HEALTHY: '1000', RESOLVE_QUIET_MINUTES: '0' });
    expect(patient.incidents[0]).toMatchObject({ resolved_window_start: null, pages: 1 });
    expect(patient.settings.resolve_after_healthy).toBe(1000);

    // --window-seconds cuts the same log into 5-minute windows.
    const coarse = await run(['--model', 'penguins', '--data', log, '--window-seconds', '300', '--json']);
    expect(coarse.code).toBe(0);
    expect(JSON.parse(coarse.stdout.trim().split('\n').at(-1)!)).toMatchObject({ window_seconds: 300, windows: 34 });
  });

  it('builds each window as the Worker does: summarizeBatch of one-hot answers and the features, zero-filled gaps', async () => {
    const rows = holdout.rows.slice(0, 6);
    const times = [T0 + 1, T0 + 2, T0 + 59, T0 + 180, T0 + 181, T0 + 239.5];
    const log = write(
      'moments.jsonl',
      rows
        .map((r, i) =>
          JSON.stringify({ time: times[i], label: r.label, ...Object.fromEntries(penguins.features.map((f, j) => [f.name, r.input[j]])) }),
        )
        .join('\n'),
    );
    const windows = [...windowsOf(logRows(log, penguins), penguins, 60)];
    expect(windows.map((w) => w.start)).toEqual([T0, T0 + 60, T0 + 120, T0 + 180]);
    expect(windows.map((w) => w.counts.n)).toEqual([3, 0, 0, 3]);
    const oneHot = (label: string) => penguins.labels.map((l) => (l === label ? 1 : 0));
    const names = penguins.features.map((f) => f.name);
    expect(windows[0].counts).toEqual(summarizeBatch(rows.slice(0, 3).map((r) => r.input), rows.slice(0, 3).map((r) => oneHot(r.label)), penguins.labels, names));
    expect(windows[3].counts).toEqual(summarizeBatch(rows.slice(3).map((r) => r.input), rows.slice(3).map((r) => oneHot(r.label)), penguins.labels, names));
    // Hand check of one moment: the first window's beak length mean is the mean of the three rows'.
    const m = windows[0].counts.features.beak_length_mm;
    expect(m.sum / m.count).toBeCloseTo((rows[0].input[0] + rows[1].input[0] + rows[2].input[0]) / 3, 12);

    // Without feature columns a window has no moments, and no "all-zero rows" either (unknown is not zero).
    const bare = write('bare.csv', ['time,label', ...rows.map((r, i) => `${times[i]},${r.label}`)].join('\n'));
    const [first] = windowsOf(logRows(bare, penguins), penguins, 60);
    expect(first.counts).toMatchObject({ n: 3, features: {}, zeroRows: 0 });
  });

  it('penguins rows in raw units reaching the standardized model: the collapse is diagnosed scaler_missing from the feature columns', async () => {
    const random = seededRandom(5);
    const names = penguins.features.map((f) => f.name);
    const standardized = (x: number[]) => x.map((v, j) => (v - penguins.features[j].raw!.mean) / penguins.features[j].raw!.std);
    const pick = () => holdout.rows[Math.floor(random() * holdout.rows.length)];
    const lines: string[] = [];
    // 60 healthy windows: scaled rows, answered with their true label (the model is 99% accurate on them) ...
    for (let w = 0; w < 60; w++)
      for (let i = 0; i < 40; i++) {
        const row = pick();
        lines.push(`${T0 + w * 60 + i},${row.label},${standardized(row.input).join(',')}`);
      }
    // ... then the scaler is skipped: raw units, and the model answers one label.
    const faultAt = T0 + 60 * 60;
    for (let w = 0; w < 10; w++) for (let i = 0; i < 40; i++) lines.push(`${faultAt + w * 60 + i},Gentoo,${pick().input.join(',')}`);
    const log = write('raw-units.csv', [`time,label,${names.join(',')}`, ...lines].join('\n'));

    const report = await backtestOf('penguins', log);
    expect(report.features).toBe(true);
    expect(report.incidents).toHaveLength(1);
    expect(report.incidents[0]).toMatchObject({ kind: 'collapsed', opened_window_start: iso(faultAt) });
    expect(report.incidents[0].labels[0]).toBe('Gentoo');
    expect(report.incidents[0].diagnoses[0]).toBe('scaler_missing');

    // The same answers without the feature columns: the collapse is seen, its cause is not.
    const bare = write('raw-units-bare.csv', ['time,label', ...lines.map((l) => l.split(',').slice(0, 2).join(','))].join('\n'));
    const blind = await backtestOf('penguins', bare);
    expect(blind.features).toBe(false);
    expect(blind.incidents[0]).toMatchObject({ kind: 'collapsed', opened_window_start: iso(faultAt) });
    expect(blind.incidents[0].diagnoses).not.toContain('scaler_missing');
  });

  it('some feature columns but not all: features unused, and stderr says which are missing', async () => {
    const log = write('partial.csv', 'time,label,beak_length_mm,body_mass_g\n2024-01-01T00:00:00Z,Adelie,39.1,3750\n');
    const { code, stdout, stderr } = await run(['--model', 'penguins', '--data', log, '--json']);
    expect(code).toBe(0);
    expect(stderr).toBe('backtest: feature columns ignored: the log lacks beak_depth_mm, flipper_length_mm\n');
    expect(JSON.parse(stdout)).toMatchObject({ rows: 1, features: false });
  });

  it('prints a table with one row per incident', async () => {
    const log = write('table.csv', ['time,label', ...traffic(T0, 30, 40, ownAnswers(unweighted, seededRandom(3)))].join('\n'));
    const { code, stdout, stderr } = await run(['--model', 'seattle-weather-unweighted', '--data', log]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^backtest: seattle-weather-unweighted@1, 1,200 rows from /);
    expect(stdout).toMatch(/windows {4}30 of 1 min, 2024-01-01T00:00:00\.000Z to 2024-01-01T00:29:00\.000Z/);
    expect(stdout).toMatch(/incidents {2}1, pages 1/);
    expect(stdout).toMatch(/kind +opened window +resolved window +verdict +labels +pages +diagnoses/);
    expect(stdout).toMatch(/model_defect +2024-01-01T00:00:00\.000Z +open +model_defect +fog/);
  });
});

describe('the CLI process', () => {
  const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
  const cli = (args: string[]) => spawnSync(TSX, ['scripts/backtest.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

  it('--json: the last line of stdout is one JSON object of the documented shape', async () => {
    const log = write('json.jsonl', traffic(T0, 30, 40, ownAnswers(unweighted, seededRandom(9))).map((l) => {
      const [time, label] = l.split(',');
      return JSON.stringify({ time: iso(Number(time)), label });
    }).join('\n'));
    const p = cli(['--model', 'seattle-weather-unweighted', '--data', log, '--json']);
    expect(p.status).toBe(0);
    expect(p.stderr).toBe('');
    const last = p.stdout.trimEnd().split('\n').at(-1)!;
    const report = JSON.parse(last);
    expect(Object.keys(report).sort()).toEqual(
      ['model', 'version', 'window_seconds', 'settings', 'probes', 'probes_reason', 'rows', 'features', 'first_window_start', 'last_window_start', 'windows', 'judged', 'flagged', 'verdicts', 'pages', 'incidents'].sort(),
    );
    expect(report).toMatchObject({
      model: 'seattle-weather-unweighted',
      version: '1',
      window_seconds: 60,
      settings: { false_page_budget: 1, seasonality: 'weekly', min_predictions: 30, resolve_after_healthy: 3, resolve_quiet_minutes: 180 },
      probes: 'run',
      probes_reason: null,
      rows: 1200,
      features: false,
      windows: 30,
      pages: 1,
    });
    expect(Object.keys(report.verdicts).sort()).toEqual(['collapsed', 'drift', 'healthy', 'insufficient_data', 'no_traffic', 'partial_collapse']);
    expect(report.judged).toBe(report.verdicts.healthy + report.verdicts.drift + report.verdicts.collapsed + report.verdicts.partial_collapse);
    expect(report.incidents).toHaveLength(1);
    const [incident] = report.incidents;
    expect(Object.keys(incident).sort()).toEqual(['confidence', 'diagnoses', 'kind', 'labels', 'opened_window_start', 'pages', 'resolved_window_start', 'verdict']);
    expect(incident).toMatchObject({ kind: 'model_defect', opened_window_start: '2024-01-01T00:00:00.000Z', resolved_window_start: null, verdict: 'model_defect' });
    expect(incident.labels).toContain('fog');
    expect(Object.keys(incident.confidence)).toEqual(incident.diagnoses);
  });

  // The healthy seattle-weather model's winter: 30 windows of 100 answers at its reference mix on days from the whole
  // year, then three windows of the 124 real January days (2012–2015, standardized) answered as the packaged model
  // answers them (drizzle 27, fog 27, rain 40, snow 23, sun 7: test/unit/monitor-diagnosis.test.ts). Sun vanishes:
  // a page, and the inputs moved (temp_max −1.11, temp_min −1.10 training stds) while still looking like training.
  const winterLog = () => {
    const random = seededRandom(21);
    const year = Array.from({ length: 12 }, (_, m) => seattleRows(m + 1)).flat();
    const answer = ownAnswers(weather, random);
    const lines: string[] = [];
    for (let w = 0; w < 30; w++)
      for (let i = 0; i < 100; i++) lines.push(`${T0 + w * 60 + Math.floor((i * 60) / 100)},${answer()},${year[Math.floor(random() * year.length)]!.join(',')}`);
    const january = seattleRows(1);
    const answers = answersOf({ drizzle: 27, fog: 27, rain: 40, snow: 23, sun: 7 });
    for (let w = 30; w < 33; w++)
      january.forEach((row, i) => lines.push(`${T0 + w * 60 + Math.floor((i * 60) / january.length)},${answers[i]},${row.join(',')}`));
    return write('winter.csv', [`time,label,${weather.features.map((f) => f.name).join(',')}`, ...lines].join('\n'));
  };
  const lastJson = (stdout: string) => JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as BacktestReport;

  it('runs the probes through the model: a winter page on the healthy seattle model is input_shift at its probe-backed confidence', () => {
    const log = winterLog();
    const p = cli(['--model', 'seattle-weather', '--data', log, '--json']);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stderr).toBe('');
    const report = lastJson(p.stdout);
    expect(report).toMatchObject({ probes: 'run', probes_reason: null, features: true, windows: 33 });
    expect(report.incidents).toHaveLength(1);
    const [incident] = report.incidents;
    expect(incident).toMatchObject({ kind: 'partial_collapse', opened_window_start: iso(T0 + 30 * 60), labels: ['sun'] });
    // The model answers 11 of its 20 probes right against held-out accuracy 0.6884 (P = 0.14): the validated model,
    // so 0.6 + 0.3 · min(1, the cleared move), as production's page says (0.75–0.9), and nothing else is asserted. The
    // move is measured from the recent healthy traffic's mean too: the 3000 year-round rows before January sit a
    // little off the training mean, and January clears more from them (about 0.86) than from training (0.842).
    expect(incident.diagnoses).toEqual(['input_shift']);
    expect(incident.confidence.input_shift).toBe(0.86);

    // What the backtest said before it ran the probes: the same windows explained without them, 0.15 + 0.3 · the same move.
    const blind = backtest(weather, detectorSettings(weather, { windowSeconds: 60 }), windowsOf(logRows(log, weather), weather, 60));
    expect(blind.incidents[0]!.confidence.input_shift).toBe(0.41);

    // The readable summary says so in its settings.
    const text = cli(['--model', 'seattle-weather', '--data', log]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/\n {2}probes {5}run: the model's answers on its probes explain the flagged windows/);
  });

  it('a package elsewhere (--model-dir) runs its probes too; one whose model files are broken falls back to none, saying so on stderr', () => {
    const log = winterLog();
    const pkg = mkdtempSync(join(dir, 'weather-pkg-'));
    cpSync(join(ROOT, 'models', 'seattle-weather'), pkg, { recursive: true });
    const intact = cli(['--model-dir', pkg, '--data', log, '--json']);
    expect(intact.status, intact.stderr).toBe(0);
    expect(intact.stderr).toBe('');
    expect(lastJson(intact.stdout)).toMatchObject({ probes: 'run', probes_reason: null });
    expect(lastJson(intact.stdout).incidents[0]!.confidence.input_shift).toBe(0.86);

    // The weights file cut short: model.json loads, its weights do not fit.
    const weights = join(pkg, 'group1-shard1of1.bin');
    writeFileSync(weights, readFileSync(weights).subarray(0, 500));
    const broken = cli(['--model-dir', pkg, '--data', log, '--json']);
    expect(broken.status, broken.stderr).toBe(0);
    const reason = `the model could not be run (${join(pkg, 'model.json')}: cannot be loaded: Based on the provided shape, [16,5], the tensor should have 80 values but has 45)`;
    expect(broken.stderr).toBe(`backtest: no probes: ${reason}; flagged windows are explained without them\n`);
    const report = lastJson(broken.stdout);
    expect(report).toMatchObject({ probes: 'none', probes_reason: reason });
    // The backtest still ran, the page explained as the cron explains it when its probe run fails.
    expect(report.incidents[0]).toMatchObject({ kind: 'partial_collapse', diagnoses: ['input_shift'] });
    expect(report.incidents[0]!.confidence.input_shift).toBe(0.41);
    const text = cli(['--model-dir', pkg, '--data', log]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`\n  probes     none: ${reason}; flagged windows explained without them\n`);

    // No model.json at all.
    rmSync(join(pkg, 'model.json'));
    const missing = cli(['--model-dir', pkg, '--data', log, '--json']);
    expect(missing.status).toBe(0);
    expect(missing.stderr).toBe(`backtest: no probes: the model could not be run (${join(pkg, 'model.json')}: cannot read (ENOENT)); flagged windows are explained without them\n`);
    expect(lastJson(missing.stdout)).toMatchObject({ probes: 'none' });
  });

  it('exits 2 on bad data, naming the line and the column', async () => {
    const bad = write('bad-process.csv', 'time,label\n2024-01-01T00:00:00Z,Adelie\n2024-01-01T00:00:01Z,Emperor\n');
    const p = cli(['--model', 'penguins', '--data', bad]);
    expect(p.status).toBe(2);
    expect(p.stdout).toBe('');
    expect(p.stderr).toBe(`backtest: ${bad}: line 3, column "label": unknown label "Emperor" (the model's labels: Adelie, Chinstrap, Gentoo)\n`);

  });
});

describe('bad data and bad command lines', () => {
  const badLog = async (name: string, text: string) => {
    const path = write(name, text);
    return { path, ...(await run(['--model', 'penguins', '--data', path])) };
  };
  const FEATURES = 'beak_length_mm,beak_depth_mm,flipper_length_mm,body_mass_g';

  it.each([
    ['unknown label', 'unknown.csv', 'time,label\n2024-01-01T00:00:00Z,Adelie\n2024-01-01T00:00:01Z,Emperor\n', 'line 3, column "label": unknown label "Emperor" (the model\'s labels: Adelie, Chinstrap, Gentoo)'],
    ['unparsable time', 'time.csv', 'time,label\n2024-01-01T00:00:00Z,Adelie\nyesterday,Adelie\n', 'line 3, column "time": expected an ISO 8601 time (2024-03-01T12:00:00Z) or epoch seconds, got "yesterday"'],
    ['impossible date', 'date.csv', 'time,label\n2024-02-30T00:00:00Z,Adelie\n', 'line 2, column "time": not a date and time of the calendar: "2024-02-30T00:00:00Z"'],
    ['epoch milliseconds', 'ms.jsonl', '{"time": 1704067200000, "label": "Adelie"}\n', 'line 1, column "time": expected epoch seconds, got 1704067200000, which looks like milliseconds (divide by 1000)'],
    ['rows out of order', 'order.csv', 'time,label\n2024-01-01T00:01:00Z,Adelie\n\n2024-01-01T00:00:30Z,Gentoo\n', 'line 4, column "time": rows out of order: 2024-01-01T00:00:30.000Z comes after 2024-01-01T00:01:00.000Z (line 2); sort the log by time'],
    ['a missing label column', 'nolabel.csv', 'time,species\n2024-01-01T00:00:00Z,Adelie\n', 'line 1, column "label": missing column "label" in the header (columns: time, species)'],
    ['a missing time field', 'notime.jsonl', '{"time": "2024-01-01T00:00:00Z", "label": "Adelie"}\n{"label": "Adelie"}\n', 'line 2, column "time": missing'],
    ['a feature that is not a number', 'feature.csv', `time,label,${FEATURES}\n2024-01-01T00:00:00Z,Adelie,39.1,18.7,181,3750\n2024-01-01T00:00:01Z,Adelie,39.1,n/a,181,3750\n`, 'line 3, column "beak_depth_mm": expected a number, got "n/a"'],
    ['a ragged row', 'ragged.csv', 'time,label\n2024-01-01T00:00:00Z,Adelie,extra\n', 'line 2: expected 2 cells (as the header), got 3'],
    ['a line that is not JSON', 'broken.jsonl', '{"time": "2024-01-01T00:00:00Z", "label": "Adelie"}\n{"time": \n', 'line 2: not a JSON object'],
    ['no rows', 'empty.csv', 'time,label\n', 'no rows after the header'],
  ])('%s: exit 2, naming the line and the column', async (_what, name, text, message) => {
    const { path, code, stdout, stderr } = await badLog(name, text);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.startsWith(`backtest: ${path}: ${message}`)).toBe(true);
  });

  it('a time span that would take hours of empty windows (a mistyped year) fails fast', async () => {
    const { code, stderr } = await badLog('span.csv', 'time,label\n1970-01-01T00:00:00Z,Adelie\n2024-01-01T00:00:00Z,Adelie\n');
    expect(code).toBe(2);
    expect(stderr).toMatch(/line 3, column "time": 2024-01-01T00:00:00\.000Z would make the log span 28,401,121 windows of 60 s from the first row's \(line 2, 1970-01-01T00:00:00\.000Z\); at most 2,000,000: check the times/);
  });

  it('reads ISO times with offsets, dates, epoch seconds and quoted CSV cells alike', async () => {
    const path = write(
      'formats.csv',
      'label,time\nAdelie,2024-01-01T01:00:00+01:00\n"Gentoo",2024-01-01 00:00:30Z\nChinstrap,1704067259.5\nAdelie,"2024-01-01T00:01:00.250Z"\n',
    );
    const report = await runBacktest({ modelDir: join(ROOT, 'models', 'penguins'), data: path, vars: {} });
    expect(report).toMatchObject({ rows: 4, windows: 2, first_window_start: iso(T0), last_window_start: iso(T0 + 60) });
  });

  it.each([
    [['--data', 'x.csv'], '--model or --model-dir: required'],
    [['--model', 'penguins'], '--data: required'],
    [['--model', 'penguins', '--model-dir', '.', '--data', 'x.csv'], '--model and --model-dir: give one, not both'],
    [['--model', 'emperor', '--data', 'x.csv'], '--model: no model package "emperor" (models/ has penguins, penguins-unscaled, seattle-weather, seattle-weather-unweighted)'],
    [['--model', 'penguins', '--data', 'x.csv', '--window-seconds', '0'], '--window-seconds: expected a positive integer, got "0"'],
    [['--model', 'penguins', '--data', 'x.csv', '--var', 'ALERT_WEBHOOK_URL:http://x'], `--var: unknown variable "ALERT_WEBHOOK_URL" (allowed: ${BACKTEST_VARS.join(', ')})`],
    [['--model', 'penguins', '--data', 'x.csv', '--var', 'FALSE_PAGE_BUDGET'], '--var: expected NAME:value, got "FALSE_PAGE_BUDGET"'],
  ])('%j: usage error, exit 2', async (argv, message) => {
    const { code, stderr } = await run(argv);
    expect(code).toBe(2);
    expect(stderr).toContain(`backtest: ${message}`);
    expect(stderr).toContain(USAGE);
  });

  it('an unknown flag fails fast with the usage; --help prints it and exits 0', async () => {
    const unknown = await run(['--model', 'penguins', '--data', 'x.csv', '--verbose']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^backtest: Unknown option '--verbose'/);
    expect(unknown.stderr).toContain(`\n\n${USAGE}\n`);
    const help = await run(['--help']);
    expect(help).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: '' });
  });

  it('a --var value the Worker would refuse is refused the same way', async () => {
    const log = write('var.csv', 'time,label\n2024-01-01T00:00:00Z,Adelie\n');
    const { code, stderr } = await run(['--model', 'penguins', '--data', log, '--var', 'SEASONALITY:monthly']);
    expect(code).toBe(2);
    expect(stderr).toContain('backtest: --var SEASONALITY: expected one of none, daily, weekly, yearly, got "monthly"');
  });

  it('a model package whose metadata.json is invalid: the file and the field', async () => {
    const pkg = mkdtempSync(join(dir, 'pkg-'));
    writeFileSync(join(pkg, 'metadata.json'), JSON.stringify({ ...penguins, labels: ['Adelie'] }));
    const log = write('pkg.csv', 'time,label\n2024-01-01T00:00:00Z,Adelie\n');
    const { code, stderr } = await run(['--model-dir', pkg, '--data', log]);
    expect(code).toBe(2);
    expect(stderr).toBe(`backtest: ${join(pkg, 'metadata.json')}: labels: expected an array of at least 2 label strings\n`);
  });
});
