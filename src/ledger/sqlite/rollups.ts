import type { RollupStatus } from '../port.js';
import { FOLDED } from './rollup-sql.js';
import type { SqlExecutor } from './runner.js';

/** How far folding is on a SQLite ledger (`RollupStore.status`), read through `reads`. */
export function sqliteRollupStatus(reads: Pick<SqlExecutor, 'query'>): () => Promise<RollupStatus> {
  return () =>
    reads.query<RollupStatus>({
      sql: `SELECT (SELECT folded_at FROM rollup_state WHERE id = 1) AS foldedAt,
              coalesce((SELECT folded_rows FROM rollup_state WHERE id = 1), 0) AS foldedRows,
              (SELECT count(*) FROM requests WHERE settle_seq > ${FOLDED})
              + (SELECT count(*) FROM requests WHERE settle_seq IS NULL AND status <> 'held') AS waiting`,
      mode: 'get',
    });
}
