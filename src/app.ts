import { performance } from 'node:perf_hooks';
import { Hono } from 'hono';
import { quotaRequestRoutes } from './api/quota-requests.js';
import { readRoutes } from './api/read.js';
import { standingRoutes } from './api/standing.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { sessionOf } from './dashboard/session-reader.js';
import { readBody } from './http/body.js';
import type { Denial } from './http/denial.js';
import { requestHeader, type AppContext, type AppEnv, type OnDenied } from './http/env.js';
import { errorResponse } from './http/openai-error.js';
import { bearerAuth } from './middleware/bearer-auth/index.js';
import { bodyLimit } from './middleware/body-limit/index.js';
import { featureRate } from './middleware/feature-rate/index.js';
import { requestTiming } from './middleware/request-timing/index.js';
import { sessionCookie } from './middleware/session-cookie/index.js';
import { observabilityRoutes } from './observability/routes.js';
import { admitMultipart, openRow, type Admitted } from './proxy/admission.js';
import { admitJson } from './proxy/admit-json.js';
import { findEndpoint, isUnbilled } from './proxy/endpoints.js';
import { refusedOnProxy } from './proxy/refused.js';
import { relay, type ClientRequest } from './proxy/relay.js';
import { admitClientSecret, isEphemeralSecretRequest } from './realtime/client-secrets.js';
import type { Runtime } from './runtime.js';

/** Largest request body accepted (bytes). OpenAI accepts up to 50 MB of image input per request. */
const MAX_BODY = 64 * 1024 * 1024;

const notFound = (c: AppContext) => errorResponse({ kind: 'not_found', message: `Invalid URL (${c.req.method} ${c.req.path})`, param: null, code: null } satisfies Denial);

/**
 * A `/v1/...` request past its middleware (timing → route → bearer auth → body limit → feature
 * rate), by route: a metered JSON or upload endpoint is parsed, estimated and admitted on its
 * estimate, a retrieve/cancel of a billed object and a pass-through get a row without a hold; then
 * it is forwarded, metered and settled (proxy/relay.ts).
 */
async function proxy(rt: Runtime, c: AppContext, onDenied: OnDenied): Promise<Response> {
  const { started, now, principal, endpoint, feature } = c.var;
  const { incoming, outgoing } = c.env;
  const path = c.req.path;
  const method = incoming.method ?? 'GET';
  const upload = method === 'GET' || method === 'HEAD' ? undefined : incoming;
  let admitted: Admitted | Denial;
  if (isEphemeralSecretRequest(method, path)) {
    admitted = await admitClientSecret(rt, principal, incoming, path, now);
  } else if (!endpoint) {
    admitted = await openRow(rt, principal, undefined, path, upload, false, now);
  } else if (endpoint.body === 'json') {
    const raw = await readBody(incoming, MAX_BODY);
    admitted = raw === 'too_large' ? { kind: 'too_large', limitBytes: MAX_BODY } : await admitJson(rt, principal, endpoint, raw, feature, now);
  } else if (endpoint.body === 'multipart') {
    admitted = await admitMultipart(rt, principal, endpoint, incoming, requestHeader(c, 'content-type') ?? '', feature, now);
  } else {
    admitted = await openRow(rt, principal, endpoint, path, upload, new URL(incoming.url ?? '/', 'http://x').searchParams.get('stream') === 'true', now);
  }
  if ('kind' in admitted) return onDenied(c, admitted);
  rt.metrics?.admission(path, performance.now() - started);
  return relay(rt, { method: method as ClientRequest['method'], pathAndQuery: incoming.url ?? path, headers: incoming.headers, outgoing }, admitted, started);
}

/**
 * The HTTP application: the OpenAI API under `/v1` (see `proxy`), tollgate's own API under
 * `/tollgate/v1`, `/healthz`, `/readyz`, `/metrics`, and OpenAI-shaped errors for unknown routes,
 * oversized bodies and unexpected failures.
 */
export function createApp(rt: Runtime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const onDenied = refusedOnProxy(rt);
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  observabilityRoutes(app, rt);
  // tollgate's own API reads as the dashboard's session when a GET carries its cookie and no key.
  app.use('/tollgate/v1/*', sessionCookie({ identify: async (c) => (await sessionOf(rt, c, rt.clock()))?.reader }));
  quotaRequestRoutes(app, rt);
  readRoutes(app, rt);
  standingRoutes(app, rt);
  dashboardRoutes(app, rt);
  app.use('/v1/*', requestTiming({ clock: () => rt.clock() }), async (c, next) => {
    // The route: a metered endpoint, a known free path, or (as `unknownPaths` says) a 404 or a pass-through.
    const endpoint = findEndpoint(c.env.incoming.method ?? 'GET', c.req.path);
    const ephemeral = isEphemeralSecretRequest(c.env.incoming.method ?? 'GET', c.req.path);
    if (!endpoint && !ephemeral && !isUnbilled(c.req.path) && rt.config.unknownPaths !== 'passthrough') return notFound(c);
    c.set('endpoint', endpoint);
    return next();
  });
  app.use('/v1/*', bearerAuth({ credentials: rt, clock: () => rt.clock(), onDenied }));
  app.use('/v1/*', bodyLimit({ maxBytes: MAX_BODY, onDenied }));
  app.use('/v1/*', featureRate({ features: () => rt.config.features, when: (c) => c.get('endpoint') !== undefined, onDenied }));
  app.all('/v1/*', (c) => proxy(rt, c, onDenied));
  app.notFound(notFound);
  app.onError((err, c) => {
    rt.log.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error');
    return errorResponse(err);
  });
  return app;
}
