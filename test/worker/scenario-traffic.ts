// Traffic for the scenario tests: held-out rows (raw units) as a client would send them, through the Worker's real
// predict handler, with the clock pinned to a chosen instant so each scenario's predictions land in one window of
// its own. Only `Date` is faked: the recorder's linger timer and workerd's I/O keep the real timers.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, vi } from 'vitest';
import worker from '../../src/index';
import type { ModelMetadata } from '../../src/serving/metadata';

export const BASE = 'http://labelwatch.test';

export interface Holdout {
  dataset: string;
  features: string[];
  label: string;
  rows: { input: number[]; label: string }[];
}

/** Rows as a correct client sends them to a standardized model: (x − raw.mean) / raw.std per feature. */
export function standardized(metadata: ModelMetadata, rows: number[][]): number[][] {
  return rows.map((row) =>
    row.map((x, i) => {
      const raw = metadata.features[i].raw;
      if (!raw) throw new Error(`${metadata.name}: feature ${metadata.features[i].name} has no raw scaler`);
      return (x - raw.mean) / raw.std;
    }),
  );
}

/**
 * POSTs `rows` to `/v1/models/{model}:predict` in batches of `batch`, every request at the instant `atMs`, and waits
 * until the recording (ctx.waitUntil) is done. Returns the label the endpoint answered for every row, in order.
 */
export async function predictAt(metadata: ModelMetadata, rows: number[][], atMs: number, batch = 20): Promise<string[]> {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(atMs);
  try {
    const ctx = createExecutionContext();
    const requests: Promise<Response>[] = [];
    for (let i = 0; i < rows.length; i += batch) {
      const body = JSON.stringify({ instances: rows.slice(i, i + batch) });
      const request = new Request(`${BASE}/v1/models/${metadata.name}:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      requests.push(Promise.resolve(worker.fetch(request, env, ctx)));
    }
    const responses = await Promise.all(requests);
    await waitOnExecutionContext(ctx);
    const labels: string[] = [];
    for (const res of responses) {
      const text = await res.text();
      expect(res.status, text).toBe(200);
      labels.push(...(JSON.parse(text) as { labels: string[] }).labels);
    }
    expect(labels).toHaveLength(rows.length);
    return labels;
  } finally {
    vi.useRealTimers();
  }
}

/** Label → how many times it occurs. */
export const tally = (labels: string[]): Record<string, number> =>
  labels.reduce<Record<string, number>>((acc, l) => ((acc[l] = (acc[l] ?? 0) + 1), acc), {});
