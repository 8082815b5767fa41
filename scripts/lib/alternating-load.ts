// One server, two kinds of request, switched back and forth every second under a load that never stops: what the
// difference between them costs, told apart from this machine's noise.
//
// Why not chunks of a few seconds each (bench:monitor's four servers): on this machine, a Firecracker VM with no steal
// time reported, the speed of the same work moves from one second to the next. A pure loop on the idle machine moved
// ±10%; one server's 1-row predict, all of it the same request, ran at 283 to 4105 requests per 250 ms with workerd
// at 100% CPU throughout (a scratch probe, not kept): stalls billed as CPU, whether the host's or the runtime's own.
// Chunks of 4 s, one of each kind, then differ by ±17% (the spread of their ratio from round to round), where the
// cost sought is 1–4%. Switching every second keeps both kinds within the same weather far more often, and a pair's
// ratio is taken where the stalls left both alone or hit both alike; the median over hundreds of pairs, whose order
// alternates, then stands on those pairs, not on the few the stalls hit one-sided. An A/A pair (the same kind twice) in every
// round says how well the run can tell a difference at all.
//
// A phase starts with a settling time that is not measured: requests sent before the switch finish in it, and so does
// the last tally the previous phase's requests opened (it goes to the aggregator up to RECORD_LINGER_MS after it
// opened). Every measured span then holds what its own kind of request causes, in its steady rate.
import { Agent } from 'node:http';
import { bootstrapRounds, failureText, send, sleep } from './bench.ts';

/** One measured span of a phase: its kind, the requests answered in it, its length and the server's CPU in it. */
export interface Span {
  kind: 'a' | 'b';
  requests: number;
  ms: number;
  cpuMs: number;
}

/** A round: a pair of the two kinds compared (`a` against `b`) and an A/A pair of kind `b` twice. */
export interface AlternatingRound {
  a: Span;
  b: Span;
  /** Two spans of `b`; their ratio is the run's noise, with no difference behind it. */
  aa: [Span, Span];
}

export interface AlternatingRun {
  rounds: AlternatingRound[];
  /** Each request that was not answered 2xx (failureText), if any. */
  failed: string[];
}

/**
 * Sends `body` to `url` over `connections` keep-alive connections without a pause for `rounds` rounds of four phases of
 * `phaseMs` each (the first `settleMs` of each unmeasured): kind a, kind b, then b and b for the A/A pair, the pair's
 * order swapping every round (b, a, b, b). Each request carries the headers of the phase it is sent in; it counts
 * for a span only if it is answered within the span it was sent in.
 */
export async function alternatingLoad(opts: {
  url: string;
  body: string;
  connections: number;
  headers: { a: Record<string, string>; b: Record<string, string> };
  rounds: number;
  phaseMs: number;
  settleMs: number;
  cpu: () => number;
  onRound?: (round: AlternatingRound, index: number) => void;
}): Promise<AlternatingRun> {
  const url = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  // The phase now: its headers, and the span being measured (null while settling).
  let headers = opts.headers.a;
  let span: { requests: number } | null = null;
  let stop = false;
  const failed: string[] = [];
  const loops = Array.from({ length: opts.connections }, async () => {
    while (!stop) {
      const sentIn = span;
      const sent = await send(agent, url, opts.body, headers);
      if (sent.status < 200 || sent.status >= 300) failed.push(failureText(sent));
      else if (sentIn !== null && sentIn === span) sentIn.requests++;
    }
  });
  const phase = async (kind: 'a' | 'b'): Promise<Span> => {
    headers = opts.headers[kind];
    span = null;
    await sleep(opts.settleMs);
    const mine = { requests: 0 };
    const [t0, cpu0] = [performance.now(), opts.cpu()];
    span = mine;
    await sleep(opts.phaseMs - opts.settleMs);
    span = null;
    return { kind, requests: mine.requests, ms: performance.now() - t0, cpuMs: opts.cpu() - cpu0 };
  };
  const rounds: AlternatingRound[] = [];
  try {
    for (let i = 0; i < opts.rounds; i++) {
      const first = i % 2 === 0 ? 'a' : 'b';
      const x = await phase(first);
      const y = await phase(first === 'a' ? 'b' : 'a');
      const aa: [Span, Span] = [await phase('b'), await phase('b')];
      const round = first === 'a' ? { a: x, b: y, aa } : { a: y, b: x, aa };
      rounds.push(round);
      opts.onRound?.(round, i);
    }
  } finally {
    stop = true;
    await Promise.all(loops);
    agent.destroy();
  }
  return { rounds, failed };
}

