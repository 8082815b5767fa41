// Records keyed by names that come from users' data: labels and features. A label may be called `constructor`,
// `toString` or `__proto__`: on a plain object the first two read built-ins where a count is missing, and assigning
// the last one sets the object's prototype instead of a key. Records made here have no prototype, so every name is
// an ordinary key; Maps are the other safe choice.

/**
 * A record without a prototype, holding `entries` (pairs, or the own enumerable keys of an object, which may be a
 * plain object parsed from JSON: JSON.parse makes `__proto__` an own key).
 */
export function nameRecord<T>(entries?: Iterable<readonly [string, T]>): Record<string, T>;
export function nameRecord<T>(record: Readonly<Record<string, T>>): Record<string, T>;
export function nameRecord<T>(entries: Iterable<readonly [string, T]> | Readonly<Record<string, T>> = []): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  const pairs = Symbol.iterator in entries ? (entries as Iterable<readonly [string, T]>) : Object.entries(entries as Record<string, T>);
  for (const [name, value] of pairs) out[name] = value;
  return out;
}

/** The value under `name` if the record has it as its own key (never an inherited built-in). */
export const own = <T>(record: Readonly<Record<string, T>>, name: string): T | undefined =>
  Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined;

/** A count keyed by a label: its own value, 0 when absent (a label called `constructor` counts like any other). */
export const countOf = (counts: Readonly<Record<string, number>>, label: string): number => own(counts, label) ?? 0;
