// The channel payloads, built from incidents the real monitor core produced: the alert and retraining webhooks
// (Standard Webhooks envelope and signature), PagerDuty Events API v2 and Slack, and which channels a notice reaches.
import { Webhook } from 'standardwebhooks';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { AlertWebhook, RetrainWebhook } from '../../src/contract/webhooks';
import { outboxFor, requestFor } from '../../src/incidents/channels';
import { redact } from '../../src/incidents/deliver';
import { pagerDutyPayload, SUMMARY_MAX } from '../../src/incidents/channels/pagerduty';
import { retrainPayload } from '../../src/incidents/channels/retrain';
import { escapeMrkdwn, slackPayload } from '../../src/incidents/channels/slack';
import { alertPayload, signedRequest } from '../../src/incidents/channels/webhook';
import { sortableId } from '../../src/incidents/ids';
import { incidentUrlOf, type Notice, statusUrlOf } from '../../src/incidents/notice';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { advanceIncident, explainModelDefect, modelDefect, openModelDefect, type Incident } from '../../src/monitor';
import { parseMetadata } from '../../src/serving/metadata';
import {
  AT,
  collapsedWindow,
  configWith,
  healthyWindow,
  januaryWindow,
  judged,
  openedIncident,
  partialWindow,
  SECRETS,
  secondDayWindow,
  START,
  WINDOW,
} from './alerts.fixtures';

const { incident, notice } = openedIncident();
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function resolvedNotice(): Notice {
  let current = incident;
  // No quiet period: the payload is what matters here (monitor-incident.test.ts covers the quiet period).
  for (let k = 1; k <= 3; k++) current = advanceIncident(current, healthyWindow(START + k * WINDOW), { newId: () => 'unused', resolveQuietSeconds: 0 }).incident!;
  expect(current.status).toBe('resolved');
  return { ...notice, event: 'resolved', incident: current, evaluation: healthyWindow(START + 3 * WINDOW).evaluation, resolvedBy: 'monitor' };
}

/** Resolved by hand (the admin API), with or without `{"rebaseline": true}`, while the traffic is still where it went. */
function resolvedByHand(rebaseline: boolean): Notice {
  return { ...notice, event: 'resolved', incident: { ...incident, status: 'resolved' }, evaluation: null, resolvedBy: 'admin', resolvedWithRebaseline: rebaseline };
}

function escalatedNotice(): Notice {
  const opened = advanceIncident(null, partialWindow(START), { newId: () => 'inc_partial' }).incident!;
  const t = advanceIncident(opened, collapsedWindow(START + WINDOW), { newId: () => 'unused' });
  expect(t.events).toEqual(['escalated']);
  return { ...notice, event: 'escalated', incident: t.incident!, evaluation: collapsedWindow(START + WINDOW).evaluation };
}

