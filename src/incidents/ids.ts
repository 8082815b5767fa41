// Ids that sort by creation time (ULIDs, made with the `ulid` package): `inc_…` for incidents, `msg_…` for deliveries
// (the `webhook-id`). Ten Crockford base-32 characters of milliseconds, then sixteen of randomness (80 bits): unique
// without coordination. Ids made in the same millisecond by one isolate count up from the first (ULID's monotonic
// form), so id order is creation order; deliveries rely on it to reach each channel in the order their events
// happened (a cron tick stamps every window it evaluates with the same time). Unlike ulid's monotonicFactory, the
// time is always the one given: tests and replays stamp ids with clocks that go backwards.
import { encodeTime, incrementBase32, TIME_LEN, ulid } from 'ulid';

let lastTime = -1;
let lastRandom = '';

export function sortableId(prefix: 'inc' | 'msg', nowMs: number): string {
  const time = Math.max(0, Math.floor(nowMs));
  if (time === lastTime) lastRandom = incrementBase32(lastRandom);
  else {
    lastTime = time;
    lastRandom = ulid().slice(TIME_LEN);
  }
  return `${prefix}_${encodeTime(time, TIME_LEN)}${lastRandom}`;
}
