// The window tables' queries: the additive, idempotent flush of one aggregator shard; closing windows on the
// clock (with explicit zero-traffic windows); retention; and the reads behind the windows API.
import { and, desc, eq, gte, inArray, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { WindowCounts } from '../monitor/window';
import { database, statement } from './client';
import { flushes, windowFeatures, windowLabels, windows } from './schema';

/** D1 binds at most 100 parameters per statement. */
const MAX_PARAMS = 100;
/** Parameters of a flush statement besides its rows: model, version, start, and the flush key (shard, start, seq). */
const FIXED_PARAMS = 6;
const LABEL_PARAMS = 2;
const FEATURE_PARAMS = 7;
const LABELS_PER_STATEMENT = Math.floor((MAX_PARAMS - FIXED_PARAMS) / LABEL_PARAMS);
const FEATURES_PER_STATEMENT = Math.floor((MAX_PARAMS - FIXED_PARAMS) / FEATURE_PARAMS);

const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** What one aggregator shard hands to D1 for one window. */
export interface ShardFlush {
  /** Durable Object name `model@version#k`. */
  shard: string;
  /** The shard's sequence number of this flush; (shard, start, seq) is the idempotency key. */
  seq: number;
  model: string;
  version: string;
  /** Epoch seconds, aligned. */
  start: number;
  /** Seconds. */
  length: number;
  counts: WindowCounts;
}

/** Statements in the D1 batch of one flush: the window row, the label and feature upserts, the flush key. */
export function flushStatementCount(counts: WindowCounts): number {
  const labels = Object.keys(counts.labelCounts).length;
  const features = Object.values(counts.features).filter((m) => m.count > 0).length;
  return 2 + Math.ceil(labels / LABELS_PER_STATEMENT) + Math.ceil(features / FEATURES_PER_STATEMENT);
}

/**
 * Adds one shard's counts of one window to D1, exactly once. Every statement is guarded by "this flush key is not
 * in `flushes` yet" and the key is inserted last; the batch is one transaction, so a repeated flush (a retried alarm
 * after D1 committed but the answer was lost) adds nothing, and a failed one leaves nothing behind.
 * Returns the number of statements in the batch.
 */
export async function flushWindow(d1: D1Database, flush: ShardFlush, nowSec: number): Promise<number> {
  const db = database(d1);
  const { shard, seq, model, version, start, length, counts } = flush;
  const notYetFlushed = sql`NOT EXISTS (SELECT 1 FROM ${flushes} WHERE shard = ${shard} AND start = ${start} AND seq = ${seq})`;
  const statements: SQL[] = [
    sql`INSERT INTO ${windows} (model, version, start, length, n, sum_confidence, sum_entropy, zero_rows)
      SELECT ${model}, ${version}, ${start}, ${length}, ${counts.n}, ${counts.sumConfidence}, ${counts.sumEntropy}, ${counts.zeroRows}
      WHERE ${notYetFlushed}
      ON CONFLICT (model, version, start) DO UPDATE SET n = n + excluded.n,
        sum_confidence = sum_confidence + excluded.sum_confidence, sum_entropy = sum_entropy + excluded.sum_entropy,
        zero_rows = zero_rows + excluded.zero_rows`,
  ];
  for (const rows of chunks(Object.entries(counts.labelCounts), LABELS_PER_STATEMENT)) {
    const values = sql.join(rows.map(([label, count]) => sql`(${label}, ${count})`), sql`, `);
    statements.push(sql`INSERT INTO ${windowLabels} (model, version, start, label, "count")
      SELECT ${model}, ${version}, ${start}, column1, column2 FROM (VALUES ${values}) WHERE ${notYetFlushed}
      ON CONFLICT (model, version, start, label) DO UPDATE SET "count" = "count" + excluded."count"`);
  }
  const features = Object.entries(counts.features).filter(([, m]) => m.count > 0);
  for (const rows of chunks(features, FEATURES_PER_STATEMENT)) {
    const values = sql.join(
      rows.map(([name, m]) => sql`(${name}, ${m.count}, ${m.sum}, ${m.sumSq}, ${m.min}, ${m.max}, ${m.zeros})`),
      sql`, `,
    );
    statements.push(sql`INSERT INTO ${windowFeatures} (model, version, start, feature, "count", sum, sum_sq, "min", "max", zeros)
      SELECT ${model}, ${version}, ${start}, column1, column2, column3, column4, column5, column6, column7
      FROM (VALUES ${values}) WHERE ${notYetFlushed}
      ON CONFLICT (model, version, start, feature) DO UPDATE SET "count" = "count" + excluded."count",
        sum = sum + excluded.sum, sum_sq = sum_sq + excluded.sum_sq,
        "min" = min(coalesce("min", excluded."min"), excluded."min"),
        "max" = max(coalesce("max", excluded."max"), excluded."max"),
        zeros = zeros + excluded.zeros`);
  }
  // Last, so the guards above still see the key absent; DO NOTHING, so a duplicate batch commits as a no-op.
  const key = db.insert(flushes).values({ shard, start, seq, n: counts.n, flushedAt: nowSec }).onConflictDoNothing();
  await d1.batch([...statements, key].map((q) => statement(d1, q)));
  return statements.length + 1;
}

/** A served model version and its window length: what the clock closes and zero-fills. */
export interface ServedModel {
  model: string;
  version: string;
  length: number;
}

export interface WindowKey {
  model: string;
  version: string;
  start: number;
  length: number;
}

/**
 * How far back (seconds) zero-traffic windows are filled in: enough to cover missed cron runs, never unbounded
 * history. A model version with no window yet starts at the newest closable window, not at the horizon.
 */
export const zeroFillHorizonSeconds = (length: number): number => Math.max(3_600, 60 * length);

/**
 * Zero-fills, then closes, every window that ended at or before `closableBefore` (epoch seconds), in one batch.
 * Returns the windows this call closed: the conditional UPDATE ... RETURNING hands each window to exactly one caller.
 */
export async function closeWindows(
  d1: D1Database,
  served: ServedModel[],
  closableBefore: number,
  nowSec: number,
): Promise<{ closed: WindowKey[]; zeroFilled: number }> {
  const db = database(d1);
  const zeroFills = served.map(({ model, version, length }) => {
    // Newest window whose end has passed `closableBefore`.
    const latest = Math.floor(closableBefore / length) * length - length;
    const horizon = latest - Math.floor(zeroFillHorizonSeconds(length) / length) * length;
    // Every slot from max(horizon, the version's first window) to `latest`; ON CONFLICT keeps windows with traffic.
    return sql`WITH RECURSIVE slot(start) AS (
        SELECT max(${horizon}, coalesce(
          (SELECT min(start) FROM ${windows} WHERE model = ${model} AND version = ${version} AND length = ${length}), ${latest}))
        UNION ALL SELECT start + ${length} FROM slot WHERE start + ${length} <= ${latest})
      INSERT INTO ${windows} (model, version, start, length)
      SELECT ${model}, ${version}, start, ${length} FROM slot WHERE start <= ${latest}
      ON CONFLICT DO NOTHING`;
  });
  const close = db
    .update(windows)
    .set({ closed: true, closedAt: nowSec })
    .where(and(eq(windows.closed, false), lte(sql`${windows.start} + ${windows.length}`, closableBefore)))
    .returning({ model: windows.model, version: windows.version, start: windows.start, length: windows.length });
  const results = await d1.batch<WindowKey>([...zeroFills, close].map((q) => statement(d1, q)));
  const zeroFilled = results.slice(0, -1).reduce((sum, r) => sum + r.meta.changes, 0);
  return { closed: results[results.length - 1]!.results, zeroFilled };
}

/** Deletes closed windows that ended before `cutoff` (epoch seconds), with their labels, features and flush keys. */
export async function pruneWindows(d1: D1Database, cutoff: number): Promise<number> {
  const db = database(d1);
  const expired = db
    .select({ model: windows.model, version: windows.version, start: windows.start })
    .from(windows)
    .where(and(eq(windows.closed, true), lte(sql`${windows.start} + ${windows.length}`, cutoff)));
  const inExpired = (t: typeof windowLabels | typeof windowFeatures): SQL =>
    sql`(${t.model}, ${t.version}, ${t.start}) IN ${expired}`;
  const results = await db.batch([
    db.delete(windowLabels).where(and(lt(windowLabels.start, cutoff), inExpired(windowLabels))),
    db.delete(windowFeatures).where(and(lt(windowFeatures.start, cutoff), inExpired(windowFeatures))),
    db.delete(windows).where(and(eq(windows.closed, true), lte(sql`${windows.start} + ${windows.length}`, cutoff))),
    db.delete(flushes).where(lt(flushes.start, cutoff)),
  ]);
  return results[2].meta.changes;
}

export type WindowRow = typeof windows.$inferSelect;
export type WindowLabelRow = typeof windowLabels.$inferSelect;
export type WindowFeatureRow = typeof windowFeatures.$inferSelect;

export interface StoredWindow {
  window: WindowRow;
  labels: WindowLabelRow[];
  features: WindowFeatureRow[];
}

/**
 * Windows of one model version whose start is in [since, until) (epoch seconds), newest first, with their label
 * and feature rows. One batch, so the three reads see the same snapshot.
 */
export async function listWindows(
  d1: D1Database,
  q: { model: string; version: string; since: number; until: number; limit: number },
): Promise<StoredWindow[]> {
  const db = database(d1);
  const inRange = (t: typeof windows | typeof windowLabels | typeof windowFeatures) =>
    and(eq(t.model, q.model), eq(t.version, q.version), gte(t.start, q.since), lt(t.start, q.until));
  const starts = db.select({ start: windows.start }).from(windows).where(inRange(windows)).orderBy(desc(windows.start)).limit(q.limit);
  const [rows, labels, features] = await db.batch([
    db.select().from(windows).where(inRange(windows)).orderBy(desc(windows.start)).limit(q.limit),
    db.select().from(windowLabels).where(and(inRange(windowLabels), inArray(windowLabels.start, starts))),
    db.select().from(windowFeatures).where(and(inRange(windowFeatures), inArray(windowFeatures.start, starts))),
  ]);
  const byStart = <T extends { start: number }>(items: T[]) => {
    const map = new Map<number, T[]>();
    for (const item of items) map.set(item.start, [...(map.get(item.start) ?? []), item]);
    return map;
  };
  const labelsAt = byStart(labels);
  const featuresAt = byStart(features);
  return rows.map((window) => ({ window, labels: labelsAt.get(window.start) ?? [], features: featuresAt.get(window.start) ?? [] }));
}
