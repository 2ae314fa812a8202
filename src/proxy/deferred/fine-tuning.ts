import type { Principal } from '../../auth/principal.js';
import { invalidRequest, isDenial, type Denial } from '../../http/denial.js';
import type { FeatureRate } from '../../http/env.js';
import type { Config } from '../../config/schema.js';
import type { HoldRequest } from '../../ledger/port.js';
import { picoPerToken } from '../../pricing/price.js';
import { trainingPrice } from '../../pricing/training.js';
import type { AdmissionDeps, Admitted } from '../admission.js';
import { validateBody } from '../admit-json.js';
import type { Endpoint } from '../endpoints.js';
import { admitHeld, fileEstimateFor } from './common.js';

type Json = Record<string, unknown>;

/**
 * The epochs OpenAI picks for `n_epochs: "auto"`, as its cookbook states the default ("Data
 * preparation and analysis for chat model fine-tuning": TARGET_EPOCHS 3, raised so that at least
 * 100 examples are trained, up to 25 epochs; lowered so that at most 25,000 are, down to 1).
 */
export function autoEpochs(examples: number): number {
  const n = Math.max(1, examples);
  if (n * 3 < 100) return Math.min(25, Math.floor(100 / n));
  if (n * 3 > 25_000) return Math.max(1, Math.floor(25_000 / n));
  return 3;
}

/**
 * The epochs a job asks for: `hyperparameters.n_epochs`, or `method.<type>.hyperparameters.n_epochs`
 * (supervised, dpo, reinforcement); `"auto"` or absent → `admission.fineTuningAutoEpochs`, else
 * `autoEpochs(examples)`. A value that is neither `"auto"` nor an integer from 1 to 50 is a 400.
 */
export function epochsOf(body: Json, examples: number, admission: Config['admission']): number | Denial {
  const method = body.method && typeof body.method === 'object' ? (body.method as Json) : undefined;
  const typed = method && typeof method.type === 'string' ? method[method.type] : undefined;
  const fromMethod = typed && typeof typed === 'object' ? (typed as Json).hyperparameters : undefined;
  const hp = (body.hyperparameters ?? fromMethod) as Json | undefined;
  const given = hp && typeof hp === 'object' ? hp.n_epochs : undefined;
  if (given === undefined || given === null || given === 'auto')
    return admission.fineTuningAutoEpochs ?? autoEpochs(examples);
  if (typeof given === 'number' && Number.isInteger(given) && given >= 1 && given <= 50) return given;
  return invalidRequest('Invalid \'n_epochs\': expected "auto" or an integer from 1 to 50.', 'n_epochs');
}

/**
 * Admission of `POST /v1/fine_tuning/jobs`: held on the training file's counted tokens (src/files/)
 * × the job's epochs, at the model's training price (USD grants reserve tokens × `training`). A
 * model without a training price is refused (400 `model_not_priced`) unless unpriced models are
 * `unbilled`. The job id in the answer defers the row (`defers: 'fine_tuning.job'`), settled from
 * its `trained_tokens`. `raw` is the body as received (sent on unchanged), `body` the same parsed.
 */
export async function admitFineTuningJob(
  rt: AdmissionDeps,
  principal: Principal,
  endpoint: Endpoint,
  raw: Uint8Array,
  body: Json,
  feature: FeatureRate | undefined,
  now: Date,
): Promise<Admitted | Denial> {
  const valid = validateBody(body, {});
  if (isDenial(valid)) return valid;
  const model = valid.model;
  const priced = trainingPrice(rt.config, model, now, principal.companyId);
  if (!priced && rt.config.admission.unpricedModels === 'reject') return { kind: 'model_not_priced', model };
  const estimate = await fileEstimateFor(rt, principal, body, 'training_file', 'fine-tune');
  if (isDenial(estimate)) return estimate;
  const examples = estimate.models.reduce((n, m) => n + m.lines, 0);
  const epochs = epochsOf(body, examples, rt.config.admission);
  if (isDenial(epochs)) return epochs;
  const tokens = estimate.models.reduce((n, m) => n + m.maxTokens, 0) * epochs;
  const multiplier = feature?.multiplier ?? 1;
  const held = Math.max(1, Math.ceil(tokens * multiplier));
  const want: HoldRequest = {
    minTokens: held,
    maxTokens: held,
    clamp: false,
    maxPicoPerToken: priced ? Math.ceil(picoPerToken(priced.price.training ?? 0) / multiplier) : 0,
  };
  return admitHeld(rt, principal, endpoint, { model, want, body: raw, priced, feature, rateLimited: false }, now);
}
