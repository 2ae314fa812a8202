import { NO_TOKENS } from '../../metering/usage.js';
import type { DeferredHandler, ObjectState } from '../kinds.js';

/**
 * The `fine_tuning.job` handler: settles a fine-tuning job (`POST /v1/fine_tuning/jobs`) once it
 * is final. Source: openai/openai-openapi, schema `FineTuningJob` (`status`: `validating_files`,
 * `queued`, `running`, `succeeded`, `failed`, `cancelled`; `trained_tokens`: "the total number of
 * billable tokens processed by this fine-tuning job", null while running; `model`: the base model;
 * `error.code`).
 *
 * Charged: `trained_tokens` (as `trainedTokens`, priced at the model's `training` price per 1M) when
 * the job `succeeded`; a failed or cancelled job is charged the `trained_tokens` it reports, and
 * nothing (voided) when it reports none.
 */

type Json = Record<string, unknown>;

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;

async function readJob(job: Json): Promise<ObjectState> {
  const status = typeof job.status === 'string' ? job.status : 'unknown';
  if (!FINAL.has(status)) return { final: false, status };
  const trained = count(job.trained_tokens) ?? 0;
  const model = typeof job.model === 'string' ? job.model : undefined;
  const error = job.error && typeof job.error === 'object' ? (job.error as Json) : undefined;
  const errorCode =
    typeof error?.code === 'string' ? error.code : status === 'succeeded' ? undefined : `fine_tuning_${status}`;
  return {
    final: true,
    charge: {
      status,
      ...(trained > 0
        ? { usage: { ...NO_TOKENS, trainedTokens: trained, totalTokens: trained }, model }
        : model
          ? { model }
          : {}),
      usageSource: 'upstream',
      ...(errorCode ? { errorCode } : {}),
    },
  };
}

export const fineTuningHandler: DeferredHandler = {
  kind: 'fine_tuning.job',
  retrievePath: (id) => `/v1/fine_tuning/jobs/${encodeURIComponent(id)}`,
  read: readJob,
  // Jobs run minutes to hours: first look after a minute, then at most every 10 minutes.
  schedule: { firstMs: 60_000, maxMs: 600_000 },
};