describe('alert webhook payload', () => {
  it('is the Standard Webhooks envelope {type, timestamp, data} with the incident, its latest window, causes and remedies', () => {
    const p = alertPayload(notice);
    expect(Object.keys(p)).toEqual(['type', 'timestamp', 'data']);
    expect(p.type).toBe('incident.opened');
    expect(p.timestamp).toBe(new Date(AT).toISOString());
    expect(p.data.incident).toEqual({
      id: incident.id,
      model: 'seattle-weather',
      version: '1',
      kind: 'collapsed',
      status: 'open',
      first_window: { start: new Date(START * 1000).toISOString(), end: new Date((START + WINDOW) * 1000).toISOString() },
      last_window: { start: new Date(START * 1000).toISOString(), end: new Date((START + WINDOW) * 1000).toISOString() },
      flagged_windows: 1,
      resolved_by: null,
      resolved_with_rebaseline: false,
      healthy_streak: 0,
    });
    expect(p.data.latest_flagged_window).toMatchObject({ verdict: 'collapsed', n: 300, top_label: 'rain', top_share: 1, dominant_label: 'rain' });
    expect(p.data.diagnoses.map((d) => d.kind)).toEqual(['insufficient_data', 'class_imbalance']);
    // The model was trained with class weights already: it is not told to add them, only to resample.
    expect(p.data.remedies.map((r) => r.kind)).toEqual(['collect_data', 'augment', 'resample']);
    for (const r of p.data.remedies) expect(r.sentence.length).toBeGreaterThan(10);
    expect(p.data.status_url).toBe('https://labelwatch.example.test/incidents/inc_01KWQ4M2Z8E3T5V7X9Y1B3D5F7');
    // The body survives a JSON round trip unchanged: what is stored is what is sent.
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
  });

  it('names escalation incident.updated and resolution incident.resolved', () => {
    expect(alertPayload(escalatedNotice())).toMatchObject({ type: 'incident.updated', data: { incident: { kind: 'collapsed', id: 'inc_partial' } } });
    expect(alertPayload(resolvedNotice())).toMatchObject({ type: 'incident.resolved', data: { incident: { status: 'resolved', resolved_by: 'monitor', healthy_streak: 3 } } });
  });

  it('says when the resolve declared the traffic the new normal ({"rebaseline": true}), and only then', () => {
    const declared = alertPayload(resolvedByHand(true));
    expect(declared).toMatchObject({ type: 'incident.resolved', data: { incident: { status: 'resolved', resolved_by: 'admin', resolved_with_rebaseline: true } } });
    expect(declared.data.summary).toBe('seattle-weather v1 resolved by an operator, who declared its current traffic the new normal');
    const plain = alertPayload(resolvedByHand(false));
    expect(plain.data.incident).toMatchObject({ resolved_by: 'admin', resolved_with_rebaseline: false });
    expect(plain.data.summary).toBe('seattle-weather v1 recovered (resolved by an operator)');
    expect(alertPayload(resolvedNotice()).data.incident).toMatchObject({ resolved_by: 'monitor', resolved_with_rebaseline: false });
    expect(alertPayload(escalatedNotice()).data.incident.resolved_with_rebaseline).toBe(false);
  });

  it('is signed so that standardwebhooks verifies it, with the same webhook-id on every attempt', () => {
    const body = JSON.stringify(alertPayload(notice));
    const id = sortableId('msg', AT);
    const first = signedRequest('https://alerts.example.test/hook', SECRETS.alert, id, body, Date.now());
    const later = signedRequest('https://alerts.example.test/hook', SECRETS.alert, id, body, Date.now() + 61_000);
    expect(first.headers['webhook-id']).toBe(id);
    expect(later.headers['webhook-id']).toBe(id);
    expect(later.body).toBe(first.body);
    expect(first.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(later.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
    expect(new Webhook(SECRETS.alert).verify(first.body, first.headers)).toEqual(JSON.parse(body));
    expect(new Webhook(SECRETS.alert).verify(later.body, later.headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(SECRETS.retrain).verify(first.body, first.headers)).toThrow();
    expect(() => new Webhook(SECRETS.alert).verify(first.body.replace('rain', 'snow'), first.headers)).toThrow();
  });
});

describe('retraining webhook payload', () => {
  it('carries model, windows, statistics, diagnoses with evidence, remedies with parameters and the idempotency key', () => {
    const p = retrainPayload(notice);
    expect(p.type).toBe('retrain.requested');
    const d = p.data;
    expect(d.idempotency_key).toBe(incident.id);
    expect(d).toMatchObject({ incident_id: incident.id, model: 'seattle-weather', version: '1', verdict: 'collapsed' });
    expect(d.windows).toEqual({
      first: { start: new Date(START * 1000).toISOString(), end: new Date((START + WINDOW) * 1000).toISOString() },
      last: { start: new Date(START * 1000).toISOString(), end: new Date((START + WINDOW) * 1000).toISOString() },
      flagged: 1,
      length_seconds: WINDOW,
    });
    // alpha: the per-window false-alarm bound of one false page a year over 60-s windows.
    expect(d.statistics).toMatchObject({ n: 300, top_label: 'rain', top_share: 1 });
    expect(d.statistics!.alpha).toBeCloseTo(60 / (365.25 * 86_400), 15);
    expect(d.statistics!.labels.map((l) => [l.label, l.count])).toEqual([
      ['drizzle', 0],
      ['fog', 0],
      ['rain', 300],
      ['snow', 0],
      ['sun', 0],
    ]);
    // Diagnoses with their evidence, remedies with their numbers: the model already used class weights, so the
    // imbalance remedy is oversampling every label to the majority's 513 training rows (drizzle 513 − 42 = 471).
    const imbalance = d.diagnoses.find((x) => x.kind === 'class_imbalance')!;
    expect(imbalance.evidence).toMatchObject({ majority_label: 'rain', class_weight_used: true, training_counts: { drizzle: 42, fog: 81, rain: 513, snow: 21, sun: 512 } });
    expect(d.remedies.find((r) => r.kind === 'class_weight')).toBeUndefined();
    expect(d.remedies.find((r) => r.kind === 'resample')).toMatchObject({ target_per_label: 513, add_per_label: { drizzle: 471, fog: 432, rain: 0, snow: 492, sun: 1 } });
    expect(d.remedies.find((r) => r.kind === 'collect_data')).toMatchObject({ labels: expect.arrayContaining(['snow']) });
    expect(d.status_url).toBe(notice.statusUrl);
  });
});

describe('PagerDuty Events API v2 payload', () => {
  const config = configWith();

  it('a summary names the most probable cause right after what happened, in a few words with its confidence', () => {
    const diagnosed = {
      ...incident,
      diagnoses: [
        { kind: 'scaler_missing', confidence: 0.85, sentence: 'The inputs arrive unscaled.', evidence: {} },
        { kind: 'class_imbalance', confidence: 0.4, sentence: 'Imbalanced.', evidence: {} },
      ],
    } as unknown as Incident;
    const p = pagerDutyPayload({ ...notice, incident: diagnosed });
    if (p.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(p.payload.summary).toMatch(
      /^labelwatch: seattle-weather v1 collapsed onto rain\. Probable cause: inputs not scaled as in training \(85% confidence\)\. rain took 100%/,
    );
    expect(p.payload.summary).not.toContain('mbalanced');
    // Without a diagnosis, nothing is claimed.
    const plain = pagerDutyPayload({ ...notice, incident: { ...incident, diagnoses: [] } });
    if (plain.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(plain.payload.summary).not.toContain('Probable cause');
  });

  it('a page on a healthy model whose inputs moved with the season says so, not "too little training data"', () => {
    const january = openedIncident(januaryWindow()).notice;
    const p = pagerDutyPayload(january);
    if (p.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(p.payload.summary).toMatch(
      /^labelwatch: seattle-weather v1 lost sun \(partial collapse\)\. Probable cause: inputs shifted; the model followed them \(85% confidence\)\./,
    );
    expect(p.payload.custom_details.remedies[0]).toMatch(/^The model looks healthy; its traffic changed: temp_max 8\.229 ± 3\.327/);
  });

  it('a trigger has exactly the documented fields; routing_key is added only when sending', () => {
    const p = pagerDutyPayload(notice);
    expect(Object.keys(p).sort()).toEqual(['client', 'client_url', 'dedup_key', 'event_action', 'links', 'payload']);
    expect(p).toMatchObject({ event_action: 'trigger', dedup_key: incident.id, client: 'labelwatch', client_url: notice.statusUrl });
    if (p.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(Object.keys(p.payload).sort()).toEqual(['class', 'component', 'custom_details', 'group', 'severity', 'source', 'summary', 'timestamp']);
    expect(p.payload).toMatchObject({ severity: 'critical', source: 'labelwatch.example.test', component: 'seattle-weather@1', group: 'seattle-weather', class: 'collapsed' });
    expect(p.payload.summary).toMatch(/^labelwatch: seattle-weather v1 collapsed onto rain\. Probable cause: too little training data \(49% confidence\)\. rain took 100%/);
    expect(p.payload.timestamp).toMatch(ISO);
    expect(p.links).toEqual([{ href: notice.statusUrl, text: 'labelwatch incident page: seattle-weather v1' }]);
    expect(JSON.stringify(p)).not.toContain(SECRETS.routingKey);

    const request = requestFor({ id: 'msg_1', incidentId: incident.id, channel: 'pagerduty', payload: p }, config, AT)!;
    expect(request.url).toBe('https://events.pagerduty.test/v2/enqueue');
    const sent = JSON.parse(request.body);
    expect(Object.keys(sent)[0]).toBe('routing_key');
    expect(sent).toEqual({ routing_key: SECRETS.routingKey, ...p });
  });

  it('keeps the summary within 1024 characters', () => {
    const long = { ...notice, incident: { ...incident, latest: { ...incident.latest, reason: 'x'.repeat(5000) } } };
    const p = pagerDutyPayload(long);
    if (p.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(p.payload.summary.length).toBe(SUMMARY_MAX);
  });

  it('partial collapse is an error, its escalation a critical trigger with the same dedup_key', () => {
    const opened = advanceIncident(null, partialWindow(START), { newId: () => 'inc_partial' }).incident!;
    const p = pagerDutyPayload({ ...notice, incident: opened });
    const escalated = pagerDutyPayload(escalatedNotice());
    if (p.event_action !== 'trigger' || escalated.event_action !== 'trigger') throw new Error('expected triggers');
    expect(p.payload.severity).toBe('error');
    expect(escalated.payload.severity).toBe('critical');
    expect(escalated.dedup_key).toBe(p.dedup_key);
  });

  it('a resolve is exactly {routing_key, event_action, dedup_key}, with {"rebaseline": true} too (a resolve event has no summary or details)', () => {
    for (const n of [resolvedNotice(), resolvedByHand(false), resolvedByHand(true)]) {
      const p = pagerDutyPayload(n);
      expect(p).toEqual({ event_action: 'resolve', dedup_key: incident.id });
      const sent = JSON.parse(requestFor({ id: 'msg_2', incidentId: incident.id, channel: 'pagerduty', payload: p }, config, AT)!.body);
      expect(sent).toEqual({ routing_key: SECRETS.routingKey, event_action: 'resolve', dedup_key: incident.id });
    }
  });

  it('without PUBLIC_URL there are no links (PagerDuty needs absolute ones)', () => {
    const p = pagerDutyPayload({ ...notice, statusUrl: incidentUrlOf(null, incident.id) });
    expect(p).not.toHaveProperty('links');
    expect(p).not.toHaveProperty('client_url');
    if (p.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(p.payload.source).toBe('labelwatch');
  });
});

describe('what a page says the window was compared with', () => {
  it('names the phase of earlier cycles in the alert webhook, PagerDuty and Slack, within their limits', () => {
    const window = secondDayWindow();
    expect(window.evaluation.verdict).toBe('collapsed');
    expect(window.evaluation.baseline.phase).toMatchObject({ kind: 'hour_of_day', cycles: 1 });
    const compared = /\(against [^)]*05:00–08:00 UTC of the day before, 876 predictions, standing in until earlier weeks hold enough at this hour of the week[^)]*\)/;
    const { notice: n } = openedIncident(window);
    const alert = alertPayload(n);
    expect(v.safeParse(AlertWebhook, alert).success).toBe(true);
    expect(alert.data.latest_flagged_window.reason).toMatch(compared);
    const pd = pagerDutyPayload(n);
    if (pd.event_action !== 'trigger') throw new Error('expected a trigger');
    expect(pd.payload.summary).toMatch(compared);
    expect(pd.payload.summary.length).toBeLessThanOrEqual(SUMMARY_MAX);
    expect(pd.payload.custom_details.compared_with).toBe(
      'its own recent healthy history, which fit these answers better than 05:00–08:00 UTC of the day before, 876 predictions, standing in until earlier weeks hold enough at this hour of the week',
    );
    const slack = slackPayload(n);
    const details = slack.blocks.find((b) => b.type === 'section' && b.text?.text.includes('*Probable cause:*'))!;
    expect(details.text!.text).toMatch(compared);
    // Slack's limits: header text 150 characters, section text 3000.
    expect(slack.blocks[0].text!.text.length).toBeLessThanOrEqual(150);
    for (const b of slack.blocks) if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('Slack payload', () => {
  it('has text and header/section blocks with model, version, verdict, top labels and the status page link', () => {
    const p = slackPayload(notice);
    expect(p.text).toBe(':rotating_light: labelwatch: seattle-weather v1 collapsed onto rain');
    expect(p.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Incident opened: seattle-weather v1', emoji: true } });
    expect(p.blocks[1]).toEqual({
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: '*Model*\nseattle-weather' },
        { type: 'mrkdwn', text: '*Version*\n1' },
        { type: 'mrkdwn', text: '*Verdict*\ncollapsed' },
        { type: 'mrkdwn', text: '*Top labels*\nrain 100% · drizzle 0% · fog 0%' },
      ],
    });
    expect(p.blocks[2].text!.text).toContain('*Probable cause:*');
    expect(p.blocks.at(-1)).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: '<https://labelwatch.example.test/incidents/inc_01KWQ4M2Z8E3T5V7X9Y1B3D5F7|Incident page: seattle-weather v1>' },
    });
  });

  it('escapes &, < and > in label names, so a label cannot mention @channel or forge a link', () => {
    expect(escapeMrkdwn('<!channel> & <http://evil|x>')).toBe('&lt;!channel&gt; &amp; &lt;http://evil|x&gt;');
    const evil = '<!channel> & <img src=x onerror=alert(1)>';
    const latest = { ...incident.latest, topLabel: evil, reason: `${evil} took 100% of 300 predictions` };
    const p = slackPayload({ ...notice, evaluation: null, incident: { ...incident, latest } });
    const text = JSON.stringify(p);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<img');
    expect(text).toContain('&lt;!channel&gt; &amp; &lt;img src=x onerror=alert(1)&gt; 100%');
  });

  it('a resolution says so', () => {
    const p = slackPayload(resolvedNotice());
    expect(p.text).toBe(':white_check_mark: labelwatch: seattle-weather v1 recovered (healthy again)');
    expect(p.blocks[1].fields![2]).toEqual({ type: 'mrkdwn', text: '*Verdict*\nresolved (was collapsed)' });
    expect(JSON.stringify(p)).not.toContain('New normal');
  });

  it('a resolution with {"rebaseline": true} says the traffic was declared the new normal, not that it recovered', () => {
    const p = slackPayload(resolvedByHand(true));
    const cause = incident.diagnoses[0]!.sentence;
    const remedy = incident.remedies[0]!.sentence;
    expect(p).toEqual({
      text: ':white_check_mark: labelwatch: seattle-weather v1 resolved by an operator, who declared its current traffic the new normal',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Incident resolved: seattle-weather v1', emoji: true } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Model*\nseattle-weather' },
            { type: 'mrkdwn', text: '*Version*\n1' },
            { type: 'mrkdwn', text: '*Verdict*\nresolved as the new normal (was collapsed)' },
            { type: 'mrkdwn', text: '*Top labels*\nrain 100%' },
          ],
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text:
              '*New normal:* an operator declared the traffic this incident flagged the model’s new normal. labelwatch adopts it as the baseline before it judges the next window: traffic that stays there opens no new incident, traffic going back to the old mix may.\n' +
              `*Probable cause:* ${cause}\n*What to do:* ${remedy}`,
          },
        },
        { type: 'section', text: { type: 'mrkdwn', text: '<https://labelwatch.example.test/incidents/inc_01KWQ4M2Z8E3T5V7X9Y1B3D5F7|Incident page: seattle-weather v1>' } },
      ],
    });
    const plain = slackPayload(resolvedByHand(false));
    expect(plain.text).toBe(':white_check_mark: labelwatch: seattle-weather v1 recovered (resolved by an operator)');
    expect(JSON.stringify(plain)).not.toContain('New normal');
  });
});

describe('the one line every channel leads with (webhook summary, PagerDuty summary, Slack text)', () => {
  const lines = (n: Notice) => {
    const pd = pagerDutyPayload(n);
    if (pd.event_action !== 'trigger') throw new Error('expected a trigger');
    return [alertPayload(n).data.summary, pd.payload.summary, slackPayload(n).text];
  };

  it('names the label a collapse went onto, so a collapse onto another label does not read like the first one', () => {
    const opened = advanceIncident(null, collapsedWindow(START), { newId: () => 'inc_rain' }).incident!;
    const t = advanceIncident(opened, judged({ sun: 300 }, START + WINDOW), { newId: () => 'unused' });
    expect(t.events).toEqual(['escalated']);
    const escalated: Notice = { ...notice, event: 'escalated', incident: t.incident!, evaluation: null };
    for (const line of lines(escalated)) expect(line).toContain('seattle-weather v1 escalated: collapsed onto sun');
    for (const line of lines({ ...notice, incident: opened })) expect(line).toContain('seattle-weather v1 collapsed onto rain');
  });

  it('names the labels a partial collapse lost', () => {
    const opened = advanceIncident(null, partialWindow(START), { newId: () => 'inc_partial' }).incident!;
    // fog's evidence crossed the threshold; drizzle (0 where 5% is normal) and snow (1% where 7% is) fell as far.
    expect(opened.latest.vanishedLabels).toEqual(['fog', 'drizzle', 'snow']);
    for (const line of lines({ ...notice, incident: opened })) expect(line).toContain('seattle-weather v1 lost fog, drizzle, snow (partial collapse)');
  });

  it('a model defect names the label the model always answers as answered, not among those it never answers', () => {
    const root = join(import.meta.dirname, '..', '..');
    const unscaled = parseMetadata(JSON.parse(readFileSync(join(root, 'models/penguins-unscaled/metadata.json'), 'utf8')));
    const found = modelDefect(unscaled)!;
    expect(found.dominantLabel).toBe('Chinstrap');
    const incident = openModelDefect({ model: unscaled.name, version: unscaled.version, at: START, ...explainModelDefect(found, unscaled) }, () => 'inc_defect').incident!;
    for (const line of lines({ ...notice, incident, evaluation: found })) {
      expect(line).toContain('penguins-unscaled v1 has a model defect: answers Chinstrap for 100% of its own 86 held-out rows and never or rarely answers Adelie, Gentoo');
      expect(line).not.toMatch(/never[^.]*Chinstrap/);
    }
    const unweighted = parseMetadata(JSON.parse(readFileSync(join(root, 'models/seattle-weather-unweighted/metadata.json'), 'utf8')));
    const partial = modelDefect(unweighted)!;
    const defect = openModelDefect({ model: unweighted.name, version: unweighted.version, at: START, evaluation: partial }, () => 'inc_defect2').incident!;
    expect(alertPayload({ ...notice, incident: defect, evaluation: partial }).data.summary).toBe(
      `seattle-weather-unweighted v1 has a model defect: never or rarely answers ${partial.vanishedLabels.join(', ')} on its own ${partial.n} held-out rows`,
    );
  });
});

describe('outboxFor: which channels a notice reaches', () => {
  const channels = (n: Notice, config = configWith()) => outboxFor(n, config).map((e) => `${e.channel}:${e.event}`);

  it('opened: alert, PagerDuty, Slack and the retraining webhook', () => {
    expect(channels(notice)).toEqual(['alert:incident.opened', 'pagerduty:incident.opened', 'slack:incident.opened', 'retrain:retrain.requested']);
  });
  it('escalated and resolved: the on-call channels only (retraining is requested once per incident)', () => {
    expect(channels(escalatedNotice())).toEqual(['alert:incident.updated', 'pagerduty:incident.updated', 'slack:incident.updated']);
    expect(channels(resolvedNotice())).toEqual(['alert:incident.resolved', 'pagerduty:incident.resolved', 'slack:incident.resolved']);
  });
  it('only configured channels, any subset', () => {
    const only = (keep: string[]) => {
      const all = { ALERT_WEBHOOK_URL: 'alert', PAGERDUTY_ROUTING_KEY: 'pagerduty', SLACK_WEBHOOK_URL: 'slack', RETRAIN_WEBHOOK_URL: 'retrain' };
      return configWith(Object.fromEntries(Object.entries(all).filter(([, c]) => !keep.includes(c)).map(([k]) => [k, ''])));
    };
    expect(channels(notice, only([]))).toEqual([]);
    expect(channels(notice, only(['slack']))).toEqual(['slack:incident.opened']);
    expect(channels(notice, only(['retrain', 'pagerduty']))).toEqual(['pagerduty:incident.opened', 'retrain:retrain.requested']);
  });
  it('no stored payload holds a URL of a channel or a secret', () => {
    const stored = JSON.stringify(outboxFor(notice, configWith()));
    for (const secret of [...Object.values(SECRETS), 'alerts.example.test', 'train.example.test', 'events.pagerduty.test']) expect(stored).not.toContain(secret);
  });
  it('requestFor signs the webhooks, sends the retraining idempotency key, and is null for a channel no longer configured', () => {
    const entries = outboxFor(notice, configWith());
    const retrain = entries.find((e) => e.channel === 'retrain')!;
    const request = requestFor({ id: 'msg_r', incidentId: incident.id, ...retrain }, configWith(), Date.now())!;
    expect(request.url).toBe('https://train.example.test/retrain');
    expect(request.headers['idempotency-key']).toBe(incident.id);
    expect(new Webhook(SECRETS.retrain).verify(request.body, request.headers)).toMatchObject({ type: 'retrain.requested' });
    expect(requestFor({ id: 'msg_r', incidentId: incident.id, ...retrain }, configWith({ RETRAIN_WEBHOOK_URL: '' }), AT)).toBeNull();
  });
  it('requestFor sends a delivery stored before an upgrade in the current schema, signed over the body it sends', () => {
    const stored = (channel: 'alert' | 'retrain', payload: unknown) => ({ id: `msg_${channel}`, incidentId: incident.id, channel, payload });
    const sent = (channel: 'alert' | 'retrain', payload: unknown) => {
      const request = requestFor(stored(channel, payload), configWith(), Date.now())!;
      // What the receiver verifies is what it gets.
      expect(new Webhook(SECRETS[channel]).verify(request.body, request.headers)).toEqual(JSON.parse(request.body));
      return JSON.parse(request.body);
    };
    // incident.resolved as stored before resolved_with_rebaseline: a plain resolution, which is what it said.
    const resolved = JSON.parse(JSON.stringify(alertPayload(resolvedByHand(false))));
    delete resolved.data.incident.resolved_with_rebaseline;
    const alert = sent('alert', resolved);
    expect(v.safeParse(AlertWebhook, alert).issues).toBeUndefined();
    expect(alert.data.incident).toMatchObject({ resolved_by: 'admin', resolved_with_rebaseline: false });
    expect(alert.data.summary).toBe('seattle-weather v1 recovered (resolved by an operator)');
    // A retraining request whose input_shift was measured from training alone, stored before the recent inputs were kept.
    const january = JSON.parse(JSON.stringify(retrainPayload(openedIncident(januaryWindow()).notice)));
    const shift = january.data.diagnoses.find((d: { kind: string }) => d.kind === 'input_shift');
    for (const f of shift.evidence.features) for (const later of ['recent_mean', 'recent_shift', 'from']) delete f[later];
    // ... and before the phase it was held against was kept.
    expect(shift.evidence).toHaveProperty('baseline_phase');
    delete shift.evidence.baseline_phase;
    const retrain = sent('retrain', january);
    expect(v.safeParse(RetrainWebhook, retrain).issues).toBeUndefined();
    const features = retrain.data.diagnoses.find((d: { kind: string }) => d.kind === 'input_shift').evidence.features;
    expect(features.map((f: object) => Object.entries(f).slice(-3))).toEqual(
      features.map(() => [['recent_mean', null], ['recent_shift', null], ['from', 'training']]),
    );
    expect(retrain.data.diagnoses.find((d: { kind: string }) => d.kind === 'input_shift').evidence.baseline_phase).toBeNull();
    // A body stored by this version goes out byte for byte as stored, on every attempt.
    for (const entry of outboxFor(notice, configWith()).filter((e) => e.channel === 'alert' || e.channel === 'retrain'))
      expect(requestFor(stored(entry.channel as 'alert' | 'retrain', entry.payload), configWith(), AT)!.body).toBe(JSON.stringify(entry.payload));
    const fresh = retrainPayload(openedIncident(januaryWindow()).notice);
    expect(requestFor(stored('retrain', fresh), configWith(), AT)!.body).toBe(JSON.stringify(fresh));
    // One from before the payloads were snake_case fits no version of the schema: it goes as it was stored.
    const camel = { type: 'incident.resolved', timestamp: resolved.timestamp, data: { statusUrl: '/incidents/x', incident: { id: 'inc_x', resolvedBy: 'admin' } } };
    expect(sent('alert', camel)).toEqual(camel);
  });
});

describe('redact: what a delivery error may say', () => {
  it('blanks URLs and every configured secret', () => {
    const config = configWith();
    const text = `network error: connect ECONNREFUSED ${SECRETS.slack} (key ${SECRETS.routingKey}, ${SECRETS.alert}) at http://10.0.0.1:9/x`;
    const out = redact(text, config);
    expect(out).toBe('network error: connect ECONNREFUSED [url] (key [secret], [secret]) at [url]');
    for (const secret of Object.values(SECRETS)) expect(out).not.toContain(secret);
  });
});

describe('ids and links', () => {
  it('ids are prefixed, 26 Crockford characters, and sort by time', () => {
    const a = sortableId('inc', 1_780_000_000_000);
    const b = sortableId('inc', 1_780_000_000_001);
    expect(a).toMatch(/^inc_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(sortableId('msg', 0)).toMatch(/^msg_0{10}[0-9A-HJKMNP-TV-Z]{16}$/);
    expect(a < b).toBe(true);
    expect(sortableId('inc', 5)).not.toBe(sortableId('inc', 5));
  });
  it('ids of the same millisecond count up, so id order is creation order', () => {
    const ids = Array.from({ length: 50 }, () => sortableId('msg', 1_780_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
  });
  it('the status page link works with or without a trailing slash or PUBLIC_URL', () => {
    expect(statusUrlOf('https://lw.example/', 'a b')).toBe('https://lw.example/models/a%20b');
    expect(statusUrlOf('https://lw.example/base', 'm')).toBe('https://lw.example/base/models/m');
    expect(statusUrlOf(null, 'm')).toBe('/models/m');
    expect(incidentUrlOf('https://lw.example/base/', 'inc_1')).toBe('https://lw.example/base/incidents/inc_1');
    expect(incidentUrlOf(null, 'inc_1')).toBe('/incidents/inc_1');
  });
});
