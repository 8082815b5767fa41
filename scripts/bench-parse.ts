// Does a schema parser cost the predict hot path throughput? Parses the same realistic request bodies for the penguins
// model (TF Serving `instances`, KServe V2 `inputs`; 1 row and 1000 rows) with the hand-written parsers the Worker
// uses (src/serving/instances.ts) and with valibot schemas written to give the same rows and, as far as valibot
// allows, the same errors at the same positions. Both run in this Node process on the already JSON-parsed body
// (JSON.parse, which both pay, is timed apart), interleaved in rounds so drift in the machine's speed hits both alike.
// Prints parses/s of each, the time ratio, and whether valibot's extra time per 1-row request stays under 3% of the
// CPU time a request costs (--request-ms, 1 ms by default: docs/serving.md measured 0.3–1.0 ms). Exits 0 either
// way: it informs a decision, it does not gate anything.
import { deepStrictEqual } from 'node:assert';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import { parseKServe, parseTfServing } from '../src/serving/instances.ts';
import { type FeatureSpec, parseMetadata } from '../src/serving/metadata.ts';
import { cli } from './lib/args.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FLOAT32_MAX = 3.4028234663852886e38;
const MAX_INSTANCES = 1024;
const TARGET_SHARE = 0.03;

// ── the valibot schemas ─────────────────────────────────────────────────────────────────────────────────────────────

