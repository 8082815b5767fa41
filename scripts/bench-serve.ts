// Serving benchmark (not a test): starts `wrangler dev` on 127.0.0.1:8793 with its own local state, measures the
// first request after start (WASM backend + model load; also over 5 more fresh starts each of wrangler dev and
// Miniflare, for a median, FIRST_STARTS=<n> for another count), then drives the server from this process with a
// keep-alive load generator (10 connections): single-row predict vs `GET /v2/health/live` on the same server (the
// HTTP ceiling of this machine) and vs the same POST refused with a 400 after its body was read and parsed (what is
// left between it and predict is rows, inference, recording and the answer). Beside the server runs a minimal
// Worker (scripts/lib/ceiling-worker.js) that reads a POST's body and answers, and answers a GET: its POST / GET,
// with the same body, is the most any Worker's POST can reach against a GET there (the runtime's and the proxy's
// cost of a body), and 1000-row predict. All of these are interleaved in chunks of about 2 s each (health, refused,
// predict, 1000-row, ceiling GET, ceiling POST, then backwards, …) so background load hits all alike; a rate is
// completed requests over the elapsed time measured here, and the server's CPU time over the chunks gives CPU per
// request. Each server is started afresh TRIALS times (default 3) and its chunks pooled, so that one process's luck
// weighs one trial. It does all that twice: as configured, and with MONITORING=off (the cost of recording apart from
// inference; without the ceiling Worker). Then the same on workerd through Miniflare's API, without the `wrangler
// dev` proxy in front (closer to production: it shows how much of the cost is the proxy). Last, the raw and gzip
// size of the deployable bundle, plain and --minify. Each predict / health ratio comes with its 95% interval over the
// rounds (ratioInterval in scripts/lib/bench.ts), and so do the ceiling's POST / GET and predict / health as a share
// of it (shareInterval), which say whether the target can be met on this stack and whether predict is told from the
// best a POST reaches. Prints a markdown table with the targets and ✓ or ✗; exits 0
// either way (a measurement, not a test).
//
// The server runs on a snapshot of the tree in a temp dir (scripts/lib/bench.ts says why).
//
// Run: npm run bench:serve. The load generator shares the machine with workerd: numbers are relative, not absolute;
// the ratios measured in one run are the result.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cli } from './lib/args.ts';
import { cpuMs, failedList, HOST, mark, positive, ratioInterval, ROOT, type Round, Sandbox, shareInterval, type ShareRound, sideOf, span, sumRuns, timedLoad, type TimedRun, TREE, treeLine } from './lib/bench.ts';
import { buildBundle, compatibilityDate, removeBundle, startMiniflare, startWorkerd } from './lib/miniflare.ts';

const PORT = 8793;
const INSPECTOR_PORT = 8794;
const MINIFLARE_PORT = 8799;
/** The ceiling Worker (scripts/lib/ceiling-worker.js): wrangler dev, its inspector, and Miniflare. */
const CEILING = { port: 8802, inspector: 8803, miniflare: 8804 };
const CHUNK_S = 2;
const ROUNDS = positive('ROUNDS', 3);
/**
 * Fresh starts of each server, its chunks pooled: two processes of the very same server differ by several percent
 * here for their whole life (bench:monitor's A/A control), and through `wrangler dev` one server's health ÷ predict
 * moved from 0.74 to 1.02 between two servers of one run. One process's luck then weighs one trial.
 */
const TRIALS = positive('TRIALS', 3);
const WARMUP_REQUESTS = 500;
const CONNECTIONS = 10;
const MODEL = 'penguins';
const TARGET_RATIO = 0.9;
const TARGET_ROWS_PER_S = 550_000;
const TARGET_FIRST_MS = 50;
/** Fresh starts for the first predict: one request is too noisy to judge alone (35–64 ms in runs an hour apart). */
const FIRST_STARTS = positive('FIRST_STARTS', 5);
const TARGET_GZIP_BYTES = 400 * 1024;

