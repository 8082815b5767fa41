// The delivery retry policy: which answers are retried, full-jitter backoff, Retry-After, giving up.
import { describe, expect, it } from 'vitest';
import { backoffSeconds, isRetryableStatus, MAX_DELAY_SECONDS, nextStep, retryAfterSeconds } from '../../src/incidents/retry';

const NOW = Date.parse('2026-05-28T12:00:00Z');
const policy = { maxAttempts: 5, baseSeconds: 10, maxSeconds: 300 };
const lowest = () => 0;
const highest = () => 0.999999;

describe('isRetryableStatus', () => {
  it.each([408, 425, 429, 500, 502, 503, 504, 599])('%i: try again later', (s) => expect(isRetryableStatus(s)).toBe(true));
  it.each([300, 301, 302, 400, 401, 403, 404, 405, 409, 410, 413, 422])('%i: permanent', (s) => expect(isRetryableStatus(s)).toBe(false));
});

describe('retryAfterSeconds', () => {
  it('reads delta-seconds', () => {
    expect(retryAfterSeconds('120', NOW)).toBe(120);
    expect(retryAfterSeconds(' 0 ', NOW)).toBe(0);
  });
  it('reads an HTTP date relative to now, rounding up; a past date is 0', () => {
    expect(retryAfterSeconds('Thu, 28 May 2026 12:00:30 GMT', NOW)).toBe(30);
    expect(retryAfterSeconds('Thu, 28 May 2026 12:00:30 GMT', NOW + 29_500)).toBe(1);
    expect(retryAfterSeconds('Thu, 28 May 2026 11:00:00 GMT', NOW)).toBe(0);
  });
  it('is null when absent or unreadable', () => {
    for (const h of [null, undefined, '', '  ', 'soon', '-5', '1.5']) expect(retryAfterSeconds(h, NOW), String(h)).toBeNull();
  });
});

describe('backoffSeconds (full jitter)', () => {
  it('ranges over [0, base · 2^(n−1)], capped at max', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => backoffSeconds(n, policy, highest))).toEqual([10, 20, 40, 80, 160, 300, 300]);
    expect([1, 2, 3, 10].map((n) => backoffSeconds(n, policy, lowest))).toEqual([0, 0, 0, 0]);
  });
  it('is a whole number of seconds, uniform over the range', () => {
    const samples = Array.from({ length: 20_000 }, () => backoffSeconds(3, policy));
    expect(samples.every((s) => Number.isInteger(s) && s >= 0 && s <= 40)).toBe(true);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    // Uniform on {0..40}: mean 20, standard error of the mean ≈ 11.8 / √20000 ≈ 0.08.
    expect(mean).toBeGreaterThan(19.5);
    expect(mean).toBeLessThan(20.5);
    expect(new Set(samples).size).toBe(41);
  });
  it('is 0 with a zero base (tests), and refuses retry numbers below 1', () => {
    expect(backoffSeconds(7, { baseSeconds: 0, maxSeconds: 300 }, highest)).toBe(0);
    expect(() => backoffSeconds(0, policy)).toThrow(RangeError);
  });
});

describe('nextStep', () => {
  it('2xx is delivered (PagerDuty answers 202)', () => {
    for (const status of [200, 201, 202, 204]) expect(nextStep({ status }, 1, policy, NOW)).toEqual({ action: 'delivered' });
  });
  it('a permanent refusal is dead at once, whatever the attempts left', () => {
    for (const status of [301, 400, 401, 403, 404, 410, 422]) expect(nextStep({ status }, 1, policy, NOW)).toEqual({ action: 'dead', reason: 'permanent' });
  });
  it('429, 5xx, timeouts and network errors are retried with the backoff of that attempt', () => {
    expect(nextStep({ status: 503 }, 1, policy, NOW, highest)).toEqual({ action: 'retry', delaySeconds: 10 });
    expect(nextStep({ status: 429 }, 2, policy, NOW, highest)).toEqual({ action: 'retry', delaySeconds: 20 });
    expect(nextStep({ status: 408 }, 3, policy, NOW, highest)).toEqual({ action: 'retry', delaySeconds: 40 });
    expect(nextStep({ error: 'no answer within 10000 ms' }, 4, policy, NOW, highest)).toEqual({ action: 'retry', delaySeconds: 80 });
  });
  it('gives up after maxAttempts', () => {
    expect(nextStep({ status: 503 }, 5, policy, NOW)).toEqual({ action: 'dead', reason: 'exhausted' });
    expect(nextStep({ error: 'network error' }, 6, policy, NOW)).toEqual({ action: 'dead', reason: 'exhausted' });
  });
  it('waits at least what Retry-After asks (seconds or date), at most what a queue can delay', () => {
    expect(nextStep({ status: 429, retryAfter: '120' }, 1, policy, NOW, highest)).toEqual({ action: 'retry', delaySeconds: 120 });
    expect(nextStep({ status: 503, retryAfter: 'Thu, 28 May 2026 12:01:00 GMT' }, 1, policy, NOW, lowest)).toEqual({ action: 'retry', delaySeconds: 60 });
    // A shorter Retry-After does not cut the backoff short.
    expect(nextStep({ status: 503, retryAfter: '1' }, 3, policy, NOW, highest)).toEqual({ action: 'retry', delaySeconds: 40 });
    expect(nextStep({ status: 503, retryAfter: '999999' }, 1, policy, NOW)).toEqual({ action: 'retry', delaySeconds: MAX_DELAY_SECONDS });
  });
});
