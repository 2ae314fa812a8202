import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';

/** Thrown when another process already writes the ledger file. */
export class LedgerBusyError extends Error {
  constructor(
    readonly path: string,
    readonly holderPid: number | undefined,
  ) {
    super(
      `another tollgate (${holderPid !== undefined ? `pid ${holderPid}` : 'pid unknown'}) is already serving the ledger ${path}; ` +
        'a SQLite ledger has one writing process. Stop it first, give this one another ledger.path, serve more cores of this machine with `tollgate serve --workers N`, or move to a shared Postgres ledger to run several machines.',
    );
    this.name = 'LedgerBusyError';
  }
}

/**
 * One writing process per SQLite ledger. The writer holds an exclusive SQLite lock on a small
 * companion file (`<ledger>.writer`) for as long as it runs; the operating system releases that
 * lock when the process ends, however it ends (kill -9 included), so a stale lock cannot outlive
 * its holder. The holder's pid is written beside it (`<ledger>.writer.pid`) for the refusal
 * message. Readers (reports, `ledger verify`) never take it.
 */
export class WriterLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly pidFile: string,
  ) {}

  /**
   * Takes the lock for the ledger at `path` (`role` names the companion file: `writer`, or
   * `archive` for the one archive run at a time).
   * @throws LedgerBusyError when another process holds it.
   */
  static acquire(path: string, role = 'writer'): WriterLock {
    const lockPath = `${path}.${role}`;
    const pidFile = `${lockPath}.pid`;
    const db = new Database(lockPath);
    db.pragma('busy_timeout = 0');
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      let pid: number | undefined;
      try {
        pid = Number(readFileSync(pidFile, 'utf8').trim()) || undefined;
      } catch {
        pid = undefined;
      }
      throw new LedgerBusyError(path, pid);
    }
    writeFileSync(pidFile, `${process.pid}\n`);
    return new WriterLock(db, pidFile);
  }

  /** Releases the lock (at a clean stop). */
  release(): void {
    rmSync(this.pidFile, { force: true });
    this.db.close();
  }
}

/**
 * Runs `fn` holding the `role` companion lock of the ledger at `path` (none for `:memory:` or no
 * path), released when `fn` settles; resolves with null, without running `fn`, while another
 * process holds it (one archive run at a time across every process on a file).
 */
export async function underLock<T>(path: string | undefined, role: string, fn: () => Promise<T>): Promise<T | null> {
  let lock: WriterLock | undefined;
  if (path !== undefined && path !== ':memory:') {
    try {
      lock = WriterLock.acquire(path, role);
    } catch (err) {
      if (err instanceof LedgerBusyError) return null;
      throw err;
    }
  }
  try {
    return await fn();
  } finally {
    lock?.release();
  }
}
