// WindowAggregator: one SQLite-backed Durable Object per `model@version#shard`. It adds batch summaries into its
// own durable storage (nothing held only in memory) and, on an alarm after each window ends plus a grace period,
// flushes them to D1 with one additive, idempotent batch per window (db/windows.ts flushWindow).
//
// Two tables: `pending` accumulates open windows; a due window is moved to `sealed` (immutable, numbered by `seq`)
// before it is sent, and deleted only once D1 committed it. A prediction arriving while or after its window is sent
// starts a new pending row, which later goes out as the next `seq` of the same window: never lost, never doubled.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../config';
import { flushWindow } from '../db/windows';
import { mergeCounts, emptyCounts, parseCounts, type WindowCounts } from '../monitor/window';

export interface RecordRequest {
  shard: string;
  model: string;
  version: string;
  start: number;
  length: number;
  graceSeconds: number;
  counts: WindowCounts;
}

export interface FlushReport {
  /** Windows D1 accepted. */
  flushed: number;
  /** Predictions in them. */
  predictions: number;
  /** Windows D1 refused; kept, retried later. */
  failed: number;
}

/** What the object holds right now (tests, debugging). */
export interface Holdings {
  pending: { start: number; length: number; flushAt: number; counts: WindowCounts }[];
  sealed: { seq: number; start: number; length: number; attempts: number; retryAt: number; counts: WindowCounts }[];
  /** Epoch ms of the next alarm, or null. */
  alarm: number | null;
}

/** Retry delay after the n-th failed flush of a window: 10 s, 20 s, 40 s, ... capped at 5 min. */
export const retryDelayMs = (attempts: number): number => Math.min(300_000, 10_000 * 2 ** (attempts - 1));

interface SealedRow extends Record<string, SqlStorageValue> {
  seq: number;
  start: number;
  length: number;
  shard: string;
  model: string;
  version: string;
  counts: string;
  attempts: number;
  retry_at: number;
}

export class WindowAggregator extends DurableObject<Env> {
  /**
   * The `pending` rows' counts as last written, by window start: a copy of SQLite, which stays the truth. It saves
   * record() a read and a JSON parse per call; it is empty after a restart and filled again from SQLite on demand.
   */
  private readonly pendingCounts = new Map<number, WindowCounts>();
  /** The alarm as last set or read here (epoch ms or null); undefined when unknown, which makes record() ask. */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS pending (
        start INTEGER PRIMARY KEY, length INTEGER NOT NULL, shard TEXT NOT NULL, model TEXT NOT NULL,
        version TEXT NOT NULL, flush_at INTEGER NOT NULL, counts TEXT NOT NULL)`);
      // AUTOINCREMENT: a seq is never reused, even after its row is deleted; it is half of D1's idempotency key.
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS sealed (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, start INTEGER NOT NULL, length INTEGER NOT NULL, shard TEXT NOT NULL,
        model TEXT NOT NULL, version TEXT NOT NULL, counts TEXT NOT NULL, attempts INTEGER NOT NULL,
        retry_at INTEGER NOT NULL)`);
    });
  }

  /** Adds a batch summary to its window. Durable before it returns (SQLite storage, output gate). */
  async record(req: RecordRequest): Promise<void> {
    const sql = this.ctx.storage.sql;
    let held = this.pendingCounts.get(req.start);
    if (!held) {
      const row = sql.exec<{ counts: string }>('SELECT counts FROM pending WHERE start = ?', req.start).toArray()[0];
      held = row ? parseCounts(row.counts) : emptyCounts();
    }
    const merged = mergeCounts(held, req.counts);
    const flushAt = (req.start + req.length + req.graceSeconds) * 1000;
    sql.exec(
      `INSERT INTO pending (start, length, shard, model, version, flush_at, counts) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(start) DO UPDATE SET counts = excluded.counts`,
      req.start, req.length, req.shard, req.model, req.version, flushAt, JSON.stringify(merged),
    );
    this.pendingCounts.set(req.start, merged);
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt === null || this.alarmAt > flushAt) {
      await this.ctx.storage.setAlarm(flushAt);
      this.alarmAt = flushAt;
    }
  }

  async alarm(): Promise<void> {
    // The alarm that fired is spent; rearm() sets the next one. Unknown until then.
    this.alarmAt = undefined;
    await this.flushNow(Date.now());
  }

  /**
   * Flushes every window due at `nowMs` (flush time passed, or retry time of a failed flush passed), one D1 batch
   * each, then re-arms the alarm for what is left. The alarm calls it with the clock; tests force it.
   */
  async flushNow(nowMs: number): Promise<FlushReport> {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      sql.exec(
        `INSERT INTO sealed (start, length, shard, model, version, counts, attempts, retry_at)
         SELECT start, length, shard, model, version, counts, 0, ? FROM pending WHERE flush_at <= ? ORDER BY start`,
        nowMs, nowMs,
      );
      sql.exec('DELETE FROM pending WHERE flush_at <= ?', nowMs);
    });
    // The sealed windows left `pending`; whatever else is there is read back from SQLite when next needed.
    this.pendingCounts.clear();
    const due = sql.exec<SealedRow>('SELECT * FROM sealed WHERE retry_at <= ? ORDER BY seq', nowMs).toArray();
    const report: FlushReport = { flushed: 0, predictions: 0, failed: 0 };
    // One window at a time: D1 runs one query at a time anyway, and a window D1 refuses does not hold up the others.
    for (const row of due) {
      const counts = parseCounts(row.counts);
      try {
        await flushWindow(this.env.DB, { ...row, counts }, Math.floor(nowMs / 1000));
        sql.exec('DELETE FROM sealed WHERE seq = ?', row.seq);
        report.flushed++;
        report.predictions += counts.n;
      } catch (e) {
        const attempts = row.attempts + 1;
        sql.exec('UPDATE sealed SET attempts = ?, retry_at = ? WHERE seq = ?', attempts, nowMs + retryDelayMs(attempts), row.seq);
        report.failed++;
        console.error(`flush ${row.shard} window ${row.start} (seq ${row.seq}, attempt ${attempts}): ${(e as Error).message}`);
      }
    }
    await this.rearm();
    return report;
  }

  /** Sets the alarm to the earliest flush or retry still to do, or clears it. */
  private async rearm(): Promise<void> {
    const next = this.ctx.storage.sql
      .exec<{ at: number | null }>('SELECT min(at) AS at FROM (SELECT min(flush_at) AS at FROM pending UNION ALL SELECT min(retry_at) FROM sealed)')
      .one().at;
    this.alarmAt = undefined;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
    this.alarmAt = next;
  }

  async holdings(): Promise<Holdings> {
    const sql = this.ctx.storage.sql;
    return {
      pending: sql
        .exec<{ start: number; length: number; flush_at: number; counts: string }>('SELECT start, length, flush_at, counts FROM pending ORDER BY start')
        .toArray()
        .map((r) => ({ start: r.start, length: r.length, flushAt: r.flush_at, counts: JSON.parse(r.counts) as WindowCounts })),
      sealed: sql
        .exec<SealedRow>('SELECT * FROM sealed ORDER BY seq')
        .toArray()
        .map((r) => ({ seq: r.seq, start: r.start, length: r.length, attempts: r.attempts, retryAt: r.retry_at, counts: JSON.parse(r.counts) as WindowCounts })),
      alarm: await this.ctx.storage.getAlarm(),
    };
  }
}
