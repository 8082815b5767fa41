// The replay CLI's client behaviour, against a fake of labelwatch's two endpoints (metadata and :predict) that
// records every request: what replay sends (scaled, faulty, by name), how fast, and how it fails.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS, ReplayError, replay, type ReplayOptions } from '../../scripts/replay/run';
import type { ModelMetadata } from '../../src/serving/metadata';

const ROOT = join(import.meta.dirname, '..', '..');
const readJson = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));
const MODELS: Record<string, ModelMetadata> = {
  penguins: readJson('models/penguins/metadata.json'),
  'penguins-unscaled': readJson('models/penguins-unscaled/metadata.json'),
};
const holdout: { rows: { input: number[]; label: string }[] } = readJson('test/fixtures/holdout/penguins.json');
const standardize = (row: number[]) => row.map((x, j) => (x - MODELS.penguins.features[j].raw!.mean) / MODELS.penguins.features[j].raw!.std);

interface Recorded {
  method: string;
  path: string;
  authorization?: string;
  contentType?: string;
  instances?: number[][];
  at: number;
}

type PredictHandler = (instances: number[][], model: ModelMetadata) => Promise<{ status: number; body: unknown }> | { status: number; body: unknown };
const answerFirstLabel: PredictHandler = (instances, model) => ({
  status: 200,
  body: { predictions: instances.map(() => model.labels.map((_, i) => (i === 0 ? 1 : 0))), labels: instances.map(() => model.labels[0]), model_version: '1' },
});

let server: Server;
let url: string;
let requests: Recorded[] = [];
let predict: PredictHandler = answerFirstLabel;

async function handle(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const path = req.url ?? '';
  const record: Recorded = { method: req.method ?? '', path, authorization: req.headers.authorization, contentType: req.headers['content-type'], at: performance.now() };
  requests.push(record);
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const notFound = (name: string) =>
    send(404, { error: `model "${name}" not found (serving: ${Object.keys(MODELS).join(', ')})` });
  let m = path.match(/^\/v1\/models\/([^/:]+)\/metadata$/);
  if (req.method === 'GET' && m) {
    const model = MODELS[decodeURIComponent(m[1])];
    if (!model) return notFound(decodeURIComponent(m[1]));
    const { name, version, labels, features, training, probes } = model;
    return send(200, { name, version, labels, features, training, probes: probes.length });
  }
  m = path.match(/^\/v1\/models\/([^/:]+):predict$/);
  if (req.method === 'POST' && m) {
    const model = MODELS[decodeURIComponent(m[1])];
    if (!model) return notFound(decodeURIComponent(m[1]));
    record.instances = JSON.parse(Buffer.concat(chunks).toString()).instances;
    const answer = await predict(record.instances!, model);
    return send(answer.status, answer.body);
  }
  send(404, { error: `path: ${req.method} ${path} does not exist` });
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
/** The data files the tests write, in one temp folder removed at the end. */
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'labelwatch-replay-'));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  requests = [];
  predict = answerFirstLabel;
});

const options = (o: Partial<ReplayOptions>): ReplayOptions => ({ ...DEFAULTS, url, model: 'penguins', rate: 1000, durationSeconds: 10, ...o });
const sentRows = () => requests.flatMap((r) => r.instances ?? []);
/** Index of the holdout row a sent row came from, given how it was transformed; -1 if none. */
const origin = (row: number[], transform: (raw: number[]) => number[]) =>
  holdout.rows.findIndex((h) => transform(h.input).every((x, j) => Math.abs(x - row[j]) < 1e-9));

