// Monitoring benchmark (not a test): what recording every prediction costs the hot path, and how many D1 statements
// it takes. Four servers run side by side, identical but for MONITORING: two off and two on (each with its own local
// state, 60 s windows, the default, so flushes cost what they cost in production, and 1 s grace). Two of each,
// because two processes of the very same server differ by a few percent on this machine (which core, which memory, how
// the JIT went): the second pair is the control, "A/A", that says how large a difference this run can tell from
// noise. For the same reason the servers are started afresh for every trial (TRIALS of them, the start order
// rotating too), on the same state: one process's luck then weighs one trial, not the whole result. Within a trial,
// single-row predict is sent to them in chunks (off a, on a, off b, on b, then the same order starting one later, …:
// ROUNDS × 4 chunks of about CHUNK_S seconds each), so that other load on the machine hits all alike. Throughput is
// completed requests over the elapsed time measured here; server CPU per request is the CPU time of a server's
// processes over each trial (including the background flushes) over the requests it answered. Then, for the "on"
// servers, it waits until D1 holds every prediction answered 200 in all trials and counts the flushes the
// aggregator shards executed (the `flushes` table: one row per D1 batch).
//
// Then, on each stack, both modes in one server (MONITORING=by-header: requests with `x-labelwatch-monitoring: off`
// are not recorded) under a load that never pauses, its header switching every second, over TRIALS fresh starts: the
// same comparison without the difference between two processes, which the A/A control shows to be as large as the
// cost sought (scripts/lib/alternating-load.ts says why it switches so often, and why its figure is a median).
//
// It does that twice: through `wrangler dev` (127.0.0.1:8792 and 8790 off, 8791 and 8789 on; what the README's
// figures have always used) and on workerd through Miniflare's API without the wrangler dev proxy (8833 and 8835
// off, 8834 and 8836 on). Prints markdown tables with the targets and ✓ or ✗; exits 0 either way (it is a
// measurement, not a test).
//
// The wrangler dev servers run on snapshots of the tree in temp dirs (scripts/lib/bench.ts says why), with their local
// state, on tmpfs where the machine has one (stateParent in scripts/lib/bench.ts says why).
//
// Every on / off ratio comes with its 95% interval over the rounds (ratioInterval in scripts/lib/bench.ts); for one
// server, a line says whether the run tells the result from the target.
//
// Run: npm run bench:monitor (TRIALS=3 and ROUNDS=4 by default). The load generator shares the machine with workerd:
// absolute req/s are relative, the on/off ratios measured in one run are the result.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { flushStatementCount } from '../src/db/windows.ts';
import { emptyCounts } from '../src/monitor/window.ts';
import { cli } from './lib/args.ts';
import { cpuMs, describeFailures, failureNote, groupMeter, HOST, mark, positive, ratioInterval, recordLingerMs, type Round, Sandbox, sideOf, sleep, span, stateParent, sumRuns, timedLoad, type TimedRun, TREE, treeLine } from './lib/bench.ts';
import { MONITORING_HEADER } from '../src/config.ts';
import { alternatingLoad, type AlternatingResult, type AlternatingRound, type Estimate, summarize } from './lib/alternating-load.ts';
import { buildBundle, removeBundle, startMiniflare, type MiniflareWorker } from './lib/miniflare.ts';

type Mode = 'off' | 'on';
/** The four servers: two identical ones per mode ("a" and "b"), each with its own state. */
type Slot = 'off a' | 'on a' | 'on b' | 'off b';
/**
 * The order of the first round; each next round starts one later (off a, on a, off b, on b; then on a, off b, on b,
 * off a; …). So over every four rounds each server sits first, second, third and last once, modes alternate, and no
 * server ever serves two chunks back to back: a reversed order (ABBA) gives the servers at its ends a second chunk on
 * warm caches at every turn, and those in the middle none.
 */
const SLOTS: Slot[] = ['off a', 'on a', 'off b', 'on b'];
const roundOrder = (round: number): Slot[] => SLOTS.map((_, i) => SLOTS[(i + round) % SLOTS.length]!);
const modeOf = (slot: Slot): Mode => (slot.startsWith('on') ? 'on' : 'off');
const WRANGLER: Record<Slot, { port: number; inspector: number }> = {
  'off a': { port: 8792, inspector: 9792 },
  'on a': { port: 8791, inspector: 9791 },
  'off b': { port: 8790, inspector: 9790 },
  'on b': { port: 8789, inspector: 9789 },
};
const MINIFLARE: Record<Slot, number> = { 'off a': 8833, 'on a': 8834, 'off b': 8835, 'on b': 8836 };
/**
 * About 4 s a chunk. In rounds of four, rotated by one, a server waits two chunks between its own (or six, once a
 * round). `wrangler dev` keeps its proxy's connections to the Worker's runtime pooled, and both ends drop an idle one
 * after 5 s (kj's client idleTimeout and server pipelineTimeout): a POST written as they do fails, and the proxy
 * answers it 503 "Your worker restarted mid-request" though nothing restarted (workers-sdk#14641; wrangler 4.86.0
 * does not retry a POST). At 2.5 s chunks two of them were 5 s, and up to all ten connections of a chunk's first
 * sends failed so; at 4 s the shortest wait is about 8 s, when both ends have long let go.
 */
