import { performance } from 'node:perf_hooks';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { quotaRequestRoutes } from './api/quota-requests.js';
import { readRoutes } from './api/read.js';
import { errorResponse } from './http/errors.js';
import { forwarded, observabilityRoutes, refused } from './observability/routes.js';
import { admitJson, admitMultipart, authenticate, featureOf, openRow, type Admitted } from './proxy/admission.js';
import { findEndpoint, isUnbilled } from './proxy/endpoints.js';
import { relay, type ClientRequest } from './proxy/relay.js';
import type { Runtime } from './runtime.js';

/** Largest request body accepted (bytes). OpenAI accepts up to 50 MB of image input per request. */
const MAX_JSON_BODY = 64 * 1024 * 1024;

function clientRequest(c: Context): ClientRequest {
  const url = new URL(c.req.url);
  return { method: c.req.method as ClientRequest['method'], pathAndQuery: url.pathname + url.search, headers: c.req.raw.headers, signal: c.req.raw.signal };
}

const notFound = (c: Context) => errorResponse(404, { message: `Invalid URL (${c.req.method} ${c.req.path})`, type: 'invalid_request_error', param: null, code: null });

/**
 * Every `/v1/...` request: authenticate, then by route — a metered JSON or upload endpoint is
 * admitted on its estimate, a retrieve/cancel of a billed object and a known free path get a row
 * without a hold, and any other path is refused or passed through as `unknownPaths` says.
 */
async function proxy(rt: Runtime, c: Context): Promise<Response> {
  const started = performance.now();
  const now = rt.clock();
  const path = c.req.path;
  const endpoint = findEndpoint(c.req.method, path);
  if (!endpoint && !isUnbilled(path) && rt.config.unknownPaths !== 'passthrough') return notFound(c);
  const principal = await authenticate(rt, c.req.header('authorization'), now);
  if (principal instanceof Response) return refused(rt, path, null, principal, started);
  let admitted: Admitted | Response;
  if (!endpoint) {
    admitted = await openRow(rt, principal, undefined, path, c.req.raw.body, false, now);
  } else {
    const feature = featureOf(rt, c.req.header('x-tollgate-feature'));
    if (feature instanceof Response) return refused(rt, path, principal.companyId, feature, started);
    if (endpoint.body === 'json') admitted = await admitJson(rt, principal, endpoint, new Uint8Array(await c.req.arrayBuffer()), feature, now);
    else if (endpoint.body === 'multipart') admitted = await admitMultipart(rt, principal, endpoint, c.req.raw.body, c.req.header('content-type') ?? '', feature, now);
    else admitted = await openRow(rt, principal, endpoint, path, c.req.raw.body, c.req.query('stream') === 'true', now);
  }
  if (admitted instanceof Response) return refused(rt, path, principal.companyId, admitted, started);
  return forwarded(rt, path, started, () => relay(rt, clientRequest(c), admitted, started));
}

/**
 * The HTTP application: the OpenAI API under `/v1` (see `proxy`), tollgate's own API under
 * `/tollgate/v1`, `/healthz`, and OpenAI-shaped errors for unknown routes, oversized bodies
 * and unexpected failures.
 */
export function createApp(rt: Runtime): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  observabilityRoutes(app, rt);
  const limit = bodyLimit({
    maxSize: MAX_JSON_BODY,
    onError: () => errorResponse(413, { message: `Request body too large: the limit is ${MAX_JSON_BODY} bytes.`, type: 'invalid_request_error', param: null, code: 'request_too_large' }),
  });
  quotaRequestRoutes(app, rt);
  readRoutes(app, rt);
  app.all('/v1/*', limit, (c) => proxy(rt, c));
  app.notFound(notFound);
  app.onError((err, c) => {
    rt.log.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error');
    return errorResponse(500, { message: 'tollgate hit an internal error; the request was not forwarded or was recorded as failed.', type: 'server_error', param: null, code: 'internal_error' });
  });
  return app;
}