cli(
  'bench-serve',
  `usage: npm run bench:serve   (TRIALS=<n> fresh starts of each server, default 3; ROUNDS=<n> rounds of interleaved
  chunks in each, default 3; FIRST_STARTS=<n> fresh starts timed for the first predict, default 5; BENCH_TREE=<dir> to
  serve another checkout's Worker, for a before-and-after pair)

Starts wrangler dev on ${HOST}:${PORT} on a snapshot of the tree (in a temp dir, removed at the end, on an error, and
on Ctrl-C or SIGTERM), then measures the first request (median of ${FIRST_STARTS} fresh starts), 1-row predict
against GET /v2/health/live (interleaved, req/s and server CPU per request, beside a minimal Worker's POST against its
GET on ${HOST}:${CEILING.port}: the ceiling),
1000-row predict, with monitoring on and off; then the same on workerd through Miniflare without the wrangler dev
proxy (${HOST}:${MINIFLARE_PORT}, ceiling ${CEILING.miniflare}); and the deployable bundle's size. Prints a
markdown table with the targets and ✓ or ✗, and exits 0 either way.

  -h, --help     this text`,
  process.argv.slice(2),
  {},
);

const sandbox = new Sandbox('labelwatch-bench-');
const snapshot = sandbox.dir;
const ceilingSandbox = new Sandbox('labelwatch-bench-ceiling-');
const CEILING_SCRIPT = readFileSync(join(ROOT, 'scripts', 'lib', 'ceiling-worker.js'), 'utf8');
const state = join(snapshot, '.wrangler', 'state');

/** A server under test: where it listens and how to read its CPU time. */
interface Server {
  base: string;
  cpu: () => number;
}

/** One request, timed from here (workerd's own clock does not advance during compute). */
async function timed(base: string, path: string, body: string): Promise<{ ms: number; status: number; text: string }> {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return { ms: performance.now() - t0, status: res.status, text };
}

type Run = ReturnType<typeof sumRuns>;

/** One load of a comparison: its name, URL, body (POST when present) and, for a control, the status it expects. */
interface Load {
  name: string;
  url: string;
  body?: string;
  expect?: number;
}

/**
 * Loads compared as ratios, in interleaved chunks (A B C, C B A, A B C, …: ROUNDS of each), each chunk a fixed number
 * of requests (`amount`, about CHUNK_S seconds of 1-row predict at its warm rate, or the load's own), so that a change
 * in background load on the machine hits every side alike instead of whichever happened to run last.
 */
