// Configuration, read once from the Worker's vars and secrets, typed and checked, with its defaults in one place.
// Nothing else reads `env.X` for settings; bindings (DB, AGGREGATOR, DELIVERIES) are used where they are needed.

import * as v from 'valibot';
import { DEFAULT_SEASONALITY, SEASONALITIES, type Seasonality } from './monitor/baseline';

export class ConfigError extends Error {}

/** A setting as the platform hands it over: absent (taken as blank, so the pipe still runs), or a string. */
const setting = v.optional(v.string('expected a string'), '');

const text = (value: string | undefined): string | null => (value && value.trim() !== '' ? value.trim() : null);

export type Monitoring = 'on' | 'off' | 'by-header';

/**
 * `off`; `by-header`: on, except for a request that carries `x-labelwatch-monitoring: off` (MONITORING_HEADER), so
 * that bench:monitor compares both in one isolate, free of the few percent two processes of one server differ by.
 * Never in production: any client could keep its requests out of the counts. Anything else is `on`.
 */
const monitoringMode = (s: string | null): Monitoring => {
  const mode = (s ?? 'on').toLowerCase();
  return mode === 'off' || mode === 'by-header' ? mode : 'on';
};

/** The request header a `by-header` deployment reads (see monitoringMode). */
export const MONITORING_HEADER = 'x-labelwatch-monitoring';

const blank = (value: string | undefined) => value === undefined || value.trim() === '';

/** An integer in [min, max]; blank means the default. The error quotes the value (these are never secrets). */
const integer = (fallback: number, min: number, max: number) =>
  v.pipe(
    setting,
    v.check(
      (s) => blank(s) || (Number.isInteger(Number(s)) && Number(s) >= min && Number(s) <= max),
      (issue) => `expected an integer in [${min}, ${max}], got "${String(issue.input)}"`,
    ),
    v.transform((s) => (blank(s) ? fallback : Number(s))),
  );

/** A finite number > 0; blank means the default. */
const positive = (fallback: number) =>
  v.pipe(
    setting,
    v.check((s) => blank(s) || (Number(s) > 0 && Number.isFinite(Number(s))), (issue) => `expected a number > 0, got "${String(issue.input)}"`),
    v.transform((s) => (blank(s) ? fallback : Number(s))),
  );

/** One of the seasonalities of the detector's baseline; blank means none. */
const seasonality = v.pipe(
  setting,
  v.check((s) => blank(s) || SEASONALITIES.includes(s.trim() as Seasonality), (issue) => `expected one of ${SEASONALITIES.join(', ')}, got "${String(issue.input)}"`),
  v.transform((s): Seasonality => (blank(s) ? DEFAULT_SEASONALITY : (s.trim() as Seasonality))),
);

const isHttpUrl = (s: string) => {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
};

/** An http(s) URL, normalised, or null. The value may be a secret-bearing URL (Slack): the error never echoes it. */
const url = v.pipe(
  setting,
  v.check((s) => text(s) === null || isHttpUrl(text(s)!), 'expected an http(s) URL'),
  v.transform((s) => (text(s) === null ? null : new URL(text(s)!).toString())),
);

/** A secret or token, trimmed, or null when blank. */
const secret = v.pipe(setting, v.transform((s): string | null => text(s)));

/**
 * The settings: every var and secret labelwatch reads, each an optional string checked and converted here. The
 * schema is the one list of names; `Env` and the errors come from it.
 */
export const SettingsSchema = v.object({
  WINDOW_SECONDS: integer(60, 1, 86_400),
  FLUSH_GRACE_SECONDS: integer(5, 0, 3_600),
  CLOSE_MARGIN_SECONDS: integer(60, 0, 3_600),
  AGGREGATOR_SHARDS: integer(4, 1, 256),
  RECORD_LINGER_MS: integer(200, 1, 1_000),
  RETENTION_DAYS: integer(30, 1, 3_650),
  MAX_INSTANCES: integer(1024, 1, 100_000),
  MONITORING: v.pipe(setting, v.transform((s) => monitoringMode(text(s)))),
  FALSE_PAGE_BUDGET: positive(1),
  SEASONALITY: seasonality,
  MIN_PREDICTIONS: integer(30, 1, 1_000_000),
  RESOLVE_AFTER_HEALTHY: integer(3, 1, 1_000),
  RESOLVE_QUIET_MINUTES: integer(180, 0, 10_080),
  PUBLIC_URL: url,
  API_KEYS: v.pipe(setting, v.transform((s) => (s ?? '').split(',').map((k) => k.trim()).filter(Boolean))),
  ADMIN_TOKEN: secret,
  STATUS_TOKEN: secret,
  ALERT_WEBHOOK_URL: url,
  ALERT_WEBHOOK_SECRET: secret,
  RETRAIN_WEBHOOK_URL: url,
  RETRAIN_WEBHOOK_SECRET: secret,
  PAGERDUTY_ROUTING_KEY: secret,
  PAGERDUTY_EVENTS_URL: url,
  SLACK_WEBHOOK_URL: url,
  DELIVERY_TIMEOUT_MS: integer(10_000, 100, 60_000),
  // Each retry spends one of the queue's own retries (max_retries = 20 in wrangler.toml): more attempts than that
  // would end in the dead-letter queue anyway.
  DELIVERY_MAX_ATTEMPTS: integer(8, 1, 20),
  DELIVERY_BACKOFF_BASE_SECONDS: integer(30, 0, 3_600),
  // A queue message can be delayed by 12 hours at most.
  DELIVERY_BACKOFF_MAX_SECONDS: integer(3_600, 0, 43_200),
});

export type SettingName = keyof typeof SettingsSchema.entries;

