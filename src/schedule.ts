// The minute cron: windows close on the clock, not on traffic. A tick zero-fills windows that got no predictions,
// closes every window all shards had their chance to flush, hands the newly closed ones to evaluation, and prunes
// what is older than the retention. `tick` takes the clock as an argument so tests can drive it.
import { configOf, type Env } from './config';
import { windowLengthOf } from './aggregate/record';
import { closeWindows, pruneWindows, type WindowKey } from './db/windows';
import { registry } from './serving/registry';
import { evaluateClosedWindows, type EvaluationReport } from './evaluate';
import { sweepOutbox } from './alerts/outbox';

export interface TickReport {
  /** Windows this tick closed (with or without traffic). */
  closed: WindowKey[];
  /** Zero-prediction windows written for served models that got no traffic. */
  zeroFilled: number;
  /** Closed windows judged by the detector this tick. */
  evaluation: EvaluationReport;
  /** Deliveries re-enqueued by the outbox sweep. */
  resent: number;
  /** Windows deleted by retention. */
  pruned: number;
}

export async function tick(env: Env, nowMs: number): Promise<TickReport> {
  const config = configOf(env);
  const nowSec = Math.floor(nowMs / 1000);

  // 1. Close: a window is final once every shard had its flush and a margin for retries.
  const closableBefore = nowSec - config.flushGraceSeconds - config.closeMarginSeconds;
  const served = registry.list().map((m) => ({ model: m.name, version: m.version, length: windowLengthOf(m, config) }));
  const { closed, zeroFilled } = await closeWindows(env.DB, served, closableBefore, nowSec);

  // 2. Evaluate every closed window still without a verdict (this tick's, and any an earlier tick could not finish),
  //    in order per model version: verdict, diagnosis, incident transition and its outbox rows.
  const evaluation = await evaluateClosedWindows(env, nowMs);

  // 3. Deliveries whose queue message was lost are sent again.
  const resent = await sweepOutbox(env, nowMs);

  // 4. Retention.
  const pruned = await pruneWindows(env.DB, nowSec - config.retentionDays * 86_400);
  return { closed, zeroFilled, evaluation, resent, pruned };
}
