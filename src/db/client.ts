// The drizzle handle every db/ module queries D1 through.
import { drizzle } from 'drizzle-orm/d1';

/** The drizzle handle of a D1 database. */
export const database = (d1: D1Database) => drizzle(d1);
