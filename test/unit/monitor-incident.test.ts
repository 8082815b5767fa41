import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateWindow, type Evaluation } from '../../src/monitor/detector';
import { advanceIncident, RESOLVE_BELOW, RESOLVE_QUIET_SECONDS, shareWindows, type EvaluatedWindow, type Incident, type IncidentEvent } from '../../src/monitor/incident';
import { parseMetadata } from '../../src/serving/metadata';
import { judgedAfterHealthy, judgeSequence, labelWindow, seattleUnweighted } from './monitor.fixtures';

// Each verdict as the real detector gives it, on a model with half an hour of healthy history.
const partial = labelWindow({ rain: 150, sun: 140, snow: 2 });
const healthy = labelWindow({ drizzle: 9, fog: 21, rain: 128, snow: 5, sun: 129 });
const evaluations: Record<string, Evaluation> = {
  collapsed: judgedAfterHealthy(seattleUnweighted, [labelWindow({ rain: 292 })]),
  collapsed_sun: judgedAfterHealthy(seattleUnweighted, [labelWindow({ sun: 292 })]),
  partial_collapse: judgedAfterHealthy(seattleUnweighted, [partial, partial]),
  healthy: judgedAfterHealthy(seattleUnweighted, [healthy]),
  // Healthy, but fog's vanish statistic is still 0.63 of the threshold two windows after it crossed it.
  healthy_near_threshold: judgedAfterHealthy(seattleUnweighted, [partial, partial, labelWindow({ drizzle: 9, fog: 15, rain: 134, snow: 5, sun: 129 })]),
  drift: { ...judgedAfterHealthy(seattleUnweighted, [healthy]), verdict: 'drift' },
  insufficient_data: evaluateWindow(labelWindow({ rain: 5 }), seattleUnweighted),
  no_traffic: evaluateWindow(labelWindow({}), seattleUnweighted),
  partial_collapse_known_defect: { ...judgedAfterHealthy(seattleUnweighted, [partial, partial]), knownDefect: true },
};
for (const [verdict, e] of Object.entries(evaluations)) if (!verdict.startsWith(e.verdict)) throw new Error(`fixture ${verdict} is ${e.verdict}`);

const WINDOW = 300;

/** Feeds verdicts through the state machine, one window after the other, collecting every event. */
function run(verdicts: string[], start: Incident | null = null, resolveAfterHealthy?: number, resolveQuietSeconds = 0) {
  let incident = start;
  let ids = 0;
  const events: IncidentEvent[] = [];
  const history: (Incident | null)[] = [];
  verdicts.forEach((verdict, i) => {
    const window: EvaluatedWindow = {
      model: 'seattle-weather-unweighted',
      version: '1',
      windowStart: 1_700_000_000 + i * WINDOW,
      evaluation: evaluations[verdict],
    };
    const t = advanceIncident(incident, window, { newId: () => `inc-${++ids}`, resolveAfterHealthy, resolveQuietSeconds });
    events.push(...t.events);
    incident = t.incident;
    history.push(incident);
  });
  return { incident, events, history, ids };
}

