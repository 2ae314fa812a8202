import type { RequestFilter } from '../port/reader.js';
import { ROLLUP_DIMENSIONS, tableFor, type RollupTable } from './dimensions.js';

/**
 * How the newest rows matching a filter are found at any ledger size. A filter on the company (or
 * on nothing) walks an index in time order and every row it meets matches, so it stops after
 * `limit` rows. A filter on anything else (a user, a model…) could meet millions of rows of other
 * users first; the hourly rollups tell which hours hold matching rows, so only those hours' rows
 * are read (plus the rows not folded yet, found by the fold-order index).
 */
export function guidedBy(filter: RequestFilter): RollupTable | null {
  const dims = ROLLUP_DIMENSIONS.filter((d) => d.column !== 'company_id' && filter[d.filter] !== undefined);
  if (dims.length === 0) return null;
  if (dims.some((d) => filter[d.filter] === '')) return null;
  return tableFor('hour', ['company_id', ...dims.map((d) => d.column)]);
}

/** The rollup table's condition for `filter`'s dimensions (`t` alias), with its parameters in order. */
export function rollupFilter(filter: RequestFilter): { where: string[]; params: string[] } {
  const where: string[] = [];
  const params: string[] = [];
  for (const d of ROLLUP_DIMENSIONS) {
    const v = filter[d.filter];
    if (v === undefined) continue;
    where.push(`t.${d.column}`);
    params.push(v);
  }
  return { where, params };
}

/** An hour's first instant (ISO UTC) before or at `iso`. */
export const floorHour = (iso: string): string =>
  new Date(Math.floor(Date.parse(iso) / 3_600_000) * 3_600_000).toISOString();

/** The hour after the one starting at `iso`. */
export const nextHour = (iso: string): string => new Date(Date.parse(iso) + 3_600_000).toISOString();
