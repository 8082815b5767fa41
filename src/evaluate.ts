// Evaluation of closed windows, called by the cron after it closes windows: verdict and the detector's next state
// (pure core), the model's own probes when a window is flagged (to tell a degenerate model from bad traffic),
// diagnosis and remedies, then the incident transition, and last the verdict stored on the window together with the
// detector's state. Before that, once per served version, the package's own model defect (if any) is reported.
// `npm run backtest` runs the same pure steps in memory (src/monitor/backtest.ts).
//
// Work is picked up as "closed windows without a verdict", oldest first per model version, so a tick that fails
// half-way leaves the rest to the next tick, and incidents and the detector still see each version's windows in
// order. The incident is advanced before the verdict is stored: if storing fails, the next tick re-evaluates the
// window from the state stored with the previous verdict, and the incident state machine ignores the replay (it
// remembers the last window it saw).
//
// A rebaseline someone asked for (an incident resolved with `rebaseline`) is applied here, to the state loaded
// before the version's next window is judged, and marked applied with that window's verdict: the cron stays the one
// writer of the detector's state, so a request can never be overwritten by a tick that read the state before it.
import { configOf, type Env } from './config';
import { reportModelDefect, trackIncident } from './incidents/track';
import { type AppliedRebaseline, latestOtherVersionState, monitorState, storeVerdict, trafficTotals, waitingRebaselines, windowCounts, windowSizes, windowsAwaitingVerdict } from './db/verdicts';
import type { WindowKey } from './db/windows';
import {
  detectorSettings,
  explain,
  explainModelDefect,
  isFlagged,
  halfLives,
  inheritedState,
  judgeWindow,
  modelDefect,
  type MonitorState,
  type ProbeResult,
  rebaseline,
  rebaselineFrom,
  REBASELINE_PREDICTIONS,
  recentInputs,
} from './monitor';
import { countOf } from './monitor/names';
import { windowLengthOf } from './serving/package-defaults';
import { argmax, inputMoments } from './monitor/window';
import type { ModelMetadata } from './serving/metadata';
import { predictRows, registry } from './serving/registry';

/** Closed windows evaluated per model version and tick at most (a backlog drains over the following ticks). */
export const EVALUATIONS_PER_VERSION = 50;

export interface EvaluationReport {
  evaluated: number;
  flagged: number;
  failed: number;
  /** Model defects reported (once per version, ever) by this tick. */
  defects: number;
}

/** Versions whose package was checked for a model defect in this isolate: one D1 read per version, not per tick. */
const defectChecked = new Set<string>();

export async function evaluateClosedWindows(env: Env, nowMs: number): Promise<EvaluationReport> {
  const report: EvaluationReport = { evaluated: 0, flagged: 0, failed: 0, defects: 0 };
  // Only served versions: a window of a version no longer deployed has no reference to be judged by.
  const served = registry.list();
  for (const metadata of served) {
    try {
      if (await checkModelDefect(env, metadata, nowMs)) report.defects++;
    } catch (e) {
      console.error(`evaluate: model defect check of ${metadata.name}@${metadata.version}: ${(e as Error).message}`);
    }
  }
  const pending = await windowsAwaitingVerdict(
    env.DB,
    served.map((m) => ({ model: m.name, version: m.version })),
    EVALUATIONS_PER_VERSION,
  );
  const stalled = new Set<string>();
  const states = new Map<string, { state: MonitorState | null; rebaselined: AppliedRebaseline[] }>();
  for (const key of pending) {
    const version = `${key.model}@${key.version}`;
    // After a failure, later windows of the same version wait: incidents and the detector's state must see windows
    // in order.
    if (stalled.has(version)) continue;
    try {
      if (!states.has(version)) states.set(version, await loadState(env, key));
      const { state: previous, rebaselined } = states.get(version)!;
      const { flagged, state } = await evaluateOne(env, key, previous, nowMs, rebaselined);
      states.set(version, { state, rebaselined: [] });
      report.evaluated++;
      if (flagged) report.flagged++;
    } catch (e) {
      stalled.add(version);
      report.failed++;
      console.error(`evaluate: ${version} window ${key.start}: ${(e as Error).message}`);
    }
  }
  return report;
}

/** Reports the package's model defect when it has one and it was never reported; returns whether it did now. */
async function checkModelDefect(env: Env, metadata: ModelMetadata, nowMs: number): Promise<boolean> {
  const version = `${metadata.name}@${metadata.version}`;
  if (defectChecked.has(version)) return false;
  const found = modelDefect(metadata);
  // Probes run only for a package that has a defect: they tell a degenerate model from an imbalanced one.
  const defect = found && explainModelDefect(found, metadata, await runProbes(metadata));
  const opened = defect
    ? await reportModelDefect(env, { model: metadata.name, version: metadata.version, at: Math.floor(nowMs / 1000), ...defect }, nowMs)
    : false;
  defectChecked.add(version);
  if (opened) console.warn(`evaluate: ${version} has a model defect: ${defect && defect.evaluation.reason}`);
  return opened;
}

/**
 * The detector's stored state of a window's version, with the rebaselines waiting for it applied: the trailing
 * baseline becomes the label counts of the incident's traffic as it is now (monitor/baseline.ts rebaselineFrom: its
 * newest windows up to the latest judged, back to REBASELINE_PREDICTIONS predictions, within the last trailing
 * half-life). Returns the incidents applied, to be marked with the next verdict; until then a failed tick applies
 * them again, to the same stored state, with the same result.
 */
