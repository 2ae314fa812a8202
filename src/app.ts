import { performance } from 'node:perf_hooks';
import type { HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { quotaRequestRoutes } from './api/quota-requests.js';
import { readRoutes } from './api/read.js';
import { readBody } from './http/body.js';
import { errorResponse, isClientAbort } from './http/errors.js';
import { withClientRequestId } from './http/client-request-id.js';
import { forwardTarget, parseTarget, strictTargets } from './http/target.js';
import { observabilityRoutes, refused } from './observability/routes.js';
import { admitJson, admitMultipart, authenticate, featureOf, openRow, type Admitted } from './proxy/admission.js';
import { planOwnership } from './ownership/guard.js';
import { keepsObjects } from './ownership/plan-request.js';
import { refuseForeignReferences } from './ownership/references.js';
import { findEndpoint, isUnbilled } from './proxy/endpoints.js';
import { relay, type ClientRequest } from './proxy/relay.js';
import type { Runtime } from './runtime.js';

/** Largest request body accepted (bytes). OpenAI accepts up to 50 MB of image input per request. */
const MAX_BODY = 64 * 1024 * 1024;

const notFound = (c: Context) => errorResponse(404, { message: `Invalid URL (${c.req.method} ${c.req.path})`, type: 'invalid_request_error', param: null, code: null });

/**
 * Every `/v1/...` request: authenticate, then by route — a metered JSON or upload endpoint is
 * admitted on its estimate, a retrieve/cancel of a billed object and a known free path get a row
 * without a hold, and any other path is refused or passed through as `unknownPaths` says.
 */
async function proxy(rt: Runtime, c: Context<{ Bindings: HttpBindings }>): Promise<Response> {
  const started = performance.now();
  const now = rt.clock();
  const { incoming, outgoing } = c.env;
  // The strict-target middleware let this target through: match, meter and forward its raw path.
  const target = parseTarget(incoming.url ?? '/');
  if ('refused' in target) return notFound(c);
  const path = target.path;
  const method = incoming.method ?? 'GET';
  // hono answers HEAD by running the GET route and dropping its body, which a relayed response cannot survive; OpenAI's API has no HEAD.
  if (method === 'HEAD') return errorResponse(405, { message: 'HEAD is not supported; use GET.', type: 'invalid_request_error', param: null, code: 'method_not_allowed' }, { allow: 'GET, POST, DELETE' });
  const endpoint = findEndpoint(method, path);
  if (!endpoint && !isUnbilled(path) && rt.config.unknownPaths !== 'passthrough') return notFound(c);
  const authenticated = await authenticate(rt, incoming.headers.authorization, now);
  if (authenticated instanceof Response) return refused(rt, path, null, authenticated, started);
  const principal = withClientRequestId(authenticated, incoming.headers['x-client-request-id']);
  const owned = await planOwnership(rt, principal, method, path);
  if (owned instanceof Response) return refused(rt, path, principal.companyId, owned, started);
  const declared = Number(incoming.headers['content-length']);
  if (declared > MAX_BODY) return refused(rt, path, principal.companyId, tooLarge(), started);
  const upload = method === 'GET' || method === 'HEAD' ? undefined : incoming;
  let admitted: Admitted | Response;
  if (!endpoint) {
    // A JSON body passed through is read first, to refuse references to other companies' objects.
    const body = method === 'POST' && /^application\/json/i.test(header(incoming.headers['content-type']) ?? '') ? await readBody(incoming, MAX_BODY) : upload;
    const foreign = body instanceof Uint8Array ? await refuseForeignReferences(rt, principal, body) : undefined;
    admitted = body === 'too_large' ? tooLarge() : (foreign ?? (await openRow(rt, principal, undefined, path, body, false, now)));
  } else {
    const feature = featureOf(rt, header(incoming.headers['x-tollgate-feature']));
    if (feature instanceof Response) return refused(rt, path, principal.companyId, feature, started);
    if (endpoint.body === 'json') {
      const raw = await readBody(incoming, MAX_BODY);
      admitted = raw === 'too_large' ? tooLarge() : ((await refuseForeignReferences(rt, principal, raw)) ?? (await admitJson(rt, principal, endpoint, raw, feature, now)));
    } else if (endpoint.body === 'multipart') {
      admitted = await admitMultipart(rt, principal, endpoint, incoming, header(incoming.headers['content-type']) ?? '', feature, now);
    } else {
      admitted = await openRow(rt, principal, endpoint, path, upload, new URL(incoming.url ?? '/', 'http://x').searchParams.get('stream') === 'true', now);
    }
  }
  if (admitted instanceof Response) return refused(rt, path, principal.companyId, admitted, started);
  admitted.ownership = keepsObjects(owned, method, path, admitted.body);
  rt.metrics?.admission(path, performance.now() - started);
  return relay(rt, { method: method as ClientRequest['method'], pathAndQuery: forwardTarget(target), headers: incoming.headers, outgoing }, admitted, started);
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const tooLarge = () => errorResponse(413, { message: `Request body too large: the limit is ${MAX_BODY} bytes.`, type: 'invalid_request_error', param: null, code: 'request_too_large' });

/**
 * The HTTP application: the OpenAI API under `/v1` (see `proxy`), tollgate's own API under
 * `/tollgate/v1`, `/healthz`, and OpenAI-shaped errors for unknown routes, oversized bodies
 * and unexpected failures.
 */
export function createApp(rt: Runtime): Hono {
  const app = new Hono();
  app.use('*', strictTargets());
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  observabilityRoutes(app, rt);
  quotaRequestRoutes(app, rt);
  readRoutes(app, rt);
  app.all('/v1/*', (c) => proxy(rt, c as unknown as Context<{ Bindings: HttpBindings }>));
  app.notFound(notFound);
  app.onError((err, c) => {
    if (isClientAbort(err)) {
      rt.log.info({ method: c.req.method, path: c.req.path, err: err.message }, 'client left before its request was read');
      return errorResponse(400, { message: 'The request body was cut off.', type: 'invalid_request_error', param: null, code: 'client_disconnected' });
    }
    rt.log.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error');
    return errorResponse(500, { message: 'tollgate hit an internal error; the request was not forwarded or was recorded as failed.', type: 'server_error', param: null, code: 'internal_error' });
  });
  return app;
}
