// The incident table's queries: the active incident of a model version, an incident change written atomically with
// its outbox rows (db/deliveries.ts has the rest of the delivery lifecycle), and the admin API's reads and actions.
// Times are epoch seconds.
import { and, desc, eq, isNull, ne, notExists, notInArray, sql } from 'drizzle-orm';
import type { Incident } from '../monitor/incident';
import { deliveries, incidents, rebaselines } from './schema';
import { database, insertWhere, statement } from './client';
import type { NewDelivery } from './deliveries';
import { listWindows, type StoredWindow } from './windows';

export type NewRebaseline = typeof rebaselines.$inferInsert;

export type IncidentRow = typeof incidents.$inferSelect;

/** 'active' = open or acknowledged. */
export type IncidentFilter = 'open' | 'acknowledged' | 'resolved' | 'active';

/** The incident as the monitor core sees it; the status column is the truth (an acknowledgement changes only it). */
export const incidentOf = (row: IncidentRow): Incident => ({ ...row.state, status: row.status });

/** The open or acknowledged traffic incident of a model version, if any (a model defect lives beside it). */
export async function activeIncident(d1: D1Database, model: string, version: string): Promise<Incident | null> {
  const [row] = await database(d1)
    .select()
    .from(incidents)
    .where(
      and(eq(incidents.model, model), eq(incidents.version, version), ne(incidents.status, 'resolved'), ne(incidents.kind, 'model_defect')),
    )
    .limit(1);
  return row ? incidentOf(row) : null;
}

/** The query for the id of a model version's latest traffic incident (open or not; the one whose first window is latest). */
const latestTrafficIncidentId = (d1: D1Database, model: string, version: string) =>
  database(d1)
    .select({ id: incidents.id })
    .from(incidents)
    .where(and(eq(incidents.model, model), eq(incidents.version, version), ne(incidents.kind, 'model_defect')))
    .orderBy(desc(incidents.firstWindowStart), desc(incidents.openedAt))
    .limit(1);

/** The id of a model version's latest traffic incident (open or not; the one whose first window is latest), if it had one. */
export async function latestTrafficIncident(d1: D1Database, model: string, version: string): Promise<string | undefined> {
  const [row] = await latestTrafficIncidentId(d1, model, version);
  return row?.id;
}

/** Whether the model defect of a model version was already reported (it is, once, ever). */
export async function modelDefectReported(d1: D1Database, model: string, version: string): Promise<boolean> {
  const [row] = await database(d1)
    .select({ id: incidents.id })
    .from(incidents)
    .where(and(eq(incidents.model, model), eq(incidents.version, version), eq(incidents.kind, 'model_defect')))
    .limit(1);
  return row !== undefined;
}

export interface IncidentChange {
  incident: Incident;
  /** Whether the change opens the incident (else the stored one is updated). */
  opens: boolean;
  nowSec: number;
  /** Set when this change resolves the incident. */
  resolvedBy?: 'monitor' | 'admin';
  /** Outbox rows for the notifications of this change. */
  deliveries: NewDelivery[];
  /** The rebaseline an operator asked for with this resolve: recorded with it, or not at all. */
  rebaseline?: NewRebaseline;
  /**
   * For a change the cron computed from a window: the rebaselines of the version that the detector's state it judged
   * the window with had applied. The change is stored only if no other one is waiting (evaluate.ts says why).
   */
  judgedWith?: readonly string[];
}

/**
 * Writes an incident change with its outbox rows (and the rebaseline asked for with it) in one D1 batch, one
 * transaction, only while the incident is unresolved. Returns whether it was stored; if not, nothing was: no
 * notification about an incident resolved meanwhile (a tick's escalation after an operator resolved it would
 * re-trigger PagerDuty's resolved alert), no rebaseline for an incident the monitor resolved. An update keeps an
 * acknowledgement made meanwhile; an operator's resolve changes only the resolution, so what a tick wrote between
 * the operator's read and this write (the windows, kind and latest evaluation are the monitor's) stays.
 *
 * Every statement carries the same guard, and the incident itself is written last, so that every guard sees the
 * rows as they were before the batch: all of it happens, or none.
 */
