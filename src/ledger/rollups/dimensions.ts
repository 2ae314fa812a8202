import type { GroupBy, RequestFilter } from '../port/reader.js';

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
  /** Many values (one per end user): the summary tables leave it out. */
  fine?: boolean;
}

/**
 * The dimensions, in primary-key order after the company and the bucket. Adding one (spend tags,
 * end users) is one entry here and one column (in the primary key) in each engine's two rollup
 * tables; reports, folding and `ledger verify` follow this list.
 */
export const ROLLUP_DIMENSIONS: readonly RollupDimension[] = [
  { column: 'company_id', source: 'company_id', filter: 'companyId' },
  { column: 'user_id', source: 'user_id', filter: 'userId', fine: true },
  { column: 'key_id', source: 'key_id', filter: 'keyId' },
  { column: 'model', source: 'requested_model', filter: 'model' },
  { column: 'endpoint', source: 'endpoint', filter: 'endpoint' },
  { column: 'feature', source: 'feature', filter: 'feature' },
];

/**
 * What the rollups do not keep: spend tags (a row has several, so a row would have to count in
 * several rollup rows) and end users (as many as an app has users). A usage report filtered or
 * grouped by one reads raw rows only (see `planUsage`); history guides its walk by the rollups'
 * other dimensions and filters the rows it reads.
 */
export const RAW_ONLY_FILTERS = ['tag', 'endUser'] as const satisfies readonly (keyof RequestFilter)[];
export const RAW_ONLY_GROUPS: readonly GroupBy[] = ['tag', 'end_user'];

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

/** A rollup bucket: a UTC hour, day or calendar month. */
export type RollupBucket = 'hour' | 'day' | 'month';

/** A rollup table: its bucket (UTC hour, day or month) and the dimensions it keeps (rollup columns, `company_id` first). */
export interface RollupTable {
  table: string;
  bucket: RollupBucket;
  dims: readonly string[];
}

const ALL = ROLLUP_DIMENSIONS.map((d) => d.column);
const SUMMARY = ROLLUP_DIMENSIONS.filter((d) => !d.fine).map((d) => d.column);
/** What most reports (an operator's, a company's) group and filter by: company, model and endpoint. */
const TOTALS = ['company_id', 'model', 'endpoint'];

/**
 * The rollup tables, cheapest first: a report reads the first of its bucket that keeps every
 * dimension it filters or groups by. The detail tables (every dimension) hold about as many rows
 * per day as there are user × key × model × endpoint × feature combinations that day (0.13 per
 * request a day, 0.5 an hour, measured on 10M requests of 4,000 users); totals, by day or by
 * company read the per-company tables (one row per company and hour or day); reports by model or
 * endpoint read the totals tables (4% of the detail days);
 * those by key or feature the summary tables (everything but the user); those by user the per-user
 * tables. Reports by user and by model or endpoint are the ones whose rows grow with the days of
 * the window (one per user, or per model and endpoint, and day): their tiers also have a table per
 * UTC calendar month, so a 90-day report reads about 3 month rows and the days at the window's
 * edges per user instead of 90 day rows. All are folded together and kept for ever; a new
 * dimension is a column of the detail tables (and of the summary tables unless `fine`).
 */
export const ROLLUP_TABLES: readonly RollupTable[] = [
  { table: 'usage_hours_companies', bucket: 'hour', dims: ['company_id'] },
  { table: 'usage_days_companies', bucket: 'day', dims: ['company_id'] },
  { table: 'usage_hours_totals', bucket: 'hour', dims: TOTALS },
  { table: 'usage_days_totals', bucket: 'day', dims: TOTALS },
  { table: 'usage_hours_summary', bucket: 'hour', dims: SUMMARY },
  { table: 'usage_days_summary', bucket: 'day', dims: SUMMARY },
  { table: 'usage_hours_users', bucket: 'hour', dims: ['company_id', 'user_id'] },
  { table: 'usage_days_users', bucket: 'day', dims: ['company_id', 'user_id'] },
  { table: 'usage_months_totals', bucket: 'month', dims: TOTALS },
  { table: 'usage_months_users', bucket: 'month', dims: ['company_id', 'user_id'] },
  { table: 'usage_hours', bucket: 'hour', dims: ALL },
  { table: 'usage_days', bucket: 'day', dims: ALL },
];

/** The detail table (every dimension) of an hour or day bucket. */
export const detailTable = (bucket: 'hour' | 'day'): RollupTable =>
  ROLLUP_TABLES.find((t) => t.bucket === bucket && t.dims.length === ALL.length)!;

/** The cheapest table of `bucket` keeping every one of `dims` (rollup columns). */
export function tableFor(bucket: 'hour' | 'day', dims: Iterable<string>): RollupTable {
  return firstKeeping(bucket, dims)!;
}

/** The cheapest month table keeping every one of `dims` (rollup columns); undefined when none does. */
export function monthTableFor(dims: Iterable<string>): RollupTable | undefined {
  return firstKeeping('month', dims);
}

function firstKeeping(bucket: RollupBucket, dims: Iterable<string>): RollupTable | undefined {
  const need = [...dims];
  return ROLLUP_TABLES.find((t) => t.bucket === bucket && need.every((d) => t.dims.includes(d)));
}

/** The rollup column a report grouped by `groupBy` keys on (none for time, tags, end users and totals). */
export const GROUP_DIMENSION: Partial<Record<GroupBy, string>> = {
  company: 'company_id',
  user: 'user_id',
  model: 'model',
  endpoint: 'endpoint',
};

/** The rollup columns a report filters or groups by, `company_id` always among them: it reads a table keeping them all. */
export function neededDims(filter: RequestFilter, groupBy: GroupBy): Set<string> {
  const needed = new Set(['company_id']);
  for (const x of ROLLUP_DIMENSIONS) if (filter[x.filter] !== undefined) needed.add(x.column);
  const g = GROUP_DIMENSION[groupBy];
  if (g) needed.add(g);
  return needed;
}
