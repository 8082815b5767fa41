// The webhook payloads' JSON Schemas (draft 2020-12), converted from the valibot schemas in webhooks.ts: the blocks in
// docs/webhooks.md (scripts/generate-webhook-docs.ts writes them, test/unit/webhook-schemas.test.ts holds the doc to
// them) and what receivers can validate against. Build time and tests only: the Worker never imports this.
import { toJsonSchema, type ConversionConfig } from '@valibot/to-json-schema';
import { AlertWebhook, RetrainWebhook, WEBHOOK_DEFINITIONS } from './webhooks';

type Json = Record<string, unknown>;

/** Where the documented schemas say they live ($id). */
export const SCHEMA_BASE = 'https://labelwatch.dev/schemas';

/** Drops the $defs nothing refers to (every payload gets all definitions from the converter). */
function pruneDefs(schema: Json): Json {
  const defs = { ...(schema.$defs as Record<string, Json>) };
  for (;;) {
    const text = JSON.stringify({ ...schema, $defs: undefined }) + JSON.stringify(defs);
    const unused = Object.keys(defs).filter((name) => !text.includes(`"#/$defs/${name}"`));
    if (unused.length === 0) break;
    for (const name of unused) delete defs[name];
  }
  return { ...schema, $defs: defs };
}

function documented(schema: typeof AlertWebhook | typeof RetrainWebhook, id: string): Json {
  const config: ConversionConfig = { target: 'draft-2020-12', errorMode: 'throw', definitions: WEBHOOK_DEFINITIONS };
  const { $schema, title, $defs, ...rest } = toJsonSchema(schema, config) as Json;
  // Keys in reading order: what it is first, the definitions last.
  return pruneDefs({ $schema, $id: `${SCHEMA_BASE}/${id}.json`, title, ...rest, $defs });
}

/** The JSON Schemas of the alert webhook and the retraining webhook, as docs/webhooks.md publishes them. */
export function webhookJsonSchemas(): { alert: Json; retrain: Json } {
  return { alert: documented(AlertWebhook, 'alert'), retrain: documented(RetrainWebhook, 'retrain') };
}
