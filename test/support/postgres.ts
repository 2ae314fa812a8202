import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';

/**
 * The Postgres the tests run against: `$TOLLGATE_TEST_DATABASE_URL`, or the throwaway cluster that
 * `.ci/postgres-up` starts (127.0.0.1:55432, user postgres). A test that needs it FAILS when it
 * cannot reach it: the Postgres adapter is never skipped.
 */
export const TEST_SERVER_URL = process.env.TOLLGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';

/** `url` with its database replaced by `name`. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_SERVER_URL });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `cannot reach the test Postgres at ${TEST_SERVER_URL} (${(err as Error).message}): start one with .ci/postgres-up, or set TOLLGATE_TEST_DATABASE_URL`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database with a random name; resolves to its URL. */
export async function createDatabase(): Promise<{ name: string; url: string }> {
  const name = `tollgate_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return { name, url: withDatabase(TEST_SERVER_URL, name) };
}

/** Drops a database made by `createDatabase`, cutting any connection left to it. */
export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

let fileDatabase: Promise<{ name: string; url: string; client: pg.Client }> | undefined;

/**
 * This test file's own database (and a client connected to it), created on first use and dropped after the file's last test
 * (creating a database takes about a second, so the contract suite empties it between ledgers
 * instead: see `emptyLedgerTables`).
 */
export function databaseOfThisFile(): Promise<{ name: string; url: string; client: pg.Client }> {
  if (!fileDatabase) {
    fileDatabase = createDatabase().then(async (db) => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      return { ...db, client };
    });
    const made = fileDatabase;
    afterAll(async () => {
      const db = await made.catch(() => undefined);
      if (!db) return;
      await db.client.end();
      await dropDatabase(db.name);
    });
  }
  return fileDatabase;
}

/** Empties every ledger table on `client` (a fresh ledger without re-creating the database). */
export async function emptyLedgerTables(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ t: string }>(
    "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public'",
  );
  // DELETE, not TRUNCATE: on tables this small it is several times faster (no new files).
  if (rows.length) await client.query(rows.map((r) => `DELETE FROM ${r.t};`).join(' '));
}
