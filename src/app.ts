import { performance } from 'node:perf_hooks';
import { Hono } from 'hono';
import { quotaRequestRoutes } from './api/quota-requests.js';
import { readRoutes } from './api/read.js';
import { standingRoutes } from './api/standing.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { sessionOf } from './dashboard/session-reader.js';
import { isClientAbort, readBody } from './http/body.js';
import { TAGS_HEADER, withTags } from './attribution/tags.js';
import { withClientRequestId } from './http/client-request-id.js';
import { invalidRequest, isDenial, type Denial } from './http/denial.js';
import { isLedgerUnavailable } from './ledger/unavailable.js';
import { requestHeader, type AppContext, type AppEnv, type OnDenied } from './http/env.js';
import { watchFilesUpload } from './files/index.js';
import { withFileEstimate } from './files/record.js';
import { errorResponse } from './http/openai-error.js';
import { forwardTarget, parseTarget, strictTargets, targetRefused } from './http/target.js';
import { bearerAuth } from './middleware/bearer-auth/index.js';
import { bodyLimit } from './middleware/body-limit/index.js';
import { featureRate } from './middleware/feature-rate/index.js';
import { requestTiming } from './middleware/request-timing/index.js';
import { sessionCookie } from './middleware/session-cookie/index.js';
import { observabilityRoutes } from './observability/routes.js';
import { planOwnership } from './ownership/guard.js';
import { keepsObjects } from './ownership/plan-request.js';
import { refuseForeignReferences } from './ownership/references.js';
import { admitMultipart, openRow, type Admitted } from './proxy/admission.js';
import { admitJson } from './proxy/admit-json.js';
import { creationAdmitter } from './proxy/deferred/index.js';
import { findEndpoint, isUnbilled } from './proxy/endpoints.js';
import { refusedOnProxy } from './proxy/refused.js';
import { relay, type ClientRequest } from './proxy/relay.js';
import { realtimeRoutes } from './realtime/routes.js';
import { reconcileRoutes } from './reconcile/routes.js';
import type { Runtime } from './runtime.js';

/** Largest request body accepted (bytes). OpenAI accepts up to 50 MB of image input per request. */
const MAX_BODY = 64 * 1024 * 1024;

const notFound = (c: AppContext) =>
  errorResponse({
    kind: 'not_found',
    message: `Invalid URL (${c.req.method} ${c.req.path})`,
    param: null,
    code: null,
  } satisfies Denial);

/**
 * A `/v1/...` request past its middleware (timing → route → bearer auth → body limit → feature
 * rate), by route: a metered JSON or upload endpoint is parsed, estimated and admitted on its
 * estimate, a retrieve/cancel of a billed object and a pass-through get a row without a hold; then
 * it is forwarded, metered and settled (proxy/relay.ts).
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
  const upload = method === 'GET' ? undefined : incoming;
  let admitted: Admitted | Denial;
  let fileUpload: ReturnType<typeof watchFilesUpload>;
  if (!endpoint) {
    // A batch input or training file is estimated as it streams through (src/files/).
    fileUpload = watchFilesUpload(rt, principal, method, path, incoming, requestHeader(c, 'content-type') ?? '');
    // A JSON body passed through is read first, to refuse references to other companies' objects.
    const body =
      method === 'POST' && /^application\/json/i.test(requestHeader(c, 'content-type') ?? '')
        ? await readBody(incoming, MAX_BODY)
        : (fileUpload?.body ?? upload);
    if (body === 'too_large') admitted = { kind: 'too_large', limitBytes: MAX_BODY };
    else
      admitted =
        (body instanceof Uint8Array ? await refuseForeignReferences(rt, principal, body) : undefined) ??
        (await openRow(rt, principal, undefined, path, body, false, now));
  } else if (creationAdmitter(endpoint)) {
    // A batch, fine-tuning job or video: held at creation on what it can cost (proxy/deferred/).
    const raw = await readBody(incoming, MAX_BODY);
    admitted =
      raw === 'too_large'
        ? { kind: 'too_large', limitBytes: MAX_BODY }
        : ((await refuseForeignReferences(rt, principal, raw)) ??
          (await creationAdmitter(endpoint)!(
            rt,
            principal,
            endpoint,
            raw,
            requestHeader(c, 'content-type') ?? '',
            feature,
            now,
          )));
  } else if (endpoint.body === 'json') {
    const raw = await readBody(incoming, MAX_BODY);
    admitted =
      raw === 'too_large'
        ? { kind: 'too_large', limitBytes: MAX_BODY }
        : ((await refuseForeignReferences(rt, principal, raw)) ??
          (await admitJson(rt, principal, endpoint, raw, feature, now)));
  } else if (endpoint.body === 'multipart') {
    admitted = await admitMultipart(
      rt,
      principal,
      endpoint,
      incoming,
      requestHeader(c, 'content-type') ?? '',
      feature,
      now,
    );
  } else {
    admitted = await openRow(
      rt,
      principal,
      endpoint,
      path,
      upload,
      new URL(incoming.url ?? '/', 'http://x').searchParams.get('stream') === 'true',
      now,
    );
  }
  if ('kind' in admitted) return onDenied(c, admitted);
  admitted.ownership = keepsObjects(owned, method, path, admitted.body);
  if (fileUpload) admitted.ownership = withFileEstimate(admitted.ownership, fileUpload.observe);
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
