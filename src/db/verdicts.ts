// The detector's side of the window tables: which closed windows still wait for a verdict, a window's counts as
// the monitor core reads them, the detector's remembered state per model version, and storing the verdict with it;
// and the rebaselines someone asked for, which the cron applies to that state.
import { and, asc, between, desc, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import type { IncidentDetailBody } from '../contract/api';
import type { Explanation } from '../monitor';
import type { Evaluation } from '../monitor/detector';
import type { MonitorState } from '../monitor/baseline';
import { packState, unpackState } from '../monitor/packed-state';
import { emptyCounts, type WindowCounts } from '../monitor/window';
import { monitorStates, rebaselines, windowFeatures, windowLabels, windows } from './schema';
import { database } from './client';
import type { WindowKey } from './windows';

/**
 * Closed windows without a verdict, oldest first, at most `perVersion` for each served version: one query per
 * version (a few bound parameters each, whatever the number of models), so a version whose windows keep failing
 * never crowds out the others.
 */
export async function windowsAwaitingVerdict(
  d1: D1Database,
  served: { model: string; version: string }[],
  perVersion: number,
): Promise<WindowKey[]> {
  if (served.length === 0) return [];
  const db = database(d1);
  const [first, ...rest] = served.map(({ model, version }) =>
    db
      .select({ model: windows.model, version: windows.version, start: windows.start, length: windows.length })
      .from(windows)
      .where(and(eq(windows.model, model), eq(windows.version, version), eq(windows.closed, true), isNull(windows.verdict)))
      .orderBy(asc(windows.start))
      .limit(perVersion),
  );
  return (await db.batch([first!, ...rest])).flat(); // served is not empty
}

/** A stored window as the additive WindowCounts the monitor core works on. */
export async function windowCounts(d1: D1Database, key: WindowKey): Promise<WindowCounts> {
  const db = database(d1);
  const at = <T extends typeof windows | typeof windowLabels | typeof windowFeatures>(t: T) =>
    and(eq(t.model, key.model), eq(t.version, key.version), eq(t.start, key.start));
  const [rows, labels, features] = await db.batch([
    db.select().from(windows).where(at(windows)),
    db.select().from(windowLabels).where(at(windowLabels)),
    db.select().from(windowFeatures).where(at(windowFeatures)),
  ]);
  const counts = emptyCounts();
  const row = rows[0];
  if (!row) return counts;
  counts.n = row.n;
  counts.sumConfidence = row.sumConfidence;
  counts.sumEntropy = row.sumEntropy;
  counts.zeroRows = row.zeroRows;
  for (const l of labels) counts.labelCounts[l.label] = l.count;
  for (const f of features)
    counts.features[f.feature] = { count: f.count, sum: f.sum, sumSq: f.sumSq, min: f.min ?? 0, max: f.max ?? 0, zeros: f.zeros };
  return counts;
}

/** What the detector remembers of a model version; null before its first window. */
export async function monitorState(d1: D1Database, model: string, version: string): Promise<MonitorState | null> {
  const [row] = await database(d1)
    .select({ state: monitorStates.state })
    .from(monitorStates)
    .where(and(eq(monitorStates.model, model), eq(monitorStates.version, version)));
  return row ? unpackState(row.state) : null;
}

/** The state of the model's most recently judged other version: what a new version may inherit its seasons from. */
export async function latestOtherVersionState(d1: D1Database, model: string, version: string): Promise<MonitorState | null> {
  const [row] = await database(d1)
    .select({ state: monitorStates.state })
    .from(monitorStates)
    .where(and(eq(monitorStates.model, model), ne(monitorStates.version, version)))
    .orderBy(desc(monitorStates.updatedAt))
    .limit(1);
  return row ? unpackState(row.state) : null;
}

/**
 * Stores a window's verdict and the detector's state after it in one batch (one transaction): the state has folded
 * the window in exactly when the window has its verdict, so a retried tick neither skips nor repeats a window.
 */
export async function storeVerdict(
  d1: D1Database,
  key: WindowKey,
  evaluation: Evaluation,
  explanation: Explanation,
  state: MonitorState,
  nowSec: number,
  /** The rebaselines `state` applied, with what each adopted: marked applied in the same transaction (first writer wins). */
  rebaselined: readonly AppliedRebaseline[] = [],
): Promise<void> {
  const db = database(d1);
  const stored = await packState(state);
  await db.batch([
    db
      .update(windows)
      .set({ verdict: evaluation.verdict, evaluation, diagnoses: explanation.diagnoses, remedies: explanation.remedies })
      .where(and(eq(windows.model, key.model), eq(windows.version, key.version), eq(windows.start, key.start))),
    db
      .insert(monitorStates)
      .values({ model: key.model, version: key.version, lastWindowStart: key.start, state: stored, updatedAt: nowSec })
      .onConflictDoUpdate({
        target: [monitorStates.model, monitorStates.version],
        set: { lastWindowStart: key.start, state: stored, updatedAt: nowSec },
      }),
    // Only while it is waiting: two ticks that overlap both apply a waiting rebaseline to the state they read, and the
    // second to store its verdict must not move the applied time (and what was adopted) of the first.
    ...rebaselined.map(({ incidentId, adopted }) =>
      db
        .update(rebaselines)
        .set({ appliedAt: nowSec, adoptedFrom: adopted?.from ?? null, adoptedTo: adopted?.to ?? null, adoptedPredictions: adopted?.predictions ?? null })
        .where(and(eq(rebaselines.incidentId, incidentId), isNull(rebaselines.appliedAt))),
    ),
  ]);
}

/** A rebaseline the cron applied, and the windows it adopted (null: there was no traffic to adopt). */
export interface AppliedRebaseline {
  incidentId: string;
  adopted: { from: number; to: number; predictions: number } | null;
}

/** Rebaselines of a model version the cron has not applied yet. */
export async function waitingRebaselines(d1: D1Database, model: string, version: string): Promise<{ incidentId: string; fromWindowStart: number }[]> {
  return database(d1)
    .select({ incidentId: rebaselines.incidentId, fromWindowStart: rebaselines.fromWindowStart })
    .from(rebaselines)
    .where(and(eq(rebaselines.model, model), eq(rebaselines.version, version), isNull(rebaselines.appliedAt)));
}

/** A version's windows with traffic starting in [from, to], newest first, at most `limit`: their start and size. */
export async function windowSizes(d1: D1Database, model: string, version: string, from: number, to: number, limit: number): Promise<{ start: number; n: number }[]> {
  return database(d1)
    .select({ start: windows.start, n: windows.n })
    .from(windows)
    .where(and(eq(windows.model, model), eq(windows.version, version), between(windows.start, from, to), gt(windows.n, 0)))
    .orderBy(desc(windows.start))
    .limit(limit);
}

/**
 * The label counts and feature moments of a version's windows from `from` to `to` (window starts, inclusive), added
 * up: what a rebaseline adopts. Min, max and zeros are not added (nothing adopts them).
 */
export async function trafficTotals(
  d1: D1Database,
  model: string,
  version: string,
  from: number,
  to: number,
): Promise<Pick<WindowCounts, 'labelCounts' | 'features'>> {
  const db = database(d1);
  const [labels, features] = await db.batch([
    db
      .select({ label: windowLabels.label, count: sql<number>`sum(${windowLabels.count})` })
      .from(windowLabels)
      .where(and(eq(windowLabels.model, model), eq(windowLabels.version, version), between(windowLabels.start, from, to)))
      .groupBy(windowLabels.label),
    db
      .select({
        feature: windowFeatures.feature,
        count: sql<number>`sum(${windowFeatures.count})`,
        sum: sql<number>`sum(${windowFeatures.sum})`,
        sumSq: sql<number>`sum(${windowFeatures.sumSq})`,
      })
      .from(windowFeatures)
      .where(and(eq(windowFeatures.model, model), eq(windowFeatures.version, version), between(windowFeatures.start, from, to)))
      .groupBy(windowFeatures.feature),
  ]);
  const totals = emptyCounts();
  for (const r of labels) totals.labelCounts[r.label] = Number(r.count);
  for (const f of features)
    totals.features[f.feature] = { count: Number(f.count), sum: Number(f.sum), sumSq: Number(f.sumSq), min: 0, max: 0, zeros: 0 };
  return { labelCounts: totals.labelCounts, features: totals.features };
}

/** Where an incident's rebaseline stands, as the API says it (contract/api.ts IncidentDetail `rebaseline`). */
export async function rebaselineOf(d1: D1Database, incidentId: string): Promise<IncidentDetailBody['rebaseline']> {
  const [row] = await database(d1).select({ appliedAt: rebaselines.appliedAt }).from(rebaselines).where(eq(rebaselines.incidentId, incidentId));
  return !row ? 'none' : row.appliedAt === null ? 'waiting' : 'applied';
}
