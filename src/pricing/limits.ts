import { contextWindowOf, maxOutputTokens, modelSpec } from '../metering/tokenizer.js';
import type { Priced } from './types.js';

/** A model's limits in tokens: its context window (input and output together) and its largest output. */
export interface ModelLimits {
  contextWindow: number;
  maxOutputTokens: number;
}

/**
 * The limits of `model` as `priced`: an admin's own `contextWindow` / `maxOutputTokens` (config or
 * fallback price) first; then gpt-tokenizer's entry for exactly this id (an alias such as
 * `gpt-5.2-chat-latest` has limits of its own); then the price source's context window for the
 * model the id resolved to (`@pydantic/genai-prices`); then gpt-tokenizer's entry for its family
 * and its fallbacks (128,000 / 16,384). The largest output never exceeds the context window.
 */
export function modelLimits(model: string, priced: Pick<Priced, 'price' | 'source'> | undefined): ModelLimits {
  const price = priced?.price;
  const admin = priced?.source === 'config' || priced?.source === 'fallback';
  const exact = modelSpec(model);
  const contextWindow =
    (admin ? price?.contextWindow : undefined) ??
    exact?.context_window ??
    price?.contextWindow ??
    contextWindowOf(model);
  const maxOutput = (admin ? price?.maxOutputTokens : undefined) ?? price?.maxOutputTokens ?? maxOutputTokens(model);
  return { contextWindow, maxOutputTokens: Math.min(maxOutput, contextWindow) };
}

/**
 * What a request without an output ceiling is held for (tokens): the most the model can produce,
 * and never more than its context window leaves after the prompt (at least 1 token).
 */
export function outputAllowance(limits: ModelLimits, promptTokens: number): number {
  return Math.max(1, Math.min(limits.maxOutputTokens, limits.contextWindow - promptTokens));
}
