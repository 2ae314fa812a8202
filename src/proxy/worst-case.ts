import type { Price } from '../pricing/types.js';
import { toolAllowance, toolPlanOf, type ToolPlan } from '../pricing/tool-fees.js';
import { maxPicoPerToken, type Priced } from '../pricing/price.js';

/** A model's price in force (the config's prices over the built-in table), or undefined. */
export type PriceLookup = (model: string) => Priced | undefined;

/**
 * What a request may cost beyond its counted prompt and output ceiling, for its hold (docs/budgets.md,
 * "What a request holds"): the built-in tools it enables (their calls' fees and the input
 * tokens they add) and the earlier turns it continues (`previous_response_id`, `conversation`).
 */
export interface Beyond {
  /** The built-in tools the request enables, for pricing their calls at settle. */
  toolPlan?: ToolPlan;
  /** The `service_tier` the request asks for (the response's own field wins at settle). */
  serviceTier?: string;
  /** Input tokens the tools may add (tokens). */
  toolTokens: number;
  /** The tools' fees as tokens at the model's highest per-token price (tokens; 0 when unpriced). */
  feeTokens: number;
}

/** The image tool's model price (default gpt-image-1), for its per-image fee. */
export function imageToolPrice(priceOf: PriceLookup, plan: ToolPlan | undefined): Price | undefined {
  return plan?.imageGeneration ? priceOf(plan.imageGeneration.model)?.price : undefined;
}

/**
 * The built-in tool allowance of a Chat or Responses request (see `toolAllowance`): its fees are
 * held as tokens at `price`'s highest per-token rate, so a USD grant reserves at least the fees
 * (a tokens grant, which never pays fees, reserves a little more than it needs).
 */
export function beyondPrompt(
  priceOf: PriceLookup,
  path: string,
  model: string,
  body: Record<string, unknown>,
  price: Price | undefined,
): Beyond {
  const serviceTier = typeof body.service_tier === 'string' ? body.service_tier : undefined;
  if (path !== '/v1/responses' && path !== '/v1/chat/completions') return { serviceTier, toolTokens: 0, feeTokens: 0 };
  const toolPlan = toolPlanOf(model, body);
  const { inputTokens, feeNano } = toolAllowance(model, toolPlan, body, imageToolPrice(priceOf, toolPlan), price);
  const pico = price ? maxPicoPerToken(price) : 0;
  const feeTokens = pico > 0 ? Math.ceil((feeNano * 1000) / pico) : 0;
  return { toolPlan, serviceTier, toolTokens: inputTokens, feeTokens };
}
