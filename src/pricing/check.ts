import type { PriceBook } from './price.js';

/** What `tollgate prices check` found about one model the ledger saw. */
export interface PriceFinding {
  model: string;
  /** Requests for it in the period. */
  requests: number;
  problem: 'unpriced' | 'stale';
  /** The price version in force (`<name>@<date>`), for a stale price. */
  version?: string;
  /** The day the price was read (its `date`), for a stale price. */
  readOn?: string;
  /** Its age in whole days at `now`. */
  ageDays?: number;
}

const DAY_MS = 86_400_000;

/**
 * Checks the models a ledger saw against the prices in force at `now` (UTC): a model with no
 * price is `unpriced`; one whose price was read (`date`) more than `maxAgeDays` days before `now`
 * is `stale`. `models` maps each model name to its request count. Sorted by problem, then model.
 */
export function checkPrices(
  book: PriceBook,
  models: Map<string, number>,
  now: Date,
  maxAgeDays: number,
): PriceFinding[] {
  const out: PriceFinding[] = [];
  for (const [model, requests] of models) {
    const priced = book.find(model, now);
    if (!priced) {
      out.push({ model, requests, problem: 'unpriced' });
      continue;
    }
    const ageDays = Math.floor((now.getTime() - Date.parse(`${priced.price.date}T00:00:00Z`)) / DAY_MS);
    if (ageDays > maxAgeDays)
      out.push({ model, requests, problem: 'stale', version: priced.version, readOn: priced.price.date, ageDays });
  }
  return out.sort((a, b) => a.problem.localeCompare(b.problem) || a.model.localeCompare(b.model));
}
