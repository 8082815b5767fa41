// Shared by the recording tests: aggregator shards of a model, forced flushes, and D1 read back with plain SQL
// (independent of the queries under test).
import { env } from 'cloudflare:workers';
import { configOf } from '../../src/config';
import type { FlushReport, Holdings, WindowAggregator } from '../../src/aggregate/aggregator';
import { shardName } from '../../src/aggregate/record';
import { registry } from '../../src/serving/registry';
import type { ModelMetadata } from '../../src/serving/metadata';

export const config = configOf(env);

export function metadataOf(name: string): ModelMetadata {
  const metadata = registry.metadata(name);
  if (!metadata) throw new Error(`no model ${name}`);
  return metadata;
}

export const stubOf = (name: string) =>
  env.AGGREGATOR.get(env.AGGREGATOR.idFromName(name)) as unknown as DurableObjectStub<WindowAggregator>;

/** Every aggregator shard of a model's served version. */
export const shardsOf = (metadata: ModelMetadata) =>
  Array.from({ length: config.aggregatorShards }, (_, k) => shardName(metadata.name, metadata.version, k)).map(stubOf);

export async function flushAll(metadata: ModelMetadata, nowMs: number): Promise<FlushReport> {
  const reports = await Promise.all(shardsOf(metadata).map((s) => s.flushNow(nowMs)));
  return reports.reduce<FlushReport>(
    (a, b) => ({ flushed: a.flushed + b.flushed, predictions: a.predictions + b.predictions, failed: a.failed + b.failed }),
    { flushed: 0, predictions: 0, failed: 0 },
  );
}

export const holdingsOf = (metadata: ModelMetadata): Promise<Holdings[]> => Promise.all(shardsOf(metadata).map((s) => s.holdings()));

/** A probability vector whose top label is `labels[top]`. */
export function probabilitiesFor(top: number, k: number): Float32Array {
  const p = new Float32Array(k).fill(0.1 / (k - 1));
  p[top] = 0.9;
  return p;
}

export interface StoredWindowRow {
  model: string;
  start: number;
  length: number;
  n: number;
  closed: number;
  sum_confidence: number;
  zero_rows: number;
}

export const windowRow = (model: string, start: number) =>
  env.DB.prepare('SELECT * FROM windows WHERE model = ? AND start = ?').bind(model, start).first<StoredWindowRow>();

export async function labelCounts(model: string, start: number): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare('SELECT label, count FROM window_labels WHERE model = ? AND start = ?')
    .bind(model, start)
    .all<{ label: string; count: number }>();
  return Object.fromEntries(results.map((r) => [r.label, r.count]));
}

export const epochMs = (seconds: number) => seconds * 1000;

/**
 * The aggregator namespace, wrapped to count in `touches` how often anything asks it for a shard: put `namespace` in
 * an env as AGGREGATOR, and a request the monitor must not record leaves the count where it was.
 */
export function aggregatorSpy() {
  const spy = {
    touches: 0,
    namespace: {
      idFromName: (name: string) => {
        spy.touches++;
        return env.AGGREGATOR.idFromName(name);
      },
      get: (id: DurableObjectId) => env.AGGREGATOR.get(id),
      idFromString: (id: string) => env.AGGREGATOR.idFromString(id),
      newUniqueId: () => env.AGGREGATOR.newUniqueId(),
    } as unknown as typeof env.AGGREGATOR,
  };
  return spy;
}

/** A statement of an `interleaved` D1: the real one, and its SQL, which decides when the interleaved step runs. */
class WatchedStatement {
  constructor(
    readonly inner: D1PreparedStatement,
    readonly sql: string,
    private readonly reached: (sql: string[]) => Promise<void>,
  ) {}
  bind(...values: unknown[]) {
    return new WatchedStatement(this.inner.bind(...values), this.sql, this.reached);
  }
  async first(column?: string) {
    await this.reached([this.sql]);
    return column === undefined ? this.inner.first() : this.inner.first(column);
  }
  async all() {
    await this.reached([this.sql]);
    return this.inner.all();
  }
  async run() {
    await this.reached([this.sql]);
    return this.inner.run();
  }
  async raw(options?: { columnNames?: boolean }) {
    await this.reached([this.sql]);
    return options?.columnNames ? this.inner.raw({ columnNames: true }) : this.inner.raw();
  }
}

/**
 * The real D1, with `step` (another writer: the monitor, an operator) run once, just before the first statement or
 * batch that has a statement whose SQL matches `at` reaches it: a race, at exactly the point it is worst.
 */
export function interleaved(d1: D1Database, at: RegExp, step: () => Promise<unknown>): D1Database {
  let pending = true;
  const reached = async (sql: string[]) => {
    if (!pending || !sql.some((s) => at.test(s))) return;
    pending = false;
    await step();
  };
  return {
    prepare: (sql: string) => new WatchedStatement(d1.prepare(sql), sql, reached),
    async batch(statements: WatchedStatement[]) {
      await reached(statements.map((s) => s.sql));
      return d1.batch(statements.map((s) => s.inner));
    },
    exec: (sql: string) => d1.exec(sql),
  } as unknown as D1Database;
}
