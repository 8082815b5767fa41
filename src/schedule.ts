// The minute cron: windows close on the clock, not on traffic. A tick zero-fills windows that got no predictions,
// closes every window all shards had their chance to flush, hands the newly closed ones to evaluation, and prunes
// what is older than the retention. `tick` takes the clock as an argument so tests can drive it.
import { configOf, type Env } from './config';
import { closeWindows, pruneWindows, type WindowKey } from './db/windows';
import { windowLengthOf } from './serving/package-defaults';
import { registry } from './serving/registry';
import { evaluateClosedWindows, type EvaluationReport } from './evaluate';
import { sweepOutbox } from './incidents/outbox';

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
  const { closed, zeroFilled } = await step('close', () => closeWindows(env.DB, served, closableBefore, nowSec), { closed: [], zeroFilled: 0 });

  // 2. Evaluate every closed window still without a verdict (this tick's, and any an earlier tick could not finish),
  //    in order per model version: verdict, diagnosis, incident transition and its outbox rows.
  const evaluation = await step('evaluate', () => evaluateClosedWindows(env, nowMs), { evaluated: 0, flagged: 0, failed: 1, defects: 0 });

  // 3. Deliveries whose queue message was lost are sent again.
  const resent = await step('sweep outbox', () => sweepOutbox(env, nowMs), 0);

  // 4. Retention.
  const pruned = await step('prune', () => pruneWindows(env.DB, nowSec - config.retentionDays * 86_400), 0);
  return { closed, zeroFilled, evaluation, resent, pruned };
}

/**
 * Runs one step of the tick; a failure is logged and the next steps still run (a D1 error while closing must not
 * stop the outbox sweep, which is what guarantees no alert is lost). Each step is retried by the next tick.
 */
async function step<T>(name: string, run: () => Promise<T>, onFailure: T): Promise<T> {
  try {
    return await run();
  } catch (e) {
    console.error(`tick: ${name} failed: ${(e as Error).message}`);
    return onFailure;
  }
}