/**
 * The Worker's env: bindings and vars as `wrangler types` generates them from wrangler.toml
 * (src/types/worker-configuration.d.ts, checked in CI), plus every setting as an optional string (secrets and vars
 * that wrangler.toml leaves out).
 */
export type Env = WorkerBindings & { [K in SettingName]?: string };

export interface Config {
  /** Default window length in seconds (a model may override it in metadata.monitor.window_seconds). */
  windowSeconds: number;
  /** Seconds after a window ends before shards flush it, so late requests still land in it. */
  flushGraceSeconds: number;
  /**
   * Seconds after a window's flush time before the cron closes it: room for a slow alarm and two retries of a
   * failed flush (10 s, then 20 s later) before the counts are taken as final. Short only for local rehearsals.
   */
  closeMarginSeconds: number;
  aggregatorShards: number;
  /**
   * How long an isolate's tally stays open for other requests before it goes to a shard (aggregate/record.ts). It
   * bounds what a hard crash can lose (that much answered traffic); shorter costs one more `record()` call, a SQLite
   * write in the shard, per interval (docs/architecture.md, "What a crash can lose").
   */
  recordLingerMs: number;
  retentionDays: number;
  maxInstances: number;
  /** Whether answered predictions are recorded: `on`, `off`, or `by-header` (benchmarks only; see monitoringMode). */
  monitoring: Monitoring;
  /** False pages allowed per model and year (a model may override it: monitor.false_page_budget). */
  falsePageBudget: number;
  /** Default seasonality of traffic (a model may override it: monitor.seasonality). */
  seasonality: Seasonality;
  minPredictions: number;
  resolveAfterHealthy: number;
  /** How long an incident's traffic must stay clear of the alarm before it resolves (monitor/incident.ts RESOLVE_QUIET_SECONDS). */
  resolveQuietSeconds: number;
  publicUrl: string | null;
  apiKeys: string[];
  adminToken: string | null;
  statusToken: string | null;
  alertWebhook: { url: string; secret: string } | null;
  retrainWebhook: { url: string; secret: string } | null;
  pagerDuty: { routingKey: string; eventsUrl: string } | null;
  slack: { url: string } | null;
  deliveryTimeoutMs: number;
  deliveryMaxAttempts: number;
  /** Retry n waits a random time in [0, min(max, base · 2^(n−1))] seconds (full jitter), or longer if Retry-After says so. */
  deliveryBackoff: { baseSeconds: number; maxSeconds: number };
}

/** Parses configuration; throws ConfigError naming the setting (never its secret value). */
export function loadConfig(env: Partial<Env>): Config {
  const parsed = v.safeParse(SettingsSchema, env, { abortEarly: true });
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new ConfigError(`${String(issue.path?.[0]?.key ?? 'config')}: ${issue.message}`);
  }
  const s = parsed.output;
  const signing = (url: string | null, name: 'ALERT_WEBHOOK_SECRET' | 'RETRAIN_WEBHOOK_SECRET') => {
    if (url === null) return null;
    const secret = s[name];
    if (secret === null || !/^whsec_[A-Za-z0-9+/=]{16,}$/.test(secret))
      throw new ConfigError(`${name}: expected a Standard Webhooks secret "whsec_<base64>" (required with its URL)`);
    return { url, secret };
  };
  return {
    windowSeconds: s.WINDOW_SECONDS,
    flushGraceSeconds: s.FLUSH_GRACE_SECONDS,
    closeMarginSeconds: s.CLOSE_MARGIN_SECONDS,
    aggregatorShards: s.AGGREGATOR_SHARDS,
    recordLingerMs: s.RECORD_LINGER_MS,
    retentionDays: s.RETENTION_DAYS,
    maxInstances: s.MAX_INSTANCES,
    monitoring: s.MONITORING,
    falsePageBudget: s.FALSE_PAGE_BUDGET,
    seasonality: s.SEASONALITY,
    minPredictions: s.MIN_PREDICTIONS,
    resolveAfterHealthy: s.RESOLVE_AFTER_HEALTHY,
    resolveQuietSeconds: s.RESOLVE_QUIET_MINUTES * 60,
    publicUrl: s.PUBLIC_URL,
    apiKeys: s.API_KEYS,
    adminToken: s.ADMIN_TOKEN,
    statusToken: s.STATUS_TOKEN,
    alertWebhook: signing(s.ALERT_WEBHOOK_URL, 'ALERT_WEBHOOK_SECRET'),
    retrainWebhook: signing(s.RETRAIN_WEBHOOK_URL, 'RETRAIN_WEBHOOK_SECRET'),
    pagerDuty: s.PAGERDUTY_ROUTING_KEY
      ? { routingKey: s.PAGERDUTY_ROUTING_KEY, eventsUrl: s.PAGERDUTY_EVENTS_URL ?? 'https://events.pagerduty.com/v2/enqueue' }
      : null,
    slack: s.SLACK_WEBHOOK_URL ? { url: s.SLACK_WEBHOOK_URL } : null,
    deliveryTimeoutMs: s.DELIVERY_TIMEOUT_MS,
    deliveryMaxAttempts: s.DELIVERY_MAX_ATTEMPTS,
    deliveryBackoff: { baseSeconds: s.DELIVERY_BACKOFF_BASE_SECONDS, maxSeconds: s.DELIVERY_BACKOFF_MAX_SECONDS },
  };
}

const cache = new WeakMap<object, Config>();

/** The config of this env object, parsed once per isolate. */
export function configOf(env: Partial<Env>): Config {
  let config = cache.get(env);
  if (!config) {
    config = loadConfig(env);
    cache.set(env, config);
  }
  return config;
}
