// The admin API over incidents and their deliveries: list, inspect, acknowledge, resolve by hand, and retry a dead
// delivery. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`; without ADMIN_TOKEN the API is off (403),
// never open. Responses carry no payload, URL or secret of a delivery. The incident state the monitor core stored
// (camelCase) is converted to the wire's names by contract/wire.ts.
import type { MiddlewareHandler } from 'hono';
import { newHono } from './hono';
import { retryDelivery } from '../incidents/outbox';
import { acknowledge, resolveIncident } from '../incidents/track';
import { incidentUrlOf } from '../incidents/notice';
import { configOf, type Env } from '../config';
import { iso } from '../format';
import { deliveryStatus, type DeliveryStatusRow, incidentDeliveries } from '../db/deliveries';
import {
  incidentById,
  type IncidentRow,
  incidentWindows,
  listIncidents,
} from '../db/incidents';
import type { StoredWindow } from '../db/windows';
import { rebaselineOf } from '../db/verdicts';
import { adoptedBaselineOf, type AdoptedTraffic, readAll } from '../db/status';
import { nameRecord } from '../monitor/names';
import { bearerToken, secretsEqual } from './auth';
import { jsonError, methodNotAllowed, quotedName } from './errors';
import { resolveRequest } from './resolve-body';
import { bodyLimit } from './body-limit';
import { IncidentsQuery, parseQuery } from '../contract/query';
import type { AdoptedBaselineBody, DeliveryViewBody, IncidentDetailBody, IncidentViewBody, IncidentWindowBody } from '../contract/api';
import { diagnosisOnWire, flaggedWindowOnWire, remedyOnWire } from '../contract/wire';

type App = { Bindings: Env };

/** Windows shown with an incident, newest first. */
export const WINDOWS_SHOWN = 500;

/** A resolve body is `{"rebaseline": true}` at most: held to the predict routes' limit all the same. */
const resolveBodyLimit = bodyLimit('a resolve body is {"rebaseline": true} or nothing');

const requireAdmin: MiddlewareHandler<App> = async (c, next) => {
  const token = configOf(c.env).adminToken;
  if (token === null) return jsonError(c, 403, 'admin API disabled: set ADMIN_TOKEN');
  const presented = bearerToken(c.req.header('authorization'));
  if (presented === null || !(await secretsEqual(presented, token)))
    return jsonError(c, 401, 'authorization: a valid "Authorization: Bearer <admin token>" header is required', {
      'www-authenticate': 'Bearer realm="labelwatch admin"',
    });
  return next();
};

const isoOrNull = (epochSeconds: number | null) => (epochSeconds === null ? null : iso(epochSeconds));

function incidentView(row: IncidentRow, publicUrl: string | null): IncidentViewBody {
  const { latest } = row.state;
  return {
    id: row.id,
    model: row.model,
    version: row.version,
    kind: row.kind,
    status: row.status,
    first_window_start: iso(row.firstWindowStart),
    last_window_start: iso(row.lastWindowStart),
    flagged_windows: row.flaggedWindows,
    healthy_streak: row.healthyStreak,
    opened_at: iso(row.openedAt),
    updated_at: iso(row.updatedAt),
    acknowledged_at: isoOrNull(row.acknowledgedAt),
    resolved_at: isoOrNull(row.resolvedAt),
    resolved_by: row.resolvedBy,
    latest: { window_start: iso(latest.windowStart), ...flaggedWindowOnWire(latest) },
    status_url: incidentUrlOf(publicUrl, row.id),
  };
}

const deliveryView = (d: DeliveryStatusRow): DeliveryViewBody => ({
  id: d.id,
  incident_id: d.incidentId,
  channel: d.channel,
  event: d.event,
  status: d.status,
  attempts: d.attempts,
  last_status_code: d.lastStatusCode,
  last_error: d.lastError,
  created_at: iso(d.createdAt),
  next_attempt_at: isoOrNull(d.nextAttemptAt),
  enqueued_at: isoOrNull(d.enqueuedAt),
  delivered_at: isoOrNull(d.deliveredAt),
});

const windowView = ({ window: w, labels }: StoredWindow): IncidentWindowBody => ({
  start: iso(w.start),
  end: iso(w.start + w.length),
  n: w.n,
  closed: w.closed,
  verdict: w.verdict,
  reason: w.evaluation?.reason ?? null,
  counts: nameRecord(labels.map((l) => [l.label, l.count])),
});

