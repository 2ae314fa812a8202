import { writeFileSync } from 'node:fs';

/** Statements and commits the serving connection ran, for `bench/profile` (per request there). */
export interface SqlStats {
  statements: number;
  commits: number;
}

/** The env var naming the JSON file the counts are written to at exit; unset (production): no counting. */
export const SQL_STATS_ENV = 'TOLLGATE_SQL_STATS';

/**
 * A better-sqlite3 `verbose` hook that counts every statement the connection runs (BEGIN and
 * COMMIT included) and writes `{ statements, commits }` to the file named by TOLLGATE_SQL_STATS when
 * the process exits; undefined when the variable is unset. Counting formats each statement's SQL,
 * so it is for measuring runs only (`bench/profile`), never profiled runs.
 */
export function sqlStatsHook(): ((sql: unknown) => void) | undefined {
  const file = process.env[SQL_STATS_ENV];
  if (!file) return undefined;
  const stats: SqlStats = { statements: 0, commits: 0 };
  process.once('exit', () => writeFileSync(file, JSON.stringify(stats)));
  return (sql) => {
    stats.statements++;
    if (typeof sql === 'string' && /^\s*(COMMIT|END)\b/i.test(sql)) stats.commits++;
  };
}
