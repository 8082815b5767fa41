// Validates a value against a JSON Schema (or a definition inside one, by JSON pointer `ref`) with ajv, which runs in
// Node (schema-validator.global.ts): a real validator, not a hand-written one.
import { expect, inject } from 'vitest';

export interface SchemaVerdict {
  valid: boolean;
  errors: { instancePath: string; message?: string; schemaPath: string }[];
}

export async function validateAgainst(schema: object, value: unknown, ref?: string): Promise<SchemaVerdict> {
  const res = await fetch(inject('schemaValidatorUrl'), { method: 'POST', body: JSON.stringify({ schema, ref, value }) });
  const body = (await res.json()) as SchemaVerdict & { error?: string };
  if (res.status !== 200) throw new Error(`schema validator: ${body.error}`);
  return body;
}

/** Fails the test with ajv's errors when `value` does not validate. */
export async function expectValid(schema: object, value: unknown, ref?: string, what = ref ?? 'value') {
  const verdict = await validateAgainst(schema, value, ref);
  expect(verdict.errors.map((e) => `${what}${e.instancePath}: ${e.message} (${e.schemaPath})`)).toEqual([]);
  expect(verdict.valid).toBe(true);
}
