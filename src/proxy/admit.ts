import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Principal } from '../auth/principal.js';
import { watchFilesUpload } from '../files/index.js';
import { withFileEstimate } from '../files/record.js';
import { readBody } from '../http/body.js';
import { isDenial, type Denial } from '../http/denial.js';
import type { FeatureRate } from '../http/env.js';
import type { JsonObject } from '../http/json-body.js';
import { parseJsonBodyOffLoop } from '../http/json-off-loop.js';
import type { OwnershipPlan } from '../ownership/guard.js';
import { keepsObjects } from '../ownership/plan-request.js';
import { mayReference, refuseForeignReferences } from '../ownership/references.js';
import type { Runtime } from '../runtime.js';
import { admitMultipart, openRow, type Admitted } from './admission.js';
import { admitJson } from './admit-json.js';
import { admitBatch } from './deferred/batch.js';
import { admitFineTuningJob } from './deferred/fine-tuning.js';
import { admitVideo, isMultipart } from './deferred/video.js';
import type { Admission, Endpoint } from './endpoints.js';

/** Largest request body accepted (bytes). OpenAI accepts up to 50 MB of image input per request. */
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
  /** The path as received (`/v1/...`), without its query. */
  path: string;
  /** The query as received, without its `?`: read only by object retrievals (`stream=true`). */
  query: string;
  incoming: IncomingMessage;
  /** The `content-type` header; empty when none was sent. */
  contentType: string;
  /** The feature rate named by `x-tollgate-feature`. */
  feature: FeatureRate | undefined;
  /** What object ownership asks of this request (src/ownership/), before admission. */
  ownership: OwnershipPlan | undefined;
  /** The request's instant: one clock reading for its whole admission (UTC). */
  now: Date;
}

/** A request to a metered endpoint (`endpoint` set). */
type EndpointRequest = AdmissionRequest & { endpoint: Endpoint };

/**
 * Admits a request of one kind: its open ledger row (held or not; durable when it resolves), or the
 * refusal to answer.
 */
export type Admitter = (req: EndpointRequest) => Promise<Admitted | Denial>;

const tooLarge: Denial = { kind: 'too_large', limitBytes: MAX_BODY };

/**
 * The body read whole (at most `MAX_BODY` bytes) and parsed once (`parseJsonBodyOffLoop`: strict
 * JSON, off the event loop when large), references to other companies' objects refused (404,
 * nothing held), then handed to `admit` as bytes (sent on unchanged) and as parsed JSON.
 */
function withJsonBody(
  admit: (req: EndpointRequest, raw: Buffer, json: JsonObject) => Promise<Admitted | Denial>,
): Admitter {
  return async (req) => {
    const read = await readBody(req.incoming, MAX_BODY);
    if (read === 'too_large') return tooLarge;
    // A large body is parsed off the event loop; its bytes come back with the answer.
    const { raw, parsed } = await parseJsonBodyOffLoop(read);
    if (isDenial(parsed)) return parsed;
    return (await refuseForeignReferences(req.rt, req.principal, raw, parsed.json)) ?? admit(req, raw, parsed.json);
  };
}

/** The body to forward as it streams (none for a GET). */
const upload = (req: AdmissionRequest) => (req.method === 'GET' ? undefined : req.incoming);

/** A JSON video request. */
const videoJson = withJsonBody((r, raw, json) =>
  admitVideo(r.rt, r.principal, r.endpoint, raw, json, r.contentType, r.feature, r.now),
);

/**
 * How each kind of metered endpoint is admitted (the endpoint's `admission`; proxy/endpoints.ts),
 * so adding a metered endpoint is one entry in its table naming one of these:
 *
 * - `json`: parsed, estimated and held on the estimate (admit-json.ts).
 * - `multipart`: an upload streamed through, held on `admission.multipartHold` (admission.ts).
 * - `object`: a retrieval or cancel of a billed object: a row without a hold; the settler bills
 *   the object once it is final.
 * - `batch`, `fine_tuning.job`, `video`: work finishing later, held at creation on what it can
 *   cost (proxy/deferred/).
 */
export const ADMISSIONS: Readonly<Record<Admission, Admitter>> = {
  json: withJsonBody((r, raw, json) => admitJson(r.rt, r.principal, r.endpoint, raw, json, r.feature, r.now)),
  multipart: (r) => admitMultipart(r.rt, r.principal, r.endpoint, r.incoming, r.contentType, r.feature, r.now),
  object: (r) =>
    openRow(
      r.rt,
      r.principal,
      r.endpoint,
      r.path,
      upload(r),
      new URLSearchParams(r.query).get('stream') === 'true',
      r.now,
    ),
  batch: withJsonBody((r, raw, json) => admitBatch(r.rt, r.principal, r.endpoint, raw, json, r.feature, r.now)),
  'fine_tuning.job': withJsonBody((r, raw, json) =>
    admitFineTuningJob(r.rt, r.principal, r.endpoint, raw, json, r.feature, r.now),
  ),
  // A video is a JSON body or a form (with a reference image): read whole, parsed once when JSON.
  video: async (r) => {
    if (!isMultipart(r.contentType)) return videoJson(r);
    const raw = await readBody(r.incoming, MAX_BODY);
    if (raw === 'too_large') return tooLarge;
    return admitVideo(r.rt, r.principal, r.endpoint, raw, undefined, r.contentType, r.feature, r.now);
  },
};

/**
 * A request to no metered endpoint (`isUnbilled`, or any path with `unknownPaths: passthrough`): a
 * row without a hold. `POST /v1/files` uploads are estimated as they stream (src/files/); a JSON
 * body is read first to refuse references to other companies' objects — a body that does not parse
 * as a JSON object is forwarded as sent (the upstream answers it), unless it may name an object.
 */
async function admitPassThrough(req: AdmissionRequest): Promise<Admitted | Denial> {
  const { rt, principal, method, path, incoming, contentType, now } = req;
  const fileUpload = watchFilesUpload(rt, principal, method, path, incoming, contentType);
  let body: Buffer | Readable | undefined = fileUpload?.body ?? upload(req);
  if (method === 'POST' && /^application\/json/i.test(contentType)) {
    const read = await readBody(incoming, MAX_BODY);
    if (read === 'too_large') return tooLarge;
    const { raw, parsed } = await parseJsonBodyOffLoop(read);
    if (isDenial(parsed)) {
      if (mayReference(raw)) return parsed;
    } else {
      const foreign = await refuseForeignReferences(rt, principal, raw, parsed.json);
      if (foreign) return foreign;
    }
    body = raw;
  }
  const admitted = await openRow(rt, principal, undefined, path, body, false, now);
  if (fileUpload)
    admitted.ownership = withFileEstimate(keepsObjects(req.ownership, method, path, body), fileUpload.observe);
  return admitted;
}

/**
 * Admits a `/v1/...` request by its endpoint's `admission` (`ADMISSIONS`; a pass-through when it
 * matches none), and hands on what ownership asks of it (`keepsObjects`: a chat completion keeps
 * its objects only when stored) unless its admitter already set it. Returns the open row (durable),
 * or the denial to answer (nothing is held then).
 */
export async function admit(req: AdmissionRequest): Promise<Admitted | Denial> {
  const { endpoint } = req;
  // The request itself, narrowed (no copy per request): `endpoint` is set on this branch.
  const admitted = endpoint
    ? await ADMISSIONS[endpoint.admission](req as EndpointRequest)
    : await admitPassThrough(req);
  if ('kind' in admitted) return admitted;
  admitted.ownership ??= keepsObjects(req.ownership, req.method, req.path, admitted.body);
  return admitted;
}