const CHUNK_S = 4;
const WARMUP_REQUESTS = 300;
const CONNECTIONS = 10;
const MODEL = 'penguins';
const WINDOW_SECONDS = 60;
const GRACE_SECONDS = 1;
const SHARDS = 4;
/** Fresh starts of the four servers; rounds of four chunks in each. */
const TRIALS = positive('TRIALS', 3);
const ROUNDS = positive('ROUNDS', 4);
const TARGET_RATIO = 0.97;
/** One server: seconds of switching per fresh start, and how often it switches (alternatingLoad says why so often). */
const ONE_SERVER_S = positive('ONE_SERVER_S', 60);
const PHASE_MS = 1000;
/** Whether the Worker has MONITORING=by-header, which one server's comparison needs (a BENCH_TREE from before it has not). */
const BY_HEADER = readFileSync(join(TREE, 'src', 'config.ts'), 'utf8').includes("'by-header'");
const LINGER_MS = recordLingerMs();
const VARS = {
  WINDOW_SECONDS: String(WINDOW_SECONDS),
  FLUSH_GRACE_SECONDS: String(GRACE_SECONDS),
  AGGREGATOR_SHARDS: String(SHARDS),
  RECORD_LINGER_MS: String(LINGER_MS),
};

const flags = cli(
  'bench-monitor',
  `usage: npm run bench:monitor   (TRIALS=<n> fresh starts of the servers, default 3; ROUNDS=<n> rounds of four chunks
  in each, default 4; RECORD_LINGER_MS=<ms> for another linger than the default; STATE_DIR=<dir> for the servers'
  local state, default /dev/shm where there is one: local SQLite's disk sync is not a cost of the Worker on Cloudflare;
  BENCH_TREE=<dir> to serve another checkout's Worker, for a before-and-after pair; ONE_SERVER_S=<s> seconds of
  the one-server comparison per fresh start, default 60)

Starts four wrangler dev side by side, two with monitoring off (${HOST}:${WRANGLER['off a'].port}, ${WRANGLER['off b'].port}) and two on
(${WRANGLER['on a'].port}, ${WRANGLER['on b'].port}), each on a snapshot of the tree (in temp dirs, removed at the end, on an error, and on
Ctrl-C or SIGTERM), sends 1-row predict to them in interleaved chunks (req/s and server CPU per request; the second
server of each mode is the A/A control), starting them afresh for each trial, then does the same on workerd through Miniflare without the wrangler dev
proxy (${MINIFLARE['off a']}, ${MINIFLARE['off b']} off; ${MINIFLARE['on a']}, ${MINIFLARE['on b']} on); checks that D1 holds every prediction answered 200
and counts the D1 statements. Prints markdown tables with the targets and ✓ or ✗, and exits
0 either way.

  --one-server        only the comparison within one server (MONITORING=by-header), where the processes' own
                      difference is out of it: for a long run that narrows its interval (with ONE_SERVER_S=<s>); no
                      four-server tables and no D1 check
  --stack <which>     with --one-server: wrangler or miniflare, only that stack (default both)
  --spans <file>      with --one-server: measure nothing, print the tables again from the spans a run wrote to
                      SPANS_JSON=<file>
  -h, --help          this text`,
  process.argv.slice(2),
  { 'one-server': { type: 'boolean' }, stack: { type: 'string' }, spans: { type: 'string' } },
);
const ONE_SERVER = flags['one-server'] === true;
const STACKS = flags.stack === undefined ? ['wrangler', 'miniflare'] : [flags.stack];
if (!STACKS.every((s) => s === 'wrangler' || s === 'miniflare')) {
  process.stderr.write(`bench-monitor: --stack takes wrangler or miniflare, not ${JSON.stringify(flags.stack)}\n`);
  process.exit(2);
}
if ((flags.stack !== undefined || flags.spans !== undefined) && !ONE_SERVER) {
  process.stderr.write('bench-monitor: --stack and --spans go with --one-server (the four-server run needs both stacks for its D1 check)\n');
  process.exit(2);
}
if (ONE_SERVER && !BY_HEADER) {
  process.stderr.write('bench-monitor: --one-server needs MONITORING=by-header, which BENCH_TREE\'s Worker has not\n');
  process.exit(2);
}

// One snapshot and wrangler dev per server; each is removed (and its server stopped) when the process exits.
const STATE = stateParent();
const sandboxes = Object.fromEntries(SLOTS.map((slot) => [slot, new Sandbox(`labelwatch-bench-monitor-${slot.replace(' ', '-')}-`, STATE.dir)])) as Record<Slot, Sandbox>;

