// WindowAggregator: one SQLite-backed Durable Object per `model@version#shard`. It adds batch summaries into its
// own durable storage (nothing held only in memory) and, on an alarm after each window ends plus a grace period,
// flushes them to D1 (see flush.ts).
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../config';
import { mergeCounts, emptyCounts, type WindowCounts } from '../monitor/window';

export interface RecordRequest {
  shard: string;
  model: string;
  version: string;
  start: number;
  length: number;
  graceSeconds: number;
  counts: WindowCounts;
}

export class WindowAggregator extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS pending (
        start INTEGER PRIMARY KEY, length INTEGER NOT NULL, shard TEXT NOT NULL, model TEXT NOT NULL,
        version TEXT NOT NULL, flush_at INTEGER NOT NULL, counts TEXT NOT NULL)`);
    });
  }

  /** Adds a batch summary to its window. Durable before it returns (SQLite storage, output gate). */
  async record(req: RecordRequest): Promise<void> {
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ counts: string }>('SELECT counts FROM pending WHERE start = ?', req.start).toArray()[0];
    const merged = row ? mergeCounts(JSON.parse(row.counts) as WindowCounts, req.counts) : mergeCounts(emptyCounts(), req.counts);
    const flushAt = (req.start + req.length + req.graceSeconds) * 1000;
    sql.exec(
      `INSERT INTO pending (start, length, shard, model, version, flush_at, counts) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(start) DO UPDATE SET counts = excluded.counts`,
      req.start, req.length, req.shard, req.model, req.version, flushAt, JSON.stringify(merged),
    );
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > flushAt) await this.ctx.storage.setAlarm(flushAt);
  }
}
