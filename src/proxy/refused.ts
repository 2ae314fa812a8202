import { performance } from 'node:perf_hooks';
import { refusalLabel, type Denial } from '../http/denial.js';
import type { AppContext, OnDenied } from '../http/env.js';
import { toOpenAIError } from '../http/openai-error.js';
import type { Runtime } from '../runtime.js';

/**
 * The `/v1` answer to a denial, before anything went upstream: times the admission
 * (`tollgate_admission_latency_ms`), counts the refusal by its kind (`tollgate_refusals_total`,
 * code label from `refusalLabel`), logs it (level info) and answers OpenAI's error.
 */
export function refusedOnProxy(rt: Pick<Runtime, 'metrics' | 'log'>): OnDenied {
  return (c: AppContext, denial: Denial) =>
    refused(rt, c.req.path, c.get('principal')?.companyId ?? null, denial, c.get('started'));
}

/** The same outside a hono route (the Realtime upgrade): `started` is when the request arrived (performance.now() ms). */
export function refused(
  rt: Pick<Runtime, 'metrics' | 'log'>,
  path: string,
  companyId: string | null,
  denial: Denial,
  started: number,
): Response {
  const code = refusalLabel(denial);
  if (rt.metrics) {
    rt.metrics.admission(path, performance.now() - started);
    rt.metrics.refused(companyId, path, code);
  }
  const error = toOpenAIError(denial);
  rt.log.info({ company: companyId, path, status: error.status, code }, 'request refused');
  return error.toResponse();
}
