// The pure parts of the status page: how a range becomes bars, how numbers read, where the collapse line sits.
import { describe, expect, it } from 'vitest';
import { axisTicks, collapseLine, isFlagged, labelOrder } from '../../src/routes/status/chart';
import { clock, duration, percent, redactUrls, topLabel } from '../../src/format';
import { bucketSeconds, fittedSeconds, MAX_BARS, parseRange, RANGES, spanOf } from '../../src/routes/status/range';
import { barVerdict } from '../../src/db/status';
import { flaggedRuns } from '../../src/routes/status/model-details';
import { prefersHtml } from '../../src/routes/status/error-pages';
import { retrainShown, timelineOf } from '../../src/routes/status/incident-page';
import { leadLabel } from '../../src/routes/status/incidents';
import { Diagnoses, numbersOf, Remedies } from '../../src/routes/status/findings';
import { collapsedWindow, januaryWindow, partialWindow, secondDayWindow } from './alerts.fixtures';
import { bodyNow, describeChannels, pagedChannels } from '../../src/incidents/channels';
import { loadConfig } from '../../src/config';
import { advanceIncident, type Incident } from '../../src/monitor/incident';

describe("an incident's headline label", () => {
  const labels = ['drizzle', 'fog', 'rain', 'snow', 'sun'];
  const before = { drizzle: 5, fog: 17, rain: 33, snow: 7, sun: 38 };
  const flagged = { drizzle: 18, fog: 18, rain: 36, snow: 22, sun: 6 };
  it('names the label that fell most in a partial collapse, where the top label hardly moved', () => {
    expect(leadLabel('partial_collapse', labels, before, flagged)).toEqual({ label: 'sun', before: 0.38, during: 0.06, now: null, fell: true });
  });
  it('names the top label of a collapse, and of a partial collapse without a history to fall from', () => {
    expect(leadLabel('collapsed', labels, before, { rain: 100 })).toEqual({ label: 'rain', before: 0.33, during: 1, now: null, fell: false });
    expect(leadLabel('partial_collapse', labels, {}, flagged)).toEqual({ label: 'rain', before: null, during: 0.36, now: null, fell: false });
    expect(leadLabel('collapsed', labels, before, {})).toBeNull();
  });
  it("gives the lead label's share in the clearing streak as now, chosen by the flagged windows alone", () => {
    // Back to normal: sun is still the label that fell (38% → 6%), now at 37% (37 of 100).
    const clearing = { drizzle: 5, fog: 17, rain: 34, snow: 7, sun: 37 };
    expect(leadLabel('partial_collapse', labels, before, flagged, clearing)).toEqual({ label: 'sun', before: 0.38, during: 0.06, now: 0.37, fell: true });
    // A label the streak has not answered at all reads 0, and a streak without predictions reads nothing.
    expect(leadLabel('collapsed', labels, before, { rain: 100 }, { sun: 10 })?.now).toBe(0);
    expect(leadLabel('collapsed', labels, before, { rain: 100 }, {})?.now).toBeNull();
  });
});

describe('the x axis', () => {
  const from = 1_000_020; // a whole minute: 1970-01-12 13:47:00 UTC
  it('reads to the second when a tick falls between minutes, so no two ticks read alike', () => {
    // Twenty 10-s bars, as around a short incident: ticks 50 s apart.
    const ticks = axisTicks({ model: 'm', version: '1', from, to: from + 200, bucket: 10 });
    expect(ticks.map((t) => t.label)).toEqual(['13:47:00', '13:47:50', '13:48:40', '13:49:30']);
    expect(ticks.map((t) => t.minor)).toEqual([false, true, false, true]);
  });

  it('stays at minutes when every tick is on one, and dates a span of a day or more', () => {
    expect(axisTicks({ model: 'm', version: '1', from, to: from + 3_600, bucket: 60 }).map((t) => t.label)).toEqual(['13:47', '14:02', '14:17', '14:32']);
    expect(axisTicks({ model: 'm', version: '1', from, to: from + 7 * 86_400, bucket: 3_600 })[0]!.label).toBe('Jan 12 13:47');
  });
});

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
    expect(parseRange('15m')).toBe('15m');
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
    expect(line).toMatchObject({ label: 'Gentoo', fromDetector: true, forIncident: false });
    expect(line.share).toBeCloseTo(0.68, 12);
    // An open incident about Adelie moves the line to Adelie's: 0.44 + 0.5 · 0.56 = 72 %.
    const adelie = collapseLine(evaluation, 'Adelie');
    expect(adelie).toMatchObject({ label: 'Adelie', fromDetector: true, forIncident: true });
    expect(adelie.share).toBeCloseTo(0.72, 12);
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

