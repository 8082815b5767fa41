// The OpenAPI 3.1 document of every route, served at /openapi.json. Bodies and parameters come from the same valibot
// schemas that type the handlers and check the input (contract/api.ts, contract/query.ts, serving/metadata.ts),
// converted to JSON Schema 2020-12, the dialect OpenAPI 3.1 uses. Built once per isolate, on first request.
import * as v from 'valibot';
import { toJsonSchema, toJsonSchemaDefs, type ConversionConfig } from '@valibot/to-json-schema';
import * as api from './api';
import { AlertWebhook, RetrainWebhook, WEBHOOK_DEFINITIONS } from './webhooks';
import { IncidentsQuery, WindowsQuery } from './query';
import { RANGES } from '../routes/status/range';
import { HISTORY_DAYS, MAX_HISTORY_DAYS } from '../routes/status/history';

type Schema = v.GenericSchema;
type Json = Record<string, unknown>;

/** Named schemas: components.schemas, referenced by name below. */
const COMPONENTS = {
  Error: api.ErrorBody,
  Health: api.Health,
  ModelStatus: api.ModelStatus,
  TfModelMetadata: api.TfModelMetadata,
  TfPredictRequest: api.TfPredictRequest,
  TfPredictResponse: api.TfPredictResponse,
  TfClassifyRequest: api.TfClassifyRequest,
  TfClassifyResponse: api.TfClassifyResponse,
  V2Live: api.V2Live,
  V2Ready: api.V2Ready,
  V2ModelReady: api.V2ModelReady,
  V2ServerMetadata: api.V2ServerMetadata,
  V2ModelMetadata: api.V2ModelMetadata,
  V2InferRequest: api.V2InferRequest,
  V2InferResponse: api.V2InferResponse,
  Evaluation: api.Evaluation,
  WindowView: api.WindowView,
  WindowsResponse: api.WindowsResponse,
  IncidentLatest: api.IncidentLatest,
  IncidentView: api.IncidentView,
  IncidentList: api.IncidentList,
  IncidentDetail: api.IncidentDetail,
  AdoptedBaseline: api.AdoptedBaseline,
  ResolvedIncident: api.ResolvedIncident,
  ResolveRequest: api.ResolveRequest,
  DeliveryView: api.DeliveryView,
  // The webhooks labelwatch sends (the document's top-level `webhooks`).
  ...WEBHOOK_DEFINITIONS,
  AlertWebhook,
  RetrainWebhook,
} satisfies Record<string, Schema>;

type Component = keyof typeof COMPONENTS;

const config: ConversionConfig = {
  target: 'draft-2020-12',
  // Query strings are converted before their pipes turn them into numbers: the wire type is a string.
  typeMode: 'input',
  errorMode: 'ignore',
  overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
};

const ref = (name: Component) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: Component, description: string) => ({ description, content: { 'application/json': { schema: ref(name) } } });
const error = (description: string) => json('Error', description);

/** Error responses many operations share: components.responses, referenced by name. */
const RESPONSES = {
  BadInput: error('Bad input, named by its path, e.g. `instances[3][2]: expected a finite number`.'),
  BadParameter: error('A bad parameter, named.'),
  NoApiKey: error('API_KEYS is set and no valid bearer key was sent.'),
  NotFound: error('Unknown model, version or id.'),
  WrongMethod: error('Wrong method; the Allow header names the right one.'),
  TooLarge: error('Body over 1 MiB.'),
  Compressed: error('A compressed body (Content-Encoding other than identity): send the JSON uncompressed.'),
  Overflow: error("Finite inputs that overflow the network's output; names the row."),
  Misconfigured: error('Invalid configuration.'),
  NoAdminToken: error('No valid admin bearer token.'),
  AdminOff: error('The admin API is off: ADMIN_TOKEN is not set.'),
};
const use = (name: keyof typeof RESPONSES) => ({ $ref: `#/components/responses/${name}` });
const param = (name: 'name' | 'version' | 'id') => ({ $ref: `#/components/parameters/${name}` });
const body = (name: Component) => ({ required: true, content: { 'application/json': { schema: ref(name) } } });
const html = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
/** An error a browser gets as a page (its Accept lists text/html) and every other client as `{"error": ...}`. */
const pageOrError = (description: string) => ({ description, content: { ...html(description).content, ...error(description).content } });