/** As the hand-written parser says what it got. */
function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 20 ? x.slice(0, 20) + '…' : x)}`;
  return typeof x === 'object' ? 'an object' : typeof x;
}

const finite = v.pipe(
  v.number((issue) => `expected a finite number, got ${describe(issue.input)}`),
  v.check((x) => Number.isFinite(x) && Math.abs(x) <= FLOAT32_MAX, (issue) => `expected a finite number (float32 range), got ${String(issue.input)}`),
);

/** A row in feature order: exactly one finite number per feature. */
const rowArray = (features: FeatureSpec[]) =>
  v.pipe(
    v.array(finite),
    v.length(features.length, (issue) => `expected ${features.length} values (${features.map((f) => f.name).join(', ')}), got ${(issue.input as unknown[]).length}`),
  );

/** One TF Serving instance: an array in feature order, or an object keyed by feature name; the row in feature order. */
function instanceSchema(features: FeatureSpec[]) {
  const names = features.map((f) => f.name).join(', ');
  const byName = v.pipe(
    v.strictObject(Object.fromEntries(features.map((f) => [f.name, finite])), (issue) =>
      issue.expected === 'never' ? `unknown feature (expected ${names})` : issue.path ? 'missing feature' : `expected an object, got ${describe(issue.input)}`,
    ),
    v.transform((o) => features.map((f) => (o as Record<string, number>)[f.name]!)),
  );
  return v.union([rowArray(features), byName], (issue) => `expected an array of ${features.length} numbers or an object keyed by feature name, got ${describe(issue.input)}`);
}

/** TF Serving `{"instances": [...]}` → the rows, as parseTfServing gives them. */
export function tfServingSchema(features: FeatureSpec[], maxInstances: number) {
  return v.pipe(
    v.object(
      {
        instances: v.pipe(
          v.array(instanceSchema(features), (issue) => `expected an array, got ${describe(issue.input)}`),
          v.minLength(1, 'expected at least one instance'),
          v.maxLength(maxInstances, (issue) => `${(issue.input as unknown[]).length} instances exceed the limit of ${maxInstances} per request`),
        ),
      },
      (issue) => (issue.path ? 'missing; send {"instances": [[...], ...]}' : 'expected a JSON object with "instances"'),
    ),
    v.transform((body) => body.instances),
  );
}

/** KServe V2 `{"inputs": [{name, shape, datatype, data}]}` → rows, input name and id, as parseKServe gives them. */
export function kserveSchema(features: FeatureSpec[], maxInstances: number, declaredInputName?: string) {
  const d = features.length;
  const count = v.pipe(v.number(), v.integer(), v.minValue(0));
  const tensor = v.pipe(
    v.object(
      {
        name: v.pipe(
          v.string('expected a non-empty string'),
          v.nonEmpty('expected a non-empty string'),
          v.check(
            (name) => declaredInputName === undefined || name === declaredInputName,
            (issue) => `expected "${declaredInputName}" (the model's input), got ${describe(issue.input)}`,
          ),
        ),
        datatype: v.picklist(['FP32', 'FP64'], (issue) => `expected "FP32" (or "FP64"), got ${describe(issue.input)}`),
        shape: v.tuple([count, count], `expected [n, ${d}]`),
        data: v.union([v.array(finite), v.array(rowArray(features))], (issue) => `expected an array, got ${describe(issue.input)}`),
      },
      'expected an object {name, shape, datatype, data}',
    ),
    v.forward(
      v.check((t) => t.shape[1] === d, (issue) => `expected ${d} features (${features.map((f) => f.name).join(', ')}), got ${(issue.input as { shape: number[] }).shape[1]}`),
      ['shape', 1],
    ),
    v.forward(v.check((t) => t.shape[0] > 0, 'expected at least one row'), ['shape', 0]),
    v.forward(
      v.check((t) => t.shape[0] <= maxInstances, (issue) => `${(issue.input as { shape: number[] }).shape[0]} rows exceed the limit of ${maxInstances} per request`),
      ['shape', 0],
    ),
    v.forward(
      v.check(
        (t) => (t.data.length === t.shape[0] && t.data.every(Array.isArray)) || t.data.length === t.shape[0] * d,
        (issue) => {
          const t = issue.input as { shape: number[]; data: unknown[] };
          return `shape [${t.shape[0]}, ${d}] needs ${t.shape[0]! * d} values, got ${t.data.length}`;
        },
      ),
      ['data'],
    ),
  );
  return v.pipe(
    v.object(
      {
        id: v.optional(v.string((issue) => `expected a string, got ${describe(issue.input)}`)),
        inputs: v.pipe(
          v.array(tensor, (issue) => `expected an array of tensors, got ${describe(issue.input)}`),
          v.length(1, (issue) => `expected exactly 1 input tensor, got ${(issue.input as unknown[]).length}`),
        ),
      },
      'expected a JSON object with "inputs"',
    ),
    v.transform((body) => {
      const input = body.inputs[0]!;
      const n = input.shape[0];
      let rows: number[][];
      if (input.data.length === n && input.data.every(Array.isArray)) rows = input.data as number[][];
      else {
        const flat = input.data as number[];
        rows = new Array(n);
        for (let i = 0; i < n; i++) rows[i] = flat.slice(i * d, i * d + d);
      }
      return { rows, inputName: input.name, id: body.id };
    }),
  );
}

const IDENTIFIER = /^[A-Za-z_$][\w$]{0,39}$/;

