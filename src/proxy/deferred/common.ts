import type { Principal } from '../../auth/principal.js';
import { invalidRequest, isDenial, type Denial } from '../../http/denial.js';
import type { FeatureRate } from '../../http/env.js';
import type { FileEstimate, HoldRequest } from '../../ledger/port.js';
import type { Priced } from '../../pricing/price.js';
import { place, type AdmissionDeps, type Admitted } from '../admission.js';
import type { Endpoint } from '../endpoints.js';

/**
 * What the admissions of work that finishes later (batches, fine-tuning jobs, videos) share: the
 * estimate of the input file a request names, and the hold itself.
 */

type Json = Record<string, unknown>;

/**
 * The estimate of the file `body[param]` names, read when it was uploaded through tollgate
 * (src/files/), or the 400 to answer (`invalid_request_error`, `param`): the field is missing, the
 * file was never read by tollgate (uploaded with the Uploads API or straight to the upstream:
 * `file_not_estimated`), was uploaded for another purpose, or could not be estimated (a line too
 * long or not valid JSON: `file_not_estimable`, naming the line). Another company's file never gets
 * here: its reference is refused with 404 before admission (src/ownership/references.ts).
 */
export async function fileEstimateFor(
  rt: AdmissionDeps,
  principal: Principal,
  body: Json,
  param: 'input_file_id' | 'training_file',
  purpose: 'batch' | 'fine-tune',
): Promise<FileEstimate | Denial> {
  const id = body[param];
  if (typeof id !== 'string' || id.length === 0)
    return invalidRequest(`Missing required parameter: '${param}'.`, param);
  const what = purpose === 'batch' ? 'a batch' : 'a fine-tuning job';
  const e = await rt.ledger.fileEstimates.get(id);
  if (!e || e.companyId !== principal.companyId)
    return invalidRequest(
      `tollgate never read file ${id}, so it cannot hold ${what} on it: upload the file through tollgate (POST /v1/files with purpose "${purpose}"). Files uploaded with the Uploads API (/v1/uploads) or directly to OpenAI cannot be held.`,
      param,
      'file_not_estimated',
    );
  if (e.purpose !== purpose)
    return invalidRequest(
      `File ${id} was uploaded with purpose "${e.purpose}"; ${what} needs a file uploaded with purpose "${purpose}".`,
      param,
      'file_not_estimated',
    );
  if (e.unusable !== null || e.models.length === 0)
    return invalidRequest(
      `tollgate could not estimate file ${id} (${e.unusable ?? 'no lines'}), so it cannot hold ${what} on it: fix the file and upload it again.`,
      param,
      'file_not_estimable',
    );
  return e;
}

/**
 * Places the hold of a deferred creation (`want`) and returns the request on its way upstream with
 * its body unchanged, or the denial (`rate_limited`, `insufficient_quota`). `model` is the model the
 * grants must cover (null: grants covering every model, for a batch over several models).
 * `rateLimited: false` skips the per-minute limits: a batch or training job of millions of tokens
 * could never fit a tokens-per-minute bucket, and OpenAI limits them apart from live requests
 * (batch queue limits); grants and quotas still apply in full.
 */
export async function admitHeld(
  rt: AdmissionDeps,
  principal: Principal,
  endpoint: Endpoint,
  request: {
    model: string | null;
    want: HoldRequest;
    body: Uint8Array;
    priced?: Priced;
    feature?: FeatureRate;
    /** Apply the per-minute rate limits (default true); batches and jobs skip them, see `admitHeld`. */
    rateLimited?: boolean;
  },
  now: Date,
): Promise<Admitted | Denial> {
  const { model, want, body, priced, feature } = request;
  const placed = await place(
    rt,
    principal,
    { endpoint: endpoint.path, requestedModel: model, stream: false, feature: feature?.name ?? null },
    want,
    now,
    request.rateLimited ?? true,
  );
  if (isDenial(placed)) return placed;
  return {
    requestId: placed.requestId,
    principal,
    endpoint,
    held: true,
    model,
    stream: false,
    body,
    hideUsage: false,
    priced,
    feature,
    quotas: placed.quotas,
    headers: placed.headers,
  };
}
