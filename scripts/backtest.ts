// Runs the monitor over a log of past predictions, exactly as the cron would have run it window after window
// (aggregation, baseline, detector, incident state machine, diagnosis: src/monitor/backtest.ts), and says how many
// incidents and pages there would have been. The log is read as a stream (scripts/backtest/log.ts). The package's
// probes are run through its model once, at the start (scripts/lib/model.ts), for the diagnoses that need them, as the
// cron runs them for every flagged window.
//
//   npm run backtest -- --model seattle-weather --data predictions.csv
//   npm run backtest -- --model-dir ./my-model --data predictions.jsonl --window-seconds 300 --var FALSE_PAGE_BUDGET:2 --json
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Env } from '../src/config.ts';
import { iso, lengthWords } from '../src/format.ts';
import { backtest, type BacktestResult } from '../src/monitor/backtest.ts';
import type { Seasonality } from '../src/monitor/baseline.ts';
import { detectorSettings, type DetectorSettings, type Verdict } from '../src/monitor/detector.ts';
import type { ProbeResult } from '../src/monitor/diagnosis.ts';
import { MetadataError, parseMetadata, windowLengthOf, type ModelMetadata } from '../src/serving/metadata.ts';
import { parseFlags, UsageError } from './lib/args.ts';
import { LogError, logRows, type LogProgress, type WindowTally, windowsOf } from './backtest/log.ts';

export { LogError } from './backtest/log.ts';
export { UsageError } from './lib/args.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The deployment variables a backtest honours: the ones the monitor reads (src/config.ts). */
export const BACKTEST_VARS = ['FALSE_PAGE_BUDGET', 'MIN_PREDICTIONS', 'RESOLVE_AFTER_HEALTHY', 'RESOLVE_QUIET_MINUTES', 'SEASONALITY', 'WINDOW_SECONDS'] as const;
export type BacktestVar = (typeof BACKTEST_VARS)[number];

export const USAGE = `usage: npm run backtest -- (--model <name> | --model-dir <dir>) --data <file> [options]

  --model <name>          a model package of this repository (models/<name>/metadata.json)
  --model-dir <dir>       a model package anywhere (<dir>/metadata.json)
  --data <file>           the log: CSV with a header row, or JSONL (one object per line); each row has
                          time (ISO 8601, UTC unless it has an offset, or epoch seconds), label (the predicted
                          label) and, optionally, a column per model feature (used for diagnosis);
                          rows in time order
  --window-seconds <n>    window length (default: the model's monitor.window_seconds, else WINDOW_SECONDS)
  --var NAME:value        a deployment variable as the Worker reads it (repeatable; default: wrangler.toml [vars]):
                          ${BACKTEST_VARS.join(', ')}
  --json                  print the result as one JSON object, on the last line of stdout

The package's probes (metadata.probes) go through its model (model.json and weights, run in Node) once, at the
start, and explain flagged windows as the cron's probe run does; a model that cannot be run is said in one line on
stderr, and the windows are explained without them.

Exit status: 0 when the backtest ran (whatever it found), 2 on a usage error or bad data (the message names
the line and column), 1 on anything else.`;

export interface BacktestOptions {
  /** The model package directory (holding metadata.json). */
  modelDir: string;
  data: string;
  /** Overrides the model's and the deployment's window length. */
  windowSeconds?: number;
  /** Deployment variables given on the command line (win over wrangler.toml's). */
  vars: Partial<Record<BacktestVar, string>>;
  json: boolean;
}

/** Whether the package's probes went through its model, and why not. */
export interface ProbeRun {
  probes: 'run' | 'none';
  /** Why not (no probes in the package, or the model could not be run); null when they ran. */
  reason: string | null;
  /** The model could not be read or run: a broken package, worth a line on stderr. */
  failed: boolean;
  /** The model's answers, when they ran. */
  probe?: ProbeResult;
}

export interface BacktestHooks {
  /** Told once, before the log is read, whether the probes ran. */
  onProbes?: (run: ProbeRun) => void;
  /** Every 100,000 rows, and once at the end. */
  onProgress?: (p: LogProgress & { windows: number }) => void;
  /** Told once whether the log's feature columns are used, which are missing and which are there. */
  onFeatures?: (used: boolean, missing: string[], present: string[]) => void;
}

/** One incident as the report shows it. Kinds are the monitor's: collapsed, partial_collapse, model_defect. */
export interface ReportIncident {
  /** What the incident opened as. */
  kind: 'collapsed' | 'partial_collapse' | 'model_defect';
  /** Start of the window that opened it (a model defect: the first window of the log), ISO 8601. */
  opened_window_start: string;
  /** Start of the healthy window that resolved it, or null while it was still open at the end of the log. */
  resolved_window_start: string | null;
  /** What it was when it ended (or at the end of the log): an escalated partial_collapse is collapsed. */
  verdict: 'collapsed' | 'partial_collapse' | 'model_defect';
  /** Every label involved: collapsed onto, vanished, or missing from the model's own answers. */
  labels: string[];
  /** Diagnosis kinds, in the order they were first made. */
  diagnoses: string[];
  /** The highest confidence each diagnosis reached, by kind. */
  confidence: Record<string, number>;
  /** Notifications it sent: opened, escalated, resolved. */
  pages: number;
}

