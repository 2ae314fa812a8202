import type { PriceConfig } from '../config/schema.js';

/**
 * A model's price as tollgate bills it: the config's price shape (USD per 1M tokens unless the
 * field says otherwise, see `priceSchema`), with `date` optional — entries of the price source
 * carry the source's version instead of a read date.
 */
export type Price = Omit<PriceConfig, 'date'> & { date?: string };

/** Who answered a price look-up, in resolution order; recorded on the row as `price_source`. */
export type PriceSource = 'config' | 'tollgate' | 'genai-prices' | 'fallback';

/**
 * A resolved price: the entry, the id it was found under, who answered, and its version for the
 * ledger row: `<priced name>@<origin>#<content hash>` (e.g. `gpt-5.4@genai-prices-0.1.8#5d41402abc4b`,
 * `gpt-4o@2025-08-07#…` for a config entry read that day). The hash covers every field of the
 * entry, so a row's version says exactly which prices it was billed under.
 */
export interface Priced {
  price: Price;
  version: string;
  source: PriceSource;
  /** The name the price was found under (a snapshot's family, an alias's model, `ft:<base>`…). */
  resolvedAs: string;
}
