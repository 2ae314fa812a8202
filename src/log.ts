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
  return pino({ level, base: { service: 'tollgate' }, timestamp: pino.stdTimeFunctions.isoTime }, destination());
}

/**
 * stdout through sonic-boom, asynchronous, lines buffered up to 4 KiB. In its default (string) mode,
 * sonic-boom appends each line to the string it buffers and takes that string's `Buffer.byteLength`,
 * which flattens it: every line copied the whole buffer again, ~2.7 KiB of heap per line (a third
 * of the proxy's own allocation per request; `bench/profile/alloc.ts`). Its buffer mode keeps a
 * list of the lines' bytes instead, joined once per write; pino writes strings, so each line is
 * handed over as its UTF-8 bytes.
 */
function destination() {
  const out = pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250, contentMode: 'buffer' });
  const writeBytes = out.write;
  out.write = (line: string) => writeBytes.call(out, Buffer.from(line) as unknown as string);
  return out;
}
