// What monitoring costs a busy Worker, from parts small enough to measure apart. bench:monitor compares whole servers
// with monitoring on and off; on this machine chunks of the same requests swing ±20–30% within seconds, and one run's
// interval there is ±3–6%, too wide to tell a 2% cost from the 3% target. Here each part is measured where it is
// large against that noise, then added up:
//
// 1. One send: the workerd CPU of a tally going to its aggregator shard (the timer, the Durable Object call and its
//    SQLite write). Paced requests, one every PACE_MS, to a server lingering 1 ms: every request's tally goes alone,
//    so a request costs a whole send more than the same request on a server with monitoring off. Two more servers
//    run copies of the Worker with a part of the send taken out, so that the differences split it into its parts.
//    Chunks of each server in rounds; the differences per request, with 95% intervals over the rounds.
// 2. The request's own part: recordBatch adding one answered row to an open tally, timed in this Node process (V8,
//    the engine workerd runs) on the penguins model's metadata.
// 3. A busy server: req/s and workerd CPU per request of the off server under 10 connections.
//
// A busy isolate opens at most one tally per model every RECORD_LINGER_MS (a tally lingers that long before it is
// sent, and the next opens after that), so monitoring's share of its CPU is about
//   (sends/s × send + R × own part) / (R × CPU per request),  with sends/s ≤ 1000 / linger, R in req/s.
// The sends per second are a bound, but a send's cost is the one measured alone: under load a send costs more. At a
// 5 ms linger, where the whole-server comparison can resolve it, bench:monitor measured 14–24% more CPU per request
// against 11–12% here (docs/architecture.md, "Part by part"). So the share is an estimate from below, not a bound.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordBatch } from '../src/aggregate/record.ts';
import { type Env, loadConfig } from '../src/config.ts';
import { parseMetadata } from '../src/serving/metadata.ts';
import { cli } from './lib/args.ts';
import { cpuMs, HOST, mark, meanInterval, positive, recordLingerMs, ROOT, Sandbox, sideOf, sleep, stateParent, timedLoad } from './lib/bench.ts';
import { buildBundle, startMiniflare, type MiniflareWorker } from './lib/miniflare.ts';

const MODEL = 'penguins';
/** The servers' ports, one per variant from here. */
const FIRST_PORT = 8843;
const TARGET_SHARE = 0.03;
/** Rounds of one paced chunk per server, and requests in a paced chunk. */
const ROUNDS = positive('ROUNDS', 6);
const PACED = positive('PACED', 1000);
/** Between paced requests: well over the 1 ms linger plus a send, so that no two requests share a tally. */
const PACE_MS = 4;
const BUSY_CONNECTIONS = 10;
const LINGER_MS = recordLingerMs();

cli(
  'bench-send',
  `usage: npm run bench:send   (ROUNDS=<n> rounds, default ${ROUNDS}; PACED=<n> requests in a paced chunk, default ${PACED};
  RECORD_LINGER_MS=<ms> for the share at another linger than the default)

What monitoring costs a busy Worker, from its parts: one send of a tally (workerd CPU, through Miniflare, the Worker
on its own socket: ${HOST}:${FIRST_PORT} monitoring off, ${FIRST_PORT + 1} on with a 1 ms linger, paced requests ${PACE_MS} ms apart, so that each
sends its own; ${FIRST_PORT + 2} and ${FIRST_PORT + 3} copies of the Worker without the call to the aggregator, and with an aggregator that
returns at once, for the send's parts), the request's own part (recordBatch on an open tally, in this Node
process), and a busy server's CPU per request. Prints them, the share of a busy isolate's CPU they add up to, and
✓ or ✗ against ${TARGET_SHARE * 100}%; exits 0 either way. The snapshots and bundles go in temp dirs, removed at the end.

  -h, --help     this text`,
  process.argv.slice(2),
  {},
);

const metadataJson = JSON.parse(readFileSync(join(ROOT, 'models', MODEL, 'metadata.json'), 'utf8')) as { probes: { input: number[] }[] };
const metadata = parseMetadata(metadataJson);
const oneRow = JSON.stringify({ instances: [metadataJson.probes[0]!.input] });

