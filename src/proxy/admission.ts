import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { authenticateBearer } from '../auth/authenticate.js';
import type { AuthFailure, Principal } from '../auth/principal.js';
import { jsonDepth, MAX_JSON_DEPTH } from '../http/json-depth.js';
import { errorResponse, insufficientQuota, invalidApiKey, invalidRequest } from '../http/errors.js';
import { standingHeaders } from '../limits/headers.js';
import { quotasFor, rateLimitsFor, type QuotaCheck } from '../limits/quotas.js';
import type { HoldRequest, RequestFacts } from '../ledger/port.js';
import { estimateRequest, type RequestEstimate } from '../metering/estimate.js';
import { watchMultipart, type MultipartSummary } from '../metering/multipart.js';
import { costMicroUsd, maxPicoPerToken, priceBook, type Priced } from '../pricing/price.js';
import { formatMicroUsd } from '../reports/money.js';
import type { Runtime } from '../runtime.js';
import type { OwnershipPlan } from '../ownership/guard.js';
import type { Endpoint } from './endpoints.js';

/**
 * A request on its way upstream. Its ledger row exists (status `held`) before the first byte is
 * sent: with a hold when it is billed on an estimate (`held`), without one for object retrievals
 * and pass-throughs.
 */
export interface Admitted {
  requestId: string;
  principal: Principal;
  /** The metered endpoint; undefined for a pass-through. */
  endpoint?: Endpoint;
  held: boolean;
  /** The model the request names; null for uploads (read from the form on the way) and object calls. */
  model: string | null;
  /** The client asked for a stream (`"stream": true`). */
  stream: boolean;
  /** The body to send upstream: the client's bytes, a re-serialisation when tollgate changed a field, or the upload stream. */
  body?: Uint8Array | string | Readable;
  /** tollgate added `stream_options.include_usage`, so the usage chunk must be hidden from the client. */
  hideUsage: boolean;
  estimate?: RequestEstimate;
  /** The price found at admission (JSON requests). */
  priced?: Priced;
  /** What an upload carried, once it has been read. */
  multipart?: Promise<MultipartSummary>;
  /** What object ownership asks of the relay: record created objects, filter a list (src/ownership/). */
  ownership?: OwnershipPlan;
  /** The feature rate applied (`x-tollgate-feature`). */
  feature?: { name: string; multiplier: number };
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

const usd = (micro: number) => `$${formatMicroUsd(micro)}`;

function quotaMessage(q: QuotaCheck, availableTokens: number, needed: number): string {
  const who = q.scope === 'user' ? `user ${q.scopeId.slice(q.scopeId.indexOf('/') + 1)}` : `key ${q.scopeId}`;
  const limit = [q.limitTokens !== undefined ? `${q.limitTokens} tokens` : '', q.limitMicroUsd !== undefined ? usd(q.limitMicroUsd) : ''].filter(Boolean).join(' and ');
  const when = q.resetsAt ? `It resets at ${q.resetsAt.toISOString()}.` : q.window === 'session' ? 'It lasts for the session; start a new session or ask your administrator.' : 'It does not reset; ask your administrator to raise it.';
  return `You exceeded your ${q.window} quota of ${limit} for ${who}: this request needs up to ${needed} tokens and ${availableTokens} are left. ${when}`;
}

/**
 * A new request id: `req_` + 32 hex digits, the first 12 the time in ms (UTC), the rest random
 * (80 bits). Time-ordered ids append to the ledger's primary-key index instead of landing at random
 * pages in it, so writing a row costs the same with 10M rows as with none (bench/). Sent to the
 * client as `x-tollgate-request-id` and upstream as `X-Client-Request-Id`.
 */
export const newRequestId = () => `req_${Date.now().toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`;

/** The feature named by `x-tollgate-feature`, or the 400 to send for an unknown one. */
export function featureOf(rt: Runtime, header: string | undefined): Admitted['feature'] | Response | undefined {
  if (header === undefined || header === '') return undefined;
  const feature = Object.hasOwn(rt.config.features, header) ? rt.config.features[header] : undefined;
  if (!feature) return invalidRequest(`Unknown feature '${header}' in x-tollgate-feature. Known features: ${Object.keys(rt.config.features).join(', ') || 'none'}.`, 'x-tollgate-feature', 'unknown_feature');
  return { name: header, multiplier: feature.multiplier };
}

type Facts = Omit<RequestFacts, 'id' | 'companyId' | 'keyId' | 'userId' | 'sessionId'>;

/**
 * Rate limits (in memory), then quotas and grants (one ledger transaction). Returns the ledger's
 * admission with the response headers, or the 429 to send. `needed` is the worst case in tokens
 * (micro-USD for a money-only request), for the refusal message and the tokens-per-minute bucket.
 */
async function place(rt: Runtime, principal: Principal, facts: Facts, want: HoldRequest, now: Date): Promise<{ requestId: string; holdTokens: number; quotas: QuotaCheck[]; headers: Record<string, string> } | Response> {
  const needed = want.maxTokens;
  const company = rt.config.companies[principal.companyId]!;
  const keyLimits = principal.keyId ? rt.keys.key(principal.keyId)?.limits : undefined;
  const rateChecks = rateLimitsFor(company, principal, keyLimits);
  const rateTokens = want.costOnly ? 0 : needed;
  const rate = rt.rateLimiter.take(rateChecks, rateTokens, now.getTime());
  const model = facts.requestedModel ?? 'this endpoint';
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
  const row = { ...facts, id: requestId, companyId: principal.companyId, keyId: principal.keyId, userId: principal.userId, sessionId: principal.sessionId, clientRequestId: principal.clientRequestId };
  const result = await rt.ledger.admit(row, want, now, quotas);
  if (!result.ok) {
    rt.rateLimiter.refund(rateChecks, rateTokens);
    const what = want.costOnly ? `${usd(needed)} (priced per unit, so only USD grants can pay for it)` : `${needed} tokens`;
    const left = want.costOnly ? usd(result.availableTokens) : `${result.availableTokens}`;
    return result.reason === 'quota'
      ? insufficientQuota(quotaMessage(result.quota, result.availableTokens, needed))
      : insufficientQuota(`You exceeded your current quota: this request needs up to ${what} and your company has ${left} left for ${model}. Ask your tollgate administrator for a larger allocation.`);
  }
  return { requestId, holdTokens: result.holdTokens, quotas, headers: { ...rate.headers, ...standingHeaders(result.standing) } };
}

/**
 * Admission of a JSON request to a metered endpoint: parse, validate, price, estimate and hold.
 * Returns the `Admitted` request, or the OpenAI-shaped error Response to send (400 for a bad body,
 * an unknown feature or an unpriced model; 429 `rate_limit_exceeded` when a per-minute limit is
 * reached, with `retry-after(-ms)`; 429 `insufficient_quota` when a quota or the grants cannot
 * cover the worst case). Nothing reaches the upstream unless this returns `Admitted`.
 */
export async function admitJson(rt: Runtime, principal: Principal, endpoint: Endpoint, raw: Uint8Array, feature: Admitted['feature'], now: Date): Promise<Admitted | Response> {
  let body: Record<string, unknown>;
  if (jsonDepth(raw) > MAX_JSON_DEPTH) return invalidRequest(`The JSON body of your request nests deeper than ${MAX_JSON_DEPTH} levels.`, null, 'json_too_deep');
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return invalidRequest('The request body must be a JSON object.');
    body = parsed as Record<string, unknown>;
  } catch (err) {
    return invalidRequest(`We could not parse the JSON body of your request. (${(err as Error).message})`);
  }
  // Moderations default to omni-moderation-latest; every other endpoint needs a model.
  const model = body.model ?? (endpoint.free ? 'omni-moderation-latest' : undefined);
  if (typeof model !== 'string' || model.length === 0) return invalidRequest('you must provide a model parameter', 'model');
  if (body.stream !== undefined && typeof body.stream !== 'boolean' && body.stream !== null) return invalidRequest("Invalid type for 'stream': expected a boolean.", 'stream');
  const stream = body.stream === true || body.stream_format === 'sse';
  const facts = { endpoint: endpoint.path, requestedModel: model, stream, feature: feature?.name ?? null };