export interface BacktestReport {
  model: string;
  version: string;
  window_seconds: number;
  settings: { false_page_budget: number; seasonality: Seasonality; min_predictions: number; resolve_after_healthy: number; resolve_quiet_minutes: number };
  /** Whether flagged windows (and the model defect) were explained with the model's answers on its probes. */
  probes: 'run' | 'none';
  /** Why not: null when they ran. */
  probes_reason: string | null;
  rows: number;
  /** Whether the log's feature columns went into the windows (diagnosis by feature moments). */
  features: boolean;
  first_window_start: string;
  last_window_start: string;
  /** Windows from the first row's to the last row's, empty ones included. */
  windows: number;
  /** Windows with a decision: healthy, drift, collapsed, partial_collapse. */
  judged: number;
  /** Collapsed or partial_collapse windows. */
  flagged: number;
  verdicts: Record<Verdict, number>;
  /** Notifications across all incidents. */
  pages: number;
  incidents: ReportIncident[];
}

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag}: expected a positive integer, got "${value}"`);
  return n;
}

/**
 * The directory relative paths on the command line are meant from: where the user typed `npm run backtest`
 * (npm itself runs scripts from the package root and says where it was called in INIT_CWD).
 */
const invocationDir = (): string =>
  process.env.npm_lifecycle_event === 'backtest' && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();

/** Parses the command line; null means --help. Throws UsageError naming the flag. */
export function parseBacktestArgs(argv: string[], cwd = invocationDir()): BacktestOptions | null {
  const values = parseFlags(argv, {
    model: { type: 'string' },
    'model-dir': { type: 'string' },
    data: { type: 'string' },
    'window-seconds': { type: 'string' },
    var: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  if (values.help) return null;
  if (values.model !== undefined && values['model-dir'] !== undefined) throw new UsageError('--model and --model-dir: give one, not both');
  let modelDir: string;
  if (values.model !== undefined) {
    const models = join(ROOT, 'models');
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(values.model) || !existsSync(join(models, values.model, 'metadata.json'))) {
      const known = existsSync(models) ? readdirSync(models).filter((m) => existsSync(join(models, m, 'metadata.json'))) : [];
      throw new UsageError(`--model: no model package "${values.model}" (models/ has ${known.join(', ') || 'none'}); use --model-dir for a package elsewhere`);
    }
    modelDir = join(models, values.model);
  } else if (values['model-dir'] !== undefined) modelDir = resolve(cwd, values['model-dir']);
  else throw new UsageError('--model or --model-dir: required (the model package whose predictions the log holds)');
  if (values.data === undefined) throw new UsageError('--data: required (a CSV or JSONL log of predictions)');

  const vars: Partial<Record<BacktestVar, string>> = {};
  for (const entry of values.var ?? []) {
    const colon = entry.indexOf(':');
    if (colon < 1) throw new UsageError(`--var: expected NAME:value, got "${entry}"`);
    const name = entry.slice(0, colon).trim();
    if (!(BACKTEST_VARS as readonly string[]).includes(name))
      throw new UsageError(`--var: unknown variable "${name}" (allowed: ${BACKTEST_VARS.join(', ')})`);
    vars[name as BacktestVar] = entry.slice(colon + 1).trim();
  }
  return {
    modelDir,
    data: resolve(cwd, values.data),
    windowSeconds: values['window-seconds'] === undefined ? undefined : positiveInteger(values['window-seconds'], '--window-seconds'),
    vars,
    json: values.json === true,
  };
}

/** The string values of wrangler.toml's [vars] table (the deployment's defaults); {} when there is no such file. */
export function deploymentVars(wranglerToml = join(ROOT, 'wrangler.toml')): Record<string, string> {
  if (!existsSync(wranglerToml)) return {};
  const vars: Record<string, string> = Object.create(null);
  let inVars = false;
  for (const raw of readFileSync(wranglerToml, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('[')) inVars = line === '[vars]';
    else if (inVars) {
      const m = /^([A-Z_][A-Z0-9_]*)\s*=\s*"([^"]*)"/.exec(line);
      if (m) vars[m[1]] = m[2];
    }
  }
  return vars;
}

/** The package's metadata.json, validated. Throws LogError naming the file and the field. */
export function loadModel(modelDir: string): ModelMetadata {
  const file = join(modelDir, 'metadata.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new LogError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); a model package holds metadata.json`);
  }
  try {
    return parseMetadata(JSON.parse(text), file);
  } catch (e) {
    if (e instanceof MetadataError) throw new LogError(e.message);
    throw new LogError(`${file}: not JSON (${(e as Error).message})`);
  }
}

