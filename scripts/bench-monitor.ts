// Monitoring benchmark (not a test): what recording every prediction costs the hot path, and how many D1 statements
// it takes. Two servers run side by side, identical but for MONITORING (off and on), each with its own local state,
// 60 s windows (the default, so flushes cost what they cost in production) and 1 s grace; single-row predict is sent to them in alternating
// chunks (off on on off off on …, ROUNDS × 2 chunks of about CHUNK_S seconds each), so that other load on the machine
// hits both alike. Throughput is completed requests over the elapsed time measured here; server CPU per request is
// the CPU time of a server's processes over the whole run (including the background flushes) over the requests it
// answered. Then, for "on", it waits until D1 holds every prediction answered 200 and counts the flushes the
// aggregator shards executed (the `flushes` table: one row per D1 batch).
//
// It does that twice: through `wrangler dev` (127.0.0.1:8792 off, 8791 on; what the README's figures have always
// used) and on workerd through Miniflare's API without the wrangler dev proxy (8833 off, 8834 on). Prints markdown
// tables with the targets and ✓ or ✗; exits 0 either way (it is a measurement, not a test).
//
// The wrangler dev servers run on a snapshot of the tree in a temp dir (scripts/lib/bench.ts says why).
//
// Run: npm run bench:monitor (ROUNDS=8 by default). The load generator shares the machine with workerd: absolute
// req/s are relative, the on/off ratios measured in one run are the result.
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { flushStatementCount } from '../src/db/windows.ts';
import { emptyCounts } from '../src/monitor/window.ts';
import { cli } from './lib/args.ts';
import { cpuMs, HOST, mark, recordLingerMs, ROOT, Sandbox, sleep, sumRuns, timedLoad, type TimedRun } from './lib/bench.ts';
import { buildBundle, removeBundle, startMiniflare, type MiniflareWorker } from './lib/miniflare.ts';

type Mode = 'off' | 'on';
const MODES: Mode[] = ['off', 'on'];
const WRANGLER = { off: { port: 8792, inspector: 9792 }, on: { port: 8791, inspector: 9791 } } as const;
const MINIFLARE = { off: 8833, on: 8834 } as const;
const CHUNK_S = 2.5;
const WARMUP_REQUESTS = 300;
const CONNECTIONS = 10;
const MODEL = 'penguins';
const WINDOW_SECONDS = 60;
const GRACE_SECONDS = 1;
const SHARDS = 4;
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 8) || 8);
const TARGET_RATIO = 0.97;
const LINGER_MS = recordLingerMs();
const VARS = {
  WINDOW_SECONDS: String(WINDOW_SECONDS),
  FLUSH_GRACE_SECONDS: String(GRACE_SECONDS),
  AGGREGATOR_SHARDS: String(SHARDS),
  RECORD_LINGER_MS: String(LINGER_MS),
};

cli(
  'bench-monitor',
  `usage: npm run bench:monitor   (ROUNDS=<n> for more interleaved chunks, default 8; RECORD_LINGER_MS=<ms> for another
  linger than the default)

Starts wrangler dev with monitoring off (${HOST}:${WRANGLER.off.port}) and on (${HOST}:${WRANGLER.on.port}) side by side,
each on a snapshot of the tree (in temp dirs, removed at the end, on an error, and on Ctrl-C or SIGTERM), sends 1-row
predict to them in alternating chunks (req/s and server CPU per request), then does the same on workerd through
Miniflare without the wrangler dev proxy (${HOST}:${MINIFLARE.off} and ${MINIFLARE.on}); checks that D1 holds every
prediction answered 200 and counts the D1 statements. Prints markdown tables with the targets and ✓ or ✗, and exits
0 either way.

  -h, --help     this text`,
  process.argv.slice(2),
  {},
);

// One snapshot and wrangler dev per mode; each is removed (and its server stopped) when the process exits.
const sandboxes = { off: new Sandbox('labelwatch-bench-monitor-off-'), on: new Sandbox('labelwatch-bench-monitor-on-') };

/** One server under test, however it runs. */
interface Server {
  base: string;
  cpu: () => number;
  /** Predictions D1 holds for the model. */
  counted: () => Promise<number>;
}

