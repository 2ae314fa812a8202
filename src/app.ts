import { performance } from 'node:perf_hooks';
import { Hono } from 'hono';
import { quotaRequestRoutes } from './api/quota-requests.js';
import { readRoutes } from './api/read.js';
import { standingRoutes } from './api/standing.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { sessionOf } from './dashboard/session-reader.js';
import { isClientAbort } from './http/body.js';
import { TAGS_HEADER, withTags } from './attribution/tags.js';
import { withClientRequestId } from './http/client-request-id.js';
import { invalidRequest, isDenial, type Denial } from './http/denial.js';
import { isLedgerUnavailable } from './ledger/unavailable.js';
import { requestHeader, type AppContext, type AppEnv, type OnDenied } from './http/env.js';
import { errorResponse } from './http/openai-error.js';
import { forwardTarget, parseTarget, strictTargets, targetRefused } from './http/target.js';
import { bearerAuth } from './middleware/bearer-auth/index.js';
import { bodyLimit } from './middleware/body-limit/index.js';
import { featureRate } from './middleware/feature-rate/index.js';
import { requestTiming } from './middleware/request-timing/index.js';
import { sessionCookie } from './middleware/session-cookie/index.js';
import { observabilityRoutes } from './observability/routes.js';
import { planOwnership } from './ownership/guard.js';
import { admit, MAX_BODY } from './proxy/admit.js';
import { findEndpoint, isUnbilled } from './proxy/endpoints.js';
import { refusedOnProxy } from './proxy/refused.js';
import { relay, type ClientRequest } from './proxy/relay.js';
import { realtimeRoutes } from './realtime/routes.js';
import { reconcileRoutes } from './reconcile/routes.js';
import type { Runtime } from './runtime.js';

const notFound = (c: AppContext) =>
  errorResponse({
    kind: 'not_found',
    message: `Invalid URL (${c.req.method} ${c.req.path})`,
    param: null,
    code: null,
  } satisfies Denial);

/**
 * A `/v1/...` request past its middleware (timing → route → bearer auth → body limit → feature
 * rate): admitted as its endpoint's entry in the endpoint table says (proxy/endpoints.ts,
 * proxy/admit.ts) — a metered JSON or upload endpoint on its estimate, a creation of deferred work
 * on what it can cost, a retrieve/cancel of a billed object and a pass-through with a row without a
 * hold; then it is forwarded, metered and settled (proxy/relay.ts).
 */
async function proxy(rt: Runtime, c: AppContext, onDenied: OnDenied): Promise<Response> {
  const { started, now, endpoint, feature } = c.var;
  const { incoming, outgoing } = c.env;
  // The strict-target middleware let this target through: match, meter and forward its raw path.
  const target = parseTarget(incoming.url ?? '/');
  if ('refused' in target) return onDenied(c, targetRefused(target.refused));
  const path = target.path;
  const method = incoming.method ?? 'GET';
  // hono answers HEAD by running the GET route and dropping its body, which a relayed response cannot survive; OpenAI's API has no HEAD.
  if (method === 'HEAD')
    return onDenied(c, {
      kind: 'method_not_allowed',
      message: 'HEAD is not supported; use GET.',
      allow: 'GET, POST, DELETE',
    });
  const principal = withTags(
    withClientRequestId(c.var.principal, incoming.headers['x-client-request-id']),
    rt.config.companies[c.var.principal.companyId]!,
    incoming.headers[TAGS_HEADER],
  );
  if (isDenial(principal)) return onDenied(c, principal);
  const owned = await planOwnership(rt, principal, method, path);
  if (isDenial(owned)) return onDenied(c, owned);
  const admitted = await admit({
    rt,
    principal,
    endpoint,
    method,
    path,
    url: incoming.url ?? '/',
    incoming,
    contentType: requestHeader(c, 'content-type') ?? '',
    feature,
    ownership: owned,
    now,
  });
  if ('kind' in admitted) return onDenied(c, admitted);
  rt.metrics?.admission(path, performance.now() - started);
  return relay(
    rt,
    {
      method: method as ClientRequest['method'],
      pathAndQuery: forwardTarget(target),
      headers: incoming.headers,
      outgoing,
    },
    admitted,
    started,
  );
}

/**
 * The HTTP application: the OpenAI API under `/v1` (see `proxy`), tollgate's own API under
 * `/tollgate/v1`, `/healthz`, `/readyz`, `/metrics`, and OpenAI-shaped errors for unknown routes,
 * oversized bodies and unexpected failures.
 */
export function createApp(rt: Runtime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const onDenied = refusedOnProxy(rt);
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
  // Client secrets and WebRTC calls: answered by tollgate itself, never passed through.
  realtimeRoutes(app, rt);
  app.use('/v1/*', requestTiming({ clock: () => rt.clock() }), async (c, next) => {
    // The route: a metered endpoint, a known free path, or (as `unknownPaths` says) a 404 or a pass-through.
    const endpoint = findEndpoint(c.env.incoming.method ?? 'GET', c.req.path);
    if (!endpoint && !isUnbilled(c.req.path) && rt.config.unknownPaths !== 'passthrough') return notFound(c);
    c.set('endpoint', endpoint);
    return next();
  });
  app.use('/v1/*', bearerAuth({ credentials: rt, clock: () => rt.clock(), onDenied }));
  app.use('/v1/*', bodyLimit({ maxBytes: MAX_BODY, onDenied }));
  app.use(
    '/v1/*',
    featureRate({ features: () => rt.config.features, when: (c) => c.get('endpoint') !== undefined, onDenied }),
  );
  app.all('/v1/*', (c) => proxy(rt, c, onDenied));
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