describe('replay against a fake labelwatch', () => {
  it('asks for the metadata first, then sends held-out rows standardized with the raw scaler', async () => {
    const summary = await replay(options({ requests: 10, batch: 3 }));
    expect(requests[0]).toMatchObject({ method: 'GET', path: '/v1/models/penguins/metadata' });
    const posts = requests.slice(1);
    expect(posts).toHaveLength(10);
    for (const p of posts) {
      expect(p).toMatchObject({ method: 'POST', path: '/v1/models/penguins:predict', contentType: 'application/json', authorization: undefined });
      expect(p.instances).toHaveLength(3);
    }
    // 30 rows drawn without repetition from 86 (one shuffled pass), each the standardized copy of a holdout row
    const origins = sentRows().map((row) => origin(row, standardize));
    expect(origins.every((i) => i >= 0)).toBe(true);
    expect(new Set(origins).size).toBe(30);
    expect(summary).toMatchObject({
      stoppedBy: 'requests',
      sentRequests: 10,
      sentRows: 30,
      answeredRequests: 10,
      answeredRows: 30,
      errors: {},
      labels: { Adelie: 30, Chinstrap: 0, Gentoo: 0 },
      plan: { rows: 86, standardized: true, source: join(ROOT, 'test/fixtures/holdout/penguins.json') },
    });
  });

  it('loops over the rows as long as needed', async () => {
    await replay(options({ requests: 3, batch: 100 }));
    expect(sentRows()).toHaveLength(300);
    expect(new Set(sentRows().map((r) => origin(r, standardize))).size).toBe(86);
  });

  it('fault unscale: skips the scaler (raw units reach a standardized model)', async () => {
    await replay(options({ requests: 5, batch: 4, fault: { kind: 'unscale' } }));
    expect(sentRows().every((row) => origin(row, (raw) => raw) >= 0)).toBe(true);
  });

  it('rows as arrays in feature order, raw units: scaled like keyed rows, and the plan says so', async () => {
    const data = join(scratch, 'rows.json');
    await writeFile(data, JSON.stringify(holdout.rows.map((r) => r.input)));
    const summary = await replay(options({ requests: 4, batch: 5, data }));
    expect(sentRows().every((row) => origin(row, standardize) >= 0)).toBe(true);
    expect(summary.plan).toMatchObject({ rows: 86, positional: true, standardized: true });
    expect(summary.plan.scaling).toMatch(/^standardized \(taken as raw units and scaled with the model's training scaler; pass --scaled/);
  });

  it('--scaled: model-ready rows are sent as given, not scaled a second time', async () => {
    const data = join(scratch, 'ready.json');
    const ready = holdout.rows.map((r) => standardize(r.input));
    await writeFile(data, JSON.stringify(ready));
    const summary = await replay(options({ requests: 4, batch: 5, data, scaled: true }));
    expect(sentRows()).toHaveLength(20);
    for (const row of sentRows()) expect(ready.some((r) => r.every((x, j) => x === row[j]))).toBe(true);
    expect(summary.plan.scaling).toBe('as given (--scaled: taken as model-ready, not scaled again)');
  });

  it('fault zero: all features 0', async () => {
    await replay(options({ requests: 5, batch: 4, fault: { kind: 'zero' } }));
    expect(sentRows()).toEqual(Array.from({ length: 20 }, () => [0, 0, 0, 0]));
  });

  it('fault constant: every row is the first row', async () => {
    await replay(options({ requests: 5, batch: 4, fault: { kind: 'constant' } }));
    const first = standardize(holdout.rows[0].input);
    for (const row of sentRows()) row.forEach((x, j) => expect(x).toBeCloseTo(first[j], 12));
  });

  it('fault drop-label: no row of that true label is sent', async () => {
    const summary = await replay(options({ requests: 10, batch: 10, fault: { kind: 'drop-label', label: 'Adelie' } }));
    const labels = sentRows().map((row) => holdout.rows[origin(row, standardize)].label);
    expect(labels).toHaveLength(100);
    expect(labels).not.toContain('Adelie');
    expect(new Set(labels)).toEqual(new Set(['Chinstrap', 'Gentoo']));
    expect(summary.plan.rows).toBe(holdout.rows.filter((r) => r.label !== 'Adelie').length);
  });

  it('sends raw units to a model without a scaler, and refuses to "unscale" it', async () => {
    await replay(options({ model: 'penguins-unscaled', requests: 2, batch: 5 }));
    expect(sentRows().every((row) => origin(row, (raw) => raw) >= 0)).toBe(true);
    await expect(replay(options({ model: 'penguins-unscaled', fault: { kind: 'unscale' } }))).rejects.toThrow(/takes raw units already/);
  });

  it("matches a user's CSV to the features by name, whatever the column order", async () => {
    const csv = join(scratch, 'columns-reordered.csv');
    await writeFile(csv, 'body_mass_g,island,flipper_length_mm,beak_depth_mm,beak_length_mm,species\n4000,Dream,200,18,44,Adelie\n');
    const summary = await replay(options({ requests: 1, data: csv, fault: { kind: 'unscale' } }));
    expect(sentRows()).toEqual([[44, 18, 200, 4000]]);
    expect(summary.plan.source).toBe(csv);
  });

  it("lists the columns a user's file lacks, before sending anything", async () => {
    const csv = join(scratch, 'columns-missing.csv');
    await writeFile(csv, 'beak_length_mm,body_mass_g\n44,4000\n');
    await expect(replay(options({ data: csv }))).rejects.toThrow(
      new ReplayError(`${csv}: missing columns beak_depth_mm, flipper_length_mm (the model needs beak_length_mm, beak_depth_mm, flipper_length_mm, body_mass_g; the file has beak_length_mm, body_mass_g)`),
    );
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('sends the API key as a bearer token', async () => {
    await replay(options({ requests: 1, apiKey: 's3cret' }));
    expect(requests.map((r) => r.authorization)).toEqual(['Bearer s3cret', 'Bearer s3cret']);
  });

  it('counts failed requests by status and keeps the first message', async () => {
    predict = () => ({ status: 401, body: { error: 'authorization: a valid "Authorization: Bearer <api key>" header is required' } });
    const summary = await replay(options({ requests: 4 }));
    expect(summary).toMatchObject({
      sentRequests: 4,
      answeredRequests: 0,
      errors: { '401': 4 },
      errorMessages: { '401': 'authorization: a valid "Authorization: Bearer <api key>" header is required' },
    });
  });

  it('counts answers from plain TF Serving predictions (argmax) when there are no labels', async () => {
    predict = (instances) => ({ status: 200, body: { predictions: instances.map(() => [0.1, 0.2, 0.7]) } });
    const summary = await replay(options({ requests: 2, batch: 2 }));
    expect(summary.labels).toEqual({ Adelie: 0, Chinstrap: 0, Gentoo: 4 });
  });

  it('names an unknown model and what the server serves', async () => {
    await expect(replay(options({ model: 'iris' }))).rejects.toThrow(
      new ReplayError(`unknown model "iris" at ${url}: model "iris" not found (serving: penguins, penguins-unscaled)`),
    );
  });

  it('says when the server cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(replay(options({ url: `http://127.0.0.1:${port}` }))).rejects.toThrow(
      new ReplayError(`cannot reach http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}; is labelwatch running? (npm start)`),
    );
  });
});

/**
 * Runs `start` on a fake clock (setTimeout and performance.now), so the timing tests count milliseconds exactly
 * however busy the machine is. Nothing waits on real I/O meanwhile (the clock must not move while a real request is
 * on its way): the metadata is answered in-process as the fake labelwatch answers it, and the predict requests go to
 * `answer`, recorded with their time on the fake clock. Between timers the event loop gets turns, so pending promises
 * settle before the clock moves on.
 */
const realSetImmediate = setImmediate;
async function onFakeClock<T>(answer: (instances: number[][], signal: AbortSignal) => Promise<Response>, start: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  vi.stubGlobal('fetch', async (input: string | URL | Request, init?: RequestInit) => {
    const target = String(input);
    if (target.endsWith('/v1/models/penguins/metadata')) {
      const { name, version, labels, features, training, probes } = MODELS.penguins;
      return new Response(JSON.stringify({ name, version, labels, features, training, probes: probes.length }), { headers: { 'content-type': 'application/json' } });
    }
    if (!target.endsWith(':predict')) throw new Error(`unexpected request ${target}`);
    const instances = JSON.parse(String(init?.body)).instances as number[][];
    requests.push({ method: 'POST', path: new URL(target).pathname, contentType: 'application/json', instances, at: performance.now() });
    return answer(instances, init!.signal!);
  });
  let settled = false;
  const run = start().finally(() => (settled = true));
  while (!settled) {
    for (let i = 0; i < 20; i++) await new Promise((r) => realSetImmediate(r));
    if (!settled) await vi.advanceTimersToNextTimerAsync();
  }
  return run;
}
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});
const answerAtOnce = async (instances: number[][]) =>
  new Response(JSON.stringify({ labels: instances.map(() => 'Adelie') }), { headers: { 'content-type': 'application/json' } });
