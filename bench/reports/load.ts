/**
 * Bulk-loads the reports bench's ledger (`dataset.ts`) into a SQLite file or a Postgres database,
 * the way tollgate would have written it: migrated schema, grants from the bench config, finished
 * rows with their fold mark and one debit each, grants' `spent` equal to their debits, and the
 * rollups folded (the folder's own SQL, over every row at once; on Postgres into the hourly detail
 * table, the others summed from it). Fast: SQLite with the journal off
 * in large transactions, Postgres with `unnest` batches of 5,000 rows (one in flight while the next is made), the raw tables'
 * secondary indexes dropped during the load and built after it.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { grantTerms } from '../../src/config/grants.js';
import type { Config } from '../../src/config/schema.js';
import { openLedgerDb } from '../../src/ledger/sqlite/db.js';
import { syncGrants } from '../../src/ledger/sqlite/grant-sync.js';
import { FOLD as SQLITE_FOLD } from '../../src/ledger/sqlite/rollup-sql.js';
import { FOLD as PG_FOLD } from '../../src/ledger/postgres/rollup-sql.js';
import { detailTable, MEASURE_COLUMNS, type RollupTable } from '../../src/ledger/rollups/dimensions.js';
import { foldSql, ROLLUP_TABLES } from '../../src/ledger/rollups/fold-sql.js';
import { openPgLedger } from '../../src/ledger/postgres/index.js';
import { benchRows, type BenchRow } from './dataset.js';

/** What a load took and left. */
export interface LoadResult {
  rows: number;
  loadMs: number;
  foldMs: number;
}

const COLUMNS = [
  'id',
  'created_at',
  'company_id',
  'key_id',
  'user_id',
  'feature',
  'endpoint',
  'requested_model',
  'returned_model',
  'stream',
  'status',
  'estimated_prompt_tokens',
  'hold_tokens',
  'http_status',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'total_tokens',
  'metered_tokens',
  'cost_micro_usd',
  'cost_nano_usd',
  'usage_source',
  'latency_ms',
  'ttfb_ms',
  'upstream_request_id',
  'settled_at',
] as const;

function values(r: BenchRow, iso: (ms: number) => string | Date): unknown[] {
  const charged = r.status === 'settled' && r.totalTokens > 0;
  return [
    r.id,
    iso(r.at),
    r.companyId,
    r.keyId,
    r.userId,
    r.feature,
    r.endpoint,
    r.model,
    r.status === 'settled' ? `${r.model}-2025-08-07` : null,
    0,
    r.status,
    r.inputTokens,
    r.inputTokens + 2000,
    r.httpStatus,
    r.inputTokens,
    r.cachedInputTokens,
    r.outputTokens,
    r.reasoningTokens,
    r.totalTokens,
    charged ? r.totalTokens : 0,
    charged ? Math.floor((r.costNanoUsd + 500) / 1000) : 0,
    charged ? r.costNanoUsd : 0,
    r.status === 'settled' ? 'upstream' : 'none',
    r.latencyMs,
    r.latencyMs / 3,
    `req_up_${r.id.slice(4, 24)}`,
    iso(r.at + Math.ceil(r.latencyMs)),
  ];
}

/** Loads `rows` rows over `days` days ending at `end` into a new SQLite ledger file at `path`. */
export function loadSqlite(path: string, config: Config, rows: number, days: number, end: number): LoadResult {
  const started = performance.now();
  const opened = openLedgerDb(path);
  const from = new Date(end - days * 86_400_000 - 86_400_000);
  const terms = grantTerms(config, from);
  syncGrants(opened.db, terms.grants, terms.purchases, from);
  opened.sqlite.close();
  const db = new Database(path);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  db.pragma('temp_store = MEMORY');
  const insert = db.prepare(
    `INSERT INTO requests (${COLUMNS.join(', ')}, settle_seq) VALUES (${COLUMNS.map(() => '?').join(', ')}, ?)`,
  );
  const debit = db.prepare(
    "INSERT INTO debits (request_id, grant_id, unit, amount, overdraft, created_at) VALUES (?, ?, 'tokens', ?, 0, ?)",
  );
  const iso = (ms: number) => new Date(ms).toISOString();
  let seq = 0;
  const batch = db.transaction((list: BenchRow[]) => {
    for (const r of list) {
      insert.run(...values(r, iso), ++seq);
      if (r.status === 'settled' && r.totalTokens > 0) debit.run(r.id, r.grantId, r.totalTokens, iso(r.at + 1));
    }
  });
  let list: BenchRow[] = [];
  for (const r of benchRows(rows, days, end)) {
    list.push(r);
    if (list.length === 50_000) {
      batch(list);
      list = [];
    }
  }
  batch(list);
  db.exec('UPDATE grants SET spent = (SELECT coalesce(sum(amount), 0) FROM debits WHERE grant_id = grants.id)');
  const loadMs = performance.now() - started;
  const folding = performance.now();
  db.transaction(() => {
    for (const t of ROLLUP_TABLES) db.prepare(foldSql(SQLITE_FOLD, t)).run(0, seq);
    db.prepare('UPDATE rollup_state SET folded_seq = ?, folded_rows = ?, folded_at = ? WHERE id = 1').run(
      seq,
      rows,
      new Date().toISOString(),
    );
  })();
  const foldMs = performance.now() - folding;
  // No ANALYZE: tollgate never runs it, so the bench reads the ledger with the plans a deployment gets.
  db.pragma('journal_mode = WAL');
  db.close();
  return { rows, loadMs, foldMs };
}

