import type { Config } from '../config/schema.js';
import type { DeferredObject, Outcome } from '../ledger/port.js';
import { nanoToMicro, priceBook } from '../pricing/price.js';
import { costOfUsage } from '../proxy/outcome.js';
import type { FinalCharge } from './kinds.js';

/** Error code of a deferred row voided because the upstream no longer knows its object. */
export const OBJECT_GONE = 'upstream_object_gone';

/**
 * What a final object is charged, as an `Outcome` for the ledger's `settle` (or `void`, when
 * `void` is true: nothing billable was done). The usage is priced as a live row's would be
 * (`costOfUsage`: service tier, built-in tool fees; a batch's usage carries `batch: true` and is
 * discounted by the price), at the row's model (else the one the object names), at the price in
 * force at `now`; metered tokens are the usage's total × the row's feature multiplier. The object
 * is billed once per id (`billedObject`). `latencyMs` is the time from deferral to settlement.
 */
export function finalOutcome(
  config: Config,
  d: DeferredObject,
  charge: FinalCharge,
  now: Date,
): { void: boolean; outcome: Outcome } {
  const base = {
    httpStatus: 200,
    returnedModel: charge.model,
    latencyMs: Math.max(0, now.getTime() - Date.parse(d.deferredAt)),
    errorCode: charge.errorCode,
    billedObject: { id: d.id, kind: d.kind },
  };
  const usage = charge.usage;
  if (!usage) return { void: true, outcome: { ...base, usageSource: 'none', meteredTokens: 0, costMicroUsd: 0 } };
  const book = priceBook(config);
  const lookup = (m: string) => book.find(m, now);
  const model = d.model ?? charge.model ?? null;
  const priced = model ? lookup(model) : undefined;
  const cost =
    priced && model
      ? costOfUsage(lookup, model, usage, priced, { tier: charge.serviceTier, toolCalls: charge.toolCalls, ok: true })
      : undefined;
  return {
    void: false,
    outcome: {
      ...base,
      usage,
      usageSource: charge.usageSource,
      model: model ?? undefined,
      meteredTokens: Math.ceil(usage.totalTokens * d.multiplier),
      costMicroUsd: cost ? nanoToMicro(cost.nano) : 0,
      costNanoUsd: cost?.nano ?? 0,
      toolCalls: charge.toolCalls,
      priceVersion: cost?.version,
      errorCode: charge.errorCode ?? (priced ? cost?.errorCode : 'model_not_priced'),
    },
  };
}
