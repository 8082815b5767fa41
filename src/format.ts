// How numbers and times read for people, on the status page and in alerts alike: UTC clock times, ISO 8601 instants,
// relative ages, shares as percentages (one rounding everywhere, so an alert and the page say the same), truncation,
// and URLs kept out of error texts.


/** Month names as every time on the page and in alerts writes them (UTC). */
export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** "14:05", with `withSeconds` "14:05:30", with `withDate` "Nov 28 14:05" (UTC: on-call across time zones needs one clock). */
export function clock(t: number, withDate = false, withSeconds = false): string {
  const d = new Date(t * 1000);
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${withSeconds ? `:${pad(d.getUTCSeconds())}` : ''}`;
  return withDate ? `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${hm}` : hm;
}

/** "45 s", "23 min", "3 h 10 min", "2 d 4 h". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3_600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h${s % 3_600 >= 60 ? ` ${Math.floor((s % 3_600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86_400)} d${s % 86_400 >= 3_600 ? ` ${Math.floor((s % 86_400) / 3_600)} h` : ''}`;
}

/** A window or bar length: "1 min", "30 s", "1 h". */
export const lengthWords = (seconds: number): string =>
  seconds % 3_600 === 0 ? `${seconds / 3_600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;

/** Epoch seconds as ISO 8601 (UTC, milliseconds): what APIs and payloads carry. */
export const iso = (epochSeconds: number): string => new Date(epochSeconds * 1000).toISOString();

/**
 * A client-chosen name (a model, a version, a key) as an error message quotes it: JSON-quoted, so a `"` in it cannot
 * end the quote early, and cut to `max` characters, so a long URL or key is not echoed back whole.
 */
export const quoted = (name: string, max: number): string => JSON.stringify(name.length > max ? name.slice(0, max) + '…' : name);

/** The text cut to at most `max` characters, the last one an ellipsis when it was cut. */
export const truncate = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export const ago = (t: number, nowSeconds: number): string => `${duration(nowSeconds - t)} ago`;

/** A share as a percentage; one decimal near 0 and 100, where "100%" would hide the last few other answers. */
export function percent(share: number): string {
  const p = share * 100;
  if ((p > 99 && p < 100) || (p > 0 && p < 1)) return `${p.toFixed(1)}%`;
  return `${Math.round(p)}%`;
}

/** A measurement with 3 significant digits, without exponent noise for values like 1.3e-15. */
export function number(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (Math.abs(x) < 5e-4) return '0';
  if (Math.abs(x) >= 1e4) return Math.round(x).toLocaleString('en-US');
  return String(Number(x.toPrecision(3)));
}

export const VERDICT_WORDS: Record<string, string> = {
  healthy: 'healthy',
  drift: 'healthy, drifting',
  collapsed: 'collapsed',
  partial_collapse: 'partial collapse',
  insufficient_data: 'insufficient data',
  no_traffic: 'no traffic',
  receiving: 'receiving, not judged yet',
  model_defect: 'model defect',
};
export const verdictWords = (v: string | null): string => (v === null ? 'not evaluated yet' : (VERDICT_WORDS[v] ?? v.replaceAll('_', ' ')));

/** Error texts may quote a receiver's URL (and a Slack URL is its secret): stored errors and the page show none. */
export const redactUrls = (text: string): string => text.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '[url]');

/** The most frequent label of a count table and its share (null when nothing was counted); first on ties. */
export function topLabel(counts: Record<string, number>): { total: number; top: { label: string; share: number } | null } {
  let total = 0;
  let top: { label: string; count: number } | null = null;
  for (const [label, c] of Object.entries(counts)) {
    total += c;
    if (top === null || c > top.count) top = { label, count: c };
  }
  return { total, top: top && total > 0 ? { label: top.label, share: top.count / total } : null };
}