const rate = (s: Span) => s.requests / s.ms;
const cpuPerRequest = (s: Span) => s.cpuMs / s.requests;
/** x against y: in req/s x ÷ y, in CPU per request y ÷ x (above 1: x is the cheaper). */
const pairRatio = (x: Span, y: Span) => ({ rate: rate(x) / rate(y), cpu: cpuPerRequest(y) / cpuPerRequest(x) });

/** A ratio and its 95% interval. */
export type Estimate = { value: number; interval: [number, number] };

export interface AlternatingResult {
  /** a against b: the median of the rounds' pair ratios, in req/s and in CPU per request (b ÷ a). */
  rate: Estimate;
  cpu: Estimate;
  /** The same for the A/A pairs (the first span against the second, the other way round every other two rounds). */
  aaRate: Estimate;
  aaCpu: Estimate;
  /** Pooled over all spans of each kind, as chunked runs report it: dragged by the host's one-sided hits. */
  pooledRate: number;
  pooledCpu: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * The medians of the pair ratios, each with a 95% interval by bootstrap over rounds (2000 draws, seeded: the same
 * spans give the same interval). A span with no request answered (the host took the whole of it) leaves its pair out.
 */
export function summarize(rounds: AlternatingRound[], draws = 2000): AlternatingResult {
  const usable = (x: Span, y: Span) => x.requests > 0 && y.requests > 0 && x.cpuMs > 0 && y.cpuMs > 0;
  const pairs = rounds.filter((r) => usable(r.a, r.b)).map((r) => pairRatio(r.a, r.b));
  // The A/A ratio's direction turns every two rounds, not every round: the pair's order swaps every round, so the
  // span before the A/A pair is `a` every other round, and a direction turning with it would carry whatever that
  // span leaves behind into the A/A figure (a run at e22f49f so read 0.967, its spans read this way 0.994).
  const aaPairs = rounds
    .map((r, i) => (Math.floor(i / 2) % 2 === 0 ? r.aa : ([r.aa[1], r.aa[0]] as const)))
    .filter(([x, y]) => usable(x, y))
    .map(([x, y]) => pairRatio(x, y));
  // The same bootstrap as the chunked runs' intervals (bench.ts): the pairs drawn with replacement, seeded.
  const estimate = (xs: number[]): Estimate => ({ value: median(xs), interval: bootstrapRounds(xs, draws, (drawn) => [median(drawn)])[0]! });
  const sum = (kind: 'a' | 'b') => {
    const spans = rounds.map((r) => r[kind]);
    const requests = spans.reduce((n, s) => n + s.requests, 0);
    return { rate: requests / spans.reduce((n, s) => n + s.ms, 0), cpu: spans.reduce((n, s) => n + s.cpuMs, 0) / requests };
  };
  const [a, b] = [sum('a'), sum('b')];
  return {
    rate: estimate(pairs.map((p) => p.rate)),
    cpu: estimate(pairs.map((p) => p.cpu)),
    aaRate: estimate(aaPairs.map((p) => p.rate)),
    aaCpu: estimate(aaPairs.map((p) => p.cpu)),
    pooledRate: a.rate / b.rate,
    pooledCpu: b.cpu / a.cpu,
  };
}
