import type { RequestFilter } from '../port/reader.js';

/**
 * The rollups' shape, shared by every engine (src/ledger/sqlite/schema-rollups.ts and
 * src/ledger/postgres/schema-rollups.ts declare the tables). A rollup row sums the finished rows of
 * `requests` of one UTC hour (or day) that share every dimension.
 */

/** A dimension: its column in the rollup tables, its column in `requests`, the filter field it answers. */
export interface RollupDimension {
  column: string;
  source: string;
  filter: keyof RequestFilter;
}

/**
 * The dimensions, in primary-key order after the company and the bucket. Adding one (spend tags,
 * end users) is one entry here and one column (in the primary key) in each engine's two rollup
 * tables; reports, folding and `ledger verify` follow this list.
 */
export const ROLLUP_DIMENSIONS: readonly RollupDimension[] = [
  { column: 'company_id', source: 'company_id', filter: 'companyId' },
  { column: 'user_id', source: 'user_id', filter: 'userId' },
  { column: 'key_id', source: 'key_id', filter: 'keyId' },
  { column: 'model', source: 'requested_model', filter: 'model' },
  { column: 'endpoint', source: 'endpoint', filter: 'endpoint' },
  { column: 'feature', source: 'feature', filter: 'feature' },
];

/** The rollup columns a `UsageRow` is built from, each with the SQL summing it over raw rows `r` (`latencyUs`: the engine's rounding to whole µs). */
export function rollupMeasures(latencyUs: string): readonly { column: string; raw: string }[] {
  return [
    { column: 'requests', raw: 'count(*)' },
    { column: 'errors', raw: "sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END)" },
    { column: 'input_tokens', raw: 'sum(r.input_tokens)' },
    { column: 'cached_input_tokens', raw: 'sum(r.cached_input_tokens)' },
    { column: 'output_tokens', raw: 'sum(r.output_tokens)' },
    { column: 'reasoning_tokens', raw: 'sum(r.reasoning_tokens)' },
    { column: 'total_tokens', raw: 'sum(r.total_tokens)' },
    { column: 'metered_tokens', raw: 'sum(r.metered_tokens)' },
    { column: 'cost_nano_usd', raw: 'sum(r.cost_nano_usd)' },
    { column: 'latency_us', raw: `sum(CASE WHEN r.latency_ms IS NULL THEN 0 ELSE ${latencyUs} END)` },
    { column: 'latency_count', raw: 'count(r.latency_ms)' },
  ];
}

/** The names of the rollup measures, in table order. */
export const MEASURE_COLUMNS = rollupMeasures('0').map((m) => m.column);