  if (endpoint.free) {
    const requestId = newRequestId();
    await rt.ledger.open({ ...facts, id: requestId, companyId: principal.companyId, keyId: principal.keyId, userId: principal.userId, sessionId: principal.sessionId, clientRequestId: principal.clientRequestId }, now);
    return { requestId, principal, endpoint, held: false, model, stream, body: raw, hideUsage: false, feature, quotas: [], headers: {} };
  }

  const priced = priceBook(rt.config).find(model, now);
  if (!priced && rt.config.admission.unpricedModels === 'reject') {
    return invalidRequest(`The model '${model}' has no price in tollgate's price table or config, so it cannot be metered. Ask your tollgate administrator to add it under "prices".`, 'model', 'model_not_priced');
  }
  const estimate = estimateRequest(endpoint.path, model, body);
  const multiplier = feature?.multiplier ?? 1;
  let want: HoldRequest;
  let clamp = false;
  if (estimate.units) {
    const cost = priced ? costMicroUsd(estimate.units, priced.price) : 0;
    want = { minTokens: cost, maxTokens: cost, clamp: false, maxPicoPerToken: 0, costOnly: true };
  } else {
    const policy = rt.config.admission.noCeilingPolicy;
    const output = estimate.outputCeiling ?? (policy === 'clamp' ? estimate.modelMaxOutput : rt.config.admission.defaultMaxOutputTokens);
    clamp = estimate.outputCeiling === undefined && policy === 'clamp';
    want = {
      minTokens: Math.ceil(estimate.promptTokens * multiplier),
      maxTokens: Math.ceil((estimate.promptTokens + output) * multiplier),
      clamp,
      maxPicoPerToken: priced ? Math.ceil(maxPicoPerToken(priced.price) / multiplier) : 0,
    };
  }
  const placed = await place(rt, principal, { ...facts, estimatedPromptTokens: estimate.promptTokens }, want, now);
  if (placed instanceof Response) return placed;

