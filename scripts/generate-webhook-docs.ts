// Writes the generated blocks of docs/webhooks.md: the JSON Schemas of the alert and retraining webhooks (converted
// from the valibot schemas in src/contract/webhooks.ts) and an example of each (what the channels build for a
// collapse of seattle-weather judged by the real monitor core). Each block follows a marker comment
// `<!-- generated: <name> (npm run docs:webhooks) -->`; test/unit/webhook-schemas.test.ts fails when a block differs
// from what this script would write, so the document cannot drift from the code.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webhookJsonSchemas } from '../src/contract/webhook-json-schema.ts';
import { retrainPayload } from '../src/incidents/channels/retrain.ts';
import { alertPayload } from '../src/incidents/channels/webhook.ts';
import { openedIncident } from '../test/unit/alerts.fixtures.ts';
import { cli } from './lib/args.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const WEBHOOKS_DOC = join(root, 'docs', 'webhooks.md');

/**
 * JSON with two-space indentation, where an object or array that fits on its line (`width` characters, indentation
 * included) is written on one line: `{ "start": "…", "end": "…" }`, and so is an array of strings or numbers however
 * long (`"required": [...]`). Parses back to the same value.
 */
export function compactJson(value: unknown, width = 120, indent = '', prefix = ''): string {
  const flat = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(flat).join(', ')}]`
      : v !== null && typeof v === 'object'
        ? Object.keys(v).length === 0
          ? '{}'
          : `{ ${Object.entries(v)
              .map(([k, x]) => `${JSON.stringify(k)}: ${flat(x)}`)
              .join(', ')} }`
        : JSON.stringify(v);
  const one = flat(value);
  const scalars = Array.isArray(value) && value.every((x) => x === null || typeof x !== 'object');
  if (value === null || typeof value !== 'object' || scalars || indent.length + prefix.length + one.length + 1 <= width) return one;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((x) => inner + compactJson(x, width, inner)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  return `{\n${entries
    .map(([k, x]) => {
      const key = `${JSON.stringify(k)}: `;
      return inner + key + compactJson(x, width, inner, key);
    })
    .join(',\n')}\n${indent}}`;
}

/** The generated blocks, by marker name. */
export function webhookDocBlocks(): Record<string, string> {
  const schemas = webhookJsonSchemas();
  const { notice } = openedIncident();
  // What is stored and sent is the JSON text: undefined fields drop out, as they do on the wire.
  const wire = (x: unknown) => JSON.parse(JSON.stringify(x));
  return {
    'alert schema': compactJson(schemas.alert),
    'alert example': compactJson(wire(alertPayload(notice))),
    'retrain schema': compactJson(schemas.retrain),
    'retrain example': compactJson(wire(retrainPayload(notice))),
  };
}

const marker = (name: string) => `<!-- generated: ${name} (npm run docs:webhooks) -->`;

/** The ```json block after each marker, by marker name; throws when a marker or its block is missing. */
export function documentedBlocks(doc: string, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const at = doc.indexOf(marker(name));
    if (at < 0) throw new Error(`docs/webhooks.md: marker "${marker(name)}" not found`);
    const m = /^\s*```json\n([\s\S]*?)\n```/.exec(doc.slice(at + marker(name).length));
    if (!m) throw new Error(`docs/webhooks.md: no \`\`\`json block after "${marker(name)}"`);
    out[name] = m[1]!;
  }
  return out;
}

/** The document with every generated block replaced by its current text. */
export function regenerated(doc: string): string {
  let out = doc;
  for (const [name, text] of Object.entries(webhookDocBlocks())) {
    const at = out.indexOf(marker(name));
    if (at < 0) throw new Error(`docs/webhooks.md: marker "${marker(name)}" not found`);
    const from = at + marker(name).length;
    const m = /^\s*```json\n[\s\S]*?\n```/.exec(out.slice(from));
    if (!m) throw new Error(`docs/webhooks.md: no \`\`\`json block after "${marker(name)}"`);
    out = `${out.slice(0, from)}\n\n\`\`\`json\n${text}\n\`\`\`${out.slice(from + m[0].length)}`;
  }
  return out;
}

export const USAGE = `usage: npm run docs:webhooks [-- --check]

Writes the generated blocks of docs/webhooks.md: the JSON Schemas of the alert and retraining webhooks, converted
from the valibot schemas in src/contract/webhooks.ts, and an example payload of each, built by the channels from a
collapse judged by the monitor core.

  --check        write nothing; exit 1 if the document differs from what would be written
  -h, --help     this text`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { check } = cli('docs:webhooks', USAGE, process.argv.slice(2), { check: { type: 'boolean' } });
  const doc = readFileSync(WEBHOOKS_DOC, 'utf8');
  const next = regenerated(doc);
  if (check) {
    if (next !== doc) {
      console.error('docs:webhooks: docs/webhooks.md is out of date: run npm run docs:webhooks');
      process.exit(1);
    }
    console.log('docs:webhooks: docs/webhooks.md is up to date');
  } else if (next !== doc) {
    writeFileSync(WEBHOOKS_DOC, next);
    console.log('docs:webhooks: wrote docs/webhooks.md');
  } else console.log('docs:webhooks: docs/webhooks.md was up to date');
}
