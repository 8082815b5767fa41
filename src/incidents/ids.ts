// Ids that sort by creation time (ULIDs in their monotonic form): `inc_…` for incidents, `msg_…` for deliveries (the
// `webhook-id`). Ten Crockford base-32 characters of milliseconds, then sixteen of randomness (80 bits): unique
// without coordination. Ids made in the same millisecond by one isolate count up from the first, so id order is
// creation order; deliveries rely on it to reach each channel in the order their events happened (a cron tick
// stamps every window it evaluates with the same time).

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let time = '';
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time;
  return time;
}

/** The 80-bit random part plus one, as 16 base-32 digits (overflow is as likely as guessing the random part). */
function increment(digits: number[]): number[] {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] < 31) {
      next[i]++;
      return next;
    }
    next[i] = 0;
  }
  return next;
}

export function sortableId(prefix: 'inc' | 'msg', nowMs: number): string {
  const time = Math.max(0, Math.floor(nowMs));
  if (time === lastTime) lastRandom = increment(lastRandom);
  else {
    lastTime = time;
    lastRandom = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b % 32);
  }
  return `${prefix}_${encodeTime(time)}${lastRandom.map((d) => ALPHABET[d]).join('')}`;
}
