/**
 * What the scale phase measures of the ledger on Postgres during a closed-loop run, per request:
 * the statements tollgate's processes sent (each one round trip: `TOLLGATE_PG_STATS`, counted in
 * the driver), the transactions Postgres committed (`pg_stat_database.xact_commit`), and how long
 * its backends waited on locks (hot grant rows): `pg_stat_activity` sampled every 10 ms.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

/** The ledger's cost per request over one run. */
export interface LedgerPerRequest {
  /** Statements sent by tollgate (BEGIN and COMMIT included); each is one round trip. */
  statements: number;
  /** Transactions committed by Postgres in the layout's database (heartbeats and the rest included). */
  commits: number;
  /** Of the time backends of this database were busy, the share spent waiting for a lock (0–1). */
  lockWaitShare: number;
  /** Backends waiting for a lock, on average over the run. */
  lockWaiters: number;
  /** Backends busy (active), on average over the run. */
  active: number;
}

/** The statement counts tollgate's processes write for a layout: `<dir>/pgstats-<tag>-<pid>.json`. */
export function statementCounter(dir: string, tag: string): { env: Record<string, string>; read(): number } {
  const prefix = `pgstats-${tag}-`;
  return {
    env: { TOLLGATE_PG_STATS: join(dir, `${prefix}%p.json`) },
    read: () =>
      readdirSync(dir)
        .filter((f) => f.startsWith(prefix))
        .reduce(
          (sum, f) => sum + (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { statements: number }).statements,
          0,
        ),
  };
}

/**
 * Starts measuring the layout's database `url` (commits, lock waits) from the server's `adminUrl`
 * (so that the measuring adds nothing to its counts); `stop(requests)` ends the run and gives the
 * figures per request (statements from `statements()`, read before and after).
 */
export async function measureLedger(
  adminUrl: string,
  url: string,
  statements: () => number,
): Promise<{ stop(requests: number): Promise<LedgerPerRequest> }> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => {});
  await client.connect();
  const db = new URL(url).pathname.slice(1);
  const commits = async () =>
    Number(
      (await client.query<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = $1', [db]))
        .rows[0]!.n,
    );
  // Counts are reported by each backend at most once a second: let the previous run's be in.
  await new Promise((r) => setTimeout(r, 1_100));
  const before = { commits: await commits(), statements: statements() };
  let samples = 0;
  let waiting = 0;
  let active = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      const { rows } = await client.query<{ active: number; waiting: number }>(
        `SELECT count(*) FILTER (WHERE state = 'active')::int AS active,
                count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock')::int AS waiting
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [db],
      );
      samples++;
      active += rows[0]!.active;
      waiting += rows[0]!.waiting;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop(requests: number) {
      running = false;
      await sampling;
      // The statement counts are written every half second; the commit counts within a second.
      await new Promise((r) => setTimeout(r, 1_100));
      const after = { commits: await commits(), statements: statements() };
      await client.end();
      const per = (n: number) => (requests > 0 ? n / requests : Number.NaN);
      return {
        statements: per(after.statements - before.statements),
        commits: per(after.commits - before.commits),
        lockWaitShare: active > 0 ? waiting / active : 0,
        lockWaiters: samples ? waiting / samples : 0,
        active: samples ? active / samples : 0,
      };
    },
  };
}
