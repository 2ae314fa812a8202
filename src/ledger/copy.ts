import { isDeepStrictEqual } from 'node:util';
import { openLedger } from './open.js';
import type { Finding } from './port.js';
import { importIntoPostgres } from './postgres/import.js';
import { exportSqliteLedger } from './sqlite/export.js';

/** What a copy did and what the checks after it found. */
export interface CopyReport {
  /** Rows copied per table. */
  copied: Record<string, number>;
  /** `ledger verify` errors on each side (empty when sound). */
  sourceErrors: Finding[];
  targetErrors: Finding[];
  /** Where the two ledgers, read through the port, differ (grants with their totals, usage per company and model, open holds, object owners). */
  differences: string[];
}

/**
 * Copies a SQLite ledger file into an empty Postgres ledger (`tollgate ledger copy`), in one
 * transaction, then checks both with `verify` and compares them through the port: every grant with
 * its spent and held totals, usage per company and per model, the request log, the open holds and
 * the owner of every upstream object.
 * The source is opened read-only: stop the proxy first so that nothing changes during the copy.
 * The rollups are not copied: the target folds the copied rows itself (in the background, once it
 * serves). So a source whose old rows were archived is refused: its usage before the cut-off lives
 * only in its rollups.
 * @throws Error when the source cannot be read, was archived, or the target is not empty (nothing is written).
 */
export async function copySqliteToPostgres(from: string, to: string): Promise<CopyReport> {
  await refuseArchived(from);
  const objectIds: string[] = [];
  function* noting() {
    for (const t of exportSqliteLedger(from)) {
      if (t.table === 'objects') for (const r of t.rows) objectIds.push(r.id as string);
      yield t;
    }
  }
  const copied = await importIntoPostgres(to, noting());
  const source = openLedger({ path: from, readonly: true });
  const target = openLedger({ url: to, readonly: true });
  try {
    const differences: string[] = [];
    const compare = async (what: string, read: (l: typeof source) => Promise<unknown>) => {
      if (!isDeepStrictEqual(await read(source), await read(target))) differences.push(what);
    };
    await compare('grants and their totals', (l) => l.reader.grants());
    await compare('usage per company', (l) => l.reader.usage({}, 'company'));
    await compare('usage per model', (l) => l.reader.usage({}, 'model'));
    await compare('the request log', (l) => l.reader.rows({}));
    await compare('open holds', (l) => l.reader.openHolds());
    await compare('object owners', async (l) =>
      [...(await l.objects.owners(objectIds))].sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    const errors = async (l: typeof source) => (await l.reader.verify()).filter((f) => f.severity === 'error');
    return { copied, sourceErrors: await errors(source), targetErrors: await errors(target), differences };
  } finally {
    await source.close();
    await target.close();
  }
}

/** Refuses a source ledger with archive runs (see `copySqliteToPostgres`). */
async function refuseArchived(from: string): Promise<void> {
  const source = openLedger({ path: from, readonly: true });
  try {
    const runs = await source.archive.runs().catch(() => []);
    if (runs.length > 0)
      throw new Error(
        `its rows admitted before ${runs[0]!.before} were archived (${runs[0]!.file}): their usage lives only in its rollups, which a copy does not carry. Copy a ledger before archiving it, or keep the SQLite file for reports of the archived period.`,
      );
  } finally {
    await source.close();
  }
}
