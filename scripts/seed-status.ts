// Seeds a local D1 with a status-page scenario: windows of every model (healthy, with one model walking through an
// insufficient-data window, a no-traffic window, a partial collapse and then a collapse onto one label with inputs in
// raw units), the open incident and its deliveries in every state. Verdicts, diagnoses, remedies and the incident
// come from the real monitor core, so the page shows what production would.
//
// As a module: statusScenario(models, options) returns SQL statements (the worker and e2e tests use it).
// As a script (windows older than the scenario's 50 are healthy history, e.g. --hours 168 for a week):
//   tsx scripts/seed-status.ts [--hours 1] [--out test/artifacts/status-seed.sql]
//   wrangler d1 execute labelwatch --local --file test/artifacts/status-seed.sql
import { advanceIncident, detectorSettings, explain, judgeWindow, type Incident, type MonitorState, type WindowCounts } from '../src/monitor/index.ts';
import { nameRecord } from '../src/monitor/names.ts';
import type { ModelMetadata } from '../src/serving/metadata.ts';
import { seededRandom } from './lib/random.ts';

export interface ScenarioOptions {
  /** Epoch seconds "now"; windows end before the window that holds it. */
  now: number;
  windowSeconds?: number;
  /** Windows of history per model, counting back from the last completed window. */
  windows?: number;
  /** Extra healthy windows placed this many windows further back (outside a 1 h range), for range tests. */
  olderWindows?: number;
  /** The model that collapses (default: the first). */
  collapsing?: string;
  /** Store the evaluation JSON only for the newest this many windows (a week of JSON is large and says little). */
  evaluatedJsonWindows?: number;
  seed?: number;
}

