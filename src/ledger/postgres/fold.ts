import type pg from 'pg';
import type { FoldResult } from '../port.js';
import { foldSql, ROLLUP_TABLES } from '../rollups/fold-sql.js';
import { FOLD, MARK_UNSEQUENCED } from './rollup-sql.js';

/**
 * The advisory lock a replica holds while it folds (one replica folds at a time); a late settlement
 * (`tollgate_finish`, migrations/postgres/0012_rollups.sql) takes it shared while it corrects the rollups.
 */
const FOLD_LOCK = 7_406_211_402;
/** Rows per fold transaction, and per marking transaction. */
const FOLD_ROWS = 20_000;
const MARK_ROWS = 5_000;

/**
 * Folds finished rows into the rollups on Postgres, in the order of the transactions that finished
 * them (`requests.settle_xid`, set by the settle): a fold takes the rows with `settle_xid` in
 * [folded_xid, xmin) where xmin is the oldest transaction still running in its snapshot, so every
 * transaction below it has committed (or aborted) and is visible, and none can later commit a row
 * below it; it adds them to every rollup table and moves `folded_xid` in the same
 * REPEATABLE READ transaction — exactly once, whichever replica folds and whatever crashes. One
 * replica at a time (a session advisory lock, taken before the transaction's snapshot); the others
 * skip. Finished rows with no `settle_xid` (copied in, or written before rollups) are given one first.
 */
export class PgFold {
  /** @param connect a connection from the serving pool, once the ledger is open. */
  constructor(private readonly connect: () => Promise<pg.PoolClient>) {}

  /** One fold: marks a batch of unmarked rows, then folds one batch; another replica folding: nothing (see `FoldLoop` for when). */
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
        await c.query("INSERT INTO rollup_state (id, folded_xid) VALUES (1, '0') ON CONFLICT (id) DO NOTHING");
        const sequenced = (await c.query(MARK_UNSEQUENCED, [MARK_ROWS])).rowCount ?? 0;
        const r = await this.foldBatch(c);
        return { folded: r.folded, sequenced, more: sequenced > 0 || r.more };
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

  /** One REPEATABLE READ transaction folding up to about FOLD_ROWS rows. */
  private async foldBatch(c: pg.PoolClient): Promise<{ folded: number; more: boolean }> {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      const { rows } = await c.query<{ lo: string; xmin: string }>(
        'SELECT folded_xid::text AS lo, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin FROM rollup_state WHERE id = 1',
      );
      const { lo, xmin } = rows[0]!;
      const nth = await c.query<{ x: string }>(
        'SELECT settle_xid::text AS x FROM requests WHERE settle_xid >= $1::xid8 AND settle_xid < $2::xid8 ORDER BY settle_xid OFFSET $3 LIMIT 1',
        [lo, xmin, FOLD_ROWS - 1],
      );
      // A full batch ends after every row of its last transaction; otherwise at xmin.
      const hi = nth.rows[0] ? (BigInt(nth.rows[0].x) + 1n).toString() : xmin;
      if (BigInt(hi) <= BigInt(lo)) {
        await c.query('COMMIT');
        return { folded: 0, more: false };
      }
      for (const t of ROLLUP_TABLES) await c.query(foldSql(FOLD, t), [lo, hi]);
      const counted = await c.query<{ n: number }>(
        "SELECT count(*) AS n FROM requests r WHERE r.status <> 'held' AND r.settle_xid >= $1::xid8 AND r.settle_xid < $2::xid8",
        [lo, hi],
      );
      const n = counted.rows[0]!.n;
      const moved = await c.query(
        'UPDATE rollup_state SET folded_xid = $2::xid8, folded_at = now(), folded_rows = folded_rows + $3 WHERE id = 1 AND folded_xid = $1::xid8',
        [lo, hi, n],
      );
      if (moved.rowCount !== 1) throw new Error('the fold watermark moved under this fold');
      await c.query('COMMIT');
      return { folded: n, more: nth.rows.length > 0 };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }
}
