// The D1 schema, the one source of the stored shapes: query result types come from here (InferSelectModel).
// Migrations in migrations/ are generated from this file by drizzle-kit (`npm run db:generate`).
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { PackedState } from '../monitor/packed-state';
import type { Evaluation, Verdict } from '../monitor/detector';
import type { Diagnosis } from '../monitor/diagnosis';
import type { Incident, IncidentKind } from '../monitor/incident';
import type { Remedy } from '../monitor/remedies';
import type { ChannelName, DeliveryEvent } from '../incidents/channels';

// Columns with a fixed set of values list them (`text({ enum })`: typed reads and writes, no CHECK in SQLite, so no
// migration); where the set belongs to another module's type (kinds, channels, events), the column takes that type
// (`.$type<>()`) so the union there stays the one source. JSON columns carry the type they hold.

/** One time window of one model version: the additive totals plus, once closed and evaluated, the verdict. */
export const windows = sqliteTable(
  'windows',
  {
    model: text('model').notNull(),
    version: text('version').notNull(),
    /** Epoch seconds, aligned: floor(t / length) * length. */
    start: integer('start').notNull(),
    /** Window length in seconds. */
    length: integer('length').notNull(),
    n: integer('n').notNull().default(0),
    sumConfidence: real('sum_confidence').notNull().default(0),
    sumEntropy: real('sum_entropy').notNull().default(0),
    zeroRows: integer('zero_rows').notNull().default(0),
    /** Set by the cron once every shard had its chance to flush; counts are final after that. */
    closed: integer('closed', { mode: 'boolean' }).notNull().default(false),
    closedAt: integer('closed_at'),
    /** Detector output, null until the window is closed and evaluated. */
    verdict: text('verdict').$type<Verdict>(),
    /** JSON: the evaluation (statistics), diagnoses and remedies of the monitor core. */
    evaluation: text('evaluation', { mode: 'json' }).$type<Evaluation>(),
    diagnoses: text('diagnoses', { mode: 'json' }).$type<Diagnosis[]>(),
    remedies: text('remedies', { mode: 'json' }).$type<Remedy[]>(),
  },
  (t) => [
    primaryKey({ columns: [t.model, t.version, t.start] }),
    index('windows_start').on(t.start),
    index('windows_open').on(t.closed, t.start),
    // Covers the status page's per-bucket scan, so a week of windows is read without touching the rows and their
    // evaluation JSON (several KB each).
    index('windows_bars').on(t.model, t.version, t.start, t.n, t.closed, t.verdict),
  ],
);

export const windowLabels = sqliteTable(
  'window_labels',
  {
    model: text('model').notNull(),
    version: text('version').notNull(),
    start: integer('start').notNull(),
    label: text('label').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.model, t.version, t.start, t.label] })],
);

export const windowFeatures = sqliteTable(
  'window_features',
  {
    model: text('model').notNull(),
    version: text('version').notNull(),
    start: integer('start').notNull(),
    feature: text('feature').notNull(),
    count: integer('count').notNull().default(0),
    sum: real('sum').notNull().default(0),
    sumSq: real('sum_sq').notNull().default(0),
    min: real('min'),
    max: real('max'),
    zeros: integer('zeros').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.model, t.version, t.start, t.feature] })],
);

/**
 * One row per flush that D1 accepted, written in the same batch as the counts: a retried alarm or a repeated
 * flush finds its key and adds nothing. `seq` is the shard's own sequence number of the flush (never reused), so
 * predictions that reach a shard after it already flushed their window go out as a second flush of that window
 * instead of colliding with the first one's key.
 */