  let changed = false;
  if (clamp && placed.holdTokens < want.maxTokens && endpoint.ceilingParam) {
    body[endpoint.ceilingParam] = Math.max(1, Math.floor((placed.holdTokens / multiplier - estimate.promptTokens) / estimate.choices));
    changed = true;
  }
  let hideUsage = false;
  if (body.stream === true && endpoint.streamUsageOption) {
    const options = body.stream_options && typeof body.stream_options === 'object' ? (body.stream_options as Record<string, unknown>) : {};
    if (options.include_usage !== true) {
      body.stream_options = { ...options, include_usage: true };
      hideUsage = changed = true;
    }
  }
  return {
    requestId: placed.requestId,
    principal,
    endpoint,
    held: true,
    model,
    stream,
    body: changed ? JSON.stringify(body) : raw,
    hideUsage,
    estimate,
    priced,
    feature,
    quotas: placed.quotas,
    headers: placed.headers,
  };
}

/**
 * Admission of an upload (multipart/form-data): its model is read from the form on the way, so the
 * hold is the configured `admission.multipartHold` (tokens, and USD for USD grants), on the
 * company's grants that cover every model. The body streams through unbuffered.
 */
export async function admitMultipart(rt: Runtime, principal: Principal, endpoint: Endpoint, upload: Readable, contentType: string, feature: Admitted['feature'], now: Date): Promise<Admitted | Response> {
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) return invalidRequest(`${endpoint.path} expects a multipart/form-data upload.`);
  const { tokens, usd: holdUsd } = rt.config.admission.multipartHold;
  const holdTokens = Math.ceil(Math.max(1, tokens) * (feature?.multiplier ?? 1));
  const want: HoldRequest = { minTokens: holdTokens, maxTokens: holdTokens, clamp: false, maxPicoPerToken: Math.ceil((holdUsd * 1e12) / holdTokens) };
  const placed = await place(rt, principal, { endpoint: endpoint.path, requestedModel: null, stream: false, feature: feature?.name ?? null }, want, now);
  if (placed instanceof Response) return placed;
  const watched = watchMultipart(upload, contentType);
  return { requestId: placed.requestId, principal, endpoint, held: true, model: null, stream: false, body: watched.body, hideUsage: false, multipart: watched.summary, feature, quotas: placed.quotas, headers: placed.headers };
}

/**
 * Opens the row of a request billed by what it returns (a Responses object or batch retrieved or
 * cancelled) or not billed at all (a pass-through): no hold, no balance check.
 */
export async function openRow(rt: Runtime, principal: Principal, endpoint: Endpoint | undefined, path: string, body: Readable | Uint8Array | undefined, stream: boolean, now: Date): Promise<Admitted> {
  const requestId = newRequestId();
  const model = /^\/v1\/models\/([^/]+)$/.exec(path)?.[1] ?? null;
  await rt.ledger.open({ id: requestId, companyId: principal.companyId, keyId: principal.keyId, userId: principal.userId, sessionId: principal.sessionId, clientRequestId: principal.clientRequestId, endpoint: endpoint?.path ?? path, requestedModel: model, stream }, now);
  return { requestId, principal, endpoint, held: false, model, stream, body, hideUsage: false, quotas: [], headers: {} };
}
