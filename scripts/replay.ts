// Replays real rows against a running labelwatch, healthy or with a simulated pipeline bug, and shows what the
// model answers. The core is scripts/replay/run.ts (`replay()`, also used by the demo); this file is the CLI.
//
//   npm run replay -- --model penguins                         held-out rows, 20 req/s for 30 s
//   npm run replay -- --model penguins --fault unscale         the classic bug: raw units to a standardized model
//   npm run replay -- --model seattle-weather --data my.csv --rate 50 --batch 10 --url https://labelwatch.example.workers.dev
import { realpathSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, UsageError } from './lib/args.ts';
import { FAULTS, ReplayError, describeFault, parseFault } from './replay/data.ts';
import { DEFAULTS, replay, type ReplayOptions, type ReplayPlan, type ReplayProgress, type ReplaySummary } from './replay/run.ts';

export { replay, ReplayError, type ReplayOptions, type ReplaySummary } from './replay/run.ts';
export { UsageError } from './lib/args.ts';

export const USAGE = `usage: npm run replay -- --model <name> [options]

  --model <name>        model to replay against (required)
  --data <file>         rows in raw units: CSV with a header, a JSON array of objects, a JSON array of rows
                        (arrays in the model's feature order), or a holdout fixture;
                        columns are matched to the model's features by name
                        (default: test/fixtures/holdout/<dataset>.json for the model's dataset)
  --label <column>      column with the true label (default: found automatically; only drop-label needs it)
  --rate <req/s>        at most this many requests per second (default ${DEFAULTS.rate})
  --batch <n>           rows per request (default ${DEFAULTS.batch})
  --duration <s>        stop after this many seconds (default ${DEFAULTS.durationSeconds})
  --requests <n>        stop after this many requests, if sooner
  --scaled              the rows are model-ready already (standardized where the model expects it):
                        send them as given instead of applying the model's training scaler
  --fault <fault>       simulate a pipeline bug: ${FAULTS}
  --url <base>          labelwatch base URL (default ${DEFAULTS.url})
  --api-key <key>       bearer API key (default: $LABELWATCH_API_KEY, which keeps it out of shell history)
  --seed <n>            seed of the row order (default ${DEFAULTS.seed})
  --timeout <ms>        per-request timeout (default ${DEFAULTS.timeoutMs})

Exit status: 0 when answers came back, 1 when none did (or on an error), 2 on a usage error, 130 on Ctrl-C.`;

