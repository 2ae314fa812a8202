import type { FoldDialect } from '../rollups/fold-sql.js';
import type { UsageDialect } from '../rollups/usage-sql.js';
import type { Queryable } from './db.js';

/** A row's latency rounded to whole µs, half up (as the SQLite ledger rounds it). */
export const LATENCY_US = 'floor(r.latency_ms * 1000 + 0.5)::bigint';

/** The fold watermark: finished rows whose `settle_xid` is below it are in the rollups. */
export const FOLDED = "coalesce((SELECT folded_xid FROM rollup_state WHERE id = 1), '0'::xid8)";

/** The fold watermark now, as the decimal text of its xid8 ('0' before the first fold). */
export async function foldedXid(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ x: string | null }>('SELECT folded_xid::text AS x FROM rollup_state WHERE id = 1');
  return watermark(rows[0]?.x ?? null);
}

/** `x` when it is an xid8's decimal text, else '0'. */
export const watermark = (x: string | null): string => (x !== null && /^\d+$/.test(x) ? x : '0');

/**
 * The condition "`column` is at or past the fold watermark" (`column` >= `FOLDED`), also bounded
 * by `known`, a watermark read before (`foldedXid`): the watermark only moves forward, so the
 * statement's own `FOLDED` still decides which rows match, but the planner, which cannot see through
 * that subquery and guesses a third of the table (3.3 million rows on a 10M-row ledger: a parallel
 * scan taking seconds), estimates from the literal and reads the few rows behind the fold by index.
 */
export const behindFold = (known: string, column = 'r.settle_xid'): string =>
  `${column} >= '${watermark(known)}'::xid8 AND ${column} >= ${FOLDED}`;

/** `x` (a timestamptz) formatted in UTC. */
const utc = (x: string, format: string) => `to_char(${x} AT TIME ZONE 'UTC', '${format}')`;

/** Postgres's fold of the rows with `settle_xid` in [$1, $2) (hours, days and months in UTC; a month as the date of its first day). */
export const FOLD: FoldDialect = {
  hourOf: "date_trunc('hour', r.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
  dayOf: "(r.created_at AT TIME ZONE 'UTC')::date",
  monthOf: "date_trunc('month', r.created_at AT TIME ZONE 'UTC')::date",
  latencyUs: LATENCY_US,
  batch: 'r.settle_xid >= $1::xid8 AND r.settle_xid < $2::xid8',
};

/** Postgres's usage queries over the rollups and the raw rows; keys sort bytewise, NULL first, as on SQLite. */
export const USAGE: UsageDialect = {
  param: (n) => `$${n}`,
  key(groupBy, table) {
    const at = table === 'raw' ? 'r.created_at' : 't.hour';
    if (groupBy === 'day') return table === 'day' ? "to_char(t.day, 'YYYY-MM-DD')" : utc(at, 'YYYY-MM-DD');
    return utc(at, 'YYYY-MM-DD"T"HH24":00Z"');
  },
  bound: (table, iso) => (table === 'day' || table === 'month' ? iso.slice(0, 10) : iso),
  latencyUs: LATENCY_US,
  unfolded: [
    { from: 'requests r', where: `r.settle_xid >= ${FOLDED}` },
    { from: 'requests r', where: 'r.settle_xid IS NULL' },
  ],
  microOfNano: (e) => `div(${e} + 500, 1000)`,
  orderKey: (e) => `${e} COLLATE "C" NULLS FIRST`,
  hasTag: (param) => `r.tags::jsonb ? ${param}`,
  eachTag: 'LEFT JOIN LATERAL jsonb_array_elements_text(r.tags::jsonb) AS tg(value) ON true',
};
