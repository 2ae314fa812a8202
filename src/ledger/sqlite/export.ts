import Database from 'better-sqlite3';
import { LEDGER_TABLES } from '../tables.js';

/** A table's rows, as SQLite stores them (snake_case columns; booleans 0/1; ISO UTC text). */
export type ExportedTable = { table: string; rows: Record<string, unknown>[] };

/**
 * Reads every ledger table of a SQLite ledger file, read-only, in batches of `batch` rows, for a
 * copy to another engine (`tollgate ledger copy`). Rows come in admission order (rowid). A hold on
 * one grant travels on its request row (`hold_grant_id`, `hold_amount`), where Postgres keeps it too.
 * @throws if the file does not exist or is not a tollgate ledger.
 */
export function* exportSqliteLedger(path: string, batch = 2_000): Generator<ExportedTable> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    for (const table of LEDGER_TABLES) {
      const page = db.prepare(`SELECT rowid AS _rowid, * FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?`);
      let after = 0;
      for (;;) {
        const rows = page.all(after, batch) as Record<string, unknown>[];
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!._rowid as number;
        for (const r of rows) delete r._rowid;
        yield { table, rows };
      }
    }
  } finally {
    db.close();
  }
}
