import { isDenial } from '../../http/denial.js';
import { NO_TOKENS } from '../../metering/usage.js';
import { autoEpochs, epochsOf } from '../../proxy/deferred/fine-tuning.js';
import { OBJECT_UNRESOLVED, type DeferredHandler, type ReadContext } from '../handler.js';
import type { ObjectState } from '../kinds.js';

/**
 * The `fine_tuning.job` handler: settles a fine-tuning job (`POST /v1/fine_tuning/jobs`) once it
 * is final. Source: openai/openai-openapi, schema `FineTuningJob` (`status`: `validating_files`,
 * `queued`, `running`, `succeeded`, `failed`, `cancelled`; `trained_tokens`: "the total number of
 * billable tokens processed by this fine-tuning job", null while running; `model`: the base model;
 * `training_file`, `hyperparameters.n_epochs`; `error.code`). Any other status (a paused job) is
 * taken as still running.
 *
 * - Charged `trained_tokens` (as `trainedTokens`, priced at the model's `training` price per 1M),
 *   whatever the final status.
 * - Failed or cancelled without `trained_tokens`: voided.
 * - Succeeded without `trained_tokens`, or still pending at its deadline (it may train later, out of
 *   tollgate's sight): *estimated* — the training file's counted tokens × the job's epochs, as held
 *   at admission (`admission.interruptedPolicy: "release"` voids it instead); the deadline's charge
 *   carries `upstream_object_unresolved`.
 */

type Json = Record<string, unknown>;

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;

/** The tokens a job trains on by tollgate's count: its training file's tokens × its epochs (0 when the file is unknown). */
async function estimatedTraining(job: Json, ctx: ReadContext): Promise<number> {
  const file = typeof job.training_file === 'string' ? await ctx.fileEstimate(job.training_file) : undefined;
  if (!file) return 0;
  const examples = file.models.reduce((n, m) => n + m.lines, 0);
  const epochs = epochsOf(job, examples, ctx.admission);
  return file.models.reduce((n, m) => n + m.maxTokens, 0) * (isDenial(epochs) ? autoEpochs(examples) : epochs);
}

async function readJob(job: Json, ctx: ReadContext): Promise<ObjectState> {
  const status = typeof job.status === 'string' ? job.status : 'unknown';
  const pending = !FINAL.has(status);
  if (pending && !ctx.overdue) return { final: false, status };
  const model = (typeof job.model === 'string' ? job.model : undefined) ?? ctx.row.model ?? undefined;
  const error = job.error && typeof job.error === 'object' ? (job.error as Json) : undefined;
  const errorCode = pending
    ? OBJECT_UNRESOLVED
    : typeof error?.code === 'string'
      ? error.code
      : status === 'succeeded'
        ? undefined
        : `fine_tuning_${status}`;
  const base = { status, ...(model ? { model } : {}), ...(errorCode ? { errorCode } : {}) };
  const trained = count(job.trained_tokens) ?? 0;
  if (trained > 0) {
    const usage = { ...NO_TOKENS, trainedTokens: trained, totalTokens: trained };
    return { final: true, charge: { ...base, usage, usageSource: 'upstream' } };
  }
  if (status === 'failed' || status === 'cancelled')
    return { final: true, charge: { ...base, usageSource: 'upstream' } };
  const estimate = await estimatedTraining(job, ctx);
  if (estimate === 0) return { final: true, charge: { ...base, usageSource: 'estimated' } };
  const usage = { ...NO_TOKENS, trainedTokens: estimate, totalTokens: estimate };
  return { final: true, charge: { ...base, usage, usageSource: 'estimated' } };
}

export const fineTuningHandler: DeferredHandler = {
  kind: 'fine_tuning.job',
  retrievePath: (id) => `/v1/fine_tuning/jobs/${encodeURIComponent(id)}`,
  read: readJob,
  // Jobs run minutes to hours, and may queue for long: first look after a minute, then at most
  // every 10 minutes; settled 7 days after creation whatever happens.
  schedule: { firstMs: 60_000, maxMs: 600_000, maxAgeMs: 7 * 24 * 3_600_000 },
};
