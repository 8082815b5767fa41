// The replay core: sends real rows to a running labelwatch at a bounded rate and counts what it answers.
// No argument parsing and no terminal output here, so the demo (and tests) drive the same code as the CLI.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nameRecord } from '../../src/monitor/names.ts';
import type { ModelMetadata } from '../../src/serving/metadata.ts';
import {
  ReplayError,
  describeScaling,
  holdoutFixture,
  matchRows,
  prepareInputs,
  readTable,
  shuffledForever,
  type Fault,
} from './data.ts';

export { ReplayError, type Fault } from './data.ts';

const HOLDOUT_DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'test', 'fixtures', 'holdout');

export interface ReplayOptions {
  /** Base URL of labelwatch, e.g. http://127.0.0.1:8787. */
  url: string;
  model: string;
  /** CSV or JSON rows in raw units; default: the held-out fixture of the model's dataset. */
  data?: string;
  /** Column with the true label (only drop-label needs it); found automatically when omitted. */
  labelColumn?: string;
  /** Requests per second, an upper bound. */
  rate: number;
  /** Rows per request. */
  batch: number;
  /** Stop sending after this many seconds. */
  durationSeconds: number;
  /** Stop sending after this many requests, if sooner. */
  requests?: number;
  fault?: Fault;
  apiKey?: string;
  /** Seed of the row order. */
  seed: number;
  /** Per-request timeout. */
  timeoutMs: number;
  /** The rows are model-ready already (standardized where the model expects it): send them without scaling. */
  scaled?: boolean;
}

export const DEFAULTS = { url: 'http://127.0.0.1:8787', rate: 20, batch: 1, durationSeconds: 30, seed: 1, timeoutMs: 10_000 };

/** The parts of GET /v1/models/{name}/metadata that replay uses. */
export type ServedModel = Pick<ModelMetadata, 'name' | 'version' | 'labels' | 'features' | 'training'>;

export interface ReplayPlan {
  model: ServedModel;
  /** The file the rows came from. */
  source: string;
  /** Rows available to send after the fault's filtering (looped as long as needed). */
  rows: number;
  /** Rows of the file left out because a feature was blank or not a number. */
  skipped: number;
  standardized: boolean;
  /** Rows came as arrays in the model's feature order rather than keyed by column name. */
  positional: boolean;
  /** What was assumed about the rows' units and done with them (describeScaling). */
  scaling: string;
}

export interface ReplayProgress {
  elapsedMs: number;
  sentRequests: number;
  sentRows: number;
  answeredRequests: number;
  answeredRows: number;
  inFlight: number;
  /** Failed requests by HTTP status, or "network" / "timeout" / "bad response". */
  errors: Record<string, number>;
  /** Answered rows per label, every label of the model present (a vanished label shows as 0). */
  labels: Record<string, number>;
}

export interface ReplaySummary extends ReplayProgress {
  plan: ReplayPlan;
  stoppedBy: 'duration' | 'requests' | 'signal';
  /** Requests still in flight at the hard stop (or on Ctrl-C), abandoned: neither answered nor errors. */
  cancelled: number;
  /** The first error message seen for each kind in `errors`. */
  errorMessages: Record<string, string>;
}

export interface ReplayHooks {
  /** Called once the model and the rows are known, before the first request. */
  onReady?: (plan: ReplayPlan) => void;
  /** Called after every answered or failed request. */
  onProgress?: (progress: ReplayProgress) => void;
  /** Aborting stops sending, abandons requests in flight and resolves with the summary (a clean Ctrl-C). */
  signal?: AbortSignal;
}

/** Requests in flight at the end get this long to come back before they are abandoned. */
const DRAIN_MS = 2_000;