describe('bar verdicts (merged windows)', () => {
  it('takes the worst judged verdict among windows with traffic; no_traffic only for a bar without any', () => {
    // severity index: 0 healthy, 1 drift, 2 insufficient_data, 3 partial_collapse, 4 collapsed; -1 = no judged window with traffic
    expect(barVerdict(0, 330, 1)).toBe('healthy');
    expect(barVerdict(1, 330, 1)).toBe('drift');
    expect(barVerdict(4, 330, 5)).toBe('collapsed');
    expect(barVerdict(-1, 330, 1)).toBe('receiving');
    expect(barVerdict(-1, 0, 1)).toBe('no_traffic');
    expect(barVerdict(-1, 0, 0)).toBeNull();
  });
});

describe('fitting a range to its data', () => {
  const now = 1_000_000;
  it('keeps the whole range without data, and shrinks to the data (at least 15 min or 20 windows) with it', () => {
    expect(fittedSeconds('7d', 60, now)).toBe(RANGES['7d']);
    expect(fittedSeconds('7d', 60, now, now - 600)).toBe(1_200); // 20 windows
    expect(fittedSeconds('7d', 60, now, now - 7_200)).toBe(7_260);
    expect(fittedSeconds('7d', 120, now, now - 600)).toBe(2_400);
    expect(fittedSeconds('1h', 60, now, now - 30 * 86_400)).toBe(3_600);
  });

  it('starts the span at or before the first window', () => {
    const earliest = now - 5 * 3_600 - 17;
    const span = spanOf('m', '1', '7d', 60, now, earliest);
    expect(span.from).toBeLessThanOrEqual(earliest);
    expect(earliest - span.from).toBeLessThan(span.bucket);
    expect((span.to - span.from) / span.bucket).toBeLessThanOrEqual(MAX_BARS + 1);
  });
});

describe('runs of flagged windows', () => {
  const w = (start: number, verdict = 'collapsed', length = 10) => ({ start, length, n: 100, verdict, reason: `r${start}`, diagnoses: null });
  it('groups windows that follow each other, newest run first, with the worst verdict and the latest reason', () => {
    const windows = [...Array.from({ length: 13 }, (_, k) => w(1_000 + 10 * k, k === 0 ? 'partial_collapse' : 'collapsed')), w(2_000, 'insufficient_data')];
    const runs = flaggedRuns(windows.reverse());
    expect(runs.map((r) => [r.from, r.to, r.windows, r.verdict])).toEqual([
      [2_000, 2_010, 1, 'insufficient_data'],
      [1_000, 1_130, 13, 'collapsed'],
    ]);
    expect(runs[1].verdicts).toEqual([
      ['collapsed', 12],
      ['partial_collapse', 1],
    ]);
    expect(runs[1].reason).toBe('r1120');
    expect(runs[1].n).toBe(1_300);
  });

  it('says times to the second for windows shorter than a minute', () => {
    expect(clock(1_700_000_010, false, true)).toBe('22:13:30');
    expect(clock(1_700_000_010)).toBe('22:13');
  });
});

describe('who is paged', () => {
  it('names the configured channels, and says loudly when there are none', () => {
    const none = loadConfig({});
    expect(pagedChannels(none)).toEqual([]);
    expect(describeChannels(none)).toMatch(/^alerts: NO alert channel configured .* incidents page nobody; no retraining webhook$/);
    const some = loadConfig({ PAGERDUTY_ROUTING_KEY: 'k', SLACK_WEBHOOK_URL: 'https://hooks.slack.test/x' });
    expect(describeChannels(some)).toBe('alerts: incidents page PagerDuty, Slack; no retraining webhook');
  });
});

