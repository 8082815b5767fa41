// The pure parts of the status page: how a range becomes bars, how numbers read, where the collapse line sits.
import { describe, expect, it } from 'vitest';
import { collapseLine, labelOrder } from '../../src/routes/status/chart';
import { duration, percent, redactUrls, topLabel } from '../../src/format';
import { bucketSeconds, MAX_BARS, parseRange, RANGES, spanOf } from '../../src/routes/status/range';

describe('bars of a range', () => {
  it('keeps one bar per window while the range fits, merges into nice multiples beyond', () => {
    expect(bucketSeconds(RANGES['1h'], 60)).toBe(60);
    expect(bucketSeconds(RANGES['6h'], 60)).toBe(120);
    expect(bucketSeconds(RANGES['24h'], 60)).toBe(600);
    expect(bucketSeconds(RANGES['7d'], 60)).toBe(3_600);
    expect(bucketSeconds(RANGES['7d'], 45)).toBe(3_600); // a multiple of the window, too
    expect(bucketSeconds(RANGES['7d'], 7)).toBe(7 * Math.ceil(RANGES['7d'] / 7 / MAX_BARS)); // no nice multiple of 7 s
  });

  it('never draws more than MAX_BARS bars, and every bucket is whole windows', () => {
    for (const range of Object.values(RANGES))
      for (const window of [1, 7, 30, 45, 60, 300, 3_600]) {
        const b = bucketSeconds(range, window);
        expect(b % window).toBe(0);
        expect(Math.ceil(range / b)).toBeLessThanOrEqual(MAX_BARS);
      }
  });

  it('ends the span with the bucket that is still filling', () => {
    const span = spanOf('m', '1', '1h', 60, 1_000_030);
    expect(span).toEqual({ model: 'm', version: '1', from: 996_480, to: 1_000_080, bucket: 60 });
  });

  it('accepts only the listed ranges', () => {
    expect(parseRange(undefined)).toBe('1h');
    expect(parseRange('7d')).toBe('7d');
    expect(parseRange('toString')).toBeNull();
    expect(parseRange('2w')).toBeNull();
  });
});

describe('reading numbers', () => {
  it('keeps a decimal near 0 % and 100 %, where rounding would hide the last answers', () => {
    expect(percent(0.4449)).toBe('44%');
    expect(percent(0.9951)).toBe('99.5%');
    expect(percent(1)).toBe('100%');
    expect(percent(0.004)).toBe('0.4%');
    expect(percent(0)).toBe('0%');
  });

  it('says durations in the largest two units', () => {
    expect(duration(45)).toBe('45 s');
    expect(duration(23 * 60 + 5)).toBe('23 min');
    expect(duration(3 * 3_600 + 600)).toBe('3 h 10 min');
    expect(duration(2 * 86_400 + 4 * 3_600)).toBe('2 d 4 h');
  });

  it('blanks URLs in error texts (a Slack webhook URL is its secret)', () => {
    expect(redactUrls('fetch failed: https://hooks.slack.com/services/T0/B0/xyz (timeout)')).toBe('fetch failed: [url] (timeout)');
  });

  it('finds the top label of a count table', () => {
    expect(topLabel({ a: 1, b: 3 })).toEqual({ total: 4, top: { label: 'b', share: 0.75 } });
    expect(topLabel({})).toEqual({ total: 0, top: null });
  });
});

describe('collapse line', () => {
  it('is the share the detector is tuned to call a collapse for the top label', () => {
    const evaluation = {
      statistics: { topLabel: 'Gentoo', perLabel: [{ label: 'Adelie', referenceShare: 0.44 }, { label: 'Gentoo', referenceShare: 0.36 }] },
    };
    // Half of the answers turned into Gentoo: 0.36 + 0.5 · (1 − 0.36) = 68 %.
    const line = collapseLine(evaluation);
    expect(line).toMatchObject({ label: 'Gentoo', fromDetector: true });
    expect(line.share).toBeCloseTo(0.68, 12);
  });

  it('falls back to a 90 % default without an evaluation, and says so', () => {
    expect(collapseLine(null)).toEqual({ share: 0.9, label: null, fromDetector: false });
    expect(collapseLine({ verdict: 'healthy' })).toEqual({ share: 0.9, label: null, fromDetector: false });
  });
});

describe('label order', () => {
  it('keeps metadata order (the colours) and appends labels only seen in data', () => {
    const buckets = [{ start: 0, windows: 1, closed: 1, n: 3, labels: { z: 1, b: 1, a: 1 }, verdict: null, flagged: {} }];
    expect(labelOrder(['b', 'a'], buckets)).toEqual(['b', 'a', 'z']);
  });
});
