import {
  detailTable,
  MEASURE_COLUMNS,
  ROLLUP_DIMENSIONS,
  ROLLUP_TABLES,
  rollupMeasures,
  type RollupTable,
} from './dimensions.js';
import type { FoldDialect } from './fold-sql.js';

/** What differs between engines in checking the rollups (each adapter gives one). */
export interface RollupCheckDialect extends Pick<FoldDialect, 'hourOf' | 'latencyUs'> {
  /** The condition on raw rows `r` that they are folded (at or below the watermark). */
  folded: string;
  /** The UTC day of a `usage_hours.hour` value `h.hour`, as `usage_days.day` stores it. */
  dayOfHour: string;
  /** The UTC month of a `usage_days.day` value `h.day`, as the month tables' `month` stores it. */
  monthOfDay: string;
  /** The archive cut-off (hour-aligned, the latest `archives.before`), comparable with `hour` and `created_at`; the epoch when nothing was archived. */
  cut: string;
  /** `expr` as text, for the finding's `info`. */
  text(expr: string): string;
}

/** A check in `ledger verify`'s shape: a query returning one row (`row`, `info`) per offence. */
export interface RollupCheck {
  name: string;
  severity: 'error' | 'warning';
  detail: string;
  sql: string;
}

const differs = (alias: string) => MEASURE_COLUMNS.map((m) => `${alias}.${m} <> 0`).join(' OR ');

/**
 * The rollup checks of `ledger verify`, on any engine: the detail hours against the folded raw rows
 * they cover (hours after the last archive cut-off); every other hourly table against the detail
 * hours; every daily table against its hourly table, every monthly one against its daily table; and the detail hours before the cut-off
 * against what the archive runs recorded plus the rows still there. Differences are summed with a
 * sign (rollup minus what it should be), so a bucket is named when any measure differs or only one
 * side has it.
 */
export function rollupChecks(d: RollupCheckDialect): RollupCheck[] {
  const raw = rollupMeasures(d.latencyUs);
  const info = (alias: string) =>
    ['requests', 'total_tokens', 'cost_nano_usd']
      .map((m, i) => `${i ? "' " : "'"}${m}=' || ${d.text(`${alias}.${m}`)}`)
      .join(' || ');
  const sums = MEASURE_COLUMNS.map((m) => `sum(u.${m}) AS ${m}`).join(', ');
  /** Rows of `key` (columns of `u`) where `a` minus `b` is not zero; `a` and `b` select `key` then the measures. */
  const diff = (
    key: string[],
    a: string,
    b: string,
  ) => `SELECT ${key.map((k) => d.text(`x.${k}`)).join(` || '/' || `)} AS row, ${info('x')} AS info FROM (
      SELECT ${key.map((k) => `u.${k}`).join(', ')}, ${sums}
      FROM (SELECT * FROM (${a}) AS a UNION ALL SELECT * FROM (${b}) AS b) AS u
      GROUP BY ${key.map((k) => `u.${k}`).join(', ')}) AS x
    WHERE ${differs('x')}`;
  const neg = MEASURE_COLUMNS.map((m) => `-sum(${m})`).join(', ');
  const detail = detailTable('hour');
  const detailKey = ['hour', ...detail.dims];
  const rawRows = `SELECT ${d.hourOf} AS hour, ${ROLLUP_DIMENSIONS.map((x) => `coalesce(r.${x.source}, '')`).join(', ')},
      ${raw.map((m) => `-coalesce(${m.raw}, 0)`).join(', ')}
    FROM requests r WHERE r.status <> 'held' AND ${d.folded} AND r.created_at >= ${d.cut}
    GROUP BY ${detailKey.map((_, i) => i + 1).join(', ')}`;
  const select = (t: RollupTable, key: string[], where = '') =>
    `SELECT ${key.join(', ')}, ${MEASURE_COLUMNS.join(', ')} FROM ${t.table}${where}`;
  const checks: RollupCheck[] = [
    {
      name: 'rollups_match_rows',
      severity: 'error',
      detail:
        'an hour of usage_hours (rollup minus rows, per hour/company/user/key/model/endpoint/feature) differs from the folded rows it covers',
      sql: diff(detailKey, select(detail, detailKey, ` WHERE hour >= ${d.cut}`), rawRows),
    },
  ];
  for (const t of ROLLUP_TABLES.filter((x) => x.bucket === 'hour' && x !== detail)) {
    const key = ['hour', ...t.dims];
    checks.push({
      name: 'rollup_tables_agree',
      severity: 'error',
      detail: `an hour of ${t.table} (minus usage_hours summed to its dimensions) differs`,
      sql: diff(
        key,
        select(t, key),
        `SELECT ${key.join(', ')}, ${neg} FROM ${detail.table} GROUP BY ${key.join(', ')}`,
      ),
    });
  }
  for (const t of ROLLUP_TABLES.filter((x) => x.bucket !== 'hour')) {
    // A day sums its hours; a month its days.
    const [finer, of] = t.bucket === 'day' ? (['hour', d.dayOfHour] as const) : (['day', d.monthOfDay] as const);
    const parts = ROLLUP_TABLES.find((x) => x.bucket === finer && x.dims.join() === t.dims.join())!;
    const key = [t.bucket, ...t.dims];
    checks.push({
      name: t.bucket === 'day' ? 'rollup_days_match_hours' : 'rollup_months_match_days',
      severity: 'error',
      detail: `a ${t.bucket} of ${t.table} (${t.bucket} minus its ${finer}s) differs from the sum of its ${parts.table}`,
      sql: diff(
        key,
        select(t, key),
        `SELECT ${of} AS ${t.bucket}, ${t.dims.map((c) => `h.${c}`).join(', ')}, ${MEASURE_COLUMNS.map((m) => `-sum(h.${m})`).join(', ')}
         FROM ${parts.table} h GROUP BY ${of}, ${t.dims.map((c) => `h.${c}`).join(', ')}`,
      ),
    });
  }
  checks.push({
    name: 'archived_rollups_match',
    severity: 'error',
    detail:
      'the hours before the last archive cut-off (rollups minus archived totals minus rows still there) do not add up',
    sql: `SELECT 'before ' || ${d.text(d.cut)} AS row, ${info('x')} AS info FROM (
            SELECT ${MEASURE_COLUMNS.map(
              (m) => `(SELECT coalesce(sum(${m}), 0) FROM ${detail.table} WHERE hour < ${d.cut})
              - (SELECT coalesce(sum(${m}), 0) FROM archives)
              - (SELECT coalesce(${raw.find((x) => x.column === m)!.raw}, 0) FROM requests r
                 WHERE r.status <> 'held' AND ${d.folded} AND r.created_at < ${d.cut}) AS ${m}`,
            ).join(', ')}) AS x
          WHERE ${differs('x')}`,
  });
  return checks;
}
