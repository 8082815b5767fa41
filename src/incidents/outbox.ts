// The outbox's way out to the queue: a message per new delivery, the cron's sweep for messages that never arrived,
// and the admin's second chance for a dead delivery. The rows in D1 are the truth; a queue message is only a nudge,
// so losing one delays a delivery (until the sweep) but never loses it.
import type { Env } from '../config';
import { claimStaleDeliveries, markEnqueued, reviveDelivery } from '../db/deliveries';

/** The body of a delivery queue message. */
export interface DeliveryMessage {
  deliveryId: string;
}

/**
 * A delivery still undelivered this long after it was due (or enqueued) lost its message. Far longer than a queue
 * batch waits plus an attempt's lease, so a message merely in flight is not duplicated; short enough that a page is
 * late by minutes, not hours.
 */
export const SWEEP_GRACE_SECONDS = 300;
/** Messages per sendBatch (the Queues limit) and so deliveries per sweep; the next tick takes the rest. */
export const SWEEP_LIMIT = 100;

async function send(env: Env, ids: string[]): Promise<boolean> {
  if (ids.length === 0) return true;
  try {
    await env.DELIVERIES.sendBatch(ids.map((deliveryId) => ({ body: { deliveryId } satisfies DeliveryMessage, contentType: 'json' })));
    return true;
  } catch (e) {
    // The rows stay pending; the sweep sends them.
    console.error(`outbox: enqueue of ${ids.length} deliveries failed: ${(e as Error).message}`);
    return false;
  }
}

/** Sends a queue message for each new delivery and notes when. Never throws: the rows are already safe in D1. */
export async function enqueueDeliveries(env: Env, ids: string[], nowMs: number): Promise<void> {
  if (!(await send(env, ids))) return;
  try {
    await markEnqueued(env.DB, ids, Math.floor(nowMs / 1000));
  } catch (e) {
    console.error(`outbox: marking ${ids.length} deliveries enqueued failed: ${(e as Error).message}`);
  }
}

/**
 * Re-enqueues deliveries whose message was lost (enqueue failed, or the message vanished): undelivered and due for
 * longer than SWEEP_GRACE_SECONDS. Call it from the cron tick; when nothing is stale it costs one UPDATE.
 * Returns how many it re-enqueued.
 */
export async function sweepOutbox(env: Env, nowMs: number): Promise<number> {
  const ids = await claimStaleDeliveries(env.DB, Math.floor(nowMs / 1000), SWEEP_GRACE_SECONDS, SWEEP_LIMIT);
  if (ids.length > 0) {
    console.log(`outbox: re-enqueueing ${ids.length} stale deliveries`);
    await send(env, ids);
  }
  return ids.length;
}

/** Gives a dead delivery a fresh budget of attempts and enqueues it; false when it is not dead (or unknown). */
export async function retryDelivery(env: Env, id: string, nowMs: number): Promise<boolean> {
  const revived = await reviveDelivery(env.DB, id, Math.floor(nowMs / 1000));
  if (!revived) return false;
  await send(env, [revived]);
  return true;
}
