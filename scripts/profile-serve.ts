// Where a single-row predict's time goes (not a test): runs the Worker bundle (not minified, so functions keep their
// names) on workerd through Miniflare, takes a CPU profile of the Worker's isolate through workerd's inspector while
// autocannon sends 1-row `penguins:predict` requests, and prints the functions with the most self time, and the
// inclusive time of a few parts of the path (TF.js predict, recording, JSON, Hono).
//
// With --first it profiles instead the first predict after start, alone (WASM backend, model load, first kernels);
// with --health, `GET /v2/health/live` under the same load: what any request costs, predict's floor; with --kserve,
// the same rows through KServe V2's `/v2/models/penguins/infer` instead of TF Serving's `:predict`.
//
// Run: npm run profile:serve [-- --seconds 10 --monitoring on|off --rows 1 --out profile.cpuprofile --top 25 --first --health --kserve]
// The .cpuprofile opens in Chrome DevTools (Performance panel) or speedscope.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// undici (Miniflare's HTTP client) has the WebSocket that Node 20 lacks as a global.
import { WebSocket } from 'undici';
import { parseFlags, UsageError } from './lib/args.ts';
import { HOST, loadTest, ROOT, type AutocannonResult } from './lib/bench.ts';
import { buildBundle, removeBundle, startMiniflare } from './lib/miniflare.ts';

const PORT = 8797;
const INSPECTOR_PORT = 8798;
const MODEL = 'penguins';

const USAGE = `usage: npm run profile:serve -- [--seconds N] [--monitoring on|off] [--rows N] [--out FILE] [--top N] [--first] [--health] [--kserve]

Runs the Worker bundle (not minified) on workerd through Miniflare (${HOST}:${PORT}, inspector ${INSPECTOR_PORT}), takes a
CPU profile of the Worker's isolate while 10 connections send N-row predict (default 1 row, 10 s, monitoring on), and
prints the functions with the most self time (default top 25) and the time per part of the path. --out writes the
.cpuprofile (Chrome DevTools, speedscope). --first profiles the first predict after start instead, alone (WASM
backend set-up, model load, first kernel calls), and prints the same tables for it. --health profiles
GET /v2/health/live instead of predict, under the same load: the part of a predict's time any request costs.
--kserve sends the rows to KServe V2's /v2/models/${MODEL}/infer instead of TF Serving's :predict.

  -h, --help     this text`;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A tiny Chrome DevTools Protocol client over the inspector's WebSocket. */
async function connect(url: string) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 1;
  const waiting = new Map<number, (r: { result?: unknown; error?: { message: string } }) => void>();
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg);
  };
  return {
    send: <T>(method: string, params: object = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = next++;
        waiting.set(id, (r) => (r.error ? reject(new Error(`${method}: ${r.error.message}`)) : resolve(r.result as T)));
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** One predict, timed from here, in the shape of loadTest's result (what the tables read from it). */
async function firstRequest(url: string, body: string) {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`first predict: ${res.status} ${text.slice(0, 200)}`);
  return { requests: { total: 1 }, latency: { average: performance.now() - t0 } };
}

/** The load's result, once every request was answered 2xx: a profile of refusals would pass for one of predictions. */
function allAnswered(load: AutocannonResult): AutocannonResult {
  const failed = load.non2xx + load.errors + load.timeouts;
  if (failed > 0) throw new Error(`${failed} of the ${load.requests.total} requests were not answered 2xx: the profile would not be of what was asked`);
  return load;
}

const label = (n: ProfileNode) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const file = url.split('/').pop() || '(native)';
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
};

/** Self time per function, and inclusive time of the frames whose name matches each of `parts`. */
function summarize(profile: Profile, parts: Record<string, RegExp>) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const self = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const key = label(byId.get(id)!);
    self.set(key, (self.get(key) ?? 0) + us);
  }
  const inclusive = Object.fromEntries(Object.keys(parts).map((k) => [k, 0]));
  for (const [id, us] of selfUs) {
    const hit = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const name = byId.get(n)!.callFrame.functionName;
      for (const [part, re] of Object.entries(parts)) if (re.test(name)) hit.add(part);
    }
    for (const part of hit) inclusive[part] += us;
  }
  return { total, self: [...self].sort((a, b) => b[1] - a[1]), inclusive };
}