/** `amount` requests one after another, `PACE_MS` apart; the server's CPU per request meanwhile. */
async function pacedCpuPerRequest(url: string, cpu: () => number, amount: number): Promise<number> {
  const cpu0 = cpu();
  for (let i = 0; i < amount; i++) {
    const res = await fetch(url, { method: 'POST', body: oneRow, headers: { 'content-type': 'application/json' } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    await sleep(PACE_MS);
  }
  return (cpu() - cpu0) / amount;
}

/**
 * µs per call of recordBatch joining an open tally with one row: the part of monitoring every request pays. The
 * tally is opened first (its send, once this loop yields, goes to a stand-in for the aggregator namespace).
 */
function ownPartMicros(): number {
  const config = loadConfig({});
  const env = { AGGREGATOR: { idFromName: () => ({}), get: () => ({ record: async () => undefined }) } } as unknown as Env;
  const rows = [metadataJson.probes[0]!.input];
  const probabilities = [Float32Array.from([0.7, 0.2, 0.1])];
  const times: number[] = [];
  for (let round = 0; round < 7; round++) {
    const calls = 200_000;
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) recordBatch(env, config, metadata, rows, probabilities, Date.now());
    times.push(((performance.now() - t0) * 1000) / calls);
  }
  // The first rounds run colder code; the median of the rest.
  const warm = times.slice(2).sort((a, b) => a - b);
  return warm[Math.floor(warm.length / 2)]!;
}

/** A copy of the Worker with one part of the send taken out: a textual patch of the snapshot, checked to apply. */
interface Variant {
  name: string;
  patch?: { file: string; from: string; to: string };
}
const VARIANTS: Variant[] = [
  { name: 'off' },
  { name: 'on' },
  // The timer and the tally made plain, no call to the aggregator.
  { name: 'no call', patch: { file: 'src/aggregate/record.ts', from: 'counts: WindowCounts) {', to: 'counts: WindowCounts) {\n  if (counts) return;' } },
  // The call to the aggregator, its method returning at once.
  {
    name: 'empty call',
    patch: { file: 'src/aggregate/aggregator.ts', from: 'async record(req: RecordRequest): Promise<void> {', to: 'async record(req: RecordRequest): Promise<void> {\n    if (req) return;' },
  },
];

async function main() {
  console.error('bench-send: registry, snapshots, bundles (wrangler deploy --dry-run --minify)');
  const state = stateParent().dir;
  const ports = new Map(VARIANTS.map((v, i) => [v.name, FIRST_PORT + i]));
  const servers = new Map<string, MiniflareWorker>();
  try {
    // One snapshot and bundle per patch; the unpatched ones ("off" and "on") share theirs, each with its own state.
    const built = new Map<Variant['patch'], { root: string; bundleDir: string }>();
    for (const variant of VARIANTS) {
      let tree = built.get(variant.patch);
      if (!tree) {
        const sandbox = new Sandbox(`labelwatch-bench-send-${variant.name.replace(' ', '-')}-`, state);
        sandbox.fill();
        if (variant.patch) {
          const path = join(sandbox.dir, variant.patch.file);
          const text = readFileSync(path, 'utf8');
          if (!text.includes(variant.patch.from)) throw new Error(`${variant.patch.file} no longer has \`${variant.patch.from}\`: update bench-send's ${variant.name} variant`);
          writeFileSync(path, text.replace(variant.patch.from, variant.patch.to));
        }
        // Inside the sandbox, which is removed when the process exits.
        tree = { root: sandbox.dir, bundleDir: buildBundle(sandbox.dir, { parent: sandbox.dir }) };
        built.set(variant.patch, tree);
      }
      servers.set(
        variant.name,
        await startMiniflare({
          ...tree, port: ports.get(variant.name)!, persistDir: join(tree.root, `state-${variant.name.replace(' ', '-')}`),
          vars: { MONITORING: variant.name === 'off' ? 'off' : 'on', RECORD_LINGER_MS: '1' },
        }),
      );
    }
    const url = (name: string) => `http://${HOST}:${ports.get(name)}/v1/models/${MODEL}:predict`;
    const cpu = (name: string) => () => cpuMs({ pids: servers.get(name)!.workerdPids });
    for (const { name } of VARIANTS) {
      await timedLoad({ url: url(name), connections: BUSY_CONNECTIONS, body: oneRow, amount: 2000 });
      await pacedCpuPerRequest(url(name), cpu(name), 200);
    }

    // 1. A send and its parts: paced chunks of every server in rounds (the order rotating), CPU per request.
    const paced = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < VARIANTS.length; i++) {
        const { name } = VARIANTS[(i + round) % VARIANTS.length]!;
        paced.get(name)!.push(await pacedCpuPerRequest(url(name), cpu(name), PACED));
      }
      console.error(`  round ${round + 1}: paced CPU per request ${VARIANTS.map(({ name }) => `${name} ${paced.get(name)![round]!.toFixed(3)} ms`).join(', ')}`);
    }
    // Per round, the difference between two servers' CPU per request: the part of the send one has and the other lacks.
    const between = (more: string, less: string) => paced.get(more)!.map((x, round) => x - paced.get(less)![round]!);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const sends = between('on', 'off');
    const parts: [string, number[]][] = [
      ['the timer, and the tally made plain', between('no call', 'off')],
      ['the call to the aggregator (a Durable Object method that returns at once)', between('empty call', 'no call')],
      ["the aggregator's work: its SQLite write (committed before it answers) and alarm check", between('on', 'empty call')],
    ];

    // 3. A busy server: monitoring off, 10 connections, a few seconds.
    const busy = await timedLoad({ url: url('off'), connections: BUSY_CONNECTIONS, body: oneRow, amount: 20_000, cpu: cpu('off') });
    const busyRate = busy.result.requests.total / busy.elapsed;
    const busyCpu = busy.cpuMs / busy.result.requests.total;
    // 2. The request's own part, in this process, after the servers are done (it would compete with them for a core).
    const ownMicros = ownPartMicros();

    const send = mean(sends);
    const sendSpan = meanInterval(sends);
    const share = (sendMs: number, lingerMs: number) => ((1000 / lingerMs) * sendMs + busyRate * (ownMicros / 1000)) / (busyRate * busyCpu);
    const shareCell = (lingerMs: number) => {
      const [lo, hi] = [share(sendSpan[0], lingerMs), share(sendSpan[1], lingerMs)];
      const at = share(send, lingerMs);
      const verdict = { below: 'the interval lies below it', above: 'the interval lies over it', both: 'the interval reaches both sides: cannot tell' }[sideOf([lo, hi], TARGET_SHARE)];
      return `**${(at * 100).toFixed(2)}%** (${(lo * 100).toFixed(2)}–${(hi * 100).toFixed(2)}%) | ≤ ${TARGET_SHARE * 100}% ${mark(at <= TARGET_SHARE)} (${verdict})`;
    };
    const ms = (xs: number[]) => {
      const [lo, hi] = meanInterval(xs);
      return `${mean(xs).toFixed(3)} ms (95% interval ${lo.toFixed(3)}–${hi.toFixed(3)})`;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

    console.log(`\n#### What monitoring costs a busy isolate, part by part (Miniflare, the Worker on its own socket)\n`);
    console.log('| part | measured | how |');
    console.log('|---|---|---|');
    console.log(`| one send of a tally (workerd CPU) | **${ms(sends)}** | paced 1-row predict ${PACE_MS} ms apart, linger 1 ms: on − off per request, ${ROUNDS} rounds of ${PACED} (off alone: ${median(paced.get('off')!).toFixed(3)} ms per request, median round) |`);
    for (const [what, xs] of parts) console.log(`| of which ${what} | ${ms(xs)} | the same rounds, against a copy of the Worker without it |`);
    console.log(`| the request's own part (recordBatch on an open tally, 1 row) | **${ownMicros.toFixed(2)} µs** | this Node process, median of 5 rounds of 200,000 calls |`);
    console.log(`| a busy server, monitoring off | **${busyRate.toFixed(0)} req/s** at **${busyCpu.toFixed(3)} ms** CPU per request | ${BUSY_CONNECTIONS} connections, ${busy.result.requests.total} requests |`);
    console.log("\n| linger | sends per second at most (one model) | monitoring's share of a busy isolate's CPU, sends costing what one costs alone (interval from the send's) | target |");
    console.log('|---|---|---|---|');
    for (const lingerMs of [...new Set([LINGER_MS, 5])]) console.log(`| ${lingerMs} ms${lingerMs === LINGER_MS ? ' (this build)' : ''} | ${(1000 / lingerMs).toFixed(0)} | ${shareCell(lingerMs)} |`);
  } finally {
    for (const w of servers.values()) await w.dispose();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
