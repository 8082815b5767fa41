// The incident lifecycle in D1: each evaluated window advances the model version's incident through the pure state
// machine (monitor/incident.ts), and the change is stored together with the deliveries it calls for, in one
// transaction (the outbox). Only then are queue messages sent; if that fails, the cron's sweep sends them later.
import { configOf, type Config, type Env } from '../config';
import {
  acknowledgeIncident,
  activeIncident,
  addDeliveries,
  type IncidentChange,
  incidentById,
  incidentOf,
  type IncidentRow,
  latestTrafficIncident,
  modelDefectReported,
  requestRebaseline,
  saveIncidentChange,
} from '../db/incidents';
import {
  advanceIncident,
  type EvaluatedWindow,
  type Incident,
  type IncidentEvent,
  type ModelDefectFinding,
  openModelDefect,
} from '../monitor/incident';
import { windowLengthOf } from '../serving/package-defaults';
import { registry } from '../serving/registry';
import { acknowledgeOutbox, outboxFor, pagedChannels } from './channels';
import { sortableId } from './ids';
import { incidentUrlOf, type Notice, notifies } from './notice';
import { enqueueDeliveries } from './outbox';

/** Window length of a model version: the served model's own, else the deployment default. */
function windowSecondsOf(model: string, version: string, config: Config): number {
  const metadata = registry.metadata(model);
  return windowLengthOf(metadata?.version === version ? metadata : undefined, config);
}

/**
 * Stores an incident change with its notifications' deliveries (atomically, only while the incident is unresolved:
 * db/incidents.ts saveIncidentChange), then enqueues them. Returns whether it was stored.
 */
async function commit(
  env: Env,
  change: Pick<IncidentChange, 'incident' | 'opens' | 'rebaseline' | 'judgedWith'>,
  notices: Omit<Notice, 'incident' | 'windowSeconds' | 'statusUrl'>[],
  nowMs: number,
): Promise<boolean> {
  const { incident } = change;
  const config = configOf(env);
  const nowSec = Math.floor(nowMs / 1000);
  const context = { incident, windowSeconds: windowSecondsOf(incident.model, incident.version, config), statusUrl: incidentUrlOf(config.publicUrl, incident.id) };
  const rows = notices.flatMap((n) =>
    outboxFor({ ...n, ...context }, config).map((entry) => ({
      id: sortableId('msg', nowMs),
      incidentId: incident.id,
      ...entry,
      // An escalation is keyed by its window (the incident's latest now): each escalation is stored once, however often
      // its window is tracked, and the next one is a row of its own.
      escalationWindow: n.event === 'escalated' ? incident.lastWindowStart : 0,
      status: 'pending' as const,
      createdAt: nowSec,
    })),
  );
  const resolvedBy = notices.find((n) => n.event === 'resolved')?.resolvedBy ?? undefined;
  if (!(await saveIncidentChange(env.DB, { ...change, nowSec, resolvedBy, deliveries: rows }))) return false;
  // One line per page-worthy event, naming who was paged: silence must never look like an all-clear.
  for (const n of notices) {
    if (n.event === 'resolved') continue;
    const paged = pagedChannels(config);
    console.log(
      `incident ${n.event}: ${incident.model} v${incident.version} ${incident.kind} (${incident.id}); ` +
        (paged.length > 0 ? `paged: ${paged.join(', ')}` : 'paged: nobody (no alert channel configured)'),
    );
  }
  await enqueueDeliveries(env, rows.map((r) => r.id), nowMs);
  return true;
}

/**
 * Advances the incident of the window's model version by one evaluated window (call it for every window, in order
 * per version, whatever its verdict). Persists the change and its outbox rows in one D1 batch and enqueues the
 * deliveries. `judgedWith`: the rebaselines the detector's state that judged the window had applied; the change is
 * stored only if no other one of the version is waiting. Throws if nothing was stored (D1 refused the change, an
 * operator resolved the incident since it was read, or a rebaseline was asked for meanwhile): then the window can be
 * tracked again.
 */
export async function trackIncident(
  env: Env,
  window: EvaluatedWindow,
  nowMs: number,
  judgedWith: readonly string[] = [],
): Promise<{ incident: Incident | null; events: IncidentEvent[] }> {
  const config = configOf(env);
  const current = await activeIncident(env.DB, window.model, window.version);
  const transition = advanceIncident(current, window, {
    newId: () => sortableId('inc', nowMs),
    resolveAfterHealthy: config.resolveAfterHealthy,
    resolveQuietSeconds: config.resolveQuietSeconds,
  });
  // The same object back means nothing changed (a replay, or a window that says nothing either way).
  if (transition.incident === null || transition.incident === current) return transition;
  const notices = transition.events.filter(notifies).map((event) => ({
    event,
    at: nowMs,
    evaluation: window.evaluation,
    resolvedBy: event === 'resolved' ? ('monitor' as const) : null,
    resolvedWithRebaseline: false,
  }));
  if (!(await commit(env, { incident: transition.incident, opens: current === null, judgedWith }, notices, nowMs)))
    throw new Error(
      `${window.model}@${window.version}: its incident was resolved, or a rebaseline asked for, since this tick read them; nothing stored, the window is tracked again`,
    );
  return transition;
}

/**
 * Reports the model defect of a served version once, ever: opens its model_defect incident (which pages like any
 * opening) unless one was opened before. Returns whether this call opened it.
 */
