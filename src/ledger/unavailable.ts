/**
 * Ledger failures classified by where they came from, for every engine. A driver or server error
 * (a reset connection, a timeout, a server shutting down, a full disk) is never the client's fault:
 * it becomes a `LedgerUnavailableError`, which tollgate answers with 503 and `retry-after`
 * (src/http/openai-error.ts) — never a 4xx, never read as the client leaving. A conflict the server
 * resolves by aborting one transaction (serialization failure, deadlock) is retried where the
 * operation is safe to run again.
 */

/** Thrown by the ledger when its store cannot answer (unreachable, timed out, shutting down, out of space). */
export class LedgerUnavailableError extends Error {
  override readonly name = 'LedgerUnavailableError';
  /**
   * @param message what failed, for the log (never shown to a client as its fault).
   * @param retryAfterMs when a client may retry (ms), sent as `retry-after`.
   */
  constructor(
    message: string,
    readonly retryAfterMs = 1_000,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for a `LedgerUnavailableError` (also across module copies: checked by name). */
export function isLedgerUnavailable(err: unknown): err is LedgerUnavailableError {
  return err instanceof LedgerUnavailableError || (err as { name?: unknown } | null)?.name === 'LedgerUnavailableError';
}

/** Where a ledger error came from: the store's availability, a conflict worth a retry, or a fault (a bug or bad data). */
export type LedgerErrorOrigin = 'unavailable' | 'conflict' | 'fault';

/** Node's socket errors: the connection to the store failed, whatever the client does. */
const SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * SQLSTATE classes and codes of a server that cannot serve now (PostgreSQL Appendix A, "PostgreSQL
 * Error Codes"): 08 connection exception, 53 insufficient resources, 57 operator intervention
 * (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 57014 statement timeout),
 * 58 system error, 55P03 lock not available (lock_timeout), 25P03 idle-in-transaction timeout.
 */
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58']);
const UNAVAILABLE_STATES = new Set(['55P03', '25P03']);
/** Serialization failure and deadlock: the server aborted one transaction so that another commits; running it again is safe. */
const CONFLICT_STATES = new Set(['40001', '40P01']);

/** node-postgres's own messages for a connection that failed or timed out (it sets no code on them). */
const DRIVER_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /is not queryable/,
  /^Cannot use a pool after calling end/,
];

/**
 * better-sqlite3's result codes of a file that cannot be written now (https://sqlite.org/rescode.html):
 * busy or locked by another connection, an I/O error, a full disk, a file that cannot be opened.
 */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOLFS)/;

/** Classifies an error raised by a ledger adapter or its driver (see `LedgerErrorOrigin`). */
export function ledgerErrorOrigin(err: unknown): LedgerErrorOrigin {
  if (isLedgerUnavailable(err)) return 'unavailable';
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (CONFLICT_STATES.has(code)) return 'conflict';
  if (SOCKET_CODES.has(code)) return 'unavailable';
  if (/^[0-9A-Z]{5}$/.test(code) && (UNAVAILABLE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_STATES.has(code)))
    return 'unavailable';
  if (SQLITE_UNAVAILABLE.test(code)) return 'unavailable';
  if (DRIVER_MESSAGES.some((m) => m.test(message))) return 'unavailable';
  return 'fault';
}

/**
 * The error to raise for a failure of the ledger: a `LedgerUnavailableError` (with the original as
 * its cause) when the store could not answer or a conflict outlived its retries, the error itself
 * otherwise (a fault: answered 500, logged with its stack).
 */
export function ledgerError(err: unknown, retryAfterMs?: number): unknown {
  if (isLedgerUnavailable(err)) return err;
  if (ledgerErrorOrigin(err) === 'fault') return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? ` (${e.code})` : '';
  return new LedgerUnavailableError(`the ledger did not answer: ${String(e.message ?? err)}${code}`, retryAfterMs, {
    cause: err,
  });
}

/** Runs `op`, raising its failure as `ledgerError` does (synchronous throws and rejections alike). */
export async function classified<T>(op: () => T | Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw ledgerError(err);
  }
}
