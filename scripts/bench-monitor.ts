// Monitoring benchmark (not a test): what recording every prediction costs the hot path, and how many D1 statements
// it takes. Starts `wrangler dev` with monitoring off (127.0.0.1:8792) and on (127.0.0.1:8791), one after the other,
// each with its own local state, 5 s windows and 1 s grace so windows flush during the run; drives single-row
// predict with autocannon (10 connections, ~10 s worth of requests); then, for "on", waits until D1 holds every prediction that was
// answered 200 and counts the flushes the aggregator shards executed (the `flushes` table: one row per D1 batch).
// Prints markdown tables.
//
// The servers run on a snapshot of the tree in a temp dir (scripts/lib/bench.ts says why).
//
// Run: npm run bench:monitor (off and on alternate for ROUNDS rounds, default 2). The load generator shares the
// machine with workerd and the Durable Objects: req/s are relative, not absolute, and swing with other load; the
// server's CPU time per request is the steadier measure of what monitoring costs.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { flushStatementCount } from '../src/db/windows.ts';
import { emptyCounts } from '../src/monitor/window.ts';
import { cli } from './lib/args.ts';
import { HOST, loadTest, Sandbox, sleep, type AutocannonResult } from './lib/bench.ts';

const MODES = { off: { port: 8792, inspector: 9792 }, on: { port: 8791, inspector: 9791 } } as const;
type Mode = keyof typeof MODES;
const DURATION_S = 10;
const WARMUP_REQUESTS = 300;
const CONNECTIONS = 10;
const MODEL = 'penguins';
const WINDOW_SECONDS = 5;
const GRACE_SECONDS = 1;
const SHARDS = 4;
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 2) || 2);
const TARGET_RATIO = 0.95;

cli(
  'bench-monitor',
  `usage: npm run bench:monitor   (ROUNDS=<n> npm run bench:monitor for more rounds, default 2)

Starts wrangler dev with monitoring off (${HOST}:${MODES.off.port}) and on (${HOST}:${MODES.on.port}), one after the other,
on a snapshot of the tree (in a temp dir, removed at the end, on an error, and on Ctrl-C or SIGTERM), drives 1-row
predict, checks that D1 holds every prediction answered 200, and counts the D1 statements. Prints markdown tables.

  -h, --help     this text`,
  process.argv.slice(2),
  {},
);

const sandbox = new Sandbox('labelwatch-bench-monitor-');
const snapshot = sandbox.dir;
const stateOf = (mode: Mode) => join(snapshot, '.wrangler', `state-${mode}`);
const baseOf = (mode: Mode) => `http://${HOST}:${MODES[mode].port}`;
const startServer = (mode: Mode) =>
  sandbox.startServer({
    name: `wrangler dev (${mode})`,
    port: MODES[mode].port,
    inspectorPort: MODES[mode].inspector,
    persistTo: stateOf(mode),
    readyPath: '/health',
    args: [`WINDOW_SECONDS:${WINDOW_SECONDS}`, `FLUSH_GRACE_SECONDS:${GRACE_SECONDS}`, `AGGREGATOR_SHARDS:${SHARDS}`, `MONITORING:${mode}`].flatMap((v) => ['--var', v]),
  });

const CLOCK_TICKS_PER_S = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU time (ms, user + system) used so far by the server's process group: wrangler, workerd (the Worker and the
 * Durable Objects) and their helpers. Per request, it is the cost of a prediction with or without monitoring,
 * and much less sensitive than req/s to other load on a shared machine.
 */
function serverCpuMs(): number {
  const group = sandbox.serverPid;
  if (group === undefined) return 0;
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // After "pid (comm) ": state, ppid, pgrp, ... utime and stime are fields 14 and 15 of stat(5).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === group) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      /* exited meanwhile */
    }
  }
  return (ticks / CLOCK_TICKS_PER_S) * 1000;
}

/**
 * `amount` requests over CONNECTIONS connections. A fixed amount rather than a duration: autocannon waits for every
 * response, so its 2xx count is exactly what the server answered (and recorded); a timed run drops the in-flight ones.
 */
