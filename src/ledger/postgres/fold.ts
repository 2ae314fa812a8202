import type pg from 'pg';
import type { FoldResult } from '../port.js';
import { foldSql, ROLLUP_TABLES } from '../rollups/fold-sql.js';
import { FOLD } from './rollup-sql.js';

/**
 * One fold batch in one statement (one round trip, one snapshot: the statement's, in which every
 * transaction below its xmin has finished): the rows with `settle_xid` in [folded_xid, hi), where hi
 * is that xmin, or for a full batch (FOLD_ROWS, $1 = FOLD_ROWS - 1) the end of its last
 * transaction's rows; read once, added to every rollup table, and the watermark moved to hi — all or
 * nothing, in the statement's transaction. The watermark row is locked first, so that it cannot move
 * under the fold. The same statement gives up to $2 finished rows that have no `settle_xid` (copied in,
 * or written before rollups) this transaction's, for a later fold. Answers the rows folded, whether
 * more are waiting, whether the watermark moved, and the rows given a `settle_xid`.
 */
const FOLD_BATCH = `WITH b AS MATERIALIZED (
    SELECT folded_xid AS lo, pg_snapshot_xmin(pg_current_snapshot()) AS xmin FROM rollup_state WHERE id = 1 FOR UPDATE),
  nth AS (SELECT (SELECT r.settle_xid FROM requests r WHERE r.settle_xid >= b.lo AND r.settle_xid < b.xmin
    ORDER BY r.settle_xid OFFSET $1 LIMIT 1) AS settle_xid FROM b),
  bounds AS MATERIALIZED (
    SELECT b.lo, coalesce((SELECT (settle_xid::text::numeric + 1)::text::xid8 FROM nth), b.xmin) AS hi,
      (SELECT settle_xid IS NOT NULL FROM nth) AS more FROM b),
  batch AS MATERIALIZED (
    SELECT r.* FROM requests r, bounds WHERE bounds.hi > bounds.lo AND r.status <> 'held'
      AND r.settle_xid >= bounds.lo AND r.settle_xid < bounds.hi),
  ${ROLLUP_TABLES.map((t, i) => `f${i} AS (${foldSql({ ...FOLD, batch: 'true' }, t, 'batch r')})`).join(',\n  ')},
  sequenced AS (
    UPDATE requests SET settle_xid = pg_current_xact_id()
    WHERE id IN (SELECT id FROM requests WHERE settle_xid IS NULL AND status <> 'held' LIMIT $2)
      AND settle_xid IS NULL AND status <> 'held' RETURNING 1),
  moved AS (
    UPDATE rollup_state s SET folded_xid = bounds.hi, folded_at = now(), folded_rows = s.folded_rows + (SELECT count(*) FROM batch)
    FROM bounds WHERE s.id = 1 AND s.folded_xid = bounds.lo AND bounds.hi > bounds.lo RETURNING 1)
SELECT (SELECT count(*) FROM batch) AS folded, coalesce((SELECT more FROM bounds), false) AS more,
  EXISTS (SELECT 1 FROM moved) AS moved, (SELECT count(*) FROM sequenced) AS sequenced`;

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
 * statement (`FOLD_BATCH`) — exactly once, whichever replica folds and whatever crashes. One
 * replica at a time (a session advisory lock, taken before the transaction's snapshot); the others
 * skip. Finished rows with no `settle_xid` (copied in, or written before rollups) are given one by a
 * fold, and folded by the next.
 */
export class PgFold {
  /** @param connect a connection from the serving pool, once the ledger is open. */
  constructor(private readonly connect: () => Promise<pg.PoolClient>) {}

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
        const { rows } = await c.query<{ folded: number; more: boolean; moved: boolean; sequenced: number }>({
          name: 'tollgate_fold',
          text: FOLD_BATCH,
          values: [FOLD_ROWS - 1, MARK_ROWS],
        });
        const r = rows[0]!;
        const folded = r.moved ? r.folded : 0;
        return { folded, sequenced: r.sequenced, more: r.sequenced > 0 || (r.moved && r.more) };
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
}
