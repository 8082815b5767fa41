// The retry policy of a delivery, as pure functions: which answers are worth another attempt, how long to wait
// (exponential backoff with full jitter, never less than the receiver's Retry-After), and when to give up.

/** What one attempt came back with: an HTTP status, or no answer at all (timeout, connection refused, DNS...). */
export type AttemptResult = { status: number; retryAfter?: string | null } | { error: string };

/** What to do with the delivery after an attempt. */
export type NextStep =
  | { action: 'delivered' }
  | { action: 'retry'; delaySeconds: number }
  /** 'permanent': the receiver refused the request as such; 'exhausted': no attempts left. */
  | { action: 'dead'; reason: 'permanent' | 'exhausted' };

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseSeconds: number;
  maxSeconds: number;
}

/** The longest a queue message can be delayed (Cloudflare Queues: 12 hours). */
export const MAX_DELAY_SECONDS = 43_200;

/**
 * Statuses that say "not now" rather than "never": request timeout, too early, too many requests and every 5xx.
 * Any other non-2xx is a permanent refusal (a bad URL, a revoked key, a payload the receiver rejects) that the same
 * request cannot fix by being sent again.
 */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 425 || status === 429 || status >= 500;

/**
 * Seconds a Retry-After header asks for: delta-seconds or an HTTP date (RFC 9110 §10.2.3), relative to `nowMs`.
 * Null when absent or unreadable; a date in the past is 0.
 */
export function retryAfterSeconds(header: string | null | undefined, nowMs: number): number | null {
  const value = header?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value);
  // HTTP dates always name a month; without letters it is no date ("1.5", "-5"), whatever Date.parse makes of it.
  const at = /[a-z]/i.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/**
 * Full-jitter backoff ("Exponential Backoff and Jitter", AWS Architecture Blog): before retry n (n = 1 after the first
 * failed attempt) wait a uniformly random whole number of seconds in [0, min(maxSeconds, baseSeconds · 2^(n−1))].
 * Spreading the wait over the whole range keeps a fleet of retries from hitting a recovering receiver in lockstep.
 */
export function backoffSeconds(retry: number, policy: Pick<RetryPolicy, 'baseSeconds' | 'maxSeconds'>, random: () => number = Math.random): number {
  if (!(retry >= 1)) throw new RangeError(`retry must be >= 1, got ${retry}`);
  const ceiling = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** (retry - 1));
  return Math.min(ceiling, Math.floor(random() * (ceiling + 1)));
}

/**
 * The step after attempt number `attempts` (1 for the first) came back with `result`. A retry waits the jittered
 * backoff or the receiver's Retry-After, whichever is longer, capped at what a queue can delay.
 */
export function nextStep(result: AttemptResult, attempts: number, policy: RetryPolicy, nowMs: number, random: () => number = Math.random): NextStep {
  if ('status' in result && result.status >= 200 && result.status < 300) return { action: 'delivered' };
  if ('status' in result && !isRetryableStatus(result.status)) return { action: 'dead', reason: 'permanent' };
  if (attempts >= policy.maxAttempts) return { action: 'dead', reason: 'exhausted' };
  const asked = 'status' in result ? retryAfterSeconds(result.retryAfter, nowMs) : null;
  const delaySeconds = Math.min(MAX_DELAY_SECONDS, Math.max(backoffSeconds(attempts, policy, random), asked ?? 0));
  return { action: 'retry', delaySeconds };
}
