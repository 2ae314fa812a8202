import type pg from 'pg';
import type { FoldResult } from '../port.js';
import { foldSql, ROLLUP_TABLES } from '../rollups/fold-sql.js';
import { BatchSize } from '../rollups/folding.js';
import { FOLD } from './rollup-sql.js';

/**
 * A fold's bounds, read under the watermark row's lock: `lo` the watermark (`folded_xid`), `xmin`
 * the oldest transaction still running in this statement's snapshot — every transaction below it
 * has finished, and none can later commit a row below it. Both as the decimal text of an xid8.
 */
export const FOLD_BOUNDS = `SELECT folded_xid::text AS lo, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin
  FROM rollup_state WHERE id = 1 FOR UPDATE`;

/**
 * The `settle_xid` of the ($3 + 1)th finished-or-not row in [$1, $2), by `requests_settle_xid`
 * (NULL when fewer rows wait): a full batch ends after that row's transaction.
 */
export const FOLD_NTH = `SELECT settle_xid::text AS x FROM requests
  WHERE settle_xid >= $1::xid8 AND settle_xid < $2::xid8 ORDER BY settle_xid OFFSET $3 LIMIT 1`;

/**
 * Adds the finished rows with `settle_xid` in [$1, $2) to every rollup table and moves the
 * watermark from $1 to $2, in one statement; answers the rows folded. The bounds are parameters the
 * planner sees (a custom plan), so it reads the batch by `requests_settle_xid` and plans for the
 * batch's rows: bounds it cannot see (a CTE's, as before) were estimated as a ninth of the table,
 * a plan made for a million rows on a 10M-row ledger whatever the batch.
 */
export const FOLD_ADD = `WITH batch AS MATERIALIZED (
    SELECT r.* FROM requests r WHERE r.status <> 'held' AND r.settle_xid >= $1::xid8 AND r.settle_xid < $2::xid8),
  ${ROLLUP_TABLES.map((t, i) => `f${i} AS (${foldSql({ ...FOLD, batch: 'true' }, t, 'batch r')})`).join(',\n  ')},
  moved AS (
    UPDATE rollup_state s SET folded_xid = $2::xid8, folded_at = now(), folded_rows = s.folded_rows + (SELECT count(*) FROM batch)
    WHERE s.id = 1 AND s.folded_xid = $1::xid8 RETURNING 1)
SELECT (SELECT count(*) FROM batch) AS folded, EXISTS (SELECT 1 FROM moved) AS moved`;

/**
 * Gives up to $1 finished rows that have no `settle_xid` (copied in, or written before rollups)
 * this transaction's, for a later fold (this transaction's xid is at or above the fold's upper
 * bound: it was running when the bounds were read). Answers the rows marked.
 */
export const FOLD_MARK = `WITH sequenced AS (
    UPDATE requests SET settle_xid = pg_current_xact_id()
    WHERE id IN (SELECT id FROM requests WHERE settle_xid IS NULL AND status <> 'held' LIMIT $1)
      AND settle_xid IS NULL AND status <> 'held' RETURNING 1)
SELECT count(*) AS sequenced FROM sequenced`;

/**
 * The advisory lock a replica holds while it folds (one replica folds at a time); a late settlement
 * (`tollgate_finish`, migrations/postgres/0012_rollups.sql) takes it shared while it corrects the rollups.
 */
const FOLD_LOCK = 7_406_211_402;
/**
 * Most rows per fold transaction (plus the rest of the last transaction's rows), and per marking.
 * A fold's batch is learnt below that (`BatchSize`) toward `TARGET_MS`: 20,000 rows into the
 * twelve rollup tables took 3 s on a 1M-row ledger on a busy machine, and on a 10M-row one the
 * fold was seen running 20–30 s with the watermark never moving — a fixed batch that takes longer
 * than the statement timeout (10 s) is cancelled and retried whole, for ever.
 */
export const FOLD_ROWS = 20_000;
export const MARK_ROWS = 5_000;
/** What one fold transaction should take (ms): late settlements wait for the fold lock that long. */
const TARGET_MS = 250;
/** Fewest rows per fold batch however slow the last ones were. */
const MIN_ROWS = 100;

