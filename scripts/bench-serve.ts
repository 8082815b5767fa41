// Serving benchmark (not a test): starts `wrangler dev` on 127.0.0.1:8793 with its own local state, measures the
// first request after start (WASM backend + model load), then drives the server from this process with autocannon
// (10 connections, 10 s per measure): single-row predict vs `GET /v2/health/live` on the same server (the HTTP
// ceiling of this machine; the two are interleaved in 2.5 s chunks so background load hits both alike), then
// 1000-row predict. It does all that twice: as configured, and with MONITORING=off (the cost of recording apart from
// inference). Last, the raw and gzip size of the deployable bundle, plain and --minify. Prints a markdown table.
//
// The server runs on a snapshot of the tree in a temp dir (scripts/lib/bench.ts says why).
//
// Run: npm run bench:serve. The load generator shares the machine with workerd: numbers are relative, not absolute.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cli } from './lib/args.ts';
import { HOST, loadTest, Sandbox, type AutocannonResult } from './lib/bench.ts';

const PORT = 8793;
const INSPECTOR_PORT = 8794;
const BASE = `http://${HOST}:${PORT}`;
const DURATION_S = 10;
const CONNECTIONS = 10;
const MODEL = 'penguins';
const TARGET_RATIO = 0.8;
const TARGET_GZIP_BYTES = 1024 * 1024;

cli(
  'bench-serve',
  `usage: npm run bench:serve

Starts wrangler dev on ${HOST}:${PORT} on a snapshot of the tree (in a temp dir, removed at the end, on an error, and
on Ctrl-C or SIGTERM), then measures the first request, 1-row predict against GET /v2/health/live, 1000-row predict,
all with monitoring on and off, and the deployable bundle's size. Prints a markdown table.

  -h, --help     this text`,
  process.argv.slice(2),
  {},
);

const sandbox = new Sandbox('labelwatch-bench-');
const snapshot = sandbox.dir;
const state = join(snapshot, '.wrangler', 'state');

/** Starts the server; the ms from spawn to its first 200. */
const startServer = (extraArgs: string[]) =>
  sandbox.startServer({ name: 'wrangler dev', port: PORT, inspectorPort: INSPECTOR_PORT, persistTo: state, readyPath: '/v2/health/live', args: extraArgs });

