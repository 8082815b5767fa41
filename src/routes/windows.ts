// GET /v1/models/{name}/windows: the served version's time windows as D1 holds them, newest first. HTTP only:
// parameters are checked here, the rows come from db/windows.ts, the statistics from monitor/window.ts; the stored
// evaluation, diagnoses and remedies are converted to the wire's names by contract/wire.ts.
import { newHono } from './hono';
import { configOf, type Env } from '../config';
import { listWindows, type StoredWindow } from '../db/windows';
import { iso } from '../format';
import { nameRecord } from '../monitor/names';
import { featureMeanStd } from '../monitor/window';
import type { ModelMetadata } from '../serving/metadata';
import { registry } from '../serving/registry';
import { requireApiKey } from './auth';
import { jsonError, methodNotAllowed } from './errors';
import { modelNotFound } from './predict';
import { parseQuery, WindowsQuery } from '../contract/query';
import type { WindowsBody, WindowViewBody } from '../contract/api';
import { diagnosisOnWire, evaluationOnWire, remedyOnWire } from '../contract/wire';

type App = { Bindings: Env };

/** One window in the API's shape: every model label and feature present, shares and means derived here. */
function windowView(metadata: ModelMetadata, { window: w, labels, features }: StoredWindow): WindowViewBody {
  const counts = nameRecord(metadata.labels.map((label) => [label, 0]));
  for (const row of labels) counts[row.label] = (counts[row.label] ?? 0) + row.count;
  const shares = nameRecord(Object.entries(counts).map(([label, count]) => [label, w.n > 0 ? count / w.n : 0]));
  const stored = new Map(features.map((f) => [f.feature, f]));
  const featureStats = nameRecord(
    metadata.features.map(({ name }) => {
      const f = stored.get(name);
      const moments = f && f.count > 0 ? featureMeanStd(f) : null;
      return [
        name,
        f && moments
          ? { mean: moments.mean, std: moments.std, min: f.min, max: f.max, zero_share: f.zeros / f.count }
          : { mean: null, std: null, min: null, max: null, zero_share: null },
      ];
    }),
  );
  return {
    version: w.version,
    start: iso(w.start),
    start_epoch: w.start,
    end: iso(w.start + w.length),
    end_epoch: w.start + w.length,
    length: w.length,
    closed: w.closed,
    closed_at: w.closedAt === null ? null : iso(w.closedAt),
    n: w.n,
    counts,
    shares,
    mean_confidence: w.n > 0 ? w.sumConfidence / w.n : null,
    mean_entropy: w.n > 0 ? w.sumEntropy / w.n : null,
    zero_rows: w.zeroRows,
    features: featureStats,
    verdict: w.verdict,
    evaluation: w.evaluation ? evaluationOnWire(w.evaluation) : null,
    diagnoses: w.diagnoses ? w.diagnoses.map(diagnosisOnWire) : null,
    remedies: w.remedies ? w.remedies.map(remedyOnWire) : null,
  };
}

// Readable by anyone who may predict or view the status page, when keys are configured.
const reader = requireApiKey((env) => {
  const config = configOf(env as Env);
  return [...config.apiKeys, ...(config.statusToken ? [config.statusToken] : [])];
});

export const windowsRoutes = newHono<App>()
  .get('/v1/models/:model/windows', reader, async (c) => {
    const metadata = registry.metadata(c.req.param('model'));
    if (!metadata) return jsonError(c, 404, modelNotFound(c.req.param('model')));
    const query = parseQuery(WindowsQuery, c.req.query());
    if (!query.ok) return jsonError(c, 400, query.error);
    const stored = await listWindows(c.env.DB, { model: metadata.name, version: metadata.version, ...query.value });
    const body: WindowsBody = {
      model: metadata.name,
      version: metadata.version,
      since: query.value.since,
      until: query.value.until,
      limit: query.value.limit,
      windows: stored.map((w) => windowView(metadata, w)),
    };
    return c.json(body);
  })
  .all('/v1/models/:model/windows', methodNotAllowed('GET'));
