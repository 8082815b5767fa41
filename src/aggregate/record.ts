// The request side of recording: add the answered batch to this isolate's tally of its model version and window
// (pure arithmetic in monitor/window.ts), and every RECORD_LINGER_MS (default 200) send what was tallied to one shard
// of the model version's aggregator. Runs after the answer is computed; a failure is logged, never thrown at the client.
//
// Tallies are merged per isolate, in place: under load a shard gets a few calls per second per isolate instead of
// one per request, and a request that joins an open tally allocates nothing and waits on nothing. Only the request
// that opens a tally gets a promise, for its ctx.waitUntil: it keeps the isolate alive until a shard stored the batch.
import type { Config, Env } from '../config';
import type { ModelMetadata } from '../serving/metadata';
import { windowLengthOf } from '../serving/package-defaults';
import { addToTally, newTally, plainCounts, tallyCounts, windowStart, type Tally, type WindowCounts } from '../monitor/window';
import type { WindowAggregator } from './aggregator';

/** Durable Object name of one aggregator shard: `model@version#k`. */
export const shardName = (model: string, version: string, shard: number): string => `${model}@${version}#${shard}`;

/** An open tally of one model version and window, waiting in this isolate to be sent. */
interface Open {
  start: number;
  /** When its linger began (the clock of the request that opened it). */
  openedMs: number;
  tally: Tally;
  /** Sent, or taken over by a later request: its own timer must not send it again. */
  done: boolean;
}

/**
 * How long past its linger a tally may stay open before a request takes it over. Its timer runs in the context of
 * the request that opened it; if that context is cancelled first (say, the client went away before the answer), the
 * timer may never fire, and the predictions of every later request joining the tally would never be sent. Late is
 * safe either way: a taken-over tally is sent once, by whichever side gets to it first.
 */
const OVERDUE_MS = 1000;
const isOverdue = (t: Open, nowMs: number, lingerMs: number) => nowMs - t.openedMs > lingerMs + OVERDUE_MS;
/** Open tallies per model version (the registry's metadata object), usually one: the current window's. */
const open = new Map<ModelMetadata, Open[]>();

/**
 * Counts an answered batch into the window containing `nowMs` (the clock is a parameter so tests can place a
 * prediction on a window boundary). The request that opens a tally gets a promise that resolves once a shard stored
 * it (or the failure was logged), to hand to ctx.waitUntil; a request joining an open tally gets undefined.
 */
export function recordBatch(
  env: Env,
  config: Config,
  metadata: ModelMetadata,
  rows: ArrayLike<number>[],
  probabilities: ArrayLike<number>[],
  nowMs: number,
): Promise<void> | undefined {
  const length = windowLengthOf(metadata, config);
  const start = windowStart(Math.floor(nowMs / 1000), length);
  let tallies = open.get(metadata);
  if (!tallies) open.set(metadata, (tallies = []));
  for (const t of tallies)
    if (t.start === start && !isOverdue(t, nowMs, config.recordLingerMs)) {
      addToTally(t.tally, rows, probabilities);
      return undefined;
    }
  // Overdue tallies (of any window) leave the list with this request, which sends them with its own.
  const overdue = tallies.filter((t) => isOverdue(t, nowMs, config.recordLingerMs));
  for (const t of overdue) {
    t.done = true;
    tallies.splice(tallies.indexOf(t), 1);
  }
  const opened: Open = { start, openedMs: nowMs, tally: newTally(metadata.labels.length, metadata.features.length), done: false };
  addToTally(opened.tally, rows, probabilities);
  tallies.push(opened);
  // The linger bounds what a hard crash of the isolate can lose: the predictions answered in the last
  // config.recordLingerMs, plus those of a record() call in flight (docs/architecture.md, "What a crash can lose").
  return new Promise<void>((resolve) => setTimeout(resolve, config.recordLingerMs)).then(async () => {
    // Taken over by a later request while this timer was late: that request sends it.
    if (opened.done) return;
    opened.done = true;
    // Out of the isolate's tallies before the call, so batches arriving meanwhile open the next one.
    tallies.splice(tallies.indexOf(opened), 1);
    const names = metadata.features.map((f) => f.name);
    await Promise.all(
      [opened, ...overdue].map((t) => send(env, config, metadata, t.start, length, tallyCounts(t.tally, metadata.labels, names))),
    );
  });
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
