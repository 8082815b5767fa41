// Bearer-token checks with constant-time comparison. Tokens never reach a log or a response.
import type { MiddlewareHandler } from 'hono';
import { jsonError } from './errors';

const encoder = new TextEncoder();

/** Compares two secrets in time independent of where they differ (hashing first equalises lengths). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}

export function bearerToken(header: string | undefined): string | null {
  const m = header?.match(/^Bearer\s+(.+)$/i);
  return m ? m[1]!.trim() : null;
}

export async function matchesAny(token: string | null, keys: string[]): Promise<boolean> {
  if (token === null) return false;
  let ok = false;
  // Check every key so the time taken does not reveal which one matched.
  for (const key of keys) if (await secretsEqual(token, key)) ok = true;
  return ok;
}

/** Requires one of `keys()` as a bearer token when any is configured; open otherwise. */
export function requireApiKey(keys: (env: unknown) => string[]): MiddlewareHandler {
  return async (c, next) => {
    const allowed = keys(c.env);
    if (allowed.length === 0) return next();
    if (!(await matchesAny(bearerToken(c.req.header('authorization')), allowed)))
      return jsonError(c, 401, 'authorization: a valid "Authorization: Bearer <api key>" header is required', {
        'www-authenticate': 'Bearer realm="labelwatch"',
      });
    return next();
  };
}