async function loadState(env: Env, key: WindowKey): Promise<{ state: MonitorState | null; rebaselined: AppliedRebaseline[] }> {
  const stored = (await monitorState(env.DB, key.model, key.version)) ?? (await inheritedSeasons(env, key));
  const waiting = await waitingRebaselines(env.DB, key.model, key.version);
  if (waiting.length === 0) return { state: stored, rebaselined: [] };
  const applied = (adopted: AppliedRebaseline['adopted']) => waiting.map(({ incidentId }) => ({ incidentId, adopted }));
  const metadata = registry.metadata(key.model);
  // Nothing judged yet (the API accepts a rebaseline only for a served version's incident): nothing to adopt.
  if (!stored || stored.lastWindowStart === null || !metadata) return { state: stored, rebaselined: applied(null) };
  const latest = stored.lastWindowStart;
  const length = windowLengthOf(metadata, configOf(env));
  const first = Math.min(...waiting.map((r) => r.fromWindowStart));
  const floor = Math.max(first, latest - halfLives(length).trailing + length);
  // Windows of at least one prediction each: REBASELINE_PREDICTIONS of them always reach the count, one more in case
  // the incident's first window is among them and left out.
  const from = rebaselineFrom(await windowSizes(env.DB, key.model, key.version, floor, latest, REBASELINE_PREDICTIONS + 1), first);
  const totals = from === null ? null : await trafficTotals(env.DB, key.model, key.version, from, latest);
  const observed = metadata.labels.map((l) => (totals ? countOf(totals.labelCounts, l) : 0));
  const predictions = observed.reduce((s, c) => s + c, 0);
  const adopted = from === null || predictions === 0 ? null : { from, to: latest, predictions };
  console.log(
    `evaluate: ${key.model}@${key.version} rebaselined (incidents ${waiting.map((r) => r.incidentId).join(', ')}): ` +
      (adopted ? `adopted ${predictions} predictions of windows ${from}–${latest}` : 'no traffic to adopt; the evidence restarts'),
  );
  const inputs = inputMoments(totals?.features, metadata.features.map((f) => f.name));
  return { state: rebaseline(stored, observed, inputs), rebaselined: applied(adopted) };
}

/**
 * A version's first state: the seasons its model's most recently judged other version learnt, when it kept the same
 * labels (monitor/baseline.ts inheritedState), so a deploy does not page a daily rhythm on its first day. Null: none.
 */
async function inheritedSeasons(env: Env, key: WindowKey): Promise<MonitorState | null> {
  const metadata = registry.metadata(key.model);
  if (!metadata || metadata.version !== key.version) return null;
  const state = inheritedState(await latestOtherVersionState(env.DB, key.model, key.version), metadata.labels, detectorSettings(metadata, configOf(env)).seasonality);
  if (state) console.log(`evaluate: ${key.model}@${key.version} starts with the seasons its model's earlier version learnt`);
  return state;
}

/** Evaluates one window end to end; returns whether it was flagged and the detector's state after it. */
async function evaluateOne(
  env: Env,
  key: WindowKey,
  previous: MonitorState | null,
  nowMs: number,
  rebaselined: AppliedRebaseline[],
): Promise<{ flagged: boolean; state: MonitorState }> {
  const metadata = registry.metadata(key.model);
  if (!metadata) throw new Error(`model ${key.model} is not served`);
  const config = configOf(env);
  const counts = await windowCounts(env.DB, key);
  const settings = detectorSettings(metadata, config);
  const { evaluation, state } = judgeWindow(previous, counts, key.start, settings);
  const flagged = isFlagged(evaluation.verdict);
  // The model's own probes tell a degenerate model from bad traffic; they are worth running only on a flagged window.
  const probe = flagged ? await runProbes(metadata) : undefined;
  // The recent healthy inputs the window's labels were judged against, for a flagged window's diagnosis only.
  const explanation = explain(evaluation, counts, metadata, settings.windowSeconds, probe, flagged ? recentInputs(previous, settings.features) : undefined);
  // A rebaseline asked for after this tick read the state must not be outrun: judged with the old state, the window
  // would open (or add to) an incident for the traffic just declared normal. A check before this call would leave a
  // gap between it and the write, so the write itself is conditional: trackIncident stores the incident change only
  // if no rebaseline of the version is waiting but those this state applied, in the same D1 transaction as the
  // change. The operator's request is one transaction too (the resolve and its rebaselines row), and D1 commits one
  // after the other. Ours first: the incident they resolve includes this window, or, if this window opened a new one,
  // their request for the earlier incident finds a later one and is refused. Theirs first: nothing of ours is stored,
  // the call throws, and the window waits, without a verdict, for the next tick, which applies the rebaseline first
  // (the version's later windows wait with it, as after any failure).
  const judgedWith = rebaselined.map((r) => r.incidentId);
  await trackIncident(env, { model: key.model, version: key.version, windowStart: key.start, evaluation, ...explanation }, nowMs, judgedWith);
  await storeVerdict(env.DB, key, evaluation, explanation, state, Math.floor(nowMs / 1000), rebaselined);
  return { flagged, state };
}
/** The model's answers on its own labelled probe rows: a canary of the model itself, independent of traffic. */
async function runProbes(metadata: ModelMetadata): Promise<ProbeResult | undefined> {
  if (metadata.probes.length === 0) return undefined;
  try {
    const model = await registry.model(metadata.name);
    const probabilities = await predictRows(model, metadata.probes.map((p) => p.input), metadata.features.length);
    return { predictedLabels: probabilities.map((p) => metadata.labels[argmax(p)]!) }; // one probability per label
  } catch (e) {
    // Diagnosis still works without probes; it just cannot call the model degenerate.
    console.error(`evaluate: probes of ${metadata.name} failed: ${(e as Error).message}`);
    return undefined;
  }
}