const meta = JSON.parse(readFileSync(join(ROOT, 'models', MODEL, 'metadata.json'), 'utf8')) as {
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

interface PairResult {
  runs: Record<Mode, ReturnType<typeof sumRuns>>;
  /** Per round, on ÷ off: req/s, and CPU per request (off ÷ on) over that round's two chunks. */
  rounds: { rate: number; cpu: number }[];
  answered: number;
  counted?: number;
}

/** Warms both servers, then ROUNDS rounds of one chunk each, the order alternating. */
async function interleave(title: string, servers: Record<Mode, Server>): Promise<PairResult> {
  console.error(`${title}:`);
  let answered = 0;
  let amount = 0;
  for (const mode of MODES) {
    const warm = await timedLoad({ url: predictUrl(servers[mode]), connections: CONNECTIONS, body: oneRow, amount: WARMUP_REQUESTS });
    if (mode === 'on') answered += warm.result['2xx'];
    // About CHUNK_S seconds at the warm rate of "off" (so both do the same work per chunk).
    if (mode === 'off') amount = Math.max(500, Math.round((WARMUP_REQUESTS / warm.elapsed) * CHUNK_S));
  }
  const cpu0 = { off: servers.off.cpu(), on: servers.on.cpu() };
  const chunks: Record<Mode, TimedRun[]> = { off: [], on: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
      const run = await timedLoad({ url: predictUrl(servers[mode]), connections: CONNECTIONS, body: oneRow, amount, cpu: servers[mode].cpu });
      chunks[mode].push(run);
      process.stderr.write(`  ${mode}: ${amount} requests in ${run.elapsed.toFixed(2)} s (${(run.result.requests.total / run.elapsed).toFixed(0)} req/s)\n`);
    }
  }
  // CPU over the whole interleaved run per server: a server's background work (the flushes) counts wherever it fell.
  const cpuTotal = { off: servers.off.cpu() - cpu0.off, on: servers.on.cpu() - cpu0.on };
  const runs = {} as PairResult['runs'];
  for (const mode of MODES) {
    runs[mode] = sumRuns(chunks[mode]);
    runs[mode].cpuPerRequest = cpuTotal[mode] / runs[mode].completed;
  }
  answered += runs.on.ok;
  const rounds = chunks.on.map((on, i) => {
    const off = chunks.off[i]!;
    const rate = (r: TimedRun) => r.result.requests.total / r.elapsed;
    const cpu = (r: TimedRun) => r.cpuMs / r.result.requests.total;
    return { rate: rate(on) / rate(off), cpu: cpu(off) / cpu(on) };
  });
  return { runs, rounds, answered };
}

/** Waits until D1 of the "on" server holds every prediction it answered; notes what it holds then. */
async function settle(title: string, server: Server, r: PairResult) {
  process.stderr.write(`${title}: waiting for the last ${WINDOW_SECONDS} s window to flush … `);
  r.counted = await waitForFlushes(server, r.answered);
  process.stderr.write(`${r.counted} of ${r.answered} predictions in D1\n`);
}

