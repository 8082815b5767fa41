// The optional body of `POST /v1/incidents/{id}/resolve`, read by hand: its schema (contract/api.ts ResolveRequest)
// types it and documents it in the OpenAPI document, but importing the schema into the Worker would bundle valibot's
// schema code and the contract's, about 10 KiB gzip, for one boolean. test/unit/resolve-body.test.ts checks that this
// reader and the schema accept and refuse the same bodies.
import type { ResolveRequestBody } from '../contract/api';
import { quoted } from '../format';
import { parseJsonBody } from './errors';

/** `body.key` for a short plain key; any other key quoted and cut short (format.ts), as instances.ts names them. */
const fieldPath = (key: string) => (/^[A-Za-z_$][\w$]{0,39}$/.test(key) ? `body.${key}` : `body[${quoted(key, 40)}]`);

/** No body (or only whitespace) resolves without rebaselining; else it must be `{"rebaseline": boolean}` or `{}`. */
export function resolveRequest(text: string): { ok: true; value: ResolveRequestBody } | { ok: false; error: string } {
  if (text.trim() === '') return { ok: true, value: { rebaseline: false } };
  const parsed = parseJsonBody(text);
  if (!parsed.ok) return parsed;
  const body = parsed.value;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, error: 'body: expected an object, {"rebaseline": true} or {"rebaseline": false}' };
  for (const key of Object.keys(body)) if (key !== 'rebaseline') return { ok: false, error: `${fieldPath(key)}: unknown field; the body takes only "rebaseline"` };
  const { rebaseline = false } = body as { rebaseline?: unknown };
  if (typeof rebaseline !== 'boolean') return { ok: false, error: 'body.rebaseline: expected true or false' };
  return { ok: true, value: { rebaseline } };
}