/** Resolves after `ms`, or at once when `signal` aborts. On the global timers, so tests can run replay on a fake clock. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

const baseUrl = (url: string) => url.replace(/\/+$/, '');

function describeFetchError(e: unknown): string {
  const cause = (e as { cause?: { message?: string; code?: string } }).cause;
  return cause?.message ?? cause?.code ?? (e as Error).message;
}

/** GET metadata: the model's features (with the scaler), labels and training dataset. */
export async function fetchModel(url: string, model: string, apiKey?: string): Promise<ServedModel> {
  const target = `${baseUrl(url)}/v1/models/${encodeURIComponent(model)}/metadata`;
  let response: Response;
  try {
    response = await fetch(target, { headers: authHeaders(apiKey), signal: AbortSignal.timeout(DEFAULTS.timeoutMs) });
  } catch (e) {
    throw new ReplayError(`cannot reach ${baseUrl(url)}: ${describeFetchError(e)}; is labelwatch running? (npm start)`);
  }
  const text = await response.text();
  const message = errorMessage(text);
  if (response.status === 404)
    throw new ReplayError(`unknown model "${model}" at ${baseUrl(url)}: ${message}`);
  if (!response.ok) throw new ReplayError(`GET ${target}: HTTP ${response.status}: ${message}`);
  let body: ServedModel;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ReplayError(`GET ${target}: not JSON; is ${baseUrl(url)} a labelwatch server?`);
  }
  const ok =
    Array.isArray(body?.labels) &&
    Array.isArray(body.features) &&
    body.features.every((f) => typeof f?.name === 'string' && typeof f.mean === 'number');
  if (!ok) throw new ReplayError(`GET ${target}: expected labels and features in the metadata; is ${baseUrl(url)} a labelwatch server?`);
  return body;
}

const authHeaders = (apiKey?: string): Record<string, string> => (apiKey ? { authorization: `Bearer ${apiKey}` } : {});

/** The server's `{"error": ...}` message, or the start of whatever it sent. */
function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text);
    if (typeof body?.error === 'string') return body.error;
  } catch {
    // not JSON: quote the text
  }
  return text.trim().slice(0, 200) || '(empty body)';
}

/** Answered labels: the server's `labels`, or argmax of `predictions` (a plain TF Serving answer). */
function answeredLabels(body: unknown, labels: string[], rows: number): string[] | null {
  const b = body as { labels?: unknown; predictions?: unknown };
  if (Array.isArray(b?.labels) && b.labels.length === rows && b.labels.every((l) => typeof l === 'string')) return b.labels;
  if (Array.isArray(b?.predictions) && b.predictions.length === rows)
    return b.predictions.map((p: unknown) => {
      if (!Array.isArray(p) || p.length !== labels.length) return '?';
      let best = 0;
      for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
      return labels[best];
    });
  return null;
}

/** Fetches the model, loads and prepares the rows: everything that can fail before the first request. */
export async function planReplay(options: ReplayOptions): Promise<{ plan: ReplayPlan; inputs: number[][] }> {
  const model = await fetchModel(options.url, options.model, options.apiKey);
  const source = options.data ?? (await holdoutFixture(model, HOLDOUT_DIR));
  const table = await readTable(source);
  const features = model.features.map((f) => f.name);
  const matched = matchRows(table, features, model.labels, options.labelColumn);
  const inputs = prepareInputs(matched.rows, model.features, model.labels, options.fault, options.scaled ?? false);
  const standardized = model.features.some((f) => f.raw !== undefined);
  const scaling = describeScaling(standardized, options.scaled ?? false, options.fault);
  return { plan: { model, source, rows: inputs.length, skipped: matched.skipped, standardized, positional: table.positional ?? false, scaling }, inputs };
}

/**
 * Replays rows against labelwatch's TF Serving `:predict` endpoint. Request i starts no earlier than
 * i / rate seconds after the first (so the rate is an upper bound even when the server is slow), no request
 * starts after `durationSeconds`, and none outlives it by more than DRAIN_MS (slower ones are abandoned).
 * Throws ReplayError before the first request (unknown model, unreachable server, data not matching).
 */
