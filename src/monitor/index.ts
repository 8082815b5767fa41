// The monitor core's public API. Pure functions of numbers: nothing here knows about Cloudflare, D1 or tfjs.
//
// The cron (src/evaluate.ts) calls evaluateWindow on every closed window, runs the model's probes only when the
// verdict is flagged, then explain() and advanceIncident().

import type { ModelMetadata } from '../serving/metadata';
import type { Evaluation } from './detector';
import { type Diagnosis, diagnose, type ProbeResult } from './diagnosis';
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
  return { diagnoses, remedies: remedies(diagnoses, metadata) };
}
