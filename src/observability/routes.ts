import { performance } from 'node:perf_hooks';
import type { Hono } from 'hono';
import { operatorOf } from '../api/read.js';
import { errorResponse, invalidApiKey } from '../http/errors.js';
import type { Runtime } from '../runtime.js';

/**
 * Health, readiness and metrics endpoints, and the two hooks the proxy route calls to time and
 * count requests (`refused`, `forwarded`).
 */

/** Why tollgate is not ready, or undefined when it is: the ledger answers a trivial query (`ping`) and a config is loaded. */
export async function notReady(rt: Runtime): Promise<string | undefined> {
  if (!rt.config || !rt.config.companies) return 'no config loaded';
  try {
    await rt.ledger.ping();
  } catch (err) {
    return `the ledger did not answer: ${(err as Error).message}`;
  }
  return undefined;
}

/**
 * `GET /readyz` (200 `{"status":"ready"}`, else 503 with the reason) and `GET /metrics` (Prometheus
 * text; when `metrics.requireAuth` is set, only with an operator key). `/healthz` (liveness) is
 * registered by the app itself.
 */
export function observabilityRoutes(app: Hono, rt: Runtime): void {
  app.get('/readyz', async (c) => {
    const reason = await notReady(rt);
    return reason ? c.json({ status: 'unavailable', reason }, 503) : c.json({ status: 'ready' });
  });
  app.get('/metrics', async (c) => {
    if (!rt.metrics) return errorResponse(404, { message: 'Metrics are not enabled on this server.', type: 'invalid_request_error', param: null, code: null });
    if (rt.config.metrics?.requireAuth) {
      const op = operatorOf(rt, c.req.header('authorization'), rt.clock());
      if (op instanceof Response) return op;
      if (!op) return invalidApiKey('/metrics requires an operator key (metrics.requireAuth is set).');
    }
    const { body, contentType } = await rt.metrics.scrape();
    return c.body(body, 200, { 'content-type': contentType });
  });
}

/** The error code of a refusal, from its status and headers (the body is a stream and is left alone). */
function refusalCode(res: Response): string {
  switch (res.status) {
    case 401:
      return 'invalid_api_key';
    case 404:
      return 'not_found';
    case 413:
      return 'request_too_large';
    case 429:
      return res.headers.get('x-should-retry') === 'false' ? 'insufficient_quota' : 'rate_limit_exceeded';
    default:
      return res.status >= 400 && res.status < 500 ? 'invalid_request' : String(res.status);
  }
}

/** A request the proxy answered itself before forwarding: times its admission, counts and logs it, and returns `res`. */
export function refused(rt: Runtime, path: string, companyId: string | null, res: Response, started: number): Response {
  const code = refusalCode(res);
  if (rt.metrics) {
    rt.metrics.admission(path, performance.now() - started);
    rt.metrics.refused(companyId, path, code);
  }
  rt.log.info({ company: companyId, path, status: res.status, code }, 'request refused');
  return res;
}
