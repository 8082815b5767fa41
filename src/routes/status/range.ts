// The time range a status page shows and how windows merge into bars, so a week of one-minute windows stays light.
import type { Span } from '../../db/status';

export const RANGES = { '15m': 900, '1h': 3_600, '6h': 6 * 3_600, '24h': 24 * 3_600, '7d': 7 * 86_400 } as const;
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

/** A chart that fits its data never shows less than this (or the whole range, when that is shorter). */
export const MIN_FIT_SECONDS = 900;
/** ... nor fewer than this many windows. */
export const MIN_FIT_WINDOWS = 20;

/**
 * The seconds a chart spans: the range, or less when the data starts later (`earliest`, the first window's start in
 * the range), so a model that has data for ten minutes is not one sliver at the right edge of a week.
 */
export function fittedSeconds(range: RangeName, windowSeconds: number, nowSeconds: number, earliest?: number): number {
  const full = RANGES[range];
  if (earliest === undefined) return full;
  const held = nowSeconds - earliest + windowSeconds;
  return Math.min(full, Math.max(held, MIN_FIT_SECONDS, MIN_FIT_WINDOWS * windowSeconds));
}

/**
 * The span ending with the bucket that holds `nowSeconds` (the one still filling), `range` long, or as long as the
 * data held in it when `earliest` is given (see fittedSeconds).
 */
export function spanOf(model: string, version: string, range: RangeName, windowSeconds: number, nowSeconds: number, earliest?: number): Span {
  const seconds = fittedSeconds(range, windowSeconds, nowSeconds, earliest);
  const bucket = bucketSeconds(seconds, windowSeconds);
  const to = (Math.floor(nowSeconds / bucket) + 1) * bucket;
  let from = to - Math.ceil(seconds / bucket) * bucket;
  // Rounding to whole buckets must not cut off the first window that holds data.
  if (earliest !== undefined && earliest < from) from = Math.max(Math.floor(earliest / bucket) * bucket, to - Math.ceil(RANGES[range] / bucket) * bucket);
  return { model, version, from, to, bucket };
}

export const slotsOf = (span: Span): number => (span.to - span.from) / span.bucket;
