import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Principal } from '../auth/principal.js';
import type { Denial } from '../http/denial.js';
import type { FeatureRate } from '../http/env.js';
import { standingHeaders } from '../limits/headers.js';
import { quotasFor, rateLimitsFor, type QuotaCheck } from '../limits/quotas.js';
import type { HoldRequest, RequestFacts } from '../ledger/port.js';
import type { RequestEstimate } from '../metering/estimate.js';
import { watchMultipart, type MultipartSummary } from '../metering/multipart.js';
import type { Priced } from '../pricing/price.js';
import type { Runtime } from '../runtime.js';
import type { OwnershipPlan } from '../ownership/guard.js';
import type { Endpoint } from './endpoints.js';
import type { PromptCount } from './prompt.js';
import type { Beyond } from './worst-case.js';

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
  /** The estimate made at admission; its `promptTokens` may be a bound (ask `prompt`). */
  estimate?: RequestEstimate;
  /** The prompt's tokens, counted when first asked (JSON requests; see `PromptCount`). */
  prompt?: PromptCount;
  /** The price found at admission (JSON requests). */
  priced?: Priced;
  /** What an upload carried, once it has been read. */
  multipart?: Promise<MultipartSummary>;
  /** What object ownership asks of the relay: record created objects, filter a list (src/ownership/). */
  ownership?: OwnershipPlan;
  /** The feature rate applied (`x-tollgate-feature`). */
  feature?: FeatureRate;
  /** The quotas the request was held against, for threshold alerts after it settles. */
  quotas: QuotaCheck[];
  /** Built-in tools and service tier the request asked for (JSON requests; see worst-case.ts). */
  beyond?: Beyond;
  /** Headers for the client's response: rate limits and the caller's standing after the hold. */
  headers: Record<string, string>;
}

/** What admission reads: the config, the key index (a key's own limits), the rate limiter, the ledger, and the grant mirror (renewals due). */
export type AdmissionDeps = Pick<Runtime, 'config' | 'keys' | 'rateLimiter' | 'ledger' | 'grantMirror'>;

/**
 * A new request id: `req_` + 32 hex digits, the first 12 the time in ms (UTC), the rest random
 * (80 bits). Time-ordered ids append to the ledger's primary-key index instead of landing at random
 * pages in it, so writing a row costs the same with 10M rows as with none (bench/). Sent to the
 * client as `x-tollgate-request-id` and upstream as `X-Client-Request-Id`.
 */
export const newRequestId = () => `req_${Date.now().toString(16).padStart(12, '0')}${randomHex10()}`;

/** 4 KiB of CSPRNG bytes, drawn once and sliced per id (one `getrandom` per 409 ids instead of one each). */
let entropy = randomBytes(4096);
let used = 0;
/** 10 random bytes as 20 hex digits, from `entropy`. */
function randomHex10(): string {
  if (used + 10 > entropy.length) {
    entropy = randomBytes(4096);
    used = 0;
  }
  const hex = entropy.toString('hex', used, used + 10);
  used += 10;
  return hex;
}

/**
 * A request's row: `facts` with its identity — `requestId`, the principal's company, key and user,
 * `facts.sessionId` or else the principal's (the JWT's `sid`), and the principal's
 * `X-Client-Request-Id`. Every field is written out in one order: on Node 20 (V8 11.3) a spread
 * such as `{ ...facts, ...identity }` gives each request a hidden class of its own, old-generation
 * garbage that cost a major GC every few seconds at 1,000 RPS (see `Exchange` in relay.ts).
 */
export function requestRow(requestId: string, principal: Principal, facts: Facts): RequestFacts {
  return {
    id: requestId,
    companyId: principal.companyId,
    keyId: principal.keyId,
    userId: principal.userId,
    sessionId: facts.sessionId ?? principal.sessionId,
    clientRequestId: principal.clientRequestId ?? null,
    endUser: facts.endUser ?? null,
    tags: facts.tags ?? principal.tags ?? null,
    endpoint: facts.endpoint,
    requestedModel: facts.requestedModel,
    stream: facts.stream,
    estimatedPromptTokens: facts.estimatedPromptTokens,
    conversationId: facts.conversationId ?? null,
    feature: facts.feature ?? null,
    forwardedLater: facts.forwardedLater ?? false,
  };
}

/** The row's facts besides its identity (endpoint, model, stream, feature, estimate); `sessionId` overrides the principal's (a Realtime session). */
export type Facts = Omit<RequestFacts, 'id' | 'companyId' | 'keyId' | 'userId'>;

/** A hold placed: the row's id, the tokens held, the quotas it was held against and the response headers. */
export interface Placed {
  requestId: string;
  holdTokens: number;
  quotas: QuotaCheck[];
  headers: Record<string, string>;
}

/**
 * Rate limits (in memory, or shared by replicas), then quotas and grants (one ledger call). Returns the hold placed with
 * the response headers, or the `rate_limited` / `insufficient_quota` denial. `want.maxTokens` is
 * the worst case in tokens (micro-USD for a money-only request), for the refusal message and the
 * tokens-per-minute bucket. A refused hold gives its rate-limit tokens back. `rateLimited: false`
 * skips the per-minute limits (a Realtime transcription, charged after the fact).
 */