/** `instances[3][2]` from an issue's path, as the hand-written parser names positions. */
function pathOf(path: v.IssuePathItem[] | undefined, root = ''): string {
  let out = root;
  for (const item of path ?? []) {
    const key = item.key as string | number;
    if (typeof key === 'number') out += `[${key}]`;
    else if (out === '') out = key;
    else out += IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key.length > 40 ? key.slice(0, 40) + '…' : key)}]`;
  }
  return out;
}

/**
 * The first issue as `<where>: <what>`. A union that no option matched is reported through the sub-issue that got
 * deepest into the value (the option the client evidently meant), as the hand-written parser does.
 */
export function errorOf(issues: readonly v.BaseIssue<unknown>[]): string {
  let issue = issues[0]!;
  let where = pathOf(issue.path);
  while (issue.issues && issue.issues.length > 0) {
    const deepest = [...issue.issues].sort((a, b) => (b.path?.length ?? 0) - (a.path?.length ?? 0))[0]!;
    if ((deepest.path?.length ?? 0) === 0) break;
    where = pathOf(deepest.path, where);
    issue = deepest;
  }
  return `${where || 'body'}: ${issue.message}`;
}

// ── the bodies ─────────────────────────────────────────────────────────────────────────────────────────────────

const metadata = parseMetadata(JSON.parse(readFileSync(join(ROOT, 'models/penguins/metadata.json'), 'utf8')));
const features = metadata.features;
/** Realistic rows: the package's own held-out probe rows, repeated. */
const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => metadata.probes[i % metadata.probes.length]!.input);
const asObject = (row: number[]) => Object.fromEntries(features.map((f, j) => [f.name, row[j]]));

interface Case {
  name: string;
  body: string;
  hand: (body: unknown) => unknown;
  schema: (body: unknown) => unknown;
}

const tfSchema = tfServingSchema(features, MAX_INSTANCES);
const kvSchema = kserveSchema(features, MAX_INSTANCES, 'features');
const unwrap = <T,>(r: { ok: true; value: T } | { ok: false; error: string }): T => {
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const ABORT_EARLY = { abortEarly: true } as const;
const viaSchema = (schema: v.GenericSchema) => (body: unknown) => {
  const r = v.safeParse(schema, body, ABORT_EARLY);
  if (!r.success) throw new Error(errorOf(r.issues));
  return r.output;
};
const tfHand = (body: unknown) => unwrap(parseTfServing(body, features, MAX_INSTANCES, 'features'));
const kvHand = (body: unknown) => unwrap(parseKServe(body, features, MAX_INSTANCES, 'features'));
const kserveBody = (n: number) => JSON.stringify({ inputs: [{ name: 'features', shape: [n, features.length], datatype: 'FP32', data: rowsOf(n).flat() }] });

/** For a body both reject: the error is the result (and must be the same). */
const rejecting = (fn: (body: unknown) => unknown) => (body: unknown) => {
  try {
    fn(body);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('accepted a body it should reject');
};
/** The most rows a 1 MiB body (the Worker's limit) can carry: far more than MAX_INSTANCES. */
const tooMany = JSON.stringify({ instances: rowsOf(Math.floor((1 << 20) / JSON.stringify(rowsOf(1)).length)) });

const CASES: Case[] = [
  { name: 'TF Serving instances, 1 row', body: JSON.stringify({ instances: rowsOf(1) }), hand: tfHand, schema: viaSchema(tfSchema) },
  { name: 'TF Serving instances, 1 row as an object', body: JSON.stringify({ instances: rowsOf(1).map(asObject) }), hand: tfHand, schema: viaSchema(tfSchema) },
  { name: 'TF Serving instances, 1000 rows', body: JSON.stringify({ instances: rowsOf(1000) }), hand: tfHand, schema: viaSchema(tfSchema) },
  { name: 'KServe V2 inputs, 1 row', body: kserveBody(1), hand: kvHand, schema: viaSchema(kvSchema) },
  { name: 'KServe V2 inputs, 1000 rows', body: kserveBody(1000), hand: kvHand, schema: viaSchema(kvSchema) },
  {
    name: `TF Serving, ${JSON.parse(tooMany).instances.length} rows (1 MiB): rejected, over ${MAX_INSTANCES}`,
    body: tooMany,
    hand: rejecting(tfHand),
    schema: rejecting(viaSchema(tfSchema)),
  },
];

/** Bad bodies: the error each parser gives (the point is the same field and position). */
const BAD: { what: string; protocol: 'tf' | 'kserve'; body: unknown; features?: FeatureSpec[] }[] = [
  { what: 'a string among the numbers', protocol: 'tf', body: { instances: [[1, 2, 3, 4], [1, 2, 'x', 4]] } },
  { what: 'Infinity-sized number', protocol: 'tf', body: { instances: [[1, 2, 3, 1e39]] } },
  { what: 'a short row', protocol: 'tf', body: { instances: [[1, 2, 3]] } },
  { what: 'an unknown feature', protocol: 'tf', body: { instances: [{ ...asObject([1, 2, 3, 4]), wings: 2 }] } },
  { what: 'a missing feature', protocol: 'tf', body: { instances: [{ beak_length_mm: 1, beak_depth_mm: 2, flipper_length_mm: 3 }] } },
  { what: 'no instances', protocol: 'tf', body: { rows: [] } },
  { what: 'too many rows', protocol: 'tf', body: { instances: rowsOf(MAX_INSTANCES + 1) } },
  { what: 'a null in flat data', protocol: 'kserve', body: { inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4, 5, null, 7, 8] }] } },
  { what: 'data shorter than the shape', protocol: 'kserve', body: { inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3] }] } },
  { what: 'INT32 datatype', protocol: 'kserve', body: { inputs: [{ name: 'features', shape: [1, 4], datatype: 'INT32', data: [1, 2, 3, 4] }] } },
  { what: 'a wrong input name', protocol: 'kserve', body: { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] } },
  { what: 'shape [1, 3]', protocol: 'kserve', body: { inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] } },
  {
    what: 'a model with a feature named "constructor", a row without it',
    protocol: 'tf',
    body: { instances: [{ x: 1 }] },
    features: [
      { name: 'x', mean: 0, std: 1 },
      { name: 'constructor', mean: 0, std: 1 },
    ],
  },
];

function errorsOfBoth(protocol: 'tf' | 'kserve', body: unknown, own?: FeatureSpec[]): [string, string] {
  const f = own ?? features;
  const hand = protocol === 'tf' ? parseTfServing(body, f, MAX_INSTANCES, 'features') : parseKServe(body, f, MAX_INSTANCES, 'features');
  const schema = v.safeParse(own ? (protocol === 'tf' ? tfServingSchema(f, MAX_INSTANCES) : kserveSchema(f, MAX_INSTANCES, 'features')) : protocol === 'tf' ? tfSchema : kvSchema, body, ABORT_EARLY);
  return [hand.ok ? '(accepted)' : hand.error, schema.success ? '(accepted)' : errorOf(schema.issues)];
}

// ── timing ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** Seconds per call of `fn(body)` over `iterations` calls. */
function time(fn: (body: unknown) => unknown, body: unknown, iterations: number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (fn(body) !== undefined) sink++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (sink !== iterations) throw new Error('unreachable');
  return seconds / iterations;
}

/** Calls that take about `ms` milliseconds. */
function calibrate(fn: (body: unknown) => unknown, body: unknown, ms: number): number {
  let n = 1;
  let per = time(fn, body, n);
  while (per * n < ms / 4000) {
    n *= 2;
    per = time(fn, body, n);
  }
  return Math.max(1, Math.round(ms / 1000 / per));
}

const jsonParse = (text: unknown) => JSON.parse(text as string) as unknown;

const fmtRate = (perSecond: number) => Math.round(perSecond).toLocaleString('en-US');
const fmtUs = (seconds: number) => (seconds * 1e6).toFixed(seconds * 1e6 < 10 ? 2 : 1);

export const USAGE = `usage: npm run bench:parse [-- --rounds N] [--ms N] [--request-ms X]

