// Query parameters of the JSON API, one schema each: they check and convert the strings, give the handlers their
// types, and describe the parameters in /openapi.json. Errors name the parameter: `limit: expected an integer ...`.
import * as v from 'valibot';

/** 9999-12-31T23:59:59Z: the default `until`, and the largest instant accepted. */
export const MAX_EPOCH = 253_402_300_799;

const EPOCH = /^\d+(\.\d+)?$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Whether the day of an ISO 8601 text (`YYYY-MM-DD…`) exists in its month. Date.parse refuses a day 0 or above 31
 * and a month 0 or above 12, but rolls a day the month lacks over into the next one (2026-02-30 is 2 March).
 */
function dayExists(value: string): boolean {
  const [year, month, day] = [value.slice(0, 4), value.slice(5, 7), value.slice(8, 10)].map(Number) as [number, number, number];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31);
}

/** Epoch seconds from `1767225600` or an ISO 8601 date (`2026-01-01`, `2026-01-01T10:00:00Z`); null if neither. */
export function parseInstant(value: string): number | null {
  const seconds = EPOCH.test(value) ? Number(value) : ISO_8601.test(value) && dayExists(value) ? Date.parse(value) / 1000 : NaN;
  return Number.isFinite(seconds) && seconds <= MAX_EPOCH ? Math.floor(seconds) : null;
}

/** An instant: epoch seconds or ISO 8601; `fallback` when absent. */
const instant = (fallback: number, description: string) =>
  v.pipe(
    // Absent is the fallback, which the pipe then reads like any value (the object runs entries with a default).
    v.optional(v.string(), String(fallback)),
    v.description(description),
    v.check((s) => parseInstant(s.trim()) !== null, 'expected epoch seconds or an ISO 8601 date'),
    v.transform((s) => parseInstant(s.trim())!),
  );

/** `limit`: an integer from 1 to `max`, `fallback` when absent; above `max` is an error, not clamped. */
export const limit = (fallback: number, max: number) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.description(`Rows at most, from 1 to ${max} (default ${fallback}).`),
    v.check((s) => /^\d+$/.test(s.trim()) && Number(s) >= 1 && Number(s) <= max, `expected an integer from 1 to ${max}`),
    v.transform((s) => Number(s)),
  );

/** An optional text filter; blank is the same as absent. */
const filter = (description: string) =>
  v.pipe(
    v.optional(v.string()),
    v.description(description),
    v.transform((s) => s?.trim() || undefined),
  );

export const WINDOWS_DEFAULT_LIMIT = 100;
export const WINDOWS_MAX_LIMIT = 1000;

export const WindowsQuery = v.pipe(
  v.object({
    since: instant(0, 'Windows starting at or after this instant: epoch seconds or ISO 8601 (default: the beginning).'),
    until: instant(MAX_EPOCH, 'Windows starting before this instant: epoch seconds or ISO 8601 (default: no end).'),
    limit: limit(WINDOWS_DEFAULT_LIMIT, WINDOWS_MAX_LIMIT),
  }),
  v.forward(
    v.check((q) => q.until > q.since, (issue) => `must be after since (${(issue.input as { since: number }).since})`),
    ['until'],
  ),
);

export const INCIDENTS_DEFAULT_LIMIT = 50;
export const INCIDENTS_MAX_LIMIT = 500;
export const INCIDENT_FILTERS = ['open', 'acknowledged', 'resolved', 'active'] as const;

export const IncidentsQuery = v.object({
  status: v.pipe(
    filter('open, acknowledged, resolved, or active (open or acknowledged).'),
    v.check((s) => s === undefined || (INCIDENT_FILTERS as readonly string[]).includes(s), `expected one of ${INCIDENT_FILTERS.join(', ')}`),
    v.transform((s) => s as (typeof INCIDENT_FILTERS)[number] | undefined),
  ),
  model: filter('Only incidents of this model.'),
  limit: limit(INCIDENTS_DEFAULT_LIMIT, INCIDENTS_MAX_LIMIT),
});

/** The query of a request checked against its schema: the typed values, or the first error naming the parameter. */
export function parseQuery<S extends v.GenericSchema<Record<string, string | undefined>, unknown>>(
  schema: S,
  query: Record<string, string>,
): { ok: true; value: v.InferOutput<S> } | { ok: false; error: string } {
  const result = v.safeParse(schema, query, { abortEarly: true });
  if (result.success) return { ok: true, value: result.output };
  const issue = result.issues[0];
  return { ok: false, error: `${String(issue.path?.[0]?.key ?? 'query')}: ${issue.message}` };
}
