// `npm run demo`: the whole story on one machine in under two minutes. A throwaway labelwatch (wrangler dev with its
// own state directory and short windows) and a local receiver standing in for the alert webhook, the retraining
// webhook, PagerDuty and Slack. Then: healthy traffic; a pipeline bug, sent until labelwatch has opened an incident
// and everyone is told (with the diagnosis and the remedies); the fix, sent until the incident resolves. Every step
// has a deadline; the demo exits 0 only if every step happened, and always stops what it started.
//
//   npm run demo                  the story with 10 s windows
//   npm run demo -- --keep        leave labelwatch running at the end, to browse the status page
//   npm run demo -- --quick       5 s windows (what test/node/demo.test.ts runs)
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AlertPayload, RetrainPayload } from '../src/contract/webhooks.ts';
import { parseFlags, UsageError } from './lib/args.ts';
import { type Fault, ReplayError, describeFault, parseFault } from './replay/data.ts';
import { DEFAULTS as REPLAY_DEFAULTS, fetchModel, replay, type ReplayProgress, type ServedModel } from './replay/run.ts';
import {
  chapter,
  clip,
  describeDiagnosis,
  describeRemedy,
  describeStatistics,
  describeWindow,
  elapsed,
  say,
  shares,
} from './demo/narrate.ts';
import { type Arrival, type Receiver, startReceiver } from './demo/receiver.ts';
import { type LocalLabelwatch, SetupError, assertPortFree, prepare, startLabelwatch } from './demo/server.ts';
import { Interrupted, StepMissed, follow, poll, untilBoundary, within } from './demo/steps.ts';
import { type WindowWatch, watchWindows } from './demo/windows.ts';

export const USAGE = `usage: npm run demo -- [options]

  --model <name>     model to watch (default penguins)
  --fault <fault>    the pipeline bug to simulate: zero | unscale | constant | drop-label=<label>
                     (default unscale for a model that expects standardized inputs, else zero)
  --port <n>         port of the demo's labelwatch on 127.0.0.1 (default 8811)
  --window <s>       window length in seconds (default 10)
  --quick            5 s windows: the same story, shorter
  --keep             leave labelwatch running at the end, to browse the status page (Ctrl-C stops it)

Exit status: 0 when every step happened within its deadline, 1 when one did not (or on an error),
2 on a usage error, 130 on Ctrl-C.`;

export interface DemoOptions {
  model: string;
  fault?: Fault;
  port: number;
  windowSeconds: number;
  keep: boolean;
}