/** What happens in window k (1 = the last completed window, still open) of the collapsing model. */
type Event = 'healthy' | 'collapse' | 'vanish' | 'few' | 'silent' | 'open';
export function eventAt(k: number): Event {
  if (k === 1) return 'open';
  if (k >= 2 && k <= 14) return 'collapse';
  if (k === 30) return 'vanish';
  if (k === 35) return 'silent';
  if (k === 40) return 'few';
  return 'healthy';
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
const json = (v: unknown) => (v === undefined || v === null ? 'NULL' : quote(JSON.stringify(v)));

function countsFor(meta: ModelMetadata, event: Event, rand: () => number): WindowCounts {
  const labels = meta.labels;
  const training = labels.map((l) => meta.training.label_counts[l] ?? 0);
  const total = training.reduce((s, c) => s + c, 0);
  const n = event === 'silent' ? 0 : event === 'few' ? 8 : 100 + Math.floor(rand() * 40);
  const labelCounts = nameRecord<number>();
  for (let i = 0; i < n; i++) {
    let label: string;
    if (event === 'collapse' || event === 'open') label = rand() < 0.985 ? labels[labels.length - 1] : labels[0];
    else {
      let r = rand() * total;
      let j = 0;
      while (j < labels.length - 1 && r >= training[j]) r -= training[j++];
      // A partial collapse: the second label vanishes, its share going to the first.
      label = event === 'vanish' && j === 1 ? labels[0] : labels[j];
    }
    labelCounts[label] = (labelCounts[label] ?? 0) + 1;
  }
  const rawUnits = event === 'collapse' || event === 'open';
  const features: WindowCounts['features'] = nameRecord();
  if (n > 0)
    for (const f of meta.features) {
      // The collapse story: a deploy dropped the scaler, so inputs arrive in raw training units.
      const mean = rawUnits && f.raw ? f.raw.mean : f.mean + f.std * (rand() - 0.5) * 0.2;
      const std = (rawUnits && f.raw ? f.raw.std : f.std) * (0.9 + rand() * 0.2);
      features[f.name] = { count: n, sum: n * mean, sumSq: n * (std * std + mean * mean), min: mean - 2.5 * std, max: mean + 2.5 * std, zeros: 0 };
    }
  return { n, labelCounts, sumConfidence: n * 0.9, sumEntropy: n * 0.3, features, zeroRows: 0 };
}

/** SQL statements (one per row group) that create the scenario. */
export function statusScenario(models: readonly ModelMetadata[], options: ScenarioOptions): string[] {
  const length = options.windowSeconds ?? 60;
  const history = options.windows ?? 50;
  const older = options.olderWindows ?? 0;
  const jsonWindows = options.evaluatedJsonWindows ?? Infinity;
  const current = Math.floor(options.now / length) * length;
  const collapsing = options.collapsing ?? models[0]?.name;
  const rand = seededRandom(options.seed ?? 42); // seeded: the same scenario on every run
  const incidentStatements: string[] = [];
  const windowRows: string[] = [];
  const labelRows: string[] = [];
  const featureRows: string[] = [];

  // Oldest first, as the cron would see them; k counts windows back from the current one.
  const ks = [...Array.from({ length: older }, (_, i) => history + 60 + older - i), ...Array.from({ length: history }, (_, i) => history - i)];
  for (const meta of models) {
    let incident: Incident | null = null;
    // The detector's memory of this model, folded window by window as the cron does.
    let state: MonitorState | null = null;
    const settings = detectorSettings(meta, { windowSeconds: length });
    // Every incident of the run by id, as last seen: an earlier one may have opened and resolved already.
    const incidents = new Map<string, Incident>();
    for (const k of ks) {
      const start = current - k * length;
      const event: Event = meta.name === collapsing ? eventAt(k) : k === 1 ? 'open' : 'healthy';
      const counts = countsFor(meta, event === 'open' && meta.name !== collapsing ? 'healthy' : event, rand);
      const m = quote(meta.name);
      const v = quote(meta.version);
      const closed = event !== 'open';
      let verdict = 'NULL';
      let evaluation = 'NULL';
      let diagnoses = 'NULL';
      let remedies = 'NULL';
      if (closed) {
        const judged = judgeWindow(state, counts, start, settings);
        state = judged.state;
        // As the cron judges a window (src/evaluate.ts): the verdict, then diagnoses and remedies (no probes here).
        const assessed = { evaluation: judged.evaluation, ...explain(judged.evaluation, counts, meta, length) };
        verdict = quote(assessed.evaluation.verdict);
        if (k <= jsonWindows) {
          evaluation = json(assessed.evaluation);
          diagnoses = json(assessed.diagnoses);
          remedies = json(assessed.remedies);
        }
        const t = advanceIncident(incident, { model: meta.name, version: meta.version, windowStart: start, ...assessed }, {
          newId: () => `inc-${meta.name}-${start}`,
          // The scenario's incident resolves within its hour of 60-s windows, as with RESOLVE_QUIET_MINUTES=0.
          resolveQuietSeconds: 0,
        });
        incident = t.incident;
        if (incident) incidents.set(incident.id, incident);
      }
      windowRows.push(
        `(${m}, ${v}, ${start}, ${length}, ${counts.n}, ${counts.sumConfidence}, ${counts.sumEntropy}, 0, ${closed ? 1 : 0}, ` +
          `${closed ? start + length + 65 : 'NULL'}, ${verdict}, ${evaluation}, ${diagnoses}, ${remedies})`,
      );
      for (const [label, c] of Object.entries(counts.labelCounts)) labelRows.push(`(${m}, ${v}, ${start}, ${quote(label)}, ${c})`);
      for (const [feature, f] of Object.entries(counts.features))
        featureRows.push(`(${m}, ${v}, ${start}, ${quote(feature)}, ${f.count}, ${f.sum}, ${f.sumSq}, ${f.min}, ${f.max}, ${f.zeros})`);
    }
    for (const i of incidents.values()) {
      const at = i.firstWindowStart + length + 65;
      incidentStatements.push(
        `INSERT INTO incidents (id, model, version, kind, status, first_window_start, last_window_start, flagged_windows, healthy_streak, opened_at, updated_at, resolved_at, state) VALUES ` +
          `(${quote(i.id)}, ${quote(i.model)}, ${quote(i.version)}, ${quote(i.kind)}, ${quote(i.status)}, ${i.firstWindowStart}, ${i.lastWindowStart}, ` +
          `${i.flaggedWindows}, ${i.healthyStreak}, ${at}, ${(i.resolvedAt ?? i.lastWindowStart) + length + 65}, ` +
          `${i.resolvedAt === undefined ? 'NULL' : i.resolvedAt + length + 65}, ${json(i)});`,
      );
      if (i.status === 'resolved') continue;
      // One delivery in every state; the payloads carry a URL and a secret the page must never show.
      const payload = json({ url: 'https://hooks.example.test/labelwatch?key=never-shown', secret: 'whsec_bmV2ZXItc2hvd24tc2VjcmV0', incident: i.id });
      const d = (id: string, channel: string, event: string, status: string, attempts: number, code: string, error: string, next: string, delivered: string) =>
        `(${quote(`${i.id}-${id}`)}, ${quote(i.id)}, ${quote(channel)}, ${quote(event)}, ${payload}, ${quote(status)}, ${attempts}, ${code}, ${error}, ${at}, ${next}, ${delivered})`;
      incidentStatements.push(
        `INSERT INTO deliveries (id, incident_id, channel, event, payload, status, attempts, last_status_code, last_error, created_at, next_attempt_at, delivered_at) VALUES ` +
          [
            d('alert', 'alert', 'incident.opened', 'delivered', 1, '200', 'NULL', 'NULL', String(at + 1)),
            d('pagerduty', 'pagerduty', 'incident.opened', 'retrying', 3, '503', quote('503 Service Unavailable'), String(options.now + 120), 'NULL'),
            d('slack', 'slack', 'incident.opened', 'dead', 8, 'NULL', quote('fetch failed: connect ECONNREFUSED https://hooks.slack.com/services/T000/B000/never-shown'), 'NULL', 'NULL'),
            d('retrain', 'retrain', 'retrain.requested', 'pending', 0, 'NULL', 'NULL', String(options.now + 5), 'NULL'),
          ].join(', ') +
          ';',
      );
    }
  }
  return [
    ...chunked(
      'INSERT INTO windows (model, version, start, length, n, sum_confidence, sum_entropy, zero_rows, closed, closed_at, verdict, evaluation, diagnoses, remedies)',
      windowRows,
    ),
    ...chunked('INSERT INTO window_labels (model, version, start, label, count)', labelRows),
    ...chunked('INSERT INTO window_features (model, version, start, feature, count, sum, sum_sq, min, max, zeros)', featureRows),
    ...incidentStatements,
  ];
}

/**
 * Multi-row inserts (a statement per row would make a week of windows slow to load), each under D1's limit of
 * 100 kB per statement.
 */
function chunked(head: string, rows: string[], maxChars = 60_000): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let size = 0;
  for (const row of rows) {
    if (batch.length > 0 && size + row.length > maxChars) {
      out.push(`${head} VALUES ${batch.join(', ')};`);
      batch = [];
      size = 0;
    }
    batch.push(row);
    size += row.length + 2;
  }
  if (batch.length > 0) out.push(`${head} VALUES ${batch.join(', ')};`);
  return out;
}

