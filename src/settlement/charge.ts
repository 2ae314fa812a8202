import type { Config } from '../config/schema.js';
import type { DeferredObject, Outcome } from '../ledger/port.js';
import type { Usage } from '../metering/usage.js';
import { nanoToMicro, priceBook, type Priced } from '../pricing/price.js';
import { trainingPrice } from '../pricing/training.js';
import { costOfUsage } from '../proxy/outcome.js';
import type { FinalCharge } from './kinds.js';

/** Resolution order of price sources (docs/prices.md), for a row whose parts were priced by several. */
const SOURCE_RANK: Record<NonNullable<Priced['source']>, number> = {
  config: 0,
  tollgate: 1,
  'genai-prices': 2,
  fallback: 3,
};

/** Error code of a deferred row voided because the upstream no longer knows its object. */
export const OBJECT_GONE = 'upstream_object_gone';

/** One priced part of a final charge: its cost (nano-USD), price version and pricing error code. */
interface PartCost {
  nano: number;
  version?: string;
  source?: Priced['source'];
  errorCode?: string;
}

/**
 * The cost of `usage` run on `model` at the price in force at `now`: training tokens at the
 * model's training price (src/pricing/training.ts), anything else as a live row's usage
 * (`costOfUsage`: service tier, built-in tool fees; a batch's usage carries `batch: true` and is
 * discounted). `model_not_priced` when the model has no price.
 */
function partCost(
  config: Config,
  companyId: string,
  model: string,
  usage: Usage,
  charge: FinalCharge,
  now: Date,
): PartCost {
  const book = priceBook(config);
  const lookup = (m: string) => book.find(m, now, companyId);
  const priced: Priced | undefined = usage.trainedTokens ? trainingPrice(config, model, now, companyId) : lookup(model);
  if (!priced) return { nano: 0, errorCode: 'model_not_priced' };
  const cost = costOfUsage(lookup, model, usage, priced, {
    tier: charge.serviceTier,
    toolCalls: charge.toolCalls,
    ok: true,
  });
  return { nano: cost.nano, version: cost.version, source: priced.source, errorCode: cost.errorCode };
}

/**
 * What a final object is charged, as an `Outcome` for the ledger's `settle` (or `void`, when
 * `void` is true: nothing billable was done). The usage is priced as a live row's would be (see
 * `partCost`) at the row's model (else the one the object names), at the price in force at `now`;
 * a charge in `parts` (a batch over several models) is the sum of each part at its own model, its
 * price version the parts' versions joined with ` + `.
 * Metered tokens are the usage's total × the row's feature multiplier. The object is billed once
 * per id (`billedObject`). `latencyMs` is the time from deferral to settlement.
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
  const model = d.model ?? charge.model ?? null;
  const parts = charge.parts?.length ? charge.parts : model ? [{ model, usage }] : [];
  const costs = parts.map((p) => partCost(config, d.companyId, p.model, p.usage, charge, now));
  const nano = costs.reduce((sum, c) => sum + c.nano, 0);
  const priced = costs.length > 0 && costs.every((c) => c.errorCode !== 'model_not_priced');
  return {
    void: false,
    outcome: {
      ...base,
      usage,
      usageSource: charge.usageSource,
      model: model ?? undefined,
      meteredTokens: Math.ceil(usage.totalTokens * d.multiplier),
      costMicroUsd: nanoToMicro(nano),
      costNanoUsd: nano,
      toolCalls: charge.toolCalls,
      priceVersion: [...new Set(costs.map((c) => c.version).filter(Boolean))].join(' + ') || undefined,
      // Parts priced by different sources: the least authoritative one (a fallback price) is the row's.
      priceSource: costs
        .map((c) => c.source)
        .sort((a, b) => SOURCE_RANK[b ?? 'config'] - SOURCE_RANK[a ?? 'config'])[0],
      errorCode: charge.errorCode ?? (priced ? costs.find((c) => c.errorCode)?.errorCode : 'model_not_priced'),
    },
  };
}
