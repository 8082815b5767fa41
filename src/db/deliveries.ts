// The delivery table's queries: what the admin API and the status page show of a delivery, and the lifecycle the
// queue consumer and the cron's sweep drive (claim → delivered | retrying | dead). The rows are written with their
// incident change (db/incidents.ts saveIncidentChange). Times are epoch seconds.
import { and, eq, inArray, lte, or, sql, type SQL } from 'drizzle-orm';
import { database } from './client';
import { deliveries, deliveryAttempts } from './schema';
import type { ChannelName } from '../incidents/channels';

export type DeliveryRow = typeof deliveries.$inferSelect;
export type NewDelivery = typeof deliveries.$inferInsert;

/**
 * A delivery as the admin API shows it: never its payload (PagerDuty's and Slack's carry routing details), nor its
 * escalation window, which only keys the outbox (the payload names the window).
 */
export type DeliveryStatusRow = Omit<DeliveryRow, 'payload' | 'escalationWindow'>;

/** The columns of a DeliveryStatusRow: every one but the payload and the key (the status page selects them too). */
export const deliveryStatusColumns = {
  id: deliveries.id,
  incidentId: deliveries.incidentId,
  channel: deliveries.channel,
  event: deliveries.event,
  status: deliveries.status,
  attempts: deliveries.attempts,
  lastStatusCode: deliveries.lastStatusCode,
  lastError: deliveries.lastError,
  createdAt: deliveries.createdAt,
  nextAttemptAt: deliveries.nextAttemptAt,
  enqueuedAt: deliveries.enqueuedAt,
  deliveredAt: deliveries.deliveredAt,
};

export function incidentDeliveries(d1: D1Database, incidentId: string): Promise<DeliveryStatusRow[]> {
  return database(d1)
    .select(deliveryStatusColumns)
    .from(deliveries)
    .where(eq(deliveries.incidentId, incidentId))
    .orderBy(deliveries.createdAt, deliveries.id);
}

export async function deliveryStatus(d1: D1Database, id: string): Promise<DeliveryStatusRow | undefined> {
  const [row] = await database(d1).select(deliveryStatusColumns).from(deliveries).where(eq(deliveries.id, id));
  return row;
}

// ── delivery lifecycle ───────────────────────────────────────────────────────────────────────────────────────────
// next_attempt_at is when the delivery may be attempted next: NULL = now; during an attempt, the end of its lease.

const undelivered = inArray(deliveries.status, ['pending', 'retrying']);

/**
 * No earlier delivery of the same incident to the same channel is still on its way: a channel hears an incident's
 * events in the order they happened (PagerDuty would drop a resolve that overtook its trigger, then page for an
 * incident long over). Ids sort by creation. Table names are spelled out so the correlation cannot bind to the alias.
 */
const firstInLine = sql`NOT EXISTS (SELECT 1 FROM deliveries AS earlier WHERE earlier.incident_id = deliveries.incident_id
  AND earlier.channel = deliveries.channel AND earlier.id < deliveries.id AND earlier.status IN ('pending', 'retrying'))`;

export async function markEnqueued(d1: D1Database, ids: string[], nowSec: number): Promise<void> {
  if (ids.length > 0) await database(d1).update(deliveries).set({ enqueuedAt: nowSec }).where(inArray(deliveries.id, ids));
}

/**
 * Takes a delivery for one attempt: counts the attempt and leases the row until `leaseUntil`, so a duplicate message
 * for the same delivery finds it taken and does not send it a second time concurrently. Undefined when the delivery
 * is done (delivered, dead), unknown, not due yet, or waiting for an earlier delivery to its channel (which hands
 * it on when it is done: nextInLine).
 */
export async function claimDelivery(d1: D1Database, id: string, nowSec: number, leaseUntil: number): Promise<DeliveryRow | undefined> {
  const [row] = await database(d1)
    .update(deliveries)
    .set({ attempts: sql`${deliveries.attempts} + 1`, nextAttemptAt: leaseUntil })
    .where(
      and(eq(deliveries.id, id), undelivered, or(sql`${deliveries.nextAttemptAt} IS NULL`, lte(deliveries.nextAttemptAt, nowSec)), firstInLine),
    )
    .returning();
  return row;
}