export const flushes = sqliteTable(
  'flushes',
  {
    shard: text('shard').notNull(),
    start: integer('start').notNull(),
    seq: integer('seq').notNull(),
    n: integer('n').notNull(),
    /** Epoch seconds. */
    flushedAt: integer('flushed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.shard, t.start, t.seq] })],
);

/** An incident: a run of flagged windows of one model version, from the first page to its resolution. */
export const incidents = sqliteTable(
  'incidents',
  {
    id: text('id').primaryKey(),
    model: text('model').notNull(),
    version: text('version').notNull(),
    /** 'collapsed' | 'partial_collapse' (escalates, never de-escalates) | 'model_defect' (the package, not traffic). */
    kind: text('kind').$type<IncidentKind>().notNull(),
    /** 'open' | 'acknowledged' | 'resolved'. */
    status: text('status', { enum: ['open', 'acknowledged', 'resolved'] }).notNull(),
    firstWindowStart: integer('first_window_start').notNull(),
    lastWindowStart: integer('last_window_start').notNull(),
    flaggedWindows: integer('flagged_windows').notNull(),
    healthyStreak: integer('healthy_streak').notNull().default(0),
    openedAt: integer('opened_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    acknowledgedAt: integer('acknowledged_at'),
    resolvedAt: integer('resolved_at'),
    resolvedBy: text('resolved_by', { enum: ['monitor', 'admin'] }),
    /** JSON: the full incident state of the monitor core (latest evaluation, diagnoses, remedies). */
    state: text('state', { mode: 'json' }).$type<Incident>().notNull(),
  },
  (t) => [
    index('incidents_model').on(t.model, t.version, t.status),
    index('incidents_status').on(t.status),
    // At most one traffic incident per model version is active: two trackers racing to open one cannot both succeed.
    uniqueIndex('incidents_active').on(t.model, t.version).where(sql`status <> 'resolved' AND kind <> 'model_defect'`),
    // A model defect is reported once per version, ever.
    uniqueIndex('incidents_model_defect').on(t.model, t.version).where(sql`kind = 'model_defect'`),
  ],
);

/**
 * The outbox: one row per (incident event, channel), and per escalation for the one event an incident can have more
 * than once, written in the same batch as the incident change.
 */
export const deliveries = sqliteTable(
  'deliveries',
  {
    /** Also the `webhook-id` sent on every attempt, so receivers can deduplicate. */
    id: text('id').primaryKey(),
    incidentId: text('incident_id').notNull(),
    /** 'alert' | 'pagerduty' | 'slack' | 'retrain'. */
    channel: text('channel').$type<ChannelName>().notNull(),
    /** 'incident.opened' | 'incident.updated' | 'incident.acknowledged' (PagerDuty only) | 'incident.resolved' | 'retrain.requested'. */
    event: text('event').$type<DeliveryEvent>().notNull(),
    /**
     * What tells an incident's escalations apart: for 'incident.updated', the start of the window that escalated it
     * (epoch seconds); 0 for the events an incident has once, and for escalations stored before migration 0007.
     */
    escalationWindow: integer('escalation_window').notNull().default(0),
    /** The body as sent, without secrets: URLs, signing keys and PagerDuty's routing_key are added at send time. */
    payload: text('payload', { mode: 'json' }).notNull(),
    /** 'pending' | 'retrying' | 'delivered' | 'dead'. */
    status: text('status', { enum: ['pending', 'retrying', 'delivered', 'dead'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    /** When it may be attempted next: null = now; during an attempt, the end of that attempt's lease. */
    nextAttemptAt: integer('next_attempt_at'),
    /** When a queue message for it was last sent; the cron sweep re-enqueues rows whose message was lost. */
    enqueuedAt: integer('enqueued_at'),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    // Each event of an incident goes to a channel once (one opening, one resolve, one retraining request), and each
    // escalation once: a tick that replays a window, or races another over it, cannot write a second copy.
    uniqueIndex('deliveries_event').on(t.incidentId, t.channel, t.event, t.escalationWindow),
    index('deliveries_status').on(t.status, t.enqueuedAt),
  ],
);

/**
 * Every attempt at a delivery and how it ended, for the incident page's timeline (the deliveries row keeps only the
 * latest). Written with the attempt's outcome; an admin retry starts counting at 1 again, hence the own id.
 */
export const deliveryAttempts = sqliteTable(
  'delivery_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    deliveryId: text('delivery_id').notNull(),
    /** The delivery's attempt number (1 for the first). */
    attempt: integer('attempt').notNull(),
    /** Epoch seconds when the attempt ended. */
    at: integer('at').notNull(),
    /** 'delivered' | 'retrying' | 'dead'. */
    outcome: text('outcome', { enum: ['delivered', 'retrying', 'dead'] }).notNull(),
    statusCode: integer('status_code'),
    /** Redacted like deliveries.last_error: no URL, no secret. */
    error: text('error'),
  },
  (t) => [index('delivery_attempts_delivery').on(t.deliveryId, t.id)],
);

/**
 * What the detector remembers of a model version (monitor/baseline.ts MonitorState): its trailing and seasonal
 * baselines, the overdispersion estimate and the CUSUMs. Written in the same batch as the verdict of the window that
 * produced it, so a window is folded in exactly once.
 */
export const monitorStates = sqliteTable(
  'monitor_states',
  {
    model: text('model').notNull(),
    version: text('version').notNull(),
    /** Start of the latest window folded in (epoch seconds). */
    lastWindowStart: integer('last_window_start').notNull(),
    /** monitor/packed-state.ts: gzipped JSON in base64; plain JSON in rows stored before. */
    state: text('state').notNull().$type<PackedState>(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.version] })],
);

/**
 * Incidents resolved with `rebaseline`: someone declared the traffic they flagged the model's new normal. The admin
 * API only records the request; the cron, the one writer of monitor_states, applies it before it judges the
 * version's next window (monitor/baseline.ts rebaseline) and marks it applied in the same batch as that verdict.
 */
export const rebaselines = sqliteTable(
  'rebaselines',
  {
    incidentId: text('incident_id').primaryKey(),
    model: text('model').notNull(),
    version: text('version').notNull(),
    /** Start of the incident's first window: the traffic declared normal begins there. */
    fromWindowStart: integer('from_window_start').notNull(),
    requestedAt: integer('requested_at').notNull(),
    /** Epoch seconds when the cron applied it; null until then. */
    appliedAt: integer('applied_at'),
    /**
     * What it adopted: window starts of the first and last window and their predictions; null when there was none. The
     * last is the latest window judged when it was applied: every later window was judged with it (db/status.ts
     * adoptedBaselineOf).
     */
    adoptedFrom: integer('adopted_from'),
    adoptedTo: integer('adopted_to'),
    adoptedPredictions: integer('adopted_predictions'),
  },
  (t) => [index('rebaselines_waiting').on(t.model, t.version, t.appliedAt)],
);
