// What monitoring costs a busy Worker, from parts small enough to measure apart. bench:monitor compares whole servers
// with monitoring on and off; on this machine chunks of the same requests swing ±20–30% within seconds, and one run's
// interval there is ±3–6%, too wide to tell a 2% cost from the 3% target. Here each part is measured where it is
// large against that noise, then added up:
//
// 1. One send: the workerd CPU of a tally going to its aggregator shard (the timer, the Durable Object call and its
//    SQLite write). Paced requests, one every PACE_MS, to a server lingering 1 ms: every request's tally goes alone,
//    so a request costs a whole send more than the same request on a server with monitoring off. Off and on chunks
//    alternate in rounds; the difference per request, with a 95% interval over the rounds.
// 2. The request's own part: recordBatch adding one answered row to an open tally, timed in this Node process (V8,
//    the engine workerd runs) on the penguins model's metadata.
// 3. A busy server: req/s and workerd CPU per request of the off server under 10 connections.
//
// A busy isolate opens at most one tally per model every RECORD_LINGER_MS (a tally lingers that long before it is
// sent, and the next opens after that), so monitoring's share of its CPU is at most
//   sends/s × send + R × own part, over R × CPU per request,  with sends/s ≤ 1000 / linger.
// A send measured alone, with its own wake-ups, is the expensive case; under load sends share them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordBatch } from '../src/aggregate/record.ts';
import { type Env, loadConfig } from '../src/config.ts';
import { parseMetadata } from '../src/serving/metadata.ts';
import { cli } from './lib/args.ts';
import { cpuMs, HOST, mark, meanInterval, recordLingerMs, ROOT, Sandbox, sideOf, sleep, stateParent, timedLoad } from './lib/bench.ts';
import { buildBundle, removeBundle, startMiniflare, type MiniflareWorker } from './lib/miniflare.ts';

const MODEL = 'penguins';
const PORTS = { off: 8843, on: 8844 };
const TARGET_SHARE = 0.03;
const positive = (name: string, fallback: number) => Math.max(1, Math.floor(Number(process.env[name] ?? fallback)) || fallback);
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
  RECORD_LINGER_MS=<ms> for the bound at another linger than the default)

What monitoring costs a busy Worker, from its parts: one send of a tally (workerd CPU, through Miniflare on its own
socket: ${HOST}:${PORTS.off} monitoring off, ${PORTS.on} on with a 1 ms linger, paced requests ${PACE_MS} ms apart, so that each sends its
own), the request's own part (recordBatch on an open tally, in this Node process), and a busy server's CPU per
request. Prints them, the bound they put on monitoring's share of a busy isolate's CPU, and ✓ or ✗ against
${TARGET_SHARE * 100}%; exits 0 either way.

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

async function main() {
  const sandbox = new Sandbox('labelwatch-bench-send-', stateParent().dir);
  console.error('bench-send: registry, snapshot, bundle (wrangler deploy --dry-run --minify)');
  sandbox.fill();
  const bundleDir = buildBundle(sandbox.dir, { parent: sandbox.dir });
  const servers: Record<'off' | 'on', MiniflareWorker> = {} as never;
  try {
    for (const mode of ['off', 'on'] as const)
      servers[mode] = await startMiniflare({
        root: sandbox.dir, bundleDir, port: PORTS[mode], persistDir: join(sandbox.dir, `state-${mode}`),
        vars: { MONITORING: mode, RECORD_LINGER_MS: '1' },
      });
    const url = (mode: 'off' | 'on') => `http://${HOST}:${PORTS[mode]}/v1/models/${MODEL}:predict`;
    const cpu = (mode: 'off' | 'on') => () => cpuMs({ pids: servers[mode].workerdPids });
    for (const mode of ['off', 'on'] as const) {
      await timedLoad({ url: url(mode), connections: BUSY_CONNECTIONS, body: oneRow, amount: 2000 });
      await pacedCpuPerRequest(url(mode), cpu(mode), 200);
    }

    // 1. A send: paced chunks, off and on in turn (which goes first alternates), the difference per round.
    const sends: number[] = [];
    const pacedOff: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const perRequest = { off: 0, on: 0 };
      for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const))
        perRequest[mode] = await pacedCpuPerRequest(url(mode), cpu(mode), PACED);
      sends.push(perRequest.on - perRequest.off);
      pacedOff.push(perRequest.off);
      console.error(`  round ${round + 1}: paced CPU per request off ${perRequest.off.toFixed(3)} ms, on ${perRequest.on.toFixed(3)} ms`);
    }
    // 3. A busy server: monitoring off, 10 connections, a few seconds.
    const busy = await timedLoad({ url: url('off'), connections: BUSY_CONNECTIONS, body: oneRow, amount: 20_000, cpu: cpu('off') });
    const busyRate = busy.result.requests.total / busy.elapsed;
    const busyCpu = busy.cpuMs / busy.result.requests.total;
    // 2. The request's own part, in this process, after the servers are done (it would compete with them for a core).
    const ownMicros = ownPartMicros();

    const send = sends.reduce((a, b) => a + b, 0) / sends.length;
    const sendSpan = meanInterval(sends);
    const share = (sendMs: number, lingerMs: number) => ((1000 / lingerMs) * sendMs + busyRate * (ownMicros / 1000)) / (busyRate * busyCpu);
    const shareCell = (lingerMs: number) => {
      const [lo, hi] = [share(sendSpan[0], lingerMs), share(sendSpan[1], lingerMs)];
      const at = share(send, lingerMs);
      const verdict = { below: 'the interval lies below it', above: 'the interval lies over it', both: 'the interval reaches both sides: cannot tell' }[sideOf([lo, hi], TARGET_SHARE)];
      return `**${(at * 100).toFixed(2)}%** (${(lo * 100).toFixed(2)}–${(hi * 100).toFixed(2)}%) | ≤ ${TARGET_SHARE * 100}% ${mark(at <= TARGET_SHARE)} (${verdict})`;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

    console.log(`\n#### What monitoring costs a busy isolate, part by part (Miniflare, the Worker on its own socket)\n`);
    console.log('| part | measured | how |');
    console.log('|---|---|---|');
    console.log(`| one send of a tally (workerd CPU) | **${send.toFixed(3)} ms** (95% interval ${sendSpan[0].toFixed(3)}–${sendSpan[1].toFixed(3)}) | paced 1-row predict ${PACE_MS} ms apart, linger 1 ms: on − off per request, ${ROUNDS} rounds of ${PACED} (off alone: ${median(pacedOff).toFixed(3)} ms per request, median round) |`);
    console.log(`| the request's own part (recordBatch on an open tally, 1 row) | **${ownMicros.toFixed(2)} µs** | this Node process, median of 5 rounds of 200,000 calls |`);
    console.log(`| a busy server, monitoring off | **${busyRate.toFixed(0)} req/s** at **${busyCpu.toFixed(3)} ms** CPU per request | ${BUSY_CONNECTIONS} connections, ${busy.result.requests.total} requests |`);
    console.log('\n| linger | sends per second at most (one model) | monitoring\'s share of a busy isolate\'s CPU, at most (interval from the send\'s) | target |');
    console.log('|---|---|---|---|');
    for (const lingerMs of [...new Set([LINGER_MS, 5])]) console.log(`| ${lingerMs} ms${lingerMs === LINGER_MS ? ' (this build)' : ''} | ${(1000 / lingerMs).toFixed(0)} | ${shareCell(lingerMs)} |`);
  } finally {
    for (const w of Object.values(servers)) await w.dispose();
    removeBundle(bundleDir);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
