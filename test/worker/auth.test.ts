// Optional API keys: with API_KEYS set, predict endpoints need `Authorization: Bearer <key>`; health stays open;
// no key (configured or presented) ever appears in a response.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env as workerEnv } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import type { Env } from '../../src/config';
import { bearerToken, matchesAny, secretsEqual } from '../../src/routes/auth';
import { aggregatorSpy } from './helpers';
import { recorded } from './contract';

const BASE = 'http://labelwatch.test';
const KEY_A = 'lw-key-alpha-7f3a9c';
const KEY_B = 'lw-key-beta-91c2d4';
const app = recorded(createApp());
const realEnv = workerEnv as unknown as Env;

const aggregator = aggregatorSpy();

// A fresh env object per arrangement: config is cached per env object.
const keyed = (): Env => ({ ...realEnv, AGGREGATOR: aggregator.namespace, API_KEYS: ` ${KEY_A} ,${KEY_B}` });
const open = (): Env => ({ ...realEnv, AGGREGATOR: aggregator.namespace, API_KEYS: '' });

async function send(testEnv: Env, method: string, path: string, opts: { body?: string; authorization?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${BASE}${path}`, { method, headers, body: opts.body }), testEnv, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  const headerText = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
  // Whatever happened, neither key may leak, in the body or in a header.
  for (const key of [KEY_A, KEY_B]) {
    expect(text).not.toContain(key);
    expect(headerText).not.toContain(key);
  }
  return { status: res.status, text, wwwAuthenticate: res.headers.get('www-authenticate') };
}

const v1Body = JSON.stringify({ instances: [[0, 0, 0, 0]] });
const v2Body = JSON.stringify({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] });
const PREDICT: [string, string][] = [
  ['/v1/models/penguins:predict', v1Body],
  ['/v1/models/penguins:classify', v1Body],
  ['/v1/models/penguins/versions/1:predict', v1Body],
  ['/v2/models/penguins/infer', v2Body],
  ['/v2/models/penguins/versions/1/infer', v2Body],
];

describe('with API_KEYS set', () => {
  const env = keyed();

  it.each(PREDICT)('%s needs a valid bearer key', async (path, body) => {
    aggregator.touches = 0;
    for (const authorization of [undefined, '', 'Bearer', 'Bearer ', `Basic ${KEY_A}`, `Bearer ${KEY_A}x`, `Bearer ${KEY_A.slice(0, -1)}`, `Bearer ${KEY_A},${KEY_B}`, KEY_A]) {
      const res = await send(env, 'POST', path, { body, authorization });
      expect(res.status, `authorization ${JSON.stringify(authorization)}`).toBe(401);
      expect(JSON.parse(res.text)).toEqual({ error: 'authorization: a valid "Authorization: Bearer <api key>" header is required' });
      expect(res.wwwAuthenticate).toBe('Bearer realm="labelwatch"');
    }
    expect(aggregator.touches).toBe(0);
    for (const authorization of [`Bearer ${KEY_A}`, `Bearer ${KEY_B}`, `bearer   ${KEY_B}`]) {
      const res = await send(env, 'POST', path, { body, authorization });
      expect(res.status, `${authorization}: ${res.text}`).toBe(200);
    }
    expect(aggregator.touches).toBe(3);
  });

  it('checks the key before anything else: an unknown model or a malformed body without a key is a 401', async () => {
    expect((await send(env, 'POST', '/v1/models/secret-model:predict', { body: v1Body })).status).toBe(401);
    expect((await send(env, 'POST', '/v2/models/penguins/infer', { body: '{not json' })).status).toBe(401);
    expect((await send(env, 'POST', '/v1/models/secret-model:predict', { body: v1Body, authorization: `Bearer ${KEY_A}` })).status).toBe(404);
  });

  it.each(['/v2/health/live', '/v2/health/ready', '/health'])('%s stays open', async (path) => {
    expect((await send(env, 'GET', path)).status).toBe(200);
  });
});

describe('without API_KEYS', () => {
  it.each(PREDICT)('%s is open', async (path, body) => {
    expect((await send(open(), 'POST', path, { body })).status).toBe(200);
  });

  it('a key sent anyway is ignored, not rejected', async () => {
    expect((await send(open(), 'POST', PREDICT[0][0], { body: v1Body, authorization: 'Bearer anything' })).status).toBe(200);
  });
});

describe('comparison helpers', () => {
  it('secretsEqual compares whole secrets, including different lengths', async () => {
    expect(await secretsEqual(KEY_A, KEY_A)).toBe(true);
    expect(await secretsEqual(KEY_A, KEY_B)).toBe(false);
    expect(await secretsEqual(KEY_A, KEY_A + 'x')).toBe(false);
    expect(await secretsEqual('', KEY_A)).toBe(false);
  });

  it('matchesAny finds any configured key, and nothing for no token', async () => {
    expect(await matchesAny(KEY_B, [KEY_A, KEY_B])).toBe(true);
    expect(await matchesAny('other', [KEY_A, KEY_B])).toBe(false);
    expect(await matchesAny(null, [KEY_A])).toBe(false);
  });

  it('bearerToken takes the token of a Bearer header only', () => {
    expect(bearerToken(`Bearer ${KEY_A}`)).toBe(KEY_A);
    expect(bearerToken(`BEARER \t${KEY_A}  `)).toBe(KEY_A);
    expect(bearerToken(`Basic ${KEY_A}`)).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});