async function interleaved(loads: (Load & { cpu: () => number; amount?: number })[], amount: number): Promise<TimedRun[][]> {
  const chunks: TimedRun[][] = loads.map(() => []);
  const amounts = loads.map((l) => l.amount ?? amount);
  process.stderr.write(`  ${loads.map((l, k) => `${l.name} (${amounts[k]})`).join(' vs ')}: ${ROUNDS} rounds … `);
  // Every load warmed alike first (connections, JIT): no load's first chunk pays a cold start the others did not.
  for (const { url, body, expect } of loads) await timedLoad({ url, connections: CONNECTIONS, body, amount: WARMUP_REQUESTS, expect });
  for (let i = 0; i < ROUNDS; i++) {
    const order = loads.map((_, k) => k);
    if (i % 2 === 1) order.reverse();
    for (const k of order) {
      const { url, body, expect, cpu } = loads[k]!;
      chunks[k]!.push(await timedLoad({ url, connections: CONNECTIONS, body, amount: amounts[k]!, cpu, expect }));
    }
  }
  process.stderr.write(`${chunks.map((c) => sumRuns(c).rps.toFixed(0)).join(' vs ')} req/s\n`);
  return chunks;
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

/** "; 3 non-2xx…: 2× 503 …" when a run had failures (they would flatter the rate), else nothing. */
const failures = (r: Run) => (r.failures ? `; **${r.failures} non-2xx, errors or timeouts**: ${failedList(r, 2)}` : '');
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const ms = (n: number) => `${n.toFixed(1)} ms`;
const rate = (n: number) => n.toFixed(0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} ms`;

/** The loads of one server, as chunks (TimedRun[]) from one start, or pooled over its trials (Run). */
interface Loads<T> {
  live: T;
  /** The 1-row POST refused after its body was read and parsed: what carrying and reading the body costs. */
  posted: T;
  single: T;
  batch: T;
  /** The ceiling Worker's GET and POST of the same body, when it ran beside: the most a POST can reach. */
  ceiling?: { get: T; post: T };
}
/** One start of a server: its first and warm request, and its chunks. */
type Trial = Loads<TimedRun[]> & { first: number; warm: number; readyMs: number };
/** A server over its TRIALS fresh starts: first start's first requests, chunks pooled, each trial's 1-row / health. */
type ServerRun = Loads<Run> & {
  first: number;
  warm: number;
  readyMs: number;
  trialRatios: number[];
  /** 1-row predict (a) against health (b), round by round. */
  rounds: Round[];
  /** With the ceiling Worker beside: its POST (a) against its GET (b), and predict / health as a share of that. */
  ceilingRounds?: Round[];
  shareRounds?: ShareRound[];
};

/** Runs `start` (a fresh server, measured, stopped) TRIALS times and pools the chunks. */
async function trials(title: string, start: () => Promise<Trial>): Promise<ServerRun> {
  const runs: Trial[] = [];
  for (let i = 0; i < TRIALS; i++) {
    console.error(`${title}, trial ${i + 1} of ${TRIALS}:`);
    runs.push(await start());
  }
  const pool = (f: (t: Trial) => TimedRun[]) => sumRuns(runs.flatMap(f));
  const withCeiling = runs.every((t) => t.ceiling);
  return {
    first: runs[0]!.first,
    warm: runs[0]!.warm,
    readyMs: runs[0]!.readyMs,
    live: pool((t) => t.live),
    posted: pool((t) => t.posted),
    single: pool((t) => t.single),
    batch: pool((t) => t.batch),
    ...(withCeiling ? { ceiling: { get: pool((t) => t.ceiling!.get), post: pool((t) => t.ceiling!.post) } } : {}),
    trialRatios: runs.map((t) => sumRuns(t.single).rps / sumRuns(t.live).rps),
    // 1-row predict against health, round by round: chunks of one round are seconds apart.
    rounds: runs.flatMap((t) => t.single.map((single, i) => ({ a: [single], b: [t.live[i]!] }))),
    ...(withCeiling
      ? {
          ceilingRounds: runs.flatMap((t) => t.ceiling!.post.map((post, i) => ({ a: [post], b: [t.ceiling!.get[i]!] }))),
          shareRounds: runs.flatMap((t) =>
            t.single.map((single, i) => ({ a: [single], b: [t.live[i]!], c: [t.ceiling!.post[i]!], d: [t.ceiling!.get[i]!] })),
          ),
        }
      : {}),
  };
}

/** The model's probes from the snapshot, and the 1-row body every load sends (the first probe). */
function probeBodies() {
  const meta = JSON.parse(readFileSync(join(snapshot, 'models', MODEL, 'metadata.json'), 'utf8')) as { probes: { input: number[] }[] };
  return { meta, oneRow: JSON.stringify({ instances: [meta.probes[0].input] }) };
}

/**
 * One server: first and warm request, then health, the refused POST, 1-row and 1000-row predict interleaved (with the
 * ceiling Worker's GET and POST in the same rounds when one runs beside it), each chunk about CHUNK_S seconds.
 */
async function measure(server: Server, ceiling?: Server): Promise<Omit<Trial, 'readyMs'>> {
  const { meta, oneRow } = probeBodies();
  // The same request, read and parsed but refused before its rows are (an unknown signature_name gets 400): what
  // carrying this body through the proxy, the router, the body limit and JSON.parse costs in this Worker.
  const refused = JSON.stringify({ signature_name: 'none', instances: [meta.probes[0].input] });
  const thousandRows = JSON.stringify({ instances: Array.from({ length: 1000 }, (_, i) => meta.probes[i % meta.probes.length].input) });
  const predictPath = `/v1/models/${MODEL}:predict`;

  // First predict after start: instantiates the WASM backend and loads the model. Then the same request warm.
  const first = await timed(server.base, predictPath, oneRow);
  if (first.status !== 200) throw new Error(`first predict: ${first.status} ${first.text}`);
  const warm = await timed(server.base, predictPath, oneRow);
  const big = await timed(server.base, predictPath, thousandRows);
  if (big.status !== 200 || JSON.parse(big.text).predictions.length !== 1000) throw new Error(`1000-row predict: ${big.status} ${big.text.slice(0, 200)}`);

  // Chunk sizes from a warm server's rates: about CHUNK_S seconds each.
  const chunkOf = async (body: string, requests: number, least: number) => {
    const warmup = await timedLoad({ url: `${server.base}${predictPath}`, connections: CONNECTIONS, body, amount: requests });
    return Math.max(least, Math.round((warmup.result.requests.total / warmup.elapsed) * CHUNK_S));
  };
  const amount = await chunkOf(oneRow, 1000, 500);
  const batchAmount = await chunkOf(thousandRows, 200, 100);
  const at = (path: string) => ({ url: `${server.base}${path}`, cpu: server.cpu });
  const [live, posted, single, batch, ceilingGet, ceilingPost] = await interleaved(
    [
      { name: 'GET /v2/health/live', ...at('/v2/health/live') },
      { name: 'the same POST refused (400)', ...at(predictPath), body: refused, expect: 400 },
      { name: '1-row predict', ...at(predictPath), body: oneRow },
      { name: '1000-row predict', ...at(predictPath), body: thousandRows, amount: batchAmount },
      ...(ceiling
        ? [
            { name: 'ceiling GET', url: `${ceiling.base}/`, cpu: ceiling.cpu },
            { name: 'ceiling POST of the 1-row body', url: `${ceiling.base}/`, cpu: ceiling.cpu, body: oneRow },
          ]
        : []),
    ],
    amount,
  );
  return { first: first.ms, warm: warm.ms, live: live!, posted: posted!, single: single!, batch: batch!, ...(ceiling ? { ceiling: { get: ceilingGet!, post: ceilingPost! } } : {}) };
}

/** Starts `wrangler dev` on the snapshot with `extraArgs`; the ms until it answered. */
const startWrangler = (extraArgs: string[]) =>
  sandbox.startServer({ name: 'wrangler dev', port: PORT, inspectorPort: INSPECTOR_PORT, persistTo: state, readyPath: '/v2/health/live', args: extraArgs });

/** `wrangler dev` on the snapshot, measured (with the ceiling Worker beside it when asked), stopped. */
async function viaWrangler(extraArgs: string[], withCeiling = false): Promise<Trial> {
  const readyMs = await startWrangler(extraArgs);
  try {
    if (withCeiling)
      await ceilingSandbox.startServer({ name: 'wrangler dev (ceiling)', port: CEILING.port, inspectorPort: CEILING.inspector, persistTo: join(ceilingSandbox.dir, '.wrangler', 'state'), readyPath: '/', args: [] });
    const ceiling = withCeiling ? { base: `http://${HOST}:${CEILING.port}`, cpu: () => cpuMs({ group: ceilingSandbox.serverPid! }) } : undefined;
    return { readyMs, ...(await measure({ base: `http://${HOST}:${PORT}`, cpu: () => cpuMs({ group: sandbox.serverPid! }) }, ceiling)) };
  } finally {
    await ceilingSandbox.stopServerAndWait();
    await sandbox.stopServerAndWait();
  }
}

