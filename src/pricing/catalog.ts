import type { Config } from '../config/schema.js';
import { SOURCE_MODELS, SOURCE_NAME, SOURCE_VERSION } from './source.js';
import { OWN_TABLE } from './table.js';
import type { Price, PriceSource } from './types.js';

/** One entry of a price list: the name it is priced under, who holds it, and its price. */
export interface ListedPrice {
  model: string;
  origin: Exclude<PriceSource, 'fallback'> | 'fallback';
  price: Price;
  /** Source models only: the price keys tollgate cannot bill (the model is then unpriced), and whether the source marks it deprecated. */
  unbilled?: string[];
  deprecated?: boolean;
  /** Fallback entries: the company and the names or patterns the price covers. */
  company?: string;
}

/**
 * Every price entry a config puts in reach, in resolution order: the config's `prices` (each dated
 * entry), the companies' fallback prices, tollgate's own entries (supplements listed with only
 * the fields they add), and each OpenAI model of the price source (each dated entry).
 */
export function listPrices(config: Pick<Config, 'prices' | 'companies'>): ListedPrice[] {
  const out: ListedPrice[] = [];
  for (const [model, p] of Object.entries(config.prices))
    for (const price of Array.isArray(p) ? p : [p]) out.push({ model, origin: 'config', price });
  for (const [company, c] of Object.entries(config.companies))
    for (const f of c.fallbackPrices ?? [])
      out.push({ model: f.models.join(' '), origin: 'fallback', price: f.price, company });
  for (const [model, e] of Object.entries(OWN_TABLE)) {
    const { supplements: _s, ...price } = e;
    out.push({ model, origin: 'tollgate', price: { input: 0, output: 0, batchDiscount: 0.5, ...price } });
  }
  for (const m of SOURCE_MODELS)
    for (const price of m.prices)
      out.push({
        model: m.id,
        origin: 'genai-prices',
        price,
        ...(m.unbilled.length ? { unbilled: m.unbilled } : {}),
        ...(m.deprecated ? { deprecated: true } : {}),
      });
  return out;
}

/** What `tollgate prices` prints first: the source and its version, and how many entries each holder has. */
export interface PriceSummary {
  source: string;
  version: string;
  /** OpenAI models the source prices that tollgate can bill, and those it cannot (a price key it does not bill). */
  openaiModels: number;
  unbillable: string[];
  ownEntries: number;
  configEntries: number;
}

/** The summary of the prices a config puts in reach (see `PriceSummary`). */
export function priceSummary(config: Pick<Config, 'prices'>): PriceSummary {
  return {
    source: SOURCE_NAME,
    version: SOURCE_VERSION,
    openaiModels: SOURCE_MODELS.filter((m) => m.unbilled.length === 0 && m.prices.length > 0).length,
    unbillable: SOURCE_MODELS.filter((m) => m.unbilled.length > 0).map((m) => m.id),
    ownEntries: Object.keys(OWN_TABLE).length,
    configEntries: Object.keys(config.prices).length,
  };
}
