import { performance } from 'node:perf_hooks';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { quotaRequestRoutes } from './api/quota-requests.js';
import { errorResponse } from './http/errors.js';
import { admit, authenticate, newRequestId } from './proxy/admission.js';
import { METERED_ENDPOINTS, type MeteredEndpoint } from './proxy/endpoints.js';
import { relay, type ClientRequest } from './proxy/relay.js';
import type { Runtime } from './runtime.js';

/** Largest JSON request body accepted (bytes). OpenAI accepts up to 50 MB of image input per request. */
const MAX_JSON_BODY = 64 * 1024 * 1024;

function clientRequest(c: Context): ClientRequest {
  const url = new URL(c.req.url);
  return { method: c.req.method as ClientRequest['method'], pathAndQuery: url.pathname + url.search, headers: c.req.raw.headers, signal: c.req.raw.signal };
}

async function metered(rt: Runtime, c: Context, endpoint: MeteredEndpoint): Promise<Response> {
  const started = performance.now();
  const now = rt.clock();
  const principal = await authenticate(rt, c.req.header('authorization'), now);
  if (principal instanceof Response) return principal;
  const raw = new Uint8Array(await c.req.arrayBuffer());
  const admitted = admit(rt, principal, endpoint, raw, now);
  if (admitted instanceof Response) return admitted;
  return relay(rt, clientRequest(c), { admitted, meter: endpoint.streamMeter }, admitted.body, started);
}

async function passThrough(rt: Runtime, c: Context): Promise<Response> {
  const started = performance.now();
  const now = rt.clock();
  const principal = await authenticate(rt, c.req.header('authorization'), now);
  if (principal instanceof Response) return principal;
  const requestId = newRequestId();
  rt.ledger.open({ id: requestId, companyId: principal.companyId, keyId: principal.keyId, userId: principal.userId, sessionId: principal.sessionId, endpoint: c.req.path, requestedModel: c.req.param('model') ?? null, stream: false }, now);
  return relay(rt, clientRequest(c), { requestId }, c.req.raw.body ?? undefined, started);
}

/**
 * The HTTP application: the metered OpenAI endpoints, `GET /v1/models` passed through, `/healthz`,
 * and OpenAI-shaped errors for unknown routes, oversized bodies and unexpected failures.
 */
export function createApp(rt: Runtime): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  const limit = bodyLimit({
    maxSize: MAX_JSON_BODY,
    onError: () => errorResponse(413, { message: `Request body too large: the limit is ${MAX_JSON_BODY} bytes.`, type: 'invalid_request_error', param: null, code: 'request_too_large' }),
  });
  for (const endpoint of METERED_ENDPOINTS.values()) app.post(endpoint.path, limit, (c) => metered(rt, c, endpoint));
  quotaRequestRoutes(app, rt);
  app.get('/v1/models', (c) => passThrough(rt, c));
  app.get('/v1/models/:model', (c) => passThrough(rt, c));
  const notFound = (c: Context) => errorResponse(404, { message: `Invalid URL (${c.req.method} ${c.req.path})`, type: 'invalid_request_error', param: null, code: null });
  app.all('/v1/*', (c) => (rt.config.unknownPaths === 'passthrough' ? passThrough(rt, c) : notFound(c)));
  app.notFound(notFound);
  app.onError((err) => {
    rt.log.error({ err }, 'unhandled error');
    return errorResponse(500, { message: 'tollgate hit an internal error; the request was not forwarded or was recorded as failed.', type: 'server_error', param: null, code: 'internal_error' });
  });
  return app;
}