/** The minified bundle on workerd through Miniflare (no proxy), measured, stopped. */
async function viaMiniflare(bundleDir: string, vars: Record<string, string>): Promise<Trial> {
  const t0 = performance.now();
  const worker = await startMiniflare({ root: snapshot, bundleDir, port: MINIFLARE_PORT, vars });
  const readyMs = performance.now() - t0;
  const ceilingWorker = await startWorkerd({ port: CEILING.miniflare, modules: true, script: CEILING_SCRIPT, compatibilityDate: compatibilityDate(ROOT) });
  try {
    const ceiling = { base: `http://${HOST}:${CEILING.miniflare}`, cpu: () => cpuMs({ pids: ceilingWorker.workerdPids }) };
    return { readyMs, ...(await measure({ base: `http://${HOST}:${MINIFLARE_PORT}`, cpu: () => cpuMs({ pids: worker.workerdPids }) }, ceiling)) };
  } finally {
    await ceilingWorker.dispose();
    await worker.dispose();
  }
}

/** The first 1-row predict after each of FIRST_STARTS fresh starts of a server (a new isolate each time), in ms. */
async function firstPredicts(name: string, start: () => Promise<{ base: string; stop: () => Promise<void> }>): Promise<number[]> {
  const { oneRow } = probeBodies();
  const times: number[] = [];
  process.stderr.write(`  first predict after start, ${name}, ${FIRST_STARTS} starts … `);
  for (let i = 0; i < FIRST_STARTS; i++) {
    const server = await start();
    try {
      const first = await timed(server.base, `/v1/models/${MODEL}:predict`, oneRow);
      if (first.status !== 200) throw new Error(`first predict: ${first.status} ${first.text}`);
      times.push(first.ms);
    } finally {
      await server.stop();
    }
  }
  process.stderr.write(`${times.map((t) => t.toFixed(1)).join(', ')} ms\n`);
  return times;
}

