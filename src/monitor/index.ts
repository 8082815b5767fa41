// The monitor core's public API. Pure functions of numbers: nothing here knows about Cloudflare, D1 or tfjs.
//
// The cron calls evaluateWindow on every closed window, runs the model's probes only when the verdict is flagged,
// then explain() and advanceIncident(). assessWindow() does the first two in one call for callers that already
// have the probe answers (or do not use them).

import type { ModelMetadata } from '../serving/metadata';
import { type EvaluateOptions, type Evaluation, evaluateWindow } from './detector';
import { type Diagnosis, diagnose, type ProbeResult } from './diagnosis';
import type { LabelCounts } from './reference';
import { type Remedy, remedies } from './remedies';
import type { WindowCounts } from './window';

export * from './binomial';
export * from './detector';
export * from './diagnosis';
export * from './distribution';
export * from './gamma';
export * from './holm';
export * from './incident';
export * from './reference';
export * from './remedies';
export * from './window';

export interface Explanation {
  diagnoses: Diagnosis[];
  remedies: Remedy[];
}

/** Diagnoses of a window (most confident first) and the remedies they call for. */
export function explain(evaluation: Evaluation, counts: WindowCounts, metadata: ModelMetadata, probe?: ProbeResult): Explanation {
  const diagnoses = diagnose(counts, evaluation, metadata, probe);
  return { diagnoses, remedies: remedies(diagnoses, metadata, evaluation) };
}

export interface AssessInput {
  counts: WindowCounts;
  metadata: ModelMetadata;
  /** Deployment defaults (COLLAPSE_ALPHA, minimum predictions); metadata.monitor overrides them. */
  config?: Pick<EvaluateOptions, 'alpha' | 'minPredictions'>;
  /** Label counts of recent windows judged healthy, to refine the reference. */
  recentHealthy?: readonly LabelCounts[];
  /** The model's answers on metadata.probes, when they were run. */
  probe?: ProbeResult;
}

/** Verdict, diagnoses and remedies for one closed window in one call. */
export function assessWindow(input: AssessInput): { evaluation: Evaluation } & Explanation {
  const evaluation = evaluateWindow(input.counts, input.metadata, { ...input.config, recentHealthy: input.recentHealthy });
  return { evaluation, ...explain(evaluation, input.counts, input.metadata, input.probe) };
}
