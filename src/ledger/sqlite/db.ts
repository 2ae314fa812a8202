import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer.js';
import * as schema from './schema.js';
import { sqlStatsHook } from './sql-stats.js';

/**
 * The committed drizzle-kit migrations (`migrations/sqlite/` at the package root), found by walking up
 * from this module: it runs from `src/ledger/sqlite/`, `dist/ledger/sqlite/` or a bundle elsewhere.
 */
const MIGRATIONS = findUp('migrations/sqlite/meta/_journal.json', dirname(fileURLToPath(import.meta.url)));

function findUp(relative: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, relative))) return join(dir, 'migrations', 'sqlite');
    if (dirname(dir) === dir) throw new Error(`cannot find ${relative} above ${from}`);
  }
}

/** The drizzle handle of a ledger, with its better-sqlite3 connection as `$client`. */
export type LedgerHandle = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** An open ledger database: the drizzle handle and the raw better-sqlite3 connection. */
export interface LedgerDb {
  db: LedgerHandle;
  sqlite: Database.Database;
}

/**
 * Opens (creating if needed) the ledger file and applies pending migrations.
 * WAL mode with `synchronous = NORMAL`: a committed transaction survives a crash of the process
 * (kill -9); only an OS crash or power loss can drop the last few commits. Auto-checkpoint is set
 * to a distant safety net here; a `Checkpointer` thread (see checkpointer.ts) turns it off while it
 * does the checkpoints.
 * @throws if the file cannot be opened or a migration fails.
 */
export function openLedgerDb(path: string): LedgerDb {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { verbose: sqlStatsHook() });
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  // 64 MiB of page cache (SQLite's default is 2 MiB): the upper levels of the requests table's
  // indexes stay in memory, so a write costs the same with 10M rows as with none (bench/).
  sqlite.pragma('cache_size = -65536');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS });
  return { db, sqlite };
}

/**
 * Opens an existing ledger file read-only, for reports: no migration runs and nothing is written,
 * so it is safe next to a running proxy (WAL mode lets it read while the proxy writes).
 * @throws if the file does not exist or is not a SQLite database.
 */
export function openLedgerDbReadOnly(path: string): LedgerDb {
  const sqlite = new Database(path, { readonly: true, fileMustExist: true });
  sqlite.pragma('busy_timeout = 5000');
  return { db: drizzle(sqlite, { schema }), sqlite };
}
