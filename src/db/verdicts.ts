// The detector's side of the window tables: which closed windows still wait for a verdict, a window's counts as
// the monitor core reads them, the recent healthy windows that refine the reference, and storing the verdict.
import { and, asc, desc, eq, inArray, isNull, lt } from 'drizzle-orm';
import type { Explanation } from '../monitor';
import type { Evaluation } from '../monitor/detector';
import type { LabelCounts } from '../monitor/reference';
import { nameRecord } from '../monitor/names';
import { emptyCounts, type WindowCounts } from '../monitor/window';
import { windowFeatures, windowLabels, windows } from './schema';
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
  return (await db.batch([first, ...rest])).flat();
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

/** Label counts of the latest `limit` healthy windows of a model version before `before` (epoch seconds). */
export async function recentHealthyLabelCounts(
  d1: D1Database,
  q: { model: string; version: string; before: number; limit: number },
): Promise<LabelCounts[]> {
  const db = database(d1);
  const healthy = db
    .select({ start: windows.start })
    .from(windows)
    .where(and(eq(windows.model, q.model), eq(windows.version, q.version), eq(windows.verdict, 'healthy'), lt(windows.start, q.before)))
    .orderBy(desc(windows.start))
    .limit(q.limit);
  const rows = await db
    .select({ start: windowLabels.start, label: windowLabels.label, count: windowLabels.count })
    .from(windowLabels)
    .where(and(eq(windowLabels.model, q.model), eq(windowLabels.version, q.version), inArray(windowLabels.start, healthy)));
  const byStart = new Map<number, LabelCounts>();
  for (const r of rows) {
    const counts = byStart.get(r.start) ?? { labelCounts: nameRecord<number>() };
    counts.labelCounts[r.label] = r.count;
    byStart.set(r.start, counts);
  }
  return [...byStart.values()];
}

export async function storeVerdict(d1: D1Database, key: WindowKey, evaluation: Evaluation, explanation: Explanation): Promise<void> {
  await database(d1)
    .update(windows)
    .set({ verdict: evaluation.verdict, evaluation, diagnoses: explanation.diagnoses, remedies: explanation.remedies })
    .where(and(eq(windows.model, key.model), eq(windows.version, key.version), eq(windows.start, key.start)));
}
