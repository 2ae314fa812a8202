import { performance } from 'node:perf_hooks';
import { refusalLabel, type Denial } from '../http/denial.js';
import { toOpenAIError, type OpenAIError } from '../http/openai-error.js';
import type { Runtime } from '../runtime.js';

/**
 * The `/v1` answer to a denial, before anything went upstream: times the admission
 * (`tollgate_admission_latency_ms`), counts the refusal by its kind (`tollgate_refusals_total`,
 * code label from `refusalLabel`), logs it (level info) and returns OpenAI's error to answer.
 * `started` is when the request arrived (`performance.now()`, ms).
 */
export function refusal(
  rt: Pick<Runtime, 'metrics' | 'log'>,
  path: string,
  companyId: string | null,
  denial: Denial,
  started: number,
): OpenAIError {
  const code = refusalLabel(denial);
  if (rt.metrics) {
    rt.metrics.admission(path, performance.now() - started);
    rt.metrics.refused(companyId, path, code);
  }
  const error = toOpenAIError(denial);
  rt.log.info({ company: companyId, path, status: error.status, code }, 'request refused');
  return error;
}

/** The same as a fetch `Response` (the Realtime upgrade writes it on its socket). */
export function refused(
  rt: Pick<Runtime, 'metrics' | 'log'>,
  path: string,
  companyId: string | null,
  denial: Denial,
  started: number,
): Response {
  return refusal(rt, path, companyId, denial, started).toResponse();
}
