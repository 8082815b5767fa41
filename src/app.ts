// Builds the Hono app: error shape, middleware and route modules. The Worker and the tests use the same factory.
import { newHono } from './routes/hono';
import { HTTPException } from 'hono/http-exception';
import type { Env } from './config';
import { ConfigError } from './config';
import { predictRoutes } from './routes/predict';
import { windowsRoutes } from './routes/windows';
import { statusRoutes } from './routes/status';
import { incidentRoutes } from './routes/incidents';
import { jsonError, methodNotAllowed } from './routes/errors';
import { truncate } from './format';
// Built from the API's schemas at build time by the registry step (scripts/generate-registry.ts, contract/openapi.ts).
import openApi from './contract/openapi.generated.json';

export function createApp() {
  const app = newHono<{ Bindings: Env }>();
  app.route('/', predictRoutes);
  app.route('/', windowsRoutes);
  app.route('/', statusRoutes);
  app.route('/', incidentRoutes);
  app.get('/health', (c) => c.json({ ok: true }));
  app.get('/openapi.json', (c) => c.json(openApi));
  // A known path asked with another method is a 405 naming the allowed one, not a 404 (the OpenAPI document says so).
  app.all('/health', methodNotAllowed('GET'));
  app.all('/openapi.json', methodNotAllowed('GET'));

  // The path as sent, cut short as every client-chosen name in an error is: a 60 KB URL is not echoed back whole.
  app.notFound((c) => jsonError(c, 404, `path: ${c.req.method} ${truncate(new URL(c.req.url).pathname, 120)} does not exist`));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return jsonError(c, err.status as 400, err.message || 'bad request');
    if (err instanceof ConfigError) {
      console.error(`config: ${err.message}`);
      return jsonError(c, 503, `server misconfigured: ${err.message}`);
    }
    // Never a stack trace to the client; the log keeps it.
    console.error(`unhandled: ${c.req.method} ${new URL(c.req.url).pathname}: ${err.stack ?? err.message}`);
    return jsonError(c, 500, 'internal error');
  });
  return app;
}
