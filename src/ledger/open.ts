import type { Ledger } from './port.js';
import { openSqliteLedger } from './sqlite/index.js';

/** Where the ledger lives, as the config's `ledger` section says. */
export interface LedgerLocation {
  /** A SQLite file (created with its folder when missing). */
  path: string;
  /** Open an existing ledger read-only (reports): no migration; writes fail. */
  readonly?: boolean;
}

/**
 * Opens the ledger the config names, with the adapter for its engine (SQLite today).
 * @throws if it cannot be opened, a read-only ledger does not exist, or a migration fails.
 */
export function openLedger(location: LedgerLocation): Ledger {
  return openSqliteLedger(location);
}