/** A server that never answers: the request ends only when replay aborts it. */
const neverAnswer = (_: number[][], signal: AbortSignal) =>
  new Promise<Response>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

describe('replay stays within its bounds', () => {
  it('never exceeds --rate, and stops sending at --duration', async () => {
    const summary = await onFakeClock(answerAtOnce, () => replay(options({ rate: 20, durationSeconds: 1 })));
    const posts = requests.filter((r) => r.method === 'POST');
    // On the fake clock: one request every 50 ms from 0 to 950 ms, exactly.
    expect(posts.map((p) => p.at - posts[0]!.at)).toEqual(Array.from({ length: 20 }, (_, i) => i * 50));
    // request i starts no earlier than i/rate s after the first; nothing starts at or after 1 s
    expect(posts.length).toBeGreaterThanOrEqual(15);
    expect(posts.length).toBeLessThanOrEqual(20);
    // (measured on arrival: allow for the first request's connection set-up)
    posts.forEach((p, i) => expect(p.at - posts[0].at).toBeGreaterThanOrEqual(i * 50 - 25));
    expect(posts.at(-1)!.at - posts[0].at).toBeLessThan(1000);
    expect(summary).toMatchObject({ stoppedBy: 'duration', answeredRequests: posts.length });
  });

  it('stops by itself when the server hangs: sends nothing after --duration, abandons what is in flight', async () => {
    let took = 0;
    const summary = await onFakeClock(neverAnswer, async () => {
      const started = performance.now();
      const s = await replay(options({ rate: 10, durationSeconds: 0.5 }));
      took = performance.now() - started;
      return s;
    });
    expect(took).toBeLessThan(0.5 * 1000 + 2000 + 500); // duration + the drain allowance + slack
    expect(took).toBe(0.5 * 1000 + 2000); // on the fake clock: exactly the duration and the drain allowance
    expect(summary.sentRequests).toBeGreaterThanOrEqual(4); // at 0, 100, ..., 400 ms (a late timer may skip the last)
    expect(summary.sentRequests).toBeLessThanOrEqual(5);
    expect(summary).toMatchObject({ answeredRequests: 0, cancelled: summary.sentRequests, errors: {} });
  });

  it('stops cleanly when its signal is aborted (Ctrl-C)', async () => {
    const interrupt = new AbortController();
    let took = 0;
    const summary = await onFakeClock(answerAtOnce, async () => {
      const started = performance.now();
      // Ctrl-C 300 ms into sending (planning reads files: real I/O, during which the fake clock must not move).
      const s = await replay(options({ rate: 10, durationSeconds: 30 }), {
        signal: interrupt.signal,
        onReady: () => void setTimeout(() => interrupt.abort(), 300),
      });
      took = performance.now() - started;
      return s;
    });
    expect(took).toBeLessThan(1000);
    expect(summary.stoppedBy).toBe('signal');
    expect(summary.sentRequests).toBeGreaterThanOrEqual(1);
    expect(summary.sentRequests).toBeLessThanOrEqual(4); // at 0, 100, 200 (and perhaps 300) ms
  });

  it('reports progress after every request', async () => {
    const seen: number[] = [];
    await replay(options({ requests: 3 }), { onProgress: (p) => seen.push(p.sentRequests - p.inFlight) });
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('the replay CLI', () => {
  /** Runs scripts/replay.ts in its own Node process (no TTY: progress lines, not a redrawn bar). */
  function cli(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/replay.ts', '--url', url, ...args], {
      cwd: ROOT,
      env: { ...process.env, LABELWATCH_API_KEY: '' },
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      onStderr?.(stderr, child);
    });
    return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  }

  it('prints a plan and a summary, exit 0', async () => {
    const { code, stderr } = await cli(['--model', 'penguins', '--requests', '4', '--rate', '100', '--batch', '2']);
    expect(stderr).toContain('replay: penguins@1 at');
    expect(stderr).toContain('rows:  86 from test/fixtures/holdout/penguins.json, sent standardized');
    expect(stderr).toMatch(/sent +4 requests \(8 rows\)/);
    expect(stderr).toMatch(/labels +Adelie 8 \(100\.0%\) {2}Chinstrap 0 \(0\.0%\) {2}Gentoo 0 \(0\.0%\)/);
    expect(code).toBe(0);
  });

  it('exits 1 when nothing is answered, showing why', async () => {
    predict = () => ({ status: 500, body: { error: 'internal error' } });
    const { code, stderr } = await cli(['--model', 'penguins', '--requests', '2', '--rate', '100']);
    expect(stderr).toContain('error     500 × 2: internal error');
    expect(stderr).toContain('replay: nothing was answered');
    expect(code).toBe(1);
  });

  it('exits 1 with one clear line on an unknown model, 2 on a usage error', async () => {
    const unknown = await cli(['--model', 'iris']);
    expect(unknown.stderr.trim()).toBe(`replay: unknown model "iris" at ${url}: model "iris" not found (serving: penguins, penguins-unscaled)`);
    expect(unknown.code).toBe(1);
    const usage = await cli(['--model', 'penguins', '--rate', 'fast']);
    expect(usage.stderr).toContain('replay: --rate: expected a positive number, got "fast"');
    expect(usage.code).toBe(2);
  });

  it('stops on Ctrl-C with the summary, exit 130', async () => {
    let interrupted = false;
    const { code, stderr } = await cli(['--model', 'penguins', '--rate', '20', '--duration', '30'], (text, child) => {
      if (!interrupted && text.includes('pace:')) {
        interrupted = true;
        setTimeout(() => child.kill('SIGINT'), 300);
      }
    });
    expect(stderr).toContain('stopped by signal');
    expect(stderr).toMatch(/answered +\d+ requests/);
    expect(code).toBe(130);
  });
});
