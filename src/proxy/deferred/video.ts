import busboy from 'busboy';
import type { Principal } from '../../auth/principal.js';
import { invalidRequest, isDenial, type Denial } from '../../http/denial.js';
import type { FeatureRate } from '../../http/env.js';
import { parseJsonBody, type JsonObject } from '../../http/json-body.js';
import type { HoldRequest } from '../../ledger/port.js';
import { NO_TOKENS, type Usage } from '../../metering/usage.js';
import { costMicroUsd } from '../../pricing/price.js';
import { VIDEO_DEFAULTS, videoSeconds } from '../../settlement/handlers/video.js';
import type { AdmissionDeps, Admitted } from '../admission.js';
import { priceModel } from '../admit-json.js';
import type { Endpoint } from '../endpoints.js';
import { admitHeld } from './common.js';

/** True for a `multipart/form-data` content type (any case). */
export const isMultipart = (contentType: string): boolean => /^multipart\/form-data/i.test(contentType);

/** The text fields of a multipart/form-data body (first value of each; files skipped), or undefined when it is not one. */
export function formFields(raw: Uint8Array, contentType: string): Promise<Map<string, string> | undefined> {
  return new Promise((resolve) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: { 'content-type': contentType }, limits: { fieldSize: 64 * 1024 } });
    } catch {
      return resolve(undefined);
    }
    const fields = new Map<string, string>();
    parser.on('field', (name, value) => {
      if (!fields.has(name)) fields.set(name, value);
    });
    parser.on('file', (_name, stream) => stream.resume());
    parser.on('close', () => resolve(fields));
    parser.on('error', () => resolve(undefined));
    parser.end(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
  });
}

/**
 * What a video request asks for: `model` (default sora-2), `seconds` (`"4"`, `"8"`, `"12"`; default
 * 4) and `size`, from a JSON body or a multipart form (a reference image), or the 400 to answer.
 * `json` is the body already parsed, when it was (else a JSON body is parsed here).
 * Source: openai/openai-openapi, CreateVideoBody.
 */
export async function videoRequest(
  raw: Uint8Array,
  contentType: string,
  json?: JsonObject,
): Promise<{ model: string; seconds: number; size?: string } | Denial> {
  let get: (name: string) => unknown;
  if (isMultipart(contentType)) {
    const fields = await formFields(raw, contentType);
    if (!fields) return invalidRequest('The multipart/form-data body could not be read.');
    get = (name) => fields.get(name);
  } else {
    const parsed = json ? { json } : parseJsonBody(raw);
    if (isDenial(parsed)) return parsed;
    get = (name) => (Object.hasOwn(parsed.json, name) ? parsed.json[name] : undefined);
  }
  const model = get('model') ?? VIDEO_DEFAULTS.model;
  if (typeof model !== 'string' || model.length === 0)
    return invalidRequest("Invalid 'model': expected a string.", 'model');
  const given = get('seconds');
  const seconds = given === undefined ? VIDEO_DEFAULTS.seconds : videoSeconds(given);
  if (seconds === undefined || seconds > 60)
    return invalidRequest('Invalid \'seconds\': expected "4", "8" or "12".', 'seconds');
  const size = get('size');
  if (size !== undefined && typeof size !== 'string')
    return invalidRequest("Invalid 'size': expected a string.", 'size');
  return { model, seconds, ...(size ? { size } : {}) };
}

/**
 * Admission of `POST /v1/videos`: held on its exact cost, seconds × the model's per-second price
 * for its size (`perSecond`), in micro-USD (`costOnly`: payable by USD and unlimited grants only,
 * like DALL·E images). A model without a price is refused (400 `model_not_priced`) unless
 * unpriced models are `unbilled`. The video id in the answer defers the row (`defers: 'video'`),
 * settled from the completed video's `seconds`. `raw` is the body as received (sent on unchanged),
 * `json` the same parsed when it is JSON.
 */
export async function admitVideo(
  rt: AdmissionDeps,
  principal: Principal,
  endpoint: Endpoint,
  raw: Uint8Array,
  json: JsonObject | undefined,
  contentType: string,
  feature: FeatureRate | undefined,
  now: Date,
): Promise<Admitted | Denial> {
  const asked = await videoRequest(raw, contentType, json);
  if (isDenial(asked)) return asked;
  const priced = priceModel(rt.config, asked.model, now, principal.companyId);
  if (isDenial(priced)) return priced;
  const units: Usage = { ...NO_TOKENS, videoSeconds: asked.seconds, ...(asked.size ? { videoSize: asked.size } : {}) };
  const cost = priced ? costMicroUsd(units, priced.price) : 0;
  const want: HoldRequest = { minTokens: cost, maxTokens: cost, clamp: false, maxPicoPerToken: 0, costOnly: true };
  return admitHeld(rt, principal, endpoint, { model: asked.model, want, body: raw, priced, feature }, now);
}