export async function reportModelDefect(env: Env, finding: ModelDefectFinding, nowMs: number): Promise<boolean> {
  if (await modelDefectReported(env.DB, finding.model, finding.version)) return false;
  const { incident, events } = openModelDefect(finding, () => sortableId('inc', nowMs));
  const notices = events.filter(notifies).map((event) => ({ event, at: nowMs, evaluation: finding.evaluation, resolvedBy: null, resolvedWithRebaseline: false }));
  try {
    await commit(env, { incident: incident!, opens: true }, notices, nowMs);
  } catch (e) {
    // Another tick reported it first: the unique index on (model, version) of model defects refused ours.
    if (await modelDefectReported(env.DB, finding.model, finding.version)) return false;
    throw e;
  }
  return true;
}

/**
 * Resolves an incident by hand (the admin API): the same notifications as an automatic resolution, which say whether
 * the traffic was declared normal. With `rebaselineAsked`, the traffic the incident flagged also becomes the model's
 * baseline (recorded here, in the same transaction as the resolve and its notifications; applied by the cron before
 * it judges the version's next window, evaluate.ts), so traffic that stays where it went does not open the next
 * incident. Returns the stored incident and whether this call resolved it (false: it already was); a refusal when its
 * traffic cannot be adopted (rebaselineRefusal), with nothing resolved; undefined for an unknown id.
 */
export async function resolveIncident(
  env: Env,
  id: string,
  nowMs: number,
  rebaselineAsked = false,
): Promise<{ incident: IncidentRow; resolved: boolean } | { refused: string } | undefined> {
  // The checks and the write are apart; the write happens only if what was checked still holds (the incident is
  // unresolved; resolved before, it is still its version's latest), else nothing is stored and a second round reads
  // what changed: the monitor resolved it (a rebaseline is then refused, as if asked a moment later; a plain resolve
  // says it did not resolve it), or a later incident opened (refused). Neither can change back.
  for (let round = 0; round < 2; round++) {
    const row = await incidentById(env.DB, id);
    if (!row) return undefined;
    const refused = rebaselineAsked ? await rebaselineRefusal(env, row) : null;
    if (refused) return { refused: `rebaseline: incident "${id}" ${refused}` };
    const request = { incidentId: id, model: row.model, version: row.version, fromWindowStart: row.firstWindowStart, requestedAt: Math.floor(nowMs / 1000) };
    if (row.status === 'resolved') {
      // Resolved by hand before: nobody is told again; a rebaseline asked now is only recorded.
      if (rebaselineAsked && !(await requestRebaseline(env.DB, request))) continue;
      return { incident: row, resolved: false };
    }
    // Unresolved, it is its version's latest incident: no other can open while it is (incidents_active), so the
    // guard of the write needs nothing more for the rebaseline. The notifications tell the incident as read here; a
    // window a tick added before the write is kept in the stored incident, not told again.
    const notice = { event: 'resolved' as const, at: nowMs, evaluation: null, resolvedBy: 'admin' as const, resolvedWithRebaseline: rebaselineAsked };
    const incident: Incident = { ...incidentOf(row), status: 'resolved' };
    if (await commit(env, { incident, opens: false, rebaseline: rebaselineAsked ? request : undefined }, [notice], nowMs))
      return { incident: (await incidentById(env.DB, id))!, resolved: true };
  }
  throw new Error(`incident ${id}: changed twice while it was being resolved`);
}

/**
 * Why an incident's traffic cannot be adopted as normal, or null. Adopting takes the version's traffic as it is now,
 * so it must be this incident's: the version is still served (else no window of it is judged again), and no later
 * incident began since (whose traffic it would silently declare normal). A model defect is the package's own
 * held-out answers, and an incident the monitor resolved ended because the traffic came back: nothing to adopt.
 */
async function rebaselineRefusal(env: Env, row: IncidentRow): Promise<string | null> {
  if (row.kind === 'model_defect') return 'is a model defect of the package, not a change in its traffic; nothing to adopt';
  const served = registry.metadata(row.model)?.version;
  if (served !== row.version) return `is of ${row.model} v${row.version}, which is no longer served${served ? ` (v${served} is)` : ''}; no window of it is judged again`;
  if (row.resolvedBy === 'monitor') return 'was resolved by the monitor when its traffic was healthy again; there is nothing to adopt';
  const latest = await latestTrafficIncident(env.DB, row.model, row.version);
  if (latest !== row.id) return `is not ${row.model}'s latest incident (${latest} began since); adopting now would declare that one's traffic normal`;
  return null;
}

/**
 * Acknowledges an incident (the admin API) and tells PagerDuty, with the incident's dedup key, so its alert stops
 * escalating. Idempotent: acknowledging again sends nothing twice (one acknowledge delivery per incident), and a
 * repeated request after a failure still sends the one that is missing. Returns the stored incident; undefined for
 * an unknown id.
 */
export async function acknowledge(env: Env, id: string, nowMs: number): Promise<IncidentRow | undefined> {
  const config = configOf(env);
  const nowSec = Math.floor(nowMs / 1000);
  await acknowledgeIncident(env.DB, id, nowSec);
  const row = await incidentById(env.DB, id);
  if (!row || row.status !== 'acknowledged') return row;
  const rows = acknowledgeOutbox(id, config).map((entry) => ({
    id: sortableId('msg', nowMs),
    incidentId: id,
    ...entry,
    status: 'pending' as const,
    createdAt: nowSec,
  }));
  const added = await addDeliveries(env.DB, rows);
  if (added.length > 0) console.log(`incident acknowledged: ${row.model} v${row.version} (${id}); told: PagerDuty`);
  await enqueueDeliveries(env, added, nowMs);
  return row;
}
