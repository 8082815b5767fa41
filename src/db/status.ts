// Reads behind the status page. Windows are merged into buckets in SQL (one row per bucket and label, never one per
// window), so seven days of one-minute windows stay a few hundred rows per model. Every range query filters on the
// primary-key prefix (model, version, start), so it is an index range scan however long the history is.
//
// A page needs a few dozen small queries; D1 answers each in its own round trip unless they are batched. So every read
// here is a `Read` (queries plus how to shape their rows), and a ReadBatch sends all reads of a page in one trip.
import { and, asc, desc, eq, gte, inArray, isNotNull, lt, ne, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { DrizzleD1Database } from 'drizzle-orm/d1';
import type { RunnableQuery } from 'drizzle-orm/runnable-query';
import type { Evaluation, Verdict } from '../monitor/detector';
import { FLAGGING_VERDICTS } from '../monitor/incident';
import { nameRecord } from '../monitor/names';
import { featureMeanStd } from '../monitor/window';
import { database } from './client';
import { deliveryStatusColumns, type DeliveryStatusRow } from './deliveries';
import { deliveries, deliveryAttempts, incidents, rebaselines, windowFeatures, windowLabels, windows } from './schema';

type Db = DrizzleD1Database;

export type { Verdict };
export type FlaggedVerdict = Exclude<Verdict, 'healthy' | 'drift'>;

/** Most severe first: a bucket of merged windows is shown with the worst judged verdict among its windows with traffic. */
export const FLAGGED_VERDICTS: readonly FlaggedVerdict[] = ['collapsed', 'partial_collapse', 'no_traffic', 'insufficient_data'];
/** Verdicts of windows that had traffic, least severe first (no_traffic is never one of them). */
const SEVERITY: Verdict[] = ['healthy', 'drift', 'insufficient_data', 'partial_collapse', 'collapsed'];

/**
 * What a bar shows: the worst judged verdict among its windows with traffic; `receiving` when it had traffic but none
 * of those windows is judged yet; `no_traffic` only when no window of it had any prediction and one was judged so;
 * null when nothing in it was judged and nothing arrived yet.
 */
export type BarVerdict = Verdict | 'receiving';

type Query = BatchItem<'sqlite'>;

/** Some queries and how their result rows become a value. */
export interface Read<T> {
  queries: (db: Db) => Query[];
  shape: (results: unknown[][]) => T;
}

/** Collects reads, runs them all in one D1 batch, and resolves each read's promise with its value. */
export class ReadBatch {
  private readonly pending: { read: Read<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private readonly db: Db;
  constructor(d1: D1Database) {
    this.db = database(d1);
  }

  private ran = false;

  add<T>(read: Read<T>): Promise<T> {
    // A read added after run() would never resolve: fail loudly instead of hanging the request.
    if (this.ran) throw new Error('ReadBatch: add() after run()');
    return new Promise<T>((resolve, reject) => this.pending.push({ read, resolve: resolve as (v: unknown) => void, reject }));
  }

  async run(): Promise<void> {
    this.ran = true;
    const pending = this.pending.splice(0);
    const groups = pending.map((p) => p.read.queries(this.db));
    const queries = groups.flat();
    try {
      const results = queries.length === 0 ? [] : ((await this.db.batch(queries as [Query, ...Query[]])) as unknown[][]);
      let at = 0;
      pending.forEach((p, i) => {
        const mine = results.slice(at, (at += groups[i]!.length));
        try {
          p.resolve(p.read.shape(mine));
        } catch (e) {
          p.reject(e);
        }
      });
    } catch (e) {
      for (const p of pending) p.reject(e);
      throw e;
    }
  }
}

/** Runs reads in one round trip. */
export async function readAll<T extends readonly Read<unknown>[]>(
  d1: D1Database,
  reads: T,
): Promise<{ -readonly [K in keyof T]: T[K] extends Read<infer R> ? R : never }> {
  const batch = new ReadBatch(d1);
  const values = Promise.all(reads.map((r) => batch.add(r)));
  await batch.run();
  return (await values) as { -readonly [K in keyof T]: T[K] extends Read<infer R> ? R : never };
}

/** A read of one query: its rows as they are, or shaped. */
type Rows<R> = Query & RunnableQuery<R[], 'sqlite'>;
function rowsOf<R>(query: (db: Db) => Rows<R>): Read<R[]>;
function rowsOf<R, T>(query: (db: Db) => Rows<R>, shape: (rows: R[]) => T): Read<T>;
function rowsOf<R, T>(query: (db: Db) => Rows<R>, shape?: (rows: R[]) => T): Read<T | R[]> {
  return { queries: (db) => [query(db)], shape: ([rows]) => (shape ? shape(rows as R[]) : (rows as R[])) };
}

/** A time range of one model version cut into buckets of `bucket` seconds (a whole number of windows). */
export interface Span {
  model: string;
  version: string;
  /** Epoch seconds, inclusive; a multiple of `bucket`. */
  from: number;
  /** Epoch seconds, exclusive; a multiple of `bucket`. */
  to: number;
  bucket: number;
}

/** One bar of the status page: the windows of one bucket added up. */
export interface LabelBucket {
  start: number;
  /** Windows merged into this bucket. */
  windows: number;
  /** Of those, closed (final) windows; the rest are still open and may grow. */
  closed: number;
  n: number;
  labels: Record<string, number>;
  /** See BarVerdict. */
  verdict: BarVerdict | null;
  /** Windows per flagged verdict (no_traffic: the idle windows, which count as flagged only where traffic is expected). */
  flagged: Partial<Record<FlaggedVerdict, number>>;
}

export interface FeatureBucket {
  start: number;
  feature: string;
  count: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
  zeros: number;
}

export type IncidentRow = typeof incidents.$inferSelect;

/**
 * A delivery as the page may show it: no payload (it carries URLs, remedies, maybe secrets of receivers), so the admin
 * API's columns, plus its incident's model version.
 */
export type DeliveryView = DeliveryStatusRow & { model: string | null; version: string | null };

export interface WindowFindings {
  start: number;
  length: number;
  n: number;
  verdict: string | null;
  evaluation: unknown;
  diagnoses: unknown;
  remedies: unknown;
}

/**
 * `floor(start / bucket) * bucket` as integer arithmetic. The bucket is inlined as a literal rather than bound: a bound
 * JS number may reach SQLite as REAL, and REAL division would not floor.
 */
function bucketOf(start: AnyColumn, bucket: number): SQL<number> {
  if (!Number.isSafeInteger(bucket) || bucket <= 0) throw new RangeError(`bucket must be a positive integer, got ${bucket}`);
  const b = sql.raw(String(bucket));
  return sql<number>`(${start} / ${b}) * ${b}`;
}

const inSpan = (t: typeof windows | typeof windowLabels | typeof windowFeatures, s: Span) =>
  and(eq(t.model, s.model), eq(t.version, s.version), gte(t.start, s.from), lt(t.start, s.to));

const findingsColumns = {
  start: windows.start,
  length: windows.length,
  n: windows.n,
  verdict: windows.verdict,
  evaluation: windows.evaluation,
  diagnoses: windows.diagnoses,
  remedies: windows.remedies,
};

/**
 * Model versions with at least one window starting at or after `from` (to show versions no longer served), with the
 * earliest such start, so a chart can fit the span that holds data.
 */
export const versionsWithWindows = (from: number, model?: string): Read<{ model: string; version: string; earliest: number }[]> =>
  rowsOf((db) =>
    db
      .select({ model: windows.model, version: windows.version, earliest: sql<number>`min(${windows.start})` })
      .from(windows)
      .where(and(gte(windows.start, from), model === undefined ? undefined : eq(windows.model, model)))
      .groupBy(windows.model, windows.version)
      .orderBy(windows.model, windows.version),
  );

/** The bars of one model version: label counts and verdicts per bucket; buckets without any window are left out. */
export function labelBuckets(span: Span): Read<LabelBucket[]> {
  const bucket = bucketOf(windows.start, span.bucket);
  const labelBucket = bucketOf(windowLabels.start, span.bucket);
  // Only windows that had traffic compete for the bar's verdict: one idle window never hides 330 predictions.
  const severity = sql<number>`max(case when ${windows.n} > 0 then case ${windows.verdict} ${sql.join(
    SEVERITY.map((v, i) => sql`when ${v} then ${sql.raw(String(i))}`),
    sql` `,
  )} else -1 end else -1 end)`;
  // Aliased: D1's batch returns rows as objects keyed by column name, and these four would share one unaliased name.
  const countOf = (v: FlaggedVerdict) => sql<number>`sum(${windows.verdict} = ${v})`.as(`n_${v}`);
  const perBucket = {
    start: bucket,
    windows: sql<number>`count(*)`,
    closed: sql<number>`sum(${windows.closed})`,
    n: sql<number>`sum(${windows.n})`,
    severity,
    collapsed: countOf('collapsed'),
    partial_collapse: countOf('partial_collapse'),
    no_traffic: countOf('no_traffic'),
    insufficient_data: countOf('insufficient_data'),
  };
  const perLabel = { start: labelBucket, label: windowLabels.label, count: sql<number>`sum(${windowLabels.count})` };
  return {
    queries: (db) => [
      db.select(perBucket).from(windows).where(inSpan(windows, span)).groupBy(bucket).orderBy(bucket),
      db.select(perLabel).from(windowLabels).where(inSpan(windowLabels, span)).groupBy(labelBucket, windowLabels.label),
    ],
    shape: ([bucketRows, labelRows]) => {
      const byStart = new Map<number, LabelBucket>();
      const out = (bucketRows as { [K in keyof typeof perBucket]: number }[]).map((r) => {
        const flagged: LabelBucket['flagged'] = {};
        for (const v of FLAGGED_VERDICTS) if (r[v] > 0) flagged[v] = r[v];
        const b: LabelBucket = {
          start: r.start,
          windows: r.windows,
          closed: r.closed,
          n: r.n,
          labels: nameRecord(),
          verdict: barVerdict(r.severity, r.n, r.no_traffic),
          flagged,
        };
        byStart.set(b.start, b);
        return b;
      });
      for (const r of labelRows as { start: number; label: string; count: number }[]) {
        const b = byStart.get(r.start);
        if (b && r.count > 0) b.labels[r.label] = r.count;
      }
      return out;
    },
  };
}

/** A bar's verdict from the worst judged severity among its windows with traffic, its predictions and idle verdicts. */
export function barVerdict(severity: number, n: number, noTraffic: number): BarVerdict | null {
  if (severity >= 0) return SEVERITY[severity]!; // an index the query's CASE made from SEVERITY
  if (n > 0) return 'receiving';
  return noTraffic > 0 ? 'no_traffic' : null;
}

/** Feature moments per bucket, as mean/std (population) from the additive sums. */
export function featureBuckets(span: Span): Read<FeatureBucket[]> {
  const bucket = bucketOf(windowFeatures.start, span.bucket);
  return rowsOf(
    (db) =>
      db
        .select({
          start: bucket,
          feature: windowFeatures.feature,
          count: sql<number>`sum(${windowFeatures.count})`,
          sum: sql<number>`sum(${windowFeatures.sum})`,
          sumSq: sql<number>`sum(${windowFeatures.sumSq})`,
          min: sql<number | null>`min(${windowFeatures.min})`,
          max: sql<number | null>`max(${windowFeatures.max})`,
          zeros: sql<number>`sum(${windowFeatures.zeros})`,
        })
        .from(windowFeatures)
        .where(inSpan(windowFeatures, span))
        .groupBy(bucket, windowFeatures.feature)
        .orderBy(bucket),
    (rows) =>
      rows.map((r) => {
        const moments = featureMeanStd(r);
        return { start: r.start, feature: r.feature, count: r.count, mean: moments?.mean ?? null, std: moments?.std ?? null, min: r.min, max: r.max, zeros: r.zeros };
      }),
  );
}

/** The evaluation JSON of the latest evaluated window of a model version (it carries the detector's reference). */
export const latestEvaluation = (model: string, version: string): Read<unknown> =>
  rowsOf(
    (db) =>
      db
        .select({ evaluation: windows.evaluation })
        .from(windows)
        .where(and(eq(windows.model, model), eq(windows.version, version), sql`${windows.evaluation} is not null`))
        .orderBy(desc(windows.start))
        .limit(1),
    (rows): unknown => rows[0]?.evaluation ?? null,
  );

/** A flagged window as a list of runs needs it: the reason and diagnoses, not the whole evaluation JSON. */
export interface FlaggedWindow {
  start: number;
  length: number;
  n: number;
  verdict: string;
  reason: string | null;
  diagnoses: unknown;
}

/**
 * The most recent flagged windows of a span, newest first: collapsed, partial_collapse and insufficient_data, plus
 * no_traffic only where the model is expected to have traffic (an idle model is not a finding).
 */
export const flaggedWindows = (span: Span, expectTraffic: boolean, limit = 500): Read<FlaggedWindow[]> =>
  rowsOf((db) =>
    db
      .select({
        start: windows.start,
        length: windows.length,
        n: windows.n,
        verdict: sql<string>`${windows.verdict}`,
        reason: sql<string | null>`json_extract(${windows.evaluation}, '$.reason')`,
        diagnoses: windows.diagnoses,
      })
      .from(windows)
      .where(and(inSpan(windows, span), inArray(windows.verdict, FLAGGED_VERDICTS.filter((v) => expectTraffic || v !== 'no_traffic'))))
      .orderBy(desc(windows.start))
      .limit(limit),
  );

/** One window's monitor output (for an incident whose state carries no diagnoses). */
export const windowAt = (model: string, version: string, start: number): Read<WindowFindings | undefined> =>
  rowsOf(
    (db) =>
      db
        .select(findingsColumns)
        .from(windows)
        .where(and(eq(windows.model, model), eq(windows.version, version), eq(windows.start, start))),
    (rows): WindowFindings | undefined => rows[0],
  );

/** Incidents not yet resolved (open or acknowledged), newest first. */
export const openIncidents = (model?: string): Read<IncidentRow[]> =>
  rowsOf((db) =>
    db
      .select()
      .from(incidents)
      .where(and(ne(incidents.status, 'resolved'), model === undefined ? undefined : eq(incidents.model, model)))
      .orderBy(desc(incidents.openedAt)),
  );

/**
 * Predictions per label of a model version over [from, to), from the windows `of`: `all` of them; `healthy`, only
 * those the detector called healthy (the "before" of an incident should not include the collapse creeping in);
 * `flagged`, only those an incident counts as flagged (monitor/incident.ts shareWindows): a collapse or partial
 * collapse not flagged by the package's known model defect alone.
 */
export function labelTotals(model: string, version: string, from: number, to: number, of: 'all' | 'healthy' | 'flagged' = 'all'): Read<Record<string, number>> {
  const where = and(eq(windowLabels.model, model), eq(windowLabels.version, version), gte(windowLabels.start, from), lt(windowLabels.start, to));
  const columns = { label: windowLabels.label, count: sql<number>`sum(${windowLabels.count})` };
  // The evaluation JSON is read for flagged windows only; stored before knownDefect was kept, it counts as false.
  const verdicts =
    of === 'healthy'
      ? eq(windows.verdict, 'healthy')
      : and(inArray(windows.verdict, [...FLAGGING_VERDICTS]), sql`coalesce(json_extract(${windows.evaluation}, '$.knownDefect'), 0) = 0`);
  return rowsOf(
    (db) =>
      of === 'all'
        ? db.select(columns).from(windowLabels).where(where).groupBy(windowLabels.label)
        : db
            .select(columns)
            .from(windowLabels)
            .innerJoin(
              windows,
              and(eq(windows.model, windowLabels.model), eq(windows.version, windowLabels.version), eq(windows.start, windowLabels.start)),
            )
            .where(and(where, verdicts))
            .groupBy(windowLabels.label),
    (rows): Record<string, number> => nameRecord(rows.filter((r) => r.count > 0).map((r) => [r.label, r.count])),
  );
}

/** The latest deliveries with their incident's model; the payload column is never read. */
export const recentDeliveries = (limit = 20): Read<DeliveryView[]> =>
  rowsOf((db) =>
    db
      .select({ ...deliveryStatusColumns, model: incidents.model, version: incidents.version })
      .from(deliveries)
      .leftJoin(incidents, eq(incidents.id, deliveries.incidentId))
      .orderBy(desc(deliveries.createdAt))
      .limit(limit),
  );

/** Incidents resolved at or after `since` (epoch seconds), newest first. */
export const resolvedIncidents = (since: number, model?: string, limit = 20): Read<IncidentRow[]> =>
  rowsOf((db) =>
    db
      .select()
      .from(incidents)
      .where(and(eq(incidents.status, 'resolved'), gte(incidents.resolvedAt, since), model === undefined ? undefined : eq(incidents.model, model)))
      .orderBy(desc(incidents.resolvedAt), desc(incidents.id))
      .limit(limit),
  );

/** One incident by id. */
export const incidentRow = (id: string): Read<IncidentRow | undefined> =>
  rowsOf(
    (db) => db.select().from(incidents).where(eq(incidents.id, id)),
    (rows): IncidentRow | undefined => rows[0],
  );

/** The deliveries of some incidents (no payload), oldest first; at most 90 ids (D1 binds 100 parameters). */
export const deliveriesOf = (incidentIds: readonly string[]): Read<DeliveryStatusRow[]> => {
  const ids = incidentIds.slice(0, 90);
  if (ids.length === 0) return { queries: () => [], shape: () => [] };
  return rowsOf((db) =>
    db
      .select(deliveryStatusColumns)
      .from(deliveries)
      .where(inArray(deliveries.incidentId, ids))
      .orderBy(asc(deliveries.createdAt), asc(deliveries.id)),
  );
};

export type DeliveryAttemptRow = typeof deliveryAttempts.$inferSelect;

/** Every recorded attempt at an incident's deliveries, in order. */
export const attemptsOf = (incidentId: string): Read<DeliveryAttemptRow[]> =>
  rowsOf((db) =>
    db
      .select({
        id: deliveryAttempts.id,
        deliveryId: deliveryAttempts.deliveryId,
        attempt: deliveryAttempts.attempt,
        at: deliveryAttempts.at,
        outcome: deliveryAttempts.outcome,
        statusCode: deliveryAttempts.statusCode,
        error: deliveryAttempts.error,
      })
      .from(deliveryAttempts)
      .innerJoin(deliveries, eq(deliveries.id, deliveryAttempts.deliveryId))
      .where(eq(deliveries.incidentId, incidentId))
      .orderBy(asc(deliveryAttempts.id)),
  );

/** What the cron did with a rebaseline: when it applied it, and the windows and predictions it adopted. */
const appliedColumns = {
  appliedAt: rebaselines.appliedAt,
  adoptedFrom: rebaselines.adoptedFrom,
  adoptedTo: rebaselines.adoptedTo,
  adoptedPredictions: rebaselines.adoptedPredictions,
};

/** The rebaseline asked for with an incident's resolve, if any: when, when the cron applied it, and what it adopted. */
export const rebaselineRequestOf = (incidentId: string): Read<RebaselineRow | undefined> =>
  rowsOf(
    (db) =>
      db
        .select({ requestedAt: rebaselines.requestedAt, ...appliedColumns })
        .from(rebaselines)
        .where(eq(rebaselines.incidentId, incidentId)),
    (rows) => rows[0],
  );
export interface RebaselineRow {
  requestedAt: number;
  appliedAt: number | null;
  adoptedFrom: number | null;
  adoptedTo: number | null;
  adoptedPredictions: number | null;
}

/** Traffic the cron adopted as a model version's baseline: whose, when, which windows (their starts), how much. */
export interface AdoptedTraffic {
  incidentId: string;
  appliedAt: number;
  adoptedFrom: number;
  adoptedTo: number;
  adoptedPredictions: number;
}

/**
 * The traffic declared normal that an incident was judged against, for its page and GET /v1/incidents/{id}: the
 * newest rebaseline of its model version that adopted traffic before the incident's first window was judged. The
 * cron applies a rebaseline to its state before it judges the version's next window, and adopts windows up to the
 * latest one judged then (`adopted_to`): a rebaseline judged this incident's first window exactly when that window is
 * later than the last one it adopted. Windows, not the time it was marked applied: a tick that stored the incident
 * but failed to store the window's verdict (and the state with the rebaseline) applies it again at the next tick, to
 * the same stored state, and marks it then, after the incident opened. This also leaves out the incident's own
 * rebaseline (it adopts the incident's windows) and one applied after the incident opened. The newest that adopted
 * traffic, not merely the newest: the adopted counts stay the baseline's prior until traffic is adopted again
 * (monitor/baseline.ts), and a rebaseline with nothing to adopt only restarts the evidence. None for a model defect,
 * which the package's held-out answers show, not a baseline.
 */
export const adoptedBaselineOf = (
  i: Pick<IncidentRow, 'model' | 'version' | 'kind' | 'firstWindowStart'>,
): Read<AdoptedTraffic | null> =>
  i.kind === 'model_defect'
    ? { queries: () => [], shape: () => null }
    : rowsOf(
        (db) =>
          db
            .select({ incidentId: rebaselines.incidentId, ...appliedColumns })
            .from(rebaselines)
            .where(
              and(
                eq(rebaselines.model, i.model),
                eq(rebaselines.version, i.version),
                isNotNull(rebaselines.adoptedPredictions),
                lt(rebaselines.adoptedTo, i.firstWindowStart),
              ),
            )
            .orderBy(desc(rebaselines.adoptedTo), desc(rebaselines.appliedAt))
            .limit(1),
        ([row]) =>
          row && row.appliedAt !== null && row.adoptedFrom !== null && row.adoptedTo !== null && row.adoptedPredictions !== null
            ? { ...row, appliedAt: row.appliedAt, adoptedFrom: row.adoptedFrom, adoptedTo: row.adoptedTo, adoptedPredictions: row.adoptedPredictions }
            : null,
      );

/**
 * The retraining request of an incident as it was sent: its stored payload, which holds no secret (the URL and the
 * signing key are added at send time). Only the retrain channel's payload is ever read for the page.
 */
export const retrainRequestOf = (incidentId: string): Read<{ id: string; status: string; payload: unknown } | undefined> =>
  rowsOf(
    (db) =>
      db
        .select({ id: deliveries.id, status: deliveries.status, payload: deliveries.payload })
        .from(deliveries)
        .where(and(eq(deliveries.incidentId, incidentId), eq(deliveries.channel, 'retrain')))
        .orderBy(asc(deliveries.id))
        .limit(1),
    (rows) => rows[0],
  );

/** A window's verdict as an incident's timeline reads it, with the label a collapsed window collapsed onto. */
export interface WindowVerdict {
  start: number;
  n: number;
  verdict: string | null;
  /** The evaluation's dominant label, for a collapsed window only (null otherwise). */
  dominantLabel: string | null;
  /** What a flagged window was judged against (its evaluation's baseline); null for other windows, and absent where not read. */
  baseline?: Evaluation['baseline'] | null;
}

/** A stored evaluation's baseline, read back defensively: anything not shaped as the detector writes it is none. */
function storedBaseline(json: string | null): Evaluation['baseline'] | null {
  if (json === null) return null;
  try {
    const b = JSON.parse(json) as Evaluation['baseline'] | null;
    return b && typeof b === 'object' && typeof b.source === 'string' && typeof b.seasonality === 'string' ? b : null;
  } catch {
    return null;
  }
}

/**
 * The verdict of every window of a model version in [from, to), oldest first: from the bars index, and from the row
 * only for a collapsed window's dominant label and a flagged window's baseline (the evaluation JSON is read for those
 * alone).
 */
export const verdictsBetween = (model: string, version: string, from: number, to: number): Read<WindowVerdict[]> =>
  rowsOf(
    (db) =>
      db
        .select({
          start: windows.start,
          n: windows.n,
          verdict: windows.verdict,
          dominantLabel: sql<string | null>`case when ${windows.verdict} = 'collapsed' then json_extract(${windows.evaluation}, '$.dominantLabel') end`.as(
            'dominant_label',
          ),
          judgedAgainst: sql<string | null>`case when ${windows.verdict} in ('collapsed', 'partial_collapse') then json_extract(${windows.evaluation}, '$.baseline') end`.as(
            'judged_against',
          ),
        })
        .from(windows)
        .where(and(eq(windows.model, model), eq(windows.version, version), gte(windows.start, from), lt(windows.start, to)))
        .orderBy(asc(windows.start))
        .limit(2_000),
    (rows) => rows.map(({ judgedAgainst, ...w }) => ({ ...w, baseline: storedBaseline(judgedAgainst) })),
  );