/** One server under test, however it runs. */
interface Server {
  base: string;
  cpu: () => number;
  /** Predictions D1 holds for the model. */
  counted: () => Promise<number>;
  stop: () => Promise<void>;
}

/**
 * A way to run the servers: starts one (on its slot's own state, kept from one start to the next), with its slot's
 * MONITORING or the one given.
 */
interface Stack {
  title: string;
  start: (slot: Slot, monitoring?: 'by-header') => Promise<Server>;
}

const meta = JSON.parse(readFileSync(join(TREE, 'models', MODEL, 'metadata.json'), 'utf8')) as {
  labels: string[];
  features: { name: string }[];
  probes: { input: number[] }[];
};
const oneRow = JSON.stringify({ instances: [meta.probes[0].input] });
const predictUrl = (s: Server) => `${s.base}/v1/models/${MODEL}:predict`;

/** Predictions D1 holds for the model, read through the Worker's own windows API. */
async function countedViaApi(base: string): Promise<number> {
  const res = await fetch(`${base}/v1/models/${MODEL}/windows?limit=1000`);
  if (!res.ok) throw new Error(`windows API: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { windows: { n: number }[] };
  return body.windows.reduce((sum, w) => sum + w.n, 0);
}

/** Waits (up to a window and a half) until D1 holds `expected` predictions; returns what it holds then. */
async function waitForFlushes(server: Server, expected: number): Promise<number> {
  const deadline = Date.now() + 1500 * WINDOW_SECONDS;
  let counted = await server.counted();
  while (counted < expected && Date.now() < deadline) {
    await sleep(500);
    counted = await server.counted();
  }
  return counted;
}

type Run = ReturnType<typeof sumRuns>;
/** On ÷ off of one trial: req/s, and CPU per request (off ÷ on). */
type TrialRatio = { rate: number; cpu: number };

/** Requests in a chunk: about CHUNK_S seconds at the rate of a warm server (a calibration load on it). */
async function chunkSize(server: Server): Promise<number> {
  const calibration = await timedLoad({ url: predictUrl(server), connections: CONNECTIONS, body: oneRow, amount: WARMUP_REQUESTS });
  return Math.max(500, Math.round((WARMUP_REQUESTS / calibration.elapsed) * CHUNK_S));
}

/**
 * The on ÷ off row: pooled req/s and CPU per request against the target, each with its 95% interval over the rounds
 * (ratioInterval). Across four servers the interval holds the rounds' noise but not the processes' (the A/A
 * control's), so it gets no verdict line; one server's does (verdictLine).
 */
function ratioRow(rate: number, cpu: number, rounds: Round[]): string {
  const interval = ratioInterval(rounds);
  const cell = (x: number, within: [number, number], what: string) =>
    `**${x.toFixed(3)}**${what} (≥ ${TARGET_RATIO} ${mark(x >= TARGET_RATIO)}; 95% interval ${span(within)})`;
  return `| **on / off** | | ${cell(rate, interval.rate, '')} | | | ${cell(cpu, interval.cpu, ' (off ÷ on)')} | |`;
}

/** Whether a run's intervals (req/s, CPU per request) tell the result from the target, over its `rounds`. */
function verdictLine(rounds: number, intervals: [number, number][]): string {
  const sides = intervals.map((within) => sideOf(within, TARGET_RATIO));
  const where = sides.every((side) => side === 'above')
    ? 'both intervals lie above it: this run shows monitoring within the target'
    : sides.includes('below')
      ? 'an interval lies wholly below it: this run shows monitoring over the target'
      : 'the intervals reach both sides of it: this run cannot tell the result from the target';
  return `Over its ${rounds} rounds, against ${TARGET_RATIO}, ${where}.`;
}

/** A table row of a pooled run. */
const runRow = (name: string, x: Run) =>
  `| ${name} | ${x.completed} in ${x.elapsed.toFixed(1)} s | ${x.rps.toFixed(0)} | ${x.p50} ms | ${x.p99} ms | ${x.cpuPerRequest.toFixed(3)} ms | ${x.failures || 'none'} |`;
type OnSlot = 'on a' | 'on b';
const ON_SLOTS: OnSlot[] = ['on a', 'on b'];
const slotsOf = (mode: Mode) => SLOTS.filter((slot) => modeOf(slot) === mode);

interface RunResult {
  /** Per server, and per mode (both servers pooled); CPU per request over the trials. */
  servers: Record<Slot, Run>;
  modes: Record<Mode, Run>;
  /** Per trial, on ÷ off (both servers of each mode pooled). */
  trials: TrialRatio[];
  /** Each round's chunks, on against off: for the interval. */
  rounds: Round[];
  /** Predictions answered 200 by each "on" server over all trials, and what its D1 holds once flushed. */
  answered: Record<OnSlot, number>;
  counted: Partial<Record<OnSlot, number>>;
  /** The "on" servers of the last trial, left running to flush their last window. */
  flushing: Record<OnSlot, Server>;
}

/**
 * TRIALS times: starts the four servers (the start order rotating by one each trial), warms them, sends ROUNDS rounds
 * of one chunk each in roundOrder, and stops them; the last trial leaves the "on" servers running for their flushes.
 */
async function measure(stack: Stack): Promise<RunResult> {
  console.error(`${stack.title}:`);
  const answered = { 'on a': 0, 'on b': 0 };
  const chunks = Object.fromEntries(SLOTS.map((slot) => [slot, [] as TimedRun[]])) as Record<Slot, TimedRun[]>;
  const cpuTotal = Object.fromEntries(SLOTS.map((slot) => [slot, 0])) as Record<Slot, number>;
  const trials: TrialRatio[] = [];
  const rounds: Round[] = [];
  let amount = 0;
  let servers = {} as Record<Slot, Server>;
  for (let trial = 0; trial < TRIALS; trial++) {
    servers = {} as Record<Slot, Server>;
    for (const slot of roundOrder(trial)) servers[slot] = await stack.start(slot);
    // Twice each: the first load of a fresh server runs cold code, so the second gives the rate to size chunks by.
    for (const slot of [...SLOTS, ...SLOTS]) {
      const warm = await timedLoad({ url: predictUrl(servers[slot]), connections: CONNECTIONS, body: oneRow, amount: WARMUP_REQUESTS });
      if (modeOf(slot) === 'on') answered[slot as OnSlot] += warm.result['2xx'];
    }
    // About CHUNK_S seconds at the warm rate of "off a" in the first trial (every server does the same work per chunk).
    if (amount === 0) amount = await chunkSize(servers['off a']);
    const cpu0 = Object.fromEntries(SLOTS.map((slot) => [slot, servers[slot].cpu()])) as Record<Slot, number>;
    const mine = Object.fromEntries(SLOTS.map((slot) => [slot, [] as TimedRun[]])) as Record<Slot, TimedRun[]>;
    for (let round = 0; round < ROUNDS; round++) {
      const thisRound: Round = { a: [], b: [] };
      rounds.push(thisRound);
      for (const slot of roundOrder(round)) {
        const run = await timedLoad({ url: predictUrl(servers[slot]), connections: CONNECTIONS, body: oneRow, amount, cpu: servers[slot].cpu });
        (modeOf(slot) === 'on' ? thisRound.a : thisRound.b).push(run);
        chunks[slot].push(run);
        mine[slot].push(run);
        if (modeOf(slot) === 'on') answered[slot as OnSlot] += run.result['2xx'];
        process.stderr.write(`  trial ${trial + 1}, ${slot}: ${amount} requests in ${run.elapsed.toFixed(2)} s (${(run.result.requests.total / run.elapsed).toFixed(0)} req/s)\n`);
      }
    }
    // CPU over the whole trial per server: a server's background work (the flushes) counts wherever it fell.
    const cpu = Object.fromEntries(SLOTS.map((slot) => [slot, servers[slot].cpu() - cpu0[slot]])) as Record<Slot, number>;
    for (const slot of SLOTS) cpuTotal[slot] += cpu[slot];
    const [off, on] = (['off', 'on'] as const).map((mode) => {
      const run = sumRuns(slotsOf(mode).flatMap((slot) => mine[slot]));
      return { rps: run.rps, cpuPerRequest: slotsOf(mode).reduce((sum, slot) => sum + cpu[slot], 0) / run.completed };
    });
    trials.push({ rate: on!.rps / off!.rps, cpu: off!.cpuPerRequest / on!.cpuPerRequest });
    // A tally lingers up to RECORD_LINGER_MS before it goes to a shard: let it go before the process does.
    await sleep(LINGER_MS + 500);
    for (const slot of SLOTS) if (trial < TRIALS - 1 || modeOf(slot) === 'off') await servers[slot].stop();
  }
  const pooled = (slots: Slot[]): Run => {
    const run = sumRuns(slots.flatMap((slot) => chunks[slot]));
    run.cpuPerRequest = slots.reduce((sum, slot) => sum + cpuTotal[slot], 0) / run.completed;
    return run;
  };
  const perServer = Object.fromEntries(SLOTS.map((slot) => [slot, pooled([slot])])) as Record<Slot, Run>;
  const modes = { off: pooled(slotsOf('off')), on: pooled(slotsOf('on')) };
  return { servers: perServer, modes, trials, rounds, answered, counted: {}, flushing: { 'on a': servers['on a'], 'on b': servers['on b'] } };
}

/** Monitoring on and off in one server: every trial's rounds (scripts/lib/alternating-load.ts), and each trial's result. */
interface SameIsolate {
  rounds: AlternatingRound[];
  trials: AlternatingResult[];
  failed: string[];
}

/**
 * Monitoring on and off in one isolate: TRIALS fresh starts of one server with MONITORING=by-header (on the "off a"
 * slot), each sent 1-row predict without a pause for ONE_SERVER_S seconds, its header switching between
 * `x-labelwatch-monitoring: on` and `: off` every PHASE_MS (alternatingLoad says why, and how a phase settles before
 * it is measured). Two processes of the very same server differ here by a few percent for their whole life (the A/A
 * control above); in one server both modes share the process, its JIT and its luck, so what is left between them is
 * the recording, and the machine's noise, which the switching and the median keep small.
 */
async function measureSameIsolate(stack: Stack): Promise<SameIsolate> {
  console.error(`${stack.title}, one server, MONITORING=by-header:`);
  const headers = { a: { [MONITORING_HEADER]: 'on' }, b: { [MONITORING_HEADER]: 'off' } };
  const rounds: AlternatingRound[] = [];
  const trials: AlternatingResult[] = [];
  const failed: string[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const server = await stack.start('off a', 'by-header');
    try {
      for (const mode of ['a', 'b', 'a', 'b'] as const)
        await timedLoad({ url: predictUrl(server), connections: CONNECTIONS, body: oneRow, amount: WARMUP_REQUESTS, headers: headers[mode] });
      const run = await alternatingLoad({
        url: predictUrl(server), body: oneRow, connections: CONNECTIONS, headers, cpu: server.cpu,
        rounds: Math.max(2, Math.round((ONE_SERVER_S * 1000) / (4 * PHASE_MS))), phaseMs: PHASE_MS, settleMs: LINGER_MS + 50,
        onRound: (r, i) => {
          if (i % 10 === 9) process.stderr.write(`  trial ${trial + 1}, round ${i + 1}: on ${(r.a.requests / r.a.ms * 1000).toFixed(0)} req/s, off ${(r.b.requests / r.b.ms * 1000).toFixed(0)} req/s\n`);
        },
      });
      rounds.push(...run.rounds);
      failed.push(...run.failed);
      trials.push(summarize(run.rounds));
      const t = trials.at(-1)!;
      process.stderr.write(`  trial ${trial + 1}: on / off ${t.rate.value.toFixed(3)} in req/s, ${t.cpu.value.toFixed(3)} in CPU (A/A ${t.aaRate.value.toFixed(3)}, ${t.aaCpu.value.toFixed(3)})\n`);
      await sleep(LINGER_MS + 500);
    } finally {
      await server.stop();
    }
  }
  return { rounds, trials, failed };
}

function printSameIsolate(title: string, r: SameIsolate | undefined) {
  if (!r) {
    console.log(`\n#### ${title}: monitoring on and off in one server: not measured (BENCH_TREE's Worker has no MONITORING=by-header)`);
    return;
  }
  const all = summarize(r.rounds);
  const pairs = r.rounds.length;
  const requests = r.rounds.reduce((n, x) => n + x.a.requests + x.b.requests + x.aa[0].requests + x.aa[1].requests, 0);
  const seconds = r.rounds.reduce((n, x) => n + x.a.ms + x.b.ms + x.aa[0].ms + x.aa[1].ms, 0) / 1000;
  console.log(`\n#### ${title}: monitoring on and off in one server (MONITORING=by-header, switched every ${PHASE_MS / 1000} s)\n`);
  console.log(`${requests} requests answered in ${seconds.toFixed(0)} s of measured spans (${r.trials.length} fresh starts, ${pairs} rounds: a pair of \`${MONITORING_HEADER}: on\` and \`: off\`, then an A/A pair of \`: off\` twice).\n`);
  console.log('| measure | on ÷ off: median of the pairs (95% interval) | A/A: the same for two spans alike | on ÷ off pooled | trial by trial (medians) |');
  console.log('|---|---|---|---|---|');
  const cell = (e: Estimate, target?: number) => `**${e.value.toFixed(3)}**${target ? ` (≥ ${target} ${mark(e.value >= target)})` : ''} (${span(e.interval)})`;
  const list = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
  console.log(`| req/s | ${cell(all.rate, TARGET_RATIO)} | ${cell(all.aaRate)} | ${all.pooledRate.toFixed(3)} | ${list(r.trials.map((t) => t.rate.value))} |`);
  console.log(`| CPU per request (off ÷ on) | ${cell(all.cpu, TARGET_RATIO)} | ${cell(all.aaCpu)} | ${all.pooledCpu.toFixed(3)} | ${list(r.trials.map((t) => t.cpu.value))} |`);
  if (r.failed.length) console.log(`\nFailed requests: ${describeFailures(r.failed).join('; ')}.`);
  const aaWidth = Math.max(...[all.aaRate, all.aaCpu].map((e) => Math.max(Math.abs(1 - e.interval[0]), Math.abs(e.interval[1] - 1))));
  console.log(`\n${verdictLine(pairs, [all.rate.interval, all.cpu.interval])} Two spans alike measured within ±${(aaWidth * 100).toFixed(1)}% of each other (the A/A intervals' reach from 1).`);
}

