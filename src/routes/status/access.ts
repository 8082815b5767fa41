// Who may see the status page. Open when STATUS_TOKEN is unset (the local default); otherwise the token as a bearer
// header, or a cookie set once by opening the page with ?token=<token>, so a bookmark or a wall screen works
// without a header and without the token staying in the address bar, history or referrers.
import type { MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { configOf, type Env } from '../../config';
import { bearerToken, secretsEqual } from '../auth';
import { prefersHtml, tokenRequired } from './error-pages';

export const STATUS_COOKIE = 'labelwatch_status';
/** Set for a minute after a browser offered a wrong token, so that the form it is sent back to can say so. */
const REJECTED_COOKIE = 'labelwatch_status_rejected';
const COOKIE_MAX_AGE = 30 * 86_400;

/**
 * The cookie holds a digest of the token, not the token: it opens this page only, and a cookie that leaks does not
 * hand out a secret that may be reused elsewhere.
 */
async function cookieValue(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`labelwatch status page\u0000${token}`));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export const statusAccess: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const token = configOf(c.env).statusToken;
  if (token === null) return next();
  const url = new URL(c.req.url);
  const offered = url.searchParams.get('token');
  if (offered !== null) {
    const accepted = await secretsEqual(offered, token);
    // The one failure the answer tells apart, to the person who just typed the token; which other check failed is
    // nobody's business. Other clients get the 401 at once.
    if (!accepted && !prefersHtml(c.req.header('accept'))) return tokenRequired(c, true);
    const cookie = { httpOnly: true, sameSite: 'Strict', secure: url.protocol === 'https:', path: '/' } as const;
    // Either way a browser is sent on without the token: a near-miss is almost the secret, and must not stay in its
    // address bar or history either. A wrong one leaves a minute-long mark instead, for the form to say so.
    if (accepted) setCookie(c, STATUS_COOKIE, await cookieValue(token), { ...cookie, maxAge: COOKIE_MAX_AGE });
    else setCookie(c, REJECTED_COOKIE, '1', { ...cookie, maxAge: 60 });
    url.searchParams.delete('token');
    c.header('cache-control', 'no-store');
    c.header('referrer-policy', 'no-referrer');
    return c.redirect(`${url.pathname}${url.search}`, 303);
  }
  const bearer = bearerToken(c.req.header('authorization'));
  if (bearer !== null) return (await secretsEqual(bearer, token)) ? next() : tokenRequired(c, false);
  const cookie = getCookie(c, STATUS_COOKIE);
  if (cookie !== undefined && (await secretsEqual(cookie, await cookieValue(token)))) return next();
  const rejected = getCookie(c, REJECTED_COOKIE) !== undefined;
  if (rejected) deleteCookie(c, REJECTED_COOKIE, { path: '/' });
  return tokenRequired(c, rejected);
};