describe('incident timeline', () => {
  const incident = {
    id: 'inc_1',
    model: 'm',
    version: '1',
    kind: 'collapsed',
    status: 'resolved',
    firstWindowStart: 1_000,
    lastWindowStart: 1_020,
    flaggedWindows: 3,
    healthyStreak: 3,
    openedAt: 1_080,
    updatedAt: 1_200,
    acknowledgedAt: 1_100,
    resolvedAt: 1_200,
    resolvedBy: 'monitor',
    state: { resolvedAt: 1_050 } as Incident,
  } as const;
  const delivery = { id: 'msg_1', incidentId: 'inc_1', channel: 'pagerduty', event: 'incident.opened', status: 'delivered', attempts: 2, lastStatusCode: 202, lastError: null, createdAt: 1_080, nextAttemptAt: null, enqueuedAt: 1_080, deliveredAt: 1_140 } as const;
  it('orders windows, escalations, every attempt, acknowledge and resolve', () => {
    const timeline = timelineOf({
      incident,
      windowSeconds: 10,
      verdicts: [
        { start: 1_000, n: 50, verdict: 'partial_collapse', dominantLabel: null },
        { start: 1_010, n: 50, verdict: 'collapsed', dominantLabel: null },
        { start: 1_020, n: 50, verdict: 'collapsed', dominantLabel: null },
      ],
      deliveries: [delivery],
      attempts: [
        { id: 1, deliveryId: 'msg_1', attempt: 1, at: 1_090, outcome: 'retrying', statusCode: 503, error: 'HTTP 503: https://x.test/y' },
        { id: 2, deliveryId: 'msg_1', attempt: 2, at: 1_140, outcome: 'delivered', statusCode: 202, error: null },
      ],
    });
    expect(timeline.map((e) => `${e.at} ${e.kind}`)).toEqual([
      '1000 window',
      '1010 escalated',
      '1020 window',
      '1080 opened',
      '1080 delivery',
      '1090 attempt',
      '1100 acknowledged',
      '1140 attempt',
      '1200 resolved',
    ]);
    expect(timeline[1].text).toBe('Escalated to collapsed in window 00:16:50–00:17:00 UTC');
    // Acknowledged in the second its PagerDuty acknowledge was queued: the acknowledgement first.
    const acked = timelineOf({ incident, windowSeconds: 10, verdicts: [], deliveries: [{ ...delivery, id: 'msg_3', event: 'incident.acknowledged', createdAt: 1_100, attempts: 0 }], attempts: [] });
    expect(acked.filter((e) => e.at === 1_100).map((e) => e.kind)).toEqual(['acknowledged', 'delivery']);
    expect(timeline[5].text).toBe('PagerDuty · incident.opened: attempt 1: HTTP 503 (HTTP 503: [url])');
    expect(timeline[8].text).toMatch(/^Resolved by the monitor after 3 healthy windows in a row \(healthy again from window 00:17:10–00:17:20 UTC\)$/);
  });
  it('names the label of a collapse, and an escalation onto a label the answers had not collapsed onto', () => {
    const verdicts = [
      { start: 1_000, n: 50, verdict: 'partial_collapse', dominantLabel: null },
      { start: 1_010, n: 50, verdict: 'collapsed', dominantLabel: 'rain' },
      { start: 1_020, n: 50, verdict: 'collapsed', dominantLabel: 'rain' },
      { start: 1_030, n: 50, verdict: 'healthy', dominantLabel: null },
      { start: 1_040, n: 50, verdict: 'collapsed', dominantLabel: 'sun' },
      { start: 1_050, n: 50, verdict: 'collapsed', dominantLabel: 'rain' },
      { start: 1_060, n: 50, verdict: 'collapsed', dominantLabel: '<b>fog</b>' },
    ];
    const escalating = { ...incident, lastWindowStart: 1_060, resolvedAt: null, resolvedBy: null, acknowledgedAt: null } as const;
    const timeline = timelineOf({ incident: escalating, windowSeconds: 10, verdicts, deliveries: [], attempts: [] });
    // Severity, then each new label once (rain again is no news); the label as it is: the page's JSX escapes it.
    expect(timeline.filter((e) => e.kind === 'escalated').map((e) => e.text)).toEqual([
      'Escalated to collapsed onto rain in window 00:16:50–00:17:00 UTC',
      'Escalated: collapsed onto sun in window 00:17:20–00:17:30 UTC',
      'Escalated: collapsed onto <b>fog</b> in window 00:17:40–00:17:50 UTC',
    ]);
    // An incident that opened on a collapse says onto what; one onto the same label later is no escalation.
    const onRain = timelineOf({ incident: { ...escalating, firstWindowStart: 1_010, lastWindowStart: 1_020 }, windowSeconds: 10, verdicts: verdicts.slice(1, 3), deliveries: [], attempts: [] });
    expect(onRain.filter((e) => e.kind === 'opened' || e.at === 1_010).map((e) => e.text)).toEqual([
      'First flagged window 00:16:50–00:17:00 UTC: collapsed onto rain',
      'labelwatch opened the incident (collapsed onto rain)',
    ]);
    expect(onRain.some((e) => e.kind === 'escalated')).toBe(false);
  });
  it('tells a change recorded without a page from one that paged, and pages a recorded change later (escalations)', () => {
    const verdicts = [
      { start: 1_000, n: 50, verdict: 'collapsed', dominantLabel: 'sun' },
      { start: 1_010, n: 50, verdict: 'collapsed', dominantLabel: 'fog' },
      { start: 1_020, n: 50, verdict: 'collapsed', dominantLabel: 'fog' },
      { start: 1_030, n: 50, verdict: 'collapsed', dominantLabel: 'rain' },
    ];
    const escalations = [
      { windowStart: 1_010, paged: false },
      { windowStart: 1_020, paged: true },
      { windowStart: 1_030, paged: true },
    ];
    const open = { ...incident, lastWindowStart: 1_030, resolvedAt: null, resolvedBy: null, acknowledgedAt: null, state: { escalations } as unknown as Incident } as const;
    const changes = (i: typeof open) => timelineOf({ incident: i, windowSeconds: 10, verdicts, deliveries: [], attempts: [] }).filter((e) => e.at > 1_000 && e.at < 1_080 && !e.text.startsWith('Last flagged'));
    expect(changes(open).map((e) => `${e.kind} ${e.text}`)).toEqual([
      'window Recorded without a page: collapsed onto fog in window 00:16:50–00:17:00 UTC (explained, like the window before it, by inputs that moved: input_shift)',
      'escalated Escalated: collapsed onto fog in window 00:17:00–00:17:10 UTC, paging the change recorded without a page in window 00:16:50–00:17:00 UTC (no longer explained by moved inputs)',
      'escalated Escalated: collapsed onto rain in window 00:17:10–00:17:20 UTC',
    ]);
    // An incident stored before escalations were kept: every change paged, as it did before input_shift was told apart.
    expect(changes({ ...open, state: {} as Incident }).map((e) => `${e.kind} ${e.at}`)).toEqual(['escalated 1010', 'escalated 1030']);
  });
  it('reads the changes the state machine recorded, where a rule of its own would see others', () => {
    // A partial collapse, then a window flagged as a collapse onto sun by nothing but the package's known model
    // defect: advanceIncident counts it as healthy (no change, no page). By the verdicts alone it escalates to collapsed.
    const opened = advanceIncident(null, { ...partialWindow(1_000), windowStart: 1_000 }, { newId: () => 'inc_1' }).incident!;
    const defectOnly = { ...collapsedWindow(1_010), evaluation: { ...collapsedWindow(1_010).evaluation, dominantLabel: 'sun', knownDefect: true } };
    const t = advanceIncident(opened, defectOnly, { newId: () => 'unused' });
    expect(t.events).toEqual([]);
    expect(t.incident!.escalations).toEqual([]);
    const verdicts = [
      { start: 1_000, n: 50, verdict: 'partial_collapse', dominantLabel: null },
      { start: 1_010, n: 50, verdict: 'collapsed', dominantLabel: 'sun' },
    ];
    const row = { ...incident, kind: 'partial_collapse', lastWindowStart: 1_010, resolvedAt: null, resolvedBy: null, acknowledgedAt: null } as const;
    const timeline = (state: Incident) => timelineOf({ incident: { ...row, state }, windowSeconds: 10, verdicts, deliveries: [], attempts: [] });
    expect(timeline(t.incident!).filter((e) => e.kind === 'escalated')).toEqual([]);
    // Stored before escalations were kept, the same incident is read by the verdicts, as it was before.
    const { escalations: _, ...stored } = t.incident!;
    expect(timeline(stored).filter((e) => e.kind === 'escalated').map((e) => e.at)).toEqual([1_010]);
  });
  it('says what the first flagged window and each escalation were judged against', () => {
    const judged = secondDayWindow();
    const verdicts = [
      { start: 1_000, n: 300, verdict: 'partial_collapse', dominantLabel: null, baseline: { source: 'training_labels', predictions: 100, seasonality: 'weekly', phase: null } },
      { start: 1_010, n: 300, verdict: 'collapsed', dominantLabel: 'rain', baseline: judged.evaluation.baseline },
    ] as const;
    const open = { ...incident, lastWindowStart: 1_010, resolvedAt: null, resolvedBy: null, acknowledgedAt: null, state: { escalations: [{ windowStart: 1_010, paged: true }] } as unknown as Incident } as const;
    const texts = timelineOf({ incident: open, windowSeconds: 10, verdicts, deliveries: [], attempts: [] }).map((e) => e.text);
    expect(texts).toContain('First flagged window 00:16:40–00:16:50 UTC: partial collapse, against the training labels (the package has no held-out predictions)');
    expect(texts).toContain(
      'Escalated: collapsed onto rain in window 00:16:50–00:17:00 UTC, against its own recent healthy history, which fit these answers better than 05:00–08:00 UTC of the day before, 876 predictions, standing in until earlier weeks hold enough at this hour of the week',
    );
  });
  it('shows a rebaseline when it was asked for and when the cron applied it', () => {
    const resolvedByHand = { ...incident, resolvedBy: 'admin' } as const;
    const base = { incident: resolvedByHand, windowSeconds: 10, verdicts: [], deliveries: [], attempts: [] };
    const none = { adoptedFrom: null, adoptedTo: null, adoptedPredictions: null };
    const asked = timelineOf({ ...base, rebaseline: { requestedAt: 1_200, appliedAt: null, ...none } });
    expect(asked.map((e) => `${e.at} ${e.kind}`).slice(-2)).toEqual(['1200 resolved', '1200 rebaseline']);
    expect(asked.at(-1)!.text).toMatch(/^Rebaseline asked/);
    const applied = timelineOf({ ...base, rebaseline: { requestedAt: 1_200, appliedAt: 1_260, adoptedFrom: 1_000, adoptedTo: 1_020, adoptedPredictions: 150 } });
    expect(applied.at(-1)).toMatchObject({ at: 1_260, kind: 'rebaseline' });
    expect(applied.at(-1)!.text).toBe(
      'Rebaseline applied: later windows are judged against this traffic (150 predictions, windows 00:16:40–00:17:10 UTC), not the package’s reference',
    );
    // Applied with nothing to adopt (no traffic in reach): the page does not claim it adopted any.
    // The resolve and its rebaseline come before the notifications the resolve queued in the same second.
    const notified = timelineOf({ ...base, deliveries: [{ ...delivery, id: 'msg_2', event: 'incident.resolved', createdAt: 1_200, attempts: 0 }], rebaseline: { requestedAt: 1_200, appliedAt: null, ...none } });
    expect(notified.map((e) => `${e.at} ${e.kind}`).slice(-3)).toEqual(['1200 resolved', '1200 rebaseline', '1200 delivery']);
    const empty = timelineOf({ ...base, rebaseline: { requestedAt: 1_200, appliedAt: 1_260, ...none } });
    expect(empty.at(-1)!.text).toBe('Rebaseline applied with no traffic to adopt: only the evidence restarted');
    expect(timelineOf(base).some((e) => e.kind === 'rebaseline')).toBe(false);
  });
});

