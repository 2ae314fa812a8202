import type { LedgerTimeouts } from '../config/ledger-schema.js';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { archiveLedger, ArchiveBusyError } from '../ledger/archive/run.js';
import { describeLedger, locationOf, openForArchive } from '../ledger/open.js';
import { parseInstant } from '../reports/filters.js';

const HOUR = 3_600_000;

/**
 * `tollgate ledger archive --before DATE --to FILE`: writes the raw request rows admitted before
 * DATE (a UTC date, or an instant rounded down to its UTC hour) and their debits to FILE (gzip'd
 * NDJSON; see src/ledger/archive/format.ts), then deletes them from the ledger in short
 * transactions. Held rows and deferred work not settled yet stay; rollups stay. Exits 0 when
 * archived (or nothing to archive), 1 when the run failed, 2 on bad arguments, an unreadable
 * ledger, or another archive run in progress.
 */
export async function ledgerArchiveCommand(opts: {
  before: string;
  to: string;
  ledger?: string;
  config?: string;
  now?: string;
}): Promise<void> {
  const err = (line: string) => process.stderr.write(`${line}\n`);
  let now: Date;
  let before: string;
  let location: { path: string } | { url: string };
  // The config's bounded waits (`ledger.timeouts`), when a config is read; the defaults with `--ledger` alone.
  let timeouts: LedgerTimeouts | undefined;
  try {
    now = opts.now === undefined ? new Date() : new Date(parseInstant(opts.now, '--now'));
    const at = Date.parse(parseInstant(opts.before, '--before'));
    before = new Date(Math.floor(at / HOUR) * HOUR).toISOString();
    if (Date.parse(before) > now.getTime()) throw new Error(`--before ${opts.before} is in the future`);
    if (opts.ledger !== undefined) {
      location = locationOf(opts.ledger);
      if (opts.config !== undefined) timeouts = loadConfig(configPath(opts.config)).ledger.timeouts;
    } else {
      const { ledger } = loadConfig(configPath(opts.config));
      location = ledger.url !== undefined ? { url: ledger.url } : { path: ledger.path };
      timeouts = ledger.timeouts;
    }
  } catch (e) {
    err(e instanceof ConfigError ? e.message : (e as Error).message);
    return void (process.exitCode = 2);
  }
  const where = describeLedger(location);
  let access;
  try {
    access = openForArchive(location, timeouts);
  } catch (e) {
    err(`cannot open the ledger ${where}: ${(e as Error).message}`);
    return void (process.exitCode = 2);
  }
  const tty = process.stderr.isTTY === true;
  try {
    if (access.catchUp) await access.catchUp();
    else
      err(`a tollgate server writes ${where}: archiving beside it (rows it has not folded yet stay for a later run)`);
    const report = await archiveLedger(access.store, {
      before,
      to: opts.to,
      now,
      onProgress: ({ phase, rows }) => {
        if (tty)
          process.stderr.write(
            `\r${phase === 'write' ? 'writing' : 'deleting'}: ${rows.toLocaleString('en-US')} rows\x1b[K`,
          );
      },
    });
    if (tty) process.stderr.write('\r\x1b[K');
    process.stdout.write(
      `archived ${report.requests.toLocaleString('en-US')} requests and ${report.debits.toLocaleString('en-US')} debits admitted before ${before} ` +
        `to ${report.file} (${report.bytes.toLocaleString('en-US')} bytes, ${(report.writeMs / 1000).toFixed(1)} s), ` +
        `then deleted them from ${where} (${(report.deleteMs / 1000).toFixed(1)} s)\n`,
    );
  } catch (e) {
    if (tty) process.stderr.write('\r\x1b[K');
    err(`${e instanceof ArchiveBusyError ? '' : 'archive failed: '}${(e as Error).message}`);
    process.exitCode = e instanceof ArchiveBusyError ? 2 : 1;
  } finally {
    await access.close().catch(() => {});
  }
}
