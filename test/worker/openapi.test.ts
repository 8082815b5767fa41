// /openapi.json: an OpenAPI 3.1 document of every route, and a checker (ajv, in Node) that the other worker test
// files run over every response they receive (contract.ts). Here: the document's own shape, and that the checker
// rejects what the document does not describe.
import { exports } from 'cloudflare:workers';
import { describe, expect, inject, it } from 'vitest';
import pkg from '../../package.json';
import { recorded } from './contract';

const worker = recorded((exports as unknown as { default: Fetcher }).default);

async function documentOf(): Promise<any> {
  const res = await worker.fetch('http://labelwatch.test/openapi.json');
  expect(res.status).toBe(200);
  return res.json();
}

async function check(exchanges: { method: string; path: string; status: number; contentType: string | null; body: string }[]): Promise<string[]> {
  const doc = await documentOf();
  const res = await fetch(new URL('/openapi', inject('schemaValidatorUrl')), { method: 'POST', body: JSON.stringify({ doc, exchanges }) });
  return ((await res.json()) as { problems: string[] }).problems;
}

const JSON_TYPE = 'application/json';

describe('/openapi.json', () => {
  it('is OpenAPI 3.1 with every route of the Worker and the auth schemes', async () => {
    const doc = await documentOf();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(pkg.version);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/',
        '/health',
        '/incidents/{id}',
        '/models/{name}',
        '/openapi.json',
        '/status',
        '/v1/deliveries/{id}/retry',
        '/v1/incidents',
        '/v1/incidents/{id}',
        '/v1/incidents/{id}/ack',
        '/v1/incidents/{id}/resolve',
        '/v1/models/{name}',
        '/v1/models/{name}/metadata',
        '/v1/models/{name}/versions/{version}',
        '/v1/models/{name}/versions/{version}/metadata',
        '/v1/models/{name}/versions/{version}:classify',
        '/v1/models/{name}/versions/{version}:predict',
        '/v1/models/{name}/windows',
        '/v1/models/{name}:classify',
        '/v1/models/{name}:predict',
        '/v2',
        '/v2/health/live',
        '/v2/health/ready',
        '/v2/models/{name}',
        '/v2/models/{name}/infer',
        '/v2/models/{name}/ready',
        '/v2/models/{name}/versions/{version}',
        '/v2/models/{name}/versions/{version}/infer',
        '/v2/models/{name}/versions/{version}/ready',
      ].sort(),
    );
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['adminToken', 'apiKey', 'statusCookie', 'statusToken']);
    expect(doc.paths['/v1/incidents'].get.security).toEqual([{ adminToken: [] }]);
    expect(doc.paths['/v1/models/{name}:predict'].post.security).toEqual([{ apiKey: [] }, {}]);
    // Query parameters come from the same schemas that check them.
    expect(doc.paths['/v1/incidents'].get.parameters.map((p: { name: string }) => p.name)).toEqual(['status', 'model', 'limit']);
  });

  it('the checker accepts what the document describes', async () => {
    expect(
      await check([
        { method: 'GET', path: '/health', status: 200, contentType: JSON_TYPE, body: '{"ok":true}' },
        { method: 'GET', path: '/v3/nothing', status: 404, contentType: JSON_TYPE, body: '{"error":"path: GET /v3/nothing does not exist"}' },
        { method: 'PUT', path: '/v2', status: 405, contentType: JSON_TYPE, body: '{"error":"method: PUT is not allowed here (allowed: GET)"}' },
      ]),
    ).toEqual([]);
  });

  it('the checker rejects a body, a status or a content type the document does not describe', async () => {
    const problems = await check([
      { method: 'GET', path: '/v2', status: 200, contentType: JSON_TYPE, body: '{"name":"labelwatch","version":1,"extensions":[]}' },
      { method: 'GET', path: '/v1/models/penguins', status: 418, contentType: JSON_TYPE, body: '{}' },
      { method: 'GET', path: '/health', status: 200, contentType: 'text/plain', body: 'ok' },
      { method: 'GET', path: '/v3/nothing', status: 200, contentType: JSON_TYPE, body: '{}' },
      { method: 'GET', path: '/v1/incidents', status: 200, contentType: JSON_TYPE, body: '{"incidents":[{"id":"inc_1"}]}' },
    ]);
    expect(problems[0]).toMatch(/^GET \/v2 → 200: \/version must be string/);
    expect(problems).toContain('GET /v1/models/penguins → 418: status not documented for GET /v1/models/{name} (documented: 200, 404, 405)');
    expect(problems).toContain('GET /health → 200: content type "text/plain" not documented (documented: application/json)');
    expect(problems).toContain('GET /v3/nothing → 200: path not documented');
    expect(problems.some((p) => p.startsWith("GET /v1/incidents → 200: /incidents/0 must have required property 'model'"))).toBe(true);
  });
});