describe('idle windows', () => {
  it('are a finding only for a model configured to expect traffic', () => {
    expect(isFlagged('no_traffic', false)).toBe(false);
    expect(isFlagged('no_traffic', true)).toBe(true);
    expect(isFlagged('collapsed', false)).toBe(true);
    expect(isFlagged('receiving', true)).toBe(false);
    expect(isFlagged('healthy', true)).toBe(false);
  });
});

describe('the retraining request as the incident page shows it', () => {
  it('drops the status URL (status_url, or statusUrl in a delivery stored before the rename) and blanks other URLs', () => {
    const data = { model: 'm', incident_id: 'inc_1', note: 'see https://train.example.test/x' };
    for (const link of [{ status_url: 'https://lw.example/incidents/inc_1' }, { statusUrl: 'https://lw.example/incidents/inc_1' }]) {
      const shown = retrainShown({ type: 'retrain.requested', timestamp: 't', data: { ...data, ...link } })!;
      expect(shown).toContain('"incident_id": "inc_1"');
      expect(shown).not.toMatch(/status_?url|lw\.example|train\.example/i);
    }
    expect(retrainShown(null)).toBeNull();
  });
  it('shows a request stored by an earlier version as it is sent: with the fields added since', () => {
    // An input_shift feature stored before recent_mean, recent_shift and from were kept.
    const feature = { name: 'temp_max', expected_mean: 0, expected_std: 1, observed_mean: -1.1, observed_std: 0.45, shift: -1.1, std_ratio: 0.45, standard_error: 0.09 };
    const stored = {
      type: 'retrain.requested',
      timestamp: 't',
      data: { incident_id: 'inc_1', status_url: 'https://lw.example/incidents/inc_1', diagnoses: [{ kind: 'input_shift', evidence: { features: [feature] } }] },
    };
    const shown = JSON.parse(retrainShown(stored)!);
    expect(shown.data.diagnoses[0].evidence.features[0]).toEqual({ ...feature, recent_mean: null, recent_shift: null, from: 'training' });
    expect(shown.data.status_url).toBeUndefined();
    // What the page shows is what the retraining webhook is sent (less the status URL).
    const { status_url: _link, ...sentData } = (bodyNow({ channel: 'retrain', payload: stored }) as typeof stored).data;
    expect(shown.data).toEqual(sentData);
  });
});

