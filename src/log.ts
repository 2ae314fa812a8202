import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout (pino). Level from `LOG_LEVEL` (default `info`;
 * `silent` turns it off, as the tests do). Lines are written asynchronously (pino's sonic-boom
 * destination, flushed at exit): a synchronous write per request cost ~7% of the proxy's CPU in
 * `bench/`. Lines are also buffered up to 4 KiB per write (and flushed at least every 250 ms, and at
 * exit): one write per line cost ~2,000 thread-pool writes and context switches a second at
 * 1,000 RPS. The ledger, not the log, is the record of every request.
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    { level, base: { service: 'tollgate' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 }),
  );
}
