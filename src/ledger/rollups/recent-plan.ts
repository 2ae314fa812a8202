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

/** What the guided walk needs of an engine (see `newestGuided`); rows carry their admission instant. */
export interface GuidedSource<R extends { id: string; createdAt: string }> {
  /** The matching finished rows not folded into the rollups yet. */
  unfolded(): Promise<R[]>;
  /** Up to 48 hours in [low, before) holding matching folded rows, newest first, with their counts (bounds absent: open). */
  hours(low: string | undefined, before: string | undefined): Promise<{ hour: string; n: number }[]>;
  /** The matching rows admitted in these hours (each `[hour, next hour)`). */
  inHours(hours: string[]): Promise<R[]>;
  /** Newest first. */
  order(a: R, b: R): number;
}

/**
 * The newest `n` rows matching a selective filter (see `guidedBy`): the rows not folded yet, then
 * the hours the rollups say hold matching rows, newest first, until `n` rows are at or after the
 * oldest hour read — no older hour can hold a newer one. Each search for hours looks back a day, a
 * week, a month, then to `since`, so a filter without a company reads the recent stretch only.
 */
export async function newestGuided<R extends { id: string; createdAt: string }>(
  src: GuidedSource<R>,
  filter: RequestFilter,
  n: number,
  now: number,
): Promise<R[]> {
  const found = new Map<string, R>();
  if (n <= 0) return [];
  for (const r of await src.unfolded()) found.set(r.id, r);
  const since = filter.since === undefined ? undefined : floorHour(filter.since);
  let before = filter.until;
  const enough = () => before !== undefined && [...found.values()].filter((r) => r.createdAt >= before!).length >= n;
  while (!enough()) {
    const hours = await lookBack(src, since, before, now);
    if (hours.length === 0) break;
    const take: string[] = [];
    let expected = 0;
    for (const h of hours) {
      take.push(h.hour);
      expected += h.n;
      if (expected >= n) break;
    }
    for (const r of await src.inHours(take)) found.set(r.id, r);
    before = take[take.length - 1];
  }
  return [...found.values()].sort((a, b) => src.order(a, b)).slice(0, n);
}

async function lookBack<R extends { id: string; createdAt: string }>(
  src: GuidedSource<R>,
  since: string | undefined,
  before: string | undefined,
  now: number,
): Promise<{ hour: string; n: number }[]> {
  const top = before === undefined ? now + 86_400_000 : Date.parse(before);
  for (const days of [1, 7, 31, Infinity]) {
    const from = days === Infinity ? since : new Date(top - days * 86_400_000).toISOString();
    const low = since !== undefined && from !== undefined && from < since ? since : from;
    const hours = await src.hours(low, before);
    if (hours.length > 0 || low === since) return hours;
  }
  return [];
}