export async function saveIncidentChange(d1: D1Database, change: IncidentChange): Promise<boolean> {
  const db = database(d1);
  const { incident: i, nowSec } = change;
  const resolved = i.status === 'resolved';
  const resolvedBy = resolved ? (change.resolvedBy ?? 'monitor') : null;
  const unresolved = notExists(db.select({ id: incidents.id }).from(incidents).where(and(eq(incidents.id, i.id), eq(incidents.status, 'resolved'))));
  const waiting = change.judgedWith
    ? db
        .select({ id: rebaselines.incidentId })
        .from(rebaselines)
        .where(
          and(
            eq(rebaselines.model, i.model),
            eq(rebaselines.version, i.version),
            isNull(rebaselines.appliedAt),
            notInArray(rebaselines.incidentId, [...change.judgedWith]),
          ),
        )
    : undefined;
  const guard = waiting ? and(unresolved, notExists(waiting))! : unresolved;
  const write = change.opens
    ? insertWhere(
        incidents,
        {
          id: i.id,
          model: i.model,
          version: i.version,
          kind: i.kind,
          status: i.status,
          firstWindowStart: i.firstWindowStart,
          lastWindowStart: i.lastWindowStart,
          flaggedWindows: i.flaggedWindows,
          healthyStreak: i.healthyStreak,
          openedAt: nowSec,
          updatedAt: nowSec,
          resolvedAt: resolved ? nowSec : null,
          resolvedBy,
          state: i,
        },
        guard,
      )
    : db
        .update(incidents)
        .set(
          resolvedBy === 'admin'
            ? { status: 'resolved', resolvedAt: nowSec, resolvedBy, updatedAt: nowSec, state: sql`json_set(${incidents.state}, '$.status', 'resolved')` }
            : {
                kind: i.kind,
                lastWindowStart: i.lastWindowStart,
                flaggedWindows: i.flaggedWindows,
                healthyStreak: i.healthyStreak,
                updatedAt: nowSec,
                ...(resolved
                  ? { status: 'resolved' as const, resolvedAt: nowSec, resolvedBy, state: i }
                  : { state: sql`json_set(${sql.param(i, incidents.state)}, '$.status', ${incidents.status})` }),
              },
        )
        .where(and(eq(incidents.id, i.id), guard));
  // One statement per delivery keeps each well under D1's 100 bound parameters.
  const results = await d1.batch(
    [
      ...change.deliveries.map((d) => insertWhere(deliveries, d, guard)),
      ...(change.rebaseline ? [insertWhere(rebaselines, change.rebaseline, guard)] : []),
      write,
    ].map((q) => statement(d1, q)),
  );
  return results[results.length - 1]!.meta.changes > 0;
}

/**
 * Records that the traffic of an incident already resolved by hand is the model's new normal (asking again changes
 * nothing), only while it is still its version's latest traffic incident: a later one may have opened since the
 * caller checked, and adopting now would declare that one's traffic normal. Returns whether it is recorded (now or
 * before).
 */
export async function requestRebaseline(d1: D1Database, request: NewRebaseline): Promise<boolean> {
  const stillLatest = sql`${request.incidentId} = ${latestTrafficIncidentId(d1, request.model, request.version)}`;
  const [, recorded] = await d1.batch([
    statement(d1, sql`${insertWhere(rebaselines, request, stillLatest)} ON CONFLICT DO NOTHING`),
    statement(d1, sql`SELECT 1 FROM ${rebaselines} WHERE incident_id = ${request.incidentId}`),
  ]);
  return recorded!.results.length > 0;
}

export async function incidentById(d1: D1Database, id: string): Promise<IncidentRow | undefined> {
  const [row] = await database(d1).select().from(incidents).where(eq(incidents.id, id));
  return row;
}

export async function listIncidents(d1: D1Database, q: { status?: IncidentFilter; model?: string; limit: number }): Promise<IncidentRow[]> {
  const status =
    q.status === undefined ? undefined : q.status === 'active' ? ne(incidents.status, 'resolved') : eq(incidents.status, q.status);
  return database(d1)
    .select()
    .from(incidents)
    .where(and(status, q.model === undefined ? undefined : eq(incidents.model, q.model)))
    // Ids sort by creation time: newest first without a tie on equal seconds.
    .orderBy(desc(incidents.openedAt), desc(incidents.id))
    .limit(q.limit);
}

/** Acknowledges an open incident; false when it was not open. */
export async function acknowledgeIncident(d1: D1Database, id: string, nowSec: number): Promise<boolean> {
  const result = await database(d1)
    .update(incidents)
    .set({ status: 'acknowledged', acknowledgedAt: nowSec, updatedAt: nowSec, state: sql`json_set(${incidents.state}, '$.status', 'acknowledged')` })
    .where(and(eq(incidents.id, id), eq(incidents.status, 'open')));
  return result.meta.changes > 0;
}

/** Inserts outbox rows unless their (incident, channel, event, escalation window) slot is taken; returns the ids actually added. */
export async function addDeliveries(d1: D1Database, rows: NewDelivery[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const db = database(d1);
  const added = await db.batch(
    rows.map((r) => db.insert(deliveries).values(r).onConflictDoNothing().returning({ id: deliveries.id })) as [never, ...never[]],
  );
  return (added as { id: string }[][]).flat().map((r) => r.id);
}

/** The windows of an incident's model version from its first to its last flagged window, newest first. */
export function incidentWindows(d1: D1Database, i: IncidentRow, limit: number): Promise<StoredWindow[]> {
  return listWindows(d1, { model: i.model, version: i.version, since: i.firstWindowStart, until: i.lastWindowStart + 1, limit });
}
