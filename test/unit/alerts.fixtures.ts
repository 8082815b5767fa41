// Notices built by the real monitor core (detector, diagnosis, remedies, incident state machine) on the real
// seattle-weather metadata, for the payload tests.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { join } from 'node:path';
import type { Config } from '../../src/config';
import { loadConfig } from '../../src/config';
import type { Notice } from '../../src/incidents/notice';
import { advanceIncident, detectorSettings, emptyCounts, explain, judgeWindow, type Incident, type MonitorState } from '../../src/monitor';
import { answersOf, judgedAfterHealthy, SEATTLE_PROBE_ANSWERS, seattleRows, windowOf } from './monitor.fixtures';
import { parseMetadata } from '../../src/serving/metadata';

const ROOT = join(import.meta.dirname, '..', '..');
export const weather = parseMetadata(JSON.parse(readFileSync(join(ROOT, 'models/seattle-weather/metadata.json'), 'utf8')));

export const WINDOW = 60;
export const START = 1_780_000_020; // a window start (multiple of 60), 2026-05-28
/**
 * When the incident opens: the first minute cron that may close the START window, its end plus the default
 * FLUSH_GRACE_SECONDS and CLOSE_MARGIN_SECONDS (5 + 60 s), rounded up to the minute (webhooks.md's examples show it).
 */
export const AT = (START + 3 * WINDOW) * 1000 + 123;

export const SECRETS = {
  alert: 'whsec_YWxlcnQtc2VjcmV0LWZvci10ZXN0cw==',
  retrain: 'whsec_cmV0cmFpbi1zZWNyZXQtZm9yLXRlc3Rz',
  routingKey: 'R0UTINGKEY0123456789abcdefABCDEF',
  slack: 'https://hooks.slack.test/services/T000/B000/slack-secret-path',
};

export function configWith(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    PUBLIC_URL: 'https://labelwatch.example.test/',
    ALERT_WEBHOOK_URL: 'https://alerts.example.test/hook',
    ALERT_WEBHOOK_SECRET: SECRETS.alert,
    RETRAIN_WEBHOOK_URL: 'https://train.example.test/retrain',
    RETRAIN_WEBHOOK_SECRET: SECRETS.retrain,
    PAGERDUTY_ROUTING_KEY: SECRETS.routingKey,
    PAGERDUTY_EVENTS_URL: 'https://events.pagerduty.test/v2/enqueue',
    SLACK_WEBHOOK_URL: SECRETS.slack,
    ...overrides,
  });
}

/**
 * A window of `n` predictions with these label counts, judged by the real detector after half an hour of healthy
 * traffic (so the model has a history), plus diagnosis when flagged.
 */
export function judged(labelCounts: Record<string, number>, start: number) {
  const counts = emptyCounts();
  counts.labelCounts = labelCounts;
  counts.n = Object.values(labelCounts).reduce((s, c) => s + c, 0);
  const evaluation = judgedAfterHealthy(weather, [counts]);
  const explanation = explain(evaluation, counts, weather, WINDOW);
  return { model: weather.name, version: weather.version, windowStart: start, evaluation, ...explanation };
}

export const collapsedWindow = (start = START) => judged({ rain: 300 }, start);
export const healthyWindow = (start: number) => judged({ drizzle: 15, fog: 49, rain: 96, snow: 20, sun: 112 }, start);
/** fog and drizzle gone and snow down to 4 where about 21 are normal; rain and sun answer the rest. */
export const partialWindow = (start: number) => judged({ rain: 150, sun: 150, snow: 4 }, start);

/**
 * The healthy model in January: the 124 real January days (standardized) answered as the model answers them
 * (monitor-diagnosis.test.ts), its probes answered as validated: explained as inputs that moved (input_shift).
 */
export function januaryWindow(start = START) {
  const counts = windowOf(seattleRows(1), answersOf({ drizzle: 27, fog: 27, rain: 40, snow: 23, sun: 7 }), weather);
  const evaluation = judgedAfterHealthy(weather, [counts, counts, counts], 30, 100);
  const explanation = explain(evaluation, counts, weather, WINDOW, { predictedLabels: SEATTLE_PROBE_ANSWERS });
  return { model: weather.name, version: weather.version, windowStart: start, evaluation, ...explanation };
}

/**
 * A collapse onto rain at 06:00 on a weekly model's second day of hourly windows: its hour of week has no earlier
 * week, so the hour of day stands in (05:00–08:00 UTC of the day before), and what judged it is in its reason.
 */
export function secondDayWindow() {
  const hour = 3600;
  const day = Math.floor(START / 86_400) * 86_400;
  const settings = detectorSettings(weather, { windowSeconds: hour });
  expect(settings.seasonality).toBe('weekly');
  const window = (labelCounts: Record<string, number>) => ({ ...emptyCounts(), labelCounts, n: Object.values(labelCounts).reduce((s, c) => s + c, 0) });
  let state: MonitorState | null = null;
  for (let h = 0; h < 30; h++) state = judgeWindow(state, window({ drizzle: 15, fog: 49, rain: 96, snow: 20, sun: 112 }), day + h * hour, settings).state;
  const counts = window({ rain: 300 });
  const evaluation = judgeWindow(state, counts, day + 30 * hour, settings).evaluation;
  return { model: weather.name, version: weather.version, windowStart: day + 30 * hour, evaluation, ...explain(evaluation, counts, weather, hour) };
}

export function openedIncident(window = collapsedWindow()): { incident: Incident; notice: Notice } {
  const t = advanceIncident(null, window, { newId: () => 'inc_01KWQ4M2Z8E3T5V7X9Y1B3D5F7' });
  const incident = t.incident!;
  return {
    incident,
    notice: {
      event: 'opened',
      incident,
      at: AT,
      windowSeconds: WINDOW,
      statusUrl: 'https://labelwatch.example.test/incidents/inc_01KWQ4M2Z8E3T5V7X9Y1B3D5F7',
      evaluation: window.evaluation,
      resolvedBy: null,
      resolvedWithRebaseline: false,
    },
  };
}
