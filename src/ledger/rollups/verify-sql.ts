import { MEASURE_COLUMNS, ROLLUP_DIMENSIONS, rollupMeasures } from './dimensions.js';
import type { FoldDialect } from './fold-sql.js';

/** What differs between engines in checking the rollups (each adapter gives one). */
export interface RollupCheckDialect extends Pick<FoldDialect, 'hourOf' | 'latencyUs'> {
  /** The condition on raw rows `r` that they are folded (at or below the watermark). */
  folded: string;
  /** The UTC day of a `usage_hours.hour` value `h.hour`, as `usage_days.day` stores it. */
  dayOfHour: string;
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

const dims = ROLLUP_DIMENSIONS.map((d) => d.column);
const differs = (alias: string) => MEASURE_COLUMNS.map((m) => `${alias}.${m} <> 0`).join(' OR ');

/**
 * The rollup checks of `ledger verify`, on any engine: each hour's rollup rows against the folded
 * raw rows they cover (hours after the last archive cut-off), each day's rollup rows against its
 * hours, and the hours before the cut-off against what the archive runs recorded plus the rows
 * still there. Differences are summed with a sign (rollup minus rows), so a bucket is named when
 * any measure differs or only one side has it.
 */
export function rollupChecks(d: RollupCheckDialect): RollupCheck[] {
  const raw = rollupMeasures(d.latencyUs);
  const key = ['hour', ...dims];
  const info = (alias: string) =>
    ['requests', 'total_tokens', 'cost_nano_usd']
      .map((m, i) => `${i ? "' " : "'"}${m}=' || ${d.text(`${alias}.${m}`)}`)
      .join(' || ');
  const rowName = (alias: string, first: string) =>
    [first, ...dims].map((c) => d.text(`${alias}.${c}`)).join(` || '/' || `);
  const rollupRows = `SELECT ${key.join(', ')}, ${MEASURE_COLUMNS.join(', ')} FROM usage_hours WHERE hour >= ${d.cut}`;
  const rawRows = `SELECT ${d.hourOf} AS hour, ${ROLLUP_DIMENSIONS.map((x) => `coalesce(r.${x.source}, '') AS ${x.column}`).join(', ')},
      ${raw.map((m) => `-coalesce(${m.raw}, 0) AS ${m.column}`).join(', ')}
    FROM requests r WHERE r.status <> 'held' AND ${d.folded} AND r.created_at >= ${d.cut}
    GROUP BY ${Array.from({ length: key.length }, (_, i) => i + 1).join(', ')}`;
  const sums = MEASURE_COLUMNS.map((m) => `sum(u.${m}) AS ${m}`).join(', ');
  return [
    {
      name: 'rollups_match_rows',
      severity: 'error',
      detail:
        'an hour of usage_hours (rollup minus rows, per hour/company/user/key/model/endpoint/feature) differs from the folded rows it covers',
      sql: `SELECT ${rowName('x', 'hour')} AS row, ${info('x')} AS info FROM (
              SELECT ${key.map((k) => `u.${k}`).join(', ')}, ${sums}
              FROM (SELECT * FROM (${rollupRows}) AS a UNION ALL SELECT * FROM (${rawRows}) AS b) AS u
              GROUP BY ${key.map((k) => `u.${k}`).join(', ')}) AS x
            WHERE ${differs('x')}`,
    },
    {
      name: 'rollup_days_match_hours',
      severity: 'error',
      detail: 'a day of usage_days (day minus its hours) differs from the sum of its usage_hours',
      sql: `SELECT ${rowName('x', 'day')} AS row, ${info('x')} AS info FROM (
              SELECT u.day, ${dims.map((c) => `u.${c}`).join(', ')}, ${sums}
              FROM (SELECT day, ${dims.join(', ')}, ${MEASURE_COLUMNS.join(', ')} FROM usage_days
                    UNION ALL SELECT ${d.dayOfHour} AS day, ${dims.map((c) => `h.${c}`).join(', ')}, ${MEASURE_COLUMNS.map((m) => `-h.${m}`).join(', ')}
                    FROM usage_hours h) AS u
              GROUP BY u.day, ${dims.map((c) => `u.${c}`).join(', ')}) AS x
            WHERE ${differs('x')}`,
    },
    {
      name: 'archived_rollups_match',
      severity: 'error',
      detail:
        'the hours before the last archive cut-off (rollups minus archived totals minus rows still there) do not add up',
      sql: `SELECT 'before ' || ${d.text(d.cut)} AS row, ${info('x')} AS info FROM (
              SELECT ${MEASURE_COLUMNS.map(
                (m) => `(SELECT coalesce(sum(${m}), 0) FROM usage_hours WHERE hour < ${d.cut})
                - (SELECT coalesce(sum(${m}), 0) FROM archives)
                - (SELECT coalesce(${raw.find((x) => x.column === m)!.raw}, 0) FROM requests r
                   WHERE r.status <> 'held' AND ${d.folded} AND r.created_at < ${d.cut}) AS ${m}`,
              ).join(', ')}) AS x
            WHERE ${differs('x')}`,
    },
  ];
}
