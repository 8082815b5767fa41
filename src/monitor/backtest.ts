// The monitor's whole pipeline over a history of windows, in memory: what the cron does to each closed window
// (judge against the baseline, explain a flagged one, advance the incident) and what it does once per served
// version (report a model defect). `npm run backtest` and `npm run bench:detect` run this; src/evaluate.ts runs the
// same steps with D1 in between.

import type { ModelMetadata } from '../serving/metadata';
import { type InputLevel, type MonitorState, recentInputs } from './baseline';
import { modelDefect } from './defect';
import { type DetectorSettings, type Evaluation, judgeWindow, type Verdict } from './detector';
import { type Diagnosis, diagnose, type ProbeResult } from './diagnosis';
import { advanceIncident, type Incident, type IncidentEvent, type IncidentKind, isFlagged, openModelDefect } from './incident';
import { type Remedy, remedies } from './remedies';
import { emptyCounts, type WindowCounts } from './window';

export interface Explanation {
  diagnoses: Diagnosis[];
  remedies: Remedy[];
}

/**
 * Diagnoses (most confident first) and the remedies they call for, for a window the baseline does not explain.
 * A healthy, drifting or undecided window gets none: no cause is asserted where there is nothing to explain.
 * `windowSeconds` is the model's window length (DetectorSettings.windowSeconds): the remedies name no seasonality
 * no longer than a window.
 */
export function explain(
  evaluation: Evaluation,
  counts: WindowCounts,
  metadata: ModelMetadata,
  windowSeconds: number,
  probe?: ProbeResult,
  recent?: Readonly<Record<string, InputLevel>>,
): Explanation {
  if (!isFlagged(evaluation.verdict)) return { diagnoses: [], remedies: [] };
  const diagnoses = diagnose(counts, evaluation, metadata, probe, recent);
  return { diagnoses, remedies: remedies(diagnoses, metadata, windowSeconds) };
}

/** A package's model defect (`modelDefect`, defect.ts) with its diagnoses and remedies (for no window: null). */
export function explainModelDefect(defect: Evaluation, metadata: ModelMetadata, probe?: ProbeResult): { evaluation: Evaluation } & Explanation {
  const diagnoses = diagnose(emptyCounts(), defect, metadata, probe);
  return { evaluation: defect, diagnoses, remedies: remedies(diagnoses, metadata, null) };
}

export interface BacktestIncident {
  kind: IncidentKind;
  /** Window start (epoch seconds) of the window that opened it (for a model defect: the first window). */
  openedWindowStart: number;
  resolvedWindowStart: number | null;
  /** Its kind when it ended (or now). */
  verdict: IncidentKind;
  labels: string[];
  /** Events that notified someone: opened, escalated, resolved. */
  pages: number;
  diagnoses: string[];
  /** The highest confidence each diagnosis reached over the incident's windows, by kind. */
  confidence: Record<string, number>;
}

export interface BacktestWindow {
  start: number;
  counts: WindowCounts;
}

export interface BacktestResult {
  windows: number;
  /** Windows with traffic and enough accumulated evidence to be decided, or flagged. */
  judged: number;
  flagged: number;
  verdicts: Record<Verdict, number>;
  incidents: BacktestIncident[];
  /** Start of the first flagged window, or null. */
  firstFlagged: number | null;
}

export interface BacktestOptions {
  resolveAfterHealthy?: number;
  resolveQuietSeconds?: number;
  /**
   * The model's answers on its own probes, which the cron runs for every flagged window (src/evaluate.ts). A model's
   * answers on fixed rows do not change, so one run serves every window and the model defect; without it, flagged
   * windows and the defect are explained without probes, as when the cron's probe run fails.
   */
  probe?: ProbeResult;
  /** Called for every window judged (the CLI's table and progress), with what a flagged window was explained by. */
  onWindow?: (window: BacktestWindow, evaluation: Evaluation, events: IncidentEvent[], explanation: Explanation) => void;
}

/**
 * Runs the pipeline over `windows` (in order, contiguous or not; a gap is simply no windows). The model defect, if
 * the package has one, is reported once, at the first window.
 */
export function backtest(
  metadata: ModelMetadata,
  settings: DetectorSettings,
  windows: Iterable<BacktestWindow>,
  options: BacktestOptions = {},
): BacktestResult {
  let seq = 0;
  const newId = () => `bt-${++seq}`;
  const verdicts: Record<Verdict, number> = { healthy: 0, drift: 0, collapsed: 0, partial_collapse: 0, insufficient_data: 0, no_traffic: 0 };
  const incidents: BacktestIncident[] = [];
  const record = new Map<string, BacktestIncident>();
  let state: MonitorState | null = null;
  let open: Incident | null = null;
  let count = 0;
  let flagged = 0;
  let firstFlagged: number | null = null;

  const note = (incident: Incident, events: IncidentEvent[], diagnoses: Diagnosis[]) => {
    let entry = record.get(incident.id);
    if (!entry) {
      entry = {
        kind: incident.kind,
        openedWindowStart: incident.firstWindowStart,
        resolvedWindowStart: null,
        verdict: incident.kind,
        labels: [],
        pages: 0,
        diagnoses: [],
        confidence: {},
      };
      record.set(incident.id, entry);
      incidents.push(entry);
    }
    entry.verdict = incident.kind;
    entry.labels = [...incident.labels];
    entry.pages += events.filter((e) => e !== 'updated').length;
    if (incident.status === 'resolved') entry.resolvedWindowStart = incident.resolvedAt ?? null;
    for (const d of diagnoses) {
      if (!entry.diagnoses.includes(d.kind)) entry.diagnoses.push(d.kind);
      entry.confidence[d.kind] = Math.max(entry.confidence[d.kind] ?? 0, d.confidence);
    }
  };

  for (const window of windows) {
    if (count === 0) {
      const found = modelDefect(metadata);
      if (found) {
        // The Worker runs the probes for a package with a defect too (they tell a degenerate model from an imbalanced one).
        const defect = explainModelDefect(found, metadata, options.probe);
        const t = openModelDefect({ model: metadata.name, version: metadata.version, at: window.start, ...defect }, newId);
        note(t.incident!, t.events, defect.diagnoses);
      }
    }
    count++;
    const judged = judgeWindow(state, window.counts, window.start, settings);
    const evaluation = judged.evaluation;
    const windowFlagged = isFlagged(evaluation.verdict);
    // A flagged window is diagnosed against the recent inputs of the state that judged it.
    const recent = windowFlagged ? recentInputs(state, settings.features) : undefined;
    state = judged.state;
    verdicts[evaluation.verdict]++;
    if (windowFlagged) {
      flagged++;
      firstFlagged ??= window.start;
    }
    const explanation = explain(evaluation, window.counts, metadata, settings.windowSeconds, windowFlagged ? options.probe : undefined, recent);
    const transition = advanceIncident(
      open,
      { model: metadata.name, version: metadata.version, windowStart: window.start, evaluation, ...explanation },
      { newId, resolveAfterHealthy: options.resolveAfterHealthy, resolveQuietSeconds: options.resolveQuietSeconds },
    );
    if (transition.incident && transition.incident !== open) note(transition.incident, transition.events, explanation.diagnoses);
    open = transition.incident && transition.incident.status !== 'resolved' ? transition.incident : null;
    options.onWindow?.(window, evaluation, transition.events, explanation);
  }
  const judgedCount = verdicts.healthy + verdicts.drift + verdicts.collapsed + verdicts.partial_collapse;
  return { windows: count, judged: judgedCount, flagged, verdicts, incidents, firstFlagged };
}
