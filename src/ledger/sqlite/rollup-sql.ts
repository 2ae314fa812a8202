import type { FoldDialect } from '../rollups/fold-sql.js';
import type { UsageDialect } from '../rollups/usage-sql.js';

/** A row's latency rounded to whole µs (half up; latencies are never negative). */
export const LATENCY_US = 'CAST(r.latency_ms * 1000 + 0.5 AS INTEGER)';

/** The fold watermark: finished rows with `settle_seq` at or below it are in the rollups. */
export const FOLDED = 'coalesce((SELECT folded_seq FROM rollup_state WHERE id = 1), 0)';

/** SQLite's fold of the rows with `settle_seq` in (?, ?] (hours as `2026-11-24T10:00:00.000Z`, days as `2026-11-24`, months as `2026-11`). */
export const FOLD: FoldDialect = {
  hourOf: "substr(r.created_at, 1, 13) || ':00:00.000Z'",
  dayOf: 'substr(r.created_at, 1, 10)',
  monthOf: 'substr(r.created_at, 1, 7)',
  latencyUs: LATENCY_US,
  batch: 'r.settle_seq > ? AND r.settle_seq <= ?',
};

/** SQLite's usage queries over the rollups and the raw rows (times are ISO 8601 UTC text). */
export const USAGE: UsageDialect = {
  param: () => '?',
  key(groupBy, table) {
    if (groupBy === 'day')
      return table === 'day' ? 't.day' : table === 'hour' ? 'substr(t.hour, 1, 10)' : 'substr(r.created_at, 1, 10)';
    return table === 'raw' ? "substr(r.created_at, 1, 13) || ':00Z'" : "substr(t.hour, 1, 13) || ':00Z'";
  },
  bound: (table, iso) => (table === 'day' ? iso.slice(0, 10) : table === 'month' ? iso.slice(0, 7) : iso),
  latencyUs: LATENCY_US,
  // Always by the fold-order index: SQLite would otherwise walk a company's rows in time order to save a sort.
  unfolded: [
    { from: 'requests r INDEXED BY requests_settle_seq', where: `r.settle_seq > ${FOLDED}` },
    { from: 'requests r INDEXED BY requests_settle_seq', where: 'r.settle_seq IS NULL' },
  ],
  microOfNano: (e) => `(${e} + 500) / 1000`,
  orderKey: (e) => e,
  hasTag: (param) => `EXISTS (SELECT 1 FROM json_each(r.tags) WHERE value = ${param})`,
  eachTag: 'LEFT JOIN json_each(r.tags) AS tg',
  // Without statistics (tollgate never runs ANALYZE) SQLite cannot skip-scan a primary key leading
  // with the company: an operator's report read whole rollup tables (5× slower on 200,000 rows).
  everyCompany: 'SELECT DISTINCT company_id FROM usage_days_companies',
};

/** Gives finished rows that have none a `settle_seq` (one past the highest), at most `?` of them: rows copied in or written before rollups. */
export const MARK_UNSEQUENCED = `UPDATE requests SET settle_seq = (SELECT coalesce(max(settle_seq), 0) + 1 FROM requests)
  WHERE rowid IN (SELECT rowid FROM requests WHERE settle_seq IS NULL AND status <> 'held' LIMIT ?)`;

/** 1 when some finished row has no `settle_seq`. */
export const ANY_UNSEQUENCED = "SELECT 1 AS n FROM requests WHERE settle_seq IS NULL AND status <> 'held' LIMIT 1";