/** Waits until D1 of each "on" server holds every prediction it answered; notes what they hold then. */
async function settle(title: string, r: RunResult) {
  for (const slot of ON_SLOTS) {
    process.stderr.write(`${title} (${slot}): waiting for the last ${WINDOW_SECONDS} s window to flush … `);
    r.counted[slot] = await waitForFlushes(r.flushing[slot], r.answered[slot]);
    process.stderr.write(`${r.counted[slot]} of ${r.answered[slot]} predictions in D1\n`);
  }
}

function printRun(title: string, r: RunResult) {
  const { off, on } = r.modes;
  const ratio = on.rps / off.rps;
  const cpuRatio = off.cpuPerRequest / on.cpuPerRequest;
  console.log(`\n#### ${title}\n`);
  console.log('| server | requests completed | req/s | p50 (median chunk) | p99 (worst chunk) | server CPU per request | failures |');
  console.log('|---|---|---|---|---|---|---|');
  for (const slot of SLOTS) console.log(runRow(`monitoring ${slot}`, r.servers[slot]));
  console.log(runRow('monitoring off (a and b pooled)', off));
  console.log(runRow('monitoring on (a and b pooled)', on));
  console.log(ratioRow(ratio, cpuRatio, r.rounds));
  // Two servers of the same mode: any difference between them is this run's noise, not monitoring.
  const aa = (mode: Mode) => {
    const a = r.servers[`${mode} a`];
    const b = r.servers[`${mode} b`];
    return { rate: b.rps / a.rps, cpu: a.cpuPerRequest / b.cpuPerRequest };
  };
  const [aaOff, aaOn] = [aa('off'), aa('on')];
  console.log(
    `| A/A control: b / a of the same mode (off; on) | | ${aaOff.rate.toFixed(3)}; ${aaOn.rate.toFixed(3)} | | | ${aaOff.cpu.toFixed(3)}; ${aaOn.cpu.toFixed(3)} (a ÷ b) | |`,
  );
  // The spread of the same ratio trial by trial: how far this machine's noise moves it (the pooled figure is the result).
  const spread = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)}, range ${sorted[0]!.toFixed(3)}–${sorted[sorted.length - 1]!.toFixed(3)}`;
  };
  console.log(`| trial by trial (${r.trials.length} fresh starts, ${ROUNDS} rounds of 4 chunks each) | | ${spread(r.trials.map((x) => x.rate))} | | | ${spread(r.trials.map((x) => x.cpu))} | |`);
  const note = failureNote(SLOTS.map((slot) => [`monitoring ${slot}`, r.servers[slot]]));
  if (note) console.log(note);
  const noise = Math.max(...[aaOff.rate, aaOn.rate, aaOff.cpu, aaOn.cpu].map((x) => Math.abs(1 - x)));
  const cost = Math.max(1 - ratio, 1 - cpuRatio);
  console.log(
    `\nIdentical servers differed by up to ${(noise * 100).toFixed(1)}% in this run; monitoring's measured cost is ${(cost * 100).toFixed(1)}%` +
      (cost <= noise ? ', within that noise.' : ', beyond it.'),
  );
  for (const slot of ON_SLOTS) {
    const [answered, counted] = [r.answered[slot], r.counted[slot]];
    console.log(`Predictions answered 200 by monitoring ${slot}: ${answered}; in its D1 after the flushes: ${counted} ${counted === answered ? '✓ exact' : '✗ MISMATCH'}.`);
  }
}