function printPair(title: string, r: PairResult) {
  const { off, on } = r.runs;
  const ratio = on.rps / off.rps;
  const cpuRatio = off.cpuPerRequest / on.cpuPerRequest;
  const row = (mode: Mode) => {
    const x = r.runs[mode];
    return `| monitoring ${mode} | ${x.completed} in ${x.elapsed.toFixed(1)} s | ${x.rps.toFixed(0)} | ${x.p50} ms | ${x.p99} ms | ${x.cpuPerRequest.toFixed(3)} ms | ${x.failures || 'none'} |`;
  };
  console.log(`\n#### ${title}\n`);
  console.log('| mode | requests completed | req/s | p50 (median chunk) | p99 (worst chunk) | server CPU per request | failures |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(row('off'));
  console.log(row('on'));
  console.log(`| **on / off** | | **${ratio.toFixed(3)}** (≥ ${TARGET_RATIO} ${mark(ratio >= TARGET_RATIO)}) | | | **${cpuRatio.toFixed(3)}** (off ÷ on, ≥ ${TARGET_RATIO} ${mark(cpuRatio >= TARGET_RATIO)}) | |`);
  // The spread of the same ratio round by round: how far this machine's noise moves it (the pooled figure is the result).
  const spread = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(3)}, range ${sorted[0]!.toFixed(3)}–${sorted[sorted.length - 1]!.toFixed(3)}`;
  };
  console.log(`| round by round (${r.rounds.length} pairs of chunks) | | ${spread(r.rounds.map((x) => x.rate))} | | | ${spread(r.rounds.map((x) => x.cpu))} (CPU within the chunks) | |`);
  console.log(`\nPredictions answered 200 with monitoring on: ${r.answered}; in D1 after the flushes: ${r.counted} ${r.counted === r.answered ? '✓ exact' : '✗ MISMATCH'}.`);
}

async function main() {
  console.error('bench-monitor: registry, two snapshots (off, on), local migrations');
  const stateOf = (mode: Mode) => join(sandboxes[mode].dir, '.wrangler', 'state');
  for (const mode of MODES) {
    sandboxes[mode].fill();
    sandboxes[mode].run('npx', ['wrangler', 'd1', 'migrations', 'apply', 'labelwatch', '--local', '--persist-to', stateOf(mode)]);
  }
  const loadBefore = loadavg()[0];

  // 1. Through wrangler dev, both servers up at once.
  const wrangler = {} as Record<Mode, Server>;
  for (const mode of MODES) {
    const sandbox = sandboxes[mode];
    const { port, inspector } = WRANGLER[mode];
    await sandbox.startServer({
      name: `wrangler dev (${mode})`, port, inspectorPort: inspector, persistTo: stateOf(mode), readyPath: '/health',
      args: Object.entries({ ...VARS, MONITORING: mode }).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    });
    const base = `http://${HOST}:${port}`;
    wrangler[mode] = { base, cpu: () => cpuMs({ group: sandbox.serverPid! }), counted: () => countedViaApi(base) };
  }
  const viaWrangler = await interleave(`wrangler dev (${CONNECTIONS} connections, ${ROUNDS} rounds)`, wrangler);
  const loadMiddle = loadavg()[0];
  // The "on" wrangler dev stays up, idle, to flush its last window while the Miniflare pair runs; "off" can go.
  await sandboxes.off.stopServerAndWait();

  // 2. Miniflare, no proxy: the minified bundle, both workers up at once.
  console.error('bundle for Miniflare: wrangler deploy --dry-run --minify');
  const bundleDir = buildBundle(sandboxes.on.dir, { parent: sandboxes.on.dir });
  const workers = {} as Record<Mode, MiniflareWorker>;
  const direct = {} as Record<Mode, Server>;
  let viaMiniflare: PairResult;
  try {
    for (const mode of MODES) {
      const w = (workers[mode] = await startMiniflare({ root: sandboxes[mode].dir, bundleDir, port: MINIFLARE[mode], vars: { ...VARS, MONITORING: mode } }));
      const base = `http://${HOST}:${MINIFLARE[mode]}`;
      direct[mode] = { base, cpu: () => cpuMs({ pids: w.workerdPids }), counted: () => countedViaApi(base) };
    }
    viaMiniflare = await interleave(`Miniflare, no proxy (${CONNECTIONS} connections, ${ROUNDS} rounds)`, direct);
    await settle('wrangler dev', wrangler.on, viaWrangler);
    await settle('Miniflare', direct.on, viaMiniflare);
  } finally {
    for (const mode of MODES) await workers[mode]?.dispose();
    removeBundle(bundleDir);
  }
  const loadAfter = loadavg()[0];
  await sandboxes.on.stopServerAndWait();
  const flushes = (JSON.parse(
    sandboxes.on.run('npx', ['wrangler', 'd1', 'execute', 'labelwatch', '--local', '--persist-to', stateOf('on'), '--json', '--command',
      'SELECT count(*) AS batches, coalesce(sum(n), 0) AS predictions, count(DISTINCT start) AS windows FROM flushes']),
  ) as { results: { batches: number; predictions: number; windows: number }[] }[])[0].results[0];

  // Statements of one flush batch: the window row, label and feature upserts (all labels present: the upper bound), the key.
  const full = emptyCounts();
  for (const label of meta.labels) full.labelCounts[label] = 1;
  for (const f of meta.features) full.features[f.name] = { count: 1, sum: 0, sumSq: 0, min: 0, max: 0, zeros: 0 };
  const perFlush = flushStatementCount(full);
  const perShardWindow = flushes.batches / (flushes.windows * SHARDS);
  const per10k = ((flushes.batches * perFlush) / flushes.predictions) * 10_000;
  const rate = viaWrangler.runs.on.rps;
  // At a steady rate, every shard flushes once per window: the figure the run's few windows approximate.
  const steady = ((SHARDS * perFlush) / (rate * WINDOW_SECONDS)) * 10_000;

  console.log(`\n### Monitoring benchmark (single-row \`${MODEL}:predict\`, ${CONNECTIONS} connections, ${ROUNDS} × 2 interleaved chunks of ≈ ${CHUNK_S} s, 127.0.0.1)\n`);
  console.log(`Machine: ${availableParallelism()} cores; 1-min load average ${loadBefore.toFixed(1)} before, ${loadMiddle.toFixed(1)} between the two pairs, ${loadAfter.toFixed(1)} after.`);
  console.log(`All servers: WINDOW_SECONDS=${WINDOW_SECONDS}, FLUSH_GRACE_SECONDS=${GRACE_SECONDS}, AGGREGATOR_SHARDS=${SHARDS}, RECORD_LINGER_MS=${LINGER_MS}; only MONITORING differs.`);
  printPair('Through `wrangler dev`', viaWrangler);
  printPair('On workerd through Miniflare, without the wrangler dev proxy', viaMiniflare!);
  console.log('\n#### D1 writes (wrangler dev, monitoring on)\n');
  console.log('| measure | value | target |');
  console.log('|---|---|---|');
  console.log(`| predictions carried by flushes (\`flushes\` table) | ${flushes.predictions} | = answered ${mark(flushes.predictions === viaWrangler.answered)} |`);
  console.log(`| flush batches (D1 round trips) | ${flushes.batches} over ${flushes.windows} windows | |`);
  console.log(`| flush batches per shard and window | ${perShardWindow.toFixed(2)} | ≤ 1 ${mark(perShardWindow <= 1)} |`);
  console.log(`| statements per flush batch | ${perFlush} (window, labels, features, flush key) | ≤ 4 ${mark(perFlush <= 4)} |`);
  console.log(`| D1 statements per 10,000 predictions (${WINDOW_SECONDS} s windows, this run: its windows were partly idle) | ${per10k.toFixed(1)} | |`);
  console.log(`| same at a steady ${rate.toFixed(0)} req/s (${SHARDS} shards × ${perFlush} statements per ${WINDOW_SECONDS} s window) | ${steady.toFixed(1)} | |`);
}

sandboxes.on.runMain('bench-monitor', main);
