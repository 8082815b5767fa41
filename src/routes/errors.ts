// The one shape of every error response: {"error": "<what is wrong and where>"}.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export function jsonError(c: Context, status: ContentfulStatusCode, error: string, headers?: Record<string, string>) {
  return c.json({ error }, status, headers);
}

/** The `limit` query parameter: an integer from 1 to `max`, `fallback` when absent; above `max` is an error, not clamped. */
export function parseLimit(raw: string | undefined, fallback: number, max: number): { ok: true; value: number } | { ok: false; error: string } {
  const limit = raw === undefined ? fallback : /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= max)) return { ok: false, error: `limit: expected an integer from 1 to ${max}` };
  return { ok: true, value: limit };
}

/** Parses a JSON body already read as text; a syntax error becomes a 400 naming the position. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text.trim() === '') return { ok: false, error: 'body: empty; expected JSON' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: `body: malformed JSON (${(e as Error).message})` };
  }
}