/** Where a slot's wrangler dev keeps its local state (D1 and the objects), from one start to the next. */
const stateOf = (slot: Slot) => join(sandboxes[slot].dir, '.wrangler', 'state');

/** Copies the tree into the slots' snapshots and migrates their local D1. */
function prepare(slots: Slot[]) {
  console.error(`bench-monitor: registry, snapshots (${slots.join(', ')}), local migrations`);
  for (const slot of slots) {
    sandboxes[slot].fill(TREE);
    sandboxes[slot].run('npx', ['wrangler', 'd1', 'migrations', 'apply', 'labelwatch', '--local', '--persist-to', stateOf(slot)]);
  }
}

/** Through wrangler dev: each server keeps its state (--persist-to) from one start to the next. */
function wranglerStack(runtimeRestarts: string[]): Stack {
  return {
    title: `wrangler dev (${CONNECTIONS} connections, ${TRIALS} trials of ${ROUNDS} rounds)`,
    async start(slot, monitoring) {
      const sandbox = sandboxes[slot];
      const { port, inspector } = WRANGLER[slot];
      await sandbox.startServer({
        name: `wrangler dev (${slot})`, port, inspectorPort: inspector, persistTo: stateOf(slot), readyPath: '/health',
        args: Object.entries({ ...VARS, MONITORING: monitoring ?? modeOf(slot) }).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
      });
      const base = `http://${HOST}:${port}`;
      const meter = groupMeter(sandbox.serverPid!);
      const stop = async () => {
        // wrangler dev reloads (a new workerd) only when its config or sources change: none should while measured.
        if (meter.restarts() > 0) runtimeRestarts.push(`${monitoring === 'by-header' ? 'one server' : slot}: ${meter.restarts()}×`);
        await sandbox.stopServerAndWait();
      };
      return { base, cpu: meter.cpu, counted: () => countedViaApi(base), stop };
    },
  };
}

