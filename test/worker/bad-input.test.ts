// Bad requests, named and fuzzed: each gets a 4xx JSON {"error"} saying what and where, never a 5xx, and is never
// recorded by the monitor (the aggregator namespace is not even touched).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { RegExpRouter } from 'hono/router/reg-exp-router';
import { createApp } from '../../src/app';
import type { Env } from '../../src/config';
import penguins from '../../models/penguins/metadata.json';
import seattle from '../../models/seattle-weather/metadata.json';
import type { ModelMetadata } from '../../src/serving/metadata';
import { aggregatorSpy } from './helpers';
import { seededRandom } from '../../scripts/lib/random';
import { recorded } from './contract';

const BASE = 'http://labelwatch.test';
const app = recorded(createApp());
const realEnv = workerEnv as unknown as Env;

const aggregator = aggregatorSpy();
const env: Env = { ...realEnv, AGGREGATOR: aggregator.namespace, MONITORING: 'on' };

beforeEach(() => {
  aggregator.touches = 0;
});

/** One request through the real app; waits for its waitUntil work so recording (if any) has happened. */
async function send(method: string, path: string, body?: string | null, testEnv: Env = env, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`${BASE}${path}`, { method, body: body ?? undefined, headers: { 'content-type': 'application/json', ...headers } }),
    testEnv,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, text, type: res.headers.get('content-type') ?? '', allow: res.headers.get('allow') };
}

/** Asserts a JSON error response with this status whose message matches; returns the message. */
function expectError(res: { status: number; text: string; type: string }, status: number, message: string | RegExp): string {
  expect(res.status, res.text).toBe(status);
  expect(res.type).toMatch(/^application\/json/);
  const body = JSON.parse(res.text) as { error: unknown };
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error).toBe('string');
  if (typeof message === 'string') expect(body.error).toBe(message);
  else expect(body.error).toMatch(message);
  return body.error as string;
}

const row = [0.1, -0.2, 0.3, -0.4];
const kserve = (data: unknown, shape: unknown = [1, 4], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ inputs: [{ name: 'features', shape, datatype: 'FP32', data, ...extra }] });

