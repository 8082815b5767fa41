// The status page: label distributions per window for every served model, open incidents with their diagnosis and
// remedies, recent webhook deliveries (`GET /`, `/status`), and one model in detail (`GET /models/{name}`).
// Server-rendered HTML with inline CSS and SVG, no script; it reads D1 only, through db/status.ts.
import type { Context } from 'hono';
import { newHono } from './hono';
import type { FC } from 'hono/jsx';
import { configOf, type Config, type Env } from '../config';
import { pagedChannels } from '../incidents/channels';
import type { DeliveryStatusRow } from '../db/deliveries';
import {
  adoptedBaselineOf,
  attemptsOf,
  deliveriesOf,
  featureBuckets,
  flaggedWindows,
  incidentRow,
  labelBuckets,
  labelTotals,
  latestEvaluation,
  openIncidents,
  readAll,
  ReadBatch,
  recentDeliveries,
  resolvedIncidents,
  rebaselineRequestOf,
  retrainRequestOf,
  verdictsBetween,
  versionsWithWindows,
  windowAt,
  type IncidentRow,
  type Span,
} from '../db/status';
import type { Diagnosis } from '../monitor/diagnosis';
import { shareWindows, type Incident } from '../monitor/incident';
import type { Remedy } from '../monitor/remedies';
import type { ModelMetadata } from '../serving/metadata';
import { windowLengthOf } from '../serving/package-defaults';
import { registry } from '../serving/registry';
import { statusAccess } from './status/access';
import { methodNotAllowed } from './errors';
import { badHistory, badRange, incidentNotFound, modelNotFound } from './status/error-pages';
import { collapseLine, labelOrder } from './status/chart';
import { HistorySection, parseHistoryDays } from './status/history';
import { IncidentPage, timelineOf } from './status/incident-page';
import { Deliveries } from './status/deliveries';
import { FeatureCards, WindowTable } from './status/features';
import { findingsOf } from './status/findings';
import { duration, verdictWords } from '../format';
import { IncidentCard, type IncidentView } from './status/incidents';
import { MarkerKey, Page, securityHeaders, TopBar } from './status/layout';
import { expectsTraffic, latestJudged, ModelCard, type ModelView } from './status/model-card';
import { FlaggedList, Training } from './status/model-details';
import { bucketSeconds, parseRange, RANGES, spanOf, type RangeName } from './status/range';

type App = { Bindings: Env };

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** The page reloads once per window (the earliest anything new can appear), but not more than every 30 s. */
const refreshSeconds = (config: Config) => Math.max(config.windowSeconds, 30);

/** Served versions first, in registry order; then versions that only have stored windows in the range. */
function modelPairs(stored: { model: string; version: string; earliest: number }[], only?: string) {
  const earliestOf = (name: string, version: string) => stored.find((v) => v.model === name && v.version === version)?.earliest;
  const pairs: { name: string; version: string; metadata?: ModelMetadata; earliest?: number }[] = registry
    .list()
    .filter((m) => only === undefined || m.name === only)
    .map((m) => ({ name: m.name, version: m.version, metadata: m, earliest: earliestOf(m.name, m.version) }));
  for (const v of stored)
    if (!pairs.some((p) => p.name === v.model && p.version === v.version)) pairs.push({ name: v.model, version: v.version, earliest: v.earliest });
  return pairs;
}

type Pair = ReturnType<typeof modelPairs>[number];

/** The bars of a model version over the range (or the part of it that holds data): its own window length, merged as needed. */
const spanOfPair = (pair: Pair, config: Config, range: RangeName, now: number): Span =>
  spanOf(pair.name, pair.version, range, windowLengthOf(pair.metadata, config), now, pair.earliest);

// The two views below only queue reads on the batch (synchronously); they resolve once the caller has run it.

/** The label an open incident is about: the one it collapsed onto, else its latest top label. */
function incidentLabel(incident: IncidentRow | undefined): string | null {
  const latest = (incident?.state as Partial<Incident> | undefined)?.latest;
  return latest?.dominantLabel ?? latest?.topLabel ?? null;
}