describe('advanceIncident', () => {
  it('opens one incident for 100 flagged windows in a row, and pages once', () => {
    const { incident, events, ids } = run(Array(100).fill('partial_collapse'));
    expect(events.filter((e) => e === 'opened')).toHaveLength(1);
    expect(events.filter((e) => e === 'updated')).toHaveLength(99);
    expect(ids).toBe(1);
    expect(incident).toMatchObject({
      id: 'inc-1',
      kind: 'partial_collapse',
      status: 'open',
      openedAt: 1_700_000_000,
      firstWindowStart: 1_700_000_000,
      lastWindowStart: 1_700_000_000 + 99 * WINDOW,
      flaggedWindows: 100,
      healthyStreak: 0,
    });
    expect(incident!.latest.vanishedLabels).toContain('fog');
    expect(incident!.labels).toEqual(evaluations.partial_collapse.vanishedLabels);
  });

  it('escalates partial → collapsed once, and never de-escalates', () => {
    const { incident, events } = run(['partial_collapse', 'collapsed', 'partial_collapse', 'collapsed']);
    expect(events).toEqual(['opened', 'escalated', 'updated', 'updated']);
    expect(incident!.kind).toBe('collapsed');
    expect(incident!.latest.verdict).toBe('collapsed');
  });

  it('a collapse onto a label not yet involved escalates and pages; the same collapse again does not', () => {
    const { incident, events } = run(['collapsed', 'collapsed', 'collapsed_sun', 'collapsed_sun', 'collapsed']);
    expect(events).toEqual(['opened', 'updated', 'escalated', 'updated', 'updated']);
    expect(incident!.labels).toEqual(expect.arrayContaining(['rain', 'sun']));
    expect(incident!.latest.dominantLabel).toBe('rain');
  });

  it('the same collapse naming more vanished labels is recorded, not paged again', () => {
    // The real penguins package: Gentoo takes over, first from Adelie alone, then from Chinstrap too (named by the
    // window's count, 0 of 400, while Chinstrap's own statistic is still short of h).
    const penguins = parseMetadata(JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'models', 'penguins', 'metadata.json'), 'utf8')));
    const { evaluations } = judgeSequence(penguins, [labelWindow({ Chinstrap: 70, Gentoo: 330 }), labelWindow({ Gentoo: 400 })]);
    expect(evaluations.map((e) => [e.verdict, e.dominantLabel, e.vanishedLabels])).toEqual([
      ['collapsed', 'Gentoo', ['Adelie']],
      ['collapsed', 'Gentoo', ['Adelie', 'Chinstrap']],
    ]);
    let incident: Incident | null = null;
    const events = evaluations.flatMap((evaluation, i) => {
      const t = advanceIncident(incident, { model: 'penguins', version: '1', windowStart: i * 60, evaluation }, { newId: () => 'inc' });
      incident = t.incident;
      return t.events;
    });
    expect(events).toEqual(['opened', 'updated']);
    expect(incident).toMatchObject({ kind: 'collapsed', collapsedOnto: ['Gentoo'], labels: ['Gentoo', 'Adelie', 'Chinstrap'] });
  });

  it("windows showing only the package's known model defect neither open nor change an incident", () => {
    expect(run(['partial_collapse_known_defect', 'partial_collapse_known_defect'])).toMatchObject({ incident: null, events: [] });
  });

  it('drift counts as healthy towards a resolution', () => {
    expect(run(['collapsed', 'drift', 'healthy', 'drift']).events).toEqual(['opened', 'resolved']);
  });

  it('resolves after three consecutive healthy windows', () => {
    const { incident, events, history } = run(['collapsed', 'healthy', 'healthy', 'healthy']);
    expect(events).toEqual(['opened', 'resolved']);
    expect(history[2]!.healthyStreak).toBe(2);
    expect(incident).toMatchObject({ status: 'resolved', healthyStreak: 3, resolvedAt: 1_700_000_000 + 3 * WINDOW });
  });

  it('a healthy window still near the threshold starts the streak again: traffic at the edge does not resolve and reopen', () => {
    const near = Math.max(...evaluations.healthy_near_threshold.statistics.perLabel.map((l) => Math.max(l.up, l.down ?? 0)));
    expect(near).toBeGreaterThanOrEqual(RESOLVE_BELOW);
    expect(near).toBeLessThan(1);
    const { incident, events, history } = run(['partial_collapse', 'healthy', 'healthy', 'healthy_near_threshold', 'healthy', 'healthy', 'healthy']);
    expect(history[3]!.healthyStreak).toBe(0);
    expect(events).toEqual(['opened', 'resolved']);
    expect(incident!.resolvedAt).toBe(1_700_000_000 + 6 * WINDOW);
    // Windows that keep hovering below the threshold keep the incident open, however many there are.
    expect(run(['partial_collapse', ...Array(20).fill('healthy_near_threshold')])).toMatchObject({ events: ['opened'], incident: { status: 'open', healthyStreak: 0 } });
  });

  it('resolves only once the clear windows span the quiet period; a flagged window inside it starts it again, without a page', () => {
    const quiet = 3600; // 12 windows of 300 s after the first clear one
    const healthy = (n: number) => Array<string>(n).fill('healthy');
    const early = run(['collapsed', ...healthy(12)], null, 3, quiet);
    expect(early.events).toEqual(['opened']);
    expect(early.incident).toMatchObject({ status: 'open', healthyStreak: 12, clearSince: 1_700_000_000 + WINDOW });
    const { incident, events } = run(['collapsed', ...healthy(13)], null, 3, quiet);
    expect(events).toEqual(['opened', 'resolved']);
    expect(incident!.resolvedAt).toBe(1_700_000_000 + 13 * WINDOW);
    // The same story coming back within the quiet period updates the incident it never left: one page, not two.
    const flap = run(['collapsed', ...healthy(5), 'collapsed', ...healthy(13)], null, 3, quiet);
    expect(flap.events).toEqual(['opened', 'updated', 'resolved']);
    expect(flap.incident!.resolvedAt).toBe(1_700_000_000 + 19 * WINDOW);
    // Without the option, RESOLVE_QUIET_SECONDS applies.
    let current: Incident | null = null;
    const starts: number[] = [];
    for (let i = 0; i * 60 <= RESOLVE_QUIET_SECONDS + 120; i++) {
      const t = advanceIncident(current, { model: 'm', version: '1', windowStart: i * 60, evaluation: evaluations[i === 0 ? 'collapsed' : 'healthy'] }, { newId: () => 'x' });
      if (t.events.includes('resolved')) starts.push(i * 60);
      current = t.incident;
    }
    expect(starts).toEqual([60 + RESOLVE_QUIET_SECONDS]);
  });

  it('a flagged window breaks the healthy streak', () => {
    const { incident, events } = run(['collapsed', 'healthy', 'healthy', 'partial_collapse', 'healthy', 'healthy']);
    expect(events).toEqual(['opened', 'updated']);
    expect(incident).toMatchObject({ status: 'open', healthyStreak: 2, flaggedWindows: 2 });
  });

  it('insufficient_data and no_traffic neither open, resolve, break nor extend a streak', () => {
    expect(run(['insufficient_data', 'no_traffic', 'insufficient_data'])).toMatchObject({ incident: null, events: [] });
    const { incident, events, history } = run(['collapsed', 'healthy', 'insufficient_data', 'no_traffic', 'healthy', 'insufficient_data', 'healthy']);
    expect(history[2]).toBe(history[1]); // unchanged, the same object
    expect(history[3]).toBe(history[1]);
    expect(history[4]!.healthyStreak).toBe(2);
    expect(events).toEqual(['opened', 'resolved']);
    expect(incident!.resolvedAt).toBe(1_700_000_000 + 6 * WINDOW);
  });

  it('healthy windows without an incident do nothing', () => {
    expect(run(['healthy', 'healthy'])).toMatchObject({ incident: null, events: [] });
  });

  it('opens a fresh incident after a resolved one', () => {
    const { incident, events } = run(['collapsed', 'healthy', 'healthy', 'healthy', 'partial_collapse']);
    expect(events).toEqual(['opened', 'resolved', 'opened']);
    expect(incident).toMatchObject({ id: 'inc-2', status: 'open', kind: 'partial_collapse', flaggedWindows: 1 });
  });

  it('keeps an acknowledged incident acknowledged while it updates, and resolves it', () => {
    const opened = run(['partial_collapse']).incident!;
    const acknowledged: Incident = { ...opened, status: 'acknowledged' };
    const later = (verdict: string, i: number) =>
      advanceIncident(acknowledged, { model: opened.model, version: opened.version, windowStart: opened.lastWindowStart + i * WINDOW, evaluation: evaluations[verdict] }, { newId: () => 'never' });
    expect(later('collapsed', 1)).toMatchObject({ events: ['escalated'], incident: { status: 'acknowledged', id: opened.id } });
    const healed = advanceIncident({ ...acknowledged, healthyStreak: 2 }, { model: opened.model, version: opened.version, windowStart: opened.lastWindowStart + WINDOW, evaluation: evaluations.healthy }, { newId: () => 'never', resolveQuietSeconds: 0 });
    expect(healed).toMatchObject({ events: ['resolved'], incident: { status: 'resolved' } });
  });

  it('ignores a replayed window it has already seen', () => {
    const opened = run(['collapsed', 'collapsed']).incident!;
    const replay = advanceIncident(opened, { model: opened.model, version: opened.version, windowStart: opened.lastWindowStart, evaluation: evaluations.collapsed }, { newId: () => 'never' });
    expect(replay).toEqual({ incident: opened, events: [] });
  });

  it('keeps the last diagnosis when a flagged window comes without one', () => {
    const diagnosed = advanceIncident(
      null,
      { model: 'm', version: '1', windowStart: 0, evaluation: evaluations.partial_collapse, diagnoses: [], remedies: [] },
      { newId: () => 'x' },
    ).incident!;
    const withFinding = { ...diagnosed, remedies: [{ kind: 'class_weight', diagnosis: 'class_imbalance', weights: { a: 1 }, sentence: 's' }] } as Incident;
    const next = advanceIncident(withFinding, { model: 'm', version: '1', windowStart: WINDOW, evaluation: evaluations.partial_collapse }, { newId: () => 'y' });
    expect(next.incident!.remedies).toEqual(withFinding.remedies);
  });

  it('honours resolveAfterHealthy', () => {
    expect(run(['collapsed', 'healthy'], null, 1).events).toEqual(['opened', 'resolved']);
    expect(() => run(['collapsed'], null, 0)).toThrow(RangeError);
  });

  it('an incident is JSON-safe', () => {
    const { incident } = run(['collapsed', 'healthy']);
    expect(JSON.parse(JSON.stringify(incident))).toEqual(incident);
  });
});