describe('named rejections (TF Serving)', () => {
  const P = '/v1/models/penguins:predict';
  it.each([
    ['malformed JSON', '{"instances": [[1, 2, 3, 4]', /^body: malformed JSON \(/],
    ['an empty body', '', 'body: empty; expected JSON'],
    ['a JSON string', '"instances"', 'body: expected a JSON object with "instances"'],
    ['missing instances', '{"rows": [[1, 2, 3, 4]]}', 'instances: missing; send {"instances": [[...], ...]}'],
    ['empty instances', '{"instances": []}', 'instances: expected at least one instance'],
    ['a wrong row length', '{"instances": [[1, 2, 3, 4], [1, 2, 3]]}', /^instances\[1\]: expected 4 values \(beak_length_mm, beak_depth_mm, flipper_length_mm, body_mass_g\), got 3$/],
    ['a non-number deep in the batch', '{"instances": [[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,"x",0]]}', 'instances[3][2]: expected a finite number, got the string "x"'],
    ['null', '{"instances": [[0, null, 0, 0]]}', 'instances[0][1]: expected a finite number, got null'],
    ['"NaN" as a string', '{"instances": [["NaN", 0, 0, 0]]}', 'instances[0][0]: expected a finite number, got the string "NaN"'],
    ['"Infinity" as a string', '{"instances": [[0, 0, 0, "Infinity"]]}', 'instances[0][3]: expected a finite number, got the string "Infinity"'],
    ['NaN as a bare literal', '{"instances": [[NaN, 0, 0, 0]]}', /^body: malformed JSON/],
    ['1e999', '{"instances": [[0, 1e999, 0, 0]]}', 'instances[0][1]: expected a finite number (float32 range), got Infinity'],
    ['-1e999', '{"instances": [[0, 0, -1e999, 0]]}', 'instances[0][2]: expected a finite number (float32 range), got -Infinity'],
    ['a missing feature', '{"instances": [{"beak_length_mm": 0, "beak_depth_mm": 0, "flipper_length_mm": 0}]}', 'instances[0].body_mass_g: missing feature'],
    [
      'an unknown feature',
      '{"instances": [{"beak_length_mm": 0, "beak_depth_mm": 0, "flipper_length_mm": 0, "body_mass_g": 0, "island": 1}]}',
      'instances[0].island: unknown feature (expected beak_length_mm, beak_depth_mm, flipper_length_mm, body_mass_g)',
    ],
    ['more rows than MAX_INSTANCES', JSON.stringify({ instances: Array(1025).fill(row) }), 'instances: 1025 instances exceed the limit of 1024 per request'],
  ])('%s → 400', async (_what, body, message) => {
    expectError(await send('POST', P, body), 400, message);
    expect(aggregator.touches).toBe(0);
  });

  it('accepts exactly MAX_INSTANCES rows and counts them', async () => {
    const res = await send('POST', P, JSON.stringify({ instances: Array(1024).fill(row) }));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).predictions).toHaveLength(1024);
    expect(aggregator.touches).toBe(1);
  });

  it('honours a configured MAX_INSTANCES', async () => {
    const small = { ...env, MAX_INSTANCES: '2' };
    expectError(await send('POST', P, JSON.stringify({ instances: [row, row, row] }), small), 400, 'instances: 3 instances exceed the limit of 2 per request');
    expect((await send('POST', P, JSON.stringify({ instances: [row, row] }), small)).status).toBe(200);
  });

  it('a body over 1 MiB → 413, under it is read', async () => {
    const padded = (bytes: number) => {
      const base = JSON.stringify({ instances: [row] });
      return base.slice(0, -1) + ', "pad": "' + 'x'.repeat(bytes - base.length - 11) + '"}';
    };
    expect(padded(1024 * 1024 + 1).length).toBe(1024 * 1024 + 1);
    expectError(await send('POST', P, padded(1024 * 1024 + 1)), 413, 'body: larger than the limit of 1048576 bytes (1 MiB); split the batch');
    expectError(await send('POST', '/v2/models/penguins/infer', padded(2 * 1024 * 1024)), 413, /1 MiB/);
    expect((await send('POST', P, padded(1024 * 1024))).status).toBe(200);
    expect(aggregator.touches).toBe(1);
  });

  it('the limit holds whether the length is declared (checked before reading) or not (counted while reading)', async () => {
    const body = JSON.stringify({ instances: [row] });
    // Declared: a Content-Length over the limit is refused on the header alone.
    const declared = await send('POST', P, body, env, { 'content-length': String(2 * 1024 * 1024) });
    expectError(declared, 413, /1 MiB/);
    // Not declared (a stream, as a chunked upload arrives): counted as it is read, refused past the limit.
    const streamed = async (bytes: number) => {
      const ctx = createExecutionContext();
      const padded = body.slice(0, -1) + ', "pad": "' + 'x'.repeat(bytes) + '"}';
      const res = await app.fetch(
        new Request(`${BASE}${P}`, { method: 'POST', body: new Blob([padded]).stream(), headers: { 'content-type': 'application/json' } }),
        env,
        ctx,
      );
      // Its recording finishes here, not during a later test (an open tally would take that test's predictions).
      await waitOnExecutionContext(ctx);
      return res.status;
    };
    expect(await streamed(2 * 1024 * 1024)).toBe(413);
    expect(await streamed(1000)).toBe(200);
    expect(aggregator.touches).toBe(1);
  });

  it('a compressed body is a 415 that names its Content-Encoding, not a parse error quoting binary bytes', async () => {
    const json = JSON.stringify({ instances: [row] });
    const gzipped = new Uint8Array(await new Response(new Blob([json]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
    const ctx = createExecutionContext();
    const res = await app.fetch(
      new Request(`${BASE}${P}`, { method: 'POST', body: gzipped, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expectError({ status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' }, 415, 'body: Content-Encoding "gzip" is not supported; send the JSON uncompressed');
    // The same header on JSON text is answered: only a body that fails to parse is blamed on it.
    expect((await send('POST', P, json, env, { 'content-encoding': 'identity' })).status).toBe(200);
    expect(aggregator.touches).toBe(1);
  });

  // A streamed body refused half-read left its connection unusable: workerd dropped it, and wrangler dev's proxy,
  // which pools its connections to the runtime, answered the next POST sent over it, whoever sent it, with a 503
  // ("Your worker restarted mid-request"). So the rest of an over-limit stream is read and dropped before the 413, up
  // to 16 MiB more; a longer one is cancelled there.
  it('a streamed body over the limit is read to its end (then dropped) before the 413; one beyond 17 MiB is cancelled', async () => {
    const source = (total: number) => {
      const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
      const state = { pulled: 0, cancelled: false };
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (state.pulled >= total) return controller.close();
          state.pulled += chunk.length;
          controller.enqueue(chunk);
        },
        cancel() {
          state.cancelled = true;
        },
      });
      return { stream, state };
    };
    const post = async (stream: ReadableStream<Uint8Array>) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`${BASE}/v1/models/penguins:predict`, { method: 'POST', body: stream }), env, ctx);
      await waitOnExecutionContext(ctx);
      return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
    };
    const over = source(3 * 1024 * 1024);
    expectError(await post(over.stream), 413, /1 MiB/);
    expect(over.state).toEqual({ pulled: 3 * 1024 * 1024, cancelled: false });
    const endless = source(64 * 1024 * 1024);
    expectError(await post(endless.stream), 413, /1 MiB/);
    expect(endless.state.cancelled).toBe(true);
    expect(endless.state.pulled).toBeLessThanOrEqual(18 * 1024 * 1024);
    expect(aggregator.touches).toBe(0);
  });

  it('MONITORING=by-header (bench:monitor only) leaves out exactly the requests that say x-labelwatch-monitoring: off', async () => {
    const byHeader = { ...env, MONITORING: 'by-header' };
    const body = JSON.stringify({ instances: [row] });
    expect((await send('POST', P, body, byHeader, { 'x-labelwatch-monitoring': 'off' })).status).toBe(200);
    expect(aggregator.touches).toBe(0);
    expect((await send('POST', P, body, byHeader, { 'x-labelwatch-monitoring': 'on' })).status).toBe(200);
    expect(aggregator.touches).toBe(1);
    expect((await send('POST', P, body, byHeader)).status).toBe(200);
    expect(aggregator.touches).toBe(2);
    // With MONITORING=on the header changes nothing: a client cannot keep its requests out of the counts.
    expect((await send('POST', P, body, env, { 'x-labelwatch-monitoring': 'off' })).status).toBe(200);
    expect(aggregator.touches).toBe(3);
  });

  it('finite inputs that overflow the network → 422 naming the row, not recorded', async () => {
    const huge = JSON.stringify({ instances: [row, [3e38, -3e38, 3e38, 3e38]] });
    expectError(await send('POST', P, huge), 422, /^instances\[1\]: the model's output is not finite for this row/);
    expectError(await send('POST', '/v2/models/penguins/infer', kserve([3e38, -3e38, 3e38, 3e38])), 422, /^inputs\[0\]\.data \(row 0\): the model's output is not finite/);
    expect(aggregator.touches).toBe(0);
  });
});

describe('named rejections (KServe V2)', () => {
  const P = '/v2/models/penguins/infer';
  it.each([
    ['malformed JSON', '{"inputs": [', /^body: malformed JSON/],
    ['missing inputs', '{"instances": [[0,0,0,0]]}', 'inputs: expected an array of tensors, got undefined'],
    ['a wrong datatype', kserve([0, 0, 0, 0], [1, 4], { datatype: 'BYTES' }), 'inputs[0].datatype: expected "FP32" (or "FP64"), got the string "BYTES"'],
    ['a wrong width', kserve([0, 0, 0], [1, 3]), /^inputs\[0\]\.shape\[1\]: expected 4 features \(beak_length_mm, .*\), got 3$/],
    ['too few values', kserve([0, 0, 0, 0, 0], [2, 4]), 'inputs[0].data: shape [2, 4] needs 8 values, got 5'],
    ['a string value', kserve([0, 0, 0, 0, 0, 'x', 0, 0], [2, 4]), 'inputs[0].data[5]: expected a finite number, got the string "x"'],
    ['1e999 in nested data', '{"inputs":[{"name":"f","shape":[2,4],"datatype":"FP32","data":[[0,0,0,0],[0,0,1e999,0]]}]}', 'inputs[0].data[1][2]: expected a finite number (float32 range), got Infinity'],
    ['null in nested data', kserve([[0, 0, 0, 0], [0, null, 0, 0]], [2, 4]), 'inputs[0].data[1][1]: expected a finite number, got null'],
    ['more rows than MAX_INSTANCES', kserve(Array(1025 * 4).fill(0), [1025, 4]), 'inputs[0].shape[0]: 1025 rows exceed the limit of 1024 per request'],
  ])('%s → 400', async (_what, body, message) => {
    expectError(await send('POST', P, body), 400, message);
    expect(aggregator.touches).toBe(0);
  });
});

describe('wrong method → 405 with Allow', () => {
  it.each([
    ['GET', '/v1/models/penguins:predict', 'POST'],
    ['PUT', '/v1/models/penguins:classify', 'POST'],
    ['GET', '/v1/models/penguins/versions/1:predict', 'POST'],
    ['PUT', '/v1/models/penguins/versions/1:classify', 'POST'],
    ['GET', '/v2/models/penguins/infer', 'POST'],
    ['DELETE', '/v2/models/penguins/versions/1/infer', 'POST'],
    ['POST', '/v1/models/penguins', 'GET'],
    ['POST', '/v1/models/penguins/versions/1', 'GET'],
    ['DELETE', '/v1/models/penguins', 'GET'],
    ['OPTIONS', '/v1/models/penguins/versions/1', 'GET'],
    ['DELETE', '/v1/models/penguins/versions/1/metadata', 'GET'],
    ['PATCH', '/v1/models/penguins/windows', 'GET'],
    ['POST', '/v1/models/penguins/metadata', 'GET'],
    ['POST', '/v2/health/live', 'GET'],
    ['POST', '/v2/health/ready', 'GET'],
    ['POST', '/v2/models/penguins', 'GET'],
    ['PUT', '/v2/models/penguins/ready', 'GET'],
  ])('%s %s', async (method, path, allow) => {
    const res = await send(method, path, method === 'GET' ? null : '{}');
    expectError(res, 405, new RegExp(`^method: ${method} is not allowed here \\(allowed: ${allow}\\)`));
    expect(res.allow).toBe(allow);
  });

  // The OpenAPI document promises it for every path it lists, not only the serving ones: the status page, the admin
  // API (with its token: without one the 401/403 comes first), /health and /openapi.json.
  it.each([
    ['POST', '/health', 'GET'],
    ['DELETE', '/openapi.json', 'GET'],
    ['POST', '/', 'GET'],
    ['PUT', '/status', 'GET'],
    ['DELETE', '/models/penguins', 'GET'],
    ['POST', '/incidents/inc_x', 'GET'],
    ['POST', '/v1/incidents', 'GET'],
    ['DELETE', '/v1/incidents/inc_x', 'GET'],
    ['GET', '/v1/incidents/inc_x/ack', 'POST'],
    ['PUT', '/v1/incidents/inc_x/resolve', 'POST'],
    ['GET', '/v1/deliveries/del_x/retry', 'POST'],
  ])('%s %s (beyond serving)', async (method, path, allow) => {
    const admin = { ...env, ADMIN_TOKEN: 'admin-token' };
    const res = await send(method, path, method === 'GET' ? null : '{}', admin, { authorization: 'Bearer admin-token' });
    expectError(res, 405, `method: ${method} is not allowed here (allowed: ${allow})`);
    expect(res.allow).toBe(allow);
  });

  it('an unknown verb or a verb on the metadata path is not a model: 404', async () => {
    expectError(await send('GET', '/v1/models/penguins:frobnicate'), 404, /^model "penguins:frobnicate" not found/);
    expectError(await send('POST', '/v1/models/penguins:frobnicate', '{}'), 404, /^path: unknown verb ":frobnicate"/);
    expectError(await send('GET', '/v1/models/penguins:predict/metadata'), 404, /^model "penguins:predict" not found/);
  });
});

describe('unknown model or version → 404 quoting the name as sent, cut short', () => {
  const long = 'm'.repeat(5000);
  const cut = `"${'m'.repeat(64)}…"`;
  const kBody = kserve(row);
  it.each([
    ['a quote in a TF Serving model name', 'POST', '/v1/models/a%22b:predict', /^model "a\\"b" not found \(serving: /],
    ['a quote in a KServe model name', 'POST', '/v2/models/a%22b/infer', /^model "a\\"b" not found \(serving: /],
    ['a quote in a version', 'POST', '/v1/models/penguins/versions/1%22:predict', 'model "penguins" has no version "1\\"" (serving version "1")'],
    ['a long model name', 'POST', `/v1/models/${long}:classify`, new RegExp(`^model ${cut} not found \\(serving: `)],
    ['a long KServe model name', 'POST', `/v2/models/${long}/versions/1/infer`, new RegExp(`^model ${cut} not found \\(serving: `)],
    ['a long version', 'POST', `/v2/models/penguins/versions/${long}/infer`, `model "penguins" has no version ${cut} (serving version "1")`],
    ['a long model name for its status', 'GET', `/v1/models/${long}`, new RegExp(`^model ${cut} not found \\(serving: `)],
    ['a long model name for its windows', 'GET', `/v1/models/${long}/windows`, new RegExp(`^model ${cut} not found \\(serving: `)],
    ['a long model name on the status page', 'GET', `/models/${long}`, `model ${cut} is not served and has no windows in the last 1h`],
    ['a long unknown path', 'GET', `/v3/${long}`, new RegExp(`^path: GET /v3/m+… does not exist$`)],
    ['a long path under a served version', 'POST', `/v1/models/penguins/versions/1/${long}`, new RegExp(`^path: POST /v1/models/penguins/versions/1/m+… does not exist$`)],
  ])('%s', async (_what, method, path, message) => {
    const error = expectError(await send(method, path, method === 'POST' ? (path.startsWith('/v2') ? kBody : JSON.stringify({ instances: [row] })) : null), 404, message);
    expect(error.length).toBeLessThan(300);
    expect(aggregator.touches).toBe(0);
  });
});

describe('routing', () => {
  // The app runs on Hono's RegExpRouter alone (src/routes/hono.ts): one regular expression for all routes. A route
  // that does not fit it (two differently named parameters at one path position, say) throws when it is registered,
  // which would fail every test; this one also checks that the table, rebuilt on a fresh RegExpRouter, routes a
  // predict to its handler.
  it("every route of the app fits Hono's RegExpRouter", () => {
    const router = new RegExpRouter<string>();
    for (const route of createApp().routes) router.add(route.method, route.path, `${route.method} ${route.path}`);
    const [handlers] = router.match('POST', '/v1/models/penguins:predict');
    expect(handlers.map(([h]) => h)).toContain('POST /v1/models/:model');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Fuzz: seeded mutations of valid bodies, thrown at both APIs.

type Rng = () => number;
const pick = <T,>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

/** Raw JSON text spliced in where a placeholder string stands, for things JSON.stringify cannot write. */
const RAW = '\u0000raw:';
const raw = (text: string) => RAW + text;

function weirdValue(rng: Rng): unknown {
  const depth = int(rng, 10, 20_000);
  return pick(rng, [
    () => null,
    () => true,
    () => 'NaN',
    () => 'Infinity',
    () => '1.5',
    () => '',
    () => 'ж😀\u202e' + '\ud800',
    () => 'x'.repeat(int(rng, 1, 5000)),
    () => ({}),
    () => [],
    () => -0,
    () => 1e308,
    () => -3.5e38,
    () => Number.MIN_VALUE,
    () => 2 ** 53 + 1,
    () => raw('1e999'),
    () => raw('-1e999'),
    () => raw('NaN'),
    () => raw('Infinity'),
    () => raw('undefined'),
    () => raw('0x10'),
    () => raw('01'),
    () => raw('[' .repeat(depth) + ']'.repeat(depth)),
    () => raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
    () => Array(int(rng, 1, 60_000)).fill(0),
    () => Array.from({ length: int(rng, 1, 3000) }, () => [0, 0, 0, 0]),
    () => ({ __proto__: 1 }),
    () => JSON.parse('{"__proto__": {"instances": [[0,0,0,0]]}}'),
    () => ({ constructor: 0, toString: 1 }),
    () => [[[0, 0, 0, 0]]],
  ])();
}

/** Every container path in a JSON value, so a mutation can hit any depth. */
function paths(value: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (out.length > 400) return out;
  if (Array.isArray(value)) value.slice(0, 12).forEach((v, i) => paths(v, [...at, i], out));
  else if (value && typeof value === 'object') Object.entries(value).forEach(([k, v]) => paths(v, [...at, k], out));
  return out;
}

function mutateTree(rng: Rng, body: any): any {
  const all = paths(body).filter((p) => p.length > 0);
  if (all.length === 0) return weirdValue(rng);
  const path = pick(rng, all);
  const parent = path.slice(0, -1).reduce((node: any, k) => node[k], body);
  const key = path[path.length - 1];
  switch (int(rng, 0, 4)) {
    case 0: // replace with something odd
      parent[key] = weirdValue(rng);
      break;
    case 1: // delete
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 2: // add a stray key or element
      if (Array.isArray(parent)) parent.push(weirdValue(rng));
      else parent[pick(rng, ['extra', 'island', '__proto__', 'constructor', 'instances', 'inputs', 'ж', ''])] = weirdValue(rng);
      break;
    case 3: // wrap in an array (one level deeper)
      parent[key] = [parent[key]];
      break;
    default: // swap for the same number as a string
      parent[key] = typeof parent[key] === 'number' ? String(parent[key]) : JSON.stringify(parent[key]) ?? 'undefined';
  }
  return body;
}

function mutateText(rng: Rng, text: string): string {
  const at = int(rng, 0, text.length);
  switch (int(rng, 0, 6)) {
    case 0:
      return text.slice(0, at); // truncated
    case 1:
      return text.slice(0, at) + pick(rng, ['"', ',', ']', '}', '\\', '\u0000', '\ud83d', '\ufeff', ' ', ':']) + text.slice(at);
    case 2:
      return '\ufeff' + text;
    case 3:
      return text.replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/i, pick(rng, ['1e999', 'NaN', '-Infinity', '1e-999', '9'.repeat(400)]));
    case 4:
      return text + pick(rng, ['x', '{}', ' ', '\n\n', ']']);
    case 5:
      return text.slice(0, at) + text.slice(at + int(rng, 1, 20));
    default:
      return pick(rng, ['', 'null', '[]', '{}', '0', '"x"', 'true', '{"instances": null}', '{"inputs": {}}']);
  }
}

function validBody(rng: Rng, meta: ModelMetadata, api: 'v1' | 'v2'): unknown {
  const d = meta.features.length;
  const n = int(rng, 1, 5);
  const rows = Array.from({ length: n }, () => Array.from({ length: d }, () => Math.round((rng() * 4 - 2) * 1000) / 1000));
  if (api === 'v1')
    return { instances: rng() < 0.5 ? rows : rows.map((r) => Object.fromEntries(meta.features.map((f, j) => [f.name, r[j]]))) };
  return { id: 'fuzz', inputs: [{ name: 'features', shape: [n, d], datatype: 'FP32', data: rng() < 0.5 ? rows.flat() : rows }] };
}

function serialize(body: unknown): string {
  const text = JSON.stringify(body, (_k, v) => (v === undefined ? null : v));
  // Placeholders are JSON strings ("\u0000raw:<text>"): replace each with its raw text.
  return (text ?? 'null').replace(/"\\u0000raw:((?:[^"\\]|\\.)*)"/g, (_m, inner: string) => JSON.parse(`"${inner}"`));
}

describe('fuzz', () => {
  const MODELS = [penguins, seattle] as ModelMetadata[];

  it('1,200 seeded malformed bodies: zero 5xx, every 4xx a JSON error string, nothing rejected is recorded', { timeout: 240_000 }, async () => {
    const rng = seededRandom(20240607);
    const tally = { ok: 0, rejected: 0, byStatus: {} as Record<number, number> };
    const failures: string[] = [];
    for (let i = 0; i < 1200; i++) {
      const meta = pick(rng, MODELS);
      const api = rng() < 0.5 ? 'v1' : 'v2';
      let body: unknown = validBody(rng, meta, api);
      for (let m = int(rng, 1, 3); m > 0; m--) body = mutateTree(rng, body);
      let text = serialize(body);
      if (rng() < 0.3) text = mutateText(rng, text);
      // Beyond 2 MiB only the 413 path is exercised; keep the test fast (cut mid-JSON is fine: it is over the limit).
      if (text.length > 2 * 1024 * 1024) text = text.slice(0, 2 * 1024 * 1024);
      const version = rng() < 0.1 ? pick(rng, ['1', '2', 'x', '%00', '..']) : undefined;
      const name = rng() < 0.05 ? pick(rng, ['nope', 'PENGUINS', 'penguins%2f..', '', 'ж']) : meta.name;
      const path =
        api === 'v1'
          ? `/v1/models/${name}${version ? `/versions/${version}` : ''}:${rng() < 0.9 ? 'predict' : pick(rng, ['classify', 'regress', ''])}`
          : `/v2/models/${name}${version ? `/versions/${version}` : ''}/infer`;
      const method = rng() < 0.05 ? pick(rng, ['PUT', 'PATCH', 'DELETE']) : 'POST';

      const before = aggregator.touches;
      const res = await send(method, path, text);
      const recorded = aggregator.touches - before;
      tally.byStatus[res.status] = (tally.byStatus[res.status] ?? 0) + 1;
      const where = `#${i} ${method} ${path} ${text.slice(0, 120)} → ${res.status} ${res.text.slice(0, 200)}`;
      if (res.status >= 500) failures.push(`5xx: ${where}`);
      else if (res.status >= 400) {
        tally.rejected++;
        let error: unknown;
        try {
          error = (JSON.parse(res.text) as { error?: unknown }).error;
        } catch {
          error = undefined;
        }
        if (typeof error !== 'string' || error === '' || !res.type.startsWith('application/json')) failures.push(`no JSON error: ${where}`);
        if (recorded !== 0) failures.push(`rejected but recorded: ${where}`);
      } else {
        expect(res.status).toBe(200);
        tally.ok++;
        if (recorded !== 1) failures.push(`answered but recorded ${recorded} times: ${where}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
    // The generator must mostly produce bad bodies, of many kinds.
    expect(tally.rejected).toBeGreaterThanOrEqual(1000);
    expect(Object.keys(tally.byStatus).length).toBeGreaterThanOrEqual(4);
    console.log(`fuzz: ${JSON.stringify(tally)}`);

    // The server still works, and counts, after all that.
    aggregator.touches = 0;
    const ok = await send('POST', '/v1/models/penguins:predict', JSON.stringify({ instances: penguins.probes.map((p) => p.input) }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).labels).toEqual(penguins.probes.map((p) => p.label));
    expect(aggregator.touches).toBe(1);
  });
});