async function main() {
  console.error(`bench-serve: registry, snapshot in ${snapshot}, local migrations, wrangler dev on ${HOST}:${PORT}`);
  sandbox.fill(TREE);
  sandbox.run('npx', ['wrangler', 'd1', 'migrations', 'apply', 'labelwatch', '--local', '--persist-to', state]);
  ceilingSandbox.fillWith({ 'index.js': CEILING_SCRIPT, 'wrangler.toml': `name = "ceiling"\nmain = "index.js"\ncompatibility_date = "${compatibilityDate(ROOT)}"\n` });
  const loadBefore = loadavg()[0];

  // As configured (monitoring on: every answered batch is tallied and goes to an aggregator Durable Object), then
  // with monitoring off, which isolates the cost of recording from the cost of inference.
  const on = await trials('wrangler dev, as configured (10 connections)', () => viaWrangler([], true));
  const off = await trials('wrangler dev, MONITORING=off', () => viaWrangler(['--var', 'MONITORING:off']));
  const firstViaWrangler = await firstPredicts('wrangler dev', async () => {
    await startWrangler([]);
    return { base: `http://${HOST}:${PORT}`, stop: () => sandbox.stopServerAndWait() };
  });
  const loadMiddle = loadavg()[0];
  console.error('bundle for Miniflare: wrangler deploy --dry-run --minify');
  const bundleDir = buildBundle(snapshot, { parent: sandbox.dir });
  let direct: ServerRun;
  let firstViaMiniflare: number[];
  try {
    direct = await trials('Miniflare (no proxy), as configured', () => viaMiniflare(bundleDir, {}));
    firstViaMiniflare = await firstPredicts('Miniflare', async () => {
      const worker = await startMiniflare({ root: snapshot, bundleDir, port: MINIFLARE_PORT });
      return { base: `http://${HOST}:${MINIFLARE_PORT}`, stop: () => worker.dispose() };
    });
  } finally {
    removeBundle(bundleDir);
  }
  const loadAfter = loadavg()[0];

  console.error('bundle: wrangler deploy --dry-run (plain and --minify)');
  const plain = bundleSize(false);
  const minified = bundleSize(true);

  const latency = (r: Run) => `p50 ${r.p50} ms, p99 ${r.p99} ms`;
  const cpu = (r: Run) => `${r.cpuPerRequest.toFixed(3)} ms CPU/request`;
  const ratio = (r: ServerRun) => r.single.rps / r.live.rps;
  // With its 95% interval over the rounds (ratioInterval); against the target, whether the run tells them apart.
  const ratioRow = (label: string, r: ServerRun, target: boolean): string[] => {
    const interval = ratioInterval(r.rounds).rate;
    const told = { above: ', above it', below: ', below it', both: ', cannot tell' }[sideOf(interval, TARGET_RATIO)];
    return [
      label,
      `**${ratio(r).toFixed(3)}** (95% interval over ${r.rounds.length} rounds ${span(interval)}; CPU per request: health ÷ predict ${(r.live.cpuPerRequest / r.single.cpuPerRequest).toFixed(3)}; trial by trial ${r.trialRatios.map((x) => x.toFixed(3)).join(', ')})`,
      target ? `≥ ${TARGET_RATIO} ${mark(ratio(r) >= TARGET_RATIO)} (interval${told})` : '',
    ];
  };
  // The same with the POST control as the ceiling: what is left is the Worker's own work for a predict.
  const postedRows = (prefix: string, r: ServerRun): string[][] => [
    [`${prefix}the same POST refused after JSON.parse (unknown signature_name, 400)`, `${rate(r.posted.rps)} req/s, ${latency(r.posted)}, ${cpu(r.posted)}${failures(r.posted)}`, ''],
    [
      `${prefix}1-row predict / that refused POST (rows, inference, recording, answer)`,
      `${(r.single.rps / r.posted.rps).toFixed(3)} (CPU per request: POST ÷ predict ${(r.posted.cpuPerRequest / r.single.cpuPerRequest).toFixed(3)})`,
      '',
    ],
  ];
  // A minimal Worker's POST of the same body against its GET, in the same rounds: no Worker's POST does better. When
  // its own interval lies below the target, no Worker could be told to meet the target on this stack in this run;
  // and a share whose interval holds 1 cannot be told from that ceiling.
  const ceilingRows = (prefix: string, r: ServerRun): string[][] => {
    if (!r.ceiling) return [];
    const { get, post } = r.ceiling;
    const ceiling = post.rps / get.rps;
    const interval = ratioInterval(r.ceilingRounds!).rate;
    const reach = { above: 'above the target', below: 'below the target: no Worker meets it here', both: 'the target inside' }[sideOf(interval, TARGET_RATIO)];
    const share = shareInterval(r.shareRounds!);
    const told = share[0] <= 1 && share[1] >= 1 ? 'cannot be told from the ceiling' : share[1] < 1 ? 'below the ceiling' : 'above the ceiling';
    return [
      [
        `${prefix}ceiling: a minimal Worker's POST of the same body (read, answered) / its GET`,
        `**${ceiling.toFixed(3)}** (95% interval ${span(interval)}, ${reach}; ${rate(post.rps)} vs ${rate(get.rps)} req/s; CPU per request ${post.cpuPerRequest.toFixed(3)} vs ${get.cpuPerRequest.toFixed(3)} ms, GET ÷ POST ${(get.cpuPerRequest / post.cpuPerRequest).toFixed(3)})`,
        '',
      ],
      [`${prefix}1-row predict / health, as a share of that ceiling`, `**${(ratio(r) / ceiling).toFixed(3)}** (95% interval ${span(share)}: ${told})`, ''],
    ];
  };
  const rows: string[][] = [
    ['wrangler dev ready (spawn → first 200, first trial)', `${(on.readyMs / 1000).toFixed(1)} s`, ''],
    [
      `first predict after start (WASM init + model load), median of ${FIRST_STARTS} fresh starts`,
      `${ms(median(firstViaWrangler))} (range ${spread(firstViaWrangler)}); Miniflare ${ms(median(firstViaMiniflare!))} (range ${spread(firstViaMiniflare!)})`,
      `≤ ${TARGET_FIRST_MS} ms ${mark(median(firstViaWrangler) <= TARGET_FIRST_MS)}`,
    ],
    ['first predict of each measured server (first trial)', `${ms(on.first)} (monitoring off: ${ms(off.first)}; Miniflare: ${ms(direct.first)})`, ''],
    ['second predict, 1 row (one request, warm, first trial)', ms(on.warm), ''],
    ['`GET /v2/health/live` (HTTP ceiling)', `${rate(on.live.rps)} req/s, ${latency(on.live)}, ${cpu(on.live)}${failures(on.live)}`, ''],
    ['1-row `:predict`', `${rate(on.single.rps)} req/s, ${latency(on.single)}, ${cpu(on.single)}${failures(on.single)}`, ''],
    ratioRow('**1-row predict / health** (req/s)', on, true),
    ...postedRows('', on),
    ...ceilingRows('', on),
    ['1000-row `:predict`', `${rate(on.batch.rps * 1000)} rows/s (${on.batch.rps.toFixed(1)} req/s, ${latency(on.batch)})${failures(on.batch)}`, `≥ 550k rows/s ${mark(on.batch.rps * 1000 >= TARGET_ROWS_PER_S)}`],
    ['MONITORING=off: health', `${rate(off.live.rps)} req/s, ${latency(off.live)}, ${cpu(off.live)}${failures(off.live)}`, ''],
    ['MONITORING=off: 1-row `:predict`', `${rate(off.single.rps)} req/s, ${latency(off.single)}, ${cpu(off.single)}${failures(off.single)}`, ''],
    ratioRow('MONITORING=off: 1-row predict / health', off, false),
    ...postedRows('MONITORING=off: ', off),
    ['MONITORING=off: 1000-row `:predict`', `${rate(off.batch.rps * 1000)} rows/s (${latency(off.batch)})${failures(off.batch)}`, ''],
    ['Miniflare, no proxy: health', `${rate(direct.live.rps)} req/s, ${latency(direct.live)}, ${cpu(direct.live)}${failures(direct.live)}`, ''],
    ['Miniflare, no proxy: 1-row `:predict`', `${rate(direct.single.rps)} req/s, ${latency(direct.single)}, ${cpu(direct.single)}${failures(direct.single)}`, ''],
    ratioRow('Miniflare, no proxy: 1-row predict / health', direct, false),
    ...postedRows('Miniflare, no proxy: ', direct),
    ...ceilingRows('Miniflare, no proxy: ', direct),
    ['Miniflare, no proxy: 1000-row `:predict`', `${rate(direct.batch.rps * 1000)} rows/s (${latency(direct.batch)})${failures(direct.batch)}`, ''],
    ['bundle (`wrangler deploy --dry-run`)', `${kib(plain.raw)} raw, ${kib(plain.gzip)} gzip`, ''],
    ['bundle with `--minify` (what `npm run deploy` uploads)', `${kib(minified.raw)} raw, ${kib(minified.gzip)} gzip`, `≤ 400 KiB gzip ${mark(minified.gzip <= TARGET_GZIP_BYTES)}`],
  ];
  console.log(`\n### Serving benchmark (${CONNECTIONS} connections, ${TRIALS} fresh starts per server × ${ROUNDS} rounds of interleaved chunks of ≈ ${CHUNK_S} s, 127.0.0.1, model \`${MODEL}\`)\n`);
  console.log(treeLine());
  console.log(`Machine: ${availableParallelism()} cores; 1-min load average ${loadBefore.toFixed(1)} before the runs, ${loadMiddle.toFixed(1)} before Miniflare, ${loadAfter.toFixed(1)} after.\n`);
  console.log('| measure | result | target |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

sandbox.runMain('bench-serve', main);
