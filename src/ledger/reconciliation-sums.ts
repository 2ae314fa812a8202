import type { LedgerDayUsage } from './port.js';

/**
 * SQL (SQLite and Postgres alike) of a CTE `c(id)` listing the distinct companies of `requests`,
 * one index seek each: a loose scan of `requests_company_created`, instead of reading every row.
 */
export const COMPANIES_CTE = `WITH RECURSIVE c(id) AS (
    SELECT MIN(company_id) FROM requests
    UNION ALL
    SELECT (SELECT MIN(company_id) FROM requests WHERE company_id > c.id) FROM c WHERE c.id IS NOT NULL
  )`;

/** The summed fields of `LedgerDayUsage` (every field but its day and model). */
const SUMMED = [
  'requests',
  'inputTokens',
  'cachedInputTokens',
  'outputTokens',
  'audioInputTokens',
  'audioOutputTokens',
  'imageInputTokens',
  'imageOutputTokens',
  'images',
  'characters',
  'seconds',
  'costNanoUsd',
  'estimatedRows',
] as const satisfies readonly (keyof LedgerDayUsage)[];

/**
 * Sums groups of the same UTC day and model (as read per company, or as an engine returns
 * numerics), every field a JS number, sorted by day then model (null last).
 * @throws RangeError when a sum is not a safe integer (over 2^53: about 9 million USD in nano-USD).
 */
export function mergeDayUsage(groups: LedgerDayUsage[]): LedgerDayUsage[] {
  const byKey = new Map<string, LedgerDayUsage>();
  for (const g of groups) {
    const key = `${g.day}\u0000${g.model ?? ''}\u0000${g.model === null ? 0 : 1}`;
    const into = byKey.get(key);
    if (!into) {
      const copy = { day: g.day, model: g.model } as LedgerDayUsage;
      for (const f of SUMMED) copy[f] = Number(g[f]);
      byKey.set(key, copy);
      continue;
    }
    for (const f of SUMMED) into[f] += Number(g[f]);
  }
  const out = [...byKey.values()];
  for (const g of out)
    for (const f of SUMMED)
      if (!Number.isSafeInteger(g[f])) throw new RangeError(`the ledger's ${f} on ${g.day} is not a safe integer`);
  return out.sort((a, b) =>
    a.day !== b.day
      ? a.day < b.day
        ? -1
        : 1
      : a.model === b.model
        ? 0
        : a.model === null
          ? 1
          : b.model === null
            ? -1
            : a.model < b.model
              ? -1
              : 1,
  );
}