async function load(mode: Mode, body: string, amount: number): Promise<AutocannonResult> {
  process.stderr.write(`  monitoring ${mode}: ${amount} requests … `);
  const result = await loadTest({ url: `${baseOf(mode)}/v1/models/${MODEL}:predict`, connections: CONNECTIONS, body, amount });
  process.stderr.write(`${result.requests.average.toFixed(0)} req/s\n`);
  return result;
}

/** Predictions D1 holds for the model, read through the Worker's own windows API. */
async function countedInD1(mode: Mode): Promise<number> {
  const res = await fetch(`${baseOf(mode)}/v1/models/${MODEL}/windows?limit=1000`);
  if (!res.ok) throw new Error(`windows API: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { windows: { n: number }[] };
  return body.windows.reduce((sum, w) => sum + w.n, 0);
}

/** Waits (up to 60 s) until D1 holds `expected` predictions; returns what it holds then. */
async function waitForFlushes(mode: Mode, expected: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  let counted = await countedInD1(mode);
  while (counted < expected && Date.now() < deadline) {
    await sleep(500);
    counted = await countedInD1(mode);
  }
  return counted;
}

/** Flush batches the shards executed and the predictions they carried (read with the server stopped). */
function flushesInD1(mode: Mode): { batches: number; predictions: number; windows: number } {
  const out = sandbox.run('npx', ['wrangler', 'd1', 'execute', 'labelwatch', '--local', '--persist-to', stateOf(mode), '--json', '--command',
    'SELECT count(*) AS batches, coalesce(sum(n), 0) AS predictions, count(DISTINCT start) AS windows FROM flushes']);
  return (JSON.parse(out) as { results: { batches: number; predictions: number; windows: number }[] }[])[0].results[0];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const failures = (rs: AutocannonResult[]) => {
  const [non2xx, errors, timeouts] = [rs.map((r) => r.non2xx), rs.map((r) => r.errors), rs.map((r) => r.timeouts)].map((xs) => xs.reduce((a, b) => a + b, 0));
  return non2xx || errors || timeouts ? `**${non2xx} non-2xx, ${errors} errors, ${timeouts} timeouts**` : 'none';
};

async function main() {
  console.error(`bench-monitor: registry, snapshot in ${snapshot}, local migrations`);
  sandbox.fill();
  for (const mode of Object.keys(MODES) as Mode[])
    sandbox.run('npx', ['wrangler', 'd1', 'migrations', 'apply', 'labelwatch', '--local', '--persist-to', stateOf(mode)]);

  const meta = JSON.parse(readFileSync(join(snapshot, 'models', MODEL, 'metadata.json'), 'utf8')) as {
    labels: string[];
    features: { name: string }[];
    probes: { input: number[] }[];
  };
  const oneRow = JSON.stringify({ instances: [meta.probes[0].input] });
  const loadBefore = loadavg()[0];
  const results: Record<Mode, AutocannonResult[]> = { off: [], on: [] };
  const cpuPerRequest: Record<Mode, number[]> = { off: [], on: [] };
  let answered = 0;
  let counted = 0;
  let amount: number | undefined;

  for (let round = 1; round <= ROUNDS; round++) {
    console.error(`round ${round}/${ROUNDS} (${CONNECTIONS} connections):`);
    for (const mode of ['off', 'on'] as Mode[]) {
      await startServer(mode);
      const warm = await load(mode, oneRow, WARMUP_REQUESTS);
      // About DURATION_S seconds at the warm rate (the first round's, so every run does the same work).
      amount ??= Math.max(1000, Math.round((warm.requests.total / warm.duration) * DURATION_S));
      const cpuBefore = serverCpuMs();
      const measured = await load(mode, oneRow, amount);
      results[mode].push(measured);
      cpuPerRequest[mode].push((serverCpuMs() - cpuBefore) / amount);
      if (mode === 'on') {
        answered += warm['2xx'] + measured['2xx'];
        process.stderr.write(`  waiting for the last ${WINDOW_SECONDS} s windows to flush … `);
        counted = await waitForFlushes(mode, answered);
        process.stderr.write(`${counted} of ${answered} predictions in D1\n`);
      }
      await sandbox.stopServerAndWait();
    }
  }
  const loadAfter = loadavg()[0];
  const flushes = flushesInD1('on');

  const off = results.off;
  const on = results.on;
  const ratio = mean(on.map((r) => r.requests.average)) / mean(off.map((r) => r.requests.average));
  const cpuRatio = mean(cpuPerRequest.off) / mean(cpuPerRequest.on);
  const row = (mode: Mode, rs: AutocannonResult[]) =>
    `| monitoring ${mode} | ${rs.map((r) => r.requests.average.toFixed(0)).join(', ')} | ${mean(rs.map((r) => r.requests.average)).toFixed(0)} | ${mean(rs.map((r) => r.latency.p50)).toFixed(1)} ms | ${mean(rs.map((r) => r.latency.p99)).toFixed(1)} ms | ${mean(cpuPerRequest[mode]).toFixed(2)} ms | ${failures(rs)} |`;

  // Statements of one flush batch: the window row, label and feature upserts (all labels present: the upper bound), the key.
  const full = emptyCounts();
  for (const label of meta.labels) full.labelCounts[label] = 1;
  for (const f of meta.features) full.features[f.name] = { count: 1, sum: 0, sumSq: 0, min: 0, max: 0, zeros: 0 };
  const perFlush = flushStatementCount(full);
  const statements = flushes.batches * perFlush;
  const per10k = (statements / flushes.predictions) * 10_000;
  const rate = mean(on.map((r) => r.requests.average));
  const projected60 = ((SHARDS * perFlush) / (rate * 60)) * 10_000;

  console.log(`\n### Monitoring benchmark (single-row \`${MODEL}:predict\`, ${CONNECTIONS} connections, ${amount} requests ≈ ${DURATION_S} s a run, ${ROUNDS} round(s), 127.0.0.1)\n`);
  console.log(`Machine: ${availableParallelism()} cores, 1-min load average ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after.`);
  console.log(`Both servers: WINDOW_SECONDS=${WINDOW_SECONDS}, FLUSH_GRACE_SECONDS=${GRACE_SECONDS}, AGGREGATOR_SHARDS=${SHARDS}; only MONITORING differs.\n`);
  console.log('| mode | req/s per round | req/s (mean) | p50 | p99 | server CPU per request | failures |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(row('off', off));
  console.log(row('on', on));
  console.log(`| **on / off** | | **${ratio.toFixed(3)}** (target ≥ ${TARGET_RATIO} ${ratio >= TARGET_RATIO ? '✓' : '✗'}) | | | **${cpuRatio.toFixed(3)}** (off ÷ on: the throughput ratio if CPU-bound) | |`);
  console.log('\n| D1 writes (monitoring on) | value |');
  console.log('|---|---|');
  console.log(`| predictions answered 200 | ${answered} |`);
  console.log(`| predictions in D1 after the flushes (windows API) | ${counted} ${counted === answered ? '✓ exact' : '✗ MISMATCH'} |`);
  console.log(`| predictions carried by flushes (\`flushes\` table) | ${flushes.predictions} |`);
  console.log(`| flush batches (D1 round trips) | ${flushes.batches} over ${flushes.windows} windows (${(flushes.batches / flushes.windows).toFixed(1)} shards per window) |`);
  console.log(`| statements per flush batch | ${perFlush} (window, labels, features, flush key) |`);
  console.log(`| **D1 statements per 10,000 predictions** (${WINDOW_SECONDS} s windows) | **${per10k.toFixed(1)}** |`);
  console.log(`| same, projected for 60 s windows at ${rate.toFixed(0)} req/s (${SHARDS} shards × ${perFlush} statements per window) | ${projected60.toFixed(1)} |`);
}

sandbox.runMain('bench-monitor', main);
