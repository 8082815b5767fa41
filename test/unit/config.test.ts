// Configuration from vars and secrets: defaults, conversions, and errors that name the setting and never a secret.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

const SECRET = 'whsec_' + 'A'.repeat(32);

describe('loadConfig', () => {
  it('gives the defaults for an empty env, blank settings included', () => {
    const config = loadConfig({ WINDOW_SECONDS: '  ', API_KEYS: '' });
    expect(config).toMatchObject({
      windowSeconds: 60,
      flushGraceSeconds: 5,
      aggregatorShards: 4,
      recordLingerMs: 200,
      maxInstances: 1024,
      monitoring: 'on',
      falsePageBudget: 1,
      seasonality: 'weekly',
      resolveAfterHealthy: 3,
      resolveQuietSeconds: 3 * 3600,
      apiKeys: [],
      adminToken: null,
      publicUrl: null,
      alertWebhook: null,
      pagerDuty: null,
      deliveryBackoff: { baseSeconds: 30, maxSeconds: 3600 },
    });
  });

  it('reads RESOLVE_QUIET_MINUTES in minutes, 0 to a week', () => {
    expect(loadConfig({ RESOLVE_QUIET_MINUTES: '0' }).resolveQuietSeconds).toBe(0);
    expect(loadConfig({ RESOLVE_QUIET_MINUTES: '45' }).resolveQuietSeconds).toBe(2700);
    expect(() => loadConfig({ RESOLVE_QUIET_MINUTES: '-1' })).toThrow(/^RESOLVE_QUIET_MINUTES: /);
    expect(() => loadConfig({ RESOLVE_QUIET_MINUTES: '20000' })).toThrow(/^RESOLVE_QUIET_MINUTES: /);
  });

  it('reads MONITORING as on, off or by-header, anything else as on', () => {
    const mode = (MONITORING: string | undefined) => loadConfig({ MONITORING }).monitoring;
    expect([mode(undefined), mode(''), mode('on'), mode(' Off '), mode('BY-HEADER'), mode('yes')]).toEqual(['on', 'on', 'on', 'off', 'by-header', 'on']);
  });

  it('converts what is set', () => {
    const config = loadConfig({
      WINDOW_SECONDS: '300',
      RECORD_LINGER_MS: '10',
      MONITORING: 'OFF',
      FALSE_PAGE_BUDGET: '0.5',
      SEASONALITY: ' daily ',
      API_KEYS: ' a , b,,',
      ADMIN_TOKEN: ' t ',
      PUBLIC_URL: 'https://lw.example',
      ALERT_WEBHOOK_URL: 'https://hooks.example/x',
      ALERT_WEBHOOK_SECRET: SECRET,
      PAGERDUTY_ROUTING_KEY: 'rk',
    });
    expect(config).toMatchObject({
      windowSeconds: 300,
      recordLingerMs: 10,
      monitoring: 'off',
      falsePageBudget: 0.5,
      seasonality: 'daily',
      apiKeys: ['a', 'b'],
      adminToken: 't',
      publicUrl: 'https://lw.example/',
      alertWebhook: { url: 'https://hooks.example/x', secret: SECRET },
      pagerDuty: { routingKey: 'rk', eventsUrl: 'https://events.pagerduty.com/v2/enqueue' },
    });
  });

  it.each([
    [{ WINDOW_SECONDS: 'abc' }, 'WINDOW_SECONDS: expected an integer in [1, 86400], got "abc"'],
    [{ AGGREGATOR_SHARDS: '0' }, 'AGGREGATOR_SHARDS: expected an integer in [1, 256], got "0"'],
    [{ RECORD_LINGER_MS: '0' }, 'RECORD_LINGER_MS: expected an integer in [1, 1000], got "0"'],
    [{ DELIVERY_MAX_ATTEMPTS: '21' }, 'DELIVERY_MAX_ATTEMPTS: expected an integer in [1, 20], got "21"'],
    [{ FALSE_PAGE_BUDGET: '0' }, 'FALSE_PAGE_BUDGET: expected a number > 0, got "0"'],
    [{ SEASONALITY: 'monthly' }, 'SEASONALITY: expected one of none, daily, weekly, yearly, got "monthly"'],
    [{ SLACK_WEBHOOK_URL: 'hooks.slack.com/services/T0/B0/secret' }, 'SLACK_WEBHOOK_URL: expected an http(s) URL'],
    [{ ALERT_WEBHOOK_URL: 'https://hooks.example/x' }, 'ALERT_WEBHOOK_SECRET: expected a Standard Webhooks secret "whsec_<base64>" (required with its URL)'],
    [{ RETRAIN_WEBHOOK_URL: 'https://r.example', RETRAIN_WEBHOOK_SECRET: 'hunter2' }, 'RETRAIN_WEBHOOK_SECRET: expected a Standard Webhooks secret "whsec_<base64>" (required with its URL)'],
  ])('rejects %o naming the setting', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(message);
    // A URL or secret never appears in the message.
    expect((error as Error).message).not.toMatch(/secret$|hunter2|hooks\.slack/);
  });
});