/** One request, timed from here (workerd's own clock does not advance during compute). */
async function timed(path: string, body: string): Promise<{ ms: number; status: number; text: string }> {
  const t0 = performance.now();
  const res = await fetch(`${BASE}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return { ms: performance.now() - t0, status: res.status, text };
}

/** What the table reports of a load run (or of several interleaved chunks of one). */
interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

const autocannonRun = (path: string, body: string | undefined, duration: number): Promise<AutocannonResult> =>
  loadTest({ url: `${BASE}${path}`, connections: CONNECTIONS, body, duration });

/** Combines chunks: rate over the whole time; p50 the median of chunk p50s; p99 the worst chunk's (conservative). */
function combine(chunks: AutocannonResult[]): Run {
  const p50s = chunks.map((c) => c.latency.p50).sort((a, b) => a - b);
  return {
    rps: chunks.reduce((n, c) => n + c.requests.total, 0) / chunks.reduce((t, c) => t + c.duration, 0),
    p50: p50s[Math.floor(p50s.length / 2)],
    p99: Math.max(...chunks.map((c) => c.latency.p99)),
    non2xx: chunks.reduce((n, c) => n + c.non2xx, 0),
    errors: chunks.reduce((n, c) => n + c.errors, 0),
    timeouts: chunks.reduce((n, c) => n + c.timeouts, 0),
  };
}

async function load(title: string, path: string, body?: string, duration = DURATION_S): Promise<Run> {
  process.stderr.write(`  ${title}: ${duration} s … `);
  const run = combine([await autocannonRun(path, body, duration)]);
  process.stderr.write(`${run.rps.toFixed(0)} req/s\n`);
  return run;
}

/**
 * Two loads compared as a ratio, in alternating chunks (A B A B …, DURATION_S of each in total), so that a change
 * in background load on the machine hits both sides alike instead of whichever happened to run second.
 */
async function interleaved(a: [string, string, string?], b: [string, string, string?], rounds = 4): Promise<[Run, Run]> {
  const chunk = DURATION_S / rounds;
  const ra: AutocannonResult[] = [];
  const rb: AutocannonResult[] = [];
  process.stderr.write(`  ${a[0]} vs ${b[0]}: ${rounds} × (${chunk} s + ${chunk} s) … `);
  for (let i = 0; i < rounds; i++) {
    ra.push(await autocannonRun(a[1], a[2], chunk));
    rb.push(await autocannonRun(b[1], b[2], chunk));
  }
  const result: [Run, Run] = [combine(ra), combine(rb)];
  process.stderr.write(`${result[0].rps.toFixed(0)} vs ${result[1].rps.toFixed(0)} req/s\n`);
  return result;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** `wrangler deploy --dry-run` into a temp dir; raw and gzip bytes summed over the output files (source maps excluded). */
function bundleSize(minify: boolean): { raw: number; gzip: number } {
  // Inside the sandbox, so an interrupted run leaves no bundle behind either.
  const out = mkdtempSync(join(sandbox.dir, 'bundle-'));
  try {
    sandbox.run('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', out, ...(minify ? ['--minify'] : [])]);
    let raw = 0;
    let gzip = 0;
    for (const file of filesUnder(out).filter((f) => !f.endsWith('.map'))) {
      const bytes = readFileSync(file);
      raw += bytes.length;
      gzip += gzipSync(bytes, { level: 9 }).length;
    }
    return { raw, gzip };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** ", 3 non-2xx" etc. when a run had failures (they would flatter the rate), else nothing. */
const failures = (r: Run) =>
  r.non2xx || r.errors || r.timeouts ? `; **${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts**` : '';
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const ms = (n: number) => `${n.toFixed(1)} ms`;
const rate = (n: number) => n.toFixed(0);

interface ServerRun {
  readyMs: number;
  first: number;
  warm: number;
  live: Run;
  single: Run;
  batch: Run;
}

/** One server start: first and warm request, then health, 1-row and 1000-row load runs; the server is stopped after. */
async function measure(title: string, extraArgs: string[]): Promise<ServerRun> {
  console.error(`${title}:`);
  const readyMs = await startServer(extraArgs);
  const meta = JSON.parse(readFileSync(join(snapshot, 'models', MODEL, 'metadata.json'), 'utf8')) as { probes: { input: number[] }[] };
  const oneRow = JSON.stringify({ instances: [meta.probes[0].input] });
  const thousandRows = JSON.stringify({ instances: Array.from({ length: 1000 }, (_, i) => meta.probes[i % meta.probes.length].input) });
  const predictPath = `/v1/models/${MODEL}:predict`;

  // First predict after start: instantiates the WASM backend and loads the model. Then the same request warm.
  const first = await timed(predictPath, oneRow);
  if (first.status !== 200) throw new Error(`first predict: ${first.status} ${first.text}`);
  const warm = await timed(predictPath, oneRow);
  const big = await timed(predictPath, thousandRows);
  if (big.status !== 200 || JSON.parse(big.text).predictions.length !== 1000) throw new Error(`1000-row predict: ${big.status} ${big.text.slice(0, 200)}`);

  await load('warm-up', predictPath, oneRow, 2);
  const [live, single] = await interleaved(['GET /v2/health/live', '/v2/health/live'], ['1-row predict', predictPath, oneRow]);
  const batch = await load('1000-row predict', predictPath, thousandRows);
  await sandbox.stopServerAndWait();
  return { readyMs, first: first.ms, warm: warm.ms, live, single, batch };
}

async function main() {
  console.error(`bench-serve: registry, snapshot in ${snapshot}, local migrations, wrangler dev on ${HOST}:${PORT}`);
  sandbox.fill();
  sandbox.run('npx', ['wrangler', 'd1', 'migrations', 'apply', 'labelwatch', '--local', '--persist-to', state]);
  const loadBefore = loadavg()[0];

  // As configured (monitoring on: every answered batch goes to an aggregator Durable Object), then with monitoring
  // off, which isolates the cost of recording from the cost of inference.
  const on = await measure('server as configured (10 connections)', []);
  const off = await measure('server with MONITORING=off', ['--var', 'MONITORING:off']);
  const loadAfter = loadavg()[0];

  console.error('bundle: wrangler deploy --dry-run (plain and --minify)');
  const plain = bundleSize(false);
  const minified = bundleSize(true);

  const latency = (r: Run) => `p50 ${r.p50} ms, p99 ${r.p99} ms`;
  const ratioRow = (label: string, r: ServerRun) => {
    const ratio = r.single.rps / r.live.rps;
    return [label, ratio.toFixed(2), `≥ ${TARGET_RATIO} ${ratio >= TARGET_RATIO ? '✓' : '✗'}`];
  };
  const rows = [
    ['wrangler dev ready (spawn → first 200)', `${(on.readyMs / 1000).toFixed(1)} s`, ''],
    ['first predict after start (WASM init + model load)', `${ms(on.first)} (again with monitoring off: ${ms(off.first)})`, ''],
    ['second predict, 1 row (one request, warm)', ms(on.warm), ''],
    ['`GET /v2/health/live` (HTTP ceiling)', `${rate(on.live.rps)} req/s, ${latency(on.live)}${failures(on.live)}`, ''],
    ['1-row `:predict`', `${rate(on.single.rps)} req/s, ${latency(on.single)}${failures(on.single)}`, ''],
    ratioRow('1-row predict / health (req/s)', on),
    ['1000-row `:predict`', `${rate(on.batch.rps * 1000)} rows/s (${on.batch.rps.toFixed(1)} req/s, ${latency(on.batch)})${failures(on.batch)}`, ''],
    ['MONITORING=off: health', `${rate(off.live.rps)} req/s, ${latency(off.live)}${failures(off.live)}`, ''],
    ['MONITORING=off: 1-row `:predict`', `${rate(off.single.rps)} req/s, ${latency(off.single)}${failures(off.single)}`, ''],
    ratioRow('MONITORING=off: 1-row predict / health', off),
    ['MONITORING=off: 1000-row `:predict`', `${rate(off.batch.rps * 1000)} rows/s (${latency(off.batch)})${failures(off.batch)}`, ''],
    ['bundle (`wrangler deploy --dry-run`)', `${kib(plain.raw)} raw, ${kib(plain.gzip)} gzip`, `≤ 1024 KiB gzip ${plain.gzip <= TARGET_GZIP_BYTES ? '✓' : '✗'}`],
    ['bundle with `--minify`', `${kib(minified.raw)} raw, ${kib(minified.gzip)} gzip`, `≤ 1024 KiB gzip ${minified.gzip <= TARGET_GZIP_BYTES ? '✓' : '✗'}`],
  ];
  console.log(`\n### Serving benchmark (${CONNECTIONS} connections, ${DURATION_S} s a run, 127.0.0.1, model \`${MODEL}\`)\n`);
  console.log(`Machine: ${availableParallelism()} cores; 1-min load average ${loadBefore.toFixed(1)} before the runs, ${loadAfter.toFixed(1)} after.\n`);
  console.log('| measure | result | target |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

sandbox.runMain('bench-serve', main);
