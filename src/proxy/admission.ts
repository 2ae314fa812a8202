import { randomUUID } from 'node:crypto';
import { bearerToken, type AuthFailure, type Principal } from '../auth/api-key.js';
import type { PriceConfig } from '../config/schema.js';
import { insufficientQuota, invalidApiKey, invalidRequest } from '../http/errors.js';
import { estimateRequest, type RequestEstimate } from '../metering/estimate.js';
import { findPrice, maxPicoPerToken } from '../pricing/price.js';
import type { Runtime } from '../runtime.js';
import type { MeteredEndpoint } from './endpoints.js';

/** A request that passed admission: its hold is placed and its ledger row exists with status `held`. */
export interface Admitted {
  requestId: string;
  principal: Principal;
  model: string;
  /** The client asked for a stream (`"stream": true`). */
  stream: boolean;
  /** The body to send upstream: the client's bytes, or a re-serialisation when tollgate changed a field. */
  body: Uint8Array | string;
  /** tollgate added `stream_options.include_usage`, so the usage chunk must be hidden from the client. */
  hideUsage: boolean;
  estimate: RequestEstimate;
  price: PriceConfig;
}

const AUTH_MESSAGES: Record<AuthFailure, string> = {
  missing: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
  unknown: 'Incorrect API key provided. Ask your tollgate administrator for a valid key.',
  revoked: 'This API key has been revoked. Ask your tollgate administrator for a new key.',
  expired: 'This API key has expired. Ask your tollgate administrator for a new key.',
};

/** Authenticates the request's bearer credential, or returns the 401 to send. */
export function authenticate(rt: Runtime, authorization: string | undefined, now: Date): Principal | Response {
  const result = rt.keys.authenticate(bearerToken(authorization), now);
  return typeof result === 'string' ? invalidApiKey(AUTH_MESSAGES[result]) : result;
}

/** A new request id: `req_` and 32 hex digits; sent to the client as `x-tollgate-request-id`. */
export const newRequestId = () => `req_${randomUUID().replaceAll('-', '')}`;

/**
 * Admission of a JSON request to a metered endpoint: parse, validate, price, estimate and hold.
 * Returns the `Admitted` request, or the OpenAI-shaped error Response to send (400 for a bad body
 * or an unpriced model, 429 `insufficient_quota` when the balance cannot cover the estimate).
 * Nothing reaches the upstream unless this returns `Admitted`.
 */
export function admit(rt: Runtime, principal: Principal, endpoint: MeteredEndpoint, raw: Uint8Array, now: Date): Admitted | Response {
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return invalidRequest('The request body must be a JSON object.');
    body = parsed as Record<string, unknown>;
  } catch (err) {
    return invalidRequest(`We could not parse the JSON body of your request. (${(err as Error).message})`);
  }
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0) return invalidRequest("you must provide a model parameter", 'model');
  const price = findPrice(rt.config.prices, model);
  if (!price) return invalidRequest(`The model '${model}' has no price in tollgate's config, so it cannot be metered. Ask your tollgate administrator to add it under "prices".`, 'model', 'model_not_priced');
  if (body.stream !== undefined && typeof body.stream !== 'boolean' && body.stream !== null) return invalidRequest("Invalid type for 'stream': expected a boolean.", 'stream');

  const stream = body.stream === true;
  const estimate = estimateRequest(endpoint.path, model, body);
  const policy = rt.config.admission.noCeilingPolicy;
  const output = estimate.outputCeiling ?? (policy === 'clamp' ? estimate.modelMaxOutput : rt.config.admission.defaultMaxOutputTokens);
  const clamp = estimate.outputCeiling === undefined && policy === 'clamp';
  const requestId = newRequestId();
  const result = rt.ledger.admit(
    { id: requestId, companyId: principal.companyId, keyId: principal.keyId, endpoint: endpoint.path, requestedModel: model, stream, estimatedPromptTokens: estimate.promptTokens },
    { minTokens: estimate.promptTokens, maxTokens: estimate.promptTokens + output, clamp, maxPicoPerToken: maxPicoPerToken(price) },
    now,
  );
  if (!result.ok) {
    return insufficientQuota(
      `You exceeded your current quota: this request needs up to ${estimate.promptTokens + output} tokens and your company has ${result.availableTokens} left. Ask your tollgate administrator for a larger allocation.`,
    );
  }

  let changed = false;
  if (clamp && result.holdTokens < estimate.promptTokens + output && endpoint.ceilingParam) {
    body[endpoint.ceilingParam] = Math.max(1, Math.floor((result.holdTokens - estimate.promptTokens) / estimate.choices));
    changed = true;
  }
  let hideUsage = false;
  if (stream && endpoint.streamUsageOption) {
    const options = body.stream_options && typeof body.stream_options === 'object' ? (body.stream_options as Record<string, unknown>) : {};
    if (options.include_usage !== true) {
      body.stream_options = { ...options, include_usage: true };
      hideUsage = changed = true;
    }
  }
  return { requestId, principal, model, stream, body: changed ? JSON.stringify(body) : raw, hideUsage, estimate, price };
}
