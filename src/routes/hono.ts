// The Worker's Hono apps, on Hono's RegExpRouter alone: one regular expression for all routes. Hono's default, the
// SmartRouter, silently hands every request to its slower TrieRouter (several µs per request, docs/architecture.md,
// "Where a 1-row predict's time goes") as soon as one route does not fit the RegExpRouter; here such a route throws
// when it is registered, so no test gets past it. The TrieRouter stays out of the bundle too.
import type { Env } from 'hono';
import { HonoBase } from 'hono/hono-base';
import { RegExpRouter } from 'hono/router/reg-exp-router';

export const newHono = <E extends Env>() => new HonoBase<E>({ router: new RegExpRouter() });
