import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { LedgerHandle } from '../ledger/sqlite/db.js';
import * as schema from '../ledger/sqlite/schema.js';

/** A drizzle handle on the ledger, as the reports read it. */
export type ReportDb = LedgerHandle;

/** A ledger opened for reading: the drizzle handle, the raw connection, and a way to close both. */
export interface ReadOnlyLedger {
  db: ReportDb;
  sqlite: Database.Database;
  close(): void;
}

/**
 * Opens an existing ledger file read-only for reports. No migration runs and nothing is written,
 * so it is safe next to a running proxy (WAL mode lets it read while the proxy writes).
 * @throws if the file does not exist or is not a SQLite database.
 */
export function openLedgerReadOnly(path: string): ReadOnlyLedger {
  const sqlite = new Database(path, { readonly: true, fileMustExist: true });
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite, { schema });
  return { db, sqlite, close: () => sqlite.close() };
}