/** On workerd through Miniflare, no proxy: the minified bundle; each server keeps D1 and its objects in its sandbox. */
function miniflareStack(bundleDir: string, running: Set<MiniflareWorker>): Stack {
  return {
    title: `Miniflare, no proxy (${CONNECTIONS} connections, ${TRIALS} trials of ${ROUNDS} rounds)`,
    async start(slot, monitoring) {
      const w = await startMiniflare({
        root: sandboxes[slot].dir, bundleDir, port: MINIFLARE[slot], vars: { ...VARS, MONITORING: monitoring ?? modeOf(slot) },
        persistDir: join(sandboxes[slot].dir, 'miniflare-state'),
      });
      running.add(w);
      const base = `http://${HOST}:${MINIFLARE[slot]}`;
      const stop = async () => {
        running.delete(w);
        await w.dispose();
      };
      return { base, cpu: () => cpuMs({ pids: w.workerdPids }), counted: () => countedViaApi(base), stop };
    },
  };
}

const runtimeRestartLine = (restarts: string[]) =>
  `\n\`wrangler dev\` started a new runtime (workerd) while measured: ${restarts.join(', ')}. Its proxy answers a POST in flight then with a 503; CPU still counts the old runtime's time.`;

/** --one-server: only the comparison within one server, on the stacks chosen; the server runs on the "off a" slot. */
async function oneServerMain() {
  if (flags.spans !== undefined) {
    // The tables of an earlier run, from its spans: { title: rounds } as written below (one trial, since the spans
    // do not say where a fresh start began).
    const saved = JSON.parse(readFileSync(flags.spans, 'utf8')) as Record<string, AlternatingRound[]>;
    console.log(`\n### Monitoring benchmark, one server: the spans of ${flags.spans}, summarized again`);
    for (const [title, rounds] of Object.entries(saved)) printSameIsolate(title, { rounds, trials: [summarize(rounds)], failed: [] });
    return;
  }
  prepare(['off a']);
  const loadBefore = loadavg()[0];
  const results: [string, SameIsolate][] = [];
  const runtimeRestarts: string[] = [];
  for (const stack of STACKS) {
    if (stack === 'wrangler') {
      results.push(['Through `wrangler dev`', await measureSameIsolate(wranglerStack(runtimeRestarts))]);
      continue;
    }
    const bundleDir = buildBundle(sandboxes['off a'].dir, { parent: sandboxes['off a'].dir });
    const running = new Set<MiniflareWorker>();
    try {
      results.push(['On workerd through Miniflare', await measureSameIsolate(miniflareStack(bundleDir, running))]);
    } finally {
      for (const w of running) await w.dispose();
      removeBundle(bundleDir);
    }
  }
  console.log(`\n### Monitoring benchmark, one server (single-row \`${MODEL}:predict\`, ${CONNECTIONS} connections, ${TRIALS} fresh starts × ${ONE_SERVER_S} s switched every ${PHASE_MS / 1000} s, 127.0.0.1)\n`);
  console.log(treeLine());
  console.log(`Machine: ${availableParallelism()} cores; 1-min load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after.`);
  console.log(`Server: WINDOW_SECONDS=${WINDOW_SECONDS}, FLUSH_GRACE_SECONDS=${GRACE_SECONDS}, AGGREGATOR_SHARDS=${SHARDS}, RECORD_LINGER_MS=${LINGER_MS}, MONITORING=by-header; local state in ${STATE.dir}${STATE.tmpfs ? ' (tmpfs)' : ''}.`);
  for (const [title, r] of results) printSameIsolate(title, r);
  if (runtimeRestarts.length) console.log(runtimeRestartLine(runtimeRestarts));
  // Every span, in the order sent (a round: a, b, b, b when even, b, a, b, b when odd), for a look of one's own.
  if (process.env.SPANS_JSON) writeFileSync(process.env.SPANS_JSON, JSON.stringify(Object.fromEntries(results.map(([t, r]) => [t, r.rounds]))));
}