/** Parses CLI arguments; `null` means --help. */
export function parseDemoArgs(argv: string[]): DemoOptions | null {
  const values = parseFlags(argv, {
    model: { type: 'string' },
    fault: { type: 'string' },
    port: { type: 'string' },
    window: { type: 'string' },
    quick: { type: 'boolean' },
    keep: { type: 'boolean' },
  });
  if (values.help) return null;
  const integer = (value: string | undefined, flag: string, fallback: number, min: number, max: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
  let fault: Fault | undefined;
  try {
    fault = values.fault === undefined ? undefined : parseFault(values.fault);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return {
    model: values.model ?? 'penguins',
    fault,
    port: integer(values.port, '--port', 8811, 1, 65_535),
    windowSeconds: integer(values.window, '--window', values.quick ? 5 : 10, 2, 300),
    keep: values.keep ?? false,
  };
}

// ── timing ────────────────────────────────────────────────────────────────────────────────────────────────────────
// A window is judged at the first cron run after end + FLUSH_GRACE_SECONDS + CLOSE_MARGIN_SECONDS (src/schedule.ts).
// Production waits a minute for retried flushes; a local demo needs seconds.

/** Requests per second (one row each) in every phase: 30 × window length predictions per window. */
const RATE = 30;
const FLUSH_GRACE_SECONDS = 1;
const CLOSE_MARGIN_SECONDS = 4;
const RESOLVE_AFTER_HEALTHY = 2;
/** How long stopped traffic may take to drain before the demo goes on without it. */
const DRAIN_SECONDS = 4;
/** wrangler dev never fires crons; the demo triggers one this often. */
const CRON_EVERY_SECONDS = 2;
/** Deadline of a phase: a window to fill, its verdict, the deliveries, and room to spare on a busy machine. */
const phaseSeconds = (windows: number, windowSeconds: number) =>
  (windows + 1) * windowSeconds + FLUSH_GRACE_SECONDS + CLOSE_MARGIN_SECONDS + CRON_EVERY_SECONDS + 45;

// ── the story ─────────────────────────────────────────────────────────────────────────────────────────────────────

const FAULT_STORY: Record<Fault['kind'], string> = {
  unscale: 'the scaler step is skipped, so raw units reach a model trained on standardized inputs',
  zero: 'a broken join fills every feature with 0',
  constant: 'a stuck cache sends the same row every time',
  'drop-label': 'an upstream filter drops every row of one class',
};

const WHO = { alert: 'alert webhook', retrain: 'retraining webhook', pagerduty: 'PagerDuty', slack: 'Slack' } as const;

/** Prints what the receiver got, as the person on call (or the training pipeline) would see it. */
function printArrival(a: Arrival): void {
  const who = WHO[a.channel];
  if (a.rejected) return say(`✗ ${who}: refused, ${a.rejected}`);
  if (a.duplicate) return say(`← ${who}: webhook-id ${a.id} again (a redelivery): acknowledged, not handled twice`);
  const signed = `signature verified, webhook-id ${a.id}`;
  try {
    switch (a.channel) {
      case 'alert': {
        const d = (a.body as AlertPayload).data;
        const verdict = a.type === 'incident.resolved' ? `resolved by ${d.incident.resolved_by}` : d.latest_flagged_window.verdict;
        return say(`← ${who}: ${a.type}, ${d.incident.model} v${d.incident.version} ${verdict} (${signed})\n  ${d.summary}`);
      }
      case 'retrain': {
        const d = (a.body as RetrainPayload).data;
        return say(
          [
            `← ${who}: ${a.type}, ${d.model} v${d.version} ${d.verdict} (${signed}, idempotency key ${d.idempotency_key})`,
            ...(d.statistics ? [`  statistics: ${describeStatistics(d.statistics)}`] : []),
            '  diagnoses:',
            ...d.diagnoses.map((x) => `    ${describeDiagnosis(x)}`),
            '  remedies:',
            ...d.remedies.flatMap((x) => describeRemedy(x).split('\n').map((l) => `    ${l}`)),
          ].join('\n'),
        );
      }
      case 'pagerduty':
        return say(
          a.type === 'trigger'
            ? `← ${who}: trigger, severity ${a.body.payload.severity}, dedup_key ${a.body.dedup_key}\n  ${clip(a.body.payload.summary, 110)}`
            : `← ${who}: resolve, dedup_key ${a.body.dedup_key}`,
        );
      case 'slack':
        return say(`← ${who}: "${a.type}"`);
    }
  } catch (e) {
    say(`← ${who}: ${a.type}, in a shape the demo did not expect (${(e as Error).message})`);
  }
}

interface IncidentView {
  id: string;
  kind: string;
  status: string;
  healthy_streak: number;
  resolved_by: string | null;
  latest: { reason: string };
}

/** What the story runs on; `own` lets main() stop whatever was started, however the story ends. */
interface Cast {
  server?: LocalLabelwatch;
  receiver?: Receiver;
  watching: AbortController;
}

async function story(options: DemoOptions, interrupt: AbortSignal, stateDir: string, cast: Cast): Promise<void> {
  const W = options.windowSeconds;
  const secret = () => `whsec_${randomBytes(32).toString('base64')}`;
  const secrets = { alert: secret(), retrain: secret(), pagerDutyRoutingKey: randomBytes(16).toString('hex') };
  const adminToken = randomBytes(16).toString('hex');
  const url = `http://127.0.0.1:${options.port}`;
  let n = 0;

  // ── 1. the set ──
  chapter(++n, 'A throwaway labelwatch and a receiver for its webhooks');
  await assertPortFree(options.port);
  await within(180, 'registry and migrations', interrupt, (signal) => prepare(stateDir, signal));
  say(`registry generated; migrations applied to ${stateDir} (npm start's .wrangler/state is untouched)`);
  const receiver = (cast.receiver = await startReceiver(secrets));
  receiver.onArrival(printArrival);
  say(`receiver on ${receiver.url}: /alert and /retrain verify Standard Webhooks signatures; /pagerduty and /slack`);
  const vars = {
    WINDOW_SECONDS: String(W),
    FLUSH_GRACE_SECONDS: String(FLUSH_GRACE_SECONDS),
    CLOSE_MARGIN_SECONDS: String(CLOSE_MARGIN_SECONDS),
    RESOLVE_AFTER_HEALTHY: String(RESOLVE_AFTER_HEALTHY),
    // The story resolves within the demo's two minutes: no quiet period after the fix (production waits 3 h).
    RESOLVE_QUIET_MINUTES: '0',
    ADMIN_TOKEN: adminToken,
    PUBLIC_URL: url,
    ALERT_WEBHOOK_URL: `${receiver.url}/alert`,
    ALERT_WEBHOOK_SECRET: secrets.alert,
    RETRAIN_WEBHOOK_URL: `${receiver.url}/retrain`,
    RETRAIN_WEBHOOK_SECRET: secrets.retrain,
    PAGERDUTY_ROUTING_KEY: secrets.pagerDutyRoutingKey,
    PAGERDUTY_EVENTS_URL: `${receiver.url}/pagerduty`,
    SLACK_WEBHOOK_URL: `${receiver.url}/slack`,
    DELIVERY_BACKOFF_BASE_SECONDS: '1',
  };
  const server = (cast.server = await within(120, 'labelwatch ready', interrupt, (signal) =>
    startLabelwatch({ port: options.port, stateDir, vars, readySeconds: 120 }, signal),
  ));
  server.pulse(CRON_EVERY_SECONDS);
  say(
    `labelwatch ready on ${url} (wrangler dev): ${W} s windows, each judged ${FLUSH_GRACE_SECONDS + CLOSE_MARGIN_SECONDS} s after it ends ` +
      `(FLUSH_GRACE_SECONDS + CLOSE_MARGIN_SECONDS;\nin production 5 + 60 s); the demo runs the cron every ${CRON_EVERY_SECONDS} s (GET /cdn-cgi/handler/scheduled)`,
  );

  const model: ServedModel = await fetchModel(url, options.model);
  const fault: Fault = options.fault ?? (model.features.some((f) => f.raw !== undefined) ? { kind: 'unscale' } : { kind: 'zero' });
  const windows: WindowWatch = watchWindows(url, model.name, Math.floor(Date.now() / 1000) - W, (w) => say(describeWindow(w)), cast.watching.signal);

  const admin = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };

  /**
   * Sends traffic from just after a window boundary until `until` is done, then on to just before the next
   * boundary, so every window holds one phase only. `step` names what must happen within the deadline.
   */
  const trafficUntil = async (
    step: string,
    withFault: Fault | undefined,
    deadlineSeconds: number,
    until: (signal: AbortSignal, firstWindow: number) => Promise<void>,
  ) => {
    await within(W + 5, 'the next window boundary', interrupt, (signal) => untilBoundary(W, 300, signal));
    const firstWindow = Math.floor(Date.now() / 1000 / W) * W;
    const stop = new AbortController();
    const unfollow = follow(interrupt, stop);
    let progress: ReplayProgress | undefined;
    const sending = replay(
      { ...REPLAY_DEFAULTS, url, model: model.name, rate: RATE, batch: 1, durationSeconds: deadlineSeconds + 5, fault: withFault },
      { signal: stop.signal, onProgress: (p) => (progress = p) },
    );
    const endedEarly = sending.then((s) => {
      throw new SetupError(`traffic stopped before "${step}" happened (${s.stoppedBy}, ${JSON.stringify(s.errors)})`);
    });
    endedEarly.catch(() => {}); // observed below, or moot once the step happened
    try {
      await within(deadlineSeconds, step, interrupt, async (signal) => {
        await Promise.race([until(signal, firstWindow), endedEarly]);
        await untilBoundary(W, -300, signal);
      });
    } finally {
      stop.abort();
      unfollow();
    }
    // replay() settles once its requests in flight are answered or abandoned; seen to stay pending after the stop
    // now and then (a fetch that never settles after its abort), so the story goes on with the last progress.
    const summary = await Promise.race([sending, sleep(DRAIN_SECONDS * 1000).then(() => progress)]);
    if (!summary) throw new SetupError(`${step}: no request was answered`);
    if (summary.inFlight > 0 && !('stoppedBy' in summary))
      say(`(replay still had ${summary.inFlight} request(s) in flight ${DRAIN_SECONDS} s after the stop; going on without them)`);
    const errors = Object.entries(summary.errors).map(([kind, k]) => `${kind} × ${k}`);
    if (summary.answeredRows < summary.sentRows * 0.9)
      throw new SetupError(`${step}: only ${summary.answeredRows} of ${summary.sentRows} predictions were answered (${errors.join(', ')})`);
    say(
      `${withFault ? 'faulty' : 'healthy'} traffic stopped at the window boundary: ${summary.answeredRows} predictions in ` +
        `${(summary.elapsedMs / 1000).toFixed(0)} s; the model answered ${shares(summary.labels)}`,
    );
  };

  // ── 2. healthy ──
  chapter(++n, `Healthy traffic (${model.name} held-out rows, ${RATE} req/s) until labelwatch has judged a window`);
  await trafficUntil('a healthy window', undefined, phaseSeconds(1, W), async (signal) => {
    await windows.waitFor((w) => w.verdict === 'healthy', signal);
  });

  // ── 3. the bug ──
  chapter(++n, `A pipeline bug (--fault ${describeFault(fault)}): ${FAULT_STORY[fault.kind]}.\nIt goes on until somebody is told.`);
  let incident: IncidentView | undefined;
  const about = (a: Arrival) => [a.body?.data?.incident?.id, a.body?.data?.incident_id, a.body?.dedup_key].includes(incident?.id);
  await trafficUntil('incident opened, on-call paged, retraining requested', fault, phaseSeconds(1, W), async (signal) => {
    // The verdict first, then the incident it opened (so the lines read in that order).
    await windows.waitFor((w) => w.verdict === 'collapsed' || w.verdict === 'partial_collapse', signal);
    const opened = await poll(signal, 1_000, async () => (await admin<{ incidents: IncidentView[] }>(`/v1/incidents?model=${encodeURIComponent(model.name)}&status=active`)).incidents[0]);
    incident = opened;
    say(`✓ incident ${opened.id} opened: ${opened.kind}\n  ${opened.latest.reason}`);
    await Promise.all([
      receiver.waitFor((a) => a.channel === 'alert' && a.type === 'incident.opened' && about(a), signal),
      receiver.waitFor((a) => a.channel === 'pagerduty' && a.type === 'trigger' && about(a), signal),
      receiver.waitFor((a) => a.channel === 'slack' && a.type.startsWith('Incident opened'), signal),
      receiver.waitFor((a) => a.channel === 'retrain' && a.type === 'retrain.requested' && about(a), signal),
    ]);
    say('✓ on-call paged (alert webhook, PagerDuty, Slack) and retraining requested with its diagnosis and remedies');
  });
  const id = incident!.id;

  // ── 4. the fix ──
  chapter(++n, `The fix: healthy traffic again, until ${RESOLVE_AFTER_HEALTHY} healthy windows in a row resolve the incident`);
  await trafficUntil('incident resolved and everyone told', undefined, phaseSeconds(RESOLVE_AFTER_HEALTHY + 1, W), async (signal, firstWindow) => {
    await windows.waitFor((w) => w.verdict === 'healthy' && w.start_epoch >= firstWindow + (RESOLVE_AFTER_HEALTHY - 1) * W, signal);
    const resolved = await poll(signal, 1_000, async () => {
      const now = await admin<IncidentView>(`/v1/incidents/${id}`);
      return now.status === 'resolved' ? now : undefined;
    });
    say(`✓ incident ${id} resolved by the ${resolved.resolved_by} after ${resolved.healthy_streak} healthy windows`);
    await Promise.all([
      receiver.waitFor((a) => a.channel === 'alert' && a.type === 'incident.resolved' && about(a), signal),
      receiver.waitFor((a) => a.channel === 'pagerduty' && a.type === 'resolve' && about(a), signal),
      receiver.waitFor((a) => a.channel === 'slack' && a.type.startsWith('Incident resolved'), signal),
    ]);
    say('✓ resolution delivered (alert webhook, PagerDuty resolve, Slack)');
  });
  cast.watching.abort();

  // ── 5. where to look ──
  chapter(++n, 'Where to look');
  say(
    [
      `status page   ${url}/   and   ${url}/models/${model.name}`,
      `incident      curl -H 'authorization: Bearer ${adminToken}' ${url}/v1/incidents/${id}`,
      `windows       curl ${url}/v1/models/${model.name}/windows`,
      options.keep
        ? "The demo's labelwatch keeps running (--keep) with this data: press Ctrl-C to stop it."
        : "These need the demo's labelwatch, which stops now: run with --keep to browse them afterwards.",
    ].join('\n'),
  );
}

export async function main(argv: string[]): Promise<number> {
  let options: DemoOptions | null;
  try {
    options = parseDemoArgs(argv);
  } catch (e) {
    process.stderr.write(`demo: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const started = Date.now();
  const interrupt = new AbortController();
  const stateDir = await mkdtemp(join(tmpdir(), 'labelwatch-demo-'));
  const onSignal = (name: string) => () => {
    // A second Ctrl-C while cleaning up: leave at once (server.ts's exit hook still kills wrangler's process group).
    if (interrupt.signal.aborted) {
      rmSync(stateDir, { recursive: true, force: true });
      process.exit(130);
    }
    interrupt.abort(new Interrupted(name));
  };
  const onSigint = onSignal('SIGINT');
  const onSigterm = onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  const cast: Cast = { watching: new AbortController() };
  say(`labelwatch demo: ${options.model}, ${options.windowSeconds} s windows`);
  try {
    await story(options, interrupt.signal, stateDir, cast);
    process.stdout.write('\n');
    say(`✓ demo complete in ${elapsed(Date.now() - started)}: every step happened within its deadline`);
    if (options.keep) await new Promise((resolve) => interrupt.signal.addEventListener('abort', resolve, { once: true }));
    return 0;
  } catch (e) {
    process.stdout.write('\n');
    if (e instanceof Interrupted) {
      say(`interrupted (${e.message}) after ${elapsed(Date.now() - started)}`);
      return 130;
    }
    if (e instanceof StepMissed) say(`✗ step "${e.step}" did not happen within ${e.seconds} s`);
    else if (e instanceof SetupError || e instanceof ReplayError) say(`✗ ${e.message}`);
    else say(`✗ ${(e as Error).stack ?? e}`);
    const log = cast.server?.log.slice(-25);
    if (log?.length) say(`last lines of the labelwatch log (requests left out):\n${log.map((l) => `  │ ${l}`).join('\n')}`);
    return 1;
  } finally {
    cast.watching.abort();
    await cast.server?.stop();
    await Promise.race([cast.receiver?.close(), sleep(2_000)]);
    await rm(stateDir, { recursive: true, force: true });
    say(`stopped labelwatch and the receiver; removed ${stateDir}`);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
}

process.exitCode = await main(process.argv.slice(2));
// Idle keep-alive sockets must not hold the exit up.
setTimeout(() => process.exit(), 3_000).unref();
