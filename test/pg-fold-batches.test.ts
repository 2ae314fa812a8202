import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../src/ledger/postgres/db.js';
import { PgFold } from '../src/ledger/postgres/fold.js';
import type { FoldResult } from '../src/ledger/port.js';
import { openPgLedger } from '../src/ledger/postgres/index.js';
import { createDatabase, dropDatabase } from './support/postgres.js';

/**
 * The Postgres folder, on a ledger with a backlog many batches long (as a bulk load, an import or
 * a replica down for a while leaves it): each fold takes one bounded batch (its rows, plus the rest
 * of its last transaction's), reads it by `requests_settle_xid` — never scanning the whole table,
 * which on a large ledger ran past the statement timeout so the watermark never moved — and every
 * row ends up folded exactly once, `ledger verify` clean.
 */
const BATCH = 2_000;
const MARK = 1_500;
const TX_ROWS = 500;

const dbs: string[] = [];
afterAll(async () => {
  for (const name of dbs) await dropDatabase(name);
});

/** A new migrated, empty Postgres ledger database with `tx` transactions of TX_ROWS finished rows and `unmarked` rows without a mark; its URL. */
async function backlog(tx: number, unmarked: number): Promise<string> {
  const db = await createDatabase();
  dbs.push(db.name);
  await openPgLedger({ url: db.url, foldIntervalMs: false }).close();
  const raw = new pg.Client({ connectionString: db.url });
  await raw.connect();
  try {
    for (let t = 0; t < tx; t++) await raw.query(insertRows(t * TX_ROWS, TX_ROWS, true));
    if (unmarked) await raw.query(insertRows(tx * TX_ROWS, unmarked, false));
    // Statistics as autovacuum would leave them on a ledger this size: the planner knows the table is large.
    await raw.query('ANALYZE requests');
  } finally {
    await raw.end();
  }
  return db.url;
}

/** Folds with `fold` until nothing waits (at most `turns` folds); the rows folded, the folds taken and the folds that failed. */
async function foldAll(fold: PgFold, turns: number, each?: (r: FoldResult) => void) {
  let folded = 0;
  let n = 0;
  let failed = 0;
  for (; n < turns; n++) {
    const r = await fold.once().catch(() => undefined);
    if (!r) {
      failed++;
      continue;
    }
    each?.(r);
    folded += r.folded;
    if (!r.more && r.folded === 0 && r.sequenced === 0) break;
  }
  return { folded, turns: n, failed };
}

/** The ledger at `url` reports every one of `rows` rows folded, its rollups agree with its raw rows, and its reports count them all. */
async function expectAllFolded(url: string, rows: number): Promise<void> {
  const ledger = openPgLedger({ url, foldIntervalMs: false });
  try {
    expect(await ledger.rollups.status()).toMatchObject({ waiting: 0, foldedRows: rows });
    expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
    const byCompany = await ledger.reader.usage({}, 'company');
    expect(byCompany.reduce((n, r) => n + r.requests, 0)).toBe(rows);
  } finally {
    await ledger.close();
  }
}

/** Inserts `n` settled rows numbered from `from`, all with this transaction's `settle_xid` (or none, `marked` false). */
const insertRows = (from: number, n: number, marked: boolean) =>
  `INSERT INTO requests (id, created_at, company_id, user_id, endpoint, requested_model, stream, status, hold_tokens,
     http_status, input_tokens, total_tokens, cost_nano_usd, cost_micro_usd, latency_ms, settle_xid)
   SELECT 'r' || i, timestamptz '2026-11-02 00:00:00+00' + i * interval '7 seconds', CASE WHEN i % 3 = 0 THEN 'acme' ELSE 'globex' END,
     'u' || (i % 11), '/v1/chat/completions', 'gpt-4o', false, 'settled', 0, 200, 10, 10, 20000, 20, 1.5,
     ${marked ? 'pg_current_xact_id()' : 'NULL'}
   FROM generate_series(${from}, ${from + n - 1}) AS i`;

describe('the Postgres fold', () => {
  it('folds a backlog of many batches in bounded steps by index, every row once', async () => {
    // 60 transactions of 500 rows each (as a bulk load writes them), then 3,000 rows without a mark (as copied in).
    const marked = 60 * TX_ROWS;
    const unmarked = 3_000;
    const url = await backlog(marked / TX_ROWS, unmarked);
    const pool = new pg.Pool({ ...clientConfig(url), max: 1 });
    const scans = async () => {
      const c = await pool.connect();
      try {
        // This connection's counters, flushed now (not at the next idle second), then read afresh.
        await c.query('SELECT pg_stat_force_next_flush()');
        await c.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await c.query<{ n: number }>(
          "SELECT seq_scan AS n FROM pg_stat_user_tables WHERE relname = 'requests'",
        );
        return rows[0]!.n;
      } finally {
        c.release();
      }
    };
    try {
      const fold = new PgFold(() => pool.connect(), BATCH, MARK);
      const scansBefore = await scans();
      const r = await foldAll(fold, 200, (r) => {
        expect(r.folded).toBeLessThanOrEqual(BATCH + Math.max(TX_ROWS, MARK));
        expect(r.sequenced).toBeLessThanOrEqual(MARK);
      });
      expect(r).toMatchObject({ folded: marked + unmarked, failed: 0 });
      // Many steps, not one: the backlog was folded a batch at a time.
      expect(r.turns).toBeGreaterThanOrEqual((marked + unmarked) / (BATCH + TX_ROWS));
      expect(await scans()).toBe(scansBefore);
    } finally {
      await pool.end();
    }
    await expectAllFolded(url, marked + unmarked);
  }, 120_000);

  it('shrinks its batch when a fold fails (as past a statement timeout) and still folds every row once', async () => {
    const marked = 20 * TX_ROWS;
    const url = await backlog(marked / TX_ROWS, 0);
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    // A store where any fold of more than 1,200 rows is cancelled, as a statement timeout cancels a
    // batch too large for a slow store: a fold that retries the same batch never moves.
    await raw.query(`CREATE FUNCTION too_slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.folded_rows - OLD.folded_rows > 1200 THEN
          RAISE EXCEPTION 'canceling statement due to statement timeout' USING ERRCODE = '57014';
        END IF;
        RETURN NEW;
      END $$`);
    await raw.query('CREATE TRIGGER too_slow BEFORE UPDATE ON rollup_state FOR EACH ROW EXECUTE FUNCTION too_slow()');
    await raw.end();
    const pool = new pg.Pool({ ...clientConfig(url), max: 1 });
    try {
      const r = await foldAll(new PgFold(() => pool.connect(), BATCH, MARK), 100);
      expect(r.failed).toBeGreaterThan(0);
      expect(r.folded).toBe(marked);
    } finally {
      await pool.end();
    }
    await expectAllFolded(url, marked);
  }, 120_000);
});
