// Every response a worker test receives through `recorded(...)` is checked, when the test file ends, against the
// Worker's own /openapi.json by ajv (in Node: schema-validator.global.ts). A response the document does not describe
// fails the file, naming the request.
import { exports } from 'cloudflare:workers';
import { afterAll, expect, inject } from 'vitest';
import type { Exchange } from './schema-validator.global';

const exchanges: Exchange[] = [];
const pending: Promise<void>[] = [];

function record(input: RequestInfo | URL, init: RequestInit | undefined, response: Response) {
  const request = input instanceof Request ? input : new Request(input, init);
  const url = new URL(request.url);
  const copy = response.clone();
  pending.push(
    copy.text().then((body) => {
      exchanges.push({ method: request.method, path: url.pathname, status: response.status, contentType: response.headers.get('content-type'), body });
    }),
  );
  return response;
}

// Hono's fetch is (request, env, ctx); a Fetcher's is (input, init): the first argument is the request either way.
type Fetching = { fetch: (...args: any[]) => Response | Promise<Response> };

/** The same fetcher (the Worker's `exports.default`, or an app from createApp()), recording every response. */
export function recorded<T extends Fetching>(target: T): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      if (key === 'fetch')
        return async (input: RequestInfo | URL, second?: unknown, ...rest: unknown[]) =>
          record(input, input instanceof Request ? undefined : (second as RequestInit | undefined), await t.fetch(input, second, ...rest));
      if (key === 'request' && 'request' in t) {
        const request = (t as unknown as { request: (...a: unknown[]) => Promise<Response> }).request.bind(t);
        return async (input: RequestInfo | URL, init?: RequestInit, ...rest: unknown[]) => {
          const url = typeof input === 'string' && input.startsWith('/') ? `http://localhost${input}` : input;
          return record(url, input instanceof Request ? undefined : init, await request(input, init, ...rest));
        };
      }
      return Reflect.get(t, key, receiver);
    },
  });
}

afterAll(async () => {
  await Promise.all(pending);
  if (exchanges.length === 0) return;
  const worker = (exports as unknown as { default: Fetcher }).default;
  const doc = await (await worker.fetch('http://labelwatch.test/openapi.json')).json();
  const res = await fetch(new URL('/openapi', inject('schemaValidatorUrl')), { method: 'POST', body: JSON.stringify({ doc, exchanges }) });
  const verdict = (await res.json()) as { problems?: string[]; error?: string };
  expect(verdict.error).toBeUndefined();
  expect(verdict.problems).toEqual([]);
});

/** The number of responses recorded so far (a test can assert that the check has something to check). */
export const recordedCount = () => exchanges.length;

/** The Worker as a JSON API client: every exchange recorded and checked against /openapi.json. */
export function apiClient(base = 'http://labelwatch.test') {
  const worker = recorded((exports as unknown as { default: Fetcher }).default);
  return {
    get: (path: string) => worker.fetch(`${base}${path}`),
    post: (path: string, body: unknown) =>
      worker.fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  };
}

/** A JSON answer with this status (the body is in the failure message), parsed. */
export async function json<T = any>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return JSON.parse(text) as T;
}