/** Security requirements: API keys when API_KEYS is set (open otherwise), the admin token, the status token. */
const API_KEY = [{ apiKey: [] }, {}];
const READER = [{ apiKey: [] }, { statusToken: [] }, {}];
const ADMIN = [{ adminToken: [] }];
const STATUS = [{ statusToken: [] }, { statusCookie: [] }, {}];

const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const PARAMETERS = {
  name: pathParam('name', 'A served model, e.g. `penguins`.'),
  version: pathParam('version', "The model's version; only the served one exists."),
  id: pathParam('id', 'An id as the API gives it.'),
};
const MODEL = param('name');
const VERSION = param('version');
const ID = param('id');

function queryParams(schema: v.ObjectSchema<v.ObjectEntries, undefined> | v.SchemaWithPipe<readonly [v.ObjectSchema<v.ObjectEntries, undefined>, ...v.PipeItem<unknown, unknown, v.BaseIssue<unknown>>[]]>) {
  const object = 'pipe' in schema ? schema.pipe[0] : schema;
  return Object.entries(object.entries).map(([name, entry]) => {
    const s = toJsonSchema(entry as Schema, config) as Json;
    const { description, ...rest } = s;
    delete rest.$schema;
    return { name, in: 'query', required: false, description, schema: rest };
  });
}

const STANDARD_ERRORS = { '404': use('NotFound'), '405': use('WrongMethod') };
const PREDICT_ERRORS = {
  '400': use('BadInput'),
  '401': use('NoApiKey'),
  ...STANDARD_ERRORS,
  '413': use('TooLarge'),
  '415': use('Compressed'),
  '422': use('Overflow'),
  '503': use('Misconfigured'),
};

function servingOps(prefix: string, versioned: boolean) {
  const params = versioned ? [MODEL, VERSION] : [MODEL];
  const tf = (verb: 'predict' | 'classify') => ({
    post: {
      tags: ['TF Serving REST'],
      summary: verb === 'predict' ? 'Predict (row or columnar format)' : 'Classify (examples and context)',
      security: API_KEY,
      parameters: params,
      requestBody: body(verb === 'predict' ? 'TfPredictRequest' : 'TfClassifyRequest'),
      responses: { '200': json(verb === 'predict' ? 'TfPredictResponse' : 'TfClassifyResponse', 'Probabilities per row.'), ...PREDICT_ERRORS },
    },
  });
  const status = {
    get: {
      tags: ['TF Serving REST'],
      summary: 'Model status',
      parameters: params,
      responses: { '200': json('ModelStatus', 'The served version, AVAILABLE.'), ...STANDARD_ERRORS },
    },
    post: { tags: ['TF Serving REST'], summary: 'Not allowed: POST to :predict or :classify', parameters: params, responses: STANDARD_ERRORS },
  };
  return {
    [`${prefix}`]: status,
    [`${prefix}:predict`]: tf('predict'),
    [`${prefix}:classify`]: tf('classify'),
    [`${prefix}/metadata`]: {
      get: {
        tags: ['TF Serving REST'],
        summary: 'Model metadata with signature_def',
        parameters: params,
        responses: { '200': json('TfModelMetadata', 'GetModelMetadataResponse plus the package metadata.'), ...STANDARD_ERRORS },
      },
    },
  };
}

function kserveOps(prefix: string, versioned: boolean) {
  const params = versioned ? [MODEL, VERSION] : [MODEL];
  return {
    [prefix]: {
      get: { tags: ['KServe V2'], summary: 'Model metadata', parameters: params, responses: { '200': json('V2ModelMetadata', 'Inputs and outputs.'), ...STANDARD_ERRORS } },
    },
    [`${prefix}/ready`]: {
      get: {
        tags: ['KServe V2'],
        summary: 'Model ready',
        parameters: params,
        responses: { '200': json('V2ModelReady', 'Loaded.'), ...STANDARD_ERRORS, '503': json('V2ModelReady', 'The model failed to load.') },
      },
    },
    [`${prefix}/infer`]: {
      post: {
        tags: ['KServe V2'],
        summary: 'Inference',
        security: API_KEY,
        parameters: params,
        requestBody: body('V2InferRequest'),
        responses: { '200': json('V2InferResponse', 'The outputs asked for, in that order.'), ...PREDICT_ERRORS },
      },
    },
  };
}

