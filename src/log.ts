import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout (pino). Level from `LOG_LEVEL` (default `info`;
 * `silent` turns it off, as the tests do). Lines are written asynchronously (pino's sonic-boom
 * destination, flushed at exit): a synchronous write per request cost ~7% of the proxy's CPU in
 * `bench/`. The ledger, not the log, is the record of every request.
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'tollgate' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: false }));
}
