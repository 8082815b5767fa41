// The detector's state of a model with many labels, through the real D1 path the cron uses (db/verdicts.ts
// storeVerdict, then monitorState): a weekly model of 1000 labels keeps 168 + 24 phase bins of two vectors each, and
// its JSON is beyond D1's 2,000,000 bytes for a value. Stored packed (monitor/packed-state.ts), it fits, and comes
// back equal.
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { monitorState, storeVerdict } from '../../src/db/verdicts';
import { detectorSettings, judgeWindow, type Evaluation, type MonitorState } from '../../src/monitor';
import type { ModelMetadata } from '../../src/serving/metadata';

const D1_VALUE_LIMIT = 2_000_000;
const K = 1000;
const labels = Array.from({ length: K }, (_, i) => `class_${String(i).padStart(4, '0')}`);
const even = Object.fromEntries(labels.map((l) => [l, 100]));
const model: ModelMetadata = {
  name: 'classes-1000',
  version: '1',
  labels,
  features: [{ name: 'x', mean: 0, std: 1 }],
  training: { samples: 100 * K, label_counts: even },
  probes: [],
  reference: { label_counts: even, samples: 100 * K },
};

/**
 * Eight weeks of hourly windows, about 60 answers per label and hour (1000 a minute), spread by a fixed rule rather
 * than drawn: every bin of the weekly profile and of the hours of day holds a vector of 1000 counts.
 */
function eightWeeks(): { state: MonitorState; evaluation: Evaluation; start: number } {
  const settings = detectorSettings(model, { windowSeconds: 3600 });
  let state: MonitorState | null = null;
  let evaluation: Evaluation | null = null;
  let start = 0;
  for (let hour = 0; hour < 8 * 168; hour++) {
    start = hour * 3600;
    const labelCounts = Object.fromEntries(labels.map((l, i) => [l, 30 + ((i * 7919 + hour * 104_729) % 61)]));
    ({ state, evaluation } = judgeWindow(state, { labelCounts }, start, settings));
  }
  return { state: state!, evaluation: evaluation!, start };
}

describe('the state of a model with 1000 labels', () => {
  beforeEach(async () => {
    await env.DB.prepare('DELETE FROM monitor_states').run();
  });

  it('is stored by the cron path within D1’s limit for a value, and read back equal', async () => {
    const { state, evaluation, start } = eightWeeks();
    expect(state.hourOfDay).toHaveLength(24);
    // Its JSON, even with the seasonal counts rounded, is most of what D1 takes.
    expect(JSON.stringify(state).length).toBeGreaterThan(D1_VALUE_LIMIT * 0.8);
    const key = { model: model.name, version: model.version, start, length: 3600 };
    await storeVerdict(env.DB, key, evaluation, { diagnoses: [], remedies: [] }, state, start + 3600);
    const row = await env.DB.prepare('SELECT length(state) AS bytes FROM monitor_states WHERE model = ?').bind(model.name).first<{ bytes: number }>();
    expect(row!.bytes).toBeLessThan(D1_VALUE_LIMIT / 2);
    expect(await monitorState(env.DB, model.name, model.version)).toEqual(state);
  });
});