function modelView(batch: ReadBatch, { name, version, metadata }: Pair, span: Span, config: Config, incident?: IncidentRow): Promise<ModelView> {
  return Promise.all([batch.add(labelBuckets(span)), batch.add(latestEvaluation(name, version))]).then(([buckets, evaluation]) => ({
    name,
    version,
    metadata,
    windowSeconds: windowLengthOf(metadata, config),
    span,
    buckets,
    labels: labelOrder(metadata?.labels ?? [], buckets),
    // The caption and the line follow the open incident when there is one, not whatever the latest window said.
    threshold: collapseLine(evaluation, incidentLabel(incident)),
    expectTraffic: expectsTraffic(metadata),
  }));
}

const openIncidentOf = (incidents: IncidentRow[], name: string, version: string) =>
  incidents.find((i) => i.model === name && i.version === version && i.status !== 'resolved');

function incidentView(batch: ReadBatch, incident: IncidentRow, config: Config, now: number): Promise<IncidentView> {
  const served = registry.metadata(incident.model);
  const metadata = served?.version === incident.version ? served : undefined;
  const length = windowLengthOf(metadata, config);
  const first = incident.firstWindowStart;
  // "Before" is the healthy traffic of the hour (or ten windows) before the first flagged window.
  const lookback = Math.max(3_600, 10 * length);
  const state = (incident.state ?? {}) as Partial<Incident>;
  const stated = { diagnoses: findingsOf<Diagnosis>(state.diagnoses), remedies: findingsOf<Remedy>(state.remedies) };
  // An incident record without findings falls back to those of its latest flagged window.
  const findings =
    stated.diagnoses.length > 0 || stated.remedies.length > 0
      ? Promise.resolve(stated)
      : batch.add(windowAt(incident.model, incident.version, incident.lastWindowStart)).then((w) => ({
          diagnoses: findingsOf<Diagnosis>(w?.diagnoses),
          remedies: findingsOf<Remedy>(w?.remedies),
        }));
  // A model defect has no flagged windows: its traffic since it was found, if any, is what the table shows.
  const spans = shareWindows({ ...state, status: incident.status, firstWindowStart: first, lastWindowStart: incident.lastWindowStart });
  const duringRead =
    incident.kind === 'model_defect'
      ? labelTotals(incident.model, incident.version, first, now + 1)
      : labelTotals(incident.model, incident.version, spans.flagged.from, spans.flagged.to, 'flagged');
  const clearing = spans.clearing;
  return Promise.all([
    batch.add(labelTotals(incident.model, incident.version, first - lookback, first, 'healthy')),
    batch.add(duringRead),
    clearing ? batch.add(labelTotals(incident.model, incident.version, clearing.from, clearing.to)) : Promise.resolve(null),
    findings,
  ]).then(([recent, during, clear, found]) => {
    const useTraining = Object.keys(recent).length === 0 && metadata !== undefined;
    const before = useTraining ? metadata.training.label_counts : recent;
    const labels = [...(metadata?.labels ?? [])];
    for (const l of [...Object.keys(before), ...Object.keys(during), ...Object.keys(clear ?? {})].sort()) if (!labels.includes(l)) labels.push(l);
    return {
      incident,
      labels,
      before,
      beforeFrom: useTraining ? ('training data' as const) : ('recent healthy windows' as const),
      during,
      windowSeconds: length,
      clearing:
        clearing && clear
          ? {
              since: clearing.from,
              resolvesFrom: clearing.from + Math.max((config.resolveAfterHealthy - 1) * length, config.resolveQuietSeconds),
              counts: clear,
            }
          : null,
      ...found,
    };
  });
}

