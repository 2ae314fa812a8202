import type { FoldResult } from '../port.js';
import { BatchSize } from '../rollups/folding.js';
import { foldAddSql, foldSelectSql, ROLLUP_TABLES } from '../rollups/fold-sql.js';
import type { CommitGate } from './checkpointer.js';
import { ANY_UNSEQUENCED, FOLD, MARK_UNSEQUENCED } from './rollup-sql.js';
import type { SqlExecutor } from './runner.js';
import { SqlThreadConflict, type Step } from './thread.js';

/** Longest the commit queue stays held if a transaction on the thread does not come back (ms). */
const HOLD_LIMIT_MS = 1_000;
/** What one transaction on the thread should take (ms): the commits queued behind it wait that long. */
const TARGET_MS = 3;
/**
 * Most rows one fold transaction folds from the batch size (`BatchSize` learns toward TARGET_MS
 * within it): a bound on how long one transaction holds the commit queue whatever it learned (at
 * 20–45 µs a row into the twelve rollup tables, 20–90 ms at worst).
 */
export const MAX_FOLD_ROWS = 2_000;
/**
 * Most finished rows without a `settle_seq` given one per transaction. They share it, and a fold
 * takes every row of a `settle_seq` at once, so a fold transaction takes at most
 * MAX_FOLD_ROWS + MAX_MARK_ROWS rows.
 */
export const MAX_MARK_ROWS = 1_000;

/**
 * Folds settled rows into every rollup table (`ROLLUP_TABLES`), on its own thread and
 * connection, in the order rows finished (`requests.settle_seq`): each transaction adds the rows
 * with `settle_seq` in (folded_seq, hi] and moves `rollup_state.folded_seq` to hi, so every row is
 * counted exactly once, crash or not. Finished rows with no `settle_seq` (copied in, or written
 * before rollups existed) are given one first, in small batches. While a transaction runs, the
 * serving connection's commit queue is held (`gate`), so no commit on the event loop waits on
 * SQLite's lock; batches are sized to hold it about 3 ms. Reports never depend on how far it got:
 * they read the rows not folded yet raw.
 */
export class SqliteFold {
  private readonly foldRows = new BatchSize(1_000, 50, MAX_FOLD_ROWS, TARGET_MS);
  private readonly markRows = new BatchSize(500, 50, MAX_MARK_ROWS, TARGET_MS);

  /**
   * @param thread a writable SQL thread on the ledger file (or, in memory, the connection itself).
   * @param gate the serving connection's commit queue (a lease of it), held while a transaction runs; none when nothing else writes.
   * @param clock the current instant, for `rollup_state.folded_at`.
   */
  constructor(
    private readonly thread: SqlExecutor,
    private readonly gate: CommitGate | undefined,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** One fold: sequences a batch of unsequenced rows, then folds one batch (see `FoldLoop` for when). */
  async once(): Promise<FoldResult> {
    let sequenced = 0;
    if (await this.thread.query<{ n: number } | undefined>({ sql: ANY_UNSEQUENCED, mode: 'get' })) {
      const rows = this.markRows.value;
      const started = performance.now();
      const [r] = (await this.held([{ sql: MARK_UNSEQUENCED, params: [rows], mode: 'run' }])) as { changes: number }[];
      sequenced = r!.changes;
      this.markRows.took(sequenced, performance.now() - started);
    }
    const state = await this.thread.query<{ folded_seq: number } | undefined>({
      sql: 'SELECT folded_seq FROM rollup_state WHERE id = 1',
      mode: 'get',
    });
    if (!state)
      await this.held([{ sql: 'INSERT OR IGNORE INTO rollup_state (id, folded_seq) VALUES (1, 0)', mode: 'run' }]);
    const lo = state?.folded_seq ?? 0;
    const limit = this.foldRows.value;
    const nth = await this.thread.query<{ s: number } | undefined>({
      sql: 'SELECT settle_seq AS s FROM requests WHERE settle_seq > ? ORDER BY settle_seq LIMIT 1 OFFSET ?',
      params: [lo, limit - 1],
      mode: 'get',
    });
    const hi =
      nth?.s ??
      (await this.thread.query<{ s: number | null }>({ sql: 'SELECT max(settle_seq) AS s FROM requests', mode: 'get' }))
        .s;
    if (hi === null || hi <= lo) return { folded: 0, sequenced, more: sequenced > 0 };
    // The sums are taken before the commit queue is held, into temp tables (no lock on the ledger):
    // the rows with settle_seq in (lo, hi] are all there once hi is (a settle_seq is set once, by the
    // transaction finishing its row, one past the highest) and never change after, so the held
    // transaction only adds the sums — a few rollup rows per table, not every row twelve times.
    const summed = await this.thread.sequence([
      ...ROLLUP_TABLES.flatMap((t, i): Step[] => [
        {
          sql: `CREATE TEMP TABLE IF NOT EXISTS fold_${i} AS ${foldSelectSql(FOLD, t)} LIMIT 0`,
          params: [0, 0],
          mode: 'run',
        },
        { sql: `DELETE FROM temp.fold_${i}`, mode: 'run' },
        { sql: `INSERT INTO temp.fold_${i} ${foldSelectSql(FOLD, t)}`, params: [lo, hi], mode: 'run' },
      ]),
      {
        sql: 'SELECT count(*) AS n FROM requests WHERE settle_seq > ? AND settle_seq <= ?',
        params: [lo, hi],
        mode: 'get',
      },
    ]);
    const folded = (summed[summed.length - 1] as { n: number }).n;
    const started = performance.now();
    try {
      await this.held([
        ...ROLLUP_TABLES.map((t, i): Step => ({ sql: foldAddSql(t, `temp.fold_${i}`), mode: 'run' })),
        {
          sql: 'UPDATE rollup_state SET folded_seq = ?, folded_at = ?, folded_rows = folded_rows + ? WHERE id = 1 AND folded_seq = ?',
          params: [hi, this.clock().toISOString(), folded, lo],
          mode: 'run',
          expect: 1,
        },
      ]);
    } catch (err) {
      if (err instanceof SqlThreadConflict) return { folded: 0, sequenced, more: true };
      throw err;
    }
    this.foldRows.took(folded, performance.now() - started);
    return { folded, sequenced, more: nth !== undefined || sequenced > 0 };
  }

  /** Runs `steps` in one transaction on the thread, with the serving connection's commits held meanwhile. */
  private held(steps: Step[]): Promise<unknown[]> {
    return heldTransaction(this.thread, this.gate, steps);
  }
}

/**
 * Runs `steps` in one transaction on `thread`, with the serving connection's commits held meanwhile
 * (so none waits on SQLite's lock on the event loop), for at most `HOLD_LIMIT_MS`.
 */
export async function heldTransaction(
  thread: SqlExecutor,
  gate: CommitGate | undefined,
  steps: Step[],
): Promise<unknown[]> {
  if (!gate) return thread.transaction(steps);
  gate.hold();
  const limit = setTimeout(() => gate.release(), HOLD_LIMIT_MS);
  try {
    return await thread.transaction(steps);
  } finally {
    clearTimeout(limit);
    gate.release();
  }
}