function adminOp(summary: string, ok: [Component, string], extra: Record<string, unknown> = {}, parameters: unknown[] = [ID], status = '200') {
  return {
    tags: ['Admin'],
    summary,
    security: ADMIN,
    parameters,
    responses: {
      [status]: json(...ok),
      '401': use('NoAdminToken'),
      '403': use('AdminOff'),
      '404': use('NotFound'),
      ...extra,
    },
  };
}

const queryParam = (name: string, description: string) => ({ name, in: 'query', required: false, schema: { type: 'string' }, description });
const VIEW_PARAMS = [
  queryParam('range', `Time range shown: one of ${Object.keys(RANGES).join(', ')}.`),
  queryParam('history', `Days of resolved incidents listed: a whole number from 1 to ${MAX_HISTORY_DAYS} (default ${HISTORY_DAYS}).`),
];
const TOKEN_PARAM = queryParam('token', 'The status token, once: answered with a cookie and a 303 to the same page without it.');

/**
 * A status page route. `of`: the path parameter of a page of one model or incident (404 when unknown); `view`: it
 * takes ?range= and ?history= (400 when bad). Its errors are a page saying what to do next when Accept lists
 * text/html (a browser), else the JSON error.
 */
const statusPage = (summary: string, { of, view }: { of?: unknown; view: boolean }) => ({
  get: {
    tags: ['Status page'],
    summary,
    security: STATUS,
    parameters: [...(of ? [of] : []), ...(view ? VIEW_PARAMS : []), TOKEN_PARAM],
    responses: {
      '200': html('The page.'),
      '303': { description: 'After ?token=: the same page, now with the cookie.' },
      ...(view ? { '400': pageOrError('A bad `range` or `history`, named; the page links the accepted values.') } : {}),
      '401': pageOrError('STATUS_TOKEN is set and none was presented; the page is a form asking for it.'),
      ...(of ? { '404': pageOrError('No such model or incident; the page links the overview.') } : {}),
    },
  },
});

const header = (name: string, description: string) => ({ name, in: 'header', required: true, schema: { type: 'string' }, description });
const SIGNED = [
  header('webhook-id', 'The delivery id, `msg_<26 characters>`: the same on every attempt; a receiver handles each id once.'),
  header('webhook-timestamp', 'Unix seconds of this attempt.'),
  header('webhook-signature', '`v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`, keyed with the base64 after `whsec_` (Standard Webhooks).'),
];
const RECEIVED = {
  '2XX': { description: 'Received. 408, 425, 429, 5xx, a timeout or a network error: retried with backoff (honouring Retry-After); any other status: the delivery is dead.' },
};

/** What labelwatch POSTs to the receivers it is configured with (OpenAPI 3.1 `webhooks`). */
const WEBHOOKS = {
  alert: {
    post: {
      tags: ['Webhooks'],
      summary: 'Alert webhook (ALERT_WEBHOOK_URL): incident.opened, incident.updated (escalation), incident.resolved',
      parameters: SIGNED,
      requestBody: body('AlertWebhook'),
      responses: RECEIVED,
    },
  },
  retrain: {
    post: {
      tags: ['Webhooks'],
      summary: 'Retraining webhook (RETRAIN_WEBHOOK_URL): retrain.requested, once per incident, when it opens',
      parameters: [...SIGNED, header('idempotency-key', 'The incident id (also `data.idempotency_key`): start one retraining per key.')],
      requestBody: body('RetrainWebhook'),
      responses: RECEIVED,
    },
  },
};

