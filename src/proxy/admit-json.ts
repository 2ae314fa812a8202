import { endUserOf } from '../attribution/end-user.js';
import { requestTags } from '../attribution/tags.js';
import type { Principal } from '../auth/principal.js';
import type { Config } from '../config/schema.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import type { FeatureRate } from '../http/env.js';
import type { JsonObject } from '../http/json-body.js';
import type { HoldRequest } from '../ledger/port.js';
import { estimateRequest, type RequestEstimate } from '../metering/estimate.js';
import { modelLimits } from '../pricing/limits.js';
import { costMicroUsd, maxPicoPerToken, priceBook, type Priced } from '../pricing/price.js';
import { newRequestId, place, requestRow, type AdmissionDeps, type Admitted, type Facts } from './admission.js';
import type { Endpoint } from './endpoints.js';
import { hiddenContext } from './hidden-context.js';
import { PromptCount, promptBound } from './prompt.js';
import { beyondPrompt } from './worst-case.js';

/**
 * Admission of a JSON request as pure steps — validate → price → estimate → hold request → body
 * rewrite — around one ledger call (`place`, or `open` for a free endpoint), on a body parsed once
 * by `parseJsonBody` (http/json-body.ts). Each step returns its result or the `Denial` to answer;
 * none touches the ledger or the network.
 */

type Json = JsonObject;

/**
 * The model and stream flag of a parsed body, or the 400 denial: every endpoint but moderations
 * (which defaults to omni-moderation-latest) needs a `model`; `stream` must be a boolean when given.
 * `stream` is also true for an SSE speech request (`stream_format: "sse"`).
 */
export function validateBody(
  body: Json,
  endpoint: Pick<Endpoint, 'free'>,
): { model: string; stream: boolean } | Denial {
  const model = body.model ?? (endpoint.free ? 'omni-moderation-latest' : undefined);
  if (typeof model !== 'string' || model.length === 0)
    return invalidRequest('you must provide a model parameter', 'model');
  if (body.stream !== undefined && typeof body.stream !== 'boolean' && body.stream !== null)
    return invalidRequest("Invalid type for 'stream': expected a boolean.", 'stream');
  return { model, stream: body.stream === true || body.stream_format === 'sse' };
}

/**
 * The price of `model` at `now` for `companyId` (the resolution order of `PriceBook.find`: config
 * `prices`, tollgate's own entries, the price source, the company's fallback prices), undefined
 * when it has none and `admission.unpricedModels` is `unbilled`, or the 400 `model_not_priced`
 * denial when it is `reject`.
 */
export function priceModel(config: Config, model: string, now: Date, companyId?: string): Priced | undefined | Denial {
  const priced = priceBook(config).find(model, now, companyId);
  if (!priced && config.admission.unpricedModels === 'reject') return { kind: 'model_not_priced', model };
  return priced;
}

/**
 * What to hold for an estimated request. A request priced per unit (images, speech characters)
 * holds its exact cost in micro-USD (`costOnly`); any other holds its prompt plus its output ceiling
 * — its own, or by `admission.noCeilingPolicy` the model's largest output (`clamp`: the hold may be
 * lowered to what is left, and the ceiling is then written into the body) or
 * `defaultMaxOutputTokens` — plus `beyondTokens` (the built-in tools' allowance, see worst-case.ts),
 * times the feature rate, in tokens.
 */
export function holdRequest(
  estimate: RequestEstimate,
  priced: Priced | undefined,
  multiplier: number,
  admission: Config['admission'],
  beyondTokens = 0,
): HoldRequest {
  if (estimate.units) {
    const cost = priced ? costMicroUsd(estimate.units, priced.price) : 0;
    return { minTokens: cost, maxTokens: cost, clamp: false, maxPicoPerToken: 0, costOnly: true };
  }
  const policy = admission.noCeilingPolicy;
  const output =
    estimate.outputCeiling ?? (policy === 'clamp' ? estimate.modelMaxOutput : admission.defaultMaxOutputTokens);
  return {
    minTokens: Math.ceil(estimate.promptTokens * multiplier),
    maxTokens: Math.ceil((estimate.promptTokens + output + beyondTokens) * multiplier),
    clamp: estimate.outputCeiling === undefined && policy === 'clamp',
    // The long-context tier the request can reach (its counted input, with 5 % for the count's error).
    maxPicoPerToken: priced
      ? Math.ceil(maxPicoPerToken(priced.price, Math.ceil((estimate.promptTokens + beyondTokens) * 1.05)) / multiplier)
      : 0,
  };
}

/**
 * The body to send upstream after the hold: when the hold was clamped below the worst case, the
 * endpoint's ceiling parameter is set to what the hold covers (spread over the choices); for a
 * stream of an endpoint that reports usage only when asked, `stream_options.include_usage` is added
 * (and the usage chunk is then hidden from the client, `hideUsage`). `beyondTokens` is the part of
 * the hold that is not prompt or output (the tools' allowance). `body` is changed in place; the
 * client's bytes are kept when nothing changed.
 */