function positive(value: string | undefined, flag: string, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0) || (integer && !Number.isInteger(n)))
    throw new UsageError(`${flag}: expected a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  return n;
}

/** Parses CLI arguments into replay options; `null` means --help. Throws UsageError naming the flag. */
export function parseReplayArgs(argv: string[], env: Record<string, string | undefined> = process.env): ReplayOptions | null {
  const values = parseFlags(argv, {
    model: { type: 'string' },
    data: { type: 'string' },
    label: { type: 'string' },
    rate: { type: 'string' },
    batch: { type: 'string' },
    duration: { type: 'string' },
    requests: { type: 'string' },
    fault: { type: 'string' },
    url: { type: 'string' },
    'api-key': { type: 'string' },
    seed: { type: 'string' },
    timeout: { type: 'string' },
    scaled: { type: 'boolean' },
  });
  if (values.help) return null;
  if (!values.model) throw new UsageError('--model: required (the name of a model labelwatch serves)');
  const url = values.url ?? DEFAULTS.url;
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new UsageError(`--url: expected an http(s) base URL, got "${url}"`);
  }
  let fault;
  try {
    fault = values.fault === undefined ? undefined : parseFault(values.fault);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const seed = values.seed === undefined ? DEFAULTS.seed : Number(values.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed: expected an integer, got "${values.seed}"`);
  return {
    url,
    model: values.model,
    data: values.data,
    labelColumn: values.label,
    rate: positive(values.rate, '--rate', false) ?? DEFAULTS.rate,
    batch: positive(values.batch, '--batch', true) ?? DEFAULTS.batch,
    durationSeconds: positive(values.duration, '--duration', false) ?? DEFAULTS.durationSeconds,
    requests: positive(values.requests, '--requests', true),
    fault,
    apiKey: values['api-key'] ?? (env.LABELWATCH_API_KEY || undefined),
    seed,
    timeoutMs: positive(values.timeout, '--timeout', true) ?? DEFAULTS.timeoutMs,
    ...(values.scaled ? { scaled: true } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Terminal output (stderr, so stdout stays free for whoever pipes us)

const percent = (n: number, total: number) => (total > 0 ? `${((100 * n) / total).toFixed(1)}%` : '-');

function labelCounts(labels: Record<string, number>, total: number, withShare: boolean): string {
  return Object.entries(labels)
    .map(([label, n]) => (withShare ? `${label} ${n} (${percent(n, total)})` : `${label} ${n}`))
    .join(withShare ? '  ' : ' ');
}

function errorCounts(errors: Record<string, number>): string {
  return Object.entries(errors)
    .map(([kind, n]) => `${kind}×${n}`)
    .join(' ');
}

function describePlan(plan: ReplayPlan, options: ReplayOptions): string {
  const { model } = plan;
  const limit = options.requests !== undefined ? `${options.requests} requests or ${options.durationSeconds} s` : `${options.durationSeconds} s`;
  return (
    `replay: ${model.name}@${model.version} at ${options.url}\n` +
    `  rows:  ${plan.rows} from ${relative(process.cwd(), plan.source) || plan.source}${plan.skipped ? ` (${plan.skipped} skipped: blank or not a number)` : ''}, sent ${plan.scaling}` +
    `${options.fault ? `, fault ${describeFault(options.fault)}` : ''}\n` +
    `${plan.positional ? `  order: arrays taken in the model's feature order (${model.features.map((f) => f.name).join(', ')})\n` : ''}` +
    `  pace:  ${options.rate} req/s × ${options.batch} row${options.batch > 1 ? 's' : ''}, for ${limit}`
  );
}

function progressLine(p: ReplayProgress, options: ReplayOptions, width: number): string {
  const byTime = p.elapsedMs / (options.durationSeconds * 1000);
  const byCount = options.requests ? p.sentRequests / options.requests : 0;
  const done = Math.min(1, Math.max(byTime, byCount));
  const bar = '#'.repeat(Math.round(done * 12)).padEnd(12, '-');
  const errors = Object.keys(p.errors).length ? ` err ${errorCounts(p.errors)}` : '';
  // Compact, because a terminal line is cut at its width and the label counts are the point.
  return (
    `[${bar}] ${(p.elapsedMs / 1000).toFixed(1)}s sent ${p.sentRequests} ok ${p.answeredRequests}${errors} | ` +
    labelCounts(p.labels, p.answeredRows, false)
  ).slice(0, width);
}

export function formatSummary(s: ReplaySummary): string {
  const lines = [
    `replay: ${s.plan.model.name}@${s.plan.model.version}, ${(s.elapsedMs / 1000).toFixed(1)} s, stopped by ${s.stoppedBy}`,
    `  sent      ${s.sentRequests} requests (${s.sentRows} rows)`,
    `  answered  ${s.answeredRequests} requests (${s.answeredRows} rows)`,
  ];
  for (const [kind, n] of Object.entries(s.errors)) lines.push(`  error     ${kind} × ${n}: ${s.errorMessages[kind]}`);
  if (s.cancelled) lines.push(`  cancelled ${s.cancelled} requests still in flight at the stop`);
  lines.push(`  labels    ${labelCounts(s.labels, s.answeredRows, true)}`);
  return lines.join('\n');
}

/** Redraws one line on a terminal; elsewhere (CI, a pipe) prints a line every few seconds. */
function progressPrinter(options: ReplayOptions) {
  const tty = process.stderr.isTTY === true;
  let latest: ReplayProgress | null = null;
  let startedAt = 0;
  let lastLine = 0;
  const draw = () => {
    if (!latest) return;
    const now = performance.now();
    const p = { ...latest, elapsedMs: now - startedAt };
    if (tty) process.stderr.write(`\r\x1b[2K${progressLine(p, options, (process.stderr.columns ?? 120) - 1)}`);
    else if (now - lastLine >= 5_000) {
      lastLine = now;
      process.stderr.write(`${progressLine(p, options, 1_000)}\n`);
    }
  };
  const timer = setInterval(draw, tty ? 100 : 1_000);
  return {
    start() {
      startedAt = lastLine = performance.now();
    },
    update(p: ReplayProgress) {
      latest = p;
    },
    end() {
      clearInterval(timer);
      if (tty && latest) process.stderr.write('\r\x1b[2K');
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  let options: ReplayOptions | null;
  try {
    options = parseReplayArgs(argv);
  } catch (e) {
    process.stderr.write(`replay: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const opts = options;

  // First Ctrl-C: stop cleanly and print the summary. Second: leave now.
  const interrupt = new AbortController();
  const onSigint = () => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);

  const printer = progressPrinter(opts);
  try {
    const summary = await replay(opts, {
      signal: interrupt.signal,
      onReady: (plan) => {
        process.stderr.write(`${describePlan(plan, opts)}\n`);
        printer.start();
      },
      onProgress: (p) => printer.update(p),
    });
    printer.end();
    process.stderr.write(`${formatSummary(summary)}\n`);
    if (summary.stoppedBy === 'signal') return 130;
    if (summary.answeredRequests === 0) {
      process.stderr.write('replay: nothing was answered\n');
      return 1;
    }
    return 0;
  } catch (e) {
    printer.end();
    if (e instanceof ReplayError) {
      process.stderr.write(`replay: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

// Run only as a script, so the demo and the tests can import this file.
function invokedAsScript(): boolean {
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false; // no script path (node -e, a REPL): imported
  }
}
if (invokedAsScript()) process.exitCode = await main(process.argv.slice(2));
