import { writeFileSync } from 'node:fs';
import pg from 'pg';

/** Statements this process sent to Postgres (each one request and one answer: a round trip), for the bench. */
export interface PgStats {
  statements: number;
}

/** The env var naming the JSON file the count is written to (`%p` becomes the pid); unset (production): no counting. */
export const PG_STATS_ENV = 'TOLLGATE_PG_STATS';

let installed = false;

/**
 * When `TOLLGATE_PG_STATS` is set, counts every statement any connection of this process sends
 * (BEGIN and COMMIT included; a pipelined statement too) and writes `{ statements }` to that file
 * every half second and at exit, so that the bench can take the difference over a run. Does nothing
 * otherwise. Idempotent.
 */
export function countStatementsIfAsked(): void {
  const pattern = process.env[PG_STATS_ENV];
  if (!pattern || installed) return;
  installed = true;
  const file = pattern.replaceAll('%p', String(process.pid));
  const stats: PgStats = { statements: 0 };
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    stats.statements++;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  const write = () => writeFileSync(file, JSON.stringify(stats));
  setInterval(write, 500).unref();
  process.once('exit', write);
}