export function rewriteBody(
  raw: Uint8Array,
  body: Json,
  endpoint: Endpoint,
  want: HoldRequest,
  holdTokens: number,
  estimate: RequestEstimate,
  multiplier: number,
  beyondTokens = 0,
): { body: Uint8Array | string; hideUsage: boolean } {
  let changed = false;
  if (want.clamp && holdTokens < want.maxTokens && endpoint.ceilingParam) {
    body[endpoint.ceilingParam] = Math.max(
      1,
      Math.floor((holdTokens / multiplier - estimate.promptTokens - beyondTokens) / estimate.choices),
    );
    changed = true;
  }
  let hideUsage = false;
  if (body.stream === true && endpoint.streamUsageOption) {
    const options = body.stream_options && typeof body.stream_options === 'object' ? (body.stream_options as Json) : {};
    if (options.include_usage !== true) {
      body.stream_options = { ...options, include_usage: true };
      hideUsage = changed = true;
    }
  }
  return { body: changed ? JSON.stringify(body) : raw, hideUsage };
}

/**
 * Admission of a JSON request to a metered endpoint (the steps above, then the hold): `raw` is the
 * body as received, `body` the same parsed. Returns the
 * `Admitted` request, or the denial to answer: `invalid_request` for a bad body, `model_not_priced`,
 * `rate_limited` when a per-minute limit is reached, `insufficient_quota` when a quota or the grants
 * cannot cover the worst case. Nothing reaches the upstream unless this returns `Admitted`.
 */
export async function admitJson(
  rt: AdmissionDeps,
  principal: Principal,
  endpoint: Endpoint,
  raw: Uint8Array,
  body: Json,
  feature: FeatureRate | undefined,
  now: Date,
): Promise<Admitted | Denial> {
  const valid = validateBody(body, endpoint);
  if (isDenial(valid)) return valid;
  const { model, stream } = valid;
  const company = rt.config.companies[principal.companyId]!;
  const endUser = endUserOf(principal.companyId, company, endpoint.path, body);
  if (isDenial(endUser)) return endUser;
  const tags = requestTags(company, principal.tags ?? [], body);
  if (isDenial(tags)) return tags;
  // The relay marks the row `forwarded` as it sends it (see the crash policy). Built whole, its
  // estimate filled in below: on Node 20, `{ ...facts, more }` gives every request a hidden class
  // of its own, old-generation garbage (see `Exchange` in relay.ts).
  const facts: Facts = {
    endpoint: endpoint.path,
    requestedModel: model,
    stream,
    feature: feature?.name ?? null,
    forwardedLater: true,
    estimatedPromptTokens: 0,
    conversationId: null,
    endUser,
    tags,
  };

  if (endpoint.free) {
    const requestId = newRequestId();
    await rt.ledger.open(requestRow(requestId, principal, facts), now);
    return {
      requestId,
      principal,
      endpoint,
      held: false,
      model,
      stream,
      body: raw,
      hideUsage: false,
      feature,
      quotas: [],
      headers: {},
    };
  }

  const priced = priceModel(rt.config, model, now, principal.companyId);
  if (isDenial(priced)) return priced;
  const limits = modelLimits(model, priced);
  const context = await hiddenContext(rt.ledger.reader, principal.companyId, endpoint.path, model, body);
  const beyond = beyondPrompt(
    (m) => priceBook(rt.config).find(m, now, principal.companyId),
    endpoint.path,
    model,
    body,
    priced?.price,
  );
  const beyondTokens = beyond.toolTokens + beyond.feeTokens;
  const multiplier = feature?.multiplier ?? 1;
  // The prompt is tokenised only when something needs its count: a bound of it is enough for a
  // hold while the grants and quotas have ample room for the worst case on that bound (`HoldRequest.exact`).
  const bound = promptBound(endpoint.path, raw);
  const count = (): RequestEstimate => {
    const e = estimateRequest(endpoint.path, model, body, limits);
    e.promptTokens += context.tokens;
    return e;
  };
  let counted = bound === undefined ? count() : undefined;
  const prompt = new PromptCount(() => (counted ??= count()).promptTokens, counted?.promptTokens);
  const estimate = counted ?? estimateRequest(endpoint.path, model, body, limits, bound);
  if (!counted) estimate.promptTokens += context.tokens;
  const want = holdRequest(estimate, priced, multiplier, rt.config.admission, beyondTokens);
  let exact: HoldRequest | undefined;
  if (!counted) {
    want.clamp = false;
    want.exact = () => {
      counted ??= count();
      exact ??= holdRequest(counted, priced, multiplier, rt.config.admission, beyondTokens);
      return { want: exact, promptTokens: counted.promptTokens };
    };
  }
  facts.estimatedPromptTokens = counted ? counted.promptTokens : 0;
  facts.conversationId = context.conversationId ?? null;
  const placed = await place(rt, principal, facts, want, now);
  if (isDenial(placed)) return placed;
  // The request the hold was placed on: on the counted prompt when admission needed it.
  const held = exact ? counted! : estimate;
  const sent = rewriteBody(raw, body, endpoint, exact ?? want, placed.holdTokens, held, multiplier, beyondTokens);
  return {
    requestId: placed.requestId,
    principal,
    endpoint,
    held: true,
    model,
    stream,
    body: sent.body,
    hideUsage: sent.hideUsage,
    estimate: held,
    prompt,
    priced,
    feature,
    quotas: placed.quotas,
    headers: placed.headers,
    beyond,
  };
}
