import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout (pino). Level from `LOG_LEVEL` (default `info`;
 * `silent` turns it off, as the tests do).
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'tollgate' }, timestamp: pino.stdTimeFunctions.isoTime });
}
