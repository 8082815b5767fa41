// The request side of recording: summarise the answered batch (pure, in monitor/) and hand it to one shard of the
// model version's aggregator. Runs inside ctx.waitUntil, after the response; a failure is logged, never thrown
// at the client.
//
// Summaries of the same window are coalesced in the isolate for LINGER_MS and sent as one record() call: under load
// a shard gets a few calls per second per isolate instead of one per request. The waitUntil of the request that
// opened a batch awaits its send, so the isolate stays alive until the aggregator stored the whole batch.
import type { Config, Env } from '../config';
import { type ModelMetadata, windowLengthOf } from '../serving/metadata';
import { mergeCounts, plainCounts, summarizeBatch, windowStart, type WindowCounts } from '../monitor/window';
import type { WindowAggregator } from './aggregator';

/** How long a summary waits in the isolate for others of its window before it goes to an aggregator shard. */
export const LINGER_MS = 50;

/** Durable Object name of one aggregator shard: `model@version#k`. */
export const shardName = (model: string, version: string, shard: number): string => `${model}@${version}#${shard}`;

/** Summaries of one model version and window, waiting in this isolate to be sent together. */
interface Outgoing {
  counts: WindowCounts;
  sent: Promise<void>;
}
const outgoing = new Map<string, Outgoing>();

/**
 * Counts an answered batch into the window containing `nowMs` (the clock is a parameter so tests can place a
 * prediction on a window boundary). The request that opens a batch gets a promise that resolves once a shard stored the
 * batch (or the failure was logged); requests joining an open batch resolve at once.
 */
export function recordBatch(
  env: Env,
  config: Config,
  metadata: ModelMetadata,
  rows: number[][],
  probabilities: ArrayLike<number>[],
  nowMs: number,
): Promise<void> {
  const counts = summarizeBatch(rows, probabilities, metadata.labels, metadata.features.map((f) => f.name));
  const length = windowLengthOf(metadata, config);
  const start = windowStart(Math.floor(nowMs / 1000), length);
  const key = `${metadata.name}@${metadata.version}/${start}`;
  const open = outgoing.get(key);
  if (open) {
    // The request that opened the batch keeps the isolate alive (its waitUntil awaits the send); waiting here too
    // would only make this request's context wait on a promise another request resolves.
    open.counts = mergeCounts(open.counts, counts);
    return Promise.resolve();
  }
  const batch: Outgoing = { counts, sent: Promise.resolve() };
  batch.sent = new Promise<void>((resolve) => setTimeout(resolve, LINGER_MS)).then(() => {
    // Out of the map before the call, so summaries arriving meanwhile start the next batch.
    outgoing.delete(key);
    return send(env, config, metadata, start, length, batch.counts);
  });
  outgoing.set(key, batch);
  return batch.sent;
}

async function send(env: Env, config: Config, metadata: ModelMetadata, start: number, length: number, counts: WindowCounts) {
  // A random shard spreads load over AGGREGATOR_SHARDS objects; flushes are additive so shards sum up in D1.
  const shard = Math.floor(Math.random() * config.aggregatorShards);
  const name = shardName(metadata.name, metadata.version, shard);
  try {
    const stub = env.AGGREGATOR.get(env.AGGREGATOR.idFromName(name)) as unknown as DurableObjectStub<WindowAggregator>;
    await stub.record({ shard: name, model: metadata.name, version: metadata.version, start, length, graceSeconds: config.flushGraceSeconds, counts: plainCounts(counts) });
  } catch (e) {
    console.error(`record: ${name} window ${start}: ${counts.n} predictions not counted: ${(e as Error).message}`);
  }
}
