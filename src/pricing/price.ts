import type { PriceConfig } from '../config/schema.js';
import { modelFamily } from '../metering/model.js';
import type { Usage } from '../metering/usage.js';

/**
 * Finds the price of a model in the config's `prices`: the exact name first, then its family
 * (see `modelFamily`: `gpt-4o-2024-08-06` → `gpt-4o`). Returns undefined when neither is priced.
 */
export function findPrice(prices: Record<string, PriceConfig>, model: string): PriceConfig | undefined {
  return prices[model] ?? prices[modelFamily(model)];
}

/** USD per 1M tokens → integer pico-USD per token (1e-12 USD): exact for prices with ≤ 6 decimals. */
export const picoPerToken = (usdPerMillion: number) => Math.round(usdPerMillion * 1e6);

/** The model's highest per-token price in pico-USD: what a hold on a USD grant reserves per token. */
export function maxPicoPerToken(price: PriceConfig): number {
  return picoPerToken(Math.max(price.input, price.cachedInput ?? 0, price.output));
}

/**
 * Cost of a usage in integer micro-USD. Uncached input tokens at `input`, cached input tokens at
 * `cachedInput` (or `input` when the model has no cached price), output tokens (reasoning included)
 * at `output`. Summed exactly in pico-USD and rounded once, half up, to micro-USD.
 */
export function costMicroUsd(usage: Usage, price: PriceConfig): number {
  const cached = usage.cachedInputTokens;
  const pico =
    (usage.inputTokens - cached) * picoPerToken(price.input) +
    cached * picoPerToken(price.cachedInput ?? price.input) +
    usage.outputTokens * picoPerToken(price.output);
  return Math.floor((pico + 500_000) / 1_000_000);
}