/** The decimal text of the xid8 after `x`. */
const nextXid = (x: string) => (BigInt(x) + 1n).toString();

/**
 * Folds finished rows into the rollups on Postgres, in the order of the transactions that finished
 * them (`requests.settle_xid`, set by the settle): a fold takes the rows with `settle_xid` in
 * [folded_xid, hi) — hi the oldest transaction still running when it starts (`FOLD_BOUNDS`), or for
 * a backlog larger than the batch (learnt, `size`), the end of the transaction of its last row (`FOLD_NTH`) — adds
 * them to every rollup table and moves `folded_xid` to hi (`FOLD_ADD`), in one transaction holding
 * the watermark row: exactly once, whichever replica folds and whatever crashes, and each
 * transaction bounded by rows whatever the backlog. One replica at a time (a session advisory lock,
 * taken before the transaction); the others skip. Finished rows with no `settle_xid` (copied in, or
 * written before rollups) are given one, `markRows` at a time, and folded by the next fold.
 */
export class PgFold {
  /**
   * @param connect a connection from the serving pool, once the ledger is open.
   * @param rows most rows per fold (default `FOLD_ROWS`); @param markRows rows marked per fold (default `MARK_ROWS`).
   */
  constructor(
    private readonly connect: () => Promise<pg.PoolClient>,
    rows = FOLD_ROWS,
    private readonly markRows = MARK_ROWS,
  ) {
    this.size = new BatchSize(Math.min(rows, 2_000), Math.min(rows, MIN_ROWS), rows, TARGET_MS);
  }

  /** Rows per fold batch, learnt. */
  readonly size: BatchSize;

  /** Whether this process has made sure the watermark row exists (the migration writes it; kept for a store emptied by hand). */
  private stateRow = false;

  /** One fold: folds one batch and gives a batch of unmarked rows a `settle_xid`; another replica folding: nothing (see `FoldLoop` for when). */
  async once(): Promise<FoldResult> {
    const c = await this.connect();
    // A connection lost while checked out is emitted on the client (the pool listens only while it is
    // idle): without a listener that is an uncaught exception. The failure reaches the fold as its query's error.
    const lost = () => {};
    c.on('error', lost);
    let broken = false;
    try {
      const { rows } = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [FOLD_LOCK]);
      if (!rows[0]!.ok) return { folded: 0, sequenced: 0, more: false };
      try {
        if (!this.stateRow) {
          await c.query("INSERT INTO rollup_state (id, folded_xid) VALUES (1, '0') ON CONFLICT (id) DO NOTHING");
          this.stateRow = true;
        }
        await c.query('BEGIN');
        try {
          const r = await this.batch(c);
          await c.query('COMMIT');
          return r;
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          this.size.failed();
          throw err;
        }
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [FOLD_LOCK]);
      }
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      c.off('error', lost);
      c.release(broken);
    }
  }

  /** The fold's statements, in the caller's transaction. */
  private async batch(c: pg.PoolClient): Promise<FoldResult> {
    const bounds = (await c.query<{ lo: string; xmin: string }>(FOLD_BOUNDS)).rows[0];
    if (!bounds) return { folded: 0, sequenced: 0, more: false };
    let folded = 0;
    let more = false;
    if (BigInt(bounds.xmin) > BigInt(bounds.lo)) {
      const nth = (await c.query<{ x: string }>(FOLD_NTH, [bounds.lo, bounds.xmin, this.size.value - 1])).rows[0];
      const hi = nth ? nextXid(nth.x) : bounds.xmin;
      more = nth !== undefined && BigInt(hi) < BigInt(bounds.xmin);
      const started = performance.now();
      const add = (await c.query<{ folded: number; moved: boolean }>(FOLD_ADD, [bounds.lo, hi])).rows[0]!;
      folded = add.moved ? add.folded : 0;
      this.size.took(folded, performance.now() - started);
    }
    const { sequenced } = (await c.query<{ sequenced: number }>(FOLD_MARK, [this.markRows])).rows[0]!;
    return { folded, sequenced, more: sequenced > 0 || more };
  }
}
