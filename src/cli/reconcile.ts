import { randomBytes } from 'node:crypto';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { describeLedger, locationOf, openLedger } from '../ledger/open.js';
import type { Ledger } from '../ledger/port.js';
import { AdminApiError } from '../reconcile/admin-api.js';
import { DIMENSIONS, type Dimension } from '../reconcile/report.js';
import { type Format, FORMATS, render } from '../reconcile/render.js';
import { addDays, parseDay, ReconcileError, reconcile } from '../reconcile/run.js';

/** `tollgate reconcile`'s options, as commander hands them over. */
export interface ReconcileOpts {
  config?: string;
  ledger?: string;
  from?: string;
  to?: string;
  groupBy: string;
  format: string;
  threshold?: string;
  save?: boolean;
  now?: string;
}

/** Parses `--group-by day,model,project,key`. @throws ReconcileError on an unknown or repeated dimension. */
export function parseGroupBy(text: string): Dimension[] {
  const dims = text
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  for (const d of dims)
    if (!(DIMENSIONS as readonly string[]).includes(d))
      throw new ReconcileError(`--group-by: expected some of ${DIMENSIONS.join(', ')}, got "${d}"`);
  if (new Set(dims).size !== dims.length) throw new ReconcileError(`--group-by: "${text}" names a dimension twice`);
  return DIMENSIONS.filter((d) => dims.includes(d));
}

/**
 * `tollgate reconcile`: compares the ledger with OpenAI's usage and costs over UTC days and prints
 * the report (`--format table|csv|json`). Exits 0 when nothing is beyond the threshold, 1 when
 * something is, 2 when it could not compare (a bad option, no admin key, OpenAI refused or
 * unreachable, the ledger unreadable). The ledger is opened read-only unless `--save` keeps the
 * result in it (not while a running tollgate holds a SQLite ledger: its scheduled run keeps them).
 */
export async function reconcileCommand(opts: ReconcileOpts): Promise<void> {
  let ledger: Ledger | undefined;
  try {
    if (!(FORMATS as readonly string[]).includes(opts.format))
      throw new ReconcileError(`--format: expected ${FORMATS.join(', ')}, got "${opts.format}"`);
    const now = opts.now === undefined ? new Date() : new Date(opts.now);
    if (Number.isNaN(now.getTime())) throw new ReconcileError(`--now: not an instant: "${opts.now}"`);
    const threshold = opts.threshold === undefined ? undefined : Number(opts.threshold.replace(/%$/, ''));
    if (threshold !== undefined && !(Number.isFinite(threshold) && threshold >= 0 && threshold <= 100))
      throw new ReconcileError(`--threshold: expected a percentage from 0 to 100, got "${opts.threshold}"`);
    const to = opts.to === undefined ? now.toISOString().slice(0, 10) : parseDay(opts.to, '--to');
    const from = opts.from === undefined ? addDays(to, -6) : parseDay(opts.from, '--from');
    const groupBy = parseGroupBy(opts.groupBy);
    const config = loadConfig(configPath(opts.config));
    const where = opts.ledger ?? config.ledger.path ?? config.ledger.url!;
    try {
      ledger = openLedger({ ...locationOf(where), readonly: !opts.save });
    } catch (err) {
      throw new ReconcileError(
        `cannot open the ledger ${describeLedger(locationOf(where))}${opts.save ? ' to save the result' : ''}: ${(err as Error).message}`,
      );
    }
    const id = `rec_${now.getTime().toString(16).padStart(12, '0')}${randomBytes(5).toString('hex')}`;
    if (opts.save)
      await ledger.reconciliations.begin(
        { id, trigger: 'cli', startedAt: now.toISOString(), fromDay: from, toDay: to },
        now.toISOString(),
      );
    let report;
    try {
      report = await reconcile(config, ledger, {
        from,
        to,
        groupBy,
        now,
        ...(threshold === undefined ? {} : { threshold: { percent: threshold } }),
      });
    } catch (err) {
      if (opts.save)
        await ledger.reconciliations.finish(id, {
          finishedAt: new Date().toISOString(),
          status: 'failed',
          report: null,
          error: (err as Error).message,
        });
      throw err;
    }
    if (opts.save)
      await ledger.reconciliations.finish(id, {
        finishedAt: new Date().toISOString(),
        status: report.summary.over > 0 ? 'drift' : 'ok',
        report: JSON.stringify(report),
        error: null,
      });
    process.stdout.write(render(report, opts.format as Format));
    process.exitCode = report.summary.over > 0 ? 1 : 0;
  } catch (err) {
    if (
      !(
        err instanceof ReconcileError ||
        err instanceof AdminApiError ||
        err instanceof ConfigError ||
        isStoreError(err)
      )
    )
      throw err;
    process.stderr.write(`tollgate reconcile: ${(err as Error).message}\n`);
    process.exitCode = 2;
  } finally {
    await ledger?.close();
  }
}

/** An error of the ledger's store (a SQLite file that is not a ledger, Postgres unreachable). */
const isStoreError = (err: unknown) =>
  err instanceof Error &&
  (err.name === 'SqliteError' ||
    /^(SQLITE_|ECONNREFUSED|ENOTFOUND|28P01|3D000|42P01)/.test(String((err as { code?: string }).code ?? '')));