const Banner: FC<{ incidents: IncidentRow[]; models: ModelView[]; now: number }> = ({ incidents, models, now }) => {
  if (incidents.length > 0)
    return (
      <p class="banner bad" role="status">
        ⚠ {incidents.length} open incident{incidents.length === 1 ? '' : 's'}:{' '}
        {incidents
          .slice(0, 3)
          .map((i) => `${i.model} v${i.version} ${verdictWords(i.kind)} for ${duration(now - i.firstWindowStart)}`)
          .join('; ')}
        {incidents.length > 3 ? '; …' : ''}
      </p>
    );
  const healthy = models.filter((m) => ['healthy', 'drift'].includes(latestJudged(m.buckets)?.verdict ?? '')).length;
  return (
    <p class="banner ok" role="status">
      ✓ No open incidents. {healthy} of {models.length} model{models.length === 1 ? '' : 's'} healthy in their latest window.
    </p>
  );
};

/** `dbMs`: time spent waiting for D1, as Server-Timing (a Worker's clock only moves across I/O, so only I/O is timed). */
function pageHeaders(c: Context, dbMs: number) {
  c.header('server-timing', `db;dur=${dbMs}`);
  c.header('cache-control', 'no-store');
  for (const [name, value] of Object.entries(securityHeaders())) c.header(name, value);
}

/** A visible note when no alert channel is configured: a page nobody receives must not look like an all-clear. */
const NobodyPaged: FC<{ config: Config }> = ({ config }) =>
  pagedChannels(config).length > 0 ? null : (
    <p class="banner warn" role="note">
      No alert channel is configured: incidents page nobody. Set ALERT_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY or SLACK_WEBHOOK_URL.
    </p>
  );


/** The page's view: `range` and `history` from the query, or the 400 that names the bad one. */
async function pageQuery(c: Context<App>): Promise<{ range: RangeName; days: number } | Response> {
  const range = parseRange(c.req.query('range'));
  if (range === null) return badRange(c);
  const days = parseHistoryDays(c.req.query('history'));
  if (days === null) return badHistory(c);
  return { range, days };
}

async function overview(c: Context<App>) {
  const query = await pageQuery(c);
  if (query instanceof Response) return query;
  const { range, days } = query;
  const config = configOf(c.env);
  const now = nowSeconds();
  const started = Date.now();
  // Two round trips: what exists, then everything about it.
  const [stored, incidents, deliveries, resolved] = await readAll(c.env.DB, [
    versionsWithWindows(now - RANGES[range]),
    openIncidents(),
    recentDeliveries(15),
    resolvedIncidents(now - days * 86_400),
  ] as const);
  const batch = new ReadBatch(c.env.DB);
  const pending = Promise.all([
    Promise.all(
      modelPairs(stored).map((p) => modelView(batch, p, spanOfPair(p, config, range, now), config, openIncidentOf(incidents, p.name, p.version))),
    ),
    Promise.all(incidents.map((i) => incidentView(batch, i, config, now))),
    batch.add(deliveriesOf(resolved.map((i) => i.id))),
  ]);
  await batch.run();
  const [models, views, resolvedDeliveries] = await pending;
  const refresh = refreshSeconds(config);
  pageHeaders(c, Date.now() - started);
  return c.html(
    <Page title={incidents.length > 0 ? `⚠ ${incidents.length} open · labelwatch` : 'labelwatch status'} refreshSeconds={refresh}>
      <TopBar range={range} path={new URL(c.req.url).pathname} now={now} refresh={refresh} />
      <Banner incidents={incidents} models={models} now={now} />
      <NobodyPaged config={config} />
      {views.length > 0 ? (
        <section aria-labelledby="incidents">
          <h2 id="incidents">Open incidents</h2>
          {views.map((v) => (
            <IncidentCard view={v} nowSeconds={now} />
          ))}
        </section>
      ) : null}
      <section aria-labelledby="models">
        <h2 id="models">Label shares per window · last {range}</h2>
        <MarkerKey />
        <div class="models" style="margin-top:10px">
          {models.map((m) => (
            <ModelCard m={m} range={range} incident={openIncidentOf(incidents, m.name, m.version)} />
          ))}
        </div>
      </section>
      <HistorySection incidents={resolved} deliveries={resolvedDeliveries} nowSeconds={now} days={days} />
      <section aria-labelledby="deliveries">
        <h2 id="deliveries">Webhook deliveries</h2>
        <div class="card">
          <Deliveries deliveries={deliveries} nowSeconds={now} />
        </div>
      </section>
      <footer>
        Times are UTC. Tap or hover a bar for its window, predictions and shares. Labels keep one colour each (by their order
        in the model’s metadata); letters and outlines mark flagged windows, so nothing depends on colour alone.
      </footer>
    </Page>,
  );
}