export async function place(
  rt: AdmissionDeps,
  principal: Principal,
  facts: Facts,
  want: HoldRequest,
  now: Date,
  rateLimited = true,
): Promise<Placed | Denial> {
  const company = rt.config.companies[principal.companyId]!;
  const keyLimits = principal.keyId ? rt.keys.key(principal.keyId)?.limits : undefined;
  const rateChecks = rateLimited ? rateLimitsFor(company, principal, keyLimits) : [];
  // A tokens-per-minute bucket takes the worst case on the counted prompt, never on a bound of it.
  let request = want;
  if (request.exact && rateChecks.some((c) => c.tokensPerMinute)) {
    const exact = request.exact();
    request = exact.want;
    facts.estimatedPromptTokens = exact.promptTokens;
  }
  const needed = request.maxTokens;
  const rateTokens = request.costOnly ? 0 : needed;
  const rate = rateChecks.length ? await rt.rateLimiter.take(rateChecks, rateTokens, now.getTime()) : undefined;
  const model = facts.requestedModel ?? 'this endpoint';
  if (rate?.refused) {
    const { type, limit, retryAfterMs } = rate.refused;
    return {
      kind: 'rate_limited',
      type,
      limit,
      requested: type === 'requests' ? 1 : needed,
      model,
      retryAfterMs,
      headers: { ...rate.headers },
    };
  }
  // The first admission past a recurring allocation's period renews it (see GrantMirror).
  if (now.getTime() >= rt.grantMirror.dueAt) await rt.grantMirror.renewIfDue(rt.config, now);
  const quotas = quotasFor(company, principal, keyLimits, now, facts.endUser);
  const requestId = newRequestId();
  const row = requestRow(requestId, principal, facts);
  const result = await rt.ledger.admit(row, request, now, quotas);
  if (!result.ok) {
    await rt.rateLimiter.refund(rateChecks, rateTokens);
    // Refused on the counted prompt (a bound that did not fit was counted first).
    const worst = request.exact ? request.exact().want.maxTokens : needed;
    return result.reason === 'quota'
      ? {
          kind: 'insufficient_quota',
          by: 'quota',
          quota: result.quota,
          available: result.availableTokens,
          needed: worst,
        }
      : {
          kind: 'insufficient_quota',
          by: 'balance',
          model,
          needed: worst,
          available: result.availableTokens,
          costOnly: request.costOnly === true,
        };
  }
  return {
    requestId,
    holdTokens: result.holdTokens,
    quotas,
    headers: rate ? Object.assign(rate.headers, standingHeaders(result.standing)) : standingHeaders(result.standing),
  };
}

/**
 * Admission of an upload (multipart/form-data): its model is read from the form on the way, so the
 * hold is the configured `admission.multipartHold` (tokens, and USD for USD grants), on the
 * company's grants that cover every model. The body streams through unbuffered.
 */
export async function admitMultipart(
  rt: AdmissionDeps,
  principal: Principal,
  endpoint: Endpoint,
  upload: Readable,
  contentType: string,
  feature: FeatureRate | undefined,
  now: Date,
): Promise<Admitted | Denial> {
  if (!contentType.toLowerCase().startsWith('multipart/form-data'))
    return {
      kind: 'invalid_request',
      message: `${endpoint.path} expects a multipart/form-data upload.`,
      param: null,
      code: null,
    };
  const { tokens, usd: holdUsd } = rt.config.admission.multipartHold;
  const holdTokens = Math.ceil(Math.max(1, tokens) * (feature?.multiplier ?? 1));
  const want: HoldRequest = {
    minTokens: holdTokens,
    maxTokens: holdTokens,
    clamp: false,
    maxPicoPerToken: Math.ceil((holdUsd * 1e12) / holdTokens),
  };
  const placed = await place(
    rt,
    principal,
    {
      endpoint: endpoint.path,
      requestedModel: null,
      stream: false,
      feature: feature?.name ?? null,
      forwardedLater: true,
    },
    want,
    now,
  );
  if ('kind' in placed) return placed;
  const watched = watchMultipart(upload, contentType);
  return {
    requestId: placed.requestId,
    principal,
    endpoint,
    held: true,
    model: null,
    stream: false,
    body: watched.body,
    hideUsage: false,
    multipart: watched.summary,
    feature,
    quotas: placed.quotas,
    headers: placed.headers,
  };
}

/**
 * Opens the row of a request billed by what it returns (a Responses object or batch retrieved or
 * cancelled) or not billed at all (a pass-through): no hold, no balance check. The relay marks it
 * `forwarded` as it sends it.
 */
export async function openRow(
  rt: Pick<Runtime, 'ledger'>,
  principal: Principal,
  endpoint: Endpoint | undefined,
  path: string,
  body: Readable | Uint8Array | undefined,
  stream: boolean,
  now: Date,
): Promise<Admitted> {
  const requestId = newRequestId();
  const model = /^\/v1\/models\/([^/]+)$/.exec(path)?.[1] ?? null;
  await rt.ledger.open(
    requestRow(requestId, principal, {
      endpoint: endpoint?.path ?? path,
      requestedModel: model,
      stream,
      forwardedLater: true,
    }),
    now,
  );
  return {
    requestId,
    principal,
    endpoint,
    held: false,
    model,
    stream,
    body,
    hideUsage: false,
    quotas: [],
    headers: {},
  };
}
