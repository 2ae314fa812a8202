import type { Hono } from 'hono';
import type { AppEnv } from '../http/env.js';
import { errorResponse } from '../http/openai-error.js';
import { operatorAuth } from '../middleware/operator-auth/index.js';
import type { Runtime } from '../runtime.js';

/** Health, readiness and metrics endpoints. */

/** Why tollgate is not ready, or undefined when it is: the ledger answers a trivial query (`ping`) and a config is loaded. */
export async function notReady(rt: Pick<Runtime, 'config' | 'ledger'>): Promise<string | undefined> {
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
export function observabilityRoutes(
  app: Hono<AppEnv>,
  rt: Pick<Runtime, 'config' | 'ledger' | 'metrics' | 'clock'>,
): void {
  app.get('/readyz', async (c) => {
    const reason = await notReady(rt);
    return reason ? c.json({ status: 'unavailable', reason }, 503) : c.json({ status: 'ready' });
  });
  app.get(
    '/metrics',
    async (_c, next) =>
      rt.metrics
        ? next()
        : errorResponse({
            kind: 'not_found',
            message: 'Metrics are not enabled on this server.',
            param: null,
            code: null,
          }),
    operatorAuth({
      operators: () => rt.config.operators,
      clock: () => rt.clock(),
      required: true,
      when: () => rt.config.metrics?.requireAuth === true,
    }),
    async (c) => {
      const { body, contentType } = await rt.metrics!.scrape();
      return c.body(body, 200, { 'content-type': contentType });
    },
  );
}