/** The delivery of an incident to a channel that is next in line (the earliest one still on its way), if any. */
export async function nextInLine(d1: D1Database, incidentId: string, channel: ChannelName): Promise<string | undefined> {
  const [row] = await database(d1)
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(and(eq(deliveries.incidentId, incidentId), eq(deliveries.channel, channel), undelivered))
    .orderBy(deliveries.id)
    .limit(1);
  return row?.id;
}

export type AttemptOutcome =
  | { status: 'delivered'; statusCode: number }
  | { status: 'retrying'; statusCode: number | null; error: string; nextAttemptAt: number }
  | { status: 'dead'; statusCode: number | null; error: string };

/** Records how attempt number `attempts` ended (ignored if the row moved on meanwhile, e.g. an admin retry). */
export async function recordAttempt(d1: D1Database, id: string, attempts: number, outcome: AttemptOutcome, nowSec: number): Promise<void> {
  const common = { status: outcome.status, lastStatusCode: outcome.statusCode };
  const set =
    outcome.status === 'delivered'
      ? { ...common, lastError: null, nextAttemptAt: null, deliveredAt: nowSec }
      : outcome.status === 'retrying'
        ? { ...common, lastError: outcome.error, nextAttemptAt: outcome.nextAttemptAt, enqueuedAt: nowSec }
        : { ...common, lastError: outcome.error, nextAttemptAt: null };
  const db = database(d1);
  // The attempt happened whatever became of the row meanwhile: it is always kept for the incident page's timeline.
  await db.batch([
    db.update(deliveries).set(set).where(and(eq(deliveries.id, id), eq(deliveries.attempts, attempts))),
    db.insert(deliveryAttempts).values({
      deliveryId: id,
      attempt: attempts,
      at: nowSec,
      outcome: outcome.status,
      statusCode: outcome.statusCode,
      error: outcome.status === 'delivered' ? null : outcome.error,
    }),
  ]);
}

/** Marks an undelivered delivery dead (its queue message ran out of retries); undefined when it was already done. */
export async function markDead(d1: D1Database, id: string, error: string): Promise<{ incidentId: string; channel: ChannelName } | undefined> {
  const [row] = await database(d1)
    .update(deliveries)
    .set({ status: 'dead', lastError: error, nextAttemptAt: null })
    .where(and(eq(deliveries.id, id), undelivered))
    .returning({ incidentId: deliveries.incidentId, channel: deliveries.channel });
  return row;
}

/** Gives a dead delivery a fresh budget of attempts; undefined when it is not dead (or unknown). */
export async function reviveDelivery(d1: D1Database, id: string, nowSec: number): Promise<string | undefined> {
  const [row] = await database(d1)
    .update(deliveries)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: null, enqueuedAt: nowSec })
    .where(and(eq(deliveries.id, id), eq(deliveries.status, 'dead')))
    .returning({ id: deliveries.id });
  return row?.id;
}

/**
 * Claims the undelivered rows whose queue message must have been lost: first in line for their channel, due (or
 * enqueued, or created) more than `graceSeconds` ago and still not attempted. One UPDATE ... RETURNING on the status index: when nothing is stale,
 * the cron pays for one cheap statement. Claimed rows count as enqueued now, so the next sweep leaves them alone.
 */
export async function claimStaleDeliveries(d1: D1Database, nowSec: number, graceSeconds: number, limit: number): Promise<string[]> {
  const dueSince: SQL = sql`coalesce(${deliveries.nextAttemptAt}, ${deliveries.enqueuedAt}, ${deliveries.createdAt})`;
  const stale = database(d1)
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(and(undelivered, sql`${dueSince} <= ${nowSec - graceSeconds}`, firstInLine))
    .limit(limit);
  const rows = await database(d1)
    .update(deliveries)
    .set({ nextAttemptAt: null, enqueuedAt: nowSec })
    .where(inArray(deliveries.id, stale))
    .returning({ id: deliveries.id });
  return rows.map((r) => r.id);
}