async function modelPage(c: Context<App>) {
  const name = c.req.param('name') ?? '';
  const query = await pageQuery(c);
  if (query instanceof Response) return query;
  const { range, days } = query;
  const config = configOf(c.env);
  const now = nowSeconds();
  const started = Date.now();
  const [stored, incidents, resolved] = await readAll(c.env.DB, [
    versionsWithWindows(now - RANGES[range], name),
    openIncidents(name),
    resolvedIncidents(now - days * 86_400, name),
  ] as const);
  const pairs = modelPairs(stored, name);
  if (pairs.length === 0) return modelNotFound(c, name, range);
  const batch = new ReadBatch(c.env.DB);
  const pending = Promise.all([
    Promise.all(
      pairs.map((p) => {
        const span = spanOfPair(p, config, range, now);
        return Promise.all([
          modelView(batch, p, span, config, openIncidentOf(incidents, p.name, p.version)),
          batch.add(featureBuckets(span)),
          batch.add(flaggedWindows(span, expectsTraffic(p.metadata))),
        ]).then(([m, features, flagged]) => ({ m, features, flagged }));
      }),
    ),
    Promise.all(incidents.map((i) => incidentView(batch, i, config, now))),
    batch.add(deliveriesOf(resolved.map((i) => i.id))),
  ]);
  await batch.run();
  const [details, views, resolvedDeliveries] = await pending;
  const models = details.map((d) => d.m);
  const refresh = refreshSeconds(config);
  const long = RANGES[range] >= 86_400;
  pageHeaders(c, Date.now() - started);
  return c.html(
    <Page title={`${name} · labelwatch`} refreshSeconds={refresh}>
      <TopBar range={range} path={`/models/${encodeURIComponent(name)}`} now={now} refresh={refresh} back />
      {models[0]!.metadata?.description ? <p class="muted">{models[0]!.metadata.description}</p> : null}
      <NobodyPaged config={config} />
      {views.map((v) => (
        <IncidentCard view={v} nowSeconds={now} />
      ))}
      {details.map(({ m, features, flagged }) => (
        <section aria-label={`${m.name} version ${m.version}`}>
          <h2>
            Label shares · v{m.version} · last {range}
          </h2>
          <MarkerKey />
          <div style="margin-top:10px">
            <ModelCard m={m} range={range} incident={openIncidentOf(incidents, m.name, m.version)} tall />
          </div>
          <details class="card bars" style="margin-top:12px">
            <summary>Every bar: predictions, shares{m.metadata ? ', feature mean ± std next to training' : ''} (newest first)</summary>
            <WindowTable specs={m.metadata?.features ?? []} labels={m.labels} buckets={m.buckets} features={features} model={m} />
          </details>
          {m.metadata ? (
            <>
              <h2>Inputs against training · v{m.version}</h2>
              <FeatureCards specs={m.metadata.features} buckets={features} span={m.span} standardized={m.metadata.training.standardized} windowSeconds={m.windowSeconds} />
            </>
          ) : null}
          <h2>Flagged windows · v{m.version}</h2>
          <div class="card">
            <FlaggedList windows={flagged} long={long} />
          </div>
          {m.metadata ? <Training metadata={m.metadata} /> : null}
        </section>
      ))}
      <HistorySection incidents={resolved} deliveries={resolvedDeliveries} nowSeconds={now} days={days} />
    </Page>,
  );
}

/** Windows shown before an incident's first flagged window and after its end, for context. */
const CONTEXT_WINDOWS = 10;