function build(version: string): Json {
  const schemas = toJsonSchemaDefs(COMPONENTS, config) as unknown as Record<string, Json>;
  for (const s of Object.values(schemas)) delete s.$schema;
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'labelwatch',
      version,
      description:
        'Serves TensorFlow.js classifiers in the TF Serving REST and KServe V2 shapes and watches what they answer. ' +
        'Every error is `{"error": "<what is wrong and where>"}`. An unknown path is 404 and a known path with the wrong method is 405, both with that body.',
    },
    tags: [
      { name: 'TF Serving REST' },
      { name: 'KServe V2', description: 'Open Inference Protocol, REST.' },
      { name: 'Monitoring' },
      { name: 'Admin', description: 'Incidents and deliveries; needs ADMIN_TOKEN.' },
      { name: 'Status page' },
      { name: 'Webhooks', description: 'Sent by labelwatch, signed per Standard Webhooks; see docs/webhooks.md.' },
    ],
    paths: {
      ...servingOps('/v1/models/{name}', false),
      ...servingOps('/v1/models/{name}/versions/{version}', true),
      '/v1/models/{name}/windows': {
        get: {
          tags: ['Monitoring'],
          summary: 'Time windows of the served version, newest first',
          security: READER,
          parameters: [MODEL, ...queryParams(WindowsQuery)],
          responses: {
            '200': json('WindowsResponse', 'The windows in [since, until).'),
            '400': use('BadParameter'),
            '401': error('API_KEYS or STATUS_TOKEN is set and neither was sent.'),
            ...STANDARD_ERRORS,
          },
        },
      },
      '/v2': { get: { tags: ['KServe V2'], summary: 'Server metadata', responses: { '200': json('V2ServerMetadata', 'Name and version.'), '405': STANDARD_ERRORS['405'] } } },
      '/v2/health/live': { get: { tags: ['KServe V2'], summary: 'Server live', responses: { '200': json('V2Live', 'Live.'), '405': STANDARD_ERRORS['405'] } } },
      '/v2/health/ready': {
        get: {
          tags: ['KServe V2'],
          summary: 'Server ready: every model loaded',
          responses: { '200': json('V2Ready', 'Ready.'), '405': STANDARD_ERRORS['405'], '503': json('V2Ready', 'A model failed to load.') },
        },
      },
      ...kserveOps('/v2/models/{name}', false),
      ...kserveOps('/v2/models/{name}/versions/{version}', true),
      '/v1/incidents': { get: adminOp('List incidents, newest first', ['IncidentList', 'Incidents.'], { '400': use('BadParameter') }, queryParams(IncidentsQuery)) },
      '/v1/incidents/{id}': { get: adminOp('One incident with windows, diagnosis, remedies and deliveries', ['IncidentDetail', 'The incident.']) },
      '/v1/incidents/{id}/ack': { post: adminOp('Acknowledge', ['IncidentView', 'Acknowledged.'], { '409': error('Already resolved.') }) },
      '/v1/incidents/{id}/resolve': {
        post: {
          ...adminOp('Resolve by hand (notifies like an automatic resolution); optionally adopt its traffic as the baseline', ['ResolvedIncident', 'Resolved (resolved_now: false when it already was).'], {
            '400': use('BadInput'),
            '409': error('rebaseline refused: a model defect, an incident the monitor resolved, a version no longer served, or an incident a later one followed; nothing was resolved.'),
            '413': use('TooLarge'),
          }),
          requestBody: { ...body('ResolveRequest'), required: false },
        },
      },
      '/v1/deliveries/{id}/retry': {
        post: adminOp('Give a dead delivery a fresh budget', ['DeliveryView', 'Queued again.'], { '409': error('Only a dead delivery can be retried.') }, [ID], '202'),
      },
      '/health': { get: { tags: ['Monitoring'], summary: 'Liveness of the Worker', responses: { '200': json('Health', 'Up.') } } },
      '/openapi.json': {
        get: { tags: ['Monitoring'], summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
      '/': statusPage('Status page: every model', { view: true }),
      '/status': statusPage('Status page: every model', { view: true }),
      '/models/{name}': statusPage('Status page of one model', { of: MODEL, view: true }),
      '/incidents/{id}': statusPage('Incident page', { of: ID, view: false }),
    },
    webhooks: WEBHOOKS,
    components: {
      schemas,
      responses: RESPONSES,
      parameters: PARAMETERS,
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'One of API_KEYS. Without API_KEYS these routes are open.' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN. Without it the admin API answers 403.' },
        statusToken: { type: 'http', scheme: 'bearer', description: 'STATUS_TOKEN. Without it the status page is open.' },
        statusCookie: { type: 'apiKey', in: 'cookie', name: 'labelwatch_status', description: 'Set by opening a status page with ?token=<STATUS_TOKEN>.' },
      },
    },
  };
}

let cached: { version: string; doc: Json } | undefined;

/** The document (built on first use; a pure function of the schemas and the version). */
export function openApiDocument(version: string): Json {
  if (cached?.version !== version) cached = { version, doc: build(version) };
  return cached.doc;
}
