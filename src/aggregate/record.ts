// The request side of recording: summarise the answered batch (pure, in monitor/) and hand it to one shard of the
// model version's aggregator. Runs inside ctx.waitUntil, after the response; a failure is logged, never thrown
// at the client.
import type { Config, Env } from '../config';
import type { ModelMetadata } from '../serving/metadata';
import { summarizeBatch, windowStart } from '../monitor/window';

/** Window length of a model: its metadata override, else the configured default. */
export const windowLengthOf = (metadata: ModelMetadata, config: Config): number =>
  metadata.monitor?.window_seconds ?? config.windowSeconds;

/** Durable Object name of one aggregator shard: `model@version#k`. */
export const shardName = (model: string, version: string, shard: number): string => `${model}@${version}#${shard}`;

export async function recordBatch(
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
  // A random shard spreads load over AGGREGATOR_SHARDS objects; flushes are additive so shards sum up in D1.
  const shard = Math.floor(Math.random() * config.aggregatorShards);
  const name = shardName(metadata.name, metadata.version, shard);
  try {
    const stub = env.AGGREGATOR.get(env.AGGREGATOR.idFromName(name)) as unknown as DurableObjectStub<import('./aggregator').WindowAggregator>;
    await stub.record({ shard: name, model: metadata.name, version: metadata.version, start, length, graceSeconds: config.flushGraceSeconds, counts });
  } catch (e) {
    console.error(`record: ${name} window ${start}: ${(e as Error).message}`);
  }
}
