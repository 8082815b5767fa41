// Configuration, read once from the Worker's vars and secrets, typed and checked, with its defaults in one place.
// Nothing else reads `env.X` for settings; bindings (DB, AGGREGATOR, DELIVERIES) are used where they are needed.

import { SEASONALITIES, type Seasonality } from './monitor/baseline';

export interface Env {
  DB: D1Database;
  AGGREGATOR: DurableObjectNamespace;
  DELIVERIES: Queue;
  // vars (wrangler.toml) and secrets (wrangler secret put / .dev.vars); all optional strings
  WINDOW_SECONDS?: string;
  FLUSH_GRACE_SECONDS?: string;
  CLOSE_MARGIN_SECONDS?: string;
  AGGREGATOR_SHARDS?: string;
  RETENTION_DAYS?: string;
  MAX_INSTANCES?: string;
  MONITORING?: string;
  FALSE_PAGE_BUDGET?: string;
  SEASONALITY?: string;
  MIN_PREDICTIONS?: string;
  RESOLVE_AFTER_HEALTHY?: string;
  PUBLIC_URL?: string;
  API_KEYS?: string;
  ADMIN_TOKEN?: string;
  STATUS_TOKEN?: string;
  ALERT_WEBHOOK_URL?: string;
  ALERT_WEBHOOK_SECRET?: string;
  RETRAIN_WEBHOOK_URL?: string;
  RETRAIN_WEBHOOK_SECRET?: string;
  PAGERDUTY_ROUTING_KEY?: string;
  PAGERDUTY_EVENTS_URL?: string;
  SLACK_WEBHOOK_URL?: string;
  DELIVERY_TIMEOUT_MS?: string;
  DELIVERY_MAX_ATTEMPTS?: string;
  DELIVERY_BACKOFF_BASE_SECONDS?: string;
  DELIVERY_BACKOFF_MAX_SECONDS?: string;
}

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
  retentionDays: number;
  maxInstances: number;
  monitoring: boolean;
  /** False pages allowed per model and year (a model may override it: monitor.false_page_budget). */
  falsePageBudget: number;
  /** Default seasonality of traffic (a model may override it: monitor.seasonality). */
  seasonality: Seasonality;
  minPredictions: number;
  resolveAfterHealthy: number;
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

export class ConfigError extends Error {}

function integer(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name}: expected an integer in [${min}, ${max}], got "${value}"`);
  return n;
}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!(n > 0 && Number.isFinite(n))) throw new ConfigError(`${name}: expected a number > 0, got "${value}"`);
  return n;
}

function seasonality(value: string | undefined): Seasonality {
  if (value === undefined || value.trim() === '') return 'none';
  const v = value.trim() as Seasonality;
  if (!SEASONALITIES.includes(v)) throw new ConfigError(`SEASONALITY: expected one of ${SEASONALITIES.join(', ')}, got "${value}"`);
  return v;
}

const text = (value: string | undefined): string | null => (value && value.trim() !== '' ? value.trim() : null);

function url(value: string | undefined, name: string): string | null {
  const v = text(value);
  if (v === null) return null;
  try {
    const u = new URL(v);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error();
    return u.toString();
  } catch {
    // The value may be a secret-bearing URL (Slack): never echo it.
    throw new ConfigError(`${name}: expected an http(s) URL`);
  }
}

function signingSecret(value: string | undefined, name: string): string {
  const v = text(value);
  if (v === null || !/^whsec_[A-Za-z0-9+/=]{16,}$/.test(v))
    throw new ConfigError(`${name}: expected a Standard Webhooks secret "whsec_<base64>" (required with its URL)`);
  return v;
}

/** Parses configuration; throws ConfigError naming the setting (never its secret value). */
export function loadConfig(env: Partial<Env>): Config {
  const alertUrl = url(env.ALERT_WEBHOOK_URL, 'ALERT_WEBHOOK_URL');
  const retrainUrl = url(env.RETRAIN_WEBHOOK_URL, 'RETRAIN_WEBHOOK_URL');
  const slackUrl = url(env.SLACK_WEBHOOK_URL, 'SLACK_WEBHOOK_URL');
  const routingKey = text(env.PAGERDUTY_ROUTING_KEY);
  return {
    windowSeconds: integer(env.WINDOW_SECONDS, 'WINDOW_SECONDS', 60, 1, 86_400),
    flushGraceSeconds: integer(env.FLUSH_GRACE_SECONDS, 'FLUSH_GRACE_SECONDS', 5, 0, 3_600),
    closeMarginSeconds: integer(env.CLOSE_MARGIN_SECONDS, 'CLOSE_MARGIN_SECONDS', 60, 0, 3_600),
    aggregatorShards: integer(env.AGGREGATOR_SHARDS, 'AGGREGATOR_SHARDS', 4, 1, 256),
    retentionDays: integer(env.RETENTION_DAYS, 'RETENTION_DAYS', 30, 1, 3_650),
    maxInstances: integer(env.MAX_INSTANCES, 'MAX_INSTANCES', 1024, 1, 100_000),
    monitoring: (text(env.MONITORING) ?? 'on').toLowerCase() !== 'off',
    falsePageBudget: positive(env.FALSE_PAGE_BUDGET, 'FALSE_PAGE_BUDGET', 1),
    seasonality: seasonality(env.SEASONALITY),
    minPredictions: integer(env.MIN_PREDICTIONS, 'MIN_PREDICTIONS', 30, 1, 1_000_000),
    resolveAfterHealthy: integer(env.RESOLVE_AFTER_HEALTHY, 'RESOLVE_AFTER_HEALTHY', 3, 1, 1_000),
    publicUrl: url(env.PUBLIC_URL, 'PUBLIC_URL'),
    apiKeys: (env.API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean),
    adminToken: text(env.ADMIN_TOKEN),
    statusToken: text(env.STATUS_TOKEN),
    alertWebhook: alertUrl ? { url: alertUrl, secret: signingSecret(env.ALERT_WEBHOOK_SECRET, 'ALERT_WEBHOOK_SECRET') } : null,
    retrainWebhook: retrainUrl ? { url: retrainUrl, secret: signingSecret(env.RETRAIN_WEBHOOK_SECRET, 'RETRAIN_WEBHOOK_SECRET') } : null,
    pagerDuty: routingKey
      ? { routingKey, eventsUrl: url(env.PAGERDUTY_EVENTS_URL, 'PAGERDUTY_EVENTS_URL') ?? 'https://events.pagerduty.com/v2/enqueue' }
      : null,
    slack: slackUrl ? { url: slackUrl } : null,
    deliveryTimeoutMs: integer(env.DELIVERY_TIMEOUT_MS, 'DELIVERY_TIMEOUT_MS', 10_000, 100, 60_000),
    // Each retry spends one of the queue's own retries (max_retries = 20 in wrangler.toml): more attempts than that
    // would end in the dead-letter queue anyway.
    deliveryMaxAttempts: integer(env.DELIVERY_MAX_ATTEMPTS, 'DELIVERY_MAX_ATTEMPTS', 8, 1, 20),
    deliveryBackoff: {
      baseSeconds: integer(env.DELIVERY_BACKOFF_BASE_SECONDS, 'DELIVERY_BACKOFF_BASE_SECONDS', 30, 0, 3_600),
      // A queue message can be delayed by 12 hours at most.
      maxSeconds: integer(env.DELIVERY_BACKOFF_MAX_SECONDS, 'DELIVERY_BACKOFF_MAX_SECONDS', 3_600, 0, 43_200),
    },
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