/**
 * Healthy history, generated by SQLite itself (a recursive CTE per table) so a week of one-minute windows loads in
 * seconds: windows `fromWindow`..`toWindow` back from the current one, label counts near the training shares,
 * feature moments at the training values. Rows that already exist (the detailed scenario) are left alone.
 */
export function historyStatements(models: readonly ModelMetadata[], options: { now: number; fromWindow: number; toWindow: number; windowSeconds?: number }): string[] {
  const length = options.windowSeconds ?? 60;
  const current = Math.floor(options.now / length) * length;
  const ks = `k(i) AS (SELECT ${options.fromWindow} UNION ALL SELECT i + 1 FROM k WHERE i < ${options.toWindow})`;
  const startOf = `${current} - i * ${length}`;
  const oldest = current - options.toWindow * length;
  const newest = current - options.fromWindow * length;
  return models.flatMap((meta) => {
    const m = quote(meta.name);
    const v = quote(meta.version);
    const total = meta.labels.reduce((s, l) => s + (meta.training.label_counts[l] ?? 0), 0);
    const labels = meta.labels
      .map((l, j) => `SELECT ${quote(l)} AS label, ${(meta.training.label_counts[l] ?? 0) / total} AS share, ${j} AS j`)
      .join(' UNION ALL ');
    const features = meta.features
      .map((f) => `SELECT ${quote(f.name)} AS name, ${f.mean} AS mean, ${f.std} AS std`)
      .join(' UNION ALL ');
    return [
      // 100–140 predictions a window, each label within a few counts of its training share.
      `WITH RECURSIVE ${ks} INSERT OR IGNORE INTO window_labels (model, version, start, label, count) ` +
        `SELECT ${m}, ${v}, ${startOf}, l.label, CAST((100 + (i * 37) % 41) * l.share + (i * 13 + l.j * 7) % 5 AS INTEGER) FROM k, (${labels}) AS l;`,
      `INSERT OR IGNORE INTO windows (model, version, start, length, n, sum_confidence, sum_entropy, zero_rows, closed, closed_at, verdict) ` +
        `SELECT model, version, start, ${length}, sum(count), sum(count) * 0.9, sum(count) * 0.3, 0, 1, start + ${length + 65}, 'healthy' ` +
        `FROM window_labels WHERE model = ${m} AND version = ${v} AND start BETWEEN ${oldest} AND ${newest} GROUP BY model, version, start;`,
      `INSERT OR IGNORE INTO window_features (model, version, start, feature, count, sum, sum_sq, min, max, zeros) ` +
        `SELECT w.model, w.version, w.start, f.name, w.n, w.n * f.mean, w.n * (f.std * f.std + f.mean * f.mean), f.mean - 2.5 * f.std, f.mean + 2.5 * f.std, 0 ` +
        `FROM windows w, (${features}) AS f WHERE w.model = ${m} AND w.version = ${v} AND w.start BETWEEN ${oldest} AND ${newest};`,
    ];
  });
}

