// The one shape of every error response: {"error": "<what is wrong and where>"}.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { quoted } from '../format';

export function jsonError(c: Context, status: ContentfulStatusCode, error: string, headers?: Record<string, string>) {
  return c.json({ error }, status, headers);
}

/** A client-chosen model name, version or id as a 404 quotes it (format.ts, `quoted`): served names are at most 64. */
export const quotedName = (name: string): string => quoted(name, 64);

/** A handler answering 405 with the Allow header, for the methods a path does not serve. */
export const methodNotAllowed = (allow: string) => (c: Context) =>
  jsonError(c, 405, `method: ${c.req.method} is not allowed here (allowed: ${allow})`, { allow });

/** Parses a JSON body already read as text; a syntax error becomes a 400 naming the position. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text.trim() === '') return { ok: false, error: 'body: empty; expected JSON' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: `body: malformed JSON (${(e as Error).message})` };
  }
}
