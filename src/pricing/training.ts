import type { Config } from '../config/schema.js';
import { modelFamily } from '../metering/model.js';
import { priceBook, type Priced } from './price.js';

/**
 * The training price of `model` (USD per 1M training tokens, the price table's `training`; source:
 * OpenAI's pricing page, "Fine-tuning"): by its name, then its family; a fine-tuned model being
 * trained further (`ft:gpt-4o-mini-…:org::id`) at its base model's; for `companyId` when given (a
 * fallback price of that company with a `training` price counts). Undefined when none has one.
 */
export function trainingPrice(config: Config, model: string, now: Date, companyId?: string): Priced | undefined {
  const book = priceBook(config);
  for (const name of [model, modelFamily(model)]) {
    const p = book.find(name, now, companyId);
    if (p?.price.training !== undefined) return p;
  }
  return undefined;
}
