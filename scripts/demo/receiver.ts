// The demo's stand-in for everyone labelwatch notifies: one Node HTTP server on 127.0.0.1 with a path per channel.
// The alert and retraining webhooks are verified as a real receiver would (standardwebhooks' Webhook.verify on the
// raw body) and handled once per webhook-id; PagerDuty and Slack posts are checked for their shape and answered
// the way those services answer.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type Channel = 'alert' | 'retrain' | 'pagerduty' | 'slack';
export const CHANNELS: Channel[] = ['alert', 'retrain', 'pagerduty', 'slack'];

export interface Arrival {
  channel: Channel;
  /** Standard Webhooks id (alert, retrain); null for PagerDuty and Slack. */
  id: string | null;
  /** The event: `incident.opened`, `retrain.requested`, PagerDuty's `trigger`/`acknowledge`/`resolve`, Slack's header text. */
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  /** A webhook-id seen before: acknowledged, not handled again. */
  duplicate: boolean;
  /** Why the request was refused (bad signature, wrong shape); null when accepted. */
  rejected: string | null;
}

export interface Receiver {
  /** Base URL; the channels are at /alert, /retrain, /pagerduty and /slack. */
  url: string;
  arrivals: Arrival[];
  /** Calls `listener` for every arrival from now on. */
  onArrival(listener: (a: Arrival) => void): void;
  /** Resolves with the first handled arrival (past or future) that matches; rejects when `signal` aborts. */
  waitFor(match: (a: Arrival) => boolean, signal: AbortSignal): Promise<Arrival>;
  close(): Promise<void>;
}

export interface ReceiverSecrets {
  alert: string;
  retrain: string;
  pagerDutyRoutingKey: string;
}

const header = (headers: IncomingHttpHeaders, name: string) => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** What the request means, or why it is refused. Pure apart from the signature check's clock. */
function understand(channel: Channel, body: string, headers: IncomingHttpHeaders, secrets: ReceiverSecrets): Omit<Arrival, 'duplicate'> {
  const refuse = (why: string, type = '?'): Omit<Arrival, 'duplicate'> => ({ channel, id: null, type, body: null, rejected: why });
  if (channel === 'alert' || channel === 'retrain') {
    try {
      const event = new Webhook(channel === 'alert' ? secrets.alert : secrets.retrain).verify(body, headers as Record<string, string>) as {
        type: string;
      };
      return { channel, id: header(headers, 'webhook-id') ?? null, type: event.type, body: event, rejected: null };
    } catch (e) {
      return refuse(`signature: ${(e as Error).message}`);
    }
  }
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    return refuse('not JSON');
  }
  if (channel === 'pagerduty') {
    if (json?.routing_key !== secrets.pagerDutyRoutingKey) return refuse('routing_key: not ours');
    if (!['trigger', 'acknowledge', 'resolve'].includes(json.event_action)) return refuse(`event_action: ${json.event_action}`);
    if (typeof json.dedup_key !== 'string') return refuse('dedup_key: missing');
    if (json.event_action === 'trigger' && typeof json.payload?.summary !== 'string') return refuse('payload.summary: missing');
    return { channel, id: null, type: json.event_action, body: json, rejected: null };
  }
  if (typeof json?.text !== 'string') return refuse('text: missing');
  const title = json.blocks?.find((b: { type?: string }) => b?.type === 'header')?.text?.text;
  return { channel, id: null, type: typeof title === 'string' ? title : json.text, body: json, rejected: null };
}

export async function startReceiver(secrets: ReceiverSecrets): Promise<Receiver> {
  const arrivals: Arrival[] = [];
  const listeners = new Set<(a: Arrival) => void>();
  const handled = new Set<string>();

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const channel = (req.url ?? '').slice(1) as Channel;
    if (req.method !== 'POST' || !CHANNELS.includes(channel)) return res.writeHead(404).end();

    const arrival: Arrival = { ...understand(channel, Buffer.concat(chunks).toString('utf8'), req.headers, secrets), duplicate: false };
    if (arrival.id !== null) {
      arrival.duplicate = handled.has(arrival.id);
      handled.add(arrival.id);
    }
    arrivals.push(arrival);
    for (const listener of [...listeners]) listener(arrival);

    // 4xx for a refused request: labelwatch takes it as permanent, which is what a forged request deserves.
    if (arrival.rejected) return res.writeHead(channel === 'pagerduty' ? 400 : 401, { 'content-type': 'application/json' }).end('{"error":"refused"}');
    if (channel === 'pagerduty')
      return res
        .writeHead(202, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: arrival.body.dedup_key }));
    if (channel === 'slack') return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    onArrival: (listener) => void listeners.add(listener),
    waitFor(match, signal) {
      const ok = (a: Arrival) => !a.rejected && !a.duplicate && match(a);
      const past = arrivals.find(ok);
      if (past) return Promise.resolve(past);
      return new Promise((resolve, reject) => {
        const listener = (a: Arrival) => {
          if (!ok(a)) return;
          listeners.delete(listener);
          signal.removeEventListener('abort', onAbort);
          resolve(a);
        };
        const onAbort = () => {
          listeners.delete(listener);
          reject(signal.reason);
        };
        if (signal.aborted) return onAbort();
        listeners.add(listener);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