async function incidentPage(c: Context<App>) {
  const id = c.req.param('id') ?? '';
  const config = configOf(c.env);
  const now = nowSeconds();
  const started = Date.now();
  const [incident] = await readAll(c.env.DB, [incidentRow(id)] as const);
  if (!incident) return incidentNotFound(c, id);
  const served = registry.metadata(incident.model);
  const pair: Pair = { name: incident.model, version: incident.version, metadata: served?.version === incident.version ? served : undefined };
  const length = windowLengthOf(pair.metadata, config);
  const first = incident.firstWindowStart;
  const last = incident.lastWindowStart;
  const resolvedWindow = (incident.state as Partial<Incident>).resolvedAt;
  const end = incident.status === 'resolved' ? Math.max(last, typeof resolvedWindow === 'number' ? resolvedWindow : last) + length : now;
  // The chart: the incident's windows with some context on both sides, merged into buckets if it went on for long.
  const wanted = end + CONTEXT_WINDOWS * length - (first - CONTEXT_WINDOWS * length);
  const bucket = bucketSeconds(wanted, length);
  const from = Math.floor((first - CONTEXT_WINDOWS * length) / bucket) * bucket;
  const to = Math.min(Math.ceil((end + CONTEXT_WINDOWS * length) / bucket) * bucket, (Math.floor(now / bucket) + 1) * bucket);
  const span: Span = { model: incident.model, version: incident.version, from, to, bucket };
  const batch = new ReadBatch(c.env.DB);
  const pending = Promise.all([
    incidentView(batch, incident, config, now),
    // The line and the caption follow this incident's label, resolved or not.
    modelView(batch, pair, span, config, incident),
    batch.add(deliveriesOf([incident.id])),
    batch.add(attemptsOf(incident.id)),
    batch.add(retrainRequestOf(incident.id)),
    batch.add(verdictsBetween(incident.model, incident.version, first, last + 1)),
    batch.add(rebaselineRequestOf(incident.id)),
    batch.add(adoptedBaselineOf(incident)),
  ]);
  await batch.run();
  const [view, model, deliveries, attempts, retrain, verdicts, rebaseline, adoptedBaseline] = await pending;
  const timeline = timelineOf({ incident, windowSeconds: length, verdicts, deliveries: deliveries as DeliveryStatusRow[], attempts, rebaseline });
  const refresh = refreshSeconds(config);
  pageHeaders(c, Date.now() - started);
  return c.html(
    <Page title={`${incident.status === 'resolved' ? '' : '⚠ '}${incident.model} incident · labelwatch`} refreshSeconds={refresh}>
      <TopBar range="1h" path={`/models/${encodeURIComponent(incident.model)}`} now={now} refresh={refresh} back />
      <NobodyPaged config={config} />
      <IncidentPage
        incident={incident}
        view={view}
        model={model}
        range="1h"
        timeline={timeline}
        deliveries={deliveries}
        retrain={retrain}
        retrainConfigured={config.retrainWebhook !== null}
        adoptedBaseline={adoptedBaseline}
        adminApi={config.adminToken === null ? null : (config.publicUrl ?? new URL(c.req.url).origin)}
        resolves={{ afterHealthy: config.resolveAfterHealthy, quietSeconds: config.resolveQuietSeconds }}
        nowSeconds={now}
      />
    </Page>,
  );
}

export const statusRoutes = newHono<App>();
// Middleware on these paths only: a wildcard here would guard every route once mounted at '/'.
for (const path of ['/', '/status', '/models/:name', '/incidents/:id']) statusRoutes.use(path, statusAccess);
statusRoutes.get('/', overview);
statusRoutes.get('/status', overview);
statusRoutes.get('/models/:name', modelPage);
statusRoutes.get('/incidents/:id', incidentPage);
// Registered after the GETs above, so they only answer the other methods.
for (const path of ['/', '/status', '/models/:name', '/incidents/:id']) statusRoutes.all(path, methodNotAllowed('GET'));
