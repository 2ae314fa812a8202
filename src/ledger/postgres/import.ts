import type pg from 'pg';
import { LEDGER_TABLES } from '../tables.js';
import { migratePool, openPool, transaction } from './db.js';

/** A table's rows as another engine exported them (snake_case columns, ISO UTC text, booleans as 0/1 or true/false). */
export interface ImportedTable {
  table: string;
  rows: Record<string, unknown>[];
}

const TABLES = new Set<string>(LEDGER_TABLES);

/** Columns of `table` in the Postgres ledger, leaving out the ones Postgres fills itself (`requests.seq`). */
async function columnsOf(c: pg.PoolClient, table: string): Promise<string[]> {
  const { rows } = await c.query<{ name: string }>(
    "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name <> 'seq' ORDER BY ordinal_position",
    [table],
  );
  return rows.map((r) => r.name);
}

/**
 * Copies exported ledger tables into an EMPTY Postgres ledger (migrated first), in one transaction:
 * all of it or nothing. Rows keep their ids, times and totals; requests keep their order (`seq`
 * follows the order given). Columns the source lacks are left to their defaults.
 * @throws Error when the target already holds grants or requests, or a row does not fit.
 */
export async function importIntoPostgres(
  url: string,
  tables: Iterable<ImportedTable>,
): Promise<Record<string, number>> {
  const pool = openPool(url, 1);
  try {
    await migratePool(pool);
    return await transaction(pool, async (c) => {
      await c.query('LOCK TABLE grants, requests IN EXCLUSIVE MODE');
      const { rows } = await c.query<{ n: number }>(
        'SELECT (SELECT count(*) FROM grants) + (SELECT count(*) FROM requests) AS n',
      );
      if (rows[0]!.n > 0) throw new Error('the target ledger is not empty: copy into a new database');
      const counts: Record<string, number> = {};
      const columns = new Map<string, string[]>();
      for (const { table, rows: batch } of tables) {
        if (!TABLES.has(table)) throw new Error(`unknown ledger table ${table}`);
        if (!columns.has(table)) columns.set(table, await columnsOf(c, table));
        const given = columns.get(table)!.filter((col) => batch.length > 0 && col in batch[0]!);
        const list = given.map((col) => `"${col}"`).join(', ');
        await c.query(
          `INSERT INTO ${table} (${list}) SELECT ${list} FROM json_populate_recordset(NULL::${table}, $1::json) WITH ORDINALITY ORDER BY ordinality`,
          [JSON.stringify(batch)],
        );
        counts[table] = (counts[table] ?? 0) + batch.length;
      }
      return counts;
    });
  } finally {
    await pool.end();
  }
}
