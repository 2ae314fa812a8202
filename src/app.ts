import { Hono, type Context } from 'hono';
import { quotaRequestRoutes } from './api/quota-requests.js';
import { readRoutes } from './api/read.js';
import { standingRoutes } from './api/standing.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { sessionOf } from './dashboard/session-reader.js';
import { isClientAbort } from './http/body.js';
import { invalidRequest, type Denial } from './http/denial.js';
import type { AppEnv } from './http/env.js';
import { isLedgerUnavailable } from './ledger/unavailable.js';
import { errorResponse } from './http/openai-error.js';
import { strictTargets } from './http/target.js';
import { sessionCookie } from './middleware/session-cookie/index.js';
import { observabilityRoutes } from './observability/routes.js';
import { realtimeRoutes } from './realtime/routes.js';
import { reconcileRoutes } from './reconcile/routes.js';
import type { Runtime } from './runtime.js';

const notFound = (c: Context) =>
  errorResponse({
    kind: 'not_found',
    message: `Invalid URL (${c.req.method} ${c.req.path})`,
    param: null,
    code: null,
  } satisfies Denial);

/**
 * The HTTP application for everything but the OpenAI API (served on Node's own request and
 * response, proxy/serve.ts): tollgate's own API under `/tollgate/v1`, the dashboard, `/healthz`,
 * `/readyz`, `/metrics`, and OpenAI-shaped errors for unknown routes and unexpected failures.
 */
export function createApp(rt: Runtime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Before any route, so before authentication costs anything: only origin-form targets without tricks.
  app.use('*', strictTargets());
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  observabilityRoutes(app, rt);
  // tollgate's own API reads as the dashboard's session when a GET carries its cookie and no key.
  app.use('/tollgate/v1/*', sessionCookie({ identify: async (c) => (await sessionOf(rt, c, rt.clock()))?.reader }));
  quotaRequestRoutes(app, rt);
  readRoutes(app, rt);
  standingRoutes(app, rt);
  reconcileRoutes(app, rt);
  dashboardRoutes(app, rt);
  // Client secrets and WebRTC calls (`/v1/realtime/…` over HTTP): answered by tollgate itself, never passed through.
  realtimeRoutes(app, rt);
  app.notFound(notFound);
  app.onError((err, c) => {
    // A ledger that could not answer: 503 with retry-after (the guard logged the outage once).
    if (isLedgerUnavailable(err)) return errorResponse(err);
    if (isClientAbort(err)) {
      rt.log.info(
        { method: c.req.method, path: c.req.path, err: err.message },
        'client left before its request was read',
      );
      return errorResponse(invalidRequest('The request body was cut off.', null, 'client_disconnected'));
    }
    rt.log.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error');
    return errorResponse(err);
  });
  return app;
}