async function main(argv: string[]) {
  const values = parseFlags(argv, {
    seconds: { type: 'string', default: '10' },
    monitoring: { type: 'string', default: 'on' },
    rows: { type: 'string', default: '1' },
    out: { type: 'string' },
    top: { type: 'string', default: '25' },
    first: { type: 'boolean', default: false },
    health: { type: 'boolean', default: false },
    kserve: { type: 'boolean', default: false },
  });
  if (values.help) return console.log(USAGE);
  const seconds = Number(values.seconds);
  const rows = Number(values.rows);
  const top = Number(values.top);
  if (!(seconds > 0 && seconds <= 600)) throw new UsageError(`--seconds: expected a number in (0, 600], got "${values.seconds}"`);
  if (!Number.isInteger(rows) || rows < 1 || rows > 1000) throw new UsageError(`--rows: expected an integer from 1 to 1000, got "${values.rows}"`);
  if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top: expected a positive integer, got "${values.top}"`);
  if (values.monitoring !== 'on' && values.monitoring !== 'off') throw new UsageError(`--monitoring: expected on or off, got "${values.monitoring}"`);
  if (values.health && values.first) throw new UsageError('--health and --first: choose one');

  console.error('profile-serve: bundle (not minified), Miniflare with the inspector');
  const bundleDir = buildBundle(ROOT, { minify: false });
  const worker = await startMiniflare({ root: ROOT, bundleDir, port: PORT, inspectorPort: INSPECTOR_PORT, vars: { MONITORING: values.monitoring } });
  try {
    const meta = JSON.parse(readFileSync(join(ROOT, 'models', MODEL, 'metadata.json'), 'utf8')) as { probes: { input: number[] }[] };
    const instances = Array.from({ length: rows }, (_, i) => meta.probes[i % meta.probes.length].input);
    const body = JSON.stringify(
      values.kserve
        ? { inputs: [{ name: 'features', shape: [rows, instances[0].length], datatype: 'FP32', data: instances }] }
        : { instances },
    );
    const predictUrl = values.kserve ? `http://${HOST}:${PORT}/v2/models/${MODEL}/infer` : `http://${HOST}:${PORT}/v1/models/${MODEL}:predict`;
    const target = values.health ? { url: `http://${HOST}:${PORT}/v2/health/live` } : { url: predictUrl, body };
    if (!values.first) await loadTest({ ...target, connections: 10, duration: 2 }); // warm: model loaded, functions optimised
    const cdp = await connect(`ws://${HOST}:${INSPECTOR_PORT}/core:user:`);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
    const load = values.first ? await firstRequest(predictUrl, body) : allAnswered(await loadTest({ ...target, connections: 10, duration: seconds }));
    const { profile } = await cdp.send<{ profile: Profile }>('Profiler.stop');
    cdp.close();

    if (values.out) writeFileSync(values.out, JSON.stringify(profile));

    const { total, self, inclusive } = summarize(profile, {
      ...(values.first
        ? {
            'WASM backend set-up (createWasmBackend, setBackend)': /^(createWasmBackend|setBackend|initializeBackend|setupFunc|setup)$/,
            'model load (loadLayersModel, or readDenseSteps)': /^(loadLayersModel|loadLayersModelFromIOHandler|deserialize|fromConfig|readDenseSteps)$/,
            'Dense plan (densePlan)': /^densePlan$/,
          }
        : {}),
      'TF.js predict (predictRows)': /^predictRows$/,
      'recording (recordBatch)': /^recordBatch$/,
      'request summary (summarizeBatch)': /^summarizeBatch$/,
      'aggregator Durable Object (record, flushNow)': /^(record|flushNow)$/,
      'JSON.stringify': /^stringify$/,
      'JSON.parse': /^parse$/,
    });
    const idle = self.filter(([k]) => /^\(idle\)|^\(program\)/.test(k)).reduce((a, [, us]) => a + us, 0);
    const busy = total - idle;
    const requests = load.requests.total;
    const verb = values.kserve ? `/v2/models/${MODEL}/infer` : `${MODEL}:predict`;
    const what = values.health ? '`GET /v2/health/live`' : `${values.first ? 'the first ' : ''}${rows}-row \`${verb}\`${values.first ? ' after start' : ''}`;
    console.log(`\n### CPU profile of the Worker isolate: ${what}, monitoring ${values.monitoring}, Miniflare (no proxy)\n`);
    if (values.first) console.log(`One request, ${load.latency.average.toFixed(1)} ms from here (slowed by the profiler); isolate busy ${(busy / 1000).toFixed(1)} ms of ${(total / 1000).toFixed(1)} ms sampled.\n`);
    else console.log(`${requests} requests in ${seconds} s (${(requests / seconds).toFixed(0)} req/s); isolate busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled: ${(busy / 1000 / requests).toFixed(3)} ms per request.\n`);
    console.log('| function (self time) | ms | share of busy |');
    console.log('|---|---|---|');
    // (program) is native time V8 does not attribute to this isolate's JS (workerd's own loop among it): not busy.
    for (const [k, us] of self.filter(([k]) => !/^\(idle\)|^\(program\)/.test(k)).slice(0, top))
      console.log(`| \`${k}\` | ${(us / 1000).toFixed(0)} | ${((us / busy) * 100).toFixed(1)}% |`);
    console.log('\n| part of the path (inclusive) | ms | share of busy | µs per request |');
    console.log('|---|---|---|---|');
    for (const [k, us] of Object.entries(inclusive))
      console.log(`| ${k} | ${(us / 1000).toFixed(0)} | ${((us / busy) * 100).toFixed(1)}% | ${(us / requests).toFixed(1)} |`);
  } finally {
    await worker.dispose();
    removeBundle(bundleDir);
  }
}

main(process.argv.slice(2))
  .then(() => process.exit(0))
  .catch((e) => {
    if (e instanceof UsageError) {
      console.error(`profile-serve: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(`profile-serve: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