describe('the numbers of a finding', () => {
  it('puts field names in words but shows label and feature names as spelled', () => {
    // A class-imbalance diagnosis's evidence and a class-weight remedy, with snake_case and camelCase labels.
    const evidence = {
      trainingCounts: { heavy_rain: 40, lightDrizzle: 3 },
      imbalanceRatio: 13.3,
      probes: { accuracy: 0.5, predictedCounts: { heavy_rain: 12, lightDrizzle: 0 } },
      largest: { name: 'body_mass_g', magnitude: 4200 },
    };
    const lines = Object.fromEntries(numbersOf(evidence, []));
    expect(lines['training counts: heavy_rain']).toBe('40');
    expect(lines['training counts: lightDrizzle']).toBe('3');
    expect(lines['imbalance ratio']).toBe('13.3');
    expect(lines['probes: predicted counts']).toBe('heavy_rain 12, lightDrizzle 0');
    expect(lines['largest: name']).toBe('body_mass_g');
    const weights = Object.fromEntries(numbersOf({ kind: 'class_weight', weights: { heavy_rain: 0.5375, lightDrizzle: 7.1667 } }, ['kind']));
    expect(Object.keys(weights)).toEqual(['weights: heavy_rain', 'weights: lightDrizzle']);
  });
});

describe('an input shift on the status page', () => {
  it('shows its title, sentence and numbers: the moved features in model and raw units, the probes, the labels', async () => {
    const { diagnoses, remedies } = januaryWindow();
    const diagnosisHtml = String(await Diagnoses({ diagnoses }));
    expect(diagnosisHtml).toContain('<strong>Inputs shifted; the model followed them</strong>');
    expect(diagnosisHtml).toContain('85% confidence');
    expect(diagnosisHtml).toContain('temp_max −1.11 training stds');
    // A named row's fields in words (a record of numbers keyed by labels keeps its keys as spelled: see above).
    expect(diagnosisHtml).toContain(
      '<dt>temp_max</dt><dd>expected mean 0, expected std 1, observed mean -1.11, observed std 0.454, shift -1.11, std ratio 0.454, standard error 0.0898, recent mean –, recent shift –, from training</dd>',
    );
    expect(diagnosisHtml).toContain('<dt>sun</dt><dd>share 0.0565, baseline share 0.38</dd>');
    expect(diagnosisHtml).toContain('<dt>held out accuracy</dt><dd>0.688</dd>');
    expect(diagnosisHtml).toContain('<dt>probes: accuracy</dt><dd>0.55</dd>');
    const remedyHtml = String(await Remedies({ remedies }));
    expect(remedyHtml).toContain('<strong>Compare like with like, or re-baseline</strong>');
    expect(remedyHtml).toContain('temp_max 8.229 ± 3.327 (training 16.37 ± 7.326)');
    expect(remedyHtml).toContain('<dt>temp_max</dt><dd>mean -1.11, std 0.454, shift -1.11, raw mean 8.23, std 3.33</dd>');
    expect(remedyHtml).toContain('<dt>seasonality</dt><dd>weekly</dd>');
  });
});

