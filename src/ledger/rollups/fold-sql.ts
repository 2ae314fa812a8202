import { MEASURE_COLUMNS, ROLLUP_DIMENSIONS, rollupMeasures, type RollupTable } from './dimensions.js';

export { ROLLUP_TABLES } from './dimensions.js';

/** What differs between engines in folding rows into the rollups (each adapter gives one). */
export interface FoldDialect {
  /** The UTC hour of `r.created_at`, as the `usage_hours.hour` column stores it. */
  hourOf: string;
  /** The UTC day of `r.created_at`, as the `usage_days.day` column stores it. */
  dayOf: string;
  /** The UTC calendar month of `r.created_at`, as the month tables' `month` column stores it. */
  monthOf: string;
  /** A row's latency rounded to whole µs, over `r.latency_ms` (not NULL). */
  latencyUs: string;
  /** The condition selecting the raw rows `r` of one fold (with its parameters' placeholders). */
  batch: string;
}

/**
 * `INSERT … SELECT … ON CONFLICT DO UPDATE` adding the finished rows the dialect's `batch`
 * selects to `table`, one rollup row per bucket and dimensions (a missing dimension stored as '').
 * Run in the transaction that moves the fold watermark, so each row is counted exactly once.
 * `source`: where the rows `r` come from (default the `requests` table; a CTE of the batch's rows).
 */
export function foldSql(d: FoldDialect, target: RollupTable, source = 'requests r'): string {
  return `${insertInto(target)} ${foldSelectSql(d, target, source)} ${onConflictAdd(target)}`;
}

/**
 * The `SELECT` of `foldSql`: the batch's rows summed per bucket and dimensions, one row per rollup
 * row to add, in the columns' order of `foldAddSql` (bucket, the table's dimensions, then every
 * measure).
 */
export function foldSelectSql(d: FoldDialect, target: RollupTable, source = 'requests r'): string {
  const dims = dimsOf(target);
  const select = [
    target.bucket === 'hour' ? d.hourOf : target.bucket === 'day' ? d.dayOf : d.monthOf,
    ...dims.map((x) => `coalesce(r.${x.source}, '')`),
    ...rollupMeasures(d.latencyUs).map((m) => `coalesce(${m.raw}, 0)`),
  ];
  const groups = Array.from({ length: 1 + dims.length }, (_, i) => i + 1).join(', ');
  return `SELECT ${select.join(', ')} FROM ${source} WHERE r.status <> 'held' AND ${d.batch} GROUP BY ${groups}`;
}

/** Adds rows already summed by `foldSelectSql` (kept in table `from`) to `target`'s rows, creating missing ones. */
export function foldAddSql(target: RollupTable, from: string): string {
  return `${insertInto(target)} SELECT * FROM ${from} WHERE true ${onConflictAdd(target)}`;
}

const dimsOf = (target: RollupTable) => ROLLUP_DIMENSIONS.filter((x) => target.dims.includes(x.column));

const insertInto = (target: RollupTable) =>
  `INSERT INTO ${target.table} (${[target.bucket, ...dimsOf(target).map((x) => x.column), ...MEASURE_COLUMNS].join(', ')})`;

function onConflictAdd(target: RollupTable): string {
  const key = [
    'company_id',
    target.bucket,
    ...dimsOf(target)
      .map((x) => x.column)
      .filter((c) => c !== 'company_id'),
  ];
  const add = MEASURE_COLUMNS.map((m) => `${m} = ${target.table}.${m} + excluded.${m}`).join(', ');
  return `ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${add}`;
}

/**
 * Σ of every rollup measure of the raw rows `r` matching `where` (for the archive's totals), as
 * one row of snake_case columns.
 */
export function totalsSql(latencyUs: string, where: string): string {
  const sums = rollupMeasures(latencyUs).map((m) => `coalesce(${m.raw}, 0) AS ${m.column}`);
  return `SELECT ${sums.join(', ')} FROM requests r WHERE ${where}`;
}
