/**
 * What the ledger takes on disk per request row: the `requests` and `debits` tables with every
 * index on them (the raw rows an archive removes), and the rollups (kept for ever), per table.
 * SQLite from `dbstat` (pages in use), Postgres from `pg_total_relation_size` (heap, indexes, TOAST).
 */
import Database from 'better-sqlite3';
import pg from 'pg';

export interface LedgerSize {
  rows: number;
  /** Bytes of each table with its indexes. */
  tables: Record<string, number>;
  /** (requests + debits) bytes per request row. */
  rawBytesPerRow: number;
  /** Every rollup table's bytes per request row. */
  rollupBytesPerRow: number;
}

function summarise(rows: number, tables: Record<string, number>): LedgerSize {
  const raw = (tables.requests ?? 0) + (tables.debits ?? 0);
  const rollups = Object.entries(tables)
    .filter(([t]) => t.startsWith('usage_'))
    .reduce((n, [, b]) => n + b, 0);
  return { rows, tables, rawBytesPerRow: raw / rows, rollupBytesPerRow: rollups / rows };
}

export function sqliteSize(path: string): LedgerSize {
  const db = new Database(path, { readonly: true });
  try {
    const owner = new Map(
      (
        db.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')").all() as {
          name: string;
          tbl_name: string;
        }[]
      ).map((r) => [r.name, r.tbl_name]),
    );
    const tables: Record<string, number> = {};
    for (const r of db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as {
      name: string;
      bytes: number;
    }[]) {
      const t = owner.get(r.name) ?? r.name;
      tables[t] = (tables[t] ?? 0) + r.bytes;
    }
    const rows = (db.prepare('SELECT count(*) AS n FROM requests').get() as { n: number }).n;
    return summarise(rows, tables);
  } finally {
    db.close();
  }
}

export async function postgresSize(url: string): Promise<LedgerSize> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ t: string; b: string }>(
      `SELECT relname AS t, pg_total_relation_size(oid)::text AS b FROM pg_class
       WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace`,
    );
    const n = Number((await c.query<{ n: string }>('SELECT count(*)::text AS n FROM requests')).rows[0]!.n);
    return summarise(n, Object.fromEntries(rows.map((r) => [r.t, Number(r.b)])));
  } finally {
    await c.end();
  }
}
