import { dirname, join, resolve } from 'node:path';
import { LEDGER_SPOOL_MAX, LEDGER_TIMEOUTS, type LedgerTimeouts } from '../config/ledger-schema.js';
import type { Logger } from '../log.js';
import { GuardedLedger } from './guarded.js';
import type { ArchiveStore, Ledger } from './port.js';
import { openPgLedger } from './postgres/index.js';
import { primaryOwnsLedger } from './sqlite/cluster-owner.js';

/** The primary of `serve --workers N` on a SQLite ledger owns the file for its workers. */
export { ownLedgerForWorkers } from './sqlite/cluster-owner.js';
import { openSqliteLedger, sqliteArchiveBeside } from './sqlite/index.js';
import { primaryChannel, RemoteLedger } from './sqlite/remote.js';
import { LedgerBusyError } from './sqlite/writer-lock.js';

/** Where the ledger lives, as the config's `ledger` section says: a SQLite `path` or a Postgres `url`. */
export type LedgerLocation = ({ path: string; url?: undefined } | { url: string; path?: undefined }) & {
  /** Open an existing ledger read-only (reports): no migration; writes fail (SQLite), no instance registered (Postgres). */
  readonly?: boolean;
  /** Postgres: ms without a heartbeat after which a replica counts as gone (default 30,000); it heartbeats every sixth of that. */
  lapseMs?: number;
  /** Reports' read budget (ms) and threads (SQLite) or connections (Postgres); see the config's `ledger.reports`. */
  reports?: { timeoutMs?: number; threads?: number };
  /** Bounded waits (ms); defaults `LEDGER_TIMEOUTS`. */
  timeouts?: LedgerTimeouts;
  /** Where settlements wait while the ledger cannot take them; see `spoolDir`. */
  spool?: { dir?: string; maxEntries: number };
};

/**
 * The spool's folder: `spool.dir`, else `spool/` beside a SQLite file, else `./data/spool` (from the
 * working directory) for Postgres; none for a read-only or in-memory ledger (nothing to settle).
 */
export function spoolDir(location: LedgerLocation): string | undefined {
  if (location.readonly || location.path === ':memory:') return undefined;
  if (location.spool?.dir) return location.spool.dir;
  return location.path !== undefined ? join(dirname(location.path), 'spool') : resolve('data', 'spool');
}

/** True for a `postgres://` or `postgresql://` URL. */
export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//.test(text);
}

/** A location from a command line's `--ledger` argument: a Postgres URL or a SQLite file. */
export function locationOf(fileOrUrl: string): { path: string } | { url: string } {
  return isPostgresUrl(fileOrUrl) ? { url: fileOrUrl } : { path: fileOrUrl };
}

/** The location for logs and messages: the file, or the URL with its password masked. */
export function describeLedger(location: { path?: string; url?: string }): string {
  if (location.path !== undefined) return location.path;
  const u = new URL(location.url!);
  if (u.password) u.password = '***';
  return u.toString();
}

/**
 * Opens the ledger the config names, with the adapter for its engine (SQLite for a `path`, or in a
 * worker of `serve --workers N` calls to the primary that owns the file, `RemoteLedger`;
 * Postgres for a `url`, opened asynchronously: connection and migration errors surface on its
 * first call), behind the guard every engine shares (`GuardedLedger`: bounded waits, errors
 * classified by origin, settlements kept in a local spool while the ledger cannot take them).
 * @throws if a SQLite file cannot be opened, a read-only one does not exist, or a migration fails.
 */
export function openLedger(location: LedgerLocation, opts: { log?: Logger } = {}): Ledger {
  const timeouts = location.timeouts ?? LEDGER_TIMEOUTS;
  let inner: Ledger;
  if (location.url !== undefined) {
    const liveness =
      location.lapseMs === undefined
        ? undefined
        : { lapseMs: location.lapseMs, heartbeatMs: Math.max(100, Math.round(location.lapseMs / 6)) };
    inner = openPgLedger({
      url: location.url,
      readonly: location.readonly,
      liveness,
      timeouts,
      log: opts.log,
      reads: location.reports,
    });
  } else {
    inner =
      !location.readonly && primaryOwnsLedger()
        ? new RemoteLedger(location.path, primaryChannel())
        : openSqliteLedger({ path: location.path, readonly: location.readonly, reads: location.reports });
  }
  const dir = spoolDir(location);
  const spool = dir === undefined ? undefined : { dir, maxEntries: location.spool?.maxEntries ?? LEDGER_SPOOL_MAX };
  return new GuardedLedger(inner, { timeouts, log: opts.log, spool });
}

/** A ledger opened to archive from (see `openForArchive`). */
export interface ArchiveAccess {
  store: ArchiveStore;
  /** Folds every settled row first, when this process can (null when a running server folds). */
  catchUp: (() => Promise<number>) | null;
  /** True when a server writes the ledger meanwhile (a SQLite ledger archived beside `serve`). */
  beside: boolean;
  close(): Promise<void>;
}

/**
 * Opens a ledger for `tollgate ledger archive`: writable, migrated. A SQLite file a running
 * `serve` writes is archived beside it, on a connection of its own (its deletes are short
 * transactions between the server's commits; the server keeps folding). Postgres waits are bounded
 * by `timeouts` (the config's `ledger.timeouts`; `LEDGER_TIMEOUTS` when none is given).
 * @throws if the ledger cannot be opened.
 */
export function openForArchive(
  location: { path: string } | { url: string },
  timeouts: LedgerTimeouts = LEDGER_TIMEOUTS,
): ArchiveAccess {
  if ('url' in location) {
    const ledger = openPgLedger({ url: location.url, foldIntervalMs: false, timeouts });
    return {
      store: ledger.archive,
      catchUp: () => ledger.rollups.catchUp(),
      beside: false,
      close: () => ledger.close(),
    };
  }
  try {
    const ledger = openSqliteLedger({ path: location.path, foldIntervalMs: false, checkpointThread: false });
    return {
      store: ledger.archive,
      catchUp: () => ledger.rollups.catchUp(),
      beside: false,
      close: () => ledger.close(),
    };
  } catch (err) {
    if (!(err instanceof LedgerBusyError)) throw err;
    const side = sqliteArchiveBeside(location.path);
    return { store: side.archive, catchUp: null, beside: true, close: side.close };
  }
}