/** Clears the tables the scenario writes (the local database only ever holds test data when this runs). */
export const clearStatements = ['DELETE FROM deliveries;', 'DELETE FROM incidents;', 'DELETE FROM window_features;', 'DELETE FROM window_labels;', 'DELETE FROM windows;'];

async function main() {
  const { readdirSync, readFileSync, writeFileSync, mkdirSync } = await import('node:fs');
  const { dirname, join } = await import('node:path');
  // Imported here: this module also runs inside workerd (the worker tests), which has no node:util.
  const { cli } = await import('./lib/args.ts');
  const usage = `usage: tsx scripts/seed-status.ts [--hours <h>] [--out <file>]

Writes SQL that seeds a local D1 with the status-page scenario (every model's windows, a collapse, its incident and
deliveries), then: npx wrangler d1 execute labelwatch --local --file <file>

  --hours <h>    hours of one-minute windows, the older ones healthy history (default 1)
  --out <file>   where to write the SQL (default test/artifacts/status-seed.sql)
  -h, --help     this text`;
  const values = cli('seed-status', usage, process.argv.slice(2), { hours: { type: 'string' }, out: { type: 'string' } });
  const hours = Number(values.hours ?? '1');
  if (!(hours > 0 && hours <= 24 * 30)) {
    console.error(`seed-status: --hours: expected a number of hours from 1 minute to 30 days, got "${values.hours}"\n\n${usage}`);
    process.exit(2);
  }
  const out = values.out ?? 'test/artifacts/status-seed.sql';
  const dirs = ['models', ...(process.env.LABELWATCH_EXTRA_MODELS?.split(':').filter(Boolean) ?? [])];
  const models = dirs.flatMap((dir) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => JSON.parse(readFileSync(join(dir, e.name, 'metadata.json'), 'utf8')) as ModelMetadata),
  );
  const now = Math.floor(Date.now() / 1000);
  const windows = Math.round((hours * 3600) / 60);
  const sql = [
    ...clearStatements,
    ...statusScenario(models, { now, windows: 50 }),
    ...(windows > 50 ? historyStatements(models, { now, fromWindow: 51, toWindow: windows }) : []),
  ];
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, sql.join('\n') + '\n');
  console.log(`seed-status: ${models.length} models × ${Math.max(50, windows)} one-minute windows → ${out}`);
  console.log(`next: npx wrangler d1 execute labelwatch --local --file ${out}`);
}

if (typeof process !== 'undefined' && process.argv?.[1]?.endsWith('seed-status.ts')) void main();
