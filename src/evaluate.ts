// Evaluation of closed windows, called by the cron after it closes windows: verdict (pure core), the model's own
// probes when a window is flagged (to tell a degenerate model from bad traffic), diagnosis and remedies, then the
// incident transition, and last the verdict stored on the window.
//
// Work is picked up as "closed windows without a verdict", oldest first per model version, so a tick that fails
// half-way leaves the rest to the next tick, and incidents still see each version's windows in order. The incident
// is advanced before the verdict is stored: if storing fails, the next tick re-evaluates the window and the incident
// state machine ignores the replay (it remembers the last window it saw).
import { configOf, type Env } from './config';
import { trackIncident } from './incidents/track';
import { recentHealthyLabelCounts, storeVerdict, windowCounts, windowsAwaitingVerdict } from './db/verdicts';
import type { WindowKey } from './db/windows';
import { evaluateWindow, explain, type ProbeResult } from './monitor';
import { argmax } from './monitor/window';
import type { ModelMetadata } from './serving/metadata';
import { predictRows, registry } from './serving/registry';

/** Closed windows evaluated per model version and tick at most (a backlog drains over the following ticks). */
export const EVALUATIONS_PER_VERSION = 50;
/** Recent healthy windows offered to the reference (the core caps their weight and ignores drifted ones). */
export const RECENT_HEALTHY_WINDOWS = 60;

export interface EvaluationReport {
  evaluated: number;
  flagged: number;
  failed: number;
}

export async function evaluateClosedWindows(env: Env, nowMs: number): Promise<EvaluationReport> {
  const report: EvaluationReport = { evaluated: 0, flagged: 0, failed: 0 };
  // Only served versions: a window of a version no longer deployed has no reference to be judged by.
  const served = registry.list().map((m) => ({ model: m.name, version: m.version }));
  const pending = await windowsAwaitingVerdict(env.DB, served, EVALUATIONS_PER_VERSION);
  const stalled = new Set<string>();
  for (const key of pending) {
    const version = `${key.model}@${key.version}`;
    // After a failure, later windows of the same version wait: incidents must see windows in order.
    if (stalled.has(version)) continue;
    try {
      const flagged = await evaluateOne(env, key, nowMs);
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

/** Evaluates one window end to end; returns whether it was flagged. */
async function evaluateOne(env: Env, key: WindowKey, nowMs: number): Promise<boolean> {
  const metadata = registry.metadata(key.model);
  if (!metadata) throw new Error(`model ${key.model} is not served`);
  const config = configOf(env);
  const counts = await windowCounts(env.DB, key);
  const recentHealthy = await recentHealthyLabelCounts(env.DB, {
    model: key.model,
    version: key.version,
    before: key.start,
    limit: RECENT_HEALTHY_WINDOWS,
  });
  const evaluation = evaluateWindow(counts, metadata, {
    alpha: config.collapseAlpha,
    minPredictions: config.minPredictions,
    recentHealthy,
  });
  const flagged = evaluation.verdict === 'collapsed' || evaluation.verdict === 'partial_collapse';
  const probe = flagged ? await runProbes(metadata) : undefined;
  // Input problems (lost variance, missing scaler) are reported whatever the verdict: raw or zeroed inputs on a
  // window that still looks healthy are the early warning of a collapse to come.
  const explanation = explain(evaluation, counts, metadata, probe);
  await trackIncident(
    env,
    { model: key.model, version: key.version, windowStart: key.start, evaluation, ...explanation },
    nowMs,
  );
  await storeVerdict(env.DB, key, evaluation, explanation);
  return flagged;
}

/** The model's answers on its own labelled probe rows: a canary of the model itself, independent of traffic. */
async function runProbes(metadata: ModelMetadata): Promise<ProbeResult | undefined> {
  if (metadata.probes.length === 0) return undefined;
  try {
    const model = await registry.model(metadata.name);
    const probabilities = await predictRows(model, metadata.probes.map((p) => p.input), metadata.features.length);
    return { predictedLabels: probabilities.map((p) => metadata.labels[argmax(p)]) };
  } catch (e) {
    // Diagnosis still works without probes; it just cannot call the model degenerate.
    console.error(`evaluate: probes of ${metadata.name} failed: ${(e as Error).message}`);
    return undefined;
  }
}
