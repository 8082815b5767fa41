// The resolve body's hand reader (routes/resolve-body.ts) against its schema (contract/api.ts ResolveRequest): the
// Worker reads it by hand to keep valibot's schema code out of the bundle, so both must accept and refuse alike.
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { ResolveRequest } from '../../src/contract/api';
import { resolveRequest } from '../../src/routes/resolve-body';

const bodies: [string, boolean | null][] = [
  ['{"rebaseline": true}', true],
  ['{"rebaseline": false}', false],
  ['{}', false],
  ['{"rebaseline": "true"}', null],
  ['{"rebaseline": 1}', null],
  ['{"rebaseline": null}', null],
  ['{"rebaseline": true, "note": "x"}', null],
  ['{"__proto__": {"rebaseline": true}}', null],
  ['[true]', null],
  ['true', null],
  ['null', null],
  ['"rebaseline"', null],
];

describe('the resolve body', () => {
  it.each(bodies)('%s: the reader and the schema agree', (text, expected) => {
    const read = resolveRequest(text);
    const schema = v.safeParse(ResolveRequest, JSON.parse(text));
    expect(read.ok).toBe(schema.success);
    expect(read.ok ? read.value.rebaseline : null).toBe(expected);
    if (schema.success) expect(read.ok && read.value).toEqual(schema.output);
  });

  it('names what is wrong and where', () => {
    expect(resolveRequest('{"rebaseline": "yes"}')).toEqual({ ok: false, error: 'body.rebaseline: expected true or false' });
    expect(resolveRequest('{"rebase": true}')).toEqual({ ok: false, error: 'body.rebase: unknown field; the body takes only "rebaseline"' });
    expect(resolveRequest('{"a b": 1}')).toMatchObject({ ok: false, error: 'body["a b"]: unknown field; the body takes only "rebaseline"' });
    expect(resolveRequest('[true]')).toMatchObject({ ok: false, error: expect.stringMatching(/^body: expected an object/) });
    expect(resolveRequest('{"rebaseline": tru')).toMatchObject({ ok: false, error: expect.stringMatching(/^body: malformed JSON/) });
  });

  it('quotes a long unknown key cut short, as the predict routes do, never echoing it whole', () => {
    for (const key of ['k'.repeat(100_000), 'a b'.repeat(50_000)]) {
      const read = resolveRequest(JSON.stringify({ [key]: 1 }));
      expect(read).toMatchObject({ ok: false, error: expect.stringMatching(/: unknown field; the body takes only "rebaseline"$/) });
      expect(!read.ok && read.error.length).toBeLessThan(120);
    }
    expect(resolveRequest(JSON.stringify({ ['k'.repeat(100)]: 1 }))).toEqual({
      ok: false,
      error: `body["${'k'.repeat(40)}…"]: unknown field; the body takes only "rebaseline"`,
    });
  });

  it('no body, or only whitespace, resolves without rebaselining', () => {
    for (const text of ['', ' \n']) expect(resolveRequest(text)).toEqual({ ok: true, value: { rebaseline: false } });
  });
});
