// The time range a status page shows and how windows merge into bars, so a week of one-minute windows stays light.
import type { Span } from '../../db/status';

export const RANGES = { '1h': 3_600, '6h': 6 * 3_600, '24h': 24 * 3_600, '7d': 7 * 86_400 } as const;
export type RangeName = keyof typeof RANGES;
export const DEFAULT_RANGE: RangeName = '1h';

/** Upper bound of bars per chart: enough to see a collapse start, few enough for a phone and a fast render. */
export const MAX_BARS = 180;

/** Bucket lengths a person reads without arithmetic (1, 2, 3, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1 d). */
const NICE_BUCKETS = [60, 120, 180, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400];

export function parseRange(value: string | undefined): RangeName | null {
  if (value === undefined || value === '') return DEFAULT_RANGE;
  return Object.hasOwn(RANGES, value) ? (value as RangeName) : null;
}

/**
 * Seconds per bar: the window length itself when the range fits in MAX_BARS windows, else the smallest nice multiple
 * of the window length that does. A bucket is always a whole number of windows, so no window is split between bars.
 */
export function bucketSeconds(rangeSeconds: number, windowSeconds: number): number {
  if (rangeSeconds / windowSeconds <= MAX_BARS) return windowSeconds;
  const nice = NICE_BUCKETS.find((b) => b % windowSeconds === 0 && rangeSeconds / b <= MAX_BARS);
  return nice ?? windowSeconds * Math.ceil(rangeSeconds / windowSeconds / MAX_BARS);
}

/** The span ending with the bucket that holds `nowSeconds` (the one still filling), `range` long. */
export function spanOf(model: string, version: string, range: RangeName, windowSeconds: number, nowSeconds: number): Span {
  const bucket = bucketSeconds(RANGES[range], windowSeconds);
  const to = (Math.floor(nowSeconds / bucket) + 1) * bucket;
  return { model, version, from: to - Math.ceil(RANGES[range] / bucket) * bucket, to, bucket };
}

export const slotsOf = (span: Span): number => (span.to - span.from) / span.bucket;
