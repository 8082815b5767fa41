// The drizzle handle every db/ module queries D1 through, and the two things its query builders cannot say: a batch
// with raw statements, and an insert that happens only where a condition holds.
import { getTableColumns, is, sql, SQL, type Query } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { SQLiteAsyncDialect, type SQLiteTable } from 'drizzle-orm/sqlite-core';

/** The drizzle handle of a D1 database. */
export const database = (d1: D1Database) => drizzle(d1);

const dialect = new SQLiteAsyncDialect();

/**
 * A D1 statement from drizzle (a query builder or a `sql` template). Batches with raw `sql` go through D1's own
 * batch: drizzle-orm 0.45's D1 batch() cannot bind the parameters of a raw statement (SQLiteRaw has no prepared stmt).
 */
export function statement(d1: D1Database, query: SQL | { toSQL(): Query }): D1PreparedStatement {
  const { sql: text, params } = is(query, SQL) ? dialect.sqlToQuery(query) : query.toSQL();
  return d1.prepare(text).bind(...params);
}

/**
 * `INSERT INTO table (...) SELECT ... WHERE condition`: the row, encoded by its columns as drizzle's insert would
 * (JSON columns as JSON; a column left out gets its SQL default, never a drizzle $defaultFn), inserted only if
 * `condition` holds when the statement runs. In one batch, statements that share a guard all happen or none.
 */
export function insertWhere<T extends SQLiteTable>(table: T, row: T['$inferInsert'], condition: SQL): SQL {
  const values = row as Record<string, unknown>;
  const columns = Object.entries(getTableColumns(table)).filter(([key]) => values[key] !== undefined);
  return sql`INSERT INTO ${table} (${sql.join(
    columns.map(([, column]) => sql.identifier(column.name)),
    sql`, `,
  )}) SELECT ${sql.join(
    columns.map(([key, column]) => sql.param(values[key], column)),
    sql`, `,
  )} WHERE ${condition}`;
}
