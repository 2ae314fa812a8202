import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/principal.js';
import { watchFilesUpload } from '../files/index.js';
import { withFileEstimate } from '../files/record.js';
import { readBody } from '../http/body.js';
import type { Denial } from '../http/denial.js';
import type { FeatureRate } from '../http/env.js';
import type { OwnershipPlan } from '../ownership/guard.js';
import { keepsObjects } from '../ownership/plan-request.js';
import { refuseForeignReferences } from '../ownership/references.js';
import type { Runtime } from '../runtime.js';
import { admitMultipart, openRow, type Admitted } from './admission.js';
import { admitJson } from './admit-json.js';
import { admitBatch } from './deferred/batch.js';
import { admitFineTuningJob } from './deferred/fine-tuning.js';
import { admitVideo } from './deferred/video.js';
import type { Admission, Endpoint } from './endpoints.js';

/** Largest request body read whole (bytes). OpenAI accepts up to 50 MB of image input per request. */
export const MAX_BODY = 64 * 1024 * 1024;

/**
 * A `/v1/...` request as admission sees it: authenticated, its target checked, its body not read
 * yet (`incoming` is the client's stream).
 */
export interface AdmissionRequest {
  rt: Runtime;
  principal: Principal;
  /** The metered endpoint its method and path match (proxy/endpoints.ts); undefined for a pass-through. */
  endpoint: Endpoint | undefined;
  method: string;
  /** The path as forwarded, without its query. */
  path: string;
  /** The request target as sent (`/v1/responses/resp_1?stream=true`): its query is read only by object retrievals. */
  url: string;
  incoming: IncomingMessage;
  /** The `content-type` header; empty when none was sent. */
  contentType: string;
  /** The feature rate named by `x-tollgate-feature`. */
  feature: FeatureRate | undefined;
  /** What object ownership asks of this request (src/ownership/), before admission. */
  ownership: OwnershipPlan | undefined;
  /** The request's instant (UTC). */
  now: Date;
}

/** Admits a request of one kind: its open ledger row (held or not), or the refusal to answer. */
export type Admitter = (req: AdmissionRequest & { endpoint: Endpoint }) => Promise<Admitted | Denial>;

const tooLarge: Denial = { kind: 'too_large', limitBytes: MAX_BODY };

/**
 * The body read whole (a JSON body, or a video's small form), references to other companies'
 * objects refused (404), then handed to `admit` as bytes.
 */
function readWhole(
  admit: (req: AdmissionRequest & { endpoint: Endpoint }, raw: Uint8Array) => Promise<Admitted | Denial>,
): Admitter {
  return async (req) => {
    const raw = await readBody(req.incoming, MAX_BODY);
    if (raw === 'too_large') return tooLarge;
    return (await refuseForeignReferences(req.rt, req.principal, raw)) ?? admit(req, raw);
  };
}

/**
 * How each kind of metered endpoint is admitted (the endpoint's `admission`; proxy/endpoints.ts):
 *
 * - `json`: parsed, estimated and held on the estimate (admit-json.ts).
 * - `multipart`: an upload streamed through, held on `admission.multipartHold` (admission.ts).
 * - `object`: a retrieval or cancel of a billed object: a row without a hold; the settler bills
 *   the object once it is final.
 * - `batch`, `fine_tuning.job`, `video`: work finishing later, held at creation on what it can
 *   cost (proxy/deferred/).
 */
export const ADMISSIONS: Readonly<Record<Admission, Admitter>> = {
  json: readWhole((r, raw) => admitJson(r.rt, r.principal, r.endpoint, raw, r.feature, r.now)),
  multipart: (r) => admitMultipart(r.rt, r.principal, r.endpoint, r.incoming, r.contentType, r.feature, r.now),
  object: (r) =>
    openRow(
      r.rt,
      r.principal,
      r.endpoint,
      r.path,
      r.method === 'GET' ? undefined : r.incoming,
      new URL(r.url, 'http://x').searchParams.get('stream') === 'true',
      r.now,
    ),
  batch: readWhole((r, raw) => admitBatch(r.rt, r.principal, r.endpoint, raw, r.feature, r.now)),
  'fine_tuning.job': readWhole((r, raw) => admitFineTuningJob(r.rt, r.principal, r.endpoint, raw, r.feature, r.now)),
  video: readWhole((r, raw) => admitVideo(r.rt, r.principal, r.endpoint, raw, r.contentType, r.feature, r.now)),
};

/**
 * A request to no metered endpoint (files, models, … or any path when `unknownPaths` is
 * `passthrough`): a row without a hold. A JSON body is read first, to refuse references to other
 * companies' objects; a batch input or training file uploaded to `/v1/files` is estimated as it
 * streams through (src/files/).
 */
async function admitPassThrough(req: AdmissionRequest): Promise<Admitted | Denial> {
  const { rt, principal, method, path, incoming, contentType } = req;
  const fileUpload = watchFilesUpload(rt, principal, method, path, incoming, contentType);
  const body =
    method === 'POST' && /^application\/json/i.test(contentType)
      ? await readBody(incoming, MAX_BODY)
      : (fileUpload?.body ?? (method === 'GET' ? undefined : incoming));
  if (body === 'too_large') return tooLarge;
  const refused = body instanceof Uint8Array ? await refuseForeignReferences(rt, principal, body) : undefined;
  if (refused) return refused;
  const admitted = await openRow(rt, principal, undefined, path, body, false, req.now);
  if (fileUpload) admitted.ownership = withFileEstimate(req.ownership, fileUpload.observe);
  return admitted;
}

/**
 * Admits a `/v1/...` request by its endpoint's `admission` (a pass-through when it matches none),
 * and hands on what ownership asks of it (a chat completion keeps its objects only when stored).
 * Returns the open row, or the denial to answer (nothing is held then).
 */
export async function admit(req: AdmissionRequest): Promise<Admitted | Denial> {
  const { endpoint } = req;
  const admitted = endpoint
    ? await ADMISSIONS[endpoint.admission](req as AdmissionRequest & { endpoint: Endpoint })
    : await admitPassThrough(req);
  if ('kind' in admitted) return admitted;
  admitted.ownership ??= keepsObjects(req.ownership, req.method, req.path, admitted.body);
  return admitted;
}
