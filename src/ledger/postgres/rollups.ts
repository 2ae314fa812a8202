import type { RollupStatus } from '../port.js';
import type { Queryable } from './db.js';
import { behindFold, foldedXid } from './rollup-sql.js';

/** How far folding is on a Postgres ledger (`RollupStore.status`), read through `db`. */
export function pgRollupStatus(db: Queryable): () => Promise<RollupStatus> {
  return async () => {
    const known = await foldedXid(db);
    return (
      await db.query<RollupStatus>(
        `SELECT (SELECT folded_at FROM rollup_state WHERE id = 1) AS "foldedAt",
           coalesce((SELECT folded_rows FROM rollup_state WHERE id = 1), 0) AS "foldedRows",
           (SELECT count(*) FROM requests WHERE status <> 'held' AND ${behindFold(known, 'settle_xid')})
           + (SELECT count(*) FROM requests WHERE settle_xid IS NULL AND status <> 'held') AS waiting`,
      )
    ).rows[0]!;
  };
}