export async function replay(options: ReplayOptions, hooks: ReplayHooks = {}): Promise<ReplaySummary> {
  if (!(options.rate > 0) || !(options.durationSeconds > 0) || !(options.batch >= 1))
    throw new ReplayError('rate, duration and batch must be positive');
  const { plan, inputs } = await planReplay(options);
  hooks.onReady?.(plan);

  const labels = plan.model.labels;
  const endpoint = `${baseUrl(options.url)}/v1/models/${encodeURIComponent(plan.model.name)}:predict`;
  const headers = { 'content-type': 'application/json', ...authHeaders(options.apiKey) };
  const rows = shuffledForever(inputs, options.seed);

  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000;
  const progress: ReplayProgress = {
    elapsedMs: 0,
    sentRequests: 0,
    sentRows: 0,
    answeredRequests: 0,
    answeredRows: 0,
    inFlight: 0,
    errors: {},
    labels: nameRecord(labels.map((l) => [l, 0])),
  };
  const errorMessages: Record<string, string> = {};
  let cancelled = 0;
  const fail = (kind: string, message: string) => {
    progress.errors[kind] = (progress.errors[kind] ?? 0) + 1;
    errorMessages[kind] ??= message;
  };

  // `stop` ends sleeps and abandons requests: fired by the caller's signal, or at the hard stop after draining.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  if (hooks.signal?.aborted) stop.abort();

  async function send(instances: number[][]): Promise<void> {
    progress.sentRequests++;
    progress.sentRows += instances.length;
    progress.inFlight++;
    const timeout = AbortSignal.timeout(options.timeoutMs);
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify({ instances }),
        signal: AbortSignal.any([stop.signal, timeout]),
      });
      const text = await response.text();
      if (!response.ok) return fail(String(response.status), errorMessage(text));
      let answered: string[] | null = null;
      try {
        answered = answeredLabels(JSON.parse(text), labels, instances.length);
      } catch {
        // not JSON: counted below
      }
      if (!answered) return fail('bad response', `expected {"labels"|"predictions": [${instances.length} rows]}, got ${text.slice(0, 120)}`);
      progress.answeredRequests++;
      progress.answeredRows += answered.length;
      for (const label of answered) progress.labels[label] = (progress.labels[label] ?? 0) + 1;
    } catch (e) {
      if (stop.signal.aborted) cancelled++;
      else if (timeout.aborted) fail('timeout', `no answer within ${options.timeoutMs} ms`);
      else fail('network', describeFetchError(e));
    } finally {
      progress.inFlight--;
      progress.elapsedMs = performance.now() - started;
      hooks.onProgress?.({ ...progress, errors: { ...progress.errors }, labels: nameRecord(progress.labels) });
    }
  }

  // A slow server must not pile up unbounded requests: at most about one second's worth may be in flight.
  const maxInFlight = Math.min(256, Math.max(4, Math.ceil(options.rate)));
  const inFlight = new Set<Promise<void>>();
  const stopped = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  let stoppedBy: ReplaySummary['stoppedBy'] = 'duration';

  for (let i = 0; ; i++) {
    if (options.requests !== undefined && i >= options.requests) {
      stoppedBy = 'requests';
      break;
    }
    const at = started + (i * 1000) / options.rate;
    if (at >= deadline) break;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait, stop.signal);
    while (inFlight.size >= maxInFlight && !stop.signal.aborted) await Promise.race([...inFlight, stopped]);
    if (stop.signal.aborted) {
      stoppedBy = 'signal';
      break;
    }
    if (performance.now() >= deadline) break;
    const batch = Array.from({ length: options.batch }, () => rows.next().value);
    const request: Promise<void> = send(batch).finally(() => inFlight.delete(request));
    inFlight.add(request);
  }

  // Drain: late answers still count, but only for a short while; then abandon what is left. The wait itself is
  // capped too, because an aborted fetch has been seen never to settle (nodejs/node#56917).
  const drainMs = (stop.signal.aborted ? 0 : Math.max(0, deadline - performance.now())) + DRAIN_MS;
  const hardStop = setTimeout(() => stop.abort(), drainMs);
  const drained = new AbortController();
  await Promise.race([Promise.all(inFlight), sleep(drainMs + 500, drained.signal)]);
  drained.abort();
  clearTimeout(hardStop);
  hooks.signal?.removeEventListener('abort', onAbort);
  if (hooks.signal?.aborted) stoppedBy = 'signal';

  progress.elapsedMs = performance.now() - started;
  return { ...progress, plan, stoppedBy, cancelled, errorMessages };
}
