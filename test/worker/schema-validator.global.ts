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
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
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
