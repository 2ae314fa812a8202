import type { Outcome } from '../ledger/port.js';
import { imageUnits } from '../metering/estimate.js';
import type { MultipartSummary } from '../metering/multipart.js';
import type { StreamMetered } from '../metering/stream-meter.js';
import { countTokens } from '../metering/tokenizer.js';
import { NO_TOKENS, type Metered, type Usage } from '../metering/usage.js';
import {
  costNanoUsd,
  nanoToMicro,
  PRIORITY_AT_STANDARD,
  tierPrice,
  tierVersion,
  type Priced,
} from '../pricing/price.js';
import type { ToolCalls } from '../metering/tool-calls.js';
import { toolFeesNano, type ToolPlan } from '../pricing/tool-fees.js';
import { PENDING_STATUSES, type DeferredKind } from '../settlement/kinds.js';
import type { Admitted } from './admission.js';
import { imageToolPrice, type PriceLookup } from './worst-case.js';

/** How a response ended, as the relay saw it. */
export type Ending =
  | 'complete'
  | 'client_disconnected'
  | 'upstream_stream_error'
  | 'upstream_timeout'
  | 'upstream_body_too_large'
  | 'upstream_event_too_large';

/** Everything the relay observed of one exchange. Durations in ms. */
export interface Observed {
  httpStatus: number;
  ending: Ending;
  metered: Metered & Partial<StreamMetered>;
  /** The upstream's error code, from an error body or event. */
  errorCode?: string;
  latencyMs: number;
  ttfbMs?: number;
  upstreamRequestId?: string;
}

/**
 * What to write on the row: settle with this outcome, or void it, or defer it (keep its hold until
 * the upstream object `defer` names is final; `outcome` is written should the deferral fail).
 * `nudge` names a pending object the answer showed (a retrieve or cancel): the settler polls it now.
 */
export type Decision =
  | { settle: Outcome; nudge?: string }
  | { void: Outcome }
  | { defer: { id: string; kind: DeferredKind }; outcome: Outcome };

/** Audio bitrate assumed to estimate a transcription's length from its upload when the upstream reports none (128 kbps MP3). */
const ASSUMED_AUDIO_BITS_PER_SECOND = 128_000;

/** What a usage costs at a price: the service tier it ran at, built-in tool calls, and whether the request succeeded (fees only then). */
export interface CostInputs {
  tier?: string;
  plan?: ToolPlan;
  toolCalls?: ToolCalls;
  ok: boolean;
}

/**
 * A usage's exact cost (nano-USD) and the price version it used: the usage at the price of the
 * service tier `tier` (the one the upstream reported, else the one the request asked for), plus the
 * fees of the built-in tool calls reported, when the request succeeded. A tier other than the
 * standard one is named in the version (`tierVersion`: `gpt-5@2025-08-07/priority`); priority on a model
 * without a priority price is billed at standard prices and says so (`PRIORITY_AT_STANDARD`). Used for live rows and by the
 * settler for deferred ones.
 */
export function costOfUsage(
  priceOf: PriceLookup,
  model: string,
  usage: Usage,
  priced: Priced,
  c: CostInputs,
): { nano: number; version: string; errorCode?: string } {
  const fees = c.ok ? toolFeesNano(model, c.plan, c.toolCalls, imageToolPrice(priceOf, c.plan), priced.price) : 0;
  const { unpriced } = tierPrice(priced.price, c.tier);
  return {
    nano: costNanoUsd(usage, priced.price, c.tier, fees),
    version: tierVersion(priced.version, c.tier, unpriced),
    errorCode: unpriced ? PRIORITY_AT_STANDARD : undefined,
  };
}

/** A live row's cost: `costOfUsage` with what the request asked for and the relay observed. */
function rowCost(priceOf: PriceLookup, a: Admitted, seen: Observed, model: string, usage: Usage, priced: Priced) {
  return costOfUsage(priceOf, model, usage, priced, {
    tier: seen.metered.serviceTier ?? a.beyond?.serviceTier,
    plan: a.beyond?.toolPlan,
    toolCalls: seen.metered.toolCalls,
    ok: seen.httpStatus >= 200 && seen.httpStatus < 400,
  });
}

