import {
  chatStreamMeter,
  imageStreamMeter,
  responsesStreamMeter,
  speechStreamMeter,
  transcriptionStreamMeter,
  type StreamMeter,
} from '../metering/stream-meter.js';
import type { OutputModality } from '../metering/usage.js';
import type { DeferredKind } from '../settlement/kinds.js';

/**
 * How a metered endpoint is admitted; proxy/admit.ts holds one admitter per kind.
 *
 * - `json`: a JSON request naming its `model`; admitted on an estimate (see metering/estimate.ts),
 *   metered from the response's `usage` (or its stream's).
 * - `multipart`: an upload (audio, image edits) streamed through unbuffered; its model and file size
 *   are read on the way, so it is admitted on the configured `admission.multipartHold`.
 * - `object`: a call that returns a Responses object or a batch (retrieve, cancel); it carries no
 *   estimate and bills nothing: it nudges the settler, which bills the object once it is final.
 * - `batch`, `fine_tuning.job`, `video`: the creation of work finishing later, held on what it can
 *   cost (proxy/deferred/), its body sent unchanged.
 */
export type Admission = 'json' | 'multipart' | 'object' | 'batch' | 'fine_tuning.job' | 'video';

/**
 * The OpenAI endpoints tollgate meters, and how: one entry per endpoint, from its method and path
 * to its admission, metering and settlement. Source for paths, parameters and response shapes:
 * openai/openai-openapi.
 *
 * Creations of work finishing later (`defers`: a background response, a batch, a fine-tuning job,
 * a video) are settled when the object is final (src/settlement/).
 */
export interface Endpoint {
  /** Path pattern; `:id` matches one path segment. */
  path: string;
  method: 'GET' | 'POST';
  /** How it is admitted (proxy/admit.ts). */
  admission: Admission;
  /** What the response's output tokens are, for pricing. */
  output: OutputModality;
  /** The request field that caps output tokens, set by the `clamp` policy. */
  ceilingParam?: 'max_completion_tokens' | 'max_tokens' | 'max_output_tokens';
  /** The endpoint streams usage only when asked with `stream_options.include_usage`. */
  streamUsageOption?: boolean;
  /** Builds the meter for its SSE stream. */
  streamMeter?: (hideUsage: boolean) => StreamMeter;
  /** Free of charge (moderations): recorded, never billed. */
  free?: boolean;
  /** The object billed once per id: the Responses object, a batch, a fine-tuning job, a video. */
  billsObject?: DeferredKind;
  /**
   * The request starts upstream work of this kind that may finish later: when the answer names an
   * object still pending (`PENDING_STATUSES`), the row keeps its hold and the settler settles it
   * (src/settlement/). Retrievals and cancels (`admission: 'object'`) only nudge the settler.
   */
  defers?: DeferredKind;
}

const ENDPOINTS: Endpoint[] = [
  {
    path: '/v1/chat/completions',
    method: 'POST',
    admission: 'json',
    output: 'text',
    ceilingParam: 'max_completion_tokens',
    streamUsageOption: true,
    streamMeter: chatStreamMeter,
  },
  {
    path: '/v1/completions',
    method: 'POST',
    admission: 'json',
    output: 'text',
    ceilingParam: 'max_tokens',
    streamUsageOption: true,
    streamMeter: chatStreamMeter,
  },
  {
    path: '/v1/responses',
    method: 'POST',
    admission: 'json',
    output: 'text',
    ceilingParam: 'max_output_tokens',
    streamMeter: responsesStreamMeter,
    billsObject: 'response',
    defers: 'response',
  },
  {
    path: '/v1/responses/:id',
    method: 'GET',
    admission: 'object',
    output: 'text',
    streamMeter: responsesStreamMeter,
    billsObject: 'response',
  },
  { path: '/v1/responses/:id/cancel', method: 'POST', admission: 'object', output: 'text', billsObject: 'response' },
  { path: '/v1/embeddings', method: 'POST', admission: 'json', output: 'text' },
  { path: '/v1/moderations', method: 'POST', admission: 'json', output: 'text', free: true },
  { path: '/v1/images/generations', method: 'POST', admission: 'json', output: 'image', streamMeter: imageStreamMeter },
  { path: '/v1/images/edits', method: 'POST', admission: 'multipart', output: 'image', streamMeter: imageStreamMeter },
  { path: '/v1/images/variations', method: 'POST', admission: 'multipart', output: 'image' },
  { path: '/v1/audio/speech', method: 'POST', admission: 'json', output: 'audio', streamMeter: speechStreamMeter },
  {
    path: '/v1/audio/transcriptions',
    method: 'POST',
    admission: 'multipart',
    output: 'text',
    streamMeter: transcriptionStreamMeter,
  },
  { path: '/v1/audio/translations', method: 'POST', admission: 'multipart', output: 'text' },
  // Created work settled when final: held at creation (proxy/deferred/), the body sent unchanged.
  { path: '/v1/batches', method: 'POST', admission: 'batch', output: 'text', defers: 'batch' },
  {
    path: '/v1/fine_tuning/jobs',
    method: 'POST',
    admission: 'fine_tuning.job',
    output: 'text',
    defers: 'fine_tuning.job',
  },
  { path: '/v1/videos', method: 'POST', admission: 'video', output: 'text', defers: 'video' },
  { path: '/v1/batches/:id', method: 'GET', admission: 'object', output: 'text', billsObject: 'batch' },
  { path: '/v1/batches/:id/cancel', method: 'POST', admission: 'object', output: 'text', billsObject: 'batch' },
];

/**
 * Paths passed through and recorded unbilled whatever `unknownPaths` says: they cost nothing
 * upstream (files, models, batch listing, uploads, stored items; fine-tuning jobs' and videos'
 * retrieval, listing, cancellation, events and content — their creation is metered above, and a
 * video remix, which creates a video, is not in this list).
 */
const UNBILLED: RegExp[] = [
  /^\/v1\/models(\/[^/]+)?$/,
  /^\/v1\/files(\/.*)?$/,
  /^\/v1\/uploads(\/.*)?$/,
  /^\/v1\/batches$/, // GET (POST is metered above)
  /^\/v1\/fine_tuning\/jobs(\/[^/]+(\/(cancel|events|checkpoints|pause|resume))?)?$/,
  /^\/v1\/videos(\/[^/]+(\/content)?)?$/,
  /^\/v1\/responses\/[^/]+\/input_items$/,
  /^\/v1\/responses\/[^/]+$/, // DELETE (GET is metered above)
  /^\/v1\/chat\/completions(\/[^/]+(\/messages)?)?$/, // stored completions: list, get, update, delete
];

const compiled = ENDPOINTS.map((e) => ({ e, re: new RegExp(`^${e.path.replace(/:id/g, '[^/]+')}$`) }));

/** The metered endpoint for a method and path, if any. */
export function findEndpoint(method: string, path: string): Endpoint | undefined {
  return compiled.find(({ e, re }) => e.method === method && re.test(path))?.e;
}

/** True for the known paths that are passed through unbilled (files, models, …). */
export function isUnbilled(path: string): boolean {
  return UNBILLED.some((re) => re.test(path));
}

/** The id in an object path (`/v1/responses/resp_123/cancel` → `resp_123`). */
export function objectId(path: string): string | undefined {
  return /^\/v1\/(?:responses|batches)\/([^/]+)/.exec(path)?.[1];
}
