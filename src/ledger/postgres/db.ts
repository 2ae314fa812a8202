import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { LEDGER_TIMEOUTS, type LedgerTimeouts } from '../../config/ledger-schema.js';

/** The committed drizzle-kit migrations (`migrations/postgres/`), found by walking up from this module. */
function migrationsFolder(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'migrations/postgres/meta/_journal.json'))) return join(dir, 'migrations', 'postgres');
    if (dirname(dir) === dir) throw new Error('cannot find migrations/postgres/meta/_journal.json');
  }
}

/** What the reader and the small stores need of a connection: one parameterised query (a pool, or a pool that waits until the ledger opened). */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string | pg.QueryConfig, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Postgres type OIDs the ledger reads (see `pg_type`). */
const INT8 = 20;
const NUMERIC = 1700;
const DATE = 1082;
const TIMESTAMPTZ = 1184;

/** `2026-11-22 10:00:00.123+00` (the session runs in UTC) → `2026-11-22T10:00:00.123Z`. */
export function isoOf(text: string): string {
  return new Date(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).toISOString();
}

/** A bigint or numeric as a JS number. Tokens and micro-USD stay far below 2^53. */
function numberOf(text: string): number {
  return Number(text);
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return numberOf;
    if (oid === TIMESTAMPTZ) return isoOf;
    if (oid === DATE) return (text: string) => text;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Connections per process. Admissions of one company run one at a time (see `Lanes`), so this bounds the companies served at once. */
const POOL_SIZE = 10;

/**
 * The session settings and driver options that bound every wait on a Postgres ledger (ms): the
 * connection (TCP and handshake, `connectMs`), the server's `statement_timeout` and
 * `idle_in_transaction_session_timeout`, and the driver's own wait for an answer (`query_timeout`,
 * a little longer than the statement's, for a server that does not answer at all). TCP keepalive
 * finds a dead peer on an idle connection.
 */
export function boundedWaits(t: LedgerTimeouts): pg.PoolConfig {
  return {
    connectionTimeoutMillis: t.connectMs,
    query_timeout: t.statementMs + 1_000,
    statement_timeout: t.statementMs,
    idle_in_transaction_session_timeout: t.idleInTransactionMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/**
 * How every connection to a Postgres ledger is made: bigints and numerics read as numbers,
 * `timestamptz` as ISO 8601 UTC strings, `date` as `YYYY-MM-DD`, every session in UTC, every wait
 * bounded (`boundedWaits`).
 */
export function clientConfig(url: string, timeouts: LedgerTimeouts = LEDGER_TIMEOUTS): pg.ClientConfig {
  return {
    connectionString: url,
    types,
    options: '-c TimeZone=UTC',
    application_name: 'tollgate',
    ...boundedWaits(timeouts),
  };
}

/**
 * A connection pool to a Postgres ledger (see `clientConfig`). `extra` adds to (or overrides) the
 * pool's settings (the reports' pool sets its own `statement_timeout`, the reports' budget).
 */
export function openPool(
  url: string,
  max = POOL_SIZE,
  timeouts: LedgerTimeouts = LEDGER_TIMEOUTS,
  extra: Partial<pg.PoolConfig> = {},
): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(url, timeouts), max, ...extra });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

/** The advisory lock key under which migrations run (one replica migrates, the others wait). */
const MIGRATE_LOCK = 7_406_211_401;

/**
 * Applies pending migrations under an advisory lock, so replicas starting together migrate once.
 * @throws if a migration fails.
 */
export async function migratePool(pool: pg.Pool): Promise<void> {
  await withClient(pool, async (client) => {
    // Another replica migrating holds the lock: wait for it, but not forever. A migration itself may
    // take longer than one statement's timeout (an index on a large table).
    await client.query("SET lock_timeout = '60s'");
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
    await client.query('SET statement_timeout = 0');
    try {
      await migrate(drizzle(client), { migrationsFolder: migrationsFolder() });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]);
      // Back to the bounds every session of the pool has.
      await client.query('RESET statement_timeout; RESET lock_timeout');
    }
  });
}

/** Retries `fn` when Postgres aborts it as a deadlock or serialization failure (SQLSTATE 40P01, 40001). */
export async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt < 5 && (code === '40P01' || code === '40001')) continue;
      throw err;
    }
  }
}

/**
 * Runs `fn` in one transaction on a pooled connection: commits when it resolves, rolls back when it
 * throws. A connection whose transaction failed is closed, not returned to the pool: after a
 * timeout it may still be busy with the statement that did not answer.
 */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return retrying(() =>
    withClient(pool, async (client) => {
      await client.query('BEGIN');
      const value = await fn(client);
      await client.query('COMMIT');
      return value;
    }),
  );
}

/**
 * Runs `fn` on a connection checked out of `pool`: returned to the pool when `fn` resolves, closed
 * when it throws (it may still be busy with a statement that timed out). While it is checked out,
 * the connection's own `error` event (the server gone between two statements) is listened to, so
 * that it fails `fn`'s next statement instead of the process.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const onError = () => {};
  client.on('error', onError);
  try {
    const value = await fn(client);
    client.off('error', onError);
    client.release();
    return value;
  } catch (err) {
    client.off('error', onError);
    client.release(err as Error);
    throw err;
  }
}