describe('prefersHtml: an error page for browsers, the JSON error for everyone else (Accept, RFC 9110 §12.5.1)', () => {
  // The navigation Accept headers of Chrome 131 and Firefox 133 (Safari sends Firefox's), and Java's URLConnection.
  const CHROME =
    'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
  const FIREFOX = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
  const JAVA = 'text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2';

  it("gives browsers the page: text/html at 1 over the catch-all's 0.8", () => {
    expect(prefersHtml(CHROME)).toBe(true);
    expect(prefersHtml(FIREFOX)).toBe(true);
    expect(prefersHtml(JAVA)).toBe(true); // text/html at 1 over .2 (a weight without its leading 0)
  });
  it("gives curl's catch-all, no header and an empty one the JSON", () => {
    expect(prefersHtml('*/*')).toBe(false);
    expect(prefersHtml(undefined)).toBe(false);
    expect(prefersHtml('')).toBe(false);
  });
  it('follows the weights: HTML only when text/html weighs strictly more than application/json', () => {
    expect(prefersHtml('application/json, text/html;q=0.1')).toBe(false);
    expect(prefersHtml('application/json;q=0.5, text/html')).toBe(true);
    expect(prefersHtml('application/json ; q=0.2 , TEXT/HTML ; Q=0.3')).toBe(true); // spaces and case do not matter
    expect(prefersHtml('text/html, application/json')).toBe(false); // a tie keeps the JSON
    expect(prefersHtml('text/html;q=0.5')).toBe(true); // application/json not acceptable at all
  });
  it('q=0 refuses, and the most specific range decides for a type', () => {
    expect(prefersHtml('text/html;q=0, */*')).toBe(false);
    expect(prefersHtml('text/html;q=0, application/json;q=0')).toBe(false);
    expect(prefersHtml('*/*;q=0.1, text/html;q=0.9')).toBe(true);
    expect(prefersHtml('text/*;q=0.3, */*;q=0.8, application/json;q=0.5')).toBe(false); // text/* over */* for text/html
    expect(prefersHtml('text/html;q=0.9, text/*;q=0.1, application/json;q=0.5')).toBe(true); // text/html over text/*
  });
  it('does not count application/xhtml+xml: the page is sent as text/html', () => {
    expect(prefersHtml('application/xhtml+xml, application/json;q=0.5')).toBe(false);
    expect(prefersHtml('text/html;q=0.4, application/xhtml+xml, application/json;q=0.5')).toBe(false);
  });
  it('ignores malformed weights (as if absent: q = 1) and malformed ranges, and never throws', () => {
    expect(prefersHtml('text/html;q=abc, application/json;q=0.5')).toBe(true);
    expect(prefersHtml('application/json;q=2, text/html;q=0.5')).toBe(false); // above 1: ignored, so json at 1
    expect(prefersHtml('application/json;q=-1, text/html;q=0.5')).toBe(false);
    expect(prefersHtml('application/json;q=1e-3, text/html;q=0.5')).toBe(false);
    expect(prefersHtml('application/json;q=, text/html;q=0.5')).toBe(false);
    expect(prefersHtml('application/json;q=0.1=0.9, text/html;q=0.5')).toBe(false);
    expect(prefersHtml('html, text, /, text/, /html, application/json;q=0.1')).toBe(false); // no range names text/html
    for (const garbage of [';', ',,,', ';q=0.5', 'text/html;;;q', 'text/html;q', 'text/html;="a,b";q=0.1', '\u0000/\u0000', 'x'.repeat(100_000)])
      expect(() => prefersHtml(garbage)).not.toThrow();
  });
});
