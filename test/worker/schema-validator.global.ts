// A JSON Schema validator for the worker tests, run in Node: workerd forbids the code generation ajv relies on, so
// the tests send (schema, value) here over 127.0.0.1 and get ajv's verdict back. Started once per run (globalSetup);
// its URL reaches the tests through vitest's provide/inject.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

declare module 'vitest' {
  export interface ProvidedContext {
    schemaValidatorUrl: string;
  }
}

let server: Server | undefined;

/** One request the worker tests made and what came back. */
export interface Exchange {
  method: string;
  path: string;
  status: number;
  contentType: string | null;
  body: string;
}

type Json = Record<string, any>;

/** The path templates of an OpenAPI document as regular expressions, the most specific (most literal text) first. */
function templatesOf(doc: Json): { template: string; pattern: RegExp }[] {
  return Object.keys(doc.paths)
    .map((template) => ({
      template,
      pattern: new RegExp(`^${template.split(/(\{[^}]+\})/).map((part) => (part.startsWith('{') ? '([^/]+)' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('')}$`),
      literal: template.replace(/\{[^}]+\}/g, '').length,
    }))
    .sort((a, b) => b.literal - a.literal);
}

/**
 * Checks exchanges against an OpenAPI document: the path and method are documented (else the answer must be the
 * documented 404/405 error), the status is one of the operation's responses, the content type one it lists, and a
 * JSON body validates against its schema. Returns one message per violation.
 */
function checkExchanges(doc: Json, exchanges: Exchange[], compile: (schema: object) => ValidateFunction): string[] {
  const problems: string[] = [];
  const templates = templatesOf(doc);
  const validate = (schema: object, body: string, what: string) => {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      problems.push(`${what}: body is not JSON`);
      return;
    }
    const check = compile({ ...schema, components: doc.components });
    if (!check(value)) for (const e of check.errors ?? []) problems.push(`${what}: ${e.instancePath || '(body)'} ${e.message} (${e.schemaPath})`);
  };
  for (const x of exchanges) {
    const what = `${x.method} ${x.path} → ${x.status}`;
    const found = templates.find((t) => t.pattern.test(x.path));
    const operation = found ? doc.paths[found.template][x.method.toLowerCase()] : undefined;
    if (!operation) {
      // Not a documented operation: the document promises a 404 (unknown path) or 405 (wrong method) error.
      if (x.status !== 404 && x.status !== 405) problems.push(`${what}: ${found ? `method not documented for ${found.template}` : 'path not documented'}`);
      else validate({ $ref: '#/components/schemas/Error' }, x.body, what);
      continue;
    }
    const response = operation.responses[String(x.status)];
    if (!response) {
      problems.push(`${what}: status not documented for ${x.method} ${found!.template} (documented: ${Object.keys(operation.responses).join(', ')})`);
      continue;
    }
    if (!response.content) continue;
    const type = (x.contentType ?? '').split(';')[0].trim();
    const media = response.content[type];
    if (!media) {
      problems.push(`${what}: content type "${type}" not documented (documented: ${Object.keys(response.content).join(', ')})`);
      continue;
    }
    if (type === 'application/json') validate(media.schema, x.body, what);
  }
  return problems;
}

export async function setup(project: TestProject) {
  // One compiled validator per distinct schema document; `ref` picks a definition inside it.
  const compiled = new Map<string, ValidateFunction>();
  const validatorOf = (schema: object, ref: string | undefined): ValidateFunction => {
    const key = JSON.stringify([schema, ref]);
    let validate = compiled.get(key);
    if (!validate) {
      const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
      if (ref === undefined) validate = ajv.compile(schema);
      else {
        ajv.addSchema(schema, 'doc');
        validate = ajv.getSchema(`doc${ref}`);
        if (!validate) throw new Error(`no schema at ${ref}`);
      }
      compiled.set(key, validate);
    }
    return validate;
  };
  const ajvFor = new Map<string, ValidateFunction>();
  const compile = (schema: object) => {
    const key = JSON.stringify(schema);
    let check = ajvFor.get(key);
    if (!check) {
      check = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
      ajvFor.set(key, check);
    }
    return check;
  };
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.url === '/openapi') {
      try {
        const { doc, exchanges } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { doc: Json; exchanges: Exchange[] };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ problems: checkExchanges(doc, exchanges, compile) }));
      } catch (e) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: (e as Error).stack }));
      }
      return;
    }
    try {
      const { schema, ref, value } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { schema: object; ref?: string; value: unknown };
      const validate = validatorOf(schema, ref);
      const valid = validate(value) as boolean;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ valid, errors: valid ? [] : validate.errors }));
    } catch (e) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (e as Error).message }));
    }
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  project.provide('schemaValidatorUrl', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
}

export async function teardown() {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
}
