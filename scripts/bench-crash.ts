// Crash benchmark (not a test): how many answered predictions a hard crash of the process loses. Runs the minified
// bundle on workerd through Miniflare with D1 and the Durable Objects on disk, sends single-row predict with
// autocannon (10 connections) for a few seconds, kills workerd with SIGKILL in the middle of the burst, starts it
// again on the same disk state and counts every prediction that survived: in D1, or held by an aggregator shard
// (pending or sealed, read over RPC). Lost = answered 200 (responses the client received) − survived. Repeats TRIALS
// times (default 5) and prints a markdown table.
//
// What it shows: the aggregator shards lose nothing (their SQLite storage is durable before record() returns); what
// is lost is the isolate's open tally (at most the last RECORD_LINGER_MS of answered predictions) plus a record() call
// in flight at the kill.
//
// Run: npm run bench:crash (RECORD_LINGER_MS=<ms> to run the Worker with another linger than the default)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { shardName } from '../src/aggregate/record.ts';
import type { Holdings } from '../src/aggregate/aggregator.ts';
import { cli } from './lib/args.ts';
import { HOST, loadTest, positive, recordLingerMs, ROOT, sleep } from './lib/bench.ts';
import { buildBundle, removeBundle, startMiniflare, type MiniflareWorker } from './lib/miniflare.ts';

const PORT = 8839;

cli(
  'bench-crash',
  `usage: npm run bench:crash   (TRIALS=<n> for more kills, default 5; RECORD_LINGER_MS=<ms> for another linger)

Runs the minified bundle on workerd through Miniflare (${HOST}:8839) with D1 and the Durable Objects on disk, kills
workerd with SIGKILL in the middle of a burst of 1-row predict, starts it again on the same state and counts the
answered predictions that survived (in D1 or held by an aggregator shard). Prints a markdown table.

  -h, --help     this text`,
  process.argv.slice(2),
  {},
);
const MODEL = 'penguins';
const SHARDS = 4;
const TRIALS = positive('TRIALS', 5);
const CONNECTIONS = 10;
const LINGER_MS = recordLingerMs();

/** Predictions that survived: in D1 (every window of the model) plus what the shards hold. */
async function survived(worker: MiniflareWorker, version: string): Promise<{ d1: number; shards: number }> {
  const db = (await worker.mf.getD1Database('DB')) as unknown as { prepare(s: string): { first<T>(): Promise<T | null> } };
  const d1 = (await db.prepare(`SELECT coalesce(sum(n), 0) AS n FROM windows WHERE model = '${MODEL}'`).first<{ n: number }>())?.n ?? 0;
  const ns = (await worker.mf.getDurableObjectNamespace('AGGREGATOR')) as unknown as {
    idFromName(name: string): unknown;
    get(id: unknown): { holdings(): Promise<Holdings> };
  };
  let shards = 0;
  for (let k = 0; k < SHARDS; k++) {
    const h = await ns.get(ns.idFromName(shardName(MODEL, version, k))).holdings();
    for (const w of [...h.pending, ...h.sealed]) shards += w.counts.n;
  }
  return { d1, shards };
}

async function main() {
  const meta = JSON.parse(readFileSync(join(ROOT, 'models', MODEL, 'metadata.json'), 'utf8')) as { version: string; probes: { input: number[] }[] };
  const body = JSON.stringify({ instances: [meta.probes[0].input] });
  const url = `http://${HOST}:${PORT}/v1/models/${MODEL}:predict`;
  const vars = { AGGREGATOR_SHARDS: String(SHARDS), RECORD_LINGER_MS: String(LINGER_MS) };
  console.error('bench-crash: bundle (minified)');
  const bundleDir = buildBundle(ROOT);
  const loadBefore = loadavg()[0];
  const rows: { answered: number; d1: number; shards: number; lost: number; rate: number }[] = [];
  try {
    for (let trial = 1; trial <= TRIALS; trial++) {
      const state = mkdtempSync(join(tmpdir(), 'labelwatch-crash-'));
      try {
        let worker = await startMiniflare({ root: ROOT, bundleDir, port: PORT, vars, persistDir: state });
        const pids = worker.workerdPids;
        // A burst, and SIGKILL in its middle: the client counts every 200 it received before the kill.
        const killAfterMs = 2000 + Math.random() * 1000;
        const burst = loadTest({ url, connections: CONNECTIONS, body, duration: 4 });
        const t0 = performance.now();
        await sleep(killAfterMs);
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        const result = await burst;
        const seconds = (performance.now() - t0) / 1000;
        await worker.dispose().catch(() => undefined);
        worker = await startMiniflare({ root: ROOT, bundleDir, port: PORT, vars, persistDir: state });
        try {
          const { d1, shards } = await survived(worker, meta.version);
          const answered = result['2xx'];
          rows.push({ answered, d1, shards, lost: answered - d1 - shards, rate: answered / Math.min(seconds, killAfterMs / 1000) });
          console.error(`  trial ${trial}: ${answered} answered, ${d1} in D1 + ${shards} held by shards, lost ${answered - d1 - shards}`);
        } finally {
          await worker.dispose();
        }
      } finally {
        rmSync(state, { recursive: true, force: true });
      }
    }
  } finally {
    removeBundle(bundleDir);
  }
  console.log(`\n### Crash benchmark: SIGKILL of workerd during a burst of single-row \`${MODEL}:predict\` (${CONNECTIONS} connections, Miniflare, RECORD_LINGER_MS ${LINGER_MS})\n`);
  console.log(`Machine: ${availableParallelism()} cores; 1-min load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after.\n`);
  console.log('| trial | answered 200 | in D1 | held by shards | lost | req/s before the kill | lost as ms of traffic |');
  console.log('|---|---|---|---|---|---|---|');
  rows.forEach((r, i) =>
    console.log(`| ${i + 1} | ${r.answered} | ${r.d1} | ${r.shards} | **${r.lost}** | ${r.rate.toFixed(0)} | ${((r.lost / r.rate) * 1000).toFixed(0)} ms |`),
  );
  const worst = Math.max(...rows.map((r) => r.lost));
  console.log(`\nWorst: ${worst} predictions lost; bound: the open tally (≤ ${LINGER_MS} ms of traffic) plus one record() call in flight.`);
}

main()
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(`bench-crash: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