/** Postgres: `INSERT … SELECT` summing the rows of the hourly detail table `from` into `to` (a table of fewer dimensions, or a longer bucket). */
function coarserSql(from: RollupTable, to: RollupTable): string {
  const bucket =
    to.bucket === 'hour'
      ? 'h.hour'
      : to.bucket === 'day'
        ? "(h.hour AT TIME ZONE 'UTC')::date"
        : "date_trunc('month', h.hour AT TIME ZONE 'UTC')::date";
  const keys = [bucket, ...to.dims.map((d) => `h.${d}`)];
  const cols = [to.bucket, ...to.dims, ...MEASURE_COLUMNS];
  return `INSERT INTO ${to.table} (${cols.join(', ')})
    SELECT ${[...keys, ...MEASURE_COLUMNS.map((m) => `sum(h.${m})`)].join(', ')}
    FROM ${from.table} h GROUP BY ${keys.map((_, i) => i + 1).join(', ')}`;
}

/** Loads the same rows into the (empty, new) Postgres database at `url`. */
export async function loadPostgres(
  url: string,
  config: Config,
  rows: number,
  days: number,
  end: number,
): Promise<LoadResult> {
  const started = performance.now();
  const ledger = openPgLedger({ url, foldIntervalMs: false });
  const from = new Date(end - days * 86_400_000 - 86_400_000);
  const terms = grantTerms(config, from);
  await ledger.syncGrants(terms.grants, terms.purchases, from);
  await ledger.close();
  const client = new pg.Client({
    connectionString: url,
    options: '-c TimeZone=UTC -c synchronous_commit=off -c work_mem=512MB -c maintenance_work_mem=1GB',
  });
  await client.connect();
  try {
    // The raw tables' secondary indexes are built once after the load, not row by row.
    const { rows: indexes } = await client.query<{ name: string; def: string }>(
      `SELECT indexname AS name, indexdef AS def FROM pg_indexes
       WHERE schemaname = 'public' AND tablename IN ('requests', 'debits')
         AND indexname NOT IN (SELECT conname FROM pg_constraint)`,
    );
    for (const i of indexes) await client.query(`DROP INDEX ${i.name}`);
    const types = [
      'text',
      'timestamptz',
      'text',
      'text',
      'text',
      'text',
      'text',
      'text',
      'text',
      'int',
      'text',
      'bigint',
      'bigint',
      'int',
      'bigint',
      'bigint',
      'bigint',
      'bigint',
      'bigint',
      'bigint',
      'bigint',
      'bigint',
      'text',
      'float8',
      'float8',
      'text',
      'timestamptz',
    ];
    const insert = `WITH r AS (INSERT INTO requests (${COLUMNS.join(', ')}, settle_xid)
        SELECT ${COLUMNS.map((c) => (c === 'stream' ? 'x.stream <> 0' : `x.${c}`)).join(', ')}, pg_current_xact_id()
        FROM unnest(${COLUMNS.map((_, i) => `$${i + 1}::${types[i]}[]`).join(', ')}) AS x(${COLUMNS.join(', ')})
        RETURNING id, company_id || '-grant' AS g, metered_tokens, settled_at)
      INSERT INTO debits (request_id, grant_id, unit, amount, overdraft, created_at)
        SELECT id, g, 'tokens', metered_tokens, 0, settled_at FROM r WHERE metered_tokens > 0`;
    const iso = (ms: number) => new Date(ms).toISOString();
    let list: unknown[][] = [];
    // One batch in flight while the next is generated: Postgres and this process work at once.
    let inFlight: Promise<unknown> = Promise.resolve();
    const flush = async () => {
      if (list.length === 0) return;
      const cols = COLUMNS.map((_, i) => list.map((v) => v[i]));
      list = [];
      await inFlight;
      inFlight = client.query(insert, cols);
    };
    for (const r of benchRows(rows, days, end)) {
      list.push(values(r, iso));
      if (list.length === 5_000) await flush();
    }
    await flush();
    await inFlight;
    for (const i of indexes) await client.query(i.def);
    await client.query(
      'UPDATE grants g SET spent = d.spent FROM (SELECT grant_id, sum(amount) AS spent FROM debits GROUP BY grant_id) d WHERE d.grant_id = g.id',
    );
    const loadMs = performance.now() - started;
    const folding = performance.now();
    await client.query('BEGIN');
    const { rows: hi } = await client.query<{ x: string }>('SELECT (pg_current_xact_id()::text::numeric)::text AS x');
    // The folder's own SQL over every row once, into the hourly detail table; every other table is
    // that table summed coarser (every measure is a sum): one pass over the raw rows, not twelve.
    const detail = detailTable('hour');
    await client.query(foldSql(PG_FOLD, detail), ['0', hi[0]!.x]);
    for (const t of ROLLUP_TABLES) if (t !== detail) await client.query(coarserSql(detail, t));
    await client.query(
      'UPDATE rollup_state SET folded_xid = $1::xid8, folded_rows = $2, folded_at = now() WHERE id = 1',
      [hi[0]!.x, rows],
    );
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE');
    return { rows, loadMs, foldMs: performance.now() - folding };
  } finally {
    await client.end();
  }
}
