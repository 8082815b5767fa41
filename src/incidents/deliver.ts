// The delivery queue's consumer. Each message names a delivery; the row in D1 says what to send and where it
// stands. One attempt per message: claim the row (counting the attempt), POST with a timeout, record the outcome,
// then ack, retry the message after the backoff, or give up (dead). Messages that exhausted the queue's own retries
// arrive on the dead-letter queue, and their deliveries are marked dead: visible, and retryable from the admin API.
import { type Config, configOf, type Env } from '../config';
import { redactUrls } from '../format';
import { type AttemptOutcome, claimDelivery, type DeliveryRow, markDead, nextInLine, recordAttempt } from '../db/deliveries';
import { requestFor, type ChannelName, type HttpRequest } from './channels';
import { type DeliveryMessage, enqueueDeliveries } from './outbox';
import { type AttemptResult, nextStep } from './retry';

/** Seconds an attempt keeps its delivery to itself beyond the request timeout (D1 writes, scheduling slack). */
export const LEASE_MARGIN_SECONDS = 30;
/** Characters of a receiver's error response kept as the delivery's last error. */
const ERROR_DETAIL_MAX = 200;

/** Dead-letter queues are named after their queue with "-dlq" (wrangler.toml: labelwatch-deliveries-dlq). */
export const isDeadLetterQueue = (queue: string): boolean => queue.endsWith('-dlq');

const deliveryIdOf = (body: unknown): string | null =>
  typeof body === 'object' && body !== null && typeof (body as DeliveryMessage).deliveryId === 'string' ? (body as DeliveryMessage).deliveryId : null;

/** Error text as stored and shown: no URL (a Slack URL is a secret), no configured secret. */
export function redact(text: string, config: Config): string {
  let out = redactUrls(text);
  const secrets = [config.alertWebhook?.secret, config.retrainWebhook?.secret, config.pagerDuty?.routingKey, config.slack?.url];
  for (const secret of secrets) if (secret) out = out.split(secret).join('[secret]');
  return out;
}

async function post(request: HttpRequest, timeoutMs: number): Promise<AttemptResult & { detail?: string }> {
  try {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: { 'user-agent': 'labelwatch', ...request.headers },
      body: request.body,
      // A redirect would send the signed body somewhere the configuration never named.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const detail = response.ok ? '' : (await response.text().catch(() => '')).trim().slice(0, ERROR_DETAIL_MAX);
    if (response.ok) await response.body?.cancel();
    return { status: response.status, retryAfter: response.headers.get('retry-after'), detail };
  } catch (e) {
    const err = e as Error;
    return { error: err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `network error: ${err.message}` };
  }
}

/** A delivery is done (delivered or dead): the next one to the same channel about the same incident may go. */
async function handOn(env: Env, done: { incidentId: string; channel: ChannelName }): Promise<void> {
  const next = await nextInLine(env.DB, done.incidentId, done.channel);
  if (next) await enqueueDeliveries(env, [next], Date.now());
}

/**
 * Records how an attempt ended and settles its message: a retry goes back on the queue after its delay; a delivery
 * that is done (delivered or dead) lets the next delivery to the same channel about the same incident go.
 */
async function settle(env: Env, delivery: DeliveryRow, outcome: AttemptOutcome, message: Message<unknown>, nowSec: number): Promise<void> {
  await recordAttempt(env.DB, delivery.id, delivery.attempts, outcome, nowSec);
  if (outcome.status === 'retrying') return message.retry({ delaySeconds: outcome.nextAttemptAt - nowSec });
  await handOn(env, delivery);
  message.ack();
}

/** One attempt at the delivery a message names; settles the message (ack or retry). */
async function attempt(env: Env, id: string, message: Message<unknown>): Promise<void> {
  const config = configOf(env);
  const nowSec = Math.floor(Date.now() / 1000);
  const delivery = await claimDelivery(env.DB, id, nowSec, nowSec + Math.ceil(config.deliveryTimeoutMs / 1000) + LEASE_MARGIN_SECONDS);
  // Delivered, dead, unknown, taken by another message right now, or waiting for an earlier delivery to its channel
  // (which hands it on): this message has nothing left to do.
  if (!delivery) return message.ack();

  const request = requestFor(delivery, config, Date.now());
  if (!request) {
    console.warn(`delivery ${delivery.channel} ${id}: channel not configured, dead`);
    return settle(env, delivery, { status: 'dead', statusCode: null, error: `channel ${delivery.channel} is not configured` }, message, nowSec);
  }

  const result = await post(request, config.deliveryTimeoutMs);
  const doneSec = Math.floor(Date.now() / 1000);
  const statusCode = 'status' in result ? result.status : null;
  const step = nextStep(result, delivery.attempts, { maxAttempts: config.deliveryMaxAttempts, ...config.deliveryBackoff }, Date.now());
  const error = redact('status' in result ? `HTTP ${result.status}${result.detail ? `: ${result.detail}` : ''}` : result.error, config);
  // Channel, id and status code only: URLs, bodies and secrets stay out of logs.
  console.log(`delivery ${delivery.channel} ${id}: ${statusCode ?? 'no response'}, attempt ${delivery.attempts}, ${step.action}`);
  const outcome: AttemptOutcome =
    step.action === 'delivered'
      ? { status: 'delivered', statusCode: statusCode! }
      : step.action === 'retry'
        ? { status: 'retrying', statusCode, error, nextAttemptAt: doneSec + step.delaySeconds }
        : {
            status: 'dead',
            statusCode,
            error: `${error} (${step.reason === 'permanent' ? 'permanent failure' : `gave up after ${delivery.attempts} attempts`})`,
          };
  return settle(env, delivery, outcome, message, doneSec);
}

/** The queue() handler: deliveries from the delivery queue, dead letters from its dead-letter queue. */
export async function deliverBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const deadLetters = isDeadLetterQueue(batch.queue);
  await Promise.all(
    batch.messages.map(async (message) => {
      const id = deliveryIdOf(message.body);
      if (id === null) {
        console.error(`delivery: message ${message.id} names no delivery; dropped`);
        return message.ack();
      }
      try {
        if (!deadLetters) return await attempt(env, id, message);
        const dead = await markDead(env.DB, id, 'queue retries exhausted');
        if (!dead) return message.ack();
        console.warn(`delivery ${dead.channel} ${id}: dead letter, marked dead`);
        await handOn(env, dead);
        message.ack();
      } catch (e) {
        // D1 unavailable or the like: the queue tries the message again (and dead-letters it in the end).
        console.error(`delivery ${id}: ${(e as Error).message}`);
        message.retry();
      }
    }),
  );
}