/** The detector settings and incident options a deployment with these variables gives the model. */
export function settingsFor(
  metadata: ModelMetadata,
  vars: Partial<Record<BacktestVar, string>>,
  windowSeconds?: number,
): { settings: DetectorSettings; resolveAfterHealthy: number; resolveQuietSeconds: number } {
  const deployment = deploymentVars();
  const env: Partial<Env> = {};
  for (const name of BACKTEST_VARS) {
    const value = vars[name] ?? deployment[name];
    if (value !== undefined) env[name] = value;
  }
  let config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--var ${e.message}`);
    throw e;
  }
  const settings = detectorSettings(metadata, {
    windowSeconds: config.windowSeconds,
    falsePageBudget: config.falsePageBudget,
    minPredictions: config.minPredictions,
    seasonality: config.seasonality,
  });
  // The detector's threshold depends on the window length: it must be the one the log is cut into.
  settings.windowSeconds = windowSeconds ?? windowLengthOf(metadata, config);
  return { settings, resolveAfterHealthy: config.resolveAfterHealthy, resolveQuietSeconds: config.resolveQuietSeconds };
}

/**
 * The package's probes through its model (model.json and weights in `modelDir`, run in Node as `npm run stats` runs
 * it): the answers the Worker gets for every flagged window, the same for every window. A model that cannot be read or
 * run gives none, with the reason, as the cron explains a window without probes when its probe run fails.
 */
export async function runProbes(modelDir: string, metadata: ModelMetadata): Promise<ProbeRun> {
  if (metadata.probes.length === 0) return { probes: 'none', reason: 'the package has no probes', failed: false };
  try {
    // Loaded here, not at the top: tfjs takes a while to load, and a usage error needs none of it.
    const { predictProbes } = await import('./lib/model.ts');
    return { probes: 'run', reason: null, failed: false, probe: { predictedLabels: await predictProbes(modelDir, metadata, { quiet: true }) } };
  } catch (e) {
    const message = String((e as Error).message ?? e).split('\n')[0]!.trim();
    return { probes: 'none', reason: `the model could not be run (${message})`, failed: true };
  }
}

/**
 * The backtest itself: runs the package's probes, reads the log, builds its windows and runs the monitor's pipeline
 * over them. Throws LogError on bad data or a bad package, UsageError on bad settings; a model that cannot be run is
 * no error (see runProbes).
 */
export async function runBacktest(options: Omit<BacktestOptions, 'json'>, hooks: BacktestHooks = {}): Promise<BacktestReport> {
  const metadata = loadModel(options.modelDir);
  const { settings, resolveAfterHealthy, resolveQuietSeconds } = settingsFor(metadata, options.vars, options.windowSeconds);
  const probes = await runProbes(options.modelDir, metadata);
  hooks.onProbes?.(probes);
  const tally: WindowTally = { rows: 0, windows: 0, firstWindowStart: null, lastWindowStart: null };
  let features = false;
  const rows = logRows(options.data, metadata, {
    onProgress: (p) => hooks.onProgress?.({ ...p, windows: tally.windows }),
    onFeatures: (used, missing, present) => {
      features = used;
      hooks.onFeatures?.(used, missing, present);
    },
  });
  const result: BacktestResult = backtest(metadata, settings, windowsOf(rows, metadata, settings.windowSeconds, tally, options.data), {
    resolveAfterHealthy,
    resolveQuietSeconds,
    probe: probes.probe,
  });
  const incidents: ReportIncident[] = result.incidents.map((i) => ({
    kind: i.kind,
    opened_window_start: iso(i.openedWindowStart),
    resolved_window_start: i.resolvedWindowStart === null ? null : iso(i.resolvedWindowStart),
    verdict: i.verdict,
    labels: i.labels,
    diagnoses: i.diagnoses,
    confidence: i.confidence,
    pages: i.pages,
  }));
  return {
    model: metadata.name,
    version: metadata.version,
    window_seconds: settings.windowSeconds,
    settings: {
      false_page_budget: settings.falsePageBudget,
      seasonality: settings.seasonality,
      min_predictions: settings.minPredictions,
      resolve_after_healthy: resolveAfterHealthy,
      resolve_quiet_minutes: resolveQuietSeconds / 60,
    },
    probes: probes.probes,
    probes_reason: probes.reason,
    rows: tally.rows,
    features,
    first_window_start: iso(tally.firstWindowStart!),
    last_window_start: iso(tally.lastWindowStart!),
    windows: result.windows,
    judged: result.judged,
    flagged: result.flagged,
    verdicts: result.verdicts,
    pages: incidents.reduce((s, i) => s + i.pages, 0),
    incidents,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Terminal output

const thousands = (n: number) => n.toLocaleString('en-US');

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (cells: string[]) => cells.map((c, j) => (j === cells.length - 1 ? c : c.padEnd(widths[j]))).join('  ');
  return [line(header), ...rows.map(line)];
}

/** The readable summary: the counts, then one row per incident. */
export function formatReport(r: BacktestReport, data: string): string {
  const s = r.settings;
  const shown = relative(invocationDir(), data);
  const lines = [
    `backtest: ${r.model}@${r.version}, ${thousands(r.rows)} rows from ${shown && !shown.startsWith('..') ? shown : data}` +
      (r.features ? ' (with features)' : ' (no feature columns: diagnosis from labels only)'),
    `  windows    ${thousands(r.windows)} of ${lengthWords(r.window_seconds)}, ${r.first_window_start} to ${r.last_window_start}`,
    `  settings   false-page budget ${s.false_page_budget}/year, seasonality ${s.seasonality}, ` +
      `min predictions ${s.min_predictions}, resolve after ${s.resolve_after_healthy} healthy windows over ${s.resolve_quiet_minutes} min`,
    r.probes === 'run'
      ? `  probes     run: the model's answers on its probes explain the flagged windows, as the cron's do`
      : `  probes     none: ${r.probes_reason}; flagged windows explained without them`,
    `  judged     ${thousands(r.judged)}`,
    `  flagged    ${thousands(r.flagged)}`,
    `  verdicts   ${Object.entries(r.verdicts)
      .map(([v, n]) => `${v} ${thousands(n)}`)
      .join(', ')}`,
    `  incidents  ${r.incidents.length}, pages ${r.pages}`,
  ];
  if (r.incidents.length > 0) {
    lines.push('');
    const rows = r.incidents.map((i) => [
      i.kind,
      i.opened_window_start,
      i.resolved_window_start ?? 'open',
      i.verdict,
      i.labels.join(', ') || '-',
      String(i.pages),
      i.diagnoses.join(', ') || '-',
    ]);
    lines.push(...table(['kind', 'opened window', 'resolved window', 'verdict', 'labels', 'pages', 'diagnoses'], rows).map((l) => `  ${l}`));
  }
  return lines.join('\n');
}

/** Progress on stderr: redrawn on a terminal every 100,000 rows; elsewhere one line at most every 5 s. */
function progressPrinter(stderr: NodeJS.WriteStream) {
  const tty = stderr.isTTY === true;
  const startedAt = performance.now();
  let last = startedAt;
  let drawn = false;
  return {
    update(p: LogProgress & { windows: number }) {
      const now = performance.now();
      if (!tty && now - last < 5_000) return;
      last = now;
      const pct = p.totalBytes > 0 ? ` (${Math.round((100 * p.bytesRead) / p.totalBytes)}% of the file)` : '';
      const text = `backtest: ${thousands(p.rows)} rows, ${thousands(p.windows)} windows${pct}, ${((now - startedAt) / 1000).toFixed(1)} s`;
      if (tty) {
        stderr.write(`\r\x1b[2K${text}`);
        drawn = true;
      } else stderr.write(`${text}\n`);
    },
    end() {
      if (drawn) stderr.write('\r\x1b[2K');
    },
  };
}

export interface Io {
  stdout: { write(text: string): unknown };
  stderr: NodeJS.WriteStream | { write(text: string): unknown; isTTY?: boolean };
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let options: BacktestOptions | null;
  try {
    options = parseBacktestArgs(argv);
  } catch (e) {
    io.stderr.write(`backtest: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const printer = progressPrinter(io.stderr as NodeJS.WriteStream);
  try {
    const report = await runBacktest(options, {
      onProbes: (run) => {
        if (run.failed) io.stderr.write(`backtest: no probes: ${run.reason}; flagged windows are explained without them\n`);
      },
      onProgress: (p) => printer.update(p),
      onFeatures: (used, missing, present) => {
        // Some feature columns but not all: say why they do not count, rather than silently ignoring them.
        if (!used && present.length > 0) io.stderr.write(`backtest: feature columns ignored: the log lacks ${missing.join(', ')}\n`);
      },
    });
    printer.end();
    io.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatReport(report, options.data)}\n`);
    return 0;
  } catch (e) {
    printer.end();
    if (e instanceof UsageError) {
      io.stderr.write(`backtest: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof LogError) {
      io.stderr.write(`backtest: ${e.message}\n`);
      return 2;
    }
    io.stderr.write(`backtest: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}

// Run only as a script, so the tests can import this file.
function invokedAsScript(): boolean {
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (invokedAsScript()) process.exitCode = await main(process.argv.slice(2));
