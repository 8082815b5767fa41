// docs/webhooks.md stays true: the payloads the channels build validate against the JSON Schemas published there,
// and the examples there are what the code produces. A small validator for the keywords the schemas use.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { retrainPayload } from '../../src/incidents/channels/retrain';
import { alertPayload } from '../../src/incidents/channels/webhook';
import type { Notice } from '../../src/incidents/notice';
import { advanceIncident } from '../../src/monitor';
import { collapsedWindow, healthyWindow, openedIncident, partialWindow, START, WINDOW } from './alerts.fixtures';

type Schema = Record<string, unknown>;

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'webhooks.md'), 'utf8');
const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]);
const [alertSchema, alertExample, retrainSchema, retrainExample] = blocks.slice(0, 4).map((b) => JSON.parse(b));

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v;

/** Errors of `value` against `schema` (draft 2020-12 subset: type, enum, const, required, properties,
 * additionalProperties, items, oneOf, $ref to #/$defs, minimum, maximum, pattern). */
function validate(value: unknown, schema: Schema, root: Schema, path = '$'): string[] {
  if (typeof schema.$ref === 'string') return validate(value, (root.$defs as Record<string, Schema>)[schema.$ref.replace('#/$defs/', '')], root, path);
  const errors: string[] = [];
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const allowed = ([] as string[]).concat(schema.type as string | string[]);
    if (!allowed.includes(t) && !(t === 'integer' && allowed.includes('number'))) return [`${path}: ${t} is not ${allowed.join('|')}`];
  }
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) errors.push(`${path}: ${JSON.stringify(value)} not in enum`);
  if ('const' in schema && schema.const !== value) errors.push(`${path}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${path}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${path}: above maximum`);
  }
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) errors.push(`${path}: does not match ${schema.pattern}`);
  if (t === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in object)) errors.push(`${path}: ${key} is required`);
    for (const [key, v] of Object.entries(object)) {
      if (properties[key]) errors.push(...validate(v, properties[key], root, `${path}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: ${key} is not allowed`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(v, schema.additionalProperties as Schema, root, `${path}.${key}`));
    }
  }
  if (t === 'array' && schema.items) (value as unknown[]).forEach((v, i) => errors.push(...validate(v, schema.items as Schema, root, `${path}[${i}]`)));
  if (schema.oneOf) {
    const matching = (schema.oneOf as Schema[]).filter((s) => validate(value, s, root, path).length === 0);
    if (matching.length !== 1) errors.push(`${path}: matches ${matching.length} of oneOf`);
  }
  return errors;
}

const { incident, notice } = openedIncident();
const after = (n: Notice, ...windows: ReturnType<typeof collapsedWindow>[]) => {
  let current = n.incident;
  for (const w of windows) current = advanceIncident(current, w, { newId: () => 'unused' }).incident!;
  return current;
};
const resolved: Notice = {
  ...notice,
  event: 'resolved',
  incident: after(notice, healthyWindow(START + WINDOW), healthyWindow(START + 2 * WINDOW), healthyWindow(START + 3 * WINDOW)),
  resolvedBy: 'monitor',
};
const partial = openedIncident(partialWindow(START)).notice;
const escalated: Notice = { ...partial, event: 'escalated', incident: after(partial, collapsedWindow(START + WINDOW)) };

describe('docs/webhooks.md', () => {
  it('has the two schemas and their examples, and the examples validate', () => {
    expect(alertSchema.title).toBe('labelwatch alert webhook');
    expect(retrainSchema.title).toBe('labelwatch retraining webhook');
    expect(validate(alertExample, alertSchema, alertSchema)).toEqual([]);
    expect(validate(retrainExample, retrainSchema, retrainSchema)).toEqual([]);
  });

  it.each([
    ['opened', notice],
    ['escalated', escalated],
    ['resolved', resolved],
  ] as const)('the alert payload of an %s incident validates', (_, n) => {
    expect(validate(JSON.parse(JSON.stringify(alertPayload(n))), alertSchema, alertSchema)).toEqual([]);
  });

  it('the retraining payload validates, also with a partial collapse', () => {
    for (const n of [notice, partial]) expect(validate(JSON.parse(JSON.stringify(retrainPayload(n))), retrainSchema, retrainSchema)).toEqual([]);
  });

  it('the validator does reject what the schemas forbid', () => {
    const bad = JSON.parse(JSON.stringify(retrainPayload(notice)));
    bad.data.remedies[2].kind = 'magic';
    delete bad.data.idempotencyKey;
    bad.extra = 1;
    expect(validate(bad, retrainSchema, retrainSchema)).toEqual(['$.data: idempotencyKey is required', '$.data.remedies[2]: matches 0 of oneOf', '$: extra is not allowed']);
  });

  it('the examples are what the code produces', () => {
    const id = alertExample.data.incident.id;
    const withId = { ...notice, incident: { ...incident, id } };
    expect(alertExample).toEqual(JSON.parse(JSON.stringify(alertPayload(withId))));
    expect(retrainExample).toEqual(JSON.parse(JSON.stringify(retrainPayload(withId))));
  });
});
