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
import type { Endpoint, EndpointAdmission } from './endpoints.js';

/** Largest request body accepted (bytes). OpenAI accepts up to 50 MB of image input per request. */
export const MAX_BODY = 64 * 1024 * 1024;

/**
 * How a `/v1` request is admitted: a metered endpoint's own (`Endpoint.admission`), or a
 * pass-through path (`passthrough`).
 */
export type Admission = EndpointAdmission | 'passthrough';

/** A `/v1` request as admission sees it: authenticated, routed, its body not yet read. */
export interface Call {
  rt: Runtime;
  principal: Principal;
  method: string;
  /** The path as received (`/v1/...`), no query. */
  path: string;
  /** The query as received, without its `?`. */
  query: string;
  /** Node's request: headers, and the body still to read. */
  incoming: IncomingMessage;
  /** The request's `content-type` ('' when none). */
  contentType: string;
  /** The metered endpoint; undefined for a pass-through. */
  endpoint: Endpoint | undefined;
  feature: FeatureRate | undefined;
  /** The request's instant: one clock reading for its whole admission (UTC). */
  now: Date;
  /** What object ownership asks of the relay (src/ownership/), before the body is known. */
  owned: OwnershipPlan | undefined;
}

/**
 * Admits a request (its row is durable when it resolves `Admitted`), or returns the denial to
 * answer. The relay follows `Admitted.ownership` when the admitter set it, else `call.owned`
 * (narrowed by `keepsObjects`).
 */
type Admitter = (call: Call) => Promise<Admitted | Denial>;

/** A JSON body read whole (at most `MAX_BODY` bytes) and parsed once, or the denial to answer. */
type JsonAdmitter = (call: Call, raw: Buffer, json: JsonObject) => Promise<Admitted | Denial>;

const tooLarge: Denial = { kind: 'too_large', limitBytes: MAX_BODY };

/**
 * Reads the body whole and parses it (`parseJsonBodyOffLoop`: strict JSON, off the event loop when
 * large), refuses a reference to another company's object (404, nothing held), then runs `admit`.
 */
function withJsonBody(admit: JsonAdmitter): Admitter {
  return async (call) => {
    const read = await readBody(call.incoming, MAX_BODY);
    if (read === 'too_large') return tooLarge;
    // A large body is parsed off the event loop; its bytes come back with the answer.
    const { raw, parsed } = await parseJsonBodyOffLoop(read);
    if (isDenial(parsed)) return parsed;
    return (await refuseForeignReferences(call.rt, call.principal, raw, parsed.json)) ?? admit(call, raw, parsed.json);
  };
}

/** The body to forward as it streams (none for a GET). */
const upload = (call: Call) => (call.method === 'GET' ? undefined : call.incoming);

/**
 * A path passed through unbilled (`isUnbilled`, or any with `unknownPaths: passthrough`): a row
 * without a hold. `POST /v1/files` uploads are estimated as they stream (src/files/); a JSON body
 * is read first to refuse references to other companies' objects — a body that does not parse as a
 * JSON object is forwarded as sent (the upstream answers it), unless it may name an object.
 */
const passThrough: Admitter = async (call) => {
  const { rt, principal, method, path, incoming, contentType, now } = call;
  const fileUpload = watchFilesUpload(rt, principal, method, path, incoming, contentType);
  let body: Buffer | Readable | undefined = fileUpload?.body ?? upload(call);
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
    admitted.ownership = withFileEstimate(keepsObjects(call.owned, method, path, body), fileUpload.observe);
  return admitted;
};

/** A JSON video request. */
const videoJson = withJsonBody((c, raw, json) =>
  admitVideo(c.rt, c.principal, c.endpoint!, raw, json, c.contentType, c.feature, c.now),
);

/**
 * The one table from a request's admission to its admitter: adding a metered endpoint is one entry
 * in `ENDPOINTS` (proxy/endpoints.ts) naming one of these.
 */
const ADMITTERS: Readonly<Record<Admission, Admitter>> = {
  json: withJsonBody((c, raw, json) => admitJson(c.rt, c.principal, c.endpoint!, raw, json, c.feature, c.now)),
  multipart: (c) => admitMultipart(c.rt, c.principal, c.endpoint!, c.incoming, c.contentType, c.feature, c.now),
  object: (c) =>
    openRow(
      c.rt,
      c.principal,
      c.endpoint,
      c.path,
      upload(c),
      new URLSearchParams(c.query).get('stream') === 'true',
      c.now,
    ),
  batch: withJsonBody((c, raw, json) => admitBatch(c.rt, c.principal, c.endpoint!, raw, json, c.feature, c.now)),
  fine_tuning_job: withJsonBody((c, raw, json) =>
    admitFineTuningJob(c.rt, c.principal, c.endpoint!, raw, json, c.feature, c.now),
  ),
  // A video is a JSON body or a form (with a reference image): read whole, parsed once when JSON.
  video: async (c) => {
    if (!isMultipart(c.contentType)) return videoJson(c);
    const raw = await readBody(c.incoming, MAX_BODY);
    if (raw === 'too_large') return tooLarge;
    return admitVideo(c.rt, c.principal, c.endpoint!, raw, undefined, c.contentType, c.feature, c.now);
  },
  passthrough: passThrough,
};

/** Admits `call` by its admission (see `ADMITTERS`). */
export function admit(admission: Admission, call: Call): Promise<Admitted | Denial> {
  return ADMITTERS[admission](call);
}