Times the predict hot path's hand-written body parsers (src/serving/instances.ts) against equivalent valibot schemas
on the same penguins bodies (TF Serving instances and KServe V2 inputs, 1 and 1000 rows), interleaved in rounds, in
this Node process. Prints parses/s, µs per parse, valibot's time ÷ the hand-written parser's, the errors both give for
bad bodies, and whether valibot's extra time on a 1-row request stays under ${TARGET_SHARE * 100}% of a request's CPU time. Exits 0.

  --rounds N       rounds of every case and parser, alternating which parser goes first (default 7)
  --ms N           milliseconds per case and parser in a round (default 150)
  --request-ms X   CPU time of one 1-row predict request on the server, ms (default 1; see docs/architecture.md)
  -h, --help       this text`;

function main(): void {
  const flags = cli('bench-parse', USAGE, process.argv.slice(2), {
    rounds: { type: 'string' },
    ms: { type: 'string' },
    'request-ms': { type: 'string' },
  });
  const number = (name: string, value: string | undefined, fallback: number) => {
    const x = value === undefined ? fallback : Number(value);
    if (!Number.isFinite(x) || x <= 0) {
      process.stderr.write(`bench-parse: --${name}: expected a positive number, got ${JSON.stringify(value)}\n\n${USAGE}\n`);
      process.exit(2);
    }
    return x;
  };
  const rounds = Math.round(number('rounds', flags.rounds, 7));
  const ms = number('ms', flags.ms, 150);
  const requestMs = number('request-ms', flags['request-ms'], 1);

  // Same rows (or the same error) out of both, for every body.
  for (const c of CASES) {
    const body = JSON.parse(c.body);
    deepStrictEqual(c.schema(body), c.hand(body), `${c.name}: the parsers disagree`);
  }

  console.log(`bench-parse: node ${process.version}, valibot ${JSON.parse(readFileSync(join(ROOT, 'node_modules/valibot/package.json'), 'utf8')).version}, penguins (${features.length} features); ${rounds} rounds × ${ms} ms per case and parser\n`);
  const totals = CASES.map(() => ({ hand: 0, schema: 0, handCalls: 0, schemaCalls: 0, json: 0 }));
  const bodies = CASES.map((c) => JSON.parse(c.body));
  const iterations = CASES.map((c, k) => ({ hand: calibrate(c.hand, bodies[k], ms), schema: calibrate(c.schema, bodies[k], ms), json: calibrate(jsonParse, c.body, ms / 3) }));
  for (let r = 0; r < rounds; r++) {
    CASES.forEach((c, k) => {
      const run = (which: 'hand' | 'schema') => {
        const n = iterations[k]![which];
        totals[k]![which] += time(c[which], bodies[k], n) * n;
        totals[k]![which === 'hand' ? 'handCalls' : 'schemaCalls'] += n;
      };
      if (r % 2 === 0) (run('hand'), run('schema'));
      else (run('schema'), run('hand'));
      totals[k]!.json += time(jsonParse, c.body, iterations[k]!.json);
    });
  }

  console.log('| body | bytes | JSON.parse µs | hand-written parses/s | valibot parses/s | hand-written µs | valibot µs | valibot ÷ hand-written (time) |');
  console.log('|---|---|---|---|---|---|---|---|');
  const verdicts: string[] = [];
  CASES.forEach((c, k) => {
    const t = totals[k]!;
    const hand = t.hand / t.handCalls;
    const schema = t.schema / t.schemaCalls;
    console.log(
      `| ${c.name} | ${c.body.length} | ${fmtUs(t.json / rounds)} | ${fmtRate(1 / hand)} | ${fmtRate(1 / schema)} | ${fmtUs(hand)} | ${fmtUs(schema)} | ${(schema / hand).toFixed(2)} |`,
    );
    if (c.name.includes('1 row')) {
      const extra = schema - hand;
      const share = extra / (requestMs / 1000);
      verdicts.push(
        `${c.name}: valibot adds ${fmtUs(extra)} µs per request = ${(100 * share).toFixed(2)}% of ${requestMs} ms (< ${TARGET_SHARE * 100}% ${share < TARGET_SHARE ? '✓' : '✗'})`,
      );
    }
  });
  console.log(`\nTarget: the schema parser costs < ${TARGET_SHARE * 100}% of a single-row request's CPU time (--request-ms ${requestMs}):`);
  for (const line of verdicts) console.log(`  ${line}`);

  console.log('\nErrors for bad bodies (the same field and position is the aim):\n');
  console.log('| bad body | hand-written | valibot |');
  console.log('|---|---|---|');
  for (const b of BAD) {
    const [hand, schema] = errorsOfBoth(b.protocol, b.body, b.features);
    console.log(`| ${b.protocol === 'tf' ? 'TF Serving' : 'KServe'}: ${b.what} | \`${hand}\` | \`${schema}\` |`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