async function main() {
  prepare(SLOTS);
  const loadBefore = loadavg()[0];

  // 1. Through wrangler dev.
  const runtimeRestarts: string[] = [];
  const wrangler = wranglerStack(runtimeRestarts);
  // The last trial's "on" wrangler devs stay up, idle, to flush their last window while Miniflare runs.
  const viaWrangler = await measure(wrangler);
  const wranglerSame = BY_HEADER ? await measureSameIsolate(wrangler) : undefined;
  const loadMiddle = loadavg()[0];

  // 2. Miniflare, no proxy.
  console.error('bundle for Miniflare: wrangler deploy --dry-run --minify');
  const bundleDir = buildBundle(sandboxes['on a'].dir, { parent: sandboxes['on a'].dir });
  const running = new Set<MiniflareWorker>();
  const miniflare = miniflareStack(bundleDir, running);
  let viaMiniflare: RunResult;
  let miniflareSame: SameIsolate | undefined;
  try {
    viaMiniflare = await measure(miniflare);
    miniflareSame = BY_HEADER ? await measureSameIsolate(miniflare) : undefined;
    await settle('wrangler dev', viaWrangler);
    await settle('Miniflare', viaMiniflare);
  } finally {
    for (const w of running) await w.dispose();
    removeBundle(bundleDir);
  }
  const loadAfter = loadavg()[0];
  await viaWrangler.flushing['on a'].stop();
  await viaWrangler.flushing['on b'].stop();
  const flushes = (JSON.parse(
    sandboxes['on a'].run('npx', ['wrangler', 'd1', 'execute', 'labelwatch', '--local', '--persist-to', stateOf('on a'), '--json', '--command',
      'SELECT count(*) AS batches, coalesce(sum(n), 0) AS predictions, count(DISTINCT start) AS windows FROM flushes']),
  ) as { results: { batches: number; predictions: number; windows: number }[] }[])[0].results[0];

  // Statements of one flush batch: the window row, label and feature upserts (all labels present: the upper bound), the key.
  const full = emptyCounts();
  for (const label of meta.labels) full.labelCounts[label] = 1;
  for (const f of meta.features) full.features[f.name] = { count: 1, sum: 0, sumSq: 0, min: 0, max: 0, zeros: 0 };
  const perFlush = flushStatementCount(full);
  const perShardWindow = flushes.batches / (flushes.windows * SHARDS);
  const per10k = ((flushes.batches * perFlush) / flushes.predictions) * 10_000;
  const rate = viaWrangler.servers['on a'].rps;
  // At a steady rate, every shard flushes once per window: the figure the run's few windows approximate.
  const steady = ((SHARDS * perFlush) / (rate * WINDOW_SECONDS)) * 10_000;

  console.log(`\n### Monitoring benchmark (single-row \`${MODEL}:predict\`, ${CONNECTIONS} connections, ${TRIALS} fresh starts × ${ROUNDS} × 4 interleaved chunks of ≈ ${CHUNK_S} s, 127.0.0.1)\n`);
  console.log(treeLine());
  console.log(`Machine: ${availableParallelism()} cores; 1-min load average ${loadBefore.toFixed(1)} before, ${loadMiddle.toFixed(1)} between wrangler dev and Miniflare, ${loadAfter.toFixed(1)} after.`);
  console.log(`All servers: WINDOW_SECONDS=${WINDOW_SECONDS}, FLUSH_GRACE_SECONDS=${GRACE_SECONDS}, AGGREGATOR_SHARDS=${SHARDS}, RECORD_LINGER_MS=${LINGER_MS}; only MONITORING differs.`);
  console.log(`Local state (SQLite of the objects and D1) in ${STATE.dir}: ${STATE.tmpfs ? 'tmpfs, no disk sync on workerd\'s thread (STATE_DIR=/tmp for disk)' : 'on disk: every aggregator commit waits for a disk sync on workerd\'s thread, which no Worker pays on Cloudflare'}.`);
  printRun('Through `wrangler dev`', viaWrangler);
  printSameIsolate('Through `wrangler dev`', wranglerSame);
  if (runtimeRestarts.length) console.log(runtimeRestartLine(runtimeRestarts));
  printRun('On workerd through Miniflare, without the wrangler dev proxy', viaMiniflare!);
  printSameIsolate('On workerd through Miniflare', miniflareSame);
  console.log('\n#### D1 writes (wrangler dev, monitoring on a)\n');
  console.log('| measure | value | target |');
  console.log('|---|---|---|');
  console.log(`| predictions carried by flushes (\`flushes\` table) | ${flushes.predictions} | = answered ${mark(flushes.predictions === viaWrangler.answered['on a'])} |`);
  console.log(`| flush batches (D1 round trips) | ${flushes.batches} over ${flushes.windows} windows | |`);
  console.log(`| flush batches per shard and window | ${perShardWindow.toFixed(2)} | ≤ 1 ${mark(perShardWindow <= 1)} |`);
  console.log(`| statements per flush batch | ${perFlush} (window, labels, features, flush key) | ≤ 4 ${mark(perFlush <= 4)} |`);
  console.log(`| D1 statements per 10,000 predictions (${WINDOW_SECONDS} s windows, this run: its windows were partly idle) | ${per10k.toFixed(1)} | |`);
  console.log(`| same at a steady ${rate.toFixed(0)} req/s (${SHARDS} shards × ${perFlush} statements per ${WINDOW_SECONDS} s window) | ${steady.toFixed(1)} | |`);
}

sandboxes['on a'].runMain('bench-monitor', ONE_SERVER ? oneServerMain : main);