/** Waits for an upload's summary; the body has been sent when the response has ended, so this is quick. */
export async function uploaded(summary: Promise<MultipartSummary> | undefined): Promise<MultipartSummary | undefined> {
  if (!summary) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 2000)));
  try {
    return await Promise.race([summary, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Decides what a finished exchange is charged (see docs/endpoints.md). `upload`
 * is what an upload carried (see `uploaded`), for uploads:
 * 1. usage reported by the upstream → that usage, priced (usage source `upstream`);
 * 2. a request priced per unit (DALL·E, tts-1) that succeeded → its units (images returned,
 *    characters sent; source `computed`);
 * 3. an upload without usage that succeeded → whisper seconds from the response's `duration`
 *    (`computed`), else from the upload's size at 128 kbps (`estimated`); DALL·E edits and
 *    variations by images returned (`computed`);
 * 4. an answer naming upstream work still pending (`endpoint.defers`: a background response
 *    `queued` or `in_progress`, a background stream cut before its end) → deferred: the row keeps
 *    its hold and the settler bills the object's final usage, once per object id;
 * 5. any other success without usage (a stream cut by the client or the upstream) → the counted
 *    prompt plus the tokens of the text seen (`estimated`);
 * 6. an error status without usage → void, with the upstream's error code.
 * Retrievals and cancels (`a.held` false) bill nothing: they nudge the settler (see `Decision`).
 * A feature rate multiplies the metered tokens, never the cost. `priceOf` prices a model found
 * only after admission (an upload's form, the response), at the instant of settling.
 */
export function decide(
  a: Admitted,
  seen: Observed,
  upload: MultipartSummary | undefined,
  priceOf: PriceLookup,
): Decision {
  // Each outcome is built as one object literal (no spreads: this runs on every request).
  const httpStatus = seen.ending === 'client_disconnected' && seen.httpStatus === 0 ? null : seen.httpStatus;
  const errorCode = seen.ending !== 'complete' ? seen.ending : seen.errorCode;
  const none = (code = errorCode, usage?: Usage): Outcome => ({
    httpStatus,
    returnedModel: seen.metered.model,
    latencyMs: seen.latencyMs,
    ttfbMs: seen.ttfbMs,
    upstreamRequestId: seen.upstreamRequestId,
    errorCode: code,
    usage,
    usageSource: 'none',
    meteredTokens: 0,
    costMicroUsd: 0,
  });
  const ok = seen.httpStatus >= 200 && seen.httpStatus < 400;
  const endpoint = a.endpoint;
  if (!endpoint || endpoint.free) return { settle: none(errorCode, seen.metered.usage) };

  const model = a.model ?? upload?.fields.model ?? seen.metered.model ?? null;
  const priced = a.priced ?? (model ? priceOf(model) : undefined);
  const multiplier = a.feature?.multiplier ?? 1;
  const m = seen.metered;
  const objectKind = endpoint.billsObject;
  const objectId = m.objectId;
  const billed = objectKind && objectId ? { id: objectId, kind: objectKind } : undefined;
  const charge = (usage: Usage, usageSource: Outcome['usageSource'], billedObject?: Outcome['billedObject']) => {
    const cost = priced && model ? rowCost(priceOf, a, seen, model, usage, priced) : undefined;
    const settle: Outcome = {
      httpStatus,
      returnedModel: m.model,
      latencyMs: seen.latencyMs,
      ttfbMs: seen.ttfbMs,
      upstreamRequestId: seen.upstreamRequestId,
      billedObject,
      usage,
      usageSource,
      model: model ?? undefined,
      meteredTokens: Math.ceil(usage.totalTokens * multiplier),
      costMicroUsd: cost ? nanoToMicro(cost.nano) : 0,
      costNanoUsd: cost?.nano ?? 0,
      toolCalls: m.toolCalls,
      priceVersion: cost?.version ?? priced?.version,
      priceSource: priced?.source,
      errorCode: errorCode ?? (priced ? cost?.errorCode : 'model_not_priced'),
    };
    return { settle };
  };

  // A retrieve or cancel: recorded unbilled; the settler bills the object once final, once per id.
  if (!a.held) return ok && objectId ? { settle: none(), nudge: objectId } : { settle: none() };
  // Upstream work still pending: a JSON answer naming a queued object, a stream that ended with it
  // still running, or a background stream cut before its end (the work goes on upstream). A
  // foreground stream cut early is not: the upstream stops with it, and it is estimated below. A
  // pending object's usage is not final (a new batch reports all-zero usage), so it is not charged.
  const kind = endpoint.defers;
  if (kind && objectId) {
    const pending = ok && m.objectStatus !== undefined && PENDING_STATUSES[kind].has(m.objectStatus);
    const cutBackground = a.stream && m.background === true && seen.ending !== 'complete';
    if (pending && (!a.stream || cutBackground || seen.ending === 'complete'))
      return { defer: { id: objectId, kind }, outcome: none('already_deferred') };
  }
  if (m.usage) return charge(m.usage, 'upstream', billed);
  if (ok && a.estimate?.units && seen.ending === 'complete') {
    const units =
      a.estimate.units.images !== undefined && m.dataCount !== undefined
        ? { ...a.estimate.units, images: m.dataCount }
        : a.estimate.units;
    return charge(units, 'computed');
  }
  if (ok && upload && seen.ending === 'complete') {
    if (endpoint.output === 'image' && m.dataCount !== undefined && model)
      return charge(imageUnits(model, upload.fields, m.dataCount), 'computed');
    if (m.duration !== undefined) return charge({ ...NO_TOKENS, seconds: m.duration }, 'computed');
    return charge(
      { ...NO_TOKENS, seconds: Math.ceil((upload.fileBytes * 8) / ASSUMED_AUDIO_BITS_PER_SECOND) },
      'estimated',
    );
  }
  if (ok && model) {
    const prompt = a.prompt ? a.prompt.tokens() : (a.estimate?.promptTokens ?? 0);
    const outputTokens = countTokens(model, m.outputText ?? '');
    return charge({ ...NO_TOKENS, inputTokens: prompt, outputTokens, totalTokens: prompt + outputTokens }, 'estimated');
  }
  return { void: none() };
}
