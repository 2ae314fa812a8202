import { randomUUID } from 'node:crypto';
import { authenticateBearer } from '../auth/authenticate.js';
import type { AuthFailure, Principal } from '../auth/principal.js';
import type { PriceConfig } from '../config/schema.js';
import { errorResponse, insufficientQuota, invalidApiKey, invalidRequest } from '../http/errors.js';
import { standingHeaders } from '../limits/headers.js';
import { quotasFor, rateLimitsFor, type QuotaCheck } from '../limits/quotas.js';
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
  /** The quotas the request was held against, for threshold alerts after it settles. */
  quotas: QuotaCheck[];
  /** Headers for the client's response: rate limits and the caller's standing after the hold. */
  headers: Record<string, string>;
}

const AUTH_MESSAGES: Record<AuthFailure, string> = {
  missing: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
  unknown: 'Incorrect API key provided. Ask your tollgate administrator for a valid key.',
  revoked: 'This API key has been revoked. Ask your tollgate administrator for a new key.',
  expired: 'This credential has expired. Ask your tollgate administrator for a new one.',
  invalid_token: 'Invalid user token: its signature, algorithm, claims or validity period were refused.',
};

/** Authenticates the request's bearer credential (company key or user JWT), or returns the 401 to send. */
export async function authenticate(rt: Runtime, authorization: string | undefined, now: Date): Promise<Principal | Response> {
  const result = await authenticateBearer(rt.keys, rt.jwt, authorization, now);
  return typeof result === 'string' ? invalidApiKey(AUTH_MESSAGES[result]) : result;
}

const usd = (micro: number) => `$${(micro / 1_000_000).toFixed(6)}`;

function quotaMessage(q: QuotaCheck, availableTokens: number, needed: number): string {
  const who = q.scope === 'user' ? `user ${q.scopeId.slice(q.scopeId.indexOf('/') + 1)}` : `key ${q.scopeId}`;
  const limit = [q.limitTokens !== undefined ? `${q.limitTokens} tokens` : '', q.limitMicroUsd !== undefined ? usd(q.limitMicroUsd) : ''].filter(Boolean).join(' and ');
  const when = q.resetsAt ? `It resets at ${q.resetsAt.toISOString()}.` : q.window === 'session' ? 'It lasts for the session; start a new session or ask your administrator.' : 'It does not reset; ask your administrator to raise it.';
  return `You exceeded your ${q.window} quota of ${limit} for ${who}: this request needs up to ${needed} tokens and ${availableTokens} are left. ${when}`;
}

/** A new request id: `req_` and 32 hex digits; sent to the client as `x-tollgate-request-id`. */
export const newRequestId = () => `req_${randomUUID().replaceAll('-', '')}`;

/**
 * Admission of a JSON request to a metered endpoint: parse, validate, price, estimate and hold.
 * Returns the `Admitted` request, or the OpenAI-shaped error Response to send (400 for a bad body
 * or an unpriced model; 429 `rate_limit_exceeded` when a per-minute limit is reached, with
 * `retry-after(-ms)`; 429 `insufficient_quota` when a quota or the grants cannot cover the worst
 * case). Rate limits are checked first (in memory), then quotas and grants in one transaction.
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
  const needed = estimate.promptTokens + output;

  const company = rt.config.companies[principal.companyId]!;
  const keyLimits = principal.keyId ? rt.keys.key(principal.keyId)?.limits : undefined;
  const rateChecks = rateLimitsFor(company, principal, keyLimits);
  const rate = rt.rateLimiter.take(rateChecks, needed, now.getTime());
  if (rate.refused) {
    const { type, limit, retryAfterMs } = rate.refused;
    const unit = type === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
    return errorResponse(
      429,
      { message: `Rate limit reached for ${model} on ${unit}: Limit ${limit}, Requested ${type === 'requests' ? 1 : needed}. Please try again in ${(retryAfterMs / 1000).toFixed(3)}s.`, type, param: null, code: 'rate_limit_exceeded' },
      { ...rate.headers, 'retry-after-ms': String(retryAfterMs), 'retry-after': String(Math.ceil(retryAfterMs / 1000)) },
    );
  }

  const quotas = quotasFor(company, principal, keyLimits, now);
  const requestId = newRequestId();
  const result = rt.ledger.admit(
    {
      id: requestId,
      companyId: principal.companyId,
      keyId: principal.keyId,
      userId: principal.userId,
      sessionId: principal.sessionId,
      endpoint: endpoint.path,
      requestedModel: model,
      stream,
      estimatedPromptTokens: estimate.promptTokens,
    },
    { minTokens: estimate.promptTokens, maxTokens: needed, clamp, maxPicoPerToken: maxPicoPerToken(price) },
    now,
    quotas,
  );
  if (!result.ok) {
    rt.rateLimiter.refund(rateChecks, needed);
    return result.reason === 'quota'
      ? insufficientQuota(quotaMessage(result.quota, result.availableTokens, needed))
      : insufficientQuota(`You exceeded your current quota: this request needs up to ${needed} tokens and your company has ${result.availableTokens} left for ${model}. Ask your tollgate administrator for a larger allocation.`);
  }

  let changed = false;
  if (clamp && result.holdTokens < needed && endpoint.ceilingParam) {
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
  return {
    requestId,
    principal,
    model,
    stream,
    body: changed ? JSON.stringify(body) : raw,
    hideUsage,
    estimate,
    price,
    quotas,
    headers: { ...rate.headers, ...standingHeaders(result.standing) },
  };
}