describe('shareWindows', () => {
  const t = (k: number) => 1_700_000_000 + k * WINDOW;

  it('reads the shares of the flagged span, and of the clearing streak up to the latest window the incident saw', () => {
    // Flagged, a healthy window that the next flagged one interrupts, flagged, then clear: a streak of two so far,
    // with an insufficient_data window after it that the incident does not see.
    const { incident } = run(['collapsed', 'healthy', 'collapsed', 'healthy', 'partial_collapse_known_defect', 'insufficient_data']);
    expect(incident).toMatchObject({ status: 'open', healthyStreak: 2, clearSince: t(3) });
    // The healthy window at t(1) lies in the flagged span: the reader keeps the flagged windows alone.
    expect(shareWindows(incident!)).toEqual({ flagged: { from: t(0), to: t(2) + 1 }, clearing: { from: t(3), to: t(4) + 1 } });
  });

  it('has no clearing span while the alarm is on, nor once the incident is resolved', () => {
    expect(shareWindows(run(['collapsed', 'healthy', 'collapsed']).incident!).clearing).toBeNull();
    const resolved = run(['collapsed', 'collapsed', 'healthy', 'healthy', 'healthy']).incident!;
    expect(resolved.status).toBe('resolved');
    expect(shareWindows(resolved)).toEqual({ flagged: { from: t(0), to: t(1) + 1 }, clearing: null });
  });

  it('reads an incident stored without its streak fields (an older row) as not clearing', () => {
    expect(shareWindows({ status: 'open', firstWindowStart: t(0), lastWindowStart: t(3) })).toEqual({ flagged: { from: t(0), to: t(3) + 1 }, clearing: null });
  });
});