const adoptedView = (a: AdoptedTraffic | null, publicUrl: string | null): AdoptedBaselineBody =>
  a && {
    incident_id: a.incidentId,
    status_url: incidentUrlOf(publicUrl, a.incidentId),
    applied_at: iso(a.appliedAt),
    first_window_start: iso(a.adoptedFrom),
    last_window_start: iso(a.adoptedTo),
    predictions: a.adoptedPredictions,
  };

/** The incident with its diagnosis, remedies, windows and deliveries, and the traffic declared normal it was judged against. */
async function incidentDetail(d1: D1Database, row: IncidentRow, publicUrl: string | null): Promise<IncidentDetailBody> {
  const state = row.state;
  const [windows, deliveries, rebaseline, [adopted]] = await Promise.all([
    incidentWindows(d1, row, WINDOWS_SHOWN),
    incidentDeliveries(d1, row.id),
    rebaselineOf(d1, row.id),
    readAll(d1, [adoptedBaselineOf(row)] as const),
  ]);
  return {
    ...incidentView(row, publicUrl),
    diagnoses: state.diagnoses.map(diagnosisOnWire),
    remedies: state.remedies.map(remedyOnWire),
    windows: windows.map(windowView),
    deliveries: deliveries.map(deliveryView),
    rebaseline,
    adopted_baseline: adoptedView(adopted, publicUrl),
  };
}

const notFound = (what: 'incident' | 'delivery', id: string) => `${what}: ${quotedName(id)} not found`;

export const incidentRoutes = newHono<App>()
  .use('/v1/incidents', requireAdmin)
  .use('/v1/incidents/*', requireAdmin)
  .use('/v1/deliveries/*', requireAdmin)
  .get('/v1/incidents', async (c) => {
    const query = parseQuery(IncidentsQuery, c.req.query());
    if (!query.ok) return jsonError(c, 400, query.error);
    const rows = await listIncidents(c.env.DB, query.value);
    const { publicUrl } = configOf(c.env);
    return c.json({ incidents: rows.map((r) => incidentView(r, publicUrl)) });
  })
  .get('/v1/incidents/:id', async (c) => {
    const row = await incidentById(c.env.DB, c.req.param('id'));
    if (!row) return jsonError(c, 404, notFound('incident', c.req.param('id')));
    return c.json(await incidentDetail(c.env.DB, row, configOf(c.env).publicUrl));
  })
  .post('/v1/incidents/:id/ack', async (c) => {
    const id = c.req.param('id');
    const row = await acknowledge(c.env, id, Date.now());
    if (!row) return jsonError(c, 404, notFound('incident', id));
    if (row.status === 'resolved') return jsonError(c, 409, `incident: "${id}" is resolved; nothing to acknowledge`);
    return c.json(incidentView(row, configOf(c.env).publicUrl));
  })
  .post('/v1/incidents/:id/resolve', resolveBodyLimit, async (c) => {
    const id = c.req.param('id');
    const request = resolveRequest(await c.req.text());
    if (!request.ok) return jsonError(c, 400, request.error);
    const result = await resolveIncident(c.env, id, Date.now(), request.value.rebaseline);
    if (!result) return jsonError(c, 404, notFound('incident', id));
    if ('refused' in result) return jsonError(c, 409, result.refused);
    // Resolving twice is not an error (a retried request); only the first one notifies.
    return c.json({ ...(await incidentDetail(c.env.DB, result.incident, configOf(c.env).publicUrl)), resolved_now: result.resolved });
  })
  .post('/v1/deliveries/:id/retry', async (c) => {
    const id = c.req.param('id');
    const retried = await retryDelivery(c.env, id, Date.now());
    const delivery = await deliveryStatus(c.env.DB, id);
    if (!delivery) return jsonError(c, 404, notFound('delivery', id));
    if (!retried) return jsonError(c, 409, `delivery: "${id}" is ${delivery.status}; only a dead delivery can be retried`);
    return c.json(deliveryView(delivery), 202);
  })
  // Registered after the routes above, so they only answer the other methods.
  .all('/v1/incidents', methodNotAllowed('GET'))
  .all('/v1/incidents/:id', methodNotAllowed('GET'))
  .all('/v1/incidents/:id/ack', methodNotAllowed('POST'))
  .all('/v1/incidents/:id/resolve', methodNotAllowed('POST'))
  .all('/v1/deliveries/:id/retry', methodNotAllowed('POST'));
